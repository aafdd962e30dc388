"""Report: statistics, verdicts and paper-vs-measured on constructed results."""

from __future__ import annotations

import numpy as np
from scipy import stats as st

from bench.report import claims, stats
from bench.report.paired import holm
from bench.report.paper import paper_results, paper_vs_measured
from tests.helpers import tables


def test_mean_ci_matches_scipy() -> None:
    x = np.array([0.8, 0.82, 0.81, 0.79])
    mean, sd, low, high = stats.mean_ci(x)
    ref = st.t.interval(0.95, 3, loc=x.mean(), scale=st.sem(x))
    assert np.isclose(mean, x.mean()) and np.allclose([low, high], ref)
    assert np.isnan(stats.mean_ci(np.array([0.5]))[2])


def test_holm_is_monotone_and_capped() -> None:
    assert np.allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    assert holm([0.9, 0.8]) == [1.0, 1.0]


def test_best_level_confirmed_and_not_confirmed() -> None:
    good = {"he_normal": [0.90, 0.91, 0.905], "zeros": [0.1, 0.1, 0.1],
            "glorot_uniform": [0.80, 0.81, 0.805]}
    runs, epochs = tables(good)
    scored = stats.scores(runs, epochs)
    levels = stats.level_stats(scored)
    verdict = claims.verdicts(levels, scored, runs, epochs).set_index("claim_id")
    assert verdict.loc["dnn_best_initializer", "verdict"] == "confirmed"

    bad = {"he_normal": [0.80, 0.81, 0.805], "glorot_uniform": [0.90, 0.91, 0.905]}
    runs, epochs = tables(bad)
    scored = stats.scores(runs, epochs)
    verdict = claims.verdicts(stats.level_stats(scored), scored, runs, epochs).set_index("claim_id")
    assert verdict.loc["dnn_best_initializer", "verdict"] == "not confirmed"


def test_single_seed_is_undecidable() -> None:
    runs, epochs = tables({"he_normal": [0.9], "zeros": [0.1]})
    scored = stats.scores(runs, epochs)
    verdict = claims.verdicts(stats.level_stats(scored), scored, runs, epochs).set_index("claim_id")
    assert verdict.loc["dnn_best_initializer", "verdict"] == "undecidable"
    assert "1 seed(s): a verdict needs at least 3" in verdict.loc["dnn_best_initializer",
                                                                    "evidence"]


def test_report_epoch_is_read_off_the_curve() -> None:
    runs, epochs = tables({"he_normal": [0.9]})
    scored = stats.scores(runs, epochs)
    # initializers reports epoch 5: 0.9 - 0.01 * 15/20
    assert np.isclose(scored["accuracy"].iloc[0], 0.9 - 0.0075)


def test_paper_vs_measured_joins_every_initializer() -> None:
    runs, epochs = tables({"he_normal": [0.80, 0.81, 0.82]})
    scored = stats.scores(runs, epochs)
    joined = paper_vs_measured(runs, epochs, scored)
    row = joined[(joined["level"] == "he_normal") & (joined["metric"] == "test_accuracy")].iloc[0]
    assert row["paper_value"] == 0.81 and row["n"] == 3
    assert row["paper_in_pi"] is True  # one paper run at 0.81 lies among ours
    assert row["pi_low"] < row["ci_low"] < row["ci_high"] < row["pi_high"]
    assert row["comparable"]  # the paper profile
    assert len(paper_results()) == 191
    assert "None" in set(paper_results()["level"])  # the default batch is a level, not NaN
