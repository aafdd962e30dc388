"""The tabular benchmark checked against live training: searches whose proposals are trained
for real must land within the table's noise (synthetic truth; one real training)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.hpo.space import HPO_LIBS_GRID, grid_points, point_label
from bench.hpo.tabular import live_trainer, replay
from bench.report.table_check import table_check
from tests.helpers import synthetic_table, true_accuracy

TRUTH = {point_label(p): true_accuracy(p) for p in grid_points(HPO_LIBS_GRID)}
METHODS = ("optuna:tpe", "hyperopt:tpe", "scikit-optimize:gp")
NOISE = 0.005


def _searches(table, train=None, seeds=range(3), trials: int = 10) -> pd.DataFrame:
    rows = []
    for method in METHODS:
        library, algorithm = method.split(":")
        for seed in seeds:
            for row in replay(table, library, algorithm, trials, seed, train):
                rows.append({**row, "method": method, "seed": seed,
                             "search_id": f"{method}-{seed}"})
    return pd.DataFrame(rows)


def _points(table) -> pd.DataFrame:
    g = table.runs.groupby("label")["val_accuracy"]
    return pd.DataFrame({"config": g.mean().index, "val_sd": g.std(ddof=1).to_numpy(),
                         "seeds_ok": g.count().to_numpy()})


def _trainer(shift: float, calls: list[str], noise: float = NOISE):
    rng = np.random.default_rng(11)

    def train(label: str, trial: int) -> dict:
        calls.append(label)
        return {"status": "ok", "score_accuracy": TRUTH[label] + shift + rng.normal(0, noise),
                "train_seconds": 2.0}

    return train


def test_live_searches_that_match_the_table_agree_with_it() -> None:
    table = synthetic_table(noise=NOISE)
    calls: list[str] = []
    live = _searches(table, _trainer(0.0, calls))
    assert len(calls) == len(live) == 3 * 3 * 10  # every proposal trained once, none looked up
    assert list(live["config"]) == calls
    check = table_check(live, _points(table), _searches(table, seeds=range(10)))
    overall = check.set_index("method").loc["all"]
    assert overall["verdict"] == "agrees"
    assert abs(overall["bias"]) < 0.002 and overall["within_noise"] > 0.85
    assert overall["spearman_rho"] > 0.8
    assert set(check["method"]) == {*METHODS, "all"}


def test_live_training_off_the_table_is_caught() -> None:
    table = synthetic_table(noise=NOISE)
    live = _searches(table, _trainer(0.02, []))
    overall = table_check(live, _points(table), pd.DataFrame(
        columns=["method", "trial", "regret"])).set_index("method").loc["all"]
    assert overall["verdict"] == "disagrees"
    assert 0.015 < overall["bias"] < 0.025 and overall["within_noise"] < 0.2


def test_live_noise_far_wider_than_the_tables_is_caught_even_without_bias() -> None:
    table = synthetic_table(noise=NOISE)
    live = _searches(table, _trainer(0.0, [], noise=10 * NOISE))
    overall = table_check(live, _points(table), pd.DataFrame(
        columns=["method", "trial", "regret"])).set_index("method").loc["all"]
    assert overall["within_noise"] < 0.5 and overall["verdict"] == "disagrees"


def test_live_trainer_trains_a_grid_point_at_the_tables_fidelity(tiny_data_dir: Path) -> None:
    label = point_label(grid_points(HPO_LIBS_GRID)[0])
    result = live_trainer({"table_study": "hpo_table", "profile": "smoke", "train_seed": 2},
                          None)(label, 0)
    assert result["status"] == "ok", result
    assert 0.0 <= result["score_accuracy"] <= 1.0 and result["train_seconds"] > 0


def test_the_hpo_page_reports_the_check_and_its_verdict() -> None:
    from bench.site.hpo_tabular import _check_section
    from bench.site.sets import TABLES

    assert "derived/hpo_table_check" in TABLES  # the site loads what the report writes
    table = synthetic_table(noise=NOISE)
    check = table_check(_searches(table, _trainer(0.0, [])), _points(table),
                        _searches(table, seeds=range(5)))
    text = _check_section(check)
    assert "Verdict: **agrees**" in text and "optuna:tpe" in text and "Not checked" not in text
