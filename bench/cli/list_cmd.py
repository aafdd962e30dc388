"""``bench list``: studies x profiles with run counts and an estimated cost."""

from __future__ import annotations

import typer
from rich.table import Table

from bench.cli.app import app
from bench.cli.progress import console
from bench.kinds import estimate
from bench.studies import PROFILES, REGISTRY


@app.command("list")
def list_(
    seeds: int = typer.Option(None, "--seeds", "-s", help="Override each profile's seeds"),
) -> None:
    """List the studies, with runs and estimated CPU time per profile."""
    table = Table(title="studies (runs / estimated time for one worker on a 2-core x86 CPU; "
                  "--workers N divides it, up to one per core)")
    # names are typed by users: never truncated or wrapped, whatever the width
    table.add_column("study", no_wrap=True, min_width=max(len(s.name) for s in REGISTRY))
    table.add_column("source")
    for name in PROFILES:
        table.add_column(name, justify="right")
    totals = {name: [0, 0.0] for name in PROFILES}
    for study in REGISTRY:
        cells = []
        for name, profile in PROFILES.items():
            runs, seconds = estimate(study, profile, seeds)
            totals[name][0] += runs
            totals[name][1] += seconds
            cells.append(f"{runs} / {_fmt(seconds)}")
        table.add_row(study.name, study.source, *cells)
    table.add_row("[bold]total", "", *(f"{r} / {_fmt(s)}" for r, s in totals.values()))
    console.print(table)
    for profile in PROFILES.values():
        console.print(f"[bold]{profile.name}[/]: {profile.description}")


def _fmt(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
