"""The tabular benchmark's truth: regret against the current table, noise-tolerant ranks,
ranks under each table seed, and the top region against its extra seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.report.table_check import top_region_check
from bench.report.tabular import final_ranks
from bench.report.tabular_truth import TOLERANCE, conclusion, rescore, stability, tolerant

LABELS = [f"lr=1e-0{i % 5 + 2},conv={i % 3 + 1},dense=1,units=8,relu,f16,adam" for i in range(6)]


def table(values: dict[str, list[float]]) -> pd.DataFrame:
    """A table's runs: per label its seeds' validation accuracies."""
    rows = []
    for i, (label, vals) in enumerate(values.items()):
        for seed, v in enumerate(vals):
            rows.append({"study": "hpo_table", "profile": "p", "level": label, "seed": seed,
                         "status": "ok", "final_val_accuracy": v, "train_seconds": 1.0 + i,
                         "started_at": float(10 * i + seed)})
    return pd.DataFrame(rows)


def searches(ends: dict[str, list[str]], trials: int = 3) -> pd.DataFrame:
    """Per method, per seed, a search whose incumbent is ``label`` from its first trial."""
    rows = []
    for method, labels in ends.items():
        for seed, label in enumerate(labels):
            for t in range(trials):
                rows.append({"study": "hpo_tabular", "profile": "p", "table": "hpo_table",
                             "method": method, "seed": seed, "trial": t,
                             "search_id": f"{method}-{seed}", "config": label,
                             "incumbent": label, "suggest_seconds": 0.5, "regret": 9.0})
    return pd.DataFrame(rows)


def test_regret_and_time_are_recomputed_against_the_table_as_it_stands() -> None:
    runs = table({LABELS[0]: [0.90, 0.92], LABELS[1]: [0.95, 0.97, 0.96, 0.96, 0.96]})
    out = rescore(searches({"optuna:tpe": [LABELS[0]]}), runs)
    assert out["regret"].tolist() == pytest.approx([0.96 - 0.91] * 3)
    cost = out["cost_seconds"].iloc[0]
    assert out["simulated_seconds"].tolist() == pytest.approx(
        [(cost + 0.5) * k for k in (1, 2, 3)])


def test_regrets_within_the_tolerance_tie() -> None:
    n = 10
    trials = pd.concat([searches({"a": [LABELS[0]] * n}), searches({"b": [LABELS[1]] * n})])
    trials["regret"] = np.where(trials["method"] == "a", 0.001, 0.004)
    plain = final_ranks(None, None, trials).set_index("method")["mean_rank"]
    assert plain["a"] == 1.0 and plain["b"] == 2.0
    tied = final_ranks(None, None, tolerant(trials)).set_index("method")["mean_rank"]
    assert tied["a"] == tied["b"] == 1.5
    trials["regret"] = np.where(trials["method"] == "a", 0.001, TOLERANCE + 0.001)
    apart = final_ranks(None, None, tolerant(trials)).set_index("method")["mean_rank"]
    assert apart["a"] == 1.0


def test_a_leader_that_depends_on_the_table_seed_is_reported_so() -> None:
    # seed 0 says LABELS[0] is best, seed 1 says LABELS[1]; x always ends at 0, y at 1
    runs = table({LABELS[0]: [0.96, 0.94], LABELS[1]: [0.94, 0.965], LABELS[2]: [0.5, 0.5]})
    n = 12
    trials = searches({"x": [LABELS[0]] * n, "y": [LABELS[1]] * n,
                       "optuna:random": [LABELS[2]] * n})
    trials = rescore(trials, runs)
    stable = stability(trials, runs, [None], tolerance=0.05)
    plain = stable[stable["tolerance"] == 0].groupby("truth")["leader"].first()
    assert plain["seed 0"] == "x" and plain["seed 1"] == "y"
    tied = stable[stable["tolerance"] > 0]
    assert set(tied[tied["method"].isin(["x", "y"])]["mean_rank"]) == {1.5}
    ranks = final_ranks(None, None, tolerant(rescore(trials, runs), TOLERANCE))
    sentence = conclusion(ranks, stable[stable["tolerance"] == 0].assign(tolerance=1.0))
    assert "leader changes with the table seed" in sentence
    assert "'model-based beats random' survives" in sentence


def _top(shift: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = np.linspace(0.93, 0.96, 30)
    values = {}
    for i, t in enumerate(truth):
        base = list(t + rng.normal(0, 0.004, 2))
        values[f"c{i}"] = base + list(t + shift + rng.normal(0, 0.004, 3))
    return table(values)


def test_the_top_region_check_agrees_when_the_extra_seeds_match_and_not_when_they_drift():
    same = top_region_check(_top(0.0)).iloc[0]
    assert same["configs"] == 30 and same["extra_seeds"] == 3
    assert same["within_own_band"] >= 0.85 and same["verdict"] == "agrees"
    assert same["rho_ci_low"] > 0.3
    drift = top_region_check(_top(0.02)).iloc[0]
    assert drift["verdict"] == "disagrees"


def test_a_region_chosen_on_the_base_seeds_reads_as_optimistic_not_as_broken() -> None:
    low = top_region_check(_top(-0.015)).iloc[0]
    assert low["bias_ci_high"] < 0
    assert low["verdict"] == "ranking holds, values optimistic"


def test_the_fidelity_check_ranks_the_sample_against_the_table() -> None:
    from bench.report.table_check import fidelity_check

    rng = np.random.default_rng(1)
    labels = [f"lr=1e-0{2 + i % 2},conv={i},dense=1,units=8,relu,f16,adam" for i in range(40)]
    truth = np.linspace(0.90, 0.96, 40)
    rows = []
    for lab, t in zip(labels, truth, strict=True):
        rows += [{"study": "hpo_table", "profile": "p", "level": lab, "seed": s,
                  "status": "ok", "final_val_accuracy": t + rng.normal(0, 0.002),
                  "epochs": 1} for s in (0, 1)]
        # at the other fidelity the order is reversed: the check must say so
        rows.append({"study": "hpo_table_fidelity", "profile": "p", "level": lab, "seed": 0,
                     "status": "ok", "final_val_accuracy": 1.86 - t, "epochs": 3})
    out = fidelity_check(pd.DataFrame(rows)).iloc[0]
    assert out["configs"] == 40 and out["epochs"] == 3
    assert out["rho_ci_high"] < 0
    assert out["best_lr_table"] == "1e-03" and out["best_lr_sample"] == "1e-02"


def test_a_sample_study_trains_every_other_point_of_the_table_s_top_region(tmp_path) -> None:
    from bench.hpo.space import HPO_LIBS_GRID, grid_points, point_label
    from bench.store import ResultStore
    from bench.studies import REGISTRY, get_profile
    from bench.studies.runner import StudyRunner

    labels = [point_label(p) for p in grid_points(HPO_LIBS_GRID)]
    runs = pd.DataFrame([{"study": "hpo_table", "profile": "quick", "level": lab, "seed": s,
                          "status": "ok", "final_val_accuracy": i / 2000}
                         for i, lab in enumerate(labels) for s in (0, 1)])
    store = ResultStore(tmp_path / "R")
    store.write_table("runs", runs)
    runner = StudyRunner(store, None, get_profile("quick"))
    specs = runner.plan(REGISTRY.get("hpo_table_fidelity"))
    assert len(specs) == 50 and {s.epochs for s in specs} == {3}
    assert {s.fraction for s in specs} == {1.0}
    assert {s.factors["level"] for s in specs} == set(labels[::-1][:100:2])
    assert len(runner.plan(REGISTRY.get("hpo_table"))) == 2160 + 100 * 3
