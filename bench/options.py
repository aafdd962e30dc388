"""Engine options: how to run, not what (they never change what is measured, only speed).

Kept free of top-level Keras imports so the CLI can plan work before loading a framework.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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

        if keras.backend.backend() == "jax" or training_device() is not None:
            return True
        if kind != "mlp":
            return False
        threshold = COMPILED_JIT_MIN_STEPS if self.compiled_epochs_for() else JIT_MIN_STEPS
        return total_steps is None or total_steps >= threshold

    def compiled_epochs_for(self) -> bool:
        """Whole epochs as one compiled TensorFlow program (``bench.compiled_epochs``) unless
        ``epoch_loop="keras"``: same steps, ~2x faster for MLPs (see ``bench perf``).
        ``auto`` on another backend: Keras' loop; ``compiled`` there falls back to it with a
        warning (the engine records why in ``epoch_loop_fallback``)."""
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
        """``auto``: mixed precision for CNNs where the device computes it natively, float32
        otherwise (MLPs this small are bound by launches, not arithmetic). On a GPU:
        bfloat16 from compute capability 8 (Ampere), float16 from 7 (Volta/Turing; Keras adds
        loss scaling); on a CPU: bfloat16 with native bf16 instructions (~2x measured,
        accuracy unchanged over seeds; see tests)."""
        if requested != "auto":
            return requested
        return auto_precision(kind, training_device())


def auto_precision(kind: str, gpu: Any) -> str:
    """The ``auto`` precision policy of ``kind`` on ``gpu`` (a ``devices.Gpu``) or the CPU."""
    if kind != "cnn":
        return "float32"
    if gpu is not None:
        capability = gpu.compute_capability or 0.0
        if capability >= 8:
            return "mixed_bfloat16"
        return "mixed_float16" if capability >= 7 else "float32"
    from bench.manifest import cpu_flags

    return "mixed_bfloat16" if cpu_flags() & {"avx512_bf16", "amx_bf16"} else "float32"


def training_device() -> Any:
    """The GPU this process trains on (``devices.Gpu``), or ``None`` for the CPU."""
    from bench import devices

    return devices.training_device()


def gpu_available() -> bool:
    """Whether the active Keras backend sees a GPU in this process."""
    return training_device() is not None
