"""``bench site``: build the website from result sets."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from bench.cli.app import app
from bench.cli.progress import console


@app.command("site")
def site(
    results: list[str] = typer.Option(None, "--results", "-r", help="Result set directories "
                                      "(globs allowed; default: every set in data_cache/results)"),
    out: Path = typer.Option(Path("site"), "--out", "-o", help="Output folder"),
) -> None:
    """Generate pages and charts from RESULTS and build the MkDocs site into OUT."""
    from bench.site.build import build_site, expand

    start = time.perf_counter()
    counts = build_site(expand(results) if results else None, out)
    console.print(f"site: {counts['pages']} pages, {counts['charts']} charts in {out} "
                  f"({time.perf_counter() - start:.1f}s)")
