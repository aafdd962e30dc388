"""``KERAS_BACKEND=jax`` end to end on a CPU: the same smoke study as with TensorFlow, the
same accuracies within a stated tolerance, and Keras' own loop instead of compiled epochs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import assert_same_accuracy, bench

# 4 optimizers x 2 seeds, 2 % of Fashion-MNIST for one epoch: accuracies 0.4-0.7 whose
# spread over seeds (~0.05) exceeds any backend difference; initial weights and batch order
# differ between the backends' random generators, so runs are not equal one by one
TOLERANCE = 0.06


@pytest.mark.slow
def test_jax_backend_smoke_study_matches_tensorflow(real_data_dir: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("jax") is None:
        pytest.fail("jax is not installed: pip install -e '.[dev]' installs jax[cpu]")
    args = ("run", "optimizers_mlp", "--profile", "smoke", "--seeds", "2", "--workers", "1")
    tf_out = bench(*args, "--results", str(tmp_path / "tf"))
    assert tf_out.returncode == 0, tf_out.stderr[-2000:]
    # the compiled-epoch loop is TensorFlow-only: asked for on JAX, it falls back and says why
    jax_out = bench(*args, "--epoch-loop", "compiled", "--results", str(tmp_path / "jax"),
                    env={"KERAS_BACKEND": "jax"})
    assert jax_out.returncode == 0, jax_out.stderr[-2000:]
    assert jax_out.stderr.count("compiled epochs unavailable") == 1, jax_out.stderr[-2000:]
    tf_runs = pd.read_parquet(tmp_path / "tf" / "runs.parquet")
    jax_runs = pd.read_parquet(tmp_path / "jax" / "runs.parquet")
    assert set(jax_runs["backend"]) == {"jax"} and set(tf_runs["backend"]) == {"tensorflow"}
    assert (jax_runs["status"] == "ok").all() and len(jax_runs) == len(tf_runs) == 8
    assert set(jax_runs["epoch_loop"]) == {"keras"} and set(tf_runs["epoch_loop"]) == {"compiled"}
    assert jax_runs["epoch_loop_fallback"].str.contains("TensorFlow backend").all()
    assert set(jax_runs["device"]) == {"cpu"}
    assert_same_accuracy({"tensorflow": list(tf_runs["test_accuracy"]),
                          "jax": list(jax_runs["test_accuracy"])}, "tensorflow", "jax",
                         floor=0.4, tolerance=TOLERANCE)
    # same split and configurations: the per-configuration means agree too
    merged = tf_runs.merge(jax_runs, on=["optimizer", "seed"], suffixes=("_tf", "_jax"))
    assert len(merged) == 8
    assert (merged["test_accuracy_tf"] - merged["test_accuracy_jax"]).abs().max() < 0.2
