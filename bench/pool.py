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
    source = iter(items)
    suspects: list[Any] = []
    inflight: dict[cf.Future, Any] = {}
    alone = False  # the one task in flight is a suspect running alone
    try:
        while True:
            if suspects or alone:
                if not inflight and suspects:
                    item = suspects.pop(0)
                    inflight[submit(item)] = item
                    alone = True
            else:
                while len(inflight) < window and (item := next(source, _END)) is not _END:
                    inflight[submit(item)] = item
            if not inflight:
                return
            done, _ = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                item = inflight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    inflight[future] = item  # lost with the others
                    broken = True
                    continue
                yield result
            if broken:
                lost, was_alone = list(inflight.values()), alone
                inflight.clear()
                cause = restart()
                if was_alone and len(lost) == 1:
                    yield failed(lost[0], cause)
                else:
                    suspects += lost
            alone = bool(inflight) and alone
    finally:
        for future in inflight:
            future.cancel()
