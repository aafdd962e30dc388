"""``bench status``: what a result set holds and lacks against a profile."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from bench.cli.app import app
from bench.cli.common import ProfileOpt, SeedsOpt, TrialsOpt
from bench.cli.progress import console


@app.command("status")
def status(
    results: Path = typer.Option(None, "--results", "-r", help="Result set (default: "
                                 "data_cache/results/<profile>-<machine>)"),
    profile: str = ProfileOpt,
    seeds: int = SeedsOpt,
    trials: int = TrialsOpt,
) -> None:
    """Done / remaining per study of PROFILE in a result set, with the estimated time left."""
    from bench.app import default_results
    from bench.cli.list_cmd import _fmt
    from bench.errors import BenchError
    from bench.store import ResultStore
    from bench.studies import get_profile
    from bench.studies.progress import progress
    from bench.studies.topup import MAX_SEEDS

    chosen = get_profile(profile)
    for name, value in (("--seeds", seeds), ("--trials", trials)):
        if value is not None and not 1 <= value <= MAX_SEEDS:
            raise BenchError(f"{name} must be between 1 and {MAX_SEEDS}, got {value}")
    store = ResultStore(results or default_results(chosen.name), create=False)
    rows = progress(store, chosen, seeds, trials)
    table = Table(title=f"{store.root} against profile {chosen.name} (time left: one worker "
                  "on a 2-core CPU, from the cost model; live searches from this set's own "
                  "seconds per trial once it has some; ? = a study file's own network, not "
                  "priced here)")
    for col in ("study", "unit", "done", "planned", "remaining", "failed", "time left"):
        table.add_column(col, justify="left" if col in ("study", "unit") else "right",
                         no_wrap=col == "study")
    for r in rows:
        table.add_row(r.study, r.unit, str(r.done), str(r.planned), str(r.remaining),
                      str(r.failed), "-" if not r.remaining else
                      "?" if r.seconds_left is None else _fmt(r.seconds_left))
    left = sum(r.seconds_left or 0.0 for r in rows)
    table.add_row("total", "", str(sum(r.done for r in rows)), str(sum(r.planned for r in rows)),
                  str(sum(r.remaining for r in rows)), str(sum(r.failed for r in rows)),
                  _fmt(left))
    console.print(table)
