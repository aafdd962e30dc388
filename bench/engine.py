"""Stage 3 — engine: train one ``RunSpec`` with Keras 3 and return its record.

The record is plain data (``run`` row, tidy ``epochs`` rows, per-class metrics, confusion
counts, the first test predictions) that the store writes as one file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import traceback
from collections.abc import Iterator
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import logging  # noqa: E402

import numpy as np  # noqa: E402

from bench import data, devices, models, settings  # noqa: E402
from bench.options import EngineOptions, gpu_available  # noqa: E402,F401
from bench.quiet import keras  # noqa: E402
from bench.spec import RunSpec  # noqa: E402
from bench.vocab import PRESETS  # noqa: E402

N_PREDICTIONS = 40  # test images kept with their predictions (the papers' image grid)
logging.getLogger("tensorflow").setLevel(logging.ERROR)
log = logging.getLogger("bench.engine")


def make_optimizer(optimizer: str | dict[str, Any],
                   learning_rate: float | dict[str, Any] | None) -> keras.optimizers.Optimizer:
    """The Keras optimizer: a name or ``{name, arguments}``, a rate or a schedule."""
    return settings.make_optimizer(optimizer, learning_rate)


def model_label(spec: RunSpec, arch: dict[str, Any]) -> str:
    """The ``model`` column: the preset's name when the network is the preset's, else a name
    that describes the network trained (``mlp_256_do0.2``; a builder's path)."""
    ignored = ("activation", "initializer")
    preset = PRESETS.get(spec.model)
    if preset is not None and {k: v for k, v in arch.items() if k not in ignored} == \
            {k: v for k, v in preset.items() if k not in ignored}:
        return spec.model
    if arch.get("kind") == "custom":
        return spec.model
    if preset is None and spec.model.startswith(arch.get("kind", "?")) and not (
            arch.get("dropout") or arch.get("regularizer")):
        return spec.model  # a name the study gave this network (``mlp_256_64``)
    return settings.model_name(arch)


class _EpochTimer(keras.callbacks.Callback):
    """Per-epoch training seconds (validation excluded) and divergence detection."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self.logs: list[dict[str, float]] = []
        self.diverged_epoch: int | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()
        self._val = 0.0

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._val_start = time.perf_counter()

    def on_test_end(self, logs: dict | None = None) -> None:
        self._val += time.perf_counter() - self._val_start

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start - self._val)
        logs = {k: float(v) for k, v in (logs or {}).items()}
        self.logs.append(logs)
        if not math.isfinite(logs.get("loss", 0.0)):
            self.diverged_epoch = epoch + 1
            self.model.stop_training = True


class _TestCurve(keras.callbacks.Callback):
    """Test loss/accuracy after every epoch (runs after ``_EpochTimer``: not timed)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self.data = (x, y)
        self.batch_size = batch_size
        self.logs: list[dict[str, float]] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not math.isfinite(float((logs or {}).get("loss", 0.0))):
            return
        out = self.model.evaluate(*self.data, batch_size=self.batch_size, verbose=0,
                                  return_dict=True)
        self.logs.append({k: float(v) for k, v in out.items()})


def _per_class(y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...]) -> list[dict]:
    rows = []
    for k, name in enumerate(classes):
        tp = int(np.sum((y_pred == k) & (y_true == k)))
        support = int(np.sum(y_true == k))
        predicted = int(np.sum(y_pred == k))
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"class_index": k, "class_name": name, "precision": precision,
                     "recall": recall, "f1": f1, "support": support})
    return rows


