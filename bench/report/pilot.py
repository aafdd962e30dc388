"""The pilot: a profile's own seeds, and the claims computed from them alone (what a
seed top-up's n is fixed from; ``bench.studies.topup``)."""

from __future__ import annotations

import pandas as pd

from bench.store import ResultStore, user_studies
from bench.studies.catalog import REGISTRY
from bench.studies.registry import Profile, Study


def known_studies(studies: list[Study]) -> dict[str, Study]:
    return {**{s.name: s for s in REGISTRY}, **{s.name: s for s in studies}}


def pilot_runs(runs: pd.DataFrame, profile: Profile, studies: list[Study] = ()) -> pd.DataFrame:
    """The runs of ``profile`` whose seed is one of their study's pilot seeds (catalogue
    studies and ``studies``, e.g. a study file's)."""
    runs = runs[runs["profile"] == profile.name]
    known = known_studies(list(studies))
    pilot = runs["study"].map(lambda s: known[s].seeds(profile) if s in known else 0)
    return runs[runs["seed"] < pilot]


def pilot_claims(store: ResultStore, profile: Profile,
                 studies: list[Study] = ()) -> pd.DataFrame:
    """Claim verdicts computed from the pilot seeds only (what the plan is fixed from)."""
    from bench.report.claims import user_claims, verdicts
    from bench.report.stats import level_stats, scores

    if not store.has_table("runs") or not store.has_table("epochs"):
        return pd.DataFrame(columns=["claim_id", "study", "verdict", "seeds_planned"])
    runs = pilot_runs(store.table("runs"), profile, studies)
    epochs = store.table("epochs")
    epochs = epochs[epochs["run_id"].isin(runs["run_id"])]
    scored = scores(runs, epochs)
    extra = user_claims(user_studies(store.manifest()))
    return verdicts(level_stats(scored), scored, runs, epochs, extra)
