"""A process pool that survives a dying worker.

A worker that dies (``os._exit`` in a builder, the kernel's out-of-memory kill, a segfault)
breaks a ``ProcessPoolExecutor``: every task in flight fails with ``BrokenProcessPool`` and
no one knows which task killed it. Here the pool is restarted and the tasks that were in
flight are run again one at a time; the one that kills its worker alone is the culprit and
gets a failed record (``failed(item, cause)``), the others their real results.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

_END = object()


def died(pool: cf.ProcessPoolExecutor | None) -> str:
    """Why a pool's worker died, in words (its exit code when the pool still knows it)."""
    codes = []
    with contextlib.suppress(Exception):
        codes = [p.exitcode for p in (pool._processes or {}).values()  # type: ignore[union-attr]
                 if p.exitcode not in (None, 0)]
    if not codes:
        return "the worker process died while running it (killed, out of memory or os._exit)"
    signal = ", killed by a signal: out of memory?" if codes[0] < 0 else ""
    return f"the worker process died while running it (exit code {codes[0]}{signal})"


def resilient_map(items: Iterable[Any], submit: Callable[[Any], cf.Future],
                  restart: Callable[[], str], window: int,
                  failed: Callable[[Any, str], Any]) -> Iterator[Any]:
    """Results of ``submit(item)`` as they finish, at most ``window`` in flight; after a
    worker dies, ``restart()`` (returns the cause) and isolate the suspects."""
    yield from _Window(iter(items), submit, restart, window, failed).results()


class _Window:
    """The tasks in flight, the suspects to rerun alone, the items a broken pool refused."""

    def __init__(self, source: Iterator[Any], submit: Callable[[Any], cf.Future],
                 restart: Callable[[], str], window: int,
                 failed: Callable[[Any, str], Any]) -> None:
        self.source, self.submit, self.restart = source, submit, restart
        self.window, self.failed = window, failed
        self.inflight: dict[cf.Future, Any] = {}
        self.suspects: list[Any] = []
        self.requeue: list[Any] = []  # refused by a broken pool before they ran
        self.alone = False  # the one task in flight is a suspect running alone

    def results(self) -> Iterator[Any]:
        try:
            while True:
                self._fill()
                if not self.inflight:
                    return
                yield from self._collect()
        finally:
            for future in self.inflight:
                future.cancel()

    def _fill(self) -> None:
        if self.suspects or self.alone:
            if not self.inflight and self.suspects:
                self._put(self.suspects.pop(0))
                self.alone = True
            return
        while len(self.inflight) < self.window:
            item = self.requeue.pop(0) if self.requeue else next(self.source, _END)
            if item is _END:
                return
            self._put(item)

    def _put(self, item: Any) -> None:
        try:
            self.inflight[self.submit(item)] = item
        except BrokenProcessPool:
            if self.inflight:  # the death shows in a future; ``_collect`` restarts
                self.requeue.append(item)
                return
            self.restart()  # a worker died while idle
            self.inflight[self.submit(item)] = item

    def _collect(self) -> Iterator[Any]:
        done, _ = cf.wait(self.inflight, return_when=cf.FIRST_COMPLETED)
        broken = False
        for future in done:
            item = self.inflight.pop(future)
            try:
                result = future.result()
            except BrokenProcessPool:
                self.inflight[future] = item  # lost with the others
                broken = True
                continue
            yield result
        if broken:
            lost, was_alone = list(self.inflight.values()), self.alone
            self.inflight.clear()
            cause = self.restart()
            if was_alone and len(lost) == 1:
                yield self.failed(lost[0], cause)
            else:
                self.suspects += lost
        self.alone = bool(self.inflight) and self.alone


def windowed(specs: Iterable[Any], submit: Any, window: int, wait: Any,
             cancel: Any = lambda handle: handle.cancel()) -> Iterator[Any]:
    """Keep at most ``window`` specs in flight; yield results as they finish.

    Specs are pulled lazily, so a producer that stops (Ctrl-C) stops new submissions while
    the runs in flight finish and are still yielded (and stored).
    """
    source = iter(specs)
    inflight: list[Any] = []
    try:
        while True:
            while len(inflight) < window:
                spec = next(source, None)
                if spec is None:
                    break
                inflight.append(submit(spec))
            if not inflight:
                return
            done, inflight = wait(inflight)
            yield from done
    finally:
        for handle in inflight:
            with contextlib.suppress(Exception):
                cancel(handle)


def until_stopped(items: Iterable[Any], stop: Any) -> Iterator[Any]:
    for item in items:
        if stop():
            return
        yield item
