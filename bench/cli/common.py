"""What ``bench run`` and ``bench all`` share: resolve inputs, run studies, summarise."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from bench.app import RunRequest, default_results
from bench.app import execute as app_execute
from bench.cli.progress import console
from bench.cli.progress import reporter as make_reporter
from bench.studies import REGISTRY, Study
from bench.studies.topup import MAX_SEEDS  # noqa: F401 (the CLI's bound)
from bench.units import Outcome, ignoring_ctrl_c

ProfileOpt = typer.Option("smoke", "--profile", "-p", help="smoke | quick | paper | full")
SeedsOpt = typer.Option(None, "--seeds", "-s", help="Seeds per configuration (default: profile's)")
ResultsOpt = typer.Option(None, "--results", "-r", help="Result set directory "
                          "(default: data_cache/results/<profile>-<machine>)")
DataDirOpt = typer.Option(None, "--data-dir", help="Folder with mnist/ and fashion-mnist/ "
                          "IDX files (default: $BENCH_DATA_DIR, then data_cache/datasets)")
WorkersOpt = typer.Option(0, "--workers", "-w", help="Parallel training processes pinned to "
                          "their cores (0 = auto: one per core on a CPU, 1 on a GPU)")
ForceOpt = typer.Option(False, "--force", help="Re-run configurations already stored")
ExecutorOpt = typer.Option("local", "--executor", help="local | ray")
AddressOpt = typer.Option(None, "--address", help="Ray cluster address (with --executor ray)")
GpusOpt = typer.Option(0.0, "--gpus-per-run", help="Fractional GPUs per Ray task")
DeterministicOpt = typer.Option(False, "--deterministic", help="TensorFlow op determinism "
                                "(turns XLA off; recorded; do not mix within a comparison)")
OptunaStorageOpt = typer.Option(None, "--optuna-storage", help="HPO: keep Optuna's studies "
                                "in this RDB (SQLAlchemy URL, e.g. postgresql+psycopg2://"
                                "user@host/db) instead of the result set's journal file")
TrialsOpt = typer.Option(None, "--trials", help="HPO: trials per live search (default: the "
                         "profile's; the papers' budget is 10)")
MaxSeedsOpt = typer.Option(None, "--max-seeds", help="After the profile's seeds (the pilot), "
                           "add seeds, up to this cap, to the studies whose claims need more "
                           "by the pilot's noise; n is fixed once from the pilot (see docs)")
EpochLoopOpt = typer.Option("auto", "--epoch-loop", help="auto | compiled (each epoch one XLA "
                            "program; TensorFlow MLPs) | keras (Keras' own fit loop)")


#: the options ``run`` and ``all`` share, declared once: name -> (type, option)
SHARED_OPTIONS: dict[str, tuple[type, Any]] = {
    "seeds": (int, SeedsOpt), "results": (Path, ResultsOpt), "data_dir": (Path, DataDirOpt),
    "workers": (int, WorkersOpt), "force": (bool, ForceOpt), "executor": (str, ExecutorOpt),
    "address": (str, AddressOpt), "gpus_per_run": (float, GpusOpt),
    "deterministic": (bool, DeterministicOpt), "epoch_loop": (str, EpochLoopOpt),
    "optuna_storage": (str, OptunaStorageOpt), "max_seeds": (int, MaxSeedsOpt),
    "trials": (int, TrialsOpt),
}


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` the shared options: Typer sees them in its signature, the command
    receives them as one dict ``opts`` (a ``RunRequest``'s keyword arguments)."""
    own = [p for p in inspect.signature(command).parameters.values() if p.name != "opts"]
    shared = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                annotation=kind)
              for name, (kind, option) in SHARED_OPTIONS.items()]

    @functools.wraps(command)
    def with_options(**kwargs: Any) -> Any:
        opts = {name: kwargs.pop(name) for name in SHARED_OPTIONS}
        return command(opts=opts, **kwargs)

    with_options.__signature__ = inspect.Signature(own + shared)  # type: ignore[attr-defined]
    with_options.__annotations__ = {**command.__annotations__,
                                    **{n: k for n, (k, _) in SHARED_OPTIONS.items()}}
    return with_options


def resolve_studies(names: list[str]) -> list[Study]:
    return [REGISTRY.get(n) for n in names]


def execute(request: RunRequest) -> Outcome:
    """Carry out ``request`` with a progress display, then print its summary."""
    with make_reporter() as progress_reporter:
        outcome = app_execute(request, progress_reporter,
                              lambda text: console.print(text, soft_wrap=True, markup=False))
    with ignoring_ctrl_c():
        summarize(outcome, request.counts, request.results or default_results(request.profile))
    return outcome


def summarize(outcome: Outcome, counts: dict[str, int], root: Path) -> None:
    table = Table(title="summary", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for status, n in sorted(outcome.ran.items()):
        table.add_row(f"ran: {status}", str(n))
    table.add_row("already stored (skipped)", str(outcome.skipped))
    for name, n in counts.items():
        table.add_row(f"rows in {name}", str(n))
    console.print(table)
    for run in outcome.failed[:10]:
        console.print(f"[red]{run['status']}[/] {run['study']} {run['run_id']}: {run.get('error')}")
    if outcome.interrupted:
        console.print("[yellow]interrupted[/]: finished runs are stored; run the same command "
                      "again to complete the result set")
    console.print(f"results in {root}")


def exit_code(outcome: Outcome) -> int:
    if outcome.interrupted:
        return 130
    return 1 if outcome.failed else 0
