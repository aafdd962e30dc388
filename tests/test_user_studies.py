"""Study files: every documented form trains what it says (tiny real trainings on generated
data, smoke profile), bad combinations are refused before anything runs, and a user study
gets its site page."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import ROOT, bench, make_tiny_dataset

EXAMPLES = ROOT / "docs" / "examples"


def tiny_builder(input_shape, n_classes, spec):
    """A custom builder for the tests: two parallel Dense branches of ``arch.width`` units."""
    import keras

    width = int(spec.architecture().get("width", 8))
    inputs = keras.Input(input_shape)
    x = keras.layers.Flatten()(inputs)
    branches = [keras.layers.Dense(width, activation="relu")(x) for _ in range(2)]
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(
        keras.layers.Add()(branches)))


@pytest.fixture(scope="module")
def data_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("data")
    make_tiny_dataset(root / "mnist", seed=1)
    make_tiny_dataset(root / "fashion-mnist", seed=2)
    return {"BENCH_DATA_DIR": str(root), "BENCH_CACHE_DIR": str(root / "cache")}


def _run(config: Path, results: Path, env: dict[str, str], *extra: str) -> pd.DataFrame:
    out = bench("run", "--config", str(config), "--profile", "smoke", "--results", str(results),
                *extra, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = pd.read_parquet(results / "runs.parquet")
    assert (runs["status"] == "ok").all(), runs[["level", "error"]]
    return runs


def _by_level(runs: pd.DataFrame) -> dict[str, dict]:
    return {r["level"]: r for r in runs.to_dict("records")}


def _distinct(runs: pd.DataFrame) -> None:
    """Every level trained something different: network as built, optimizer as compiled, or
    loss."""
    trained = runs[["layers", "optimizer_config", "label_smoothing"]].astype(str).agg("|".join,
                                                                                     axis=1)
    assert trained.nunique() == runs["level"].nunique() == len(runs), runs[["level", "layers"]]


@pytest.mark.slow
def test_dropout_levels_build_their_dropout_layers(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "dropout.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert set(lv) == {"none", "0.2", "0.5,0.2"}
    assert "dropout" not in lv["none"]["layers"]
    assert lv["0.2"]["layers"] == "flatten dense300 dropout0.2 dense100 dropout0.2 dense10"
    assert lv["0.5,0.2"]["layers"] == "flatten dense300 dropout0.5 dense100 dropout0.2 dense10"
    assert runs["dropout"].dtype == float and lv["0.2"]["dropout"] == 0.2
    assert json.loads(lv["0.5,0.2"]["dropout_rates"]) == [0.5, 0.2]
    assert lv["none"]["model"] == "mlp_300_100" and lv["0.2"]["model"] == "mlp_300_100_do0.2"
    assert runs["params"].nunique() == 1  # dropout adds no weights


@pytest.mark.slow  # ~50 s: a subprocess, Keras, 4-6 trainings
def test_regularizers_penalise_every_kernel(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "regularizer.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert set(lv) == {"none", "l2=0.0001", "l1=1e-05", "l1_l2=1e-05,0.0001"}
    assert "[" not in lv["none"]["layers"]
    assert lv["l2=0.0001"]["layers"].count("[l2=0.0001]") == 3
    assert lv["l1=1e-05"]["layers"].count("[l1=1e-05]") == 3
    assert lv["l1_l2=1e-05,0.0001"]["layers"].count("[l1=1e-05,l2=0.0001]") == 3
    assert json.loads(lv["l2=0.0001"]["regularizer"]) == {"l2": 0.0001}
    # the penalty is in the training loss: same weights at the start, a larger first loss
    epochs = pd.read_parquet(tmp_path / "R" / "epochs.parquet")
    first = epochs[(epochs["split"] == "train") & (epochs["metric"] == "loss")].set_index(
        "run_id")["value"]
    assert first[lv["l1=1e-05"]["run_id"]] > first[lv["none"]["run_id"]]


@pytest.mark.slow  # ~50 s: a subprocess, Keras, 4-6 trainings
def test_cnn_factors_compose_dropout_and_regularizer(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "cnn_regularized.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert set(lv) == {"none|none", "none|l2=0.0001", "0.5|none", "0.5|l2=0.0001"}
    assert "dropout" not in lv["none|none"]["layers"]  # null overrides the base's 0.1
    for level, row in lv.items():
        assert row["layers"].startswith("conv2d16k3x3") and row["model_kind"] == "cnn"
        assert ("dropout0.5" in row["layers"]) == level.startswith("0.5")
        assert ("conv2d16k3x3[l2=0.0001]" in row["layers"]) == level.endswith("l2=0.0001")


@pytest.mark.slow
def test_architecture_factor_crossed_with_dropout(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "architectures.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert set(lv) == {"mlp 64|none", "mlp 64|0.3", "wide|none", "wide|0.3"}
    assert lv["mlp 64|0.3"]["layers"] == "flatten dense64 dropout0.3 dense10"
    assert lv["wide|0.3"]["layers"] == "flatten dense256 dropout0.3 dense64 dropout0.3 dense10"
    assert lv["mlp 64|none"]["params"] == 784 * 64 + 64 + 650
    assert lv["wide|none"]["model"] == "mlp_256_64" and lv["wide|0.3"]["model"] == \
        "mlp_256_64_do0.3"
    assert lv["wide|0.3"]["activation"] == "relu"


@pytest.mark.slow
def test_optimizer_arguments_reach_keras(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "optimizer_args.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    nesterov = json.loads(lv["sgd(momentum=0.9, nesterov=True)"]["optimizer_config"])
    plain = json.loads(lv["sgd"]["optimizer_config"])
    adamw = json.loads(lv["adamw"]["optimizer_config"])
    assert (nesterov["class"], nesterov["momentum"], nesterov["nesterov"]) == ("SGD", 0.9, True)
    assert (plain["momentum"], plain["nesterov"]) == (0.0, False)
    assert (adamw["class"], adamw["weight_decay"], adamw["beta_2"]) == ("AdamW", 0.004, 0.99)
    assert adamw["learning_rate"] == pytest.approx(0.01)
    assert lv["adamw"]["optimizer"] == "adamw"
    assert json.loads(lv["adamw"]["optimizer_args"]) == {"weight_decay": 0.004, "beta_2": 0.99}


@pytest.mark.slow  # ~50 s: a subprocess, Keras, 4-6 trainings
def test_schedules_and_label_smoothing(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "schedules.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert len(lv) == 6
    cosine = json.loads(lv["cosine|0.1"]["optimizer_config"])["learning_rate"]
    assert cosine["class_name"] == "CosineDecay"
    assert cosine["config"]["decay_steps"] == 5000
    assert lv["cosine|0.1"]["learning_rate"] == 0.05  # the schedule's initial rate
    assert json.loads(lv["exponential|none"]["lr_schedule"])["decay_rate"] == 0.5
    assert pd.isna(lv["0.05|none"]["lr_schedule"])
    assert lv["0.05|0.1"]["label_smoothing"] == 0.1 and lv["0.05|none"]["label_smoothing"] == 0
    # the same network from the same weights and batches: only the loss differs
    epochs = pd.read_parquet(tmp_path / "R" / "epochs.parquet")
    loss = epochs[(epochs["split"] == "train") & (epochs["metric"] == "loss")].set_index(
        "run_id")["value"]
    assert loss[lv["0.05|0.1"]["run_id"]] != loss[lv["0.05|none"]["run_id"]]


@pytest.mark.slow  # ~50 s: a subprocess, Keras, 4-6 trainings
def test_custom_builder_next_to_the_study_file(data_env: dict, tmp_path: Path) -> None:
    runs = _run(EXAMPLES / "custom_model.yaml", tmp_path / "R", data_env)
    _distinct(runs)
    lv = _by_level(runs)
    assert set(lv) == {"width=32|none", "width=32|0.2", "width=128|none", "width=128|0.2"}
    assert (runs["model"] == "my_model:build").all() and (runs["model_kind"] == "custom").all()
    assert "concatenate" in lv["width=32|none"]["layers"]
    assert "dropout0.2" in lv["width=128|0.2"]["layers"]
    assert lv["width=128|none"]["params"] == 784 * 128 + 128 + (784 + 128) * 10 + 10


@pytest.mark.slow
def test_builder_in_a_test_module_and_the_site_page(data_env: dict, tmp_path: Path) -> None:
    study = tmp_path / "two_branches.yaml"
    study.write_text(
        "name: two_branches\ntitle: Two Dense branches, two widths\n"
        "base: {dataset: mnist, model: 'tests.test_user_studies:tiny_builder', optimizer: adam}\n"
        "factors:\n  arch: [{width: 8}, {width: 24}]\n"
        "claims:\n  - {kind: best_level, level: width=24}\n")
    runs = _run(study, tmp_path / "R", data_env, "--seeds", "3")
    assert len(runs) == 6 and set(runs["level"]) == {"width=8", "width=24"}
    params = runs.groupby("level")["params"].first()
    assert params["width=8"] == 2 * (784 * 8 + 8) + 90 and params["width=24"] == 2 * (
        784 * 24 + 24) + 250
    assert all("add" in layers for layers in runs["layers"])
    claims = pd.read_parquet(tmp_path / "R" / "derived" / "claims.parquet")
    mine = claims[claims["study"] == "two_branches"]
    assert list(mine["claim"]) == ["The best level is width=24."]
    assert mine["verdict"].iloc[0] != "inconclusive" and mine["n"].iloc[0] == 3
    site = tmp_path / "site"
    out = bench("site", "--results", str(tmp_path / "R"), "--out", str(site), env=data_env)
    assert out.returncode == 0, out.stderr[-3000:]
    page = (site / "studies" / "two_branches.html").read_text()
    assert "Two Dense branches, two widths" in page and "The best level is width=24." in page
    assert "each level against it (paired by seed)" in page  # the paired statistics
    assert "tests.test_user_studies:tiny_builder" in page  # the study file, as run
    assert "What each level trained" in page and "dense24" in page
    assert (site / "studies" / "charts" / "two_branches-levels.json").exists()
    assert "two_branches.html" in (site / "studies" / "user-studies.html").read_text()
