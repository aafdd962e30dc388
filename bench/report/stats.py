"""Per-level statistics over seeds (means with bounded CIs) and seed-paired comparisons."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
from scipy import stats

from bench.errors import BenchError
from bench.report.paired import ALPHA, compare, holm, interval, outcomes, seeds_needed
from bench.studies import REGISTRY
from bench.studies.registry import PROFILES

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


def _curves(epochs: pd.DataFrame, split: str) -> dict[str, pd.DataFrame]:
    """run_id -> its (epoch x metric) curve on ``split``."""
    part = epochs[epochs["split"] == split]
    if part.empty:
        return {}
    wide = part.pivot_table(index=["run_id", "epoch"], columns="metric", values="value")
    return {rid: g.droplevel(0) for rid, g in wide.groupby(level=0)}


def _at(curve: pd.DataFrame | None, epoch: int, metric: str) -> float:
    if curve is None or epoch not in curve.index or metric not in curve:
        return np.nan
    return float(curve.loc[epoch, metric])


def scores(runs: pd.DataFrame, epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, level): test ``accuracy``/``loss`` (the reported number),
    ``val_accuracy`` (what selection sees), ``seconds`` and the epochs actually trained.

    Studies with a ``report_epoch`` or ``curve`` read both off the per-epoch curves; levels are
    labelled by the epochs trained (``level_nominal`` keeps the paper's value).
    """
    cols = [*LEVEL_KEYS, "level_nominal", "run_id", "seed", "epochs_trained", "fraction",
            "selection", "accuracy", "loss", "val_accuracy", "seconds"]
    ok = runs[runs["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame(columns=cols)
    val, test = _curves(epochs, "val"), _curves(epochs, "test")
    rows = []
    for run in ok.itertuples(index=False):
        study = _study_of(run.study)
        selection = getattr(run, "selection", None)
        if not isinstance(selection, str):  # rows from before the column: read validation
            selection = "test" if getattr(run, "validation", "test") in ("test", "none") \
                else "validation"
        on_test = selection == "test"
        v = val.get(run.run_id)
        t = v if on_test else test.get(run.run_id)
        nominal = (getattr(run, f"{run.factor}_nominal", None)
                   if isinstance(run.factor, str) else None)
        level = run.level
        if study is not None and study.stages:  # a growing search: the level is the network
            nominal, level = run.level, arch_label(run.arch)
        base = {"study": run.study, "profile": getattr(run, "profile", None),
                "factor": run.factor, "level": level,
                "level_nominal": nominal if isinstance(nominal, str) else level,
                "run_id": run.run_id, "seed": run.seed, "epochs_trained": run.epochs,
                "fraction": getattr(run, "fraction", np.nan),
                "selection": "test" if on_test else "validation",
                "seconds": run.train_seconds}
        profile = PROFILES.get(base["profile"]) or PROFILES["paper"]
        if study is not None and study.curve:
            profile = study.scaled(profile)
            for nominal_e in study.curve:
                e = profile.epochs(nominal_e)
                if e in (t.index if t is not None else []) and e <= run.epochs:
                    rows.append({**base, "factor": "epochs", "level": str(e),
                                 "level_nominal": str(nominal_e), "epochs_trained": e,
                                 "accuracy": _at(t, e, "accuracy"), "loss": _at(t, e, "loss"),
                                 "val_accuracy": _at(v, e, "accuracy"),
                                 "seconds": base["seconds"] * e / run.epochs})
            continue
        if study is not None and study.report_epoch:
            e = study.scored_epoch(profile)
            if t is not None and e in t.index:
                rows.append({**base, "epochs_trained": e, "accuracy": _at(t, e, "accuracy"),
                             "loss": _at(t, e, "loss"), "val_accuracy": _at(v, e, "accuracy"),
                             "seconds": base["seconds"] * e / run.epochs})
                continue
        rows.append({**base, "accuracy": run.test_accuracy, "loss": run.test_loss,
                     "val_accuracy": getattr(run, "final_val_accuracy", np.nan)})
    out = pd.DataFrame(rows, columns=cols)
    return _without_aliases(out.drop_duplicates(subset=["run_id", "factor", "level"]))


def _without_aliases(scored: pd.DataFrame) -> pd.DataFrame:
    """Drop the levels a study declares to train exactly as another one it also holds
    (``Study.aliases``): one training counted as two levels would enter every family twice."""
    drop = pd.Series(False, index=scored.index)
    for name in scored["study"].unique():
        study = _study_of(name)
        for alias, same in (study.aliases if study else {}).items():
            mine = scored["study"] == name
            if (mine & (scored["level"] == same)).any():
                drop |= mine & (scored["level"] == alias)
    return scored[~drop]


def level_stats(scored: pd.DataFrame) -> pd.DataFrame:
    """Per study level: mean, SD and 95 % CI (accuracy on the logit scale, so inside [0, 1];
    loss and seconds on the log scale), validation mean, and rank by test accuracy."""
    out = []
    for keys, group in scored.groupby(LEVEL_KEYS, dropna=False):
        row = dict(zip(LEVEL_KEYS, keys, strict=True))
        row["level_nominal"] = group["level_nominal"].iloc[0]
        row["epochs_trained"] = pd.to_numeric(group["epochs_trained"]).max()
        row["fraction"] = pd.to_numeric(group["fraction"]).max()
        row["selection"] = group["selection"].iloc[0]
        row["n"] = int(group["accuracy"].notna().sum())
        for metric, scale in (("accuracy", "logit"), ("loss", "log"), ("seconds", "log")):
            mean, sd, _, _ = mean_ci(group[metric].to_numpy(dtype=float))
            low, high = interval(group[metric].to_numpy(dtype=float), scale)
            row.update({f"{metric}_mean": mean, f"{metric}_sd": sd,
                        f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        row["val_accuracy_mean"] = float(group["val_accuracy"].mean())
        row["seeds"] = ",".join(str(int(s)) for s in sorted(group["seed"]))
        out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        cols = [f"{m}_{s}" for m in ("accuracy", "loss", "seconds")
                for s in ("mean", "sd", "ci_low", "ci_high")]
        return pd.DataFrame(columns=[*LEVEL_KEYS, "n", *cols, "val_accuracy_mean", "rank"])
    df["rank"] = df.groupby(["study", "profile", "factor"])["accuracy_mean"].rank(
        ascending=False, method="min").astype(int)
    return df.sort_values(["study", "profile", "factor", "rank"]).reset_index(drop=True)


def paired_samples(scored: pd.DataFrame, a: str, b: str, metric: str = "accuracy") -> np.ndarray:
    """Per-seed differences ``a - b`` of ``metric`` over the seeds both levels have."""
    wide = scored.pivot_table(index="seed", columns="level", values=metric, aggfunc="mean")
    if a not in wide or b not in wide:
        return np.array([])
    return (wide[a] - wide[b]).dropna().to_numpy(dtype=float)


def pairwise(scored: pd.DataFrame) -> pd.DataFrame:
    """Every pair of levels of a factor, paired by seed: the mean difference with its 95 % CI,
    paired t p-value (Holm over the factor's pairs) and the seeds a decision would need."""
    rows = []
    for keys, group in scored.groupby(["study", "profile", "factor"], dropna=False):
        levels = sorted(group["level"].unique(), key=_natural)
        pairs = []
        for a, b in itertools.combinations(levels, 2):
            c = compare(paired_samples(group, a, b))
            if c.n < 2:
                continue
            pairs.append((a, b, c))
        if not pairs:
            continue
        p_holm = holm([c.p_two_sided() for _, _, c in pairs])
        for (a, b, c), ph, outcome in zip(pairs, p_holm, outcomes([c for *_, c in pairs]),
                                          strict=True):
            rows.append({"study": keys[0], "profile": keys[1], "factor": keys[2],
                         "level_a": a, "level_b": b, "n_pairs": c.n, "mean_diff": c.mean,
                         "sd_diff": c.sd, "diff_ci_low": c.ci_low, "diff_ci_high": c.ci_high,
                         "p_paired_t": c.p_two_sided(), "p_holm": ph,
                         "significant": ph < ALPHA, "outcome": outcome,
                         "seeds_needed": seeds_needed(c, len(pairs))
                         if outcome == "undecided" else None})
    return pd.DataFrame(rows)


def _natural(label: object) -> tuple:
    """Sort numbers as numbers ("5" < "10"), then text."""
    try:
        return (0, float(str(label)), "")
    except ValueError:
        return (1, 0.0, str(label))


def arch_label(arch: str | dict) -> str:
    """``512-128-32`` for an MLP's architecture (a dict or its JSON)."""
    arch = json.loads(arch) if isinstance(arch, str) else arch
    return "-".join(str(u) for u in arch.get("hidden", []))
