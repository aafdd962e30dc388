"""``bench all``: every study of a profile, then the report and the site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bench.app import RunRequest
from bench.cli.app import app
from bench.cli.common import execute, exit_code, run_options
from bench.cli.progress import console
from bench.studies import REGISTRY, get_profile


@app.command("all")
@run_options
def all_(
    profile: str = typer.Option("quick", "--profile", "-p", help="smoke | quick | paper | full"),
    site: Path = typer.Option(Path("site"), "--site", help="Where to build the website"),
    no_site: bool = typer.Option(False, "--no-site", help="Skip building the website"),
    opts: dict[str, Any] | None = None,
) -> None:
    """Run every study of PROFILE (default quick) and build the site from the result sets."""
    get_profile(profile)
    from bench.app import default_results

    opts = dict(opts or {})
    results = opts.pop("results") or default_results(profile)
    if not no_site:
        from bench.site.build import check_inputs, check_out

        check_out(Path(site).resolve())  # before hours of training, not after
        check_inputs(Path(site).resolve(), [Path(results)])

    chosen = get_profile(profile)
    left_out = [s.name for s in REGISTRY if not s.in_bench_all(chosen)]
    if left_out:
        console.print(f"not in `bench all --profile {profile}`: {', '.join(left_out)} (the "
                      f"tabular HPO benchmark, hours on a CPU): `bench run {' '.join(left_out)} "
                      f"--profile {profile}` adds it to the same result set")
    outcome = execute(RunRequest([s for s in REGISTRY if s.in_bench_all(chosen)], profile,
                                 results=Path(results), command="all", **opts))
    if not no_site and not outcome.interrupted:
        from bench.site.build import build_site, default_result_dirs

        sets = sorted({Path(results).resolve(), *(p.resolve() for p in default_result_dirs())})
        counts = build_site(sets, site)
        console.print(f"site: {counts['pages']} pages from {len(sets)} result set(s) in {site}")
    raise typer.Exit(exit_code(outcome))
