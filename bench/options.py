"""Engine options: how to run, not what (they never change what is measured, only speed).

Kept free of top-level Keras imports so the CLI can plan work before loading a framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# optimizer steps per run below which XLA compilation costs more than it saves on a CPU:
JIT_MIN_STEPS = 3000  # with Keras' own loop (~2 s compile, a compiled step)
COMPILED_JIT_MIN_STEPS = 500  # with compiled epochs (~0.6 s more than tracing, ~1 ms/step less)


@dataclass(frozen=True)
class EngineOptions:
    """Compilation and evaluation settings of the engine."""

    jit_compile: str = "auto"  # auto | on | off
    steps_per_execution: int = 0  # 0 = auto
    eval_batch_size: int = 1024
    data_dir: str | None = None
    deterministic: bool = False  # TensorFlow op determinism (and no XLA)
    epoch_loop: str = "auto"  # auto | compiled | keras

    def jit_for(self, kind: str, total_steps: int | None = None) -> bool:
        """XLA or not. On a GPU or with JAX: always. On a CPU it makes convolutions ~3x
        slower, so MLPs only, and only for runs long enough to amortise the compilation
        (thresholds above, measured on the 2-core dev machine)."""
        if self.jit_compile != "auto":
            return self.jit_compile == "on"
        if self.deterministic:
            return False  # op determinism turns XLA off in Keras anyway; say so
        from bench.quiet import keras

        if keras.backend.backend() == "jax" or gpu_available():
            return True
        if kind != "mlp":
            return False
        threshold = COMPILED_JIT_MIN_STEPS if self.compiled_epochs_for() else JIT_MIN_STEPS
        return total_steps is None or total_steps >= threshold

    def compiled_epochs_for(self) -> bool:
        """Whole epochs as one compiled TensorFlow program (``bench.compiled_epochs``) unless
        ``epoch_loop="keras"``: same steps, ~2x faster for MLPs (see ``bench perf``)."""
        if self.epoch_loop != "auto":
            return self.epoch_loop == "compiled"
        import keras

        return keras.backend.backend() == "tensorflow"

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
