"""Study files the engine cannot run are refused before anything runs, naming the field; new
settings leave the hashes of stored runs unchanged; declared claims follow the same rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError
from bench.studies.config_file import load_study_file
from tests.helpers import ROOT, bench

HEAD = "name: bad\nbase: {dataset: mnist, model: model_1}\n"
BAD = {
    # a key the builder does not take (the l2 inside arch)
    "arch_l2": ("factors:\n  arch: [{kind: mlp, hidden: [64], l2: 1.0e-4}]\n",
                "factors.arch[0]", "unknown key(s) l2"),
    "dropout_rate": ("factors:\n  dropout: [0.2, 1.5]\n", "factors.dropout[1]", "[0, 1)"),
    # one rate per layer: 2 rates cannot fit the 1-layer network of arch[0]
    "dropout_x_arch": ("factors:\n  arch: [{kind: mlp, hidden: [64]}, "
                       "{kind: mlp, hidden: [32, 16]}]\n  dropout: [null, [0.5, 0.2]]\n",
                       "factors.arch[0] + factors.dropout[1]", "2 rates for 1 hidden"),
    "base_arch": ("base: {arch: {kind: mlp, hidden: [8], width: 3}}\nfactors:\n"
                  "  dropout: [0.1, 0.2]\n", "base", "unknown key(s) width"),
    "regularizer": ("factors:\n  regularizer: [{l3: 0.1}]\n", "factors.regularizer[0]",
                    "unknown regularizer 'l3'"),
    "optimizer_arg": ("factors:\n  optimizer: [{name: sgd, momentun: 0.9}]\n",
                      "factors.optimizer[0]", "unknown argument 'momentun'"),
    "optimizer_value": ("factors:\n  optimizer: [{name: sgd, momentum: 2}]\n",
                        "factors.optimizer[0]", "momentum"),
    "optimizer_name": ("factors:\n  optimizer: [sgdd]\n", "factors.optimizer[0]",
                       "unknown optimizer 'sgdd'"),
    "schedule_arg": ("factors:\n  learning_rate: [{name: cosine_decay, "
                     "initial_learning_rate: 0.1}]\n", "factors.learning_rate[0]",
                     "decay_steps"),
    "schedule_name": ("factors:\n  learning_rate: [{name: cosine_decayy}]\n",
                      "factors.learning_rate[0]", "unknown learning-rate schedule"),
    "smoothing": ("factors:\n  label_smoothing: [1.0]\n", "factors.label_smoothing[0]",
                  "label_smoothing must be in [0, 1)"),
    "builder": ("factors:\n  model: ['no_such_module:build']\n", "factors.model[0]",
                "cannot import 'no_such_module'"),
    "builder_output": ("factors:\n  model: ['tests.test_study_file_errors:wrong_builder']\n",
                       "factors.model[0]", "expected 10 classes"),
    "two_arch_factors": ("factors:\n  arch: [{kind: mlp, hidden: [64]}]\n"
                         "  model: [{label: v, model: model_2, arch: {kind: mlp, hidden: [8]}}]\n",
                         "factors", "factors 'arch' and 'model' both set 'arch'"),
    "cnn_too_deep": ("factors:\n  arch: [{kind: cnn, conv_filters: [4, 4, 4, 4, 4, 4, 4], "
                     "kernel: 5, padding: valid, pool: none}]\n", "factors.arch[0]",
                     "CNN too deep"),
    "claim_level": ("factors:\n  optimizer: [adam, sgd]\nclaims: [{kind: best_level, "
                    "level: rmsprop}]\n", "claims[0].level", "unknown level 'rmsprop'"),
    "claim_kind": ("factors:\n  optimizer: [adam]\nclaims: [{kind: wins, level: adam}]\n",
                   "claims.0.kind", ""),
    "builtin_name": ("factors:\n  optimizer: [adam]\n", "name", "built-in study"),
    "same_label": ("factors:\n  optimizer: [{name: sgd, momentum: 0.5, label: s}, "
                   "{name: sgd, label: s}]\n", "factors.optimizer[1]", "label 's'"),
}


def wrong_builder(input_shape, n_classes, spec):
    """A builder that forgets the number of classes."""
    import keras

    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_study_file_names_the_field(tmp_path: Path, case: str) -> None:
    body, field, words = BAD[case]
    head = HEAD.replace("name: bad", "name: optimizers") if case == "builtin_name" else HEAD
    head = "name: bad\n" if body.startswith("base:") else head
    path = tmp_path / "s.yaml"
    path.write_text(head + body)
    with pytest.raises(BenchError) as err:
        load_study_file(path)
    message = str(err.value)
    assert f"field '{field}'" in message and words in message, message
    assert "\n" not in message


@pytest.mark.parametrize("case", ["arch_l2", "dropout_x_arch"])
def test_bad_combination_exits_2_before_anything_runs(tmp_path: Path, case: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + BAD[case][0])
    out = bench("run", "--config", str(path), "--results", str(tmp_path / "R"))
    assert out.returncode == 2, out.stderr[-2000:]
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and BAD[case][1] in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "R").exists()


def test_stored_runs_keep_their_hash() -> None:
    """Runs committed in a result set are found again: new settings at their default leave
    a spec's hash as it was (a changed hash would re-train every stored run)."""
    from bench.studies import PROFILES, REGISTRY

    records = ROOT / "data_cache" / "results" / "quick-cpu-amd-epyc-2c" / "records" / "runs"
    stored: dict[str, set[str]] = {}
    for path in records.glob("*.json"):
        run = json.loads(path.read_text())["run"]
        assert run["run_id"] == run["config_hash"]
        stored.setdefault(run["study"], set()).add(run["run_id"])
    for name in ("optimizers_mlp", "initializers", "keras_models", "cnn_manual"):
        specs = REGISTRY.get(name).expand(PROFILES["quick"], [0, 1, 2])
        assert stored[name] and stored[name] <= {s.config_hash() for s in specs}, name
    spec = REGISTRY.get("optimizers_mlp").expand(PROFILES["quick"], [0])[0]
    assert spec.with_(dropout=0.2).config_hash() != spec.config_hash()
    assert spec.with_(label_smoothing=0.1).config_hash() != spec.config_hash()


