"""Ray executor: the same run specifications as Ray tasks on a local or remote cluster.

Each task trains one spec and returns its record; the driver stores it, so results land in
the same store with the same guarantees as the local executor.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from typing import Any

from bench.errors import BenchError


def _call_remote(fn: Any, item: Any, options_dict: dict[str, Any],
                 env: dict[str, str]) -> dict[str, Any]:
    os.environ.update(env)
    from bench.env import GPU_SHARING_ENV

    for key, value in GPU_SHARING_ENV.items():  # several runs per GPU
        os.environ.setdefault(key, value)
    return fn(item, options_dict)


class RayExecutor:
    """Submits every unit of work as a Ray task (``num_cpus=1``, ``num_gpus=gpus_per_run``)."""

    name = "ray"

    def __init__(self, workers: int = 1, options: Any = None, address: str | None = None,
                 gpus_per_run: float = 0.0) -> None:
        try:
            import ray
        except ImportError as exc:
            raise BenchError("--executor ray needs Ray: pip install 'dlhp-bench[ray]'") from exc
        if gpus_per_run < 0:
            raise BenchError(f"--gpus-per-run must be >= 0, got {gpus_per_run}")
        self.options = options
        self._ray = ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                      "configure_logging": False}
            if address:
                ray.init(address=address, **kwargs)
            else:
                ray.init(num_cpus=max(1, workers), **kwargs)
        self._call = ray.remote(num_cpus=1, num_gpus=gpus_per_run, max_retries=0)(
            _call_remote)

    def map_tasks(self, fn: Any, items: Iterable[Any],
                  failed: Any = None) -> Iterator[dict[str, Any]]:
        """``fn(item, options)`` as one Ray task per item (a run, or an HPO search with all
        its trials); ``failed`` is the local pool's (Ray reports a dead worker itself)."""
        options, env = self._options_env()
        yield from self._windowed(items, lambda i: self._call.remote(fn, i, options, env))

    def _options_env(self) -> tuple[dict[str, Any], dict[str, str]]:
        options = asdict(self.options) if self.options is not None else {}
        env = {k: v for k, v in os.environ.items()
               if k.startswith(("BENCH_", "KERAS_", "TF_", "XLA_", "JAX_"))}
        return options, env

    def _windowed(self, items: Iterable[Any], submit: Any) -> Iterator[dict[str, Any]]:
        from bench.pool import windowed

        window = max(1, int(self._ray.cluster_resources().get("CPU", 1)))

        def wait(refs: list[Any]) -> tuple[list[Any], list[Any]]:
            done, rest = self._ray.wait(refs, num_returns=1)
            return [self._ray.get(done[0])], rest

        yield from windowed(items, submit, window, wait, cancel=self._ray.cancel)

    def close(self, now: bool = False) -> None:
        self._ray.shutdown()
