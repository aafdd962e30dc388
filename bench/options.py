"""Engine options: how to run, not what (they never change what is measured, only speed).

Kept free of top-level Keras imports so the CLI can plan work before loading a framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class EngineOptions:
    """Compilation and evaluation settings of the engine."""

    jit_compile: str = "auto"  # auto | on | off
    steps_per_execution: int = 0  # 0 = auto
    eval_batch_size: int = 1024
    data_dir: str | None = None

    def jit_for(self, kind: str) -> bool:
        if self.jit_compile != "auto":
            return self.jit_compile == "on"
        import keras

        if keras.backend.backend() == "jax":
            return True
        # XLA speeds MLPs up on CPU but makes convolutions ~3x slower there.
        return kind == "mlp" or gpu_available()

    def steps_for(self, n_train: int, batch: int) -> int:
        if self.steps_per_execution:
            return self.steps_per_execution
        steps = max(1, math.ceil(n_train / batch))
        return max(1, min(32, steps))


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
