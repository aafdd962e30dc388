"""bfloat16 mixed precision (the engine's CNN default on bf16 CPUs) keeps accuracy, over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from bench import engine
from bench.options import EngineOptions
from bench.spec import RunSpec


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
    f32, bf16 = np.array(acc["float32"]), np.array(acc["mixed_bfloat16"])
    assert f32.mean() > 0.8  # both actually learn
    assert abs(f32.mean() - bf16.mean()) < 0.02, acc
    assert stats.ttest_ind(f32, bf16, equal_var=False).pvalue > 0.01, acc


def test_auto_precision_is_recorded_choice() -> None:
    options = EngineOptions()
    assert options.precision_for("float32", "cnn") == "float32"
    assert options.precision_for("auto", "mlp") == "float32"
    assert options.precision_for("auto", "cnn") in ("float32", "mixed_bfloat16")
