"""Does the table predict live training? The check of the tabular benchmark against reality.

A ``table_check`` search is a library's search on the grid whose every proposed point was
trained for real, each trial with its own training seed that the table does not hold. If the
table is right, the live validation accuracy of a configuration differs from the table's seed
mean for it by training noise only. Trials of one configuration share the table's error for
it, so the unit is the configuration: its mean live-minus-table difference ``d_c`` over its
``m_c`` live trials, with noise SD ``sigma * sqrt(1/m_c + 1/k)`` (``sigma``: the table's pooled
seed SD over the configurations the check proposed, ``k``: the table's seeds per point).

Per method and overall: the mean of ``d_c`` (bias) with its 95 % t-interval and a TOST at the
accuracy margin, the share of configurations inside their 95 % noise band, Spearman's rho
between live and table values, and where each live search's final regret falls among the
replays of the same algorithm after as many trials (mid-rank percentile). Verdict *agrees*:
bias shown within the margin and at least ``AGREE_SHARE`` inside the band; *disagrees*: a bias
of at least the margin (significant) or under ``DISAGREE_SHARE`` inside the band; otherwise
*undecided*.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.paired import ALPHA, MARGIN, compare

AGREE_SHARE = 0.85  # a 95 % band: some slack for configurations noisier than the pooled SD
DISAGREE_SHARE = 0.70


def _per_config(part: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration the check trained: live mean, table mean and SD, m."""
    live = part.dropna(subset=["objective", "config_val_mean"]).groupby("config").agg(
        live=("objective", "mean"), table=("config_val_mean", "first"), m=("objective", "size"))
    sd = points.set_index("config")["val_sd"] if not points.empty else pd.Series(dtype=float)
    return live.assign(table_sd=sd.reindex(live.index))


def _percentile(finals: pd.DataFrame, replays: pd.DataFrame) -> float:
    """Mean mid-rank percentile of the live searches' final regrets among the replays."""
    out = []
    for _, last in finals.iterrows():
        same = replays[(replays["method"] == last["method"]) & (replays["trial"] == last["trial"])]
        if len(same) and pd.notna(last["regret"]):
            below, ties = (same["regret"] < last["regret"]).mean(), \
                (same["regret"] == last["regret"]).mean()
            out.append(float(below + ties / 2))
    return float(np.mean(out)) if out else math.nan


def _summary(part: pd.DataFrame, points: pd.DataFrame, k: int, replays: pd.DataFrame) -> dict:
    cfg = _per_config(part, points)
    sigma = float(np.sqrt(np.nanmean(cfg["table_sd"] ** 2))) if cfg["table_sd"].notna().any() \
        else math.nan
    diffs = (cfg["live"] - cfg["table"]).to_numpy(dtype=float)
    band = 1.96 * sigma * np.sqrt(1 / cfg["m"].to_numpy(dtype=float) + 1 / k)
    within = float(np.mean(np.abs(diffs) <= band)) if len(diffs) else math.nan
    c = compare(diffs, MARGIN)
    rho = stats.spearmanr(cfg["live"], cfg["table"]).statistic if len(cfg) > 2 else math.nan
    if c.n >= 3 and c.p_equivalent < ALPHA and within >= AGREE_SHARE:
        verdict = "agrees"
    elif c.n >= 3 and ((min(c.p_greater, c.p_less) < ALPHA / 2 and abs(c.mean) >= MARGIN)
                       or within < DISAGREE_SHARE):
        verdict = "disagrees"
    else:
        verdict = "undecided"
    finals = part.sort_values("trial").groupby("search_id").tail(1)
    return {"searches": part["search_id"].nunique(), "trials": len(part), "configs": c.n,
            "bias": c.mean, "bias_ci_low": c.ci_low, "bias_ci_high": c.ci_high,
            "p_equivalent": c.p_equivalent, "noise_sd": sigma, "within_noise": within,
            "spearman_rho": rho, "replay_percentile": _percentile(finals, replays),
            "verdict": verdict}


def table_check(trials: pd.DataFrame, points: pd.DataFrame,
                replays: pd.DataFrame) -> pd.DataFrame:
    """One row per method and one for all methods (``method == "all"``); empty without
    check searches or a table. ``points``: ``report.tabular.table_points`` of the table the
    searches ran against (one study and profile)."""
    if trials.empty or points.empty or "config_val_mean" not in trials:
        return pd.DataFrame()
    k = max(1, int(points["seeds_ok"].median())) if "seeds_ok" in points else 2
    rows = [{"method": method, **_summary(g, points, k, replays)}
            for method, g in trials.groupby("method")]
    rows.append({"method": "all", **_summary(trials, points, k, replays)})
    return pd.DataFrame(rows)


