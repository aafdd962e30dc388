"""``bench run STUDY...``: run studies (or a study file) into a result set."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.app import RunRequest
from bench.cli.app import app
from bench.cli.common import (
    AddressOpt,
    DataDirOpt,
    DeterministicOpt,
    EpochLoopOpt,
    ExecutorOpt,
    ForceOpt,
    GpusOpt,
    MaxSeedsOpt,
    OptunaStorageOpt,
    ProfileOpt,
    ResultsOpt,
    SeedsOpt,
    TrialsOpt,
    WorkersOpt,
    execute,
    exit_code,
    resolve_studies,
)
from bench.errors import BenchError


@app.command("run")
def run(
    studies: list[str] = typer.Argument(None, help="Study names (see `bench list`)"),
    profile: str = ProfileOpt,
    seeds: int = SeedsOpt,
    results: Path = ResultsOpt,
    data_dir: Path = DataDirOpt,
    workers: int = WorkersOpt,
    force: bool = ForceOpt,
    config: Path = typer.Option(None, "--config", "-c", help="A study file (YAML or TOML)"),
    algorithms: str = typer.Option(None, "--algorithms", help="HPO: comma-separated "
                                   "library:algorithm (e.g. optuna:tpe,hyperopt:rand)"),
    executor: str = ExecutorOpt,
    address: str = AddressOpt,
    gpus_per_run: float = GpusOpt,
    deterministic: bool = DeterministicOpt,
    epoch_loop: str = EpochLoopOpt,
    optuna_storage: str = OptunaStorageOpt,
    max_seeds: int = MaxSeedsOpt,
    trials: int = TrialsOpt,
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
    outcome = execute(RunRequest(
        selected, profile, seeds, results, data_dir, workers, force, executor, address,
        gpus_per_run, "run", trials, algorithms, deterministic, epoch_loop, optuna_storage,
        max_seeds))
    raise typer.Exit(exit_code(outcome))
