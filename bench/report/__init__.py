"""Stage 6 — report: statistics over seeds, claim verdicts, paper vs measured.

Writes ``derived/levels``, ``derived/pairwise``, ``derived/claims``, ``derived/answers``
(the one "best" per question), ``derived/answer_gaps`` and ``derived/paper_vs_measured`` into
the result set, and ``derived/report.json`` (what they were computed from). Every reader
renders these as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report.answers import answers as answer_tables
from bench.report.claims import user_claims, verdicts
from bench.report.paper import paper_vs_measured
from bench.report.stats import level_stats, pairwise, scores
from bench.store import ResultStore, user_studies


def build_report(store: ResultStore) -> dict[str, int]:
    """Compute every derived table from the store's runs and searches; returns row counts."""
    from bench.hpo.tabular import TABLE_BENCHMARKS
    from bench.report.hpo import (
        current_searches,
        hpo_claims,
        hpo_paper_rows,
        method_stats,
        rank_test,
    )
    from bench.report.paper import paper_results
    from bench.report.tabular import TABLE_STUDIES, replay_trials, tabular_claims, tabular_tables

    tables: dict[str, pd.DataFrame] = {}
    searches = store.table("searches") if store.has_table("searches") else pd.DataFrame()
    if "benchmark" in searches:  # searches against the table are reported on their own
        searches = searches[~searches["benchmark"].isin(TABLE_BENCHMARKS)]
    searches = current_searches(searches)
    replays = replay_trials(store)
    if not searches.empty:
        tables["hpo_methods"] = method_stats(searches)
        tables["hpo_rank_test"] = rank_test(searches)
    if not store.has_table("runs"):
        runs = pd.DataFrame(columns=["run_id", "study", "status", "profile", "level", "seed",
                                     "epochs"])
        epochs = pd.DataFrame(columns=["run_id", "epoch", "split", "metric", "value"])
    else:
        runs = store.table("runs")
        epochs = store.table("epochs") if store.has_table("epochs") else pd.DataFrame()
        if not {"run_id", "epoch", "split", "metric", "value"} <= set(epochs.columns):
            epochs = pd.DataFrame(columns=["run_id", "epoch", "split", "metric", "value"])
    if "profile" not in runs:
        runs["profile"] = None
    tables.update(tabular_tables(store, runs, epochs))
    runs = runs[~runs["study"].isin(TABLE_STUDIES)]
    scored = scores(runs, epochs)
    tables["scores"] = scored
    tables["levels"] = level_stats(scored)
    tables["pairwise"] = pairwise(scored) if not scored.empty else pd.DataFrame()
    definitions = user_studies(store.manifest())
    extra = user_claims(definitions)
    claims = verdicts(tables["levels"], scored, runs, epochs, extra)
    claims = _pilot_plans(store, runs, claims)
    paper = paper_vs_measured(runs, epochs, scored)
    tabular = tabular_claims(replays) if not replays.empty else {}
    if not searches.empty or tabular:
        claims = pd.concat([claims, pd.DataFrame(hpo_claims(searches, tabular))],
                           ignore_index=True)
    if not searches.empty:
        paper = pd.concat([paper, pd.DataFrame(hpo_paper_rows(searches, paper_results()))],
                          ignore_index=True)
    tables["claims"] = claims
    tables["answers"], tables["answer_gaps"] = answer_tables(scored, runs, epochs, claims,
                                                       _study_objects(definitions))
    tables["paper_vs_measured"] = paper
    for name, df in tables.items():
        store.write_table(f"derived/{name}", df)
    store.write_json(REPORT_META, {"inputs": _inputs(store), "tables": sorted(tables)})
    return {name: len(df) for name, df in tables.items()}


#: what the derived tables were computed from (``stale_reason`` compares it with the set)
REPORT_META = "derived/report.json"
INPUT_TABLES = ("runs", "epochs", "searches", "trials")


def _inputs(store: ResultStore) -> dict[str, Any]:
    return {"tables": store.fingerprint(INPUT_TABLES),
            "user_studies": user_studies(store.manifest()), "rules": rules_fingerprint()}


def rules_fingerprint() -> str:
    """SHA-256 of what decides a conclusion besides the data: this package's code and the
    papers' figures (they fix the margins). Conclusions computed under other rules are
    stale, however current the tables."""
    import hashlib
    from importlib import resources
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(resources.files("bench.resources").joinpath("paper_results.csv").read_bytes())
    return digest.hexdigest()


def stale_reason(store: ResultStore) -> str | None:
    """Why the set's derived tables (its conclusions) do not match its tables, or None.
    Readers (the site) render conclusions as computed; they never recompute them."""
    pending = len(store.pending("runs")) + len(store.pending("searches"))
    if pending:
        return f"{pending} record(s) are not yet in its tables"
    if not any(store.has_table(t) for t in ("runs", "searches")):
        return None  # an empty set: nothing to conclude
    meta = store.read_json(REPORT_META)
    if not isinstance(meta, dict) or "inputs" not in meta:
        return "its conclusions (derived/) were never computed by this version"
    now = _inputs(store)
    if meta["inputs"].get("rules") != now["rules"]:
        return "its conclusions (derived/) were computed by other rules (another version)"
    if meta["inputs"] != now:
        return "its tables changed after its conclusions (derived/) were computed"
    return None


def _study_objects(definitions: dict[str, Any]) -> tuple[Any, ...]:
    """The ``Study`` of each study file recorded in the manifest (unreadable ones skipped:
    a manifest edited by hand)."""
    from bench.studies.config_file import study_from_definition

    out = []
    for raw in definitions.values():
        try:
            out.append(study_from_definition(raw))
        except ValueError:
            continue
    return tuple(out)


def _pilot_plans(store: ResultStore, runs: pd.DataFrame, claims: pd.DataFrame) -> pd.DataFrame:
    """``seeds_planned`` as fixed from the pilot seeds once a study holds more (a top-up):
    recomputed from all seeds it would drift after the top-up and read like a new plan."""
    from bench.report.pilot import pilot_claims, pilot_runs
    from bench.studies.config_file import recorded_user_studies
    from bench.studies.registry import PROFILES

    if (claims.empty or runs.empty or "seeds_planned" not in claims or "profile" not in claims
            or "seed" not in runs):
        return claims
    claims = claims.copy()
    users = recorded_user_studies(store)
    for name in claims["profile"].dropna().unique():
        if name not in PROFILES:
            continue  # a profile this version does not know: keep what was computed
        profile = PROFILES[name]
        mine = runs[runs["profile"] == name]
        if len(pilot_runs(mine, profile, users)) == len(mine):
            continue  # nothing beyond the pilot: the plan is already the pilot's
        plan = pilot_claims(store, profile, users).set_index("claim_id")["seeds_planned"]
        rows = claims["profile"] == name
        claims.loc[rows, "seeds_planned"] = claims.loc[rows, "claim_id"].map(plan)
    return claims
