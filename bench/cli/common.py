"""What ``bench run`` and ``bench all`` share: resolve inputs, run studies, summarise."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from bench import paths
from bench.cli.progress import console
from bench.cli.progress import reporter as make_reporter
from bench.errors import BenchError
from bench.store import ResultStore
from bench.studies import REGISTRY, Study, get_profile
from bench.studies.runner import Outcome, StopFlag, StudyRunner

MAX_SEEDS = 1000

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


def default_results(profile: str) -> Path:
    from bench.manifest import machine_slug

    return paths.results_root() / f"{profile}-{machine_slug()}"


def resolve_studies(names: list[str]) -> list[Study]:
    return [REGISTRY.get(n) for n in names]


def check_datasets(studies: list[Study], data_dir: Path | None) -> dict[str, Any]:
    """Load (and verify) every dataset the studies need, before anything is written."""
    from bench import data

    out = {}
    # a replay trains nothing; the table check (``live``) trains every proposal
    trains = [s for s in studies if s.kind != "tabular" or s.hpo.get("live")]
    for name in sorted({s.base.get("dataset", "fashion_mnist") for s in trains}):
        ds = data.load(name, data_dir)
        out[name] = {"source": ds.source, "sha256": ds.sha256, "verified": ds.verified}
    return out


def execute(studies: list[Study], profile_name: str, seeds: int | None, results: Path | None,
            data_dir: Path | None, workers: int, force: bool, executor_name: str = "local",
            address: str | None = None, gpus_per_run: float = 0.0,
            command: str = "run", extra: dict[str, Any] | None = None,
            deterministic: bool = False, epoch_loop: str = "auto",
            optuna_storage: str | None = None, max_seeds: int | None = None) -> Outcome:
    """Run ``studies`` into a result set; returns the outcome (the caller sets the exit code)."""
    profile = get_profile(profile_name)
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise BenchError(f"--seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
    if extra and extra.get("trials") is not None and not 1 <= extra["trials"] <= MAX_SEEDS:
        raise BenchError(f"--trials must be between 1 and {MAX_SEEDS}, got {extra['trials']}")
    if max_seeds is not None and seeds is not None:
        raise BenchError("--max-seeds plans seeds from the profile's pilot: drop --seeds")
    from bench.studies.topup import check_max_seeds

    check_max_seeds(max_seeds)
    pilots = [s.seeds(profile) for s in studies if s.kind == "train"]
    if max_seeds is not None and pilots and max_seeds <= min(pilots):
        raise BenchError(f"--max-seeds {max_seeds} adds nothing: profile {profile.name} already "
                         f"runs {min(pilots)} or more seeds per study")
    n_seeds = seeds if seeds is not None else profile.seeds
    if epoch_loop not in ("auto", "compiled", "keras"):
        raise BenchError(f"--epoch-loop must be auto, compiled or keras, got {epoch_loop!r}")
    if data_dir is not None:
        os.environ["BENCH_DATA_DIR"] = str(data_dir)
    datasets = check_datasets(studies, data_dir)
    extra = dict(extra or {})
    shown_storage = None
    if optuna_storage:
        from bench.hpo.search import check_optuna_storage

        shown_storage = check_optuna_storage(optuna_storage)
        extra["optuna_storage"] = optuna_storage
    results = results or default_results(profile.name)
    from bench.devices import unseen_gpu_warning
    from bench.executor import check_workers, default_workers, make_executor
    from bench.manifest import environment
    from bench.options import EngineOptions

    workers = check_workers(workers, executor_name) or default_workers()
    if extra.get("algorithms"):
        from bench.hpo.libraries import parse_methods

        parse_methods(extra["algorithms"])  # an unknown one: refused before any session
    store = ResultStore(results)  # only now: bad input above leaves no folder behind
    warning = unseen_gpu_warning()
    if warning:
        console.print(f"[yellow]{warning}[/]", soft_wrap=True)
    options = EngineOptions(data_dir=str(data_dir) if data_dir else None,
                            deterministic=deterministic, epoch_loop=epoch_loop)
    executor = make_executor(executor_name, workers, options, address=address,
                             gpus_per_run=gpus_per_run)
    session = {"id": uuid.uuid4().hex[:12], "command": command, "profile": profile.name,
               "seeds": n_seeds, "studies": [s.name for s in studies], "workers": workers,
               "executor": executor_name, "deterministic": deterministic,
               "started": time.time(), **{k: v for k, v in extra.items()
                                          if k != "optuna_storage"}}
    if shown_storage:
        session["optuna_storage"] = shown_storage  # without its password
    env = environment()
    session["git_commit"] = env["git_commit"]  # each sitting's code, not only the last one's
    user = {s.name: s.definition for s in studies if s.definition is not None}
    if user:  # the site and the report read a study file's factors and claims from here
        kept = store.manifest().get("user_studies") or {}
        if not isinstance(kept, dict):
            raise BenchError(f"{store.manifest_path}: user_studies is not a mapping; fix or "
                             "remove it (nothing was written)")
        env["user_studies"] = {**kept, **user}
    store.update_manifest(session=session, datasets=datasets, **env)
    planned, seconds = _plan_size(studies, profile, seeds, extra.get("trials"))
    console.print(f"plan: {planned:,} trainings, about {seconds / 3600:.1f} h for one worker on "
                  "a 2-core CPU (stored runs are skipped; `bench status` shows what is left)")
    shown = n_seeds if seeds else f"{n_seeds} (studies may cap it)"
    console.print(f"result set: [bold]{store.root}[/]  profile={profile.name} seeds={shown} "
                  f"workers={workers} backend={env['keras_backend']}")
    runner = StudyRunner(store, executor, profile, seeds, force, None)
    with StopFlag() as stop:  # held to the summary: no Ctrl-C escapes between the phases
        try:
            _run_batches(studies, runner, stop, extra, store, max_seeds, session)
        except KeyboardInterrupt:  # a second Ctrl-C: stop now (the runs in flight are lost)
            runner.outcome.interrupted = True
            executor.close(now=True)
        finally:
            stop.closing = True  # the session's end is recorded whatever is pressed now
            executor.close()
            counts, failure = _compact(store)
            session.update(ended=time.time(), outcome=dict(runner.outcome.ran),
                           interrupted=runner.outcome.interrupted,
                           **({"compaction_error": str(failure)} if failure else {}))
            store.update_manifest(**_session_changes(session, runner, options, deterministic,
                                                     workers, epoch_loop))
        if failure:
            raise failure
        stop.closing = False  # the report may be stopped: its tables are then stale, not lost
        try:
            _derive(store)
        except KeyboardInterrupt:
            runner.outcome.interrupted = True
            console.print(f"[yellow]report stopped[/]: run `bench compact {store.root}` to "
                          "compute the tables", soft_wrap=True)
        stop.closing = True
        summarize(runner.outcome, counts, store.root)
    return runner.outcome


def _run_batches(studies: list[Study], runner: StudyRunner, stop: StopFlag,
                 extra: dict[str, Any], store: ResultStore, max_seeds: int | None,
                 session: dict[str, Any]) -> None:
    """Each batch of studies through its runner, then the top-ups."""
    with make_reporter() as progress_reporter:
        runner.reporter = progress_reporter
        for batch in _batches(studies):
            study = batch[0]
            if stop.stop:
                runner.outcome.interrupted = True
                break
            if study.kind == "hpo":
                from bench.hpo.runner import run_hpo_studies

                run_hpo_studies(batch, runner, stop, extra)
            elif study.kind == "tabular":
                from bench.hpo.tabular import run_tabular_study

                run_tabular_study(study, runner, stop, extra)
            else:
                runner.run(study, stop)
        if max_seeds and not stop.stop:
            session["topups"] = _top_up(store, runner,
                                        [s for s in studies if s.kind == "train"],
                                        max_seeds, stop)


def _session_changes(session: dict[str, Any], runner: StudyRunner, options: Any,
                     deterministic: bool, workers: int, epoch_loop: str) -> dict[str, Any]:
    """The manifest's update at a session's end: the session, and the engine when it ran."""
    changes: dict[str, Any] = {"session": session}
    if runner.outcome.ran:
        from bench.devices import detect
        from bench.options import COMPILED_JIT_MIN_STEPS, JIT_MIN_STEPS, auto_precision

        gpu = next(iter(detect()), None)  # the parent never loads the framework for it
        changes["engine"] = {
            "cnn_precision": auto_precision("cnn", gpu),
            "mlp_precision": auto_precision("mlp", gpu),
            "jit_compile": options.jit_compile, "jit_min_steps_on_cpu": COMPILED_JIT_MIN_STEPS
            if options.compiled_epochs_for() else JIT_MIN_STEPS,
            "steps_per_execution": options.steps_per_execution or "min(64, steps/epoch)",
            "deterministic": deterministic, "workers": workers,
            "epoch_loop": epoch_loop,
            "epoch_loop_used": "compiled" if options.compiled_epochs_for() else "keras",
            # what actually trained this session's runs (device, precision, TF32, loop)
            "hardware_used": runner.outcome.hardware_used(),
        }
    return changes


def _compact(store: ResultStore) -> tuple[dict[str, int], BenchError | None]:
    """Compact, keeping a failure (disk full) for after the session's end is recorded."""
    try:
        return store.compact(), None
    except BenchError as exc:
        return {}, exc


