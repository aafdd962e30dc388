"""Executors: where run specifications are trained (this process, a process pool, Ray).

Every executor yields finished records; the runner stores them. Workers are pinned to their
own cores with intra-op threads split accordingly (set before TensorFlow is imported).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import signal
from collections.abc import Iterable, Iterator
from typing import Any

from bench.errors import BenchError

THREAD_VARS = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "MKL_NUM_THREADS",
               "OPENBLAS_NUM_THREADS")


def pin_worker(cores: list[int]) -> None:
    """Pin this process to ``cores`` and size thread pools to match (before TF is imported)."""
    n = str(len(cores))
    for var in THREAD_VARS:
        os.environ[var] = n
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(cores))


def available_cores() -> list[int]:
    """The CPU cores this process may use."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(
        range(os.cpu_count() or 1))


def core_groups(workers: int) -> list[list[int]]:
    """Split the cores this process may use into ``workers`` groups."""
    cores = available_cores()
    workers = max(1, min(workers, len(cores)))
    return [cores[i::workers] for i in range(workers)]


def default_workers() -> int:
    """One pinned worker per core on a CPU (measured fastest for small models); on GPUs
    the runs that fit in each GPU's memory (``devices.workers_per_gpu``), at most one per
    core. GPUs are those the Keras backend sees (``devices.detect``)."""
    from bench import devices

    cores = len(available_cores())
    gpus = devices.detect()
    if gpus:
        return max(1, min(cores, sum(devices.workers_per_gpu(g) for g in gpus)))
    return max(1, cores)


def worker_plan(workers: int) -> list[tuple[list[int], dict[str, str]]]:
    """Each pool worker's cores and extra environment: GPU sharing settings (memory
    growth, no JAX pre-allocation) and, with GPUs, the one it trains on."""
    from bench import devices

    groups = core_groups(workers)  # fewer than workers on fewer cores: they share
    plan = []
    for i, gpu in enumerate(devices.gpu_assignments(workers, devices.detect())):
        cores = groups[i % len(groups)]
        env = dict(devices.GPU_SHARING_ENV)
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        plan.append((cores, env))
    return plan


def _worker_init(queue: Any, env: dict[str, str]) -> None:
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it drains workers
    exit_with_parent()
    cores, own_env = queue.get()
    os.environ.update(own_env)
    pin_worker(cores)


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """End this worker when the process that started it dies (``kill -9`` of ``bench``
    would otherwise leave idle workers holding ~750 MB each)."""
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _wait_futures(inflight: list[Any]) -> tuple[list[Any], list[Any]]:
    done, rest = cf.wait(inflight, return_when=cf.FIRST_COMPLETED)
    return [f.result() for f in done], list(rest)


def train_unit(spec_dict: dict[str, Any], options_dict: dict[str, Any]) -> dict[str, Any]:
    """The unit of work of a training run: its record (in whichever process runs it)."""
    from bench import engine
    from bench.options import EngineOptions
    from bench.spec import RunSpec

    return engine.run(RunSpec.from_dict(spec_dict), EngineOptions(**options_dict))


def died_record(spec: Any, cause: str) -> dict[str, Any]:
    """The failed record of a run whose worker died (built here: the parent never imports
    the framework)."""
    arch = spec.architecture()
    row = {"run_id": spec.config_hash(), "config_hash": spec.config_hash(),
           "study": spec.study, "dataset": spec.dataset, "arch": arch,
           "model_kind": arch.get("kind"), "seed": spec.seed, "epochs": spec.epochs,
           "batch_size": spec.batch_size, "optimizer": spec.optimizer_name,
           "fraction": spec.fraction, "validation": spec.validation,
           "factors": dict(spec.factors), "status": "failed", "error": f"WorkerDied: {cause}"}
    return {"run": row, "epochs": [], "classes": [], "confusion": [], "predictions": []}


def _no_result(item: Any, cause: str) -> Any:
    raise BenchError(f"{cause}: {getattr(item, 'search_id', item)}")


class LocalExecutor:
    """Runs specs in this process (``workers=1``) or in a pool of pinned processes."""

    name = "local"

    def __init__(self, workers: int = 1, options: Any = None) -> None:
        if workers < 1:
            raise BenchError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self.options = options
        self._pool: cf.ProcessPoolExecutor | None = None

    def _options_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self.options) if self.options is not None else {}

    def map_tasks(self, fn: Any, items: Iterable[Any],
                  failed: Any = None) -> Iterator[dict[str, Any]]:
        """Results of ``fn(item, options)`` as they finish, each call one unit of work (a
        run, a search); ``fn`` must be importable by name, ``item`` picklable. ``failed(item,
        cause)`` is the result of an item whose worker died (else that ends the command)."""
        if self.workers == 1:
            for item in items:
                yield fn(item, self._options_dict())
            return
        yield from self._pool_map(
            items, lambda i: self._ensure_pool().submit(fn, i, self._options_dict()),
            failed or _no_result)

    def _pool_map(self, items: Iterable[Any], submit: Any, failed: Any) -> Iterator[Any]:
        from bench.pool import resilient_map

        yield from resilient_map(items, submit, self._restart, self.workers, failed)

    def _restart(self) -> str:
        """Replace a pool whose worker died; returns why it died."""
        from bench.pool import died

        cause = died(self._pool)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        return cause

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("spawn")
            queue = ctx.Queue()
            for cores, own_env in worker_plan(self.workers):
                queue.put((cores, own_env))
            env = {k: v for k, v in os.environ.items()
                   if k.startswith(("BENCH_", "KERAS_", "TF_", "XLA_", "JAX_"))}
            self._pool = cf.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx,
                initializer=_worker_init, initargs=(queue, env))
        return self._pool

    def close(self, now: bool = False) -> None:
        """Wait for the runs in flight, or with ``now`` end the workers at once."""
        if self._pool is not None:
            if now:
                for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                    with contextlib.suppress(Exception):
                        proc.terminate()
            self._pool.shutdown(wait=not now, cancel_futures=True)
            self._pool = None


def check_workers(workers: int, executor: str) -> int:
    """``--workers`` between 0 (auto) and the cores this process may use (each worker is a
    training process of its own, ~750 MB); ``--executor`` a known one."""
    if executor not in ("local", "ray"):
        raise BenchError(f"unknown executor {executor!r}; valid: local, ray")
    cores = len(available_cores())
    if executor == "local" and not 0 <= workers <= cores:
        raise BenchError(f"--workers must be between 0 (one per core) and {cores}, the cores "
                         f"this process may use; got {workers}")
    if workers < 0:
        raise BenchError(f"--workers must be >= 0, got {workers}")
    return workers


def make_executor(name: str, workers: int, options: Any, **kwargs: Any) -> Any:
    if name == "local":
        return LocalExecutor(workers, options)
    if name == "ray":
        from bench.ray_executor import RayExecutor

        return RayExecutor(workers=workers, options=options, **kwargs)
    raise BenchError(f"unknown executor {name!r}; valid: local, ray")
