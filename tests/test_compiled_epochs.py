"""The engine's compiled-epoch loop trains exactly as Keras ``fit`` does (XLA for MLPs, a
graph for CNNs), and a reused compiled model exactly as a new one."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from bench import compiled_epochs, engine, models
from bench.options import EngineOptions
from bench.spec import RunSpec
from tests.helpers import assert_same_accuracy


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = models.build("mlp_300_100")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"], jit_compile=True)
    return model


def test_same_batches_give_the_weights_and_logs_of_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((1000, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 1000).astype(np.int32)  # 1000 = 10 x 96 + a partial batch of 40
    reference = _model()
    history = reference.fit(x, y, batch_size=96, epochs=2, shuffle=False, verbose=0).history
    model = _model()
    trainer = compiled_epochs.CompiledEpochs(model, x, y, batch_size=96)
    assert trainer.compile(x, y) > 0 and trainer.compile(x, y) == 0
    assert int(model.optimizer.iterations.numpy()) == 0  # compiling trains nothing
    logs = [trainer.train_epoch(x, y, np.arange(len(y))) for _ in range(2)]
    assert int(model.optimizer.iterations.numpy()) == 2 * 11
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose([e["loss"] for e in logs], history["loss"], rtol=1e-5)
    np.testing.assert_allclose([e["accuracy"] for e in logs], history["accuracy"], atol=1e-6)


def test_cnn_graph_loop_with_dropout_matches_fit() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((300, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 300).astype(np.int32)
    arch = {"kind": "cnn", "conv_filters": [4], "pool": "each", "dense": [16],
            "dropout": 0.5}

    def cnn() -> keras.Model:
        keras.utils.set_random_seed(3)
        model = models.build(arch)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"], jit_compile=False)
        return model

    reference = cnn()
    history = reference.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0).history
    model = cnn()
    trainer = compiled_epochs.CompiledEpochs(model, x, y, batch_size=64, jit=False)
    logs = trainer.train_epoch(x, y, np.arange(len(y)))
    for got, want in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(logs["loss"], history["loss"][0], rtol=1e-5)


def test_reused_model_trains_bit_for_bit_like_a_new_one(tiny_data_dir: Path) -> None:
    options = EngineOptions(jit_compile="on", epoch_loop="compiled")
    compiled_epochs._cache.clear()

    def spec(seed: int, optimizer: str = "adam") -> RunSpec:
        return RunSpec(study="reuse", model="mlp_300_100", optimizer=optimizer, batch_size=64,
                       epochs=2, seed=seed, validation="holdout:100")

    first = engine.run(spec(0), options)
    engine.run(spec(1), options)
    engine.run(spec(2, "sgd"), options)  # another configuration in between
    again = engine.run(spec(0), options)
    assert first["run"]["model_reused"] is False and again["run"]["model_reused"] is True
    assert first["run"]["compile_seconds"] > 0 and again["run"]["compile_seconds"] == 0
    assert again["run"]["epoch_loop"] == "compiled"
    assert again["run"]["test_accuracy"] == first["run"]["test_accuracy"]
    def curves(record: dict) -> list[tuple]:
        return [(e["epoch"], e["split"], e["metric"], e["value"]) for e in record["epochs"]
                if e["metric"] != "seconds"]

    assert curves(again) == curves(first) and len(curves(first)) == 8
    assert again["predictions"] == first["predictions"]


@pytest.mark.slow
def test_compiled_loop_accuracy_matches_keras_fit_over_seeds(real_data_dir: Path) -> None:
    acc: dict[str, list[float]] = {"keras": [], "compiled": []}
    for loop in acc:
        options = EngineOptions(jit_compile="on", epoch_loop=loop)
        for seed in range(6):
            spec = RunSpec(study="loop", model="mlp_300_100", optimizer="adam", batch_size=32,
                           epochs=1, fraction=0.1, validation="none", seed=seed)
            run = engine.run(spec, options)["run"]
            assert run["status"] == "ok" and run["epoch_loop"] == loop
            acc[loop].append(run["test_accuracy"])
    assert_same_accuracy(acc, "keras", "compiled", floor=0.7, tolerance=0.015)


def test_a_failing_compiled_loop_falls_back_to_fit_with_a_warning(
        tiny_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A Keras release that breaks the compiled loop (simulated) costs speed, not the run."""

    def broken(self, x, y) -> None:
        raise RuntimeError("simulated: train_step cannot be traced in a while_loop")

    monkeypatch.setattr(compiled_epochs.CompiledEpochs, "_build", broken)
    monkeypatch.setattr(compiled_epochs, "_cache", type(compiled_epochs._cache)())
    monkeypatch.setattr(compiled_epochs, "_unavailable", {})
    monkeypatch.setattr(engine, "_warned", set())
    spec = RunSpec(study="t", model="mlp_300_100", optimizer="adam", batch_size=64, epochs=2,
                   seed=0, validation="none")
    with caplog.at_level("WARNING", logger="bench.engine"):
        rows = [engine.run(spec.with_(seed=s), EngineOptions(data_dir=str(tiny_data_dir)))["run"]
                for s in (0, 1)]
    for row in rows:
        assert row["status"] == "ok", row.get("error")
        assert row["epoch_loop"] == "keras" and "simulated" in row["epoch_loop_fallback"]
        assert row["test_accuracy"] > 0.5  # chance is 0.1
    warnings = [r for r in caplog.records if "compiled epochs unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per reason, not once per run


def test_compiled_loop_restores_optimizer_state_by_variable_path() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((200, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 200).astype(np.int32)
    trainer = compiled_epochs.CompiledEpochs(_model(), x, y, batch_size=50)
    paths = [v.path for v in trainer.model.optimizer.variables]
    assert set(trainer.initial_optimizer_state) == set(paths)
    trainer.train_epoch(x, y, np.arange(len(y)))
    assert int(trainer.model.optimizer.iterations.numpy()) == 4
    trainer.reset(trainer.model.get_weights())
    for variable in trainer.model.optimizer.variables:
        np.testing.assert_array_equal(variable.numpy(),
                                      trainer.initial_optimizer_state[variable.path])
