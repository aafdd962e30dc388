"""Per-level statistics over seeds: mean, sd, 95 % CI, ranks, pairwise tests."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError
from bench.studies import REGISTRY

LEVEL_KEYS = ["study", "profile", "factor", "level"]


def mean_ci(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sd, low, high): Student-t interval; NaN bounds for fewer than 2 values."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (np.nan,) * 4
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan, np.nan
    sd = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * sd / np.sqrt(len(values)))
    return mean, sd, mean - half, mean + half


def _study_of(name: str):
    try:
        return REGISTRY.get(name)
    except BenchError:
        return None


def scores(runs: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, level) with ``accuracy``, ``loss`` and ``seconds``.

    The score is the test metric, or for studies with a ``report_epoch`` / ``curve`` the test
    metric after that many epochs, read off the per-epoch curve (validation = test set).
    """
    ok = runs[runs["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame(columns=[*LEVEL_KEYS, "run_id", "seed", "accuracy", "loss", "seconds"])
    val = epochs[epochs["split"] == "val"].pivot_table(
        index=["run_id", "epoch"], columns="metric", values="value").reset_index()
    rows = []
    for run in ok.itertuples(index=False):
        study = _study_of(run.study)
        base = {"study": run.study, "profile": getattr(run, "profile", None),
                "factor": run.factor, "level": run.level, "run_id": run.run_id,
                "seed": run.seed, "seconds": run.train_seconds}
        curve = val[val["run_id"] == run.run_id].set_index("epoch")
        if study is not None and study.curve:
            from bench.studies.registry import PROFILES

            profile = PROFILES.get(base["profile"]) or PROFILES["paper"]
            for nominal in study.curve:
                e = profile.epochs(nominal)
                if e in curve.index:
                    rows.append({**base, "factor": "epochs", "level": str(nominal),
                                 "accuracy": curve.loc[e, "accuracy"], "loss": curve.loc[e, "loss"],
                                 "seconds": base["seconds"] * e / run.epochs})
            continue
        if study is not None and study.report_epoch:
            from bench.studies.registry import PROFILES

            profile = PROFILES.get(base["profile"]) or PROFILES["paper"]
            e = profile.epochs(study.report_epoch)
            if e in curve.index and run.validation == "test":
                rows.append({**base, "accuracy": curve.loc[e, "accuracy"],
                             "loss": curve.loc[e, "loss"]})
                continue
        rows.append({**base, "accuracy": run.test_accuracy, "loss": run.test_loss})
    return pd.DataFrame(rows)


def level_stats(scored: pd.DataFrame) -> pd.DataFrame:
    """Mean, sd, 95 % CI and rank of accuracy (and loss, seconds) per study level."""
    out = []
    for keys, group in scored.groupby(LEVEL_KEYS, dropna=False):
        row = dict(zip(LEVEL_KEYS, keys, strict=True))
        row["n"] = int(group["accuracy"].notna().sum())
        for metric in ("accuracy", "loss", "seconds"):
            mean, sd, low, high = mean_ci(group[metric].to_numpy())
            row.update({f"{metric}_mean": mean, f"{metric}_sd": sd,
                        f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        cols = [f"{m}_{s}" for m in ("accuracy", "loss", "seconds")
                for s in ("mean", "sd", "ci_low", "ci_high")]
        return pd.DataFrame(columns=[*LEVEL_KEYS, "n", *cols, "rank"])
    df["rank"] = df.groupby(["study", "profile", "factor"])["accuracy_mean"].rank(
        ascending=False, method="min").astype(int)
    return df.sort_values(["study", "profile", "factor", "rank"]).reset_index(drop=True)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values."""
    m = len(pvalues)
    order = np.argsort(pvalues)
    adjusted = np.empty(m)
    running = 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def pairwise(scored: pd.DataFrame) -> pd.DataFrame:
    """Every pair of levels of a factor: Mann-Whitney U and Welch t, Holm-corrected."""
    rows = []
    for keys, group in scored.groupby(["study", "profile", "factor"], dropna=False):
        samples = {lvl: g["accuracy"].dropna().to_numpy() for lvl, g in group.groupby("level")}
        pairs = []
        for a, b in itertools.combinations(sorted(samples), 2):
            xa, xb = samples[a], samples[b]
            if len(xa) < 2 or len(xb) < 2:
                continue
            u = stats.mannwhitneyu(xa, xb, alternative="two-sided")
            t = stats.ttest_ind(xa, xb, equal_var=False)
            p_t = float(t.pvalue) if np.isfinite(t.pvalue) else 1.0
            pairs.append({"study": keys[0], "profile": keys[1], "factor": keys[2],
                          "level_a": a, "level_b": b, "mean_diff": float(xa.mean() - xb.mean()),
                          "u_statistic": float(u.statistic), "p_mannwhitney": float(u.pvalue),
                          "p_welch": p_t})
        if pairs:
            for pair, pm, pw in zip(pairs, holm([p["p_mannwhitney"] for p in pairs]),
                                    holm([p["p_welch"] for p in pairs]), strict=True):
                pair.update(p_mannwhitney_holm=pm, p_welch_holm=pw, significant=pw < 0.05)
            rows += pairs
    return pd.DataFrame(rows)


def arch_label(arch_json: str) -> str:
    return "-".join(str(u) for u in json.loads(arch_json).get("hidden", []))
