"""Engine options: how to run, not what (they never change what is measured, only speed).

Kept free of top-level Keras imports so the CLI can plan work before loading a framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

JIT_MIN_STEPS = 3000  # optimizer steps below which XLA compilation costs more than it saves


@dataclass(frozen=True)
class EngineOptions:
    """Compilation and evaluation settings of the engine."""

    jit_compile: str = "auto"  # auto | on | off
    steps_per_execution: int = 0  # 0 = auto
    eval_batch_size: int = 1024
    data_dir: str | None = None
    deterministic: bool = False  # TensorFlow op determinism (and no XLA)

    def jit_for(self, kind: str, total_steps: int | None = None) -> bool:
        """XLA or not. On CPU it pays for MLPs only when a run is long enough to amortise
        its ~2 s compilation (measured: slower below ~3000 steps), and it makes
        convolutions ~3x slower; on a GPU or with JAX it is always on."""
        if self.jit_compile != "auto":
            return self.jit_compile == "on"
        if self.deterministic:
            return False  # op determinism turns XLA off in Keras anyway; say so
        import keras

        if keras.backend.backend() == "jax" or gpu_available():
            return True
        long_enough = total_steps is None or total_steps >= JIT_MIN_STEPS
        return kind == "mlp" and long_enough

    def steps_for(self, n_train: int, batch: int) -> int:
        """Batches per compiled call: 64 (measured best on a 2-core CPU), at most an epoch."""
        if self.steps_per_execution:
            return self.steps_per_execution
        steps = max(1, math.ceil(n_train / batch))
        return max(1, min(64, steps))

    def precision_for(self, requested: str, kind: str) -> str:
        """``auto``: bfloat16 mixed precision for CNNs on CPUs with native bf16 (~2x measured,
        accuracy unchanged over seeds; see tests), float32 otherwise."""
        if requested != "auto":
            return requested
        if kind == "cnn" and not gpu_available():
            from bench.manifest import cpu_flags

            if cpu_flags() & {"avx512_bf16", "amx_bf16"}:
                return "mixed_bfloat16"
        return "float32"


def gpu_available() -> bool:
    """Whether the active Keras backend sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False
