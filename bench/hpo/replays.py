"""Run a tabular study: every (library, algorithm, seed) search replayed against its table,
each one unit of work (``bench.units``) claimed, run on the executor and stored."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.hpo.plan import available, methods_for
from bench.hpo.space import SPACES
from bench.hpo.tabular import REPLAY_VERSION, Table, search_key, tabular_search
from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.catalog import REGISTRY
from bench.studies.cost import REPLAY_TRIAL_S, run_seconds
from bench.studies.registry import Profile, Study
from bench.units import StopFlag, UnitRunner


def plan(study: Study, profile: Profile, requested: str | None) -> tuple[list, int, list[int]]:
    """(methods, trials, seeds) of a tabular study under ``profile``."""
    caps = study.profile_caps.get(profile.name, {})
    methods = [m for m in methods_for(study, "full", requested) if available(*m)]
    seeds = list(range(caps.get("hpo_seeds", study.hpo["seeds"])))
    return methods, caps.get("hpo_trials", study.hpo["trials"]), seeds


def estimate_replays(study: Study, profile: Profile, seeds: int | None = None,
                     trials: int | None = None) -> tuple[int, float]:
    """(trainings, seconds) of a tabular study: replays train nothing and cost the
    libraries' own time; the table check trains every proposal like the table."""
    methods, n_trials, search_seeds = plan(study, profile, None)
    searches = len(methods) * len(search_seeds)
    if study.hpo.get("live"):
        table = REGISTRY.get(study.hpo["table"])
        cell_labels, changes = table.grid()[0]
        trainings = searches * n_trials
        return trainings, trainings * run_seconds(table.spec(profile, 0, changes, cell_labels))
    return 0, searches * n_trials * REPLAY_TRIAL_S


def run_tabular_study(study: Study, runner: UnitRunner, stop: StopFlag,
                      extra: dict[str, Any]) -> None:
    """Replay every (library, algorithm, seed) search not yet stored against the table."""
    profile = runner.profile
    methods, n_trials, seeds = plan(study, profile, extra.get("algorithms"))
    space = SPACES[study.hpo["space"]]
    table_study = REGISTRY.get(study.hpo["table"])
    runner.store.compact()
    runs = runner.store.table("runs") if runner.store.has_table("runs") else pd.DataFrame()
    try:
        table = Table.from_runs(runs, table_study.name, profile.name, space)
    except BenchError as exc:
        runner.say(f"{study.name}: skipped: {exc}")
        return
    fresh = int(table.runs["seed"].max()) + 1  # a check trains with seeds the table lacks
    rows = table.runs.to_dict("list")  # one copy, shared by every unit
    units = []
    for seed in seeds:  # seed-major: a partial set has every method at about equal seeds
        for m, (lib, alg) in enumerate(methods):
            units.append({"search_id": search_key(study.name, profile.name, lib, alg, seed,
                                                  n_trials),
                          "study": study.name, "library": lib, "algorithm": alg, "seed": seed,
                          "profile": profile.name, "space": space.name, "trials": n_trials,
                          "table_study": table_study.name, "table": rows,
                          "live": bool(study.hpo.get("live")),
                          "train_seed": fresh + (seed * len(methods) + m) * n_trials})
    runner.run_units(ReplayUnits(), units, stop)


class ReplayUnits:
    """Replayed searches as units: a task dict each, stored in ``records/searches``; one of
    an older ``REPLAY_VERSION`` is not stored (it is replayed again)."""

    table = "searches"

    def key(self, unit: dict[str, Any]) -> str:
        return unit["search_id"]

    def study(self, unit: dict[str, Any]) -> str:
        return unit["study"]

    def lock(self, key: str) -> str:
        return f"search-{key}"

    def stored(self, store: ResultStore) -> set[str]:
        return _current(store)

    def is_stored(self, store: ResultStore, key: str) -> bool:
        return key in _current(store, key)

    def work(self) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
        return tabular_search

    def payload(self, unit: dict[str, Any]) -> dict[str, Any]:
        return unit

    def died(self, payload: dict[str, Any], cause: str) -> dict[str, Any]:
        """The failed record of a replay whose worker died (replayed again next time)."""
        search = {key: payload[key] for key in ("search_id", "study", "library", "algorithm",
                                                "seed", "profile", "space")}
        return {"search": {**search, "method": f"{payload['library']}:{payload['algorithm']}",
                           "status": "failed", "error": f"WorkerDied: {cause}", "n_trials": 0},
                "trials": []}

    def keep(self, record: dict[str, Any], runner: UnitRunner) -> str:
        search = record["search"]
        if not search["error"] or not search["error"].startswith("WorkerDied"):
            runner.store.write_record("searches", search["search_id"], record)
        runner.count(f"search {search['status']}", {
            "status": "failed", "study": search["study"], "run_id": search["search_id"],
            "error": search["error"]} if search["status"] == "failed" else None)
        return search["search_id"]


def _current(store: Any, only: str | None = None) -> set[str]:
    """Ids of the stored searches (``only``: that one) finished under ``REPLAY_VERSION``."""
    folder = store.root / "records" / "searches"
    paths = [folder / f"{only}.json"] if only else sorted(folder.glob("*.json"))
    out = set()
    for path in paths:
        try:
            search = json.loads(path.read_text())["search"]
        except (OSError, ValueError, KeyError):
            continue
        if search.get("status") in FINAL_STATUSES \
                and search.get("replay_version") == REPLAY_VERSION:
            out.add(search["search_id"])
    return out
