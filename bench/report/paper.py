"""Paper vs measured: every figure of ``paper_results.csv`` next to our per-seed values.

A paper reports one run, so it is compared with a 95 % *prediction* interval for one run
(where a single new run of ours would land), not with the CI of our mean. Rows measured on a
reduced profile are marked ``comparable = False``.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from bench.report.paired import interval
from bench.report.stats import mean_ci
from bench.studies import REGISTRY
from bench.studies.registry import PROFILES


def paper_results() -> pd.DataFrame:
    """The figures the five papers reported (copied from the reference, cited by source/table)."""
    with resources.files("bench.resources").joinpath("paper_results.csv").open() as fh:
        # "None" is a level (the framework's default batch size), not a missing value
        return pd.read_csv(fh, dtype={"level": str}, keep_default_na=False,
                           na_values={"value": [""]})


def _study_for(source: str, table: str) -> str | None:
    for study in REGISTRY:  # HPO studies are compared by ``report.hpo`` (searches, not runs)
        if study.source == source and study.paper_table == table and study.kind != "hpo":
            return study.name
    return None


def _measure(runs: pd.DataFrame, curves: pd.DataFrame, scored: pd.DataFrame, study: str,
             level: str, metric: str, epoch: int) -> np.ndarray:
    """Per-seed measured values of ``metric`` at nominal ``epoch`` for a study level."""
    if metric.endswith("_pct"):
        return 100 * _measure(runs, curves, scored, study, level, metric[:-4], epoch)
    s = scored[(scored["study"] == study) & (scored["level_nominal"].astype(str) == level)]
    r = runs[(runs["study"] == study) & (runs["level"] == level) & (runs["status"] == "ok")]
    if metric in ("test_accuracy", "test_loss"):
        return s["accuracy" if metric == "test_accuracy" else "loss"].to_numpy(dtype=float)
    if metric in ("macro_f1", "params"):
        return r[metric].to_numpy(dtype=float)
    if "_" in metric and metric.split("_", 1)[0] in ("train", "val"):
        split, name = metric.split("_", 1)
        out = []
        for run in r.itertuples(index=False):
            profile = REGISTRY.get(study).scaled(
                PROFILES.get(getattr(run, "profile", "paper")) or PROFILES["paper"])
            c = curves[(curves["run_id"] == run.run_id) & (curves["split"] == split)
                       & (curves["metric"] == name) & (curves["epoch"] == profile.epochs(epoch))]
            out += c["value"].tolist()
        return np.array(out, dtype=float)
    return np.array([])


def _level_key(study: str, factor: str, level: str) -> str:
    if study == "architecture" and "=" in level:
        return level.split("=", 1)[1]
    return level


def paper_vs_measured(runs: pd.DataFrame, epochs: pd.DataFrame,
                      scored: pd.DataFrame) -> pd.DataFrame:
    rows = []
    profiles = runs["profile"].dropna().unique() if "profile" in runs else [None]
    for profile in profiles:
        mine = runs[runs["profile"] == profile] if profile is not None else runs
        ours = scored[scored["profile"] == profile] if profile is not None else scored
        rows += _rows(mine, epochs, ours, profile)
    return pd.DataFrame(rows)


def interval_scale(metric: str) -> str:
    """The scale a metric's intervals are computed on (bounded accuracies, positive losses)."""
    if "accuracy" in metric or metric in ("macro_f1", "precision", "recall", "f1"):
        return "logit"
    return "log" if "loss" in metric or "seconds" in metric else "raw"


def _rows(runs: pd.DataFrame, epochs: pd.DataFrame, scored: pd.DataFrame,
          profile: str | None) -> list[dict]:
    rows = []
    reduced = (PROFILES.get(profile) or PROFILES["paper"]).reduced
    for rec in paper_results().itertuples(index=False):
        study = _study_for(rec.source, rec.table)
        if study is None:
            continue
        level = _level_key(study, rec.factor, str(rec.level))
        values = _measure(runs, epochs, scored, study, level, rec.metric, int(rec.epochs))
        if study == "architecture":
            stage = str(rec.level).split("=", 1)[0]
            keep = scored[(scored["study"] == study) & (scored["factor"] == stage)
                          & (scored["level_nominal"].astype(str) == level)]
            values = keep["accuracy" if rec.metric == "test_accuracy" else "loss"].to_numpy(float)
        rows.append(comparison_row(rec, values, profile, study, reduced))
    return rows


def comparison_row(rec: Any, values: np.ndarray, profile: str | None, study: str,
                   reduced: bool) -> dict[str, Any]:
    """One paper figure next to our values: mean, CI of the mean, prediction interval."""
    values = np.asarray(values, dtype=float)
    scale = interval_scale(rec.metric)
    if rec.metric.endswith("_pct"):
        pct = interval(values / 100, scale)
        low, high = pct[0] * 100, pct[1] * 100
        pi = interval(values / 100, scale, prediction=True)
        pi_low, pi_high = pi[0] * 100, pi[1] * 100
    else:
        low, high = interval(values, scale)
        pi_low, pi_high = interval(values, scale, prediction=True)
    mean, sd, _, _ = mean_ci(values)
    value = float(rec.value)
    return {
        "profile": profile, "source": rec.source, "table": rec.table, "study": study,
        "level": str(rec.level), "metric": rec.metric, "epochs": int(rec.epochs),
        "paper_value": value, "measured_mean": mean, "measured_sd": sd, "ci_low": low,
        "ci_high": high, "pi_low": pi_low, "pi_high": pi_high,
        "n": int(np.isfinite(values).sum()),
        "difference": mean - value if np.isfinite(mean) else np.nan,
        "paper_in_pi": bool(pi_low <= value <= pi_high) if np.isfinite(pi_low) else None,
        "comparable": not reduced,
    }
