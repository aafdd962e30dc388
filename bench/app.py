"""The application: a validated request to run studies into a result set, carried out.

The CLI only parses its options into a ``RunRequest`` and prints what ``execute`` returns;
tests drive the same pipeline in-process. Order of a session: check the request and the
datasets (nothing written on bad input) -> open the store and record the session -> run each
batch of studies as units on the executor (``bench.kinds``) -> top up seeds where the pilot
asks for them -> record the session's end -> compact -> derive the conclusions (``report``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import paths
from bench.errors import BenchError
from bench.kinds import batches, estimate, kind_of
from bench.store import ResultStore
from bench.studies import Study, get_profile
from bench.studies.registry import Profile
from bench.studies.runner import StudyRunner
from bench.studies.topup import MAX_SEEDS, check_max_seeds
from bench.units import Outcome, Reporter, StopFlag, say

EPOCH_LOOPS = ("auto", "compiled", "keras")


@dataclass
class RunRequest:
    """What ``bench run`` and ``bench all`` ask for (``checked`` refuses bad values)."""

    studies: list[Study]
    profile: str
    seeds: int | None = None
    results: Path | None = None
    data_dir: Path | None = None
    workers: int = 0
    force: bool = False
    executor: str = "local"
    address: str | None = None
    gpus_per_run: float = 0.0
    command: str = "run"
    trials: int | None = None
    algorithms: str | None = None
    deterministic: bool = False
    epoch_loop: str = "auto"
    optuna_storage: str | None = None
    max_seeds: int | None = None
    counts: dict[str, int] = field(default_factory=dict)  # rows per table, after the run

    def checked(self) -> Profile:
        """The profile, once every value is valid (a BenchError naming the first that is
        not; nothing is written before this passes)."""
        profile = get_profile(self.profile)
        for name, value in (("--seeds", self.seeds), ("--trials", self.trials)):
            if value is not None and not 1 <= value <= MAX_SEEDS:
                raise BenchError(f"{name} must be between 1 and {MAX_SEEDS}, got {value}")
        if self.max_seeds is not None and self.seeds is not None:
            raise BenchError("--max-seeds plans seeds from the profile's pilot: drop --seeds")
        check_max_seeds(self.max_seeds)
        pilots = [s.seeds(profile) for s in self.studies if s.kind == "train"]
        if self.max_seeds is not None and pilots and self.max_seeds <= min(pilots):
            raise BenchError(f"--max-seeds {self.max_seeds} adds nothing: profile "
                             f"{profile.name} already runs {min(pilots)} or more seeds per study")
        if self.epoch_loop not in EPOCH_LOOPS:
            raise BenchError(f"--epoch-loop must be auto, compiled or keras, got "
                             f"{self.epoch_loop!r}")
        if self.algorithms:
            from bench.hpo.libraries import parse_methods

            parse_methods(self.algorithms)  # an unknown one: refused before any session
        return profile

    def extra(self) -> dict[str, Any]:
        """The HPO settings a kind's runner reads."""
        out: dict[str, Any] = {}
        if self.algorithms:
            out["algorithms"] = self.algorithms
        if self.trials is not None:
            out["trials"] = self.trials
        if self.optuna_storage:
            out["optuna_storage"] = self.optuna_storage
        return out


def default_results(profile: str) -> Path:
    from bench.manifest import machine_slug

    return paths.results_root() / f"{profile}-{machine_slug()}"


def check_datasets(studies: list[Study], data_dir: Path | None) -> dict[str, Any]:
    """Load (and verify) every dataset the studies train on, before anything is written."""
    from bench import data

    out = {}
    trains = [s for s in studies if kind_of(s).trains(s)]
    for name in sorted({s.base.get("dataset", "fashion_mnist") for s in trains}):
        ds = data.load(name, data_dir)
        out[name] = {"source": ds.source, "sha256": ds.sha256, "verified": ds.verified}
    return out


def execute(request: RunRequest, reporter: Reporter | None = None,
            tell: Callable[[str], None] = say) -> Outcome:
    """Carry out ``request``; returns the outcome (the caller sets the exit code).
    ``request.counts`` holds the tables' row counts afterwards."""
    profile = request.checked()
    from bench.executor import check_workers, default_workers, make_executor

    workers = check_workers(request.workers, request.executor) or default_workers()
    if request.data_dir is not None:
        os.environ["BENCH_DATA_DIR"] = str(request.data_dir)  # the workers' loader reads it
    datasets = check_datasets(request.studies, request.data_dir)
    shown_storage = None
    if request.optuna_storage:
        from bench.hpo.search import check_optuna_storage

        shown_storage = check_optuna_storage(request.optuna_storage)
    store = ResultStore(request.results or default_results(profile.name))  # only now
    from bench.devices import unseen_gpu_warning
    from bench.options import EngineOptions

    warning = unseen_gpu_warning()
    if warning:
        tell(warning)
    options = EngineOptions(data_dir=str(request.data_dir) if request.data_dir else None,
                            deterministic=request.deterministic, epoch_loop=request.epoch_loop)
    executor = make_executor(request.executor, workers, options, address=request.address,
                             gpus_per_run=request.gpus_per_run)
    session, backend = _open_session(store, request, profile, workers, datasets,
                                     shown_storage)
    planned, seconds = _plan_size(request, profile)
    tell(f"plan: {planned:,} trainings, about {seconds / 3600:.1f} h for one worker on a 2-core "
         "CPU (stored runs are skipped; `bench status` shows what is left)")
    shown = session["seeds"] if request.seeds else f"{session['seeds']} (studies may cap it)"
    tell(f"result set: {store.root}  profile={profile.name} seeds={shown} workers={workers} "
         f"backend={backend}")
    runner = StudyRunner(store, executor, profile, request.seeds, request.force, reporter)
    runner.say = tell
    _run_session(request, runner, session, options, workers)
    return runner.outcome