def _base_row(spec: RunSpec, run_id: str) -> dict[str, Any]:
    arch = spec.architecture()
    row = {
        "run_id": run_id,
        "config_hash": spec.config_hash(),
        "study": spec.study,
        "dataset": spec.dataset,
        "model": model_label(spec, arch),
        "model_kind": arch["kind"],
        "arch": arch,
        "dropout": _dropout_column(arch.get("dropout")),
        "dropout_rates": settings.as_json(arch.get("dropout")
                                          if isinstance(arch.get("dropout"), list) else None),
        "regularizer": settings.as_json(arch.get("regularizer")),
        "seed": spec.seed,
        "epochs": spec.epochs,
        "batch_size": spec.batch_size,
        "effective_batch_size": spec.effective_batch_size,
        "optimizer": spec.optimizer_name,
        "optimizer_args": settings.as_json(settings.optimizer_parts(spec.optimizer)[1] or None),
        "learning_rate": spec.effective_learning_rate,
        "lr_schedule": settings.as_json(spec.learning_rate
                                        if isinstance(spec.learning_rate, dict) else None),
        "label_smoothing": float(spec.label_smoothing or 0.0),
        "activation": arch.get("activation", "linear"),
        "initializer": arch.get("initializer", "glorot_uniform"),
        "fraction": spec.fraction,
        "validation": spec.validation,
        "selection": "test" if spec.selects_on_test else "validation",
        "test_fraction": spec.test_fraction,
        "precision": spec.precision,
        "factors": dict(spec.factors),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
    }
    return row


_warned: set[str] = set()


def _compiled_trainer(key: str, model: keras.Model, compile_model: Any, split: Any, batch: int,
                      jit: bool) -> tuple[Any, str | None]:
    """The compiled-epochs trainer, or ``None`` and why not (warned once per reason)."""
    try:
        from bench import compiled_epochs  # optional TF-only path

        return compiled_epochs.acquire(key, model, compile_model, split.x_train,
                                       split.y_train, batch, jit), None
    except Exception as exc:  # ImportError without TensorFlow, compiled_epochs.Unavailable
        reason = str(exc) or type(exc).__name__
        if reason not in _warned:
            _warned.add(reason)
            log.warning("compiled epochs unavailable, training with Keras' fit loop: %s",
                        reason)
        return None, reason


def _optimizer_config(model: keras.Model) -> str:
    """The compiled optimizer's Keras config (class, every argument, the schedule), as JSON."""
    opt = model.optimizer
    config = {"class": type(opt).__name__, **opt.get_config()}
    return json.dumps(config, sort_keys=True, default=str)


def _dropout_column(rates: Any) -> float:
    """The rate of every hidden layer (0 without dropout); NaN when the layers differ (then
    ``dropout_rates`` lists them): the column stays numeric."""
    if isinstance(rates, list):
        return float(rates[0]) if len(set(rates)) == 1 else float("nan")
    return float(rates or 0.0)


def run(spec: RunSpec, options: EngineOptions | None = None) -> dict[str, Any]:
    """Train ``spec`` and return its record; never raises for a failing run."""
    options = options or EngineOptions()
    run_id = spec.config_hash()
    row = _base_row(spec, run_id)
    record: dict[str, Any] = {"run": row, "epochs": [], "classes": [], "confusion": [],
                              "predictions": []}
    started = time.time()
    try:
        _train(spec, options, record)
    except (Exception, SystemExit) as exc:  # one bad run (a builder's sys.exit too) must not
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}",  # stop a sweep
                   traceback=traceback.format_exc(limit=5))
    row["started_at"] = started
    row["wall_seconds"] = time.time() - started
    return record


def _train(spec: RunSpec, options: EngineOptions, record: dict[str, Any]) -> None:
    """Train ``spec`` and fill ``record``: the run's row, its curves and, when it did not
    diverge, its test-set outputs."""
    row = record["run"]
    ds = data.load(spec.dataset, options.data_dir)
    split = data.make_split(ds, spec.fraction, spec.seed, spec.validation, spec.test_fraction)
    keras.utils.set_random_seed(spec.seed)
    with _op_determinism(options.deterministic):
        model, trainer = _compiled_model(spec, options, split, row)
        timer, test_curve = _fit(spec, options, split, model, trainer, row)
    _curves(record, timer, test_curve)
    row["epochs_completed"] = len(timer.logs)
    if timer.diverged_epoch is not None:
        row.update(status="diverged", diverged_epoch=timer.diverged_epoch,
                   error=f"loss became non-finite in epoch {timer.diverged_epoch}")
        return
    eval_start = time.perf_counter()
    probs = np.asarray(model.predict(split.x_test, batch_size=options.eval_batch_size, verbose=0),
                       dtype=np.float64)
    row["eval_seconds"] = time.perf_counter() - eval_start
    if not np.all(np.isfinite(probs)):
        row.update(status="diverged", diverged_epoch=len(timer.logs),
                   error="non-finite predictions")
        return
    _test_outputs(spec, record, timer, split.y_test, probs)


