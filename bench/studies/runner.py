"""Run a study: expand it under a profile, skip what is stored, train the rest, store records.

Greedy chains (``inherits``) and growing searches (``stages``) pick their winners from the
records already stored, so a chain is resumable like any other sweep.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.spec import RunSpec
from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.catalog import REGISTRY
from bench.studies.registry import Profile, Study

#: who trained a run: stored in its row so "exactly once" can be checked across processes
TRAINED_BY = {"host": socket.gethostname(), "pid": os.getpid()}


class Reporter(Protocol):
    def start(self, study: str, total: int, skipped: int) -> None: ...
    def advance(self, record: dict[str, Any]) -> None: ...
    def finish(self, study: str) -> None: ...


class SilentReporter:
    def start(self, study: str, total: int, skipped: int) -> None:
        pass

    def advance(self, record: dict[str, Any]) -> None:
        pass

    def finish(self, study: str) -> None:
        pass


@dataclass
class Outcome:
    """What a command did: counts by status, and the failed runs."""

    ran: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    skipped: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False
    hardware: dict[tuple, int] = field(default_factory=lambda: defaultdict(int))

    def note_hardware(self, run: dict[str, Any]) -> None:
        """Count the device and precision that trained ``run`` (for the manifest)."""
        if "device" in run:
            self.hardware[(run["device"], run.get("precision"), run.get("tf32"),
                           run.get("epoch_loop"))] += 1

    def hardware_used(self) -> list[dict[str, Any]]:
        return [{"device": d, "precision": p, "tf32": t, "epoch_loop": loop, "runs": n}
                for (d, p, t, loop), n in sorted(self.hardware.items(), key=str)]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


class StopFlag:
    """First Ctrl-C: finish the current run and stop; second Ctrl-C: stop now.

    ``callbacks`` are called on the first Ctrl-C (HPO searches running in worker processes
    are told to end after their current trial)."""

    def __init__(self) -> None:
        self.stop = False
        self.closing = False  # while the session's end is recorded, a Ctrl-C only sets ``stop``
        self.callbacks: list[Callable[[], None]] = []
        self._previous: Any = None

    def __enter__(self) -> StopFlag:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread
            self._previous = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop and not self.closing:
            raise KeyboardInterrupt
        if self.stop:
            return
        self.stop = True
        for callback in self.callbacks:
            callback()

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


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


class StudyRunner:
    """Runs studies into one store with one executor."""

    def __init__(self, store: ResultStore, executor: Any, profile: Profile,
                 seeds: int | None = None, force: bool = False,
                 reporter: Reporter | None = None) -> None:
        self.store = store
        self.executor = executor
        self.profile = profile
        self.seeds_overridden = seeds is not None  # --seeds also sets HPO seeds
        self.seeds = list(range(seeds if seeds is not None else profile.seeds))
        self.force = force
        self.reporter = reporter or SilentReporter()
        self.outcome = Outcome()
        self._done_now: set[str] = set()
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
        if study.stages:
            self._run_staged(study, stop)
        elif study.name in {u for s in REGISTRY for u in s.inherits}:
            self._settle(study.name, self.plan(study), stop)  # others build on its winner
        else:
            self._execute(study.name, self.plan(study), stop)
        self.reporter.finish(study.name)

    def _settle(self, study: str, specs: list[RunSpec], stop: StopFlag,
                total: int | None = None) -> None:
        """Run ``specs``, then wait for those another process claimed until their records
        are stored: a winner chosen from part of them would differ between the processes
        (a claim whose process died is free again, and run here)."""
        import sys
        import time

        self._execute(study, specs, stop, total)
        said = False
        while not stop.stop:
            left = [s for s in specs if self.store.status("runs", s.config_hash()) is None]
            free = [s for s in left if s.config_hash() not in self._done_now
                    and self._unclaimed(s.config_hash())]
            if free:
                self._execute(study, free, stop, total)
                continue
            if not left or all(s.config_hash() in self._done_now for s in left):
                return
            if not said:
                print(f"{study}: waiting for {len(left)} run(s) another process is training "
                      "before choosing a winner", file=sys.stderr)
                said = True
            time.sleep(self.poll_seconds)

    def _unclaimed(self, run_id: str) -> bool:
        lock = self.store.try_claim(run_id)
        if lock is None:
            return False
        lock.release()
        return True

    def _run_staged(self, study: Study, stop: StopFlag) -> None:
        hidden: list[int] = []
        all_specs: list[RunSpec] = []
        for stage in study.stages:
            specs = [
                study.spec(self.profile, seed, _grown(hidden, u), {stage.name: str(u)})
                for u in stage.levels for seed in self.seeds_for(study)
            ]
            all_specs += specs
            self._settle(study.name, specs, stop, total=len(all_specs))
            if stop.stop:
                return
            best = winner(self.store, study, self.profile, stage=stage.name,
                          key=lambda r: tuple(r["run"]["arch"]["hidden"]))
            if best is None:
                return
            hidden = list(best)

    def _execute(self, study: str, specs: list[RunSpec], stop: StopFlag,
                 total: int | None = None) -> None:
        done = set() if self.force else self.store.completed()
        todo = [s for s in specs if s.config_hash() not in done
                and s.config_hash() not in self._done_now]
        skipped = len(specs) - len(todo)
        self.outcome.skipped += skipped
        total = total or len(specs)
        self.reporter.start(study, total, skipped + total - len(specs))
        if not todo or stop.stop:
            self.outcome.interrupted |= stop.stop and bool(todo)
            return
        held: dict[str, Any] = {}
        try:
            lean = REGISTRY.get(study).kind == "table" if study in REGISTRY.names() else False
            for record in self.executor.map(self._claimed(todo, stop, held)):
                if lean:  # a table of 1,000s of runs keeps its rows and curves only
                    record = {**record, "classes": [], "confusion": [], "predictions": []}
                run = record["run"]
                run["trained_by"] = TRAINED_BY
                self.store.write_record("runs", run["run_id"], record)
                lock = held.pop(run["run_id"], None)
                if lock is not None:
                    lock.release()  # only now may another process look at this run
                self._done_now.add(run["run_id"])
                self.outcome.ran[run["status"]] += 1
                self.outcome.note_hardware(run)
                if run["status"] not in FINAL_STATUSES:
                    self.outcome.failed.append(run)
                self.reporter.advance(record)
        finally:
            for lock in held.values():
                lock.release()
        if stop.stop:
            self.outcome.interrupted = True

    def _claimed(self, specs: list[RunSpec], stop: StopFlag, held: dict[str, Any]):
        """Yield specs this process claims (the claim lasts until its record is written),
        skipping runs another process holds or has finished; stops early on Ctrl-C."""
        for spec in specs:
            if stop.stop:
                return
            run_id = spec.config_hash()
            lock = self.store.try_claim(run_id)
            if lock is None:
                continue
            if not self.force and self.store.status("runs", run_id) in FINAL_STATUSES:
                lock.release()  # another process finished it meanwhile
                continue
            held[run_id] = lock
            yield spec
