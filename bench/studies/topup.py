"""Seed top-up (``--max-seeds``): more seeds where the pilot's noise says a claim needs them.

The stopping rule is a fixed sample size from a pilot (variance-only sample-size
re-estimation), so adding seeds does not inflate false positives:

1. **Pilot.** The profile's own seeds (5 for the MLP studies under ``paper``) are run first.
   Only they choose upstream winners (``runner.winner``), so topped-up studies keep the base
   their pilot runs were built on.
2. **Plan, once.** On the pilot seeds alone, every claim with paired comparisons gets
   ``seeds_planned`` from the pilot's (median) SD of the differences (``planned_seeds``:
   power 0.8 to call a two-margin gain *better* and a true zero *equivalent*, at Holm's
   strictest level over the claim's whole family). Neither the observed differences nor the
   pilot's verdicts enter the plan: a claim the pilot decided is topped up like an open one,
   and its pilot verdict is discarded, so no claim is looked at twice. Planning again gives
   the same n, because the pilot seeds do not change.
3. **Top up and test once.** Each study is run with ``min(planned, --max-seeds)`` seeds (the
   largest plan among its claims); the report then tests every claim on all its seeds.

A cap below the plan still fixes n in advance (the top-up is then under-powered, and says so).
Raising ``--max-seeds`` after seeing the topped-up verdicts would be a second look: choose
the cap before the first top-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.errors import BenchError
from bench.report.pilot import known_studies, pilot_claims, pilot_runs  # noqa: F401
from bench.studies.registry import Profile, Study

MAX_SEEDS = 1000  # --seeds, --trials and --max-seeds at most


@dataclass(frozen=True)
class TopUp:
    """One study to re-run with more seeds, and why."""

    study: str
    pilot: int
    target: int
    planned: int
    claims: tuple[str, ...]

    def line(self) -> str:
        capped = "" if self.target >= self.planned else (
            f", capped by --max-seeds: the plan wanted {self.planned}")
        return (f"{self.study}: {self.pilot} -> {self.target} seeds for "
                f"{', '.join(self.claims)} (planned from the pilot's SD{capped})")


def plan_topups(claims: pd.DataFrame, profile: Profile, max_seeds: int,
                studies: list[Study] = ()) -> list[TopUp]:
    """The studies (in catalogue order, then ``studies``) whose claims' pilot-planned n is
    above the pilot."""
    if "seeds_planned" not in claims:
        return []
    open_ = claims[claims["seeds_planned"].notna()]  # whatever the pilot's verdict
    known = known_studies(list(studies))
    order = {name: i for i, name in enumerate(known)}
    out = []
    for study, group in open_.groupby("study"):
        if study not in known or known[study].kind != "train":
            continue  # combined claims (a+b+c) and HPO studies are not topped up
        pilot = known[study].seeds(profile)
        if group["n"].min() < pilot:
            continue  # the pilot is not complete: nothing is planned from part of it
        planned = int(group["seeds_planned"].max())
        target = min(planned, max_seeds)
        if target > pilot:
            out.append(TopUp(study, pilot, target, planned, tuple(group["claim_id"])))
    return sorted(out, key=lambda t: order[t.study])


def check_max_seeds(max_seeds: int | None) -> None:
    """Reject a cap that cannot mean anything (before anything is run)."""
    if max_seeds is not None and not 2 <= max_seeds <= MAX_SEEDS:
        raise BenchError(f"--max-seeds must be between 2 and {MAX_SEEDS}, got {max_seeds}")
