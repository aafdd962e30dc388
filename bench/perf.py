"""``bench perf``: the engine against tutorial-style ``model.fit``, in one process, alternating.

Measures per-epoch seconds (after a warm-up epoch, so compilation is excluded), images/s,
the ratio engine / tutorial, the share of the machine's measured matmul FLOP floor
(6 x params x images / peak GFLOP/s), and sweep throughput with 1 vs N workers.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from bench import data, devices, models  # noqa: E402
from bench.options import EngineOptions  # noqa: E402
from bench.quiet import keras  # noqa: E402


def peak_gflops(dtype: str = "float32", n: int = 2048, repeats: int = 10) -> float:
    """Best ``dtype`` matmul GFLOP/s of the active backend (TensorFlow: a graph, which
    uses oneDNN and beat XLA here, 206 vs 194 GFLOP/s in float32 and 404 vs 189 in bf16)."""
    a = keras.ops.cast(keras.random.normal((n, n), seed=1), dtype)
    b = keras.ops.cast(keras.random.normal((n, n), seed=2), dtype)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(lambda: tf.matmul(a, b))
    elif backend == "jax":
        import jax

        fn = jax.jit(lambda: a @ b)
    else:
        fn = lambda: keras.ops.matmul(a, b)  # noqa: E731
    keras.ops.convert_to_numpy(fn())
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeats):
            out = fn()
        keras.ops.convert_to_numpy(out)
        best = max(best, repeats * 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def training_flops(model: keras.Model) -> int:
    """Multiply-add FLOPs per training image that the Dense and Conv2D layers must execute:
    forward and weight gradients of every layer, input gradients of all but the first
    (nothing needs the gradient of the images). ``6 x params`` counts the latter too for an
    MLP, and under-counts convolutions, whose weights are reused at every position."""
    macs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            macs.append(int(np.prod(layer.kernel.shape)))
        elif isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
            macs.append(height * width * int(np.prod(layer.kernel.shape)))
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def _epoch_seconds(model: keras.Model, x: np.ndarray, y: np.ndarray, batch: int) -> float:
    """Seconds of the second epoch (the first pays for tracing and compilation)."""
    if getattr(model, "engine_loop", "keras") == "compiled":
        import tensorflow as tf  # the engine's TF-only path

        from bench.compiled_epochs import CompiledEpochs

        trainer = CompiledEpochs(model, x, y, batch, jit=bool(model.jit_compile))
        xt, yt, rng = tf.constant(x), tf.constant(y), np.random.default_rng(0)

        def epoch() -> None:
            trainer.train_epoch(xt, yt, rng.permutation(len(y)))
    else:
        def epoch() -> None:
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    epoch()
    start = time.perf_counter()
    epoch()
    return time.perf_counter() - start


def _build(arch: str, mode: str, n: int, batch: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    kind = models.resolve_arch(arch)["kind"]
    options = EngineOptions()
    precision = options.precision_for("auto", kind) if mode == "engine" else "float32"
    keras.config.set_dtype_policy(precision)
    try:
        model = models.build(arch)
    finally:
        keras.config.set_dtype_policy("float32")
    if mode == "tutorial":
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    else:
        jit = options.jit_for(kind, None)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=jit,
                      steps_per_execution=options.steps_for(n, batch))
        model.engine_loop = "compiled" if options.compiled_epochs_for() else "keras"
    return model


def compare_fit(arch: str, batch: int, x: np.ndarray, y: np.ndarray,
                rounds: int) -> dict[str, Any]:
    """Median epoch seconds of tutorial and engine, measured alternately."""
    times: dict[str, list[float]] = {"tutorial": [], "engine": []}
    params, flops, loop = 0, 0, "keras"
    for _ in range(rounds):
        for mode in ("tutorial", "engine"):
            model = _build(arch, mode, len(x), batch)
            params, flops = model.count_params(), training_flops(model)
            loop = getattr(model, "engine_loop", loop)
            times[mode].append(_epoch_seconds(model, x, y, batch))
    tut, eng = statistics.median(times["tutorial"]), statistics.median(times["engine"])
    return {
        "kind": "fit", "model": arch, "batch_size": batch, "images": len(x), "params": params,
        "tutorial_epoch_s": tut, "engine_epoch_s": eng,
        "tutorial_images_per_s": len(x) / tut, "engine_images_per_s": len(x) / eng,
        "speedup": tut / eng, "rounds": rounds, "engine_loop": loop,
        "matmul_flops_per_image": flops,
    }


def add_flop_shares(row: dict[str, Any], peaks: dict[str, float]) -> None:
    """FLOP-floor share (6 x params x images/s over the float32 peak) and the share of the
    matmul FLOPs actually executed, over the peak of the precision each side trains in."""
    precision = {"tutorial": "float32",
                 "engine": "bfloat16" if "bfloat16" in row.get("engine_precision", "")
                 else "float32"}
    for mode in ("tutorial", "engine"):
        rate = row[f"{mode}_images_per_s"]
        row[f"{mode}_flop_share"] = 6 * row["params"] * rate / 1e9 / peaks["float32"]
        row[f"{mode}_matmul_share"] = (row["matmul_flops_per_image"] * rate / 1e9
                                       / peaks.get(precision[mode], float("nan")))


#: dense datasheet peaks in TFLOP/s (no sparsity) of GPUs ``bench perf`` knows, matched by a
#: substring of the name the framework reports; tf32 / bfloat16 / float16 on tensor cores
GPU_PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"float32": 67, "tf32": 494, "bfloat16": 989, "float16": 989},
    "H100 PCIe": {"float32": 51, "tf32": 378, "bfloat16": 756, "float16": 756},
    "H100": {"float32": 67, "tf32": 494, "bfloat16": 989, "float16": 989},
    "A100": {"float32": 19.5, "tf32": 156, "bfloat16": 312, "float16": 312},
    "L40S": {"float32": 91.6, "tf32": 183, "bfloat16": 362, "float16": 362},
    "A10": {"float32": 31.2, "tf32": 62.5, "bfloat16": 125, "float16": 125},
    "L4": {"float32": 30.3, "tf32": 60, "bfloat16": 121, "float16": 121},
    "T4": {"float32": 8.1, "float16": 65},
    "V100": {"float32": 15.7, "float16": 125},
}


def gpu_peak(name: str) -> dict[str, float] | None:
    """Datasheet peaks of the GPU called ``name`` (longest matching key), or ``None``."""
    matches = [key for key in GPU_PEAK_TFLOPS if key.lower() in name.lower()]
    return GPU_PEAK_TFLOPS[max(matches, key=len)] if matches else None


def add_gpu_shares(row: dict[str, Any], peak: dict[str, float] | None, tf32: bool) -> None:
    """Executed matmul FLOP/s of each side over the GPU's peak in the precision it trains in
    (float32 counts at the TF32 rate when TF32 is on); NaN when the peak is unknown."""
    precision = {"tutorial": "float32", "engine": row.get("engine_precision", "float32")}
    for mode in ("tutorial", "engine"):
        kind = precision[mode].removeprefix("mixed_")
        kind = "tf32" if kind == "float32" and tf32 and peak and "tf32" in peak else kind
        rate = row["matmul_flops_per_image"] * row[f"{mode}_images_per_s"]
        row[f"{mode}_gpu_share"] = rate / 1e12 / peak[kind] if peak and kind in peak \
            else float("nan")


SWEEP_FRACTION, SWEEP_EPOCHS = 0.2, 2  # a quick-profile-sized run (20 % of the data)


def sweep_throughput(workers: int, runs: int, data_dir: str | None) -> dict[str, Any]:
    """Seconds for ``runs`` seeds of one configuration (MLP 300-100, batch 32): one
    tutorial-style process (Keras ``fit``, no XLA) against ``workers`` engine workers.
    Both include everything a run does (split, build, compile, train, test predictions);
    the workers are started beforehand on another configuration, so the measured runs pay
    their own compilation."""
    from bench.executor import LocalExecutor, train_unit
    from bench.spec import RunSpec

    def sweep(optimizer: str, seeds: range) -> list[RunSpec]:
        return [RunSpec(study="perf_sweep", model="mlp_300_100", optimizer=optimizer,
                        batch_size=32, epochs=SWEEP_EPOCHS, fraction=SWEEP_FRACTION, seed=s,
                        validation="none") for s in seeds]

    specs, warm = sweep("adam", range(runs)), sweep("sgd", range(workers))
    tutorial = EngineOptions(jit_compile="off", steps_per_execution=1, epoch_loop="keras",
                             data_dir=data_dir)
    start = time.perf_counter()
    base_records = list(LocalExecutor(1, tutorial).map_tasks(train_unit, _dicts(specs)))
    base = time.perf_counter() - start
    pool = LocalExecutor(workers, EngineOptions(data_dir=data_dir))
    try:
        list(pool.map_tasks(train_unit, _dicts(warm)))  # start the workers, import the framework
        start = time.perf_counter()
        records = list(pool.map_tasks(train_unit, _dicts(specs)))
        fast = time.perf_counter() - start
    finally:
        pool.close()

    def mean_accuracy(recs: list) -> float:
        return float(np.mean([r["run"].get("test_accuracy", np.nan) for r in recs]))

    return {"kind": "sweep", "model": "mlp_300_100", "batch_size": 32, "runs": runs,
            "images_per_run": records[0]["run"].get("n_train", 0) * SWEEP_EPOCHS,
            "workers": workers, "tutorial_sweep_s": base, "engine_sweep_s": fast,
            "speedup": base / fast, "tutorial_accuracy": mean_accuracy(base_records),
            "engine_accuracy": mean_accuracy(records)}


def run_perf(images: int = 60_000, rounds: int = 3, workers: int = 2, sweep_runs: int = 8,
             data_dir: str | None = None, cnn: bool = True) -> list[dict[str, Any]]:
    fm = data.load("fashion_mnist", data_dir)
    x = (fm.x_train[:images].astype(np.float32) / 255)[..., None]
    y = fm.y_train[:images].astype(np.int32)
    cnn_precision = EngineOptions().precision_for("auto", "cnn")
    bf16 = cnn and "bfloat16" in cnn_precision  # only then is the bf16 rate relevant
    peaks = {"float32": [peak_gflops()], "bfloat16": [peak_gflops("bfloat16")] if bf16 else []}
    fits = []  # the peaks are sampled between configurations: the best is the ceiling
    for batch in (32, 128, 512):
        fits.append(compare_fit("mlp_300_100", batch, x, y, rounds))
        fits[-1]["engine_precision"] = "float32"
        peaks["float32"].append(peak_gflops())
    if cnn:
        mn = data.load("mnist", data_dir)
        n = min(images, 4000)
        xc = (mn.x_train[:n].astype(np.float32) / 255)[..., None]
        fits.append(compare_fit("cnn_manual", 128, xc, mn.y_train[:n].astype(np.int32),
                                rounds))
        fits[-1]["engine_precision"] = cnn_precision
        peaks["float32"].append(peak_gflops())
        if bf16:
            peaks["bfloat16"].append(peak_gflops("bfloat16"))
    best = {k: max(v) for k, v in peaks.items() if v}
    for row in fits:
        add_flop_shares(row, best)
    rows = [{"kind": "peak", "peak_gflops": best["float32"],
             "peak_gflops_min": min(peaks["float32"]), "peak_samples": len(peaks["float32"]),
             "peak_gflops_bf16": best.get("bfloat16", float("nan"))}, *fits]
    rows[0]["device"] = devices.device_label()
    gpu = devices.training_device()
    if gpu is not None:  # GPU throughput against the datasheet peak (or: unknown GPU)
        peak = gpu_peak(gpu.name)
        tf32 = bool(devices.matmul_precision().get("tf32"))
        rows.append({"kind": "gpu", "device": gpu.label(), "peak_known": peak is not None,
                     "tf32": tf32, **{f"datasheet_tflops_{k}": v
                                      for k, v in (peak or {}).items()}})
        for row in fits:
            add_gpu_shares(row, peak, tf32)
    if workers > 1 and sweep_runs:
        rows.append(sweep_throughput(workers, sweep_runs, data_dir))
    for row in rows:
        row["backend"] = keras.backend.backend()
    return rows


def _dicts(specs: list[Any]) -> list[dict[str, Any]]:
    return [spec.to_dict() for spec in specs]
