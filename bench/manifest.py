"""The environment of a result set: machine, software versions, git commit."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

LIBRARIES = (
    "keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "numpy", "pandas", "pyarrow",
    "optuna", "hyperopt", "scikit-optimize", "scikit-learn", "lightgbm", "ray", "altair",
)


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        match = re.search(r"model name\s*:\s*(.+)", text)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"flags\s*:\s*(.+)", text)
    return set(match.group(1).split()) if match else set()


def memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def gpu_names() -> list[str]:
    """Names of the GPUs the Keras backend trains on (``bench.devices.detect``)."""
    from bench.devices import detect

    return [gpu.name for gpu in detect()]


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def machine() -> dict[str, Any]:
    from bench import devices

    gpus = devices.detect()
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_bf16": bool(cpu_flags() & {"avx512_bf16", "amx_bf16"}),
        "memory_gib": memory_gib(),
        "gpus": [gpu.name for gpu in gpus],  # those the backend sees, not nvidia-smi
        "gpu_details": devices.summary(gpus),
        "nvidia_smi_gpus": [g["name"] for g in devices.nvidia_smi_gpus()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "hostname": platform.node(),
    }


def machine_slug(info: dict[str, Any] | None = None) -> str:
    """A short folder-friendly name of the hardware that trains, e.g. ``cpu-amd-epyc-9b14-2c``
    or ``gpu-nvidia-h200-x1`` (GPUs the backend uses: a GPU only ``nvidia-smi`` lists
    leaves the name ``cpu-…``)."""
    info = info or machine()
    if info["gpus"]:
        name = f"gpu-{info['gpus'][0]}-x{len(info['gpus'])}"
    else:
        name = f"cpu-{info['cpu']}-{info['cpu_count']}c"
    name = re.sub(r"\((r|tm)\)|cpu @.*|processor|\d+-core", "", name, flags=re.I)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def environment() -> dict[str, Any]:
    """Everything a result set records about where it was produced."""
    return {
        "machine": machine(),
        "libraries": library_versions(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "git_commit": git_commit(),
    }
