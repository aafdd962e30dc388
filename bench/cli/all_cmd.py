"""``bench all``: every study of a profile, then the report and the site."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli import app
from bench.cli.common import (
    AddressOpt,
    DataDirOpt,
    ExecutorOpt,
    ForceOpt,
    GpusOpt,
    ResultsOpt,
    SeedsOpt,
    WorkersOpt,
    execute,
    exit_code,
)
from bench.studies import REGISTRY, get_profile


@app.command("all")
def all_(
    profile: str = typer.Option("quick", "--profile", "-p", help="smoke | quick | paper | full"),
    seeds: int = SeedsOpt,
    results: Path = ResultsOpt,
    data_dir: Path = DataDirOpt,
    workers: int = WorkersOpt,
    force: bool = ForceOpt,
    site: Path = typer.Option(Path("site"), "--site", help="Where to build the website"),
    no_site: bool = typer.Option(False, "--no-site", help="Skip building the website"),
    executor: str = ExecutorOpt,
    address: str = AddressOpt,
    gpus_per_run: float = GpusOpt,
) -> None:
    """Run every study of PROFILE (default quick) and build the site from the result sets."""
    get_profile(profile)
    outcome = execute(list(REGISTRY), profile, seeds, results, data_dir, workers, force,
                      executor, address, gpus_per_run, command="all")
    if not no_site and not outcome.interrupted:
        try:
            from bench.site.build import build_site
        except ImportError:
            pass
        else:
            from bench import paths

            build_site(sorted(p for p in paths.results_root().iterdir() if p.is_dir()), site)
    raise typer.Exit(exit_code(outcome))