@contextlib.contextmanager
def _op_determinism(on: bool) -> Iterator[None]:
    """TensorFlow op determinism for one run (``--deterministic``), switched off again after
    it: the next run in this worker is not made deterministic (and slower) by this one."""
    if not on or keras.backend.backend() != "tensorflow":
        yield
        return
    import tensorflow as tf  # optional TF-only path
    from tensorflow.python.framework import config as tf_config

    tf.config.experimental.enable_op_determinism()
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError):  # a TensorFlow without the switch
            tf_config.disable_op_determinism()


def _compiled_model(spec: RunSpec, options: EngineOptions, split: Any,
                    row: dict[str, Any]) -> tuple[keras.Model, Any]:
    """The run's model, compiled (or a compiled-epochs trainer's reused one) and described in
    ``row``; the trainer is None on Keras' own fit loop."""
    arch = spec.architecture()
    precision = options.precision_for(spec.precision, arch["kind"])
    row.update(precision=precision, device=devices.device_label(), **devices.matmul_precision())
    keras.config.set_dtype_policy(precision)
    try:
        model = models.build_for(spec)
    finally:
        keras.config.set_dtype_policy("float32")
    batch = spec.effective_batch_size
    jit = options.jit_for(arch["kind"], spec.epochs * math.ceil(len(split.y_train) / batch))
    compiled = options.compiled_epochs_for()

    def compile_model(m: keras.Model) -> None:
        m.compile(
            optimizer=make_optimizer(spec.optimizer, spec.learning_rate
                                     if spec.learning_rate is not None
                                     else spec.effective_learning_rate),
            loss=settings.loss_for(spec.label_smoothing),
            metrics=["accuracy"],
            # compiled epochs take XLA for training only: the few evaluation calls of a run
            # cost less as a graph than an XLA compilation (~0.7 s measured)
            jit_compile=jit and not compiled,
            steps_per_execution=options.steps_for(len(split.y_train), batch),
        )

    trainer = None
    if compiled:
        key = json.dumps([arch, spec.optimizer, spec.learning_rate, spec.effective_learning_rate,
                          spec.label_smoothing, batch, precision, jit, split.x_train.shape,
                          options.eval_batch_size], default=str, sort_keys=True)
        trainer, reason = _compiled_trainer(key, model, compile_model, split, batch, jit)
        if trainer is None:  # same run, Keras' own loop
            row["epoch_loop_fallback"] = reason
            compile_model(model)
        else:
            row["model_reused"] = trainer.model is not model
            row["compile_seconds"] = 0.0 if row["model_reused"] else trainer.compile_seconds
            model = trainer.model
    else:
        if keras.backend.backend() != "tensorflow" and options.epoch_loop == "auto":
            row["epoch_loop_fallback"] = "compiled epochs need the TensorFlow backend " \
                f"(active: {keras.backend.backend()})"
        compile_model(model)
    row.update(params=int(model.count_params()), layers=models.describe_layers(model),
               optimizer_config=_optimizer_config(model), n_train=int(len(split.y_train)),
               n_val=int(len(split.y_val)), n_test=int(len(split.y_test)), jit_compile=jit,
               deterministic=options.deterministic)
    return model, trainer


