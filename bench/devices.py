"""Which device trains: GPUs as the active Keras backend sees them, not as ``nvidia-smi`` does.

``tensorflow-cpu`` on a GPU machine, or JAX without its CUDA plugin, trains on the CPU while
``nvidia-smi`` lists the GPU; worker counts, precision and the result-set name therefore come
from the framework. The parent process asks the framework in a short subprocess (no CUDA
context, no JAX pre-allocation in the process that spawns the workers), and only when
``nvidia-smi`` lists a GPU at all: a CPU-only machine never pays for the check.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from bench.env import GPU_SHARING_ENV  # noqa: F401 (devices.GPU_SHARING_ENV)

#: environment every training process gets: several runs share a GPU, none grabs all of it
RUN_MEMORY_GIB = 2.0  # per-run estimate: framework context (~0.5 GiB) + small model and data
MAX_WORKERS_PER_GPU = 8  # these models leave a GPU launch-bound; more processes only contend


@dataclass(frozen=True)
class Gpu:
    """One GPU as the backend reports it (``index`` as the framework numbers it)."""

    index: int
    name: str
    memory_gib: float | None = None
    compute_capability: float | None = None

    def label(self) -> str:
        return f"gpu:{self.index} {self.name}"


def nvidia_smi_gpus() -> list[dict]:
    """GPUs the NVIDIA driver lists (name, memory); empty without a driver."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        name, _, mib = line.partition(",")
        if name.strip():
            memory = float(mib) / 1024 if mib.strip().replace(".", "").isdigit() else None
            gpus.append({"name": name.strip(), "memory_gib": memory})
    return gpus


def backend_gpus_here() -> list[Gpu]:
    """GPUs of the active Keras backend in this process (imports the framework)."""
    for key, value in GPU_SHARING_ENV.items():
        os.environ.setdefault(key, value)
    from bench.quiet import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = []
        for index, device in enumerate(tf.config.list_physical_devices("GPU")):
            details = tf.config.experimental.get_device_details(device)
            cc = details.get("compute_capability")
            gpus.append(Gpu(index, details.get("device_name", device.name),
                            compute_capability=float(f"{cc[0]}.{cc[1]}") if cc else None))
        return gpus
    if backend == "jax":
        import jax

        gpus = []
        for device in jax.devices():
            if device.platform != "gpu":
                continue
            stats = device.memory_stats() or {}
            limit = stats.get("bytes_limit")
            cc = getattr(device, "compute_capability", None)
            gpus.append(Gpu(device.id, device.device_kind,
                            memory_gib=limit / 1024**3 if limit else None,
                            compute_capability=float(cc) if cc else None))
        return gpus
    return []


_PROBE = ("import json; from dataclasses import asdict; from bench.devices import "
          "backend_gpus_here as f; print(json.dumps([asdict(g) for g in f()]))")


def probe_backend() -> list[Gpu]:
    """:func:`backend_gpus_here` in a fresh interpreter; empty when it fails."""
    env = {**os.environ, **GPU_SHARING_ENV}
    try:
        out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                             timeout=300, check=True, env=env).stdout
        return [Gpu(**g) for g in json.loads(out.strip().splitlines()[-1])]
    except (OSError, subprocess.SubprocessError, ValueError, IndexError, TypeError):
        return []


@functools.lru_cache(maxsize=1)
def detect() -> tuple[Gpu, ...]:
    """GPUs the backend will train on, asked in a subprocess (see the module docstring);
    memory comes from ``nvidia-smi`` where the framework does not report it."""
    smi = nvidia_smi_gpus()
    if not smi:
        return ()
    found = probe_backend()
    by_name = {g["name"]: g["memory_gib"] for g in smi}
    return tuple(g if g.memory_gib else Gpu(g.index, g.name, by_name.get(g.name),
                                            g.compute_capability) for g in found)


def unseen_gpu_warning(gpus: tuple[Gpu, ...] | None = None) -> str | None:
    """One line when ``nvidia-smi`` lists a GPU that the backend does not use."""
    smi = nvidia_smi_gpus()
    gpus = detect() if gpus is None else gpus
    if not smi or gpus:
        return None
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    fix = ('pip install -e ".[jax-gpu]"' if backend == "jax" else
           'pip install -e ".[gpu]" (the tensorflow-cpu build cannot use it; see docs/hardware.md)')
    return (f"warning: nvidia-smi lists {smi[0]['name']} but Keras' {backend} backend sees no "
            f"GPU, so runs train on the CPU: {fix}")


def workers_per_gpu(gpu: Gpu) -> int:
    """Runs sharing one GPU: its memory over a per-run estimate, capped."""
    if gpu.memory_gib is None:
        return 2
    return max(1, min(MAX_WORKERS_PER_GPU, int(gpu.memory_gib // RUN_MEMORY_GIB)))


def gpu_assignments(workers: int, gpus: tuple[Gpu, ...]) -> list[str | None]:
    """``CUDA_VISIBLE_DEVICES`` of each worker: round-robin over the GPUs (indices mapped
    through an existing ``CUDA_VISIBLE_DEVICES``), or ``None`` each without a GPU."""
    if not gpus:
        return [None] * workers
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(g.index) for g in gpus]
    return [ids[gpus[i % len(gpus)].index % len(ids)].strip() for i in range(workers)]


@functools.lru_cache(maxsize=1)
def training_device() -> Gpu | None:
    """The device this process trains on: its first backend GPU, or ``None`` (the CPU)."""
    gpus = backend_gpus_here()
    if not gpus:
        return None
    gpu = gpus[0]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    ids = [v.strip() for v in visible.split(",") if v.strip()]
    if ids and gpu.index < len(ids) and ids[gpu.index].isdigit():
        gpu = Gpu(int(ids[gpu.index]), gpu.name, gpu.memory_gib, gpu.compute_capability)
    return gpu


def device_label() -> str:
    """What a run row records: ``cpu`` or ``gpu:<index> <name>`` (physical index)."""
    gpu = training_device()
    return gpu.label() if gpu else "cpu"


def matmul_precision() -> dict[str, object]:
    """float32 matmul settings in force: TF32 on/off (TensorFlow), JAX's default precision."""
    from bench.quiet import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return {"tf32": bool(tf.config.experimental.tensor_float_32_execution_enabled())}
    if backend == "jax":
        import jax

        return {"tf32": None,
                "matmul_precision": str(jax.config.jax_default_matmul_precision or "default")}
    return {"tf32": None}


def summary(gpus: tuple[Gpu, ...]) -> list[dict]:
    return [asdict(g) for g in gpus]