def _spearman_ci(x: np.ndarray, y: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Spearman's rho with a 95 % percentile-bootstrap interval over configurations."""
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(1000):
        i = rng.integers(0, len(x), len(x))
        boot.append(stats.spearmanr(x[i], y[i]).statistic)
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return rho, float(low), float(high)


def top_region_check(runs: pd.DataFrame, base_seeds: int = 2, min_seeds: int = 5) -> pd.DataFrame:
    """The table's top region (points with ``min_seeds`` or more seeds) against its extra
    seeds, trained later than the table: per configuration, extra-seed mean minus the base
    seeds' mean, inside a band of its own (1.96 x its seed SD x sqrt(1/m_extra + 1/m_base)),
    the mean difference with a TOST at the margin, and Spearman's rho (bootstrap CI) between
    the base seeds' ranking of the region and the extra seeds'. The region is chosen on the
    base seeds, so their means are optimistic there (winner's curse): a negative difference
    is expected and reported as such. One row per table."""
    rows = []
    for (study, profile), part in runs.groupby(["study", "profile"]):
        ok = part[part["status"] == "ok"]
        val = ok["final_val_accuracy"].astype(float)
        n = ok.groupby("level")["seed"].nunique()
        top = n[n >= min_seeds].index
        if len(top) < 3:
            continue
        base = val[ok["seed"] < base_seeds].groupby(ok["level"]).mean().reindex(top)
        extra_v = val[ok["seed"] >= base_seeds].groupby(ok["level"])
        extra, m = extra_v.mean().reindex(top), extra_v.size().reindex(top)
        sd = val.groupby(ok["level"]).std(ddof=1).reindex(top)
        diffs = (extra - base).to_numpy(dtype=float)
        band = 1.96 * sd.to_numpy() * np.sqrt(1 / m.to_numpy() + 1 / base_seeds)
        within = float(np.mean(np.abs(diffs) <= band))
        c = compare(diffs, MARGIN)
        rho, low, high = _spearman_ci(base.to_numpy(), extra.to_numpy())
        rows.append({"study": study, "profile": profile, "configs": len(top),
                     "extra_seeds": int(m.median()), "bias": c.mean, "bias_ci_low": c.ci_low,
                     "bias_ci_high": c.ci_high, "p_equivalent": c.p_equivalent,
                     "median_config_sd": float(sd.median()), "within_own_band": within,
                     "spearman_rho": rho, "rho_ci_low": low, "rho_ci_high": high,
                     "verdict": _top_verdict(c, within, low)})
    return pd.DataFrame(rows)


def _top_verdict(c, within: float, rho_low: float) -> str:
    """*agrees*: values equivalent within the margin, the configurations inside their bands
    and the ranking reproduced (rho's CI above 0); *ranking holds, values optimistic*: the
    same but the extra seeds significantly lower -- the winner's curse of a region chosen on
    the base seeds; *disagrees*: bands or ranking not reproduced, or the extra seeds
    significantly higher by the margin; else *undecided*."""
    if within < DISAGREE_SHARE or rho_low <= 0 or (c.p_greater < ALPHA and c.mean >= MARGIN):
        return "disagrees"
    if within >= AGREE_SHARE and c.p_equivalent < ALPHA:
        return "agrees"
    if within >= AGREE_SHARE and c.ci_high < 0:
        return "ranking holds, values optimistic"
    return "undecided"


def _lr(label: str) -> str:
    return label.split(",")[0].removeprefix("lr=")


def fidelity_check(runs: pd.DataFrame) -> pd.DataFrame:
    """A table sample trained at another fidelity (``hpo["sample_of"]``) against the table:
    Spearman's rho (bootstrap CI) of the sampled points' table seed means and their values
    at the sample's fidelity, and the learning rate of the best point under each. One row
    per sample study and profile."""
    from bench.studies import REGISTRY

    rows = []
    for study in (s for s in REGISTRY if s.kind == "table" and s.hpo.get("sample_of")):
        source = study.hpo["sample_of"]
        for profile, part in runs[runs["study"] == study.name].groupby("profile"):
            ok = part[part["status"] == "ok"]
            there = ok.groupby("level")["final_val_accuracy"].mean().astype(float)
            src = runs[(runs["study"] == source) & (runs["profile"] == profile)
                       & (runs["status"] == "ok")]
            table = src.groupby("level")["final_val_accuracy"].mean().astype(float)
            common = there.index.intersection(table.index)
            if len(common) < 5:
                continue
            x, y = table[common].to_numpy(), there[common].to_numpy()
            rho, low, high = _spearman_ci(x, y)
            rows.append({"study": study.name, "table": source, "profile": profile,
                         "configs": len(common), "epochs": int(part["epochs"].iloc[0])
                         if "epochs" in part else None, "spearman_rho": rho,
                         "rho_ci_low": low, "rho_ci_high": high,
                         "best_lr_table": _lr(table[common].idxmax()),
                         "best_lr_sample": _lr(there[common].idxmax())})
    return pd.DataFrame(rows)
