"""Run an HPO study: (library, algorithm) x cell x seed searches, one record each.

Each search is one unit of work of the executor (``--workers N`` processes, or Ray): its
trials train in the worker that runs it (``bench.hpo.search``). This process claims a search
before submitting it, so two ``bench`` processes never run the same one, and is the only
writer of its record (written atomically once the search ends).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.hpo.plan import (  # noqa: F401 (re-exported)
    available,
    methods_for,
    sampler_seed,
    search_id,
    trials_for,
)
from bench.hpo.search import (
    DEFAULT_TARGET,
    PartialTrials,
    SearchTask,
    optuna_study_name,
    request_stop,
    run_search_task,
    search_record,
)
from bench.hpo.space import SPACES
from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.registry import Study
from bench.units import StopFlag, UnitRunner


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
        runner.say(f"{study.name}: skipping {', '.join(':'.join(m) for m in sorted(missing))}"
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


class LiveSearchUnits:
    """Live HPO searches as units: a ``SearchTask`` each (its trials train in the worker),
    stored in ``records/searches``; an interrupted one keeps its trials for the next run."""

    table = "searches"

    def key(self, unit: SearchTask) -> str:
        return unit.search_id

    def study(self, unit: SearchTask) -> str:
        return unit.common["study"]

    def lock(self, key: str) -> str:
        return f"search-{key}"

    def stored(self, store: ResultStore) -> set[str]:
        return store.completed("searches")

    def is_stored(self, store: ResultStore, key: str) -> bool:
        return store.status("searches", key) in FINAL_STATUSES

    def work(self) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
        return run_search_task

    def payload(self, unit: SearchTask) -> SearchTask:
        return unit

    def died(self, payload: SearchTask, cause: str) -> dict[str, Any]:
        """A search whose worker died (its finished trials stay in ``partial/``)."""
        return search_record(payload, [], 0, f"WorkerDied: {cause}", time.time(), False)

    def keep(self, record: dict[str, Any], runner: UnitRunner) -> str:
        search = record["search"]
        sid, status = search["search_id"], search["status"]
        if status != "interrupted":
            runner.store.write_record("searches", sid, record)
            if status == "ok":
                PartialTrials(runner.store.path("partial") / sid).clear()
        for trial in record.get("trials", []):
            runner.outcome.note_hardware(trial)
        runner.count(f"search {status}", {
            "status": "failed", "study": search["study"], "run_id": sid,
            "error": search["error"] or "no trial finished"} if status == "failed" else None)
        return sid


def run_hpo_studies(studies: list[Study], runner: UnitRunner, stop: StopFlag,
                    extra: dict[str, Any]) -> None:
    """Run every search of ``studies`` not yet stored as one batch on the runner's executor
    (no barrier between studies: with ``--workers N`` a study of two searches does not
    leave workers idle); each search is stored when it ends, an interrupted one resumes on
    the next run."""
    store = runner.store
    stop_file = store.path("claims") / f"stop-{uuid.uuid4().hex}"
    tasks = [t for study in studies for t in plan_searches(study, runner, extra, stop_file)]
    kind = LiveSearchUnits()

    def on_stop() -> None:
        request_stop(stop_file)

    stop.callbacks.append(on_stop)
    try:
        runner.run_units(kind, search_order(tasks), stop)
    finally:
        stop.callbacks.remove(on_stop)
        with contextlib.suppress(OSError):
            stop_file.unlink()
