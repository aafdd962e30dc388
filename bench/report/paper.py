"""Paper vs measured: every figure of ``paper_results.csv`` next to our mean and 95 % CI."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from bench.report.stats import mean_ci
from bench.studies import REGISTRY
from bench.studies.registry import PROFILES


def paper_results() -> pd.DataFrame:
    """The figures the five papers reported (copied from the reference, cited by source/table)."""
    with resources.files("bench.resources").joinpath("paper_results.csv").open() as fh:
        return pd.read_csv(fh, dtype={"level": str})


def _study_for(source: str, table: str) -> str | None:
    for study in REGISTRY:
        if study.source == source and study.paper_table == table:
            return study.name
    return None


def _measure(runs: pd.DataFrame, curves: pd.DataFrame, scored: pd.DataFrame, study: str,
             level: str, metric: str, epoch: int) -> np.ndarray:
    """Per-seed measured values of ``metric`` at nominal ``epoch`` for a study level."""
    s = scored[(scored["study"] == study) & (scored["level"] == level)]
    r = runs[(runs["study"] == study) & (runs["level"] == level) & (runs["status"] == "ok")]
    if metric in ("test_accuracy", "test_loss"):
        return s["accuracy" if metric == "test_accuracy" else "loss"].to_numpy(dtype=float)
    if metric in ("macro_f1", "params"):
        return r[metric].to_numpy(dtype=float)
    if "_" in metric and metric.split("_", 1)[0] in ("train", "val"):
        split, name = metric.split("_", 1)
        out = []
        for run in r.itertuples(index=False):
            profile = PROFILES.get(getattr(run, "profile", "paper")) or PROFILES["paper"]
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


def _rows(runs: pd.DataFrame, epochs: pd.DataFrame, scored: pd.DataFrame,
          profile: str | None) -> list[dict]:
    rows = []
    for rec in paper_results().itertuples(index=False):
        study = _study_for(rec.source, rec.table)
        if study is None:
            continue
        level = _level_key(study, rec.factor, str(rec.level))
        values = _measure(runs, epochs, scored, study, level, rec.metric, int(rec.epochs))
        if study == "architecture":
            stage = str(rec.level).split("=", 1)[0]
            keep = scored[(scored["study"] == study) & (scored["factor"] == stage)
                          & (scored["level"] == level)]
            values = keep["accuracy" if rec.metric == "test_accuracy" else "loss"].to_numpy(float)
        mean, sd, low, high = mean_ci(values)
        rows.append({
            "profile": profile, "source": rec.source, "table": rec.table, "study": study,
            "level": str(rec.level),
            "metric": rec.metric, "epochs": int(rec.epochs), "paper_value": float(rec.value),
            "measured_mean": mean, "measured_sd": sd, "ci_low": low,
            "ci_high": high, "n": int(np.isfinite(values).sum()) if len(values) else 0,
            "difference": mean - float(rec.value) if np.isfinite(mean) else np.nan,
            "paper_in_ci": bool(low <= rec.value <= high) if np.isfinite(low) else None,
        })
    return rows
