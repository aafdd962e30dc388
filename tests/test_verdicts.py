"""Every verdict rule on small synthetic result sets whose truth is known.

Each seed adds a large shared offset to every level (the seed effect: data subset, initial
weights, batch order), so only a seed-paired analysis can see level differences of a few
tenths of a percent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bench.report import paired
from bench.report.claims import Claim, best_level, no_gain_past, overfits
from bench.report.paired import MARGIN, compare, interval, outcomes, seeds_needed

SEED_SD = 0.02  # seed effect shared by every level
BEST = Claim("c", "src", "The best initializer is he_normal.", "best_level", "initializers",
             {"level": "he_normal"})


def synthetic(effects: dict[str, float], seeds: int, noise: float, rng_seed: int = 0,
              study: str = "initializers", factor: str = "initializer") -> pd.DataFrame:
    rng = np.random.default_rng(rng_seed)
    seed_effect = rng.normal(0, SEED_SD, seeds)
    rows = [{"study": study, "profile": "paper", "factor": factor, "level": level,
             "seed": s, "accuracy": 0.88 + effect + seed_effect[s] + rng.normal(0, noise)}
            for level, effect in effects.items() for s in range(seeds)]
    return pd.DataFrame(rows)


def test_real_paired_effect_is_confirmed_where_unpaired_tests_see_nothing() -> None:
    scored = synthetic({"he_normal": 0.008, "orthogonal": 0.0, "zeros": -0.5}, seeds=5,
                       noise=0.001)
    a = scored[scored["level"] == "he_normal"]["accuracy"]
    b = scored[scored["level"] == "orthogonal"]["accuracy"]
    assert stats.ttest_ind(a, b, equal_var=False).pvalue > 0.05  # unpaired: lost in seed noise
    verdict = best_level(BEST, pd.DataFrame(), scored, "he_normal")
    assert verdict["verdict"] == "confirmed", verdict
    assert verdict["n"] == 5
    assert verdict["effect_ci_low"] > 0


def test_true_equivalence_with_the_best_is_a_tie() -> None:
    scored = synthetic({"he_normal": 0.01, "he_uniform": 0.01, "zeros": -0.5}, seeds=6,
                       noise=0.0005)
    assert best_level(BEST, pd.DataFrame(), scored, "he_normal")["verdict"] == "tied"


def test_a_better_level_refutes_best() -> None:
    scored = synthetic({"he_normal": 0.0, "orthogonal": 0.02, "zeros": -0.5}, seeds=4,
                       noise=0.001)
    verdict = best_level(BEST, pd.DataFrame(), scored, "he_normal")
    assert verdict["verdict"] == "not confirmed", verdict
    assert "orthogonal" in verdict["evidence"]


def test_too_few_seeds_is_undecidable_with_a_seed_estimate() -> None:
    scored = synthetic({"he_normal": 0.004, "orthogonal": 0.0}, seeds=3, noise=0.006)
    verdict = best_level(BEST, pd.DataFrame(), scored, "he_normal")
    assert verdict["verdict"] == "undecidable", verdict
    assert verdict["seeds_needed"] > 3
    assert f"needs ≈{verdict['seeds_needed']}" in verdict["evidence"]
    one = synthetic({"he_normal": 0.01, "orthogonal": 0.0}, seeds=1, noise=0.0)
    assert best_level(BEST, pd.DataFrame(), one, "he_normal")["verdict"] == "undecidable"


NO_GAIN = Claim("b", "src", "Batches smaller than 128 bring no gain.", "no_gain_past",
                "batch_size", {"level": "128", "smaller": ["64", "32"]})


@pytest.mark.parametrize(("effects", "seeds", "noise", "expected"), [
    ({"128": 0.0, "64": 0.0, "32": -0.001}, 6, 0.001, "confirmed"),  # true equivalence
    ({"128": 0.0, "64": 0.0, "32": 0.02}, 5, 0.001, "not confirmed"),  # a real gain
    ({"128": 0.0, "64": 0.0, "32": 0.0}, 3, 0.01, "undecidable"),  # a true null, too noisy
])
def test_no_gain_needs_an_equivalence_test(effects: dict[str, float], seeds: int,
                                           noise: float, expected: str) -> None:
    scored = synthetic(effects, seeds, noise, study="batch_size", factor="batch_size")
    verdict = no_gain_past(NO_GAIN, pd.DataFrame(), scored)
    assert verdict["verdict"] == expected, verdict


def test_non_significance_alone_never_confirms_no_gain() -> None:
    # 64 - 128 has mean 0 but a CI far wider than the margin: the old rule said "confirmed"
    scored = synthetic({"128": 0.0, "64": 0.0, "32": 0.0}, seeds=3, noise=0.02, rng_seed=3,
                       study="batch_size", factor="batch_size")
    assert no_gain_past(NO_GAIN, pd.DataFrame(), scored)["verdict"] == "undecidable"


OVERFITS = Claim("o", "src", "RMSprop overfits.", "overfits", "optimizers_mlp",
                 {"level": "rmsprop"})


def loss_curves(rise: float, seeds: int, noise: float, epochs: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for s in range(seeds):
        for e in range(1, epochs + 1):
            base = 0.5 * np.exp(-e / 4) + 0.3  # falls, then flattens
            late = max(0, e - epochs / 2) / (epochs / 2) * rise * 0.3
            rows.append({"study": "optimizers_mlp", "level": "rmsprop", "run_id": f"r{s}",
                         "epoch": e, "value": base + late + rng.normal(0, noise)})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("rise", "seeds", "noise", "expected"), [
    (0.30, 5, 0.005, "confirmed"),
    (0.0, 5, 0.002, "not confirmed"),
    (0.06, 3, 0.02, "undecidable"),  # a rise near the margin, few noisy seeds
])
def test_overfitting_tests_the_mean_rise(rise: float, seeds: int, noise: float,
                                         expected: str) -> None:
    verdict = overfits(OVERFITS, loss_curves(rise, seeds, noise))
    assert verdict["verdict"] == expected, verdict


def test_a_tiny_but_certain_rise_is_not_overfitting() -> None:
    verdict = overfits(OVERFITS, loss_curves(0.01, 8, 0.0005))
    assert verdict["verdict"] == "not confirmed", verdict


def test_more_seeds_make_a_real_rise_easier_to_confirm() -> None:
    few = overfits(OVERFITS, loss_curves(0.2, 3, 0.03))
    many = overfits(OVERFITS, loss_curves(0.2, 12, 0.03))
    assert many["verdict"] == "confirmed"
    assert few["verdict"] in ("confirmed", "undecidable")


def test_better_needs_a_relevant_effect() -> None:
    rng = np.random.default_rng(7)
    hits = sum(outcomes([compare(rng.normal(2 * MARGIN, 0.003, 5))])[0] == "better"
               for _ in range(500))
    zero = sum(outcomes([compare(rng.normal(0.0, 0.003, 5))])[0] == "better"
               for _ in range(500))
    assert zero == 0  # a zero effect is never called a relevant gain
    assert hits / 500 > 0.8  # twice the margin is found most of the time


def test_equivalence_is_rare_when_the_difference_is_twice_the_margin() -> None:
    rng = np.random.default_rng(8)
    wrong = sum(outcomes([compare(rng.normal(2 * MARGIN, 0.004, 5))])[0] == "equivalent"
                for _ in range(500))
    assert wrong / 500 < paired.ALPHA


def test_holm_controls_the_family() -> None:
    rng = np.random.default_rng(9)
    families = 300
    any_hit = 0
    for _ in range(families):
        fam = [compare(rng.normal(0.0, 0.003, 6)) for _ in range(6)]
        raw = [c.p_two_sided() for c in fam]
        any_hit += min(paired.holm(raw)) < paired.ALPHA
    assert any_hit / families < 0.08


def test_seeds_needed_grows_as_the_effect_shrinks() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 1, 4)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * 0.01
    # superiority: a larger gain is shown with fewer seeds
    assert seeds_needed(compare(0.012 + noise)) < seeds_needed(compare(0.006 + noise))
    # equivalence: a difference nearer the margin needs more seeds to bound
    assert seeds_needed(compare(0.0 + noise)) < seeds_needed(compare(0.003 + noise))
    assert seeds_needed(compare(0.003 + noise)) > 4  # never "already enough" when undecided


def test_accuracy_intervals_stay_inside_zero_and_one() -> None:
    low, high = interval(np.array([0.1, 0.9, 0.85]))  # nadam at lr 0.1: one seed diverged
    assert 0 <= low < high <= 1
    p_low, p_high = interval(np.array([0.88, 0.885, 0.89]), prediction=True)
    c_low, c_high = interval(np.array([0.88, 0.885, 0.89]))
    assert p_low < c_low and p_high > c_high  # one run spreads more than the mean


def test_prediction_interval_covers_one_new_run_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(3)
    covered = 0
    for _ in range(2000):
        runs = 0.88 + rng.normal(0, 0.005, 5)
        low, high = interval(runs, prediction=True)
        covered += low <= 0.88 + rng.normal(0, 0.005) <= high
    assert 0.92 < covered / 2000 < 0.98


def test_a_single_level_is_inconclusive() -> None:
    scored = synthetic({"he_normal": 0.0}, seeds=3, noise=0.001)
    assert best_level(BEST, pd.DataFrame(), scored, "he_normal")["verdict"] == "inconclusive"