def _batches(studies: list[Study]) -> list[list[Study]]:
    """``studies`` in order, consecutive live-HPO studies merged into one batch (their
    searches are independent, so the executor runs them without a barrier between them)."""
    batches: list[list[Study]] = []
    for study in studies:
        if study.kind == "hpo" and batches and batches[-1][0].kind == "hpo":
            batches[-1].append(study)
        else:
            batches.append([study])
    return batches


def _top_up(store: ResultStore, runner: StudyRunner, studies: list[Study], max_seeds: int,
            stop: StopFlag) -> list[dict[str, Any]]:
    """Re-run the studies whose pilot claims want more seeds, at the planned n (capped);
    returns the plan (recorded in the session)."""
    from bench.studies.topup import pilot_claims, plan_topups

    store.compact()
    chosen = {s.name: s for s in studies}
    claims = pilot_claims(store, runner.profile, studies)
    plan = [t for t in plan_topups(claims, runner.profile, max_seeds, studies)
            if t.study in chosen]
    if not plan:
        console.print(f"--max-seeds {max_seeds}: no study's claims need more seeds than the "
                      "pilot's by its noise (or the pilot is not complete)")
        return []
    for topup in plan:
        console.print(f"top-up: {topup.line()}")
    skipped = runner.outcome.skipped  # the pilot's runs are not "skipped" a second time
    for topup in plan:
        if stop.stop:
            runner.outcome.interrupted = True
            break
        runner.topped_up[topup.study] = topup.target
        runner.run(chosen[topup.study], stop)
    runner.outcome.skipped = skipped
    return [{"study": t.study, "pilot": t.pilot, "seeds": t.target, "planned": t.planned,
             "claims": list(t.claims), "max_seeds": max_seeds} for t in plan]


def _plan_size(studies: list[Study], profile: Any, seeds: int | None,
               trials: int | None = None) -> tuple[int, float]:
    """Trainings planned and their estimated seconds (one worker), for the opening line."""
    from bench.studies.cost import estimate

    sizes = [estimate(study, profile, seeds, trials) for study in studies]
    return sum(n for n, _ in sizes), sum(s for _, s in sizes)


def _derive(store: ResultStore) -> None:
    """Statistics, claims and paper-vs-measured tables."""
    from bench.report import build_report

    build_report(store)


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
