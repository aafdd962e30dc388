"""bfloat16 mixed precision (the engine's CNN default on bf16 CPUs) keeps accuracy, over seeds."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import engine
from bench.options import EngineOptions
from bench.spec import RunSpec
from tests.helpers import assert_same_accuracy


@pytest.mark.slow
def test_bfloat16_cnn_accuracy_matches_float32_over_seeds(real_data_dir: Path) -> None:
    acc: dict[str, list[float]] = {"float32": [], "mixed_bfloat16": []}
    for precision in acc:
        for seed in range(3):
            spec = RunSpec(study="precision", dataset="mnist", model="cnn_manual",
                           optimizer="adam", batch_size=128, epochs=2, fraction=0.05,
                           test_fraction=0.3, seed=seed, precision=precision)
            run = engine.run(spec, EngineOptions())["run"]
            assert run["status"] == "ok" and run["precision"] == precision
            acc[precision].append(run["test_accuracy"])
    assert_same_accuracy(acc, "float32", "mixed_bfloat16", floor=0.8, tolerance=0.02)


def test_auto_precision_is_recorded_choice() -> None:
    options = EngineOptions()
    assert options.precision_for("float32", "cnn") == "float32"
    assert options.precision_for("auto", "mlp") == "float32"
    assert options.precision_for("auto", "cnn") in ("float32", "mixed_bfloat16")
