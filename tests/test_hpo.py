"""HPO: one space in three libraries, method selection, failed trials kept."""

from __future__ import annotations

import math
import re

import pytest

from bench.errors import BenchError
from bench.hpo import libraries
from bench.hpo.space import HPO_LIBS, OPTUNA_HYPEROPT, normalise, to_run_settings
from bench.spec import RunSpec


def _fake_evaluate(params: dict) -> dict:
    """A cheap deterministic objective: higher learning rate (log) is better."""
    acc = 0.5 + 0.04 * math.log10(params["learning_rate"])
    if params.get("activation") == "sigmoid":
        return {"run": {"status": "failed", "error": "injected failure"}}
    return {"run": {"status": "ok", "score_accuracy": acc, "test_accuracy": acc,
                    "test_loss": 1 - acc, "train_seconds": 0.0}}


@pytest.mark.parametrize("method", [
    "optuna:tpe", "optuna:random", "optuna:cmaes", "optuna:qmc", "hyperopt:tpe", "hyperopt:rand",
    "hyperopt:anneal", "hyperopt:atpe", "skopt:gp", "skopt:forest", "skopt:gbrt", "skopt:random",
])
def test_every_algorithm_runs_its_own_loop(method: str) -> None:
    (lib, alg), = libraries.parse_methods(method)
    log = libraries.TrialLog(HPO_LIBS, _fake_evaluate)
    libraries.run_search(lib, alg, log, n_trials=4, seed=0, storage=None, study_name="t")
    assert len(log.rows) == 4
    for row in log.rows:
        assert row["suggest_seconds"] >= 0 and row["trial_seconds"] >= 0
        assert isinstance(row["param_conv_layers"], int) and 1 <= row["param_conv_layers"] <= 3
        assert 1e-6 <= row["param_learning_rate"] <= 1e-2
        if row["param_activation"] == "sigmoid":
            assert row["status"] == "failed" and row["objective"] is None
    best = [r["best_so_far"] for r in log.rows if r["best_so_far"] is not None]
    assert best == sorted(best)


def test_parse_methods_and_errors() -> None:
    assert libraries.parse_methods("skopt:gp,optuna") == [("scikit-optimize", "gp")] + [
        ("optuna", a) for a in libraries.ALGORITHMS["optuna"]]
    with pytest.raises(BenchError, match="valid: optuna, hyperopt, scikit-optimize"):
        libraries.parse_methods("nevergrad:de")
    with pytest.raises(BenchError, match="unknown hyperopt algorithm 'cmaes'"):
        libraries.parse_methods("hyperopt:cmaes")


def test_spaces_translate_to_valid_run_specs() -> None:
    for space, params in (
        (HPO_LIBS, {"learning_rate": 1e-3, "conv_layers": 3.0, "dense_layers": 5, "units": 512,
                    "activation": "relu", "filters": 32, "optimizer": "adam"}),
        (OPTUNA_HYPEROPT, {"batch_size": 128, "filters": 64, "kernel": 3, "strides": 1,
                           "activation": "relu", "dropout": 0.5, "hidden": 128,
                           "learning_rate": 5e-4}),
    ):
        settings = to_run_settings(space, normalise(space, params))
        spec = RunSpec(study="t", dataset="mnist", **settings)
        spec.validate()
        assert spec.architecture()["kind"] == "cnn"


def test_optuna_journal_storage_is_written(tmp_path) -> None:
    log = libraries.TrialLog(HPO_LIBS, _fake_evaluate)
    journal = tmp_path / "optuna" / "journal.log"
    libraries.run_search("optuna", "tpe", log, 3, 0, storage=journal, study_name="s1")
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(journal)))
    assert len(optuna.load_study(study_name="s1", storage=storage).trials) == 3


def test_optuna_gp_without_torch_is_skipped_not_failed(monkeypatch) -> None:
    import importlib.util

    from bench.hpo import runner

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert not runner.available("optuna", "gp")
    assert runner.available("optuna", "tpe") and runner.available("hyperopt", "atpe")


