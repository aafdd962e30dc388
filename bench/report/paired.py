"""Seed-paired comparisons: the decision rules every verdict is built from.

A seed fixes the data subset, the initial weights and the batch order for every level of a
study, so two levels are compared through their per-seed differences ``d = a - b``. Each
comparison answers one of four ways, at significance ``ALPHA`` with Holm's correction over
the comparisons a claim makes:

* ``better`` — ``d > 0`` (one-sided paired t-test at ``ALPHA / 2``, so that the two
  directions together are a two-sided test at ``ALPHA``) and the mean difference is at least
  the margin: a significant *and* relevant gain;
* ``worse`` — the same for ``d < 0``;
* ``equivalent`` — TOST: ``-margin < d < margin`` (both one-sided tests significant);
* ``undecided`` — none of those; then ``seeds_needed`` estimates how many seeds would decide
  it (power ``POWER``, from the observed SD of the differences), and ``planned_seeds`` gives
  the sample size a top-up fixes in advance (from the SD only, see its docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower

ALPHA = 0.05
POWER = 0.8
MARGIN = 0.005  # accuracy: the margin of a study whose source reports no accuracy
MARGIN_SES = 1.5  # a margin is this many binomial standard errors of the test set
TEST_IMAGES = 10_000  # MNIST's and Fashion-MNIST's test sets
MAX_SEEDS_REPORTED = 1000
#: the one-sided confidence of the upper bound on the pilot's SD that a seed plan uses
PLAN_SD_CONFIDENCE = 0.8


def accuracy_margin(reference: float, n_test: int = TEST_IMAGES) -> float:
    """The smallest accuracy difference that matters, fixed from the *paper's* best reported
    accuracy on the dataset (so before any data it judges): ``MARGIN_SES`` binomial standard
    errors of an ``n_test``-image test set at that accuracy, rounded up to 0.1 pp. A
    difference below it is within what one test set can resolve. Fashion-MNIST at 0.895:
    0.005; MNIST at 0.99: 0.002."""
    se = math.sqrt(reference * (1 - reference) / n_test)
    return math.ceil(round(MARGIN_SES * se * 1000, 6)) / 1000


def sd_upper(sd: float, n: int, confidence: float = PLAN_SD_CONFIDENCE) -> float:
    """A one-sided upper confidence bound of a standard deviation estimated from ``n``
    values (chi-square): a plan from the point SD of a 5-seed pilot is under-powered about
    half the time; from this bound, at most ``1 - confidence`` of the time."""
    if n < 2 or not math.isfinite(sd):
        return sd
    return sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - confidence, n - 1))


@dataclass(frozen=True)
class Comparison:
    """One seed-paired comparison of ``a`` against ``b`` (``d = a - b``)."""

    n: int
    mean: float
    sd: float
    ci_low: float  # 95 % t-interval of the mean difference
    ci_high: float
    p_greater: float  # H0: d <= 0
    p_less: float  # H0: d >= 0
    p_equivalent: float  # TOST at ``margin``: H0: |d| >= margin
    p_not_greater: float  # H0: d >= margin (the upper half of TOST: "no gain of margin")
    margin: float
    p_not_less: float = 1.0  # H0: d <= -margin (the lower half of TOST: "no loss of margin")

    def p_two_sided(self) -> float:
        return min(1.0, 2 * min(self.p_greater, self.p_less))


def compare(diffs: np.ndarray, margin: float = MARGIN) -> Comparison:
    """Paired t statistics of the differences ``diffs`` (NaNs dropped)."""
    d = np.asarray(diffs, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    if n < 2:
        mean = float(d.mean()) if n else math.nan
        return Comparison(n, mean, math.nan, math.nan, math.nan, 1.0, 1.0, 1.0, 1.0, margin, 1.0)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    sd_eff = sd if sd > 0 else 1e-12  # identical differences: decided by sign and size
    se = sd_eff / math.sqrt(n)
    df = n - 1

    def p_above(value: float) -> float:  # H0: mean <= value
        return float(stats.t.sf((mean - value) / se, df))

    def p_below(value: float) -> float:  # H0: mean >= value
        return float(stats.t.cdf((mean - value) / se, df))

    half = float(stats.t.ppf(0.975, df)) * sd / math.sqrt(n)
    return Comparison(
        n=n, mean=mean, sd=sd, ci_low=mean - half, ci_high=mean + half,
        p_greater=p_above(0.0), p_less=p_below(0.0),
        p_equivalent=max(p_above(-margin), p_below(margin)),
        p_not_greater=p_below(margin), margin=margin, p_not_less=p_above(-margin),
    )


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (statsmodels); the one correction used everywhere."""
    if len(pvalues) <= 1:
        return [min(1.0, float(p)) for p in pvalues]
    return multipletests(np.asarray(pvalues, dtype=float), alpha=ALPHA, method="holm")[1].tolist()


