"""One runner for every unit of work: a training run, a live HPO search, a replayed search.

The loop is written once (``UnitRunner.run_units``): skip what is stored -> claim -> map on
the executor -> store -> release -> count -> report. A kind of unit declares only what
differs (``UnitKind``): its record's id and lock, what counts as stored, the function a
worker runs, the record of a unit whose worker died, and how a record is kept. A new kind
of work (a stacked-training unit, a surrogate replay) is one more ``UnitKind``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from filelock import FileLock

from bench.store import ResultStore
from bench.studies.registry import Profile

#: who trained a run: stored in its row so "exactly once" can be checked across processes
TRAINED_BY = {"host": socket.gethostname(), "pid": os.getpid()}


class Executor(Protocol):
    """Where units run: this process, a pool of pinned processes, or Ray."""

    def map_tasks(self, fn: Callable[[Any, dict[str, Any]], dict[str, Any]],
                  items: Iterable[Any],
                  failed: Callable[[Any, str], dict[str, Any]] | None = None
                  ) -> Iterator[dict[str, Any]]: ...

    def close(self, now: bool = False) -> None: ...


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
    """First Ctrl-C: finish the current units and stop; second Ctrl-C: stop now.

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


def ignoring_ctrl_c() -> StopFlag:
    """A flag that ignores Ctrl-C while it is held (a finished session printing its
    summary: the work is stored and recorded, nothing is left to stop)."""
    flag = StopFlag()
    flag.stop = flag.closing = True
    return flag


class UnitKind(Protocol):
    """What one kind of unit declares; ``UnitRunner.run_units`` does the rest."""

    table: str  # the records' folder: "runs" or "searches"

    def key(self, unit: Any) -> str: ...  # the record's id
    def study(self, unit: Any) -> str: ...  # the study it belongs to (for progress)
    def lock(self, key: str) -> str: ...  # the claim's name
    def stored(self, store: ResultStore) -> set[str]: ...  # ids finished (skipped)
    def is_stored(self, store: ResultStore, key: str) -> bool: ...  # after a claim
    def work(self) -> Callable[[Any, dict[str, Any]], dict[str, Any]]: ...  # importable
    def payload(self, unit: Any) -> Any: ...  # what the worker gets (picklable)
    def died(self, payload: Any, cause: str) -> dict[str, Any]: ...  # its worker died
    def keep(self, record: dict[str, Any], runner: UnitRunner) -> str | None: ...
    # ^ stores ``record`` (counting it in the outcome); returns its id


def say(text: str) -> None:
    """A line for the person at the terminal (stderr: stdout stays for data)."""
    print(text, file=sys.stderr)


class UnitRunner:
    """Runs units of any kind into one store with one executor."""

    def __init__(self, store: ResultStore, executor: Executor, profile: Profile,
                 seeds: int | None = None, force: bool = False,
                 reporter: Reporter | None = None) -> None:
        self.store = store
        self.executor = executor
        self.profile = profile
        self.seeds_overridden = seeds is not None  # --seeds also sets HPO seeds
        self.seeds = list(range(seeds if seeds is not None else profile.seeds))
        self.force = force
        self.reporter: Reporter = reporter or SilentReporter()
        self.say: Callable[[str], None] = say
        self.outcome = Outcome()
        self.done_now: set[str] = set()

    def run_units(self, kind: UnitKind, units: list[Any], stop: StopFlag,
                  total: int | None = None) -> None:
        """Run the ``units`` not yet stored, each claimed until its record is written (two
        processes never run one unit); ``total`` is the study's size when ``units`` are
        part of it (one stage of a growing search)."""
        done = set() if self.force else kind.stored(self.store)
        todo = [u for u in units if kind.key(u) not in done and kind.key(u) not in self.done_now]
        self.outcome.skipped += len(units) - len(todo)
        self._start(kind, units, todo, total)
        if not todo or stop.stop:
            self.outcome.interrupted |= stop.stop and bool(todo)
            return
        held: dict[str, FileLock] = {}
        try:
            for record in self.executor.map_tasks(kind.work(), self._claimed(kind, todo, stop,
                                                                              held),
                                                  failed=kind.died):
                key = kind.keep(record, self)
                lock = held.pop(key, None) if key else None
                if lock is not None:
                    lock.release()  # only now may another process look at this unit
                if key:
                    self.done_now.add(key)
                self.reporter.advance(record)
        finally:
            for lock in held.values():
                lock.release()
        if stop.stop:
            self.outcome.interrupted = True

    def _start(self, kind: UnitKind, units: list[Any], todo: list[Any],
               total: int | None) -> None:
        """Each study's progress: its size and what is already stored."""
        sizes: dict[str, list[int]] = {}
        for unit in units:
            sizes.setdefault(kind.study(unit), [0, 0])[0] += 1
        for unit in todo:
            sizes[kind.study(unit)][1] += 1
        for study, (size, left) in sizes.items():
            whole = total or size
            self.reporter.start(study, whole, whole - left)

    def _claimed(self, kind: UnitKind, units: list[Any], stop: StopFlag,
                 held: dict[str, FileLock]) -> Iterator[Any]:
        """Payloads of the units this process claims (the claim lasts until the record is
        written), skipping those another process holds or has finished; stops on Ctrl-C."""
        for unit in units:
            if stop.stop:
                return
            key = kind.key(unit)
            lock = self.store.try_claim(kind.lock(key))
            if lock is None:
                continue
            if not self.force and kind.is_stored(self.store, key):
                lock.release()  # another process finished it meanwhile
                continue
            held[key] = lock
            yield kind.payload(unit)

    def unclaimed(self, kind: UnitKind, key: str) -> bool:
        """True when no process holds ``key``'s claim now."""
        lock = self.store.try_claim(kind.lock(key))
        if lock is None:
            return False
        lock.release()
        return True

    def count(self, status: str, failed: dict[str, Any] | None = None) -> None:
        """One finished unit in the outcome (``failed``: its row for the summary)."""
        self.outcome.ran[status] += 1
        if failed is not None:
            self.outcome.failed.append(failed)
