"""Ranks of HPO methods over seeds: mean rank of the regret, Friedman, Nemenyi."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.hpo.libraries import RANDOM_ALGORITHM

#: each library's random search: the baseline a normalised score divides by
RANDOM_METHODS = tuple(f"{lib}:{alg}" for lib, alg in RANDOM_ALGORITHM.items())


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of mean ranks for ``k`` methods over ``n`` blocks."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def final_ranks(searches: pd.DataFrame, at_trial: int | None,
                trials: pd.DataFrame) -> pd.DataFrame:
    """Per method: mean rank of the regret after ``at_trial`` trials (None: the last) over
    seeds, normalised score, Friedman p-value and the critical difference (same per study)."""
    rows = []
    for (study, profile), part in trials.groupby(["study", "profile"]):
        last = part["trial"].max() if at_trial is None else at_trial - 1
        at = part[part["trial"] == last]
        table = at.pivot_table(index="seed", columns="method", values="regret").dropna()
        if table.empty:
            continue
        ranks = table.rank(axis=1, method="average")
        random_cols = [c for c in table.columns if c in RANDOM_METHODS]
        baseline = float(table[random_cols].to_numpy().mean()) if random_cols else np.nan
        k, n = table.shape[1], table.shape[0]
        friedman = (stats.friedmanchisquare(*[table[c] for c in table.columns]).pvalue
                    if k >= 3 and n >= 2 else np.nan)
        cd = nemenyi_cd(k, n) if k >= 2 else np.nan
        for method in table.columns:
            score = table[method] / baseline if baseline > 0 else table[method] * np.nan
            rows.append({"study": study, "profile": profile, "method": method,
                         "trials": int(last) + 1, "seeds": n, "mean_rank": ranks[method].mean(),
                         "median_regret": table[method].median(),
                         "mean_regret": table[method].mean(),
                         "normalised_score": float(score.mean()),
                         "friedman_p": friedman, "critical_difference": cd})
    out = pd.DataFrame(rows)
    return out.sort_values(["study", "profile", "trials", "mean_rank"]).reset_index(drop=True) \
        if not out.empty else out