def _fit(spec: RunSpec, options: EngineOptions, split: Any, model: keras.Model, trainer: Any,
         row: dict[str, Any]) -> tuple[Any, Any]:
    """Train for ``spec.epochs``; the epoch timer (logs, seconds, divergence) and the
    test-curve callback (None unless the spec asks for a test curve)."""
    timer = _EpochTimer()
    callbacks: list[keras.callbacks.Callback] = [timer]
    test_curve = None
    if spec.test_curve and not spec.selects_on_test:
        test_curve = _TestCurve(split.x_test, split.y_test, options.eval_batch_size)
        callbacks.append(test_curve)
    fit_start = time.perf_counter()
    validation = None if spec.validation == "none" else (split.x_val, split.y_val)
    row["epoch_loop"] = "compiled" if trainer is not None else "keras"
    if trainer is not None:
        from bench import compiled_epochs

        compiled_epochs.fit(
            trainer, split.x_train, split.y_train, epochs=spec.epochs, seed=spec.seed,
            validation=validation, validation_batch_size=options.eval_batch_size,
            callbacks=callbacks,
        )
    else:
        model.fit(
            split.x_train, split.y_train, batch_size=spec.effective_batch_size,
            epochs=spec.epochs, validation_data=validation,
            validation_batch_size=options.eval_batch_size, shuffle=True, verbose=0,
            callbacks=callbacks,
        )
    row["fit_seconds"] = time.perf_counter() - fit_start
    row["train_seconds"] = float(sum(timer.seconds))
    return timer, test_curve


def _curves(record: dict[str, Any], timer: Any, test_curve: Any) -> None:
    """The tidy epoch rows: train/val loss and accuracy, seconds, and the test curve."""
    for epoch, (logs, secs) in enumerate(zip(timer.logs, timer.seconds, strict=True), start=1):
        for split_name, prefix in (("train", ""), ("val", "val_")):
            for metric in ("loss", "accuracy"):
                if prefix + metric in logs:
                    record["epochs"].append({"epoch": epoch, "split": split_name, "metric": metric,
                                             "value": logs[prefix + metric]})
        record["epochs"].append({"epoch": epoch, "split": "train", "metric": "seconds",
                                 "value": secs})
    for epoch, logs in enumerate(test_curve.logs if test_curve else [], start=1):
        record["epochs"] += [{"epoch": epoch, "split": "test", "metric": metric,
                              "value": logs[metric]} for metric in ("loss", "accuracy")]


def _test_outputs(spec: RunSpec, record: dict[str, Any], timer: Any, y_true: np.ndarray,
                  probs: np.ndarray) -> None:
    """Test accuracy and loss, the selection score, per-class metrics, the confusion matrix
    and the first predictions of a run that finished."""
    row = record["run"]
    y_pred = probs.argmax(axis=1)
    picked = np.clip(probs[np.arange(len(y_true)), y_true], 1e-7, 1.0)
    row.update(
        status="ok",
        test_accuracy=float(np.mean(y_pred == y_true)),
        test_loss=float(-np.mean(np.log(picked))),
        final_train_loss=timer.logs[-1].get("loss"),
        final_train_accuracy=timer.logs[-1].get("accuracy"),
        final_val_loss=timer.logs[-1].get("val_loss"),
        final_val_accuracy=timer.logs[-1].get("val_accuracy"),
    )
    if not spec.selects_on_test:
        row["score_accuracy"] = row["final_val_accuracy"]  # selection never sees the test set
    elif spec.score_fraction < 1:
        rng = np.random.default_rng(spec.seed + 20_011)
        size = max(1, int(round(spec.score_fraction * len(y_true))))
        sample = rng.choice(len(y_true), size=size, replace=False)
        row["score_accuracy"] = float(np.mean(y_pred[sample] == y_true[sample]))
    else:
        row["score_accuracy"] = row["test_accuracy"]
    classes = data.dataset_info(spec.dataset).classes
    record["classes"] = _per_class(y_true, y_pred, classes)
    row["macro_f1"] = float(np.mean([c["f1"] for c in record["classes"]]))
    n = probs.shape[1]  # the model's classes (the dataset's)
    counts = np.zeros((n, n), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    record["confusion"] = [
        {"true": int(t), "pred": int(p), "count": int(counts[t, p])}
        for t in range(n) for p in range(n) if counts[t, p]
    ]
    record["predictions"] = [
        {"index": i, "true": int(y_true[i]), "pred": int(y_pred[i]),
         "confidence": float(probs[i, y_pred[i]])}
        for i in range(min(N_PREDICTIONS, len(y_true)))
    ]
