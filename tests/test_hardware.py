"""Hardware: GPUs as the backend sees them (simulated here: no test needs a GPU), workers per
GPU, the device and precision recorded per run, the result-set name, GPU peak shares."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import devices, executor, manifest, perf
from bench.devices import Gpu
from bench.options import EngineOptions, auto_precision

H200 = {"name": "NVIDIA H200", "memory_gib": 139.8}
T4 = {"name": "Tesla T4", "memory_gib": 15.0}


def simulate(monkeypatch: pytest.MonkeyPatch, smi: list[dict], backend: list[Gpu],
             cores: int = 16) -> None:
    """``nvidia-smi`` lists ``smi``; the Keras backend sees ``backend``; ``cores`` CPUs."""
    monkeypatch.setattr(devices, "nvidia_smi_gpus", lambda: smi)
    monkeypatch.setattr(devices, "probe_backend", lambda: list(backend))
    monkeypatch.setattr(executor, "available_cores", lambda: list(range(cores)))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    devices.detect.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_detection():
    devices.detect.cache_clear()
    yield
    devices.detect.cache_clear()


def test_gpus_come_from_the_backend_and_memory_sizes_the_workers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # nvidia-smi lists two H200s, the backend uses one (e.g. CUDA_VISIBLE_DEVICES=0)
    simulate(monkeypatch, [H200, H200], [Gpu(0, "NVIDIA H200", None, 9.0)])
    gpus = devices.detect()
    assert gpus == (Gpu(0, "NVIDIA H200", 139.8, 9.0),)  # memory filled in from nvidia-smi
    assert devices.workers_per_gpu(gpus[0]) == devices.MAX_WORKERS_PER_GPU
    assert executor.default_workers() == devices.MAX_WORKERS_PER_GPU
    plan = executor.worker_plan(executor.default_workers())
    assert len(plan) == 8 and {env["CUDA_VISIBLE_DEVICES"] for _, env in plan} == {"0"}
    for _, env in plan:  # several runs share the GPU: growth, no JAX pre-allocation
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
        assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    info = manifest.machine()
    assert info["gpus"] == ["NVIDIA H200"] and info["nvidia_smi_gpus"] == ["NVIDIA H200"] * 2
    assert manifest.machine_slug(info) == "gpu-nvidia-h200-x1"  # the device used, not smi
    assert devices.unseen_gpu_warning() is None


def test_small_gpus_get_fewer_workers_round_robin(monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(monkeypatch, [T4, T4], [Gpu(0, "Tesla T4", None, 7.5),
                                     Gpu(1, "Tesla T4", None, 7.5)])
    assert devices.workers_per_gpu(devices.detect()[0]) == 7  # 15 GiB / 2 GiB per run
    assert executor.default_workers() == 14
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in executor.worker_plan(4)] == \
        ["0", "1", "0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # the framework's 0, 1 are these
    assert [env["CUDA_VISIBLE_DEVICES"] for _, env in executor.worker_plan(2)] == ["2", "3"]
    # fewer cores than runs that fit: one worker per core
    simulate(monkeypatch, [T4], [Gpu(0, "Tesla T4", None, 7.5)], cores=3)
    assert executor.default_workers() == 3


def test_gpu_only_nvidia_smi_sees_warns_and_trains_on_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    simulate(monkeypatch, [H200], [], cores=2)
    warning = devices.unseen_gpu_warning()
    assert warning and warning.count("\n") == 0
    assert "NVIDIA H200" in warning and ".[gpu]" in warning
    assert executor.default_workers() == 2  # one per core, as on any CPU
    assert manifest.machine_slug().startswith("cpu-")
    assert {env.get("CUDA_VISIBLE_DEVICES") for _, env in executor.worker_plan(2)} == {None}


def test_no_driver_no_framework_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> list[Gpu]:
        raise AssertionError("a CPU-only machine must not start the framework probe")

    monkeypatch.setattr(devices, "nvidia_smi_gpus", lambda: [])
    monkeypatch.setattr(devices, "probe_backend", fail)
    assert devices.detect() == () and devices.unseen_gpu_warning() is None


@pytest.mark.parametrize(("capability", "expected"), [
    (9.0, "mixed_bfloat16"), (8.6, "mixed_bfloat16"), (7.5, "mixed_float16"), (6.1, "float32")])
def test_auto_precision_follows_the_gpu(capability: float, expected: str) -> None:
    gpu = Gpu(0, "some GPU", 16.0, capability)
    assert auto_precision("cnn", gpu) == expected
    assert auto_precision("mlp", gpu) == "float32"  # launch-bound: nothing to gain


def test_a_run_records_the_simulated_gpu_it_trained_on(
        monkeypatch: pytest.MonkeyPatch, tiny_data_dir: Path) -> None:
    from bench import engine
    from bench.spec import RunSpec

    monkeypatch.setattr(devices, "training_device", lambda: Gpu(0, "NVIDIA H200", 139.8, 9.0))
    spec = RunSpec(study="t", model="mlp_300_100", optimizer="adam", batch_size=64, epochs=1,
                   seed=0, validation="none")
    row = engine.run(spec, EngineOptions(data_dir=str(tiny_data_dir)))["run"]
    assert row["status"] == "ok", row.get("error")
    assert row["device"] == "gpu:0 NVIDIA H200"
    assert row["jit_compile"] is True  # XLA always on a GPU
    assert row["precision"] == "float32" and isinstance(row["tf32"], bool)
    assert EngineOptions().precision_for("auto", "cnn") == "mixed_bfloat16"


def test_cpu_runs_record_cpu(tiny_data_dir: Path) -> None:
    from bench import engine
    from bench.spec import RunSpec

    spec = RunSpec(study="t", model="mlp_300_100", optimizer="adam", batch_size=64, epochs=1,
                   seed=0, validation="none")
    row = engine.run(spec, EngineOptions(data_dir=str(tiny_data_dir)))["run"]
    assert row["device"] == "cpu" and row["tf32"] in (True, False)


def test_manifest_records_the_hardware_that_trained(
        monkeypatch: pytest.MonkeyPatch, tiny_data_dir: Path, tmp_path: Path) -> None:
    """The result set's default name and manifest follow the (simulated) backend GPU."""
    from bench.app import RunRequest, default_results, execute
    from bench.studies import REGISTRY

    simulate(monkeypatch, [H200, H200], [Gpu(0, "NVIDIA H200", None, 9.0)])
    monkeypatch.setattr(devices, "training_device", lambda: Gpu(0, "NVIDIA H200", 139.8, 9.0))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    assert default_results("smoke").name == "smoke-gpu-nvidia-h200-x1"
    outcome = execute(RunRequest([REGISTRY.get("epochs")], "smoke", None, tmp_path / "R",
                                 tiny_data_dir, workers=1))
    assert outcome.ok
    saved = json.loads((tmp_path / "R" / "manifest.json").read_text())
    used = saved["engine"]["hardware_used"]
    assert [u["device"] for u in used] == ["gpu:0 NVIDIA H200"]
    assert used[0]["precision"] == "float32" and "tf32" in used[0]
    assert saved["engine"]["cnn_precision"] == "mixed_bfloat16"
    assert saved["machine"]["gpus"] == ["NVIDIA H200"]


def test_gpu_peak_table_and_shares() -> None:
    assert perf.gpu_peak("NVIDIA H100 PCIe")["float32"] == 51  # longest name wins
    assert perf.gpu_peak("NVIDIA H100 80GB HBM3")["tf32"] == 494
    assert perf.gpu_peak("Some Future GPU") is None
    row = {"matmul_flops_per_image": 1_000_000, "tutorial_images_per_s": 1e6,
           "engine_images_per_s": 2e6, "engine_precision": "mixed_bfloat16"}
    perf.add_gpu_shares(row, perf.gpu_peak("A100"), tf32=True)
    assert row["tutorial_gpu_share"] == pytest.approx(1.0 / 156)  # float32 at the TF32 rate
    assert row["engine_gpu_share"] == pytest.approx(2.0 / 312)
    perf.add_gpu_shares(row, perf.gpu_peak("A100"), tf32=False)
    assert row["tutorial_gpu_share"] == pytest.approx(1.0 / 19.5)
    perf.add_gpu_shares(row, None, tf32=True)
    assert math.isnan(row["engine_gpu_share"])
