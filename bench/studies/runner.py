"""Run a study: expand it under a profile, skip what is stored, train the rest, store records.

Greedy chains (``inherits``) and growing searches (``stages``) pick their winners from the
records already stored, so a chain is resumable like any other sweep.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench.executor import died_record, train_unit
from bench.spec import RunSpec
from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.catalog import REGISTRY
from bench.studies.registry import Profile, Study
from bench.units import (  # noqa: F401 (the runner's names, re-exported)
    TRAINED_BY,
    Outcome,
    Reporter,
    SilentReporter,
    StopFlag,
    UnitRunner,
)


class TrainUnits:
    """Training runs as units: a ``RunSpec`` each, stored in ``records/runs``."""

    table = "runs"

    def __init__(self, lean: bool = False) -> None:
        self.lean = lean  # a table of 1,000s of runs keeps its rows and curves only

    def key(self, unit: RunSpec) -> str:
        return unit.config_hash()

    def study(self, unit: RunSpec) -> str:
        return unit.study

    def lock(self, key: str) -> str:
        return key

    def stored(self, store: ResultStore) -> set[str]:
        return store.completed()

    def is_stored(self, store: ResultStore, key: str) -> bool:
        return store.status("runs", key) in FINAL_STATUSES

    def work(self) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
        return train_unit

    def payload(self, unit: RunSpec) -> dict[str, Any]:
        return unit.to_dict()

    def died(self, payload: dict[str, Any], cause: str) -> dict[str, Any]:
        return died_record(RunSpec.from_dict(payload), cause)

    def keep(self, record: dict[str, Any], runner: UnitRunner) -> str:
        if self.lean:
            record = {**record, "classes": [], "confusion": [], "predictions": []}
        run = record["run"]
        run["trained_by"] = TRAINED_BY
        runner.store.write_record("runs", run["run_id"], record)
        runner.outcome.note_hardware(run)
        runner.count(run["status"], None if run["status"] in FINAL_STATUSES else run)
        return run["run_id"]


def score(record: dict[str, Any], epoch: int | None) -> float | None:
    """The metric a winner is chosen by: validation accuracy after ``epoch`` epochs (the last
    epoch when None). The test set is never used here unless the run selects on it."""
    run = record["run"]
    if run.get("status") != "ok":
        return None
    epoch = epoch or run.get("epochs_completed") or run.get("epochs")
    for row in record.get("epochs", []):
        if row["epoch"] == epoch and row["split"] == "val" and row["metric"] == "accuracy":
            return row["value"]
    return run.get("final_val_accuracy") if epoch == run.get("epochs") else None


def study_records(store: ResultStore, study: str, profile: str) -> list[dict[str, Any]]:
    return [r for r in store.records("runs")
            if r["run"]["study"] == study and r["run"].get("factors", {}).get("profile") == profile]


def winner(store: ResultStore, study: Study, profile: Profile,
           key: Callable[[dict[str, Any]], Any] | None = None, stage: str | None = None) -> Any:
    """The best level (highest mean validation score over seeds) of ``study`` in ``store``
    (of its ``stage`` only, for a growing search), or None.

    Only the profile's own seeds (the pilot) choose a winner: seeds added later
    (``--seeds`` above the profile's, ``--max-seeds``) sharpen verdicts but never change
    what a downstream study or stage builds on, so its runs never mix two bases."""
    key = key or (lambda r: r["run"]["factors"].get("level"))
    pilot = study.seeds(profile)
    groups: dict[Any, list[float]] = defaultdict(list)
    for rec in study_records(store, study.name, profile.name):
        if stage is not None and rec["run"]["factors"].get("factor") != stage:
            continue
        if rec["run"].get("seed", 0) >= pilot:
            continue
        value = score(rec, study.scored_epoch(profile))
        if value is not None:
            groups[key(rec)].append(value)
    if not groups:
        return None
    return max(groups, key=lambda k: statistics.fmean(groups[k]))


def inherited_base(store: ResultStore, study: Study, profile: Profile) -> tuple[dict, dict]:
    """RunSpec changes from upstream winners; and label -> where it came from."""
    base: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for upstream_name, paper_winner in study.inherits.items():
        upstream = REGISTRY.get(upstream_name)
        label = winner(store, upstream, profile) if study.inherit_from == "measured" else None
        origin[upstream_name] = f"{label} (measured)" if label else f"{paper_winner} (paper)"
        label = label or paper_winner
        for cell_labels, changes in upstream.grid():
            if str(next(iter(cell_labels.values()))) == str(label):
                base.update(changes)
    return base, origin


def _grown(hidden: list[int], units: int) -> dict[str, Any]:
    layers = [*hidden, units]
    return {"arch": {"kind": "mlp", "hidden": layers},
            "model": "mlp_" + "_".join(map(str, layers))}


class StudyRunner(UnitRunner):
    """Runs training studies (plain, chained, growing) as units of ``TrainUnits``."""

    def __init__(self, store: ResultStore, executor: Any, profile: Profile,
                 seeds: int | None = None, force: bool = False,
                 reporter: Reporter | None = None) -> None:
        super().__init__(store, executor, profile, seeds, force, reporter)
        self.topped_up: dict[str, int] = {}  # study -> seeds fixed by a top-up plan
        self.poll_seconds = 1.0  # waiting for another process's claimed runs

    def seeds_for(self, study: Study) -> list[int]:
        """A top-up's seeds, else ``--seeds`` when given, else the profile's seeds after the
        study's caps."""
        if study.name in self.topped_up:
            return list(range(self.topped_up[study.name]))
        return self.seeds if self.seeds_overridden else list(range(study.seeds(self.profile)))

    def plan(self, study: Study) -> list[RunSpec]:
        """The specs of a non-staged study (stages are planned one at a time)."""
        base, _ = inherited_base(self.store, study, self.profile)
        specs = study.expand(self.profile, self.seeds_for(study), base)
        if study.kind == "table":  # its top region gets more seeds (bench.hpo.table_top)
            from bench.hpo.table_top import table_specs

            specs = table_specs(self.store, study, self.profile, self.seeds_for(study), specs)
        return specs

    def run(self, study: Study, stop: StopFlag) -> None:
        kind = TrainUnits(lean=study.kind == "table")
        if study.stages:
            self._run_staged(study, kind, stop)
        elif study.name in {u for s in REGISTRY for u in s.inherits}:
            self._settle(study.name, kind, self.plan(study), stop)  # others build on its winner
        else:
            self.run_units(kind, self.plan(study), stop)
        self.reporter.finish(study.name)

    def _settle(self, study: str, kind: TrainUnits, specs: list[RunSpec], stop: StopFlag,
                total: int | None = None) -> None:
        """Run ``specs``, then wait for those another process claimed until their records
        are stored: a winner chosen from part of them would differ between the processes
        (a claim whose process died is free again, and run here)."""
        self.run_units(kind, specs, stop, total)
        said = False
        while not stop.stop:
            left = [s for s in specs if self.store.status("runs", s.config_hash()) is None]
            free = [s for s in left if s.config_hash() not in self.done_now
                    and self.unclaimed(kind, s.config_hash())]
            if free:
                self.run_units(kind, free, stop, total)
                continue
            if not left or all(s.config_hash() in self.done_now for s in left):
                return
            if not said:
                self.say(f"{study}: waiting for {len(left)} run(s) another process is training "
                         "before choosing a winner")
                said = True
            time.sleep(self.poll_seconds)

    def _run_staged(self, study: Study, kind: TrainUnits, stop: StopFlag) -> None:
        hidden: list[int] = []
        all_specs: list[RunSpec] = []
        for stage in study.stages:
            specs = [
                study.spec(self.profile, seed, _grown(hidden, u), {stage.name: str(u)})
                for u in stage.levels for seed in self.seeds_for(study)
            ]
            all_specs += specs
            self._settle(study.name, kind, specs, stop, total=len(all_specs))
            if stop.stop:
                return
            best = winner(self.store, study, self.profile, stage=stage.name,
                          key=lambda r: tuple(r["run"]["arch"]["hidden"]))
            if best is None:
                return
            hidden = list(best)
