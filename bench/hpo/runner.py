"""Run an HPO study: (library, algorithm) x cell x seed searches, one record each.

Each search is one unit of work of the executor (``--workers N`` processes, or Ray): its
trials train in the worker that runs it (``bench.hpo.search``). This process claims a search
before submitting it, so two ``bench`` processes never run the same one, and is the only
writer of its record (written atomically once the search ends).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

from bench.hpo.libraries import parse_methods
from bench.hpo.search import (
    DEFAULT_TARGET,
    PartialTrials,
    SearchTask,
    optuna_study_name,
    request_stop,
    run_search_task,
)
from bench.hpo.space import SPACES
from bench.store import FINAL_STATUSES
from bench.studies.registry import Study


def search_id(study: str, library: str, algorithm: str, fraction: str, seed: int,
              profile: str, extra: dict[str, Any]) -> str:
    blob = json.dumps([study, library, algorithm, fraction, seed, profile, extra], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sampler_seed(seed: int, cell: int) -> int:
    """The library's seed for training seed ``seed`` in grid cell ``cell``: its own per cell,
    so that searches at different fractions do not try the same configurations."""
    import numpy as np

    return int(np.random.SeedSequence([seed, cell]).generate_state(1)[0] % (2**31 - 1))


def methods_for(study: Study, profile_name: str, requested: str | None) -> list[tuple[str, str]]:
    if requested:
        return parse_methods(requested)
    if profile_name == "full":
        return parse_methods(study.hpo.get("methods_full", "all"))
    return parse_methods(study.hpo["methods"])


def trials_for(study: Study, profile: Any, requested: int | None = None) -> int:
    """Trials per live search: ``--trials``, else the profile's cap, else the paper's."""
    return requested or profile.hpo_trials or study.hpo.get("trials", 10)


def available(library: str, algorithm: str) -> bool:
    """False for an optional algorithm whose extra is not installed (Optuna's GP: torch)."""
    if (library, algorithm) == ("optuna", "gp"):
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    return True


def plan_searches(study: Study, runner: Any, extra: dict[str, Any],
                  stop_file: Any, announce: bool = True) -> list[SearchTask]:
    """Every search of ``study`` under the runner's profile and seeds (stored or not), seed
    by seed."""
    profile = runner.profile
    space = SPACES[study.hpo["space"]]
    n_trials = trials_for(study, profile, extra.get("trials"))
    methods = methods_for(study, profile.name, extra.get("algorithms"))
    seeds = runner.seeds if runner.seeds_overridden else list(range(profile.hpo_seeds))
    missing = {m for m in methods if not available(*m)}
    if missing and announce:
        from bench.cli.progress import console

        console.print(f"{study.name}: skipping {', '.join(':'.join(m) for m in sorted(missing))}"
                      " (needs torch: pip install -e '.[gp]')")
    url = extra.get("optuna_storage")
    store = runner.store
    tasks = []
    for lib, alg in methods:
        if (lib, alg) in missing:
            continue
        for cell, (labels, changes) in enumerate(study.grid()):
            for seed in seeds:
                library_seed = sampler_seed(seed, cell)
                sid = search_id(study.name, lib, alg, json.dumps(labels, sort_keys=True), seed,
                                profile.name, {"trials": n_trials, "sampler_seed": library_seed})
                base = study.spec(profile, seed, changes, labels)
                nominal = labels.get("fraction", str(study.base.get("fraction", 1.0)))
                common = {
                    "search_id": sid, "study": study.name, "library": lib, "algorithm": alg,
                    "method": f"{lib}:{alg}", "fraction": base.fraction,
                    "fraction_nominal": float(nominal), "epochs": base.epochs,
                    "epochs_nominal": int(labels.get("epochs", study.base.get("epochs", 0))),
                    "selection": "test" if base.selects_on_test else "validation", "seed": seed,
                    "sampler_seed": library_seed, "profile": profile.name, "space": space.name,
                    "budget": n_trials,  # trials asked for (n_trials: trials that ran)
                    **{k: v for k, v in base.factors.items()
                       if k not in ("fraction", "epochs", "factor", "level", "profile")
                       and not k.endswith("_nominal")}}
                tasks.append(SearchTask(
                    search_id=sid, library=lib, algorithm=alg, seed=library_seed,
                    n_trials=n_trials,
                    space=space.name, spec=base.to_dict(), common=common,
                    optuna_storage=url or store.path("optuna") / "journal.log",
                    optuna_study=optuna_study_name(store.root.name, study.name, lib, alg, sid,
                                                   external=bool(url)),
                    partial_dir=store.path("partial") / sid, stop_file=stop_file,
                    fresh=runner.force, target=study.hpo.get("target", DEFAULT_TARGET)))
    return search_order(tasks)


def run_hpo_study(study: Study, runner: Any, stop: Any, extra: dict[str, Any]) -> None:
    """Run every search of ``study`` not yet stored (see ``run_hpo_studies``)."""
    run_hpo_studies([study], runner, stop, extra)


def search_order(tasks: list[SearchTask]) -> list[SearchTask]:
    """Seed-major (an interrupted batch holds every study, method and fraction at about equal
    seeds), and within a seed the costliest searches first, so that the last ones to start
    are short and no worker idles while another finishes a long one."""
    from bench.spec import RunSpec
    from bench.studies.cost import run_seconds

    def cost(task: SearchTask) -> float:
        return task.n_trials * run_seconds(RunSpec.from_dict(task.spec))

    return sorted(tasks, key=lambda t: (t.common["seed"], -cost(t)))


def run_hpo_studies(studies: list[Study], runner: Any, stop: Any,
                    extra: dict[str, Any]) -> None:
    """Run every search of ``studies`` not yet stored as one batch on the runner's executor
    (no barrier between studies: with ``--workers N`` a study of two searches does not
    leave workers idle); each search is stored when it ends, an interrupted one resumes on
    the next run."""
    store = runner.store
    stop_file = store.path("claims") / f"stop-{uuid.uuid4().hex}"
    done = set() if runner.force else store.completed("searches")
    todo: list[SearchTask] = []
    for study in studies:
        tasks = plan_searches(study, runner, extra, stop_file)
        left = [t for t in tasks if t.search_id not in done]
        runner.outcome.skipped += len(tasks) - len(left)
        runner.reporter.start(study.name, len(tasks), len(tasks) - len(left))
        todo += left
    if stop.stop:
        runner.outcome.interrupted |= bool(todo)
        return
    callbacks = getattr(stop, "callbacks", None)

    def on_stop() -> None:
        request_stop(stop_file)

    if callbacks is not None:
        callbacks.append(on_stop)
    held: dict[str, Any] = {}
    try:
        for record in _map(runner.executor, _claimed(search_order(todo), store, runner.force,
                                                     stop, held)):
            _store(record, runner, held)
    finally:
        for lock in held.values():
            lock.release()
        if callbacks is not None:
            callbacks.remove(on_stop)
        with contextlib.suppress(OSError):
            stop_file.unlink()
    if stop.stop:
        runner.outcome.interrupted = True


def _map(executor: Any, tasks: Iterator[SearchTask]) -> Iterator[dict[str, Any]]:
    """Records of ``tasks`` as they finish: on the executor's workers, else in this process."""
    if hasattr(executor, "map_tasks"):
        import inspect

        takes = "failed" in inspect.signature(executor.map_tasks).parameters
        yield from executor.map_tasks(run_search_task, tasks,
                                      **({"failed": _died} if takes else {}))
        return
    from dataclasses import asdict

    options = getattr(executor, "options", None)
    for task in tasks:
        yield run_search_task(task, asdict(options) if options is not None else {})


def _died(task: SearchTask, cause: str) -> dict[str, Any]:
    """The failed record of a search whose worker died (its finished trials stay in
    ``partial/`` and are resumed by the next run)."""
    import time

    from bench.hpo.search import search_record

    return search_record(task, [], 0, f"WorkerDied: {cause}", time.time(), False)


def _claimed(tasks: list[SearchTask], store: Any, force: bool, stop: Any,
             held: dict[str, Any]) -> Iterator[SearchTask]:
    """Searches this process claims (until its record is written); stops on Ctrl-C."""
    for task in tasks:
        if stop.stop:
            return
        lock = store.try_claim(f"search-{task.search_id}")
        if lock is None:
            continue  # another process runs it
        if not force and store.status("searches", task.search_id) in FINAL_STATUSES:
            lock.release()  # another process finished it meanwhile
            continue
        held[task.search_id] = lock
        yield task


def _store(record: dict[str, Any], runner: Any, held: dict[str, Any]) -> None:
    """Write a finished search (an interrupted one keeps its trials for the next run)."""
    search = record["search"]
    sid, status = search["search_id"], search["status"]
    if status != "interrupted":
        runner.store.write_record("searches", sid, record)
        if status == "ok":
            PartialTrials(runner.store.path("partial") / sid).clear()
    lock = held.pop(sid, None)
    if lock is not None:
        lock.release()
    for trial in record.get("trials", []):
        runner.outcome.note_hardware(trial)
    runner.outcome.ran[f"search {status}"] += 1
    if status == "failed":
        runner.outcome.failed.append({"status": "failed", "study": search["study"],
                                      "run_id": sid, "error": search["error"]
                                      or "no trial finished"})
    runner.reporter.advance({"search": search})
