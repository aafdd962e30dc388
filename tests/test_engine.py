"""Engine: one real Keras training run per test on tiny generated data."""

from __future__ import annotations

from pathlib import Path

from bench import engine
from bench.spec import RunSpec


def test_run_learns_and_records_everything(tiny_data_dir: Path) -> None:
    spec = RunSpec(study="t", dataset="mnist", model="model_1", optimizer="adam", epochs=3,
                   seed=1).validate()
    record = engine.run(spec)
    run = record["run"]
    assert run["status"] == "ok", run.get("error")
    assert run["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert run["params"] == 50_890
    metrics = {(r["split"], r["metric"]) for r in record["epochs"]}
    assert metrics == {("train", "loss"), ("train", "accuracy"), ("val", "loss"),
                       ("val", "accuracy"), ("train", "seconds")}
    assert max(r["epoch"] for r in record["epochs"]) == 3
    assert sum(c["count"] for c in record["confusion"]) == run["n_test"]
    assert len(record["classes"]) == 10 and len(record["predictions"]) == 40


def test_same_seed_same_result(tiny_data_dir: Path) -> None:
    spec = RunSpec(study="t", dataset="mnist", model="model_1", epochs=1, seed=5)
    a, b = engine.run(spec)["run"], engine.run(spec)["run"]
    assert a["test_loss"] == b["test_loss"]


def test_huge_learning_rate_is_stored_as_diverged(tiny_data_dir: Path) -> None:
    spec = RunSpec(study="t", dataset="mnist", model="model_1", optimizer="sgd",
                   learning_rate=1e12, epochs=3, seed=0)
    run = engine.run(spec)["run"]
    assert run["status"] == "diverged"
    assert run["diverged_epoch"] == 1


def test_exception_is_stored_as_failed(tiny_data_dir: Path) -> None:
    spec = RunSpec(study="t", dataset="mnist", model="model_1", validation="holdout:100000")
    run = engine.run(spec)["run"]
    assert run["status"] == "failed" and run["error"]


def test_op_determinism_lasts_one_run(tiny_data_dir: Path, monkeypatch) -> None:
    """``--deterministic`` makes its own run deterministic and leaves the worker as it was:
    the next run is not slowed by op determinism it did not ask for."""
    from tensorflow.python.framework import config as tf_config

    from bench.options import EngineOptions

    spec = RunSpec(study="t", dataset="mnist", model="model_1", epochs=1, seed=3)
    seen: list[bool] = []
    original = engine._fit

    def spy(*args, **kwargs):
        seen.append(tf_config.is_op_determinism_enabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "_fit", spy)
    first = engine.run(spec, EngineOptions(deterministic=True))["run"]
    second = engine.run(spec, EngineOptions())["run"]
    assert first["status"] == second["status"] == "ok"
    assert first["deterministic"] is True and seen == [True, False]
    assert not tf_config.is_op_determinism_enabled()