def _run_session(request: RunRequest, runner: StudyRunner, session: dict[str, Any],
                 options: Any, workers: int) -> None:
    """Run the batches, record the session's end whatever happens, compact, then derive."""
    store, executor = runner.store, runner.executor
    with StopFlag() as stop:  # held to the end: no Ctrl-C escapes between the phases
        finished = False
        try:
            _run_batches(request, runner, stop, session)
            finished = True
        except KeyboardInterrupt:  # a second Ctrl-C: stop now (the runs in flight are lost)
            stop.closing = True
            runner.outcome.interrupted = True
            executor.close(now=True)
        finally:
            stop.closing = True  # the session's end is recorded whatever is pressed now
            executor.close(now=not finished)  # after an error, no result can be kept: end now
            request.counts, failure = _compact(store)
            session.update(ended=time.time(), outcome=dict(runner.outcome.ran),
                           interrupted=runner.outcome.interrupted,
                           **({"compaction_error": str(failure)} if failure else {}))
            store.update_manifest(**_session_changes(session, runner, options, request,
                                                     workers))
        if failure:
            raise failure
        stop.stop, stop.closing = True, False  # one Ctrl-C stops the report: its tables are
        # then stale, not lost (``bench compact`` computes them)
        try:
            _derive(store)
        except KeyboardInterrupt:
            runner.outcome.interrupted = True
            runner.say(f"report stopped: run `bench compact {store.root}` to compute the "
                       "tables")
        stop.closing = True
    return runner.outcome


def _open_session(store: ResultStore, request: RunRequest, profile: Profile, workers: int,
                  datasets: dict[str, Any],
                  shown_storage: str | None) -> tuple[dict[str, Any], str]:
    """The session's entry in the manifest (with the code's commit and the study files),
    and the Keras backend."""
    from bench.manifest import environment

    n_seeds = request.seeds if request.seeds is not None else profile.seeds
    session: dict[str, Any] = {
        "id": uuid.uuid4().hex[:12], "command": request.command, "profile": profile.name,
        "seeds": n_seeds, "studies": [s.name for s in request.studies], "workers": workers,
        "executor": request.executor, "deterministic": request.deterministic,
        "started": time.time(),
        **{k: v for k, v in request.extra().items() if k != "optuna_storage"}}
    if shown_storage:
        session["optuna_storage"] = shown_storage  # without its password
    env = environment()
    session["git_commit"] = env["git_commit"]  # each sitting's code, not only the last one's
    user = {s.name: s.definition for s in request.studies if s.definition is not None}
    if user:  # the site and the report read a study file's factors and claims from here
        kept = store.manifest().get("user_studies") or {}
        if not isinstance(kept, dict):
            raise BenchError(f"{store.manifest_path}: user_studies is not a mapping; fix or "
                             "remove it (nothing was written)")
        env["user_studies"] = {**kept, **user}
    store.update_manifest(session=session, datasets=datasets, **env)
    return session, env["keras_backend"]


def _run_batches(request: RunRequest, runner: StudyRunner, stop: StopFlag,
                 session: dict[str, Any]) -> None:
    """Each batch of studies through its kind, then the top-ups."""
    for batch in batches(request.studies):
        if stop.stop:
            runner.outcome.interrupted = True
            break
        kind_of(batch[0]).run(batch, runner, stop, request.extra())
    if request.max_seeds and not stop.stop:
        session["topups"] = _top_up(runner, [s for s in request.studies if s.kind == "train"],
                                    request.max_seeds, stop)


def _session_changes(session: dict[str, Any], runner: StudyRunner, options: Any,
                     request: RunRequest, workers: int) -> dict[str, Any]:
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
            "deterministic": request.deterministic, "workers": workers,
            "epoch_loop": request.epoch_loop,
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


def _top_up(runner: StudyRunner, studies: list[Study], max_seeds: int,
            stop: StopFlag) -> list[dict[str, Any]]:
    """Re-run the studies whose pilot claims want more seeds, at the planned n (capped);
    returns the plan (recorded in the session)."""
    from bench.report.pilot import pilot_claims
    from bench.studies.topup import plan_topups

    store = runner.store
    store.compact()
    chosen = {s.name: s for s in studies}
    claims = pilot_claims(store, runner.profile, studies)
    plan = [t for t in plan_topups(claims, runner.profile, max_seeds, studies)
            if t.study in chosen]
    if not plan:
        runner.say(f"--max-seeds {max_seeds}: no study's claims need more seeds than the "
                   "pilot's by its noise (or the pilot is not complete)")
        return []
    for topup in plan:
        runner.say(f"top-up: {topup.line()}")
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


def _plan_size(request: RunRequest, profile: Profile) -> tuple[int, float]:
    """Trainings planned and their estimated seconds (one worker), for the opening line."""
    sizes = [estimate(study, profile, request.seeds, request.trials)
             for study in request.studies]
    return sum(n for n, _ in sizes), sum(s for _, s in sizes)


def _derive(store: ResultStore) -> None:
    """Statistics, claims and paper-vs-measured tables."""
    from bench.report import build_report

    build_report(store)
