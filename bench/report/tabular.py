"""The tabular HPO benchmark's report: the table, anytime regret, ranks, overhead, checks.

Every statistic is over search seeds (the blocks): medians with percentile-bootstrap bands,
final ranks with a Friedman test and Nemenyi's critical difference, and a normalised score
(0 = the table's optimum, 1 = the mean final regret of random search at the same budget).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from bench.hpo.libraries import DEFAULT_ALGORITHM
from bench.report.ranks import RANDOM_METHODS, final_ranks, nemenyi_cd  # noqa: F401
from bench.store import ResultStore
from bench.studies import REGISTRY

#: studies whose runs form a table, not levels to compare
TABLE_STUDIES = [s.name for s in REGISTRY if s.kind == "table"]
#: the papers' default algorithm of each library (the ones their claims are about)
DEFAULTS = tuple(f"{lib}:{alg}" for lib, alg in DEFAULT_ALGORITHM.items())
BOOTSTRAP = 1000


def table_points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (table study, profile, grid point): seed-mean and SD of the validation
    accuracy, test accuracy and train time."""
    part = runs[runs["study"].isin(TABLE_STUDIES)]
    if part.empty:
        return pd.DataFrame()
    part = part.assign(ok=part["status"] == "ok")
    rows = []
    for (study, profile, level), g in part.groupby(["study", "profile", "level"]):
        ok = g[g["ok"]]
        val = ok["final_val_accuracy"].astype(float)
        rows.append({"study": study, "profile": profile, "config": level, "seeds": len(g),
                     "seeds_ok": len(ok), "val_mean": val.mean(),
                     "val_sd": val.std(ddof=1) if len(ok) > 1 else np.nan,
                     "test_mean": ok["test_accuracy"].astype(float).mean(),
                     "train_seconds_mean": g["train_seconds"].astype(float).mean()})
    out = pd.DataFrame(rows)
    out["rank"] = out.groupby(["study", "profile"])["val_mean"].rank(ascending=False,
                                                                     method="min")
    return out.sort_values(["study", "profile", "rank"]).reset_index(drop=True)