def outcomes(comparisons: list[Comparison]) -> list[str]:
    """``better`` / ``worse`` / ``equivalent`` / ``undecided`` for a family of comparisons,
    Holm-corrected within each kind of test."""
    greater = holm([c.p_greater for c in comparisons])
    less = holm([c.p_less for c in comparisons])
    equal = holm([c.p_equivalent for c in comparisons])
    out = []
    for c, pg, pl, pe in zip(comparisons, greater, less, equal, strict=True):
        if pg < ALPHA / 2 and c.mean >= c.margin:
            out.append("better")
        elif pl < ALPHA / 2 and c.mean <= -c.margin:
            out.append("worse")
        elif pe < ALPHA:
            out.append("equivalent")
        else:
            out.append("undecided")
    return out


def seeds_needed(c: Comparison, family: int = 1, effect: float | None = None) -> int | None:
    """Seeds that would decide ``c`` with power ``POWER``, always more than it has: a
    superiority test when the observed |difference| reaches the margin, else an equivalence
    bound (``margin - |difference|``); ``effect`` overrides. None without an SD."""
    if c.n < 2 or not math.isfinite(c.sd):
        return None
    gap = abs(c.mean)
    if effect is None:
        effect = gap if gap >= c.margin else c.margin - gap
    if c.sd == 0 or effect <= 0:
        return MAX_SEEDS_REPORTED if effect <= 0 else c.n + 1
    nobs = np.arange(2, MAX_SEEDS_REPORTED + 1)
    power = TTestPower().power(effect_size=effect / c.sd, nobs=nobs, alpha=ALPHA / max(1, family),
                               alternative="larger")
    enough = np.flatnonzero(np.asarray(power) >= POWER)
    return max(c.n + 1, int(nobs[enough[0]])) if len(enough) else MAX_SEEDS_REPORTED


def planned_seeds(c: Comparison, family: int = 1) -> int | None:
    """The fixed sample size of a two-stage design, from the pilot's SD of the differences
    only (the observed mean difference is not used, so choosing n cannot favour a verdict):
    the smallest n at which ``outcomes`` reaches power ``POWER`` both to call a clear gain
    *better* (true difference two margins; *better* needs significance at Holm's strictest
    ``ALPHA / 2 / family`` **and** an observed mean of at least one margin) and to call a
    true zero *equivalent* (TOST at ``ALPHA / family``). Normal approximations with t
    critical values; ``tests/test_topup.py`` checks them by simulating ``outcomes``."""
    if c.n < 2 or not math.isfinite(c.sd):
        return None
    if c.sd == 0:
        return c.n
    n = np.arange(2, MAX_SEEDS_REPORTED + 1)
    se = c.sd / np.sqrt(n)
    t_better = stats.t.ppf(1 - ALPHA / 2 / max(1, family), n - 1)
    better = stats.norm.cdf((2 * c.margin - np.maximum(c.margin, t_better * se)) / se)
    t_equal = stats.t.ppf(1 - ALPHA / max(1, family), n - 1)
    equal = np.clip(2 * stats.norm.cdf((c.margin - t_equal * se) / se) - 1, 0, 1)
    enough = np.flatnonzero(np.minimum(better, equal) >= POWER)
    return int(n[enough[0]]) if len(enough) else MAX_SEEDS_REPORTED


SCALES = {  # (to the scale the t-interval is computed on, and back)
    "logit": (lambda v: np.log(np.clip(v, 1e-4, 1 - 1e-4) / (1 - np.clip(v, 1e-4, 1 - 1e-4))),
              lambda z: 1 / (1 + np.exp(-z))),
    "log": (lambda v: np.log(np.clip(v, 1e-12, None)), np.exp),
    "raw": (lambda v: v, lambda z: z),
}


def interval(values: np.ndarray, scale: str = "logit", prediction: bool = False,
             confidence: float = 0.95) -> tuple[float, float]:
    """A t-interval of the mean (or, with ``prediction``, of one more run) computed on
    ``scale`` and mapped back: ``logit`` keeps accuracies inside [0, 1], ``log`` keeps losses
    and times positive. NaNs for fewer than two values."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return math.nan, math.nan
    forward, back = SCALES[scale]
    z = forward(v)
    spread = math.sqrt(1 + 1 / len(z)) if prediction else math.sqrt(1 / len(z))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(z) - 1) * z.std(ddof=1) * spread)
    return float(back(z.mean() - half)), float(back(z.mean() + half))
