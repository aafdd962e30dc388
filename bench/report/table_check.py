"""Does the table predict live training? The check of the tabular benchmark against reality.

A ``table_check`` search is a library's search on the grid whose every proposed point was
trained for real with a seed the table does not hold. If the table is right, each live
validation accuracy differs from the table's seed mean for that point by training noise only:
mean 0 and SD ``sigma * sqrt(1 + 1/k)``, where ``sigma`` is the table's pooled seed-to-seed SD
and ``k`` its seeds per point. Reported per method and overall: the mean difference (bias)
with its 95 % t-interval and an equivalence test at the accuracy margin, the share of trials
inside the table's 95 % noise band, Spearman's rho between live and table values, and where
each live search's final regret falls among the replays of the same algorithm.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.paired import ALPHA, MARGIN, compare


def _noise_sd(points: pd.DataFrame) -> tuple[float, int]:
    """The table's pooled seed SD of the validation accuracy and its seeds per point."""
    sd = points["val_sd"].astype(float).dropna()
    k = int(points["seeds_ok"].median()) if "seeds_ok" in points else 2
    return (float(np.sqrt((sd**2).mean())) if len(sd) else math.nan), max(1, k)


def _summary(part: pd.DataFrame, band: float, replays: pd.DataFrame) -> dict:
    diffs = (part["objective"] - part["config_val_mean"]).to_numpy(dtype=float)
    c = compare(diffs, MARGIN)
    both = part.dropna(subset=["objective", "config_val_mean"])
    rho = (stats.spearmanr(both["objective"], both["config_val_mean"]).statistic
           if len(both) > 2 else math.nan)
    if c.n >= 3 and c.p_equivalent < ALPHA:
        verdict = "agrees"
    elif c.n >= 3 and min(c.p_greater, c.p_less) < ALPHA / 2 and abs(c.mean) >= MARGIN:
        verdict = "disagrees"
    else:
        verdict = "undecided"
    finals = part.sort_values("trial").groupby("search_id").tail(1)
    percentiles = []
    for _, last in finals.iterrows():
        same = replays[(replays["method"] == last["method"]) & (replays["trial"] == last["trial"])]
        if len(same) and pd.notna(last["regret"]):
            percentiles.append(float((same["regret"] <= last["regret"]).mean()))
    return {"trials": c.n, "searches": part["search_id"].nunique(), "bias": c.mean,
            "bias_ci_low": c.ci_low, "bias_ci_high": c.ci_high, "p_equivalent": c.p_equivalent,
            "within_noise": float(np.mean(np.abs(diffs[np.isfinite(diffs)]) <= band))
            if c.n else math.nan, "noise_band": band, "spearman_rho": rho,
            "replay_percentile": float(np.mean(percentiles)) if percentiles else math.nan,
            "verdict": verdict}


def table_check(trials: pd.DataFrame, points: pd.DataFrame,
                replays: pd.DataFrame) -> pd.DataFrame:
    """One row per method and one for all methods (``method == "all"``); empty without
    check searches or a table."""
    if trials.empty or points.empty or "config_val_mean" not in trials:
        return pd.DataFrame()
    sigma, k = _noise_sd(points)
    band = 1.96 * sigma * math.sqrt(1 + 1 / k)
    rows = [{"method": method, **_summary(g, band, replays)}
            for method, g in trials.groupby("method")]
    rows.append({"method": "all", **_summary(trials, band, replays)})
    return pd.DataFrame(rows)