def _median_band(values: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap 95 % band of the median over axis 0 (seeds), per column."""
    if len(values) < 2:
        return values[0], values[0]
    res = stats.bootstrap((values,), np.median, axis=0, vectorized=True,
                          n_resamples=BOOTSTRAP, method="percentile",
                          random_state=np.random.default_rng(seed))
    return res.confidence_interval.low, res.confidence_interval.high


def _regret_matrix(trials: pd.DataFrame, column: str = "regret") -> pd.DataFrame:
    """seed x trial matrix of one method's ``column``."""
    return trials.pivot_table(index="seed", columns="trial", values=column).sort_index(axis=1)


def anytime(trials: pd.DataFrame) -> pd.DataFrame:
    """Median simple regret (with a bootstrap band) after each trial, per method."""
    rows = []
    for (study, profile, method), g in trials.groupby(["study", "profile", "method"]):
        matrix = _regret_matrix(g).dropna()
        if matrix.empty:
            continue
        values = matrix.to_numpy(dtype=float)
        low, high = _median_band(values)
        for i, trial in enumerate(matrix.columns):
            rows.append({"study": study, "profile": profile, "method": method,
                         "trial": int(trial) + 1, "median_regret": float(np.median(values[:, i])),
                         "low": float(low[i]), "high": float(high[i]),
                         "mean_regret": float(values[:, i].mean()), "n": len(values)})
    return pd.DataFrame(rows)


def anytime_by_time(trials: pd.DataFrame, points: int = 40) -> pd.DataFrame:
    """Median regret against simulated wall time (recorded train time + suggest time)."""
    rows = []
    for (study, profile), part in trials.groupby(["study", "profile"]):
        top = float(part["simulated_seconds"].max())
        bottom = max(float(part["simulated_seconds"].min()), 1e-3)
        grid = np.geomspace(bottom, top, points)
        for method, g in part.groupby("method"):
            curves = []
            for _, s in g.groupby("seed"):
                s = s.sort_values("trial")
                at = np.searchsorted(s["simulated_seconds"].to_numpy(), grid, side="right") - 1
                regret = s["regret"].to_numpy(dtype=float)
                curves.append(np.where(at >= 0, regret[np.clip(at, 0, None)], np.nan))
            values = np.array(curves)
            for i, t in enumerate(grid):
                col = values[:, i]
                if np.isnan(col).any():  # not every seed has a trial yet
                    continue
                rows.append({"study": study, "profile": profile, "method": method,
                             "seconds": float(t), "median_regret": float(np.median(col)),
                             "n": len(col)})
    return pd.DataFrame(rows)


def overhead(trials: pd.DataFrame) -> pd.DataFrame:
    """Median suggest time (the library's own time) per trial number, per method."""
    g = trials.groupby(["study", "profile", "method", "trial"])["suggest_seconds"]
    out = g.median().rename("median_suggest_seconds").reset_index()
    out["trial"] = out["trial"] + 1
    return out


def replay_trials(store: ResultStore, benchmark: str = "tabular") -> pd.DataFrame:
    """The trials of replays against a table, or with ``benchmark="table_check"`` of the
    searches that trained the table's points for real (empty when there are none)."""
    if not store.has_table("trials"):
        return pd.DataFrame()
    trials = store.table("trials")
    if "benchmark" not in trials:
        return pd.DataFrame()
    trials = trials[trials["benchmark"] == benchmark]
    if benchmark == "tabular" and "replay_version" in trials \
            and trials["replay_version"].notna().any():  # older protocols are superseded
        trials = trials[trials["replay_version"] == trials["replay_version"].max()]
    if benchmark == "tabular" and not trials.empty and store.has_table("runs") \
            and "incumbent" in trials:
        from bench.report.tabular_truth import rescore

        trials = rescore(trials, store.table("runs"))
    return trials.dropna(subset=["regret"])


def tabular_tables(store: ResultStore, runs: pd.DataFrame,
                   epochs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Derived tables of the tabular benchmark (none until its studies have results)."""
    out: dict[str, pd.DataFrame] = {}
    points = table_points(runs) if "study" in runs else pd.DataFrame()
    if not points.empty:
        out["hpo_table"] = points
    trials = replay_trials(store)
    check = replay_trials(store, "table_check")
    if not check.empty and not points.empty:
        from bench.report.table_check import table_check

        table_name = check["table"].iloc[0] if "table" in check else next(
            s.hpo["table"] for s in REGISTRY if s.kind == "tabular")
        profile = check["profile"].iloc[0]
        table = points[(points["study"] == table_name) & (points["profile"] == profile)]
        same = trials[trials["profile"] == profile] if "profile" in trials else trials
        out["hpo_table_check"] = table_check(check, table, same)
    if trials.empty:
        return out
    out["hpo_anytime"] = anytime(trials)
    out["hpo_anytime_time"] = anytime_by_time(trials)
    out["hpo_overhead"] = overhead(trials)
    budgets = [b for b in (10, None) if b is None or b <= trials["trial"].max() + 1]
    out["hpo_tabular_ranks"] = pd.concat([final_ranks(None, b, trials) for b in budgets],
                                         ignore_index=True)
    out.update(_noise_tables(trials, runs, budgets))
    return out


def _noise_tables(trials: pd.DataFrame, runs: pd.DataFrame,
                  budgets: list[int | None]) -> dict[str, pd.DataFrame]:
    """Noise-tolerant ranks and the ranks under each table seed's truth
    (``report.tabular_truth``), and the table's top region against its extra seeds."""
    from bench.report.table_check import fidelity_check, top_region_check
    from bench.report.tabular_truth import TOLERANCE, stability, tolerant

    out = {"hpo_tabular_tolerant_ranks": pd.concat(
        [final_ranks(None, b, tolerant(trials)) for b in budgets], ignore_index=True)
        .assign(tolerance=TOLERANCE)}
    if "study" in runs and "incumbent" in trials:
        out["hpo_tabular_stability"] = stability(trials, runs, budgets)
        top = top_region_check(runs[runs["study"].isin(TABLE_STUDIES)])
        if not top.empty:
            out["hpo_table_top_check"] = top
        fidelity = fidelity_check(runs)
        if not fidelity.empty:
            out["hpo_table_fidelity_check"] = fidelity
    return out


TIME_MARGIN = math.log(1.1)  # "faster" must be at least 10 % faster (on the log scale)


def _paired_family(at: pd.DataFrame, column: str, subject: str, others: list[str],
                   margin: float, transform=None) -> list[tuple[str, object, str]]:
    """Seed-paired comparisons of ``subject`` against each of ``others`` on ``column`` where
    smaller is better: d = other - subject (> 0: subject better)."""
    from bench.report.paired import compare, outcomes

    wide = at.pivot_table(index="seed", columns="method", values=column)
    wide = wide[[subject, *others]].dropna()  # the seeds every method has
    if transform is not None:
        wide = transform(wide)
    comps = [compare((wide[o] - wide[subject]).to_numpy(), margin) for o in others]
    return list(zip(others, comps, outcomes(comps), strict=True))


def _verdict(family: list[tuple[str, object, str]]) -> tuple[str, str]:
    """(verdict, a note for the evidence): the verdict is one of the project's words; how
    many seeds would decide an open one goes into the evidence."""
    from bench.report.paired import seeds_needed

    results = [o for _, _, o in family]
    if all(o == "better" for o in results):
        return "confirmed", ""
    if any(o == "worse" for o in results):
        return "not confirmed", ""
    if all(o == "equivalent" for o in results):
        return "tied", ""
    needed = max((seeds_needed(c, len(family)) or 0) for _, c, o in family if o != "better")
    return "undecidable", (f"; about {needed} seeds would decide it" if needed else "")


def tabular_claims(trials: pd.DataFrame) -> dict[str, tuple[str, str, int]]:
    """claim id -> (verdict, evidence, seeds) from the replays of the libraries' default algorithms
    (Optuna TPE, Hyperopt TPE, scikit-optimize GP) at the end of their budget."""
    part = trials[trials["method"].isin(DEFAULTS)]
    if part.empty or part["method"].nunique() < len(DEFAULTS):
        return {}
    last = part.groupby("method")["trial"].max().min()
    at = part[part["trial"] == last]
    n = int(at.groupby("method")["seed"].nunique().min())
    if n < 3:
        return {}
    where = (f"tabular benchmark, {int(last) + 1} trials x {n} seeds against 1,080 trained "
             "CNNs, paired by seed")
    out = {}
    acc = _paired_family(at, "regret", "hyperopt:tpe", ["optuna:tpe", "scikit-optimize:gp"],
                         0.005)
    ev = "; ".join(f"regret of {o} minus hyperopt:tpe {c.mean:+.4f} "
                   f"[{c.ci_low:+.4f}, {c.ci_high:+.4f}] ({r})" for o, c, r in acc)
    verdict, note = _verdict(acc)
    out["hpo_hyperopt_most_accurate"] = (verdict, f"{where}: {ev}{note}", n)
    out["hpo_optuna_fastest"] = _fastest(part[part["trial"] <= last], where, n)
    return out


def _fastest(part: pd.DataFrame, where: str, n: int) -> tuple[str, str, int]:
    """"Optuna is the fastest library" decided on the libraries' own time: each search's
    median suggest time per trial, paired by seed (log scale, 10 % margin). Training time is
    left out: it is the same compute whichever library proposed the point, and a table's
    recorded times drift with the order it was trained in."""
    per = part.groupby(["method", "seed"], as_index=False)["suggest_seconds"].median()
    speed = _paired_family(per, "suggest_seconds", "optuna:tpe",
                           ["hyperopt:tpe", "scikit-optimize:gp"], TIME_MARGIN,
                           transform=np.log)
    medians = per.groupby("method")["suggest_seconds"].median()
    each = ", ".join(f"{m} {medians[m] * 1000:.1f} ms" for m in DEFAULTS)
    ev = "; ".join(f"{o} takes x{math.exp(c.mean):.2f} the suggest time of optuna:tpe ({r})"
                   for o, c, r in speed)
    share = ""
    if "cost_seconds" in part and part["cost_seconds"].notna().any():
        share = (f"; against a median modelled training cost of "
                 f"{part['cost_seconds'].median():.2f} s per trial, the largest overhead is "
                 f"{medians.max() / part['cost_seconds'].median():.1%} of a trial")
    verdict, note = _verdict(speed)
    return (verdict, f"{where}, the libraries' own time (median suggest time per trial over "
            f"each search, training time excluded): {each}; {ev}{share}{note}", n)
