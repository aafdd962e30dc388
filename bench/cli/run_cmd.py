"""``bench run STUDY...``: run studies (or a study file) into a result set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from bench.app import RunRequest
from bench.cli.app import app
from bench.cli.common import ProfileOpt, execute, exit_code, resolve_studies, run_options
from bench.errors import BenchError


@app.command("run")
@run_options
def run(
    studies: list[str] = typer.Argument(None, help="Study names (see `bench list`)"),
    profile: str = ProfileOpt,
    config: Path = typer.Option(None, "--config", "-c", help="A study file (YAML or TOML)"),
    algorithms: str = typer.Option(None, "--algorithms", help="HPO: comma-separated "
                                   "library:algorithm (e.g. optuna:tpe,hyperopt:rand)"),
    opts: dict[str, Any] | None = None,
) -> None:
    """Run STUDY... (or --config FILE) under a profile; stored runs are not run again."""
    from bench.studies import get_profile

    get_profile(profile)
    selected = resolve_studies(studies or [])
    if config is not None:
        from bench.studies.config_file import load_study_file

        selected.append(load_study_file(config))
    if not selected:
        raise BenchError("name at least one study (see `bench list`) or pass --config FILE")
    outcome = execute(RunRequest(selected, profile, command="run", algorithms=algorithms,
                                 **(opts or {})))
    raise typer.Exit(exit_code(outcome))
