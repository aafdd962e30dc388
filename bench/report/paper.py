"""Paper vs measured: every figure of ``paper_results.csv`` next to our per-seed values.

A paper reports one run, so it is compared with a 95 % *prediction* interval for one run
(where a single new run of ours would land), not with the CI of our mean. Every row says
whether it is like-for-like (``comparable``) or, in ``not_comparable_because``, why not: a
reduced protocol, another network or upstream choice, another split or hardware. Only
like-for-like rows count in an "inside the interval" summary.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from bench.report.paired import interval
from bench.report.stats import mean_ci
from bench.studies import REGISTRY
from bench.studies.catalog import PAPER_BASE_SUFFIX
from bench.studies.registry import PROFILES


def paper_results() -> pd.DataFrame:
    """The figures the five papers reported (copied from the reference, cited by source/table)."""
    with resources.files("bench.resources").joinpath("paper_results.csv").open() as fh:
        # "None" is a level (the framework's default batch size), not a missing value
        return pd.read_csv(fh, dtype={"level": str}, keep_default_na=False,
                           na_values={"value": [""]})


def _studies_for(source: str, table: str) -> list[str]:
    """The studies measuring a paper table: the study itself and its labelled variants (HPO
    studies are compared by ``report.hpo``: searches, not runs)."""
    return [study.name for study in REGISTRY if study.source == source
            and study.paper_table == table and study.kind != "hpo"]


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
    if REGISTRY.get(study).stages and "=" in level:
        return level.split("=", 1)[1]
    return level


REDUCED_REASON = "measured on a reduced protocol, not the paper's"
HARDWARE_REASON = ("a time on the paper's hardware against one on this set's: hardware and "
                   "software differ, so times are compared only within one set")
#: float32 accuracies (0.1 stored as 0.10000000149) against the paper's printed decimals
_FLOAT_TOLERANCE = 1e-6


def _unlike(rec: Any, study: str, runs: pd.DataFrame, scored: pd.DataFrame,
            reduced: bool) -> str | None:
    """Why a paper figure and our measurement are not like-for-like (None: they are)."""
    declared = REGISTRY.get(study)
    if reduced:
        return REDUCED_REASON
    if "seconds" in rec.metric:
        return HARDWARE_REASON
    if declared.unlike_paper:
        return declared.unlike_paper
    if str(getattr(rec, "notes", "")).startswith("validation = test set") \
            and rec.metric.startswith("val_"):
        return ("the paper's 'validation' was its test set; ours is a split held out from the "
                "training images")
    if str(rec.level) in declared.aliases:
        same = declared.aliases[str(rec.level)]
        return (f"level {rec.level} trains exactly as {same} here: our runs are compared once, "
                f"in the row of {same}")
    if declared.stages:
        return _unlike_stage(rec, study, scored)
    mine = runs[(runs["study"] == study) & (runs["status"] == "ok")]
    differs = []
    for upstream, paper_label in declared.inherits.items():
        column = REGISTRY.get(upstream).factors[0].name
        if column in mine and len(mine):
            used = sorted({str(v) for v in mine[column].dropna().unique()}) or ["None"]
            if used != [str(paper_label)]:
                differs.append(f"{column} {'/'.join(used)} (paper: {paper_label})")
    if differs:
        return ("our greedy chain inherited its own winners: " + ", ".join(differs)
                + f"; the like-for-like rows are {study}{PAPER_BASE_SUFFIX}")
    return None


def _unlike_stage(rec: Any, study: str, scored: pd.DataFrame) -> str | None:
    """A growing search's stage row compares like with like only where our network at that
    stage is the paper's (our earlier stages chose the paper's winners)."""
    stages = REGISTRY.get(study).stages
    stage, _, units = str(rec.level).partition("=")
    names = [st.name for st in stages]
    if stage not in names:
        return None
    earlier = [str(st.paper_winner) for st in stages[:names.index(stage)]]
    paper_net = "-".join([*earlier, units])
    ours = scored[(scored["study"] == study) & (scored["factor"] == stage)
                  & (scored["level_nominal"].astype(str) == units)]["level"].unique()
    if len(ours) and any(str(net) != paper_net for net in ours):
        return (f"our pyramid grew {', '.join(map(str, ours))} where the paper's grew "
                f"{paper_net}: different networks")
    return None


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
        for study in _studies_for(rec.source, rec.table):
            if REGISTRY.get(study).variant_of and not (runs["study"] == study).any():
                continue  # a variant not run: no row (the main study's row says so)
            level = _level_key(study, rec.factor, str(rec.level))
            level = REGISTRY.get(study).aliases.get(level, level)  # None: trained as 32
            values = _measure(runs, epochs, scored, study, level, rec.metric, int(rec.epochs))
            if REGISTRY.get(study).stages:
                stage = str(rec.level).split("=", 1)[0]
                keep = scored[(scored["study"] == study) & (scored["factor"] == stage)
                              & (scored["level_nominal"].astype(str) == level)]
                values = keep["accuracy" if rec.metric == "test_accuracy"
                              else "loss"].to_numpy(float)
            rows.append(comparison_row(rec, values, profile, study,
                                       _unlike(rec, study, runs, scored, reduced)))
    return rows


def comparison_row(rec: Any, values: np.ndarray, profile: str | None, study: str,
                   unlike: str | None) -> dict[str, Any]:
    """One paper figure next to our values: mean, CI of the mean, prediction interval, and
    ``unlike``: why the two are not like-for-like (None: they are)."""
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
    tol = _FLOAT_TOLERANCE * max(1.0, abs(value))
    return {
        "profile": profile, "source": rec.source, "table": rec.table, "study": study,
        "level": str(rec.level), "metric": rec.metric, "epochs": int(rec.epochs),
        "paper_value": value, "measured_mean": mean, "measured_sd": sd, "ci_low": low,
        "ci_high": high, "pi_low": pi_low, "pi_high": pi_high,
        "n": int(np.isfinite(values).sum()),
        "difference": mean - value if np.isfinite(mean) else np.nan,
        "paper_in_pi": bool(pi_low - tol <= value <= pi_high + tol)
        if np.isfinite(pi_low) else None,
        "comparable": unlike is None, "not_comparable_because": unlike,
    }
