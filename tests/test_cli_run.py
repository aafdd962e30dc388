"""``bench run``: end to end on the real data, cache/resume, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import bench

RUN_COLUMNS = {
    "run_id", "config_hash", "study", "dataset", "model", "seed", "status", "params", "epochs",
    "batch_size", "optimizer", "learning_rate", "activation", "initializer", "fraction",
    "test_accuracy", "test_loss", "train_seconds", "factor", "level",
}


@pytest.mark.slow
def test_optimizers_mlp_smoke_end_to_end(real_data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "R"
    first = bench("run", "optimizers_mlp", "--profile", "smoke", "--results", str(results))
    assert first.returncode == 0, first.stderr[-2000:]
    runs = pd.read_parquet(results / "runs.parquet")
    assert set(runs.columns) >= RUN_COLUMNS
    assert sorted(runs["optimizer"]) == ["adam", "momentum", "rmsprop", "sgd"]
    assert (runs["status"] == "ok").all()
    assert (runs["test_accuracy"] > 0.4).all()  # chance is 0.1
    assert (runs["params"] == 266_610).all()
    epochs = pd.read_parquet(results / "epochs.parquet")
    assert {"run_id", "epoch", "split", "metric", "value"} == set(epochs.columns)
    assert set(epochs["metric"]) == {"loss", "accuracy", "seconds"}
    assert set(epochs["split"]) == {"train", "val"}
    classes = pd.read_parquet(results / "classes.parquet")
    assert len(classes) == 40 and "Ankle boot" in set(classes["class_name"])
    manifest = json.loads((results / "manifest.json").read_text())
    for key in ("schema_version", "machine", "libraries", "keras_backend", "sessions", "datasets"):
        assert key in manifest
    assert manifest["sessions"][0]["profile"] == "smoke"

    records = sorted((results / "records" / "runs").glob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in records]
    second = bench("run", "optimizers_mlp", "--profile", "smoke", "--results", str(results))
    assert second.returncode == 0
    assert "ran:" not in second.stderr  # nothing trained
    assert [p.stat().st_mtime_ns for p in records] == stamps
    assert len(pd.read_parquet(results / "runs.parquet")) == 4


def test_unknown_study_lists_valid_names_and_exits_2(tmp_path: Path) -> None:
    out = bench("run", "optimizer_mlp", "--results", str(tmp_path / "R"))
    assert out.returncode == 2
    assert "unknown study 'optimizer_mlp'" in out.stderr and "optimizers_mlp" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "R").exists()


def test_unknown_profile_exits_2(tmp_path: Path) -> None:
    out = bench("run", "optimizers_mlp", "--profile", "huge", "--results", str(tmp_path / "R"))
    assert out.returncode == 2 and "valid: full, paper, quick, smoke" in out.stderr
    assert not (tmp_path / "R").exists()


def test_missing_dataset_exits_2_without_writing(tmp_path: Path) -> None:
    out = bench("run", "optimizers_mlp", "--data-dir", str(tmp_path / "nowhere"),
                "--results", str(tmp_path / "R"))
    assert out.returncode == 2 and "does not exist" in out.stderr
    assert not (tmp_path / "R").exists()


@pytest.mark.slow
def test_hpo_smoke_writes_trials_for_three_libraries(real_data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "H"
    out = bench("run", "hpo", "--profile", "smoke", "--results", str(results))
    assert out.returncode == 0, out.stderr[-2000:]
    trials = pd.read_parquet(results / "trials.parquet")
    assert set(trials["library"]) == {"optuna", "hyperopt", "scikit-optimize"}
    for lib, group in trials.groupby("library"):
        # labelled as trained (smoke: 2 % of each paper fraction), the paper's value beside
        assert sorted(group["fraction_nominal"].unique()) == [0.25, 0.5, 0.75, 1.0], lib
        assert np.allclose(sorted(group["fraction"].unique()), [0.005, 0.01, 0.015, 0.02]), lib
        assert (group["selection"] == "validation").all()
    for col in ("objective", "test_accuracy", "trial_seconds", "suggest_seconds",
                "elapsed_seconds", "best_so_far", "params_json", "status", "trial"):
        assert trials[col].notna().all(), col
    assert (results / "optuna" / "journal.log").exists()
    assert (results / "derived" / "hpo_methods.parquet").exists()


@pytest.mark.slow
def test_algorithms_option_selects_methods(real_data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "H"
    out = bench("run", "hpo", "--profile", "smoke", "--results", str(results),
                "--algorithms", "optuna:random,hyperopt:anneal")
    assert out.returncode == 0, out.stderr[-2000:]
    trials = pd.read_parquet(results / "trials.parquet")
    assert set(trials["method"]) == {"optuna:random", "hyperopt:anneal"}
    bad = bench("run", "hpo", "--results", str(results), "--algorithms", "optuna:nope")
    assert bad.returncode == 2 and "unknown optuna algorithm" in bad.stderr


@pytest.mark.slow
def test_ray_executor_writes_the_same_rows(real_data_dir: Path, tmp_path: Path) -> None:
    local, ray = tmp_path / "local", tmp_path / "ray"
    a = bench("run", "optimizers_mlp", "--profile", "smoke", "--results", str(local))
    b = bench("run", "optimizers_mlp", "--profile", "smoke", "--results", str(ray),
              "--executor", "ray", "--workers", "2")
    assert a.returncode == 0 and b.returncode == 0, b.stderr[-3000:]
    ra = pd.read_parquet(local / "runs.parquet").set_index("run_id").sort_index()
    rb = pd.read_parquet(ray / "runs.parquet").set_index("run_id").sort_index()
    assert list(ra.index) == list(rb.index) and len(ra) == 4
    assert set(ra.columns) == set(rb.columns)
    assert (rb["status"] == "ok").all()
    assert (abs(ra["test_accuracy"] - rb["test_accuracy"]) < 0.05).all()
    manifest = json.loads((ray / "manifest.json").read_text())
    assert manifest["sessions"][-1]["executor"] == "ray"


@pytest.mark.slow
def test_workers_pool_writes_every_run_once(real_data_dir: Path, tmp_path: Path) -> None:
    out = bench("run", "optimizers_mlp", "--profile", "smoke", "--results", str(tmp_path / "W"),
                "--workers", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    runs = pd.read_parquet(tmp_path / "W" / "runs.parquet")
    assert len(runs) == 4 and runs["run_id"].is_unique and (runs["status"] == "ok").all()


@pytest.mark.slow
def test_study_file_runs(tiny_data_dir: Path, tmp_path: Path) -> None:
    study = tmp_path / "s.toml"
    study.write_text('name = "mine"\n[base]\ndataset = "mnist"\nmodel = "model_1"\nepochs = 2\n'
                     '[factors]\noptimizer = ["adam", "sgd"]\n')
    out = bench("run", "--config", str(study), "--profile", "paper", "--seeds", "3",
                "--results", str(tmp_path / "R"))
    assert out.returncode == 0, out.stderr[-2000:]
    runs = pd.read_parquet(tmp_path / "R" / "runs.parquet")
    assert len(runs) == 6 and set(runs["study"]) == {"mine"}
    levels = pd.read_parquet(tmp_path / "R" / "derived" / "levels.parquet")
    mine = levels[levels["study"] == "mine"]
    assert set(mine["level"]) == {"adam", "sgd"} and (mine["n"] == 3).all()
    assert mine["accuracy_ci_low"].notna().all()
    assert (tmp_path / "R" / "derived" / "claims.parquet").exists()


@pytest.mark.parametrize("case", ["huge_seeds", "results_is_file", "results_under_proc"])
def test_bad_run_arguments_exit_2_with_one_line(tmp_path: Path, case: str) -> None:
    target = tmp_path / "R"
    args = ["run", "optimizers_mlp", "--results", str(target)]
    if case == "huge_seeds":
        args += ["--seeds", "100000000"]
    elif case == "results_is_file":
        target.write_text("not a folder")
        args[3] = str(target)
    else:
        args[3] = "/proc/bench-results"
    out = bench(*args)
    assert out.returncode == 2, out.stderr[-1500:]
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    if case == "huge_seeds":
        assert not target.exists()
    if case == "results_is_file":
        assert target.read_text() == "not a folder"
