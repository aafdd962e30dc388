"""Stage 6 — report: statistics over seeds, claim verdicts, paper vs measured.

Writes ``derived/levels``, ``derived/pairwise``, ``derived/claims`` and
``derived/paper_vs_measured`` into the result set.
"""

from __future__ import annotations

import pandas as pd

from bench.report.claims import verdicts
from bench.report.paper import paper_vs_measured
from bench.report.stats import level_stats, pairwise, scores
from bench.store import ResultStore


def build_report(store: ResultStore) -> dict[str, int]:
    """Compute every derived table from the store's runs; returns row counts."""
    if not store.has_table("runs"):
        return {}
    runs, epochs = store.table("runs"), store.table("epochs")
    if "profile" not in runs:
        runs["profile"] = None
    scored = scores(runs, epochs)
    tables = {
        "scores": scored,
        "levels": level_stats(scored) if not scored.empty else pd.DataFrame(),
        "pairwise": pairwise(scored) if not scored.empty else pd.DataFrame(),
    }
    tables["claims"] = verdicts(tables["levels"], scored, runs, epochs)
    tables["paper_vs_measured"] = paper_vs_measured(runs, epochs, scored)
    for name, df in tables.items():
        store.write_table(f"derived/{name}", df)
    return {name: len(df) for name, df in tables.items()}