def test_declared_claims_are_judged_like_the_papers(tmp_path: Path) -> None:
    """A study file's best_level claim: confirmed when its level wins by far on 5 seeds,
    not confirmed when it loses (synthetic runs with a known truth)."""
    from bench.report import build_report
    from bench.store import ResultStore

    store = ResultStore(tmp_path / "R")
    definition = {"name": "mine", "base": {"dataset": "mnist"},
                  "factors": {"dropout": [None, 0.2, 0.5]},
                  "claims": [{"kind": "best_level", "level": 0.2},
                             {"kind": "best_level", "level": None, "text": "No dropout wins."}]}
    store.update_manifest(user_studies={"mine": definition})
    rng = np.random.default_rng(0)
    for level, mean in (("none", 0.80), ("0.2", 0.85), ("0.5", 0.82)):
        for seed in range(5):
            acc = mean + rng.normal(0, 0.002)
            store.write_record("runs", f"{level}-{seed}", {"run": {
                "run_id": f"{level}-{seed}", "study": "mine", "status": "ok", "seed": seed,
                "test_accuracy": acc, "test_loss": 1 - acc, "train_seconds": 1.0, "epochs": 5,
                "validation": "holdout:0.1", "selection": "validation", "params": 1,
                "factors": {"factor": "dropout", "level": level, "profile": "paper"}},
                "epochs": [], "classes": [], "confusion": [], "predictions": []})
    store.compact()
    build_report(store)
    claims = store.table("derived/claims").set_index("claim_id")
    assert claims.loc["mine_1", "verdict"] == "confirmed"
    assert claims.loc["mine_1", "claim"] == "The best level is 0.2."
    assert claims.loc["mine_2", "verdict"] == "not confirmed"
    assert claims.loc["mine_2", "claim"] == "No dropout wins."


def test_a_key_given_twice_is_refused_with_its_line(tmp_path: Path) -> None:
    """PyYAML would keep the second ``optimizer`` silently and drop adam and sgd."""
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "factors:\n  optimizer: [adam, sgd]\n  optimizer: [rmsprop]\n")
    with pytest.raises(BenchError) as err:
        load_study_file(path)
    message = str(err.value)
    assert "line 5" in message and "'optimizer' appears twice" in message, message
