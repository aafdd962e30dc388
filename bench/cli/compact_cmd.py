"""``bench compact``: rebuild a result set's tables from its records (idempotent)."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli.app import app
from bench.cli.progress import console


@app.command("compact")
def compact(results: Path = typer.Argument(..., help="Result set directory")) -> None:
    """Rebuild the Parquet tables of a result set from its per-run records."""
    from bench.store import ResultStore

    store = ResultStore(results, create=False)
    counts = store.compact()
    from bench.report import build_report

    build_report(store)
    console.print(counts or "no records")