def test_reports_compare_searches_at_the_largest_budget_with_per_cell_seeds() -> None:
    import pandas as pd

    from bench.report.hpo import current_searches

    searches = pd.DataFrame({
        "search_id": list("abcdefgh"),
        "study": ["hpo"] * 5 + ["hpo_epochs"] * 3,
        "method": ["optuna:tpe", "optuna:tpe", "hyperopt:tpe", "optuna:tpe", "hyperopt:tpe",
                   "optuna:tpe", "optuna:tpe", "optuna:tpe"],
        "budget": [4, 10, 10, 10, 20, None, None, 30],
        "n_trials": [4, 10, 10, 10, 12, 4, 4, 12],
        "status": ["ok", "ok", "ok", "ok", "interrupted", "ok", "ok", "interrupted"],
        "sampler_seed": [None, 11.0, 12.0, None, 13.0, None, None, 14.0],
    })
    kept = current_searches(searches)
    # hpo: budget 10, where both methods finished (20 is one interrupted search), and of those
    # the per-cell seeded ones; hpo_epochs: the finished 4-trial searches of older records
    assert sorted(kept["search_id"]) == ["b", "c", "f", "g"]


def _fraction_searches(slope: float, seeds: int, rng, shared_sd: float = 0.0):
    """Best test accuracy of 3 methods x ``seeds`` x 4 fractions: a per-(method, seed) level,
    ``slope`` x fraction, a (seed, fraction) effect of SD ``shared_sd`` that every method of
    the seed shares (the seed's data subset at that fraction), and noise."""
    import pandas as pd

    rows = []
    shared = {(s, f): rng.normal(0, shared_sd) for s in range(seeds)
              for f in (0.05, 0.1, 0.15, 0.2)}
    for method in ("optuna:tpe", "hyperopt:tpe", "scikit-optimize:gp"):
        for seed in range(seeds):
            level = rng.normal(0.9, 0.03)
            for fraction in (0.05, 0.1, 0.15, 0.2):
                rows.append({"method": method, "seed": seed, "fraction": fraction,
                             "best_test_accuracy": level + slope * fraction
                             + shared[seed, fraction] + rng.normal(0, 0.01)})
    return pd.DataFrame(rows)


def test_more_data_verdict_is_a_paired_trend_test_with_known_truth() -> None:
    import numpy as np

    from bench.report.hpo import more_data_verdict

    rng = np.random.default_rng(0)
    assert more_data_verdict(_fraction_searches(0.3, 5, rng))[0] == "confirmed"
    assert more_data_verdict(_fraction_searches(-0.3, 5, rng))[0] == "not confirmed"
    assert more_data_verdict(_fraction_searches(0.3, 2, rng))[0] == "undecidable"  # < MIN_SEEDS
    # no trend, but each seed's subset moves every method of the seed together at a fraction
    # (SD 0.02 against noise 0.01): methods are not independent blocks, seeds are
    false = sum(more_data_verdict(_fraction_searches(0.0, 5, rng, 0.02))[0] == "confirmed"
                for _ in range(300))
    assert false / 300 <= 0.08
    # no gain, measured tightly: shown to be below the margin (0.002 on MNIST)
    flat = _fraction_searches(0.0, 80, np.random.default_rng(1))
    assert more_data_verdict(flat)[0] == "not confirmed"
    verdict, evidence, numbers = more_data_verdict(_fraction_searches(0.3, 5, rng))
    assert numbers["n"] == 5 and numbers["margin"] == 0.002
    assert "over 5 seeds" in evidence
    low, high = map(float, re.search(r"minus 0.05: \S+ \[(\S+), (\S+)\]", evidence).groups())
    assert low < 0.3 * 0.15 < high  # the CI covers the true gain


def test_hpo_claims_state_their_n_and_the_protocol_of_the_searches() -> None:
    import numpy as np

    from bench.report.hpo import hpo_claims

    rng = np.random.default_rng(2)
    searches = _fraction_searches(0.3, 5, rng).assign(
        study="hpo", status="ok", profile="quick", optimization_seconds=10.0)
    searches["suggest_seconds_total"] = rng.lognormal(-3, 1.0, len(searches))
    searches["library"] = searches["method"].str.split(":").str[0]
    rows = {r["claim_id"]: r for r in hpo_claims(searches)}
    assert {r["protocol"] for r in rows.values()} == {"reduced"}  # quick is a reduced profile
    assert rows["hpo_more_data_helps"]["n"] == 5
    assert rows["hpo_more_data_helps"]["evidence"].startswith("live searches: ")
    paper = hpo_claims(searches.assign(profile="paper"))
    assert {r["protocol"] for r in paper} == {"paper"}
    # one overhead distribution, same accuracy model for every library: measured, but
    # nothing to decide;
    # "inconclusive" is kept for claims without data
    assert rows["hpo_optuna_fastest"]["verdict"] == "undecidable"
    assert rows["hpo_hyperopt_most_accurate"]["verdict"] == "undecidable"
