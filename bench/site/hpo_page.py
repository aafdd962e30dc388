"""The HPO page: best-so-far curves, optimisation time, best parameters, importance."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.site import charts
from bench.site.writer import SiteWriter, esc, md_table

PAGE = "hpo.md"
#: trials each algorithm spends on random start-up before it models (library defaults)
STARTUP = {"optuna:tpe": 10, "hyperopt:tpe": 20, "hyperopt:atpe": 20, "scikit-optimize:gp": 10,
           "scikit-optimize:forest": 10, "scikit-optimize:gbrt": 10, "optuna:gp": 10}


def startup_note(trials: pd.DataFrame) -> str:
    """Say plainly what a small trial budget measures."""
    budget = int(trials.groupby("search_id")["trial"].count().max())
    random_only = sorted(m for m in trials["method"].unique() if STARTUP.get(m, 0) >= budget)
    if not random_only:
        return ""
    return ('!!! warning "What this budget measures"\n'
            f"    Each search here ran at most {budget} trials. {', '.join(random_only)} "
            "spend their first 10 (Optuna TPE, scikit-optimize) or 20 (Hyperopt TPE/ATPE) "
            "trials on random start-up before they model anything, so at this budget they "
            "are all **random search**: differences between them are differences between "
            "random streams, not between the libraries' algorithms.\n\n")


def _band(df: pd.DataFrame, x: str) -> pd.DataFrame:
    rows = []
    for (method, xv), g in df.groupby(["method", x]):
        v = g["best_so_far"].dropna().to_numpy()
        if len(v):
            rows.append({"method": method, x: xv, "mean": v.mean(), "low": v.min(),
                         "high": v.max()})
    return pd.DataFrame(rows)


def _on_time_grid(trials: pd.DataFrame, points: int = 40) -> pd.DataFrame:
    """Best-so-far of each search sampled on a shared time grid (step function)."""
    grid = np.linspace(0, trials["elapsed_seconds"].max(), points)
    rows = []
    ordered = trials.sort_values("elapsed_seconds")
    for (method, _), g in ordered.groupby(["method", "search_id"]):
        t, b = g["elapsed_seconds"].to_numpy(), g["best_so_far"].ffill().to_numpy()
        for x in grid:
            k = np.searchsorted(t, x, side="right") - 1
            rows.append({"method": method, "wall_seconds": round(float(x), 2),
                         "best_so_far": b[k] if k >= 0 else np.nan})
    return pd.DataFrame(rows)


def _importance(trials: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """Association of each parameter with accuracy: |Spearman rho| or eta squared."""
    from scipy import stats

    ok = trials.dropna(subset=["score_accuracy"])
    rows = []
    for p in params:
        col = ok[p]
        if col.nunique() < 2:
            continue
        if pd.api.types.is_numeric_dtype(col):
            value = abs(stats.spearmanr(col, ok["score_accuracy"]).statistic)
            how = "|Spearman rho|"
        else:
            groups = ok.groupby(p)["score_accuracy"]
            total = ((ok["score_accuracy"] - ok["score_accuracy"].mean()) ** 2).sum()
            between = (groups.count() * (groups.mean() - ok["score_accuracy"].mean()) ** 2).sum()
            value, how = (between / total if total else 0.0), "eta squared"
        rows.append({"parameter": p.removeprefix("param_"), "association": value, "measure": how})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values("association", ascending=False)


def hpo_page(w: SiteWriter, rs) -> None:
    text = ["# HPO libraries\n", "Optuna, Hyperopt and scikit-optimize, each driven by its own "
            "loop on the same CNN objective; every algorithm of each library in the `full` "
            "profile. Bands span the seeds (min-max).\n"]
    trials = rs.get("trials") if rs else pd.DataFrame()
    if trials.empty:
        text.append('!!! note "No data yet"\n    No HPO results yet. Run `bench run hpo` and '
                    "rebuild the site.\n")
        w.page(PAGE, "\n".join(text))
        return
    text.append(startup_note(trials))
    text.append("Every trial is scored on a validation split carved from the training images; "
                "the test set gives the best trial's reported accuracy only. *fraction* is the "
                "share of the training images actually trained (`fraction_nominal` in the "
                "searches table keeps the paper's value).\n")
    methods = rs.get("derived/hpo_methods")
    for study, st in trials.groupby("study"):
        text.append(f"\n## {esc(study)}\n")
        frac = st["fraction"].max()
        top = st[st["fraction"] == frac]
        text.append(f"Best so far at dataset fraction {frac:g}:\n")
        numbered = top.assign(trial=top["trial"] + 1)
        text.append(w.chart(PAGE, f"{study}-trial", charts.best_so_far(_band(numbered, "trial"),
                                                                        "trial")))
        text.append(w.chart(PAGE, f"{study}-time", charts.best_so_far(
            _band(_on_time_grid(top), "wall_seconds"), "wall_seconds")))
        if not methods.empty:
            m = methods[methods["study"] == study]
            if m["fraction"].nunique() > 1:
                text.append(w.chart(PAGE, f"{study}-seconds", charts.grouped_bars(
                    m.assign(fraction=m["fraction"].astype(str)), "fraction", "seconds_mean",
                    "method", "optimisation time (s) per dataset fraction")))
                text.append(w.chart(PAGE, f"{study}-acc", charts.grouped_bars(
                    m.assign(fraction=m["fraction"].astype(str)), "fraction", "test_mean",
                    "method", "best trial's full-test accuracy per dataset fraction")))
            text.append(md_table(m[["method", "fraction", "epochs", "n", "best_mean",
                                    "test_mean", "seconds_mean", "suggest_seconds_mean",
                                    "time_to_target_mean", "rank_accuracy", "rank_speed"]]))
        params = [c for c in st.columns if c.startswith("param_") and st[c].notna().any()]
        best = st.dropna(subset=["score_accuracy"]).sort_values("score_accuracy").groupby(
            "method").tail(1)
        text.append("\n### Best parameters per method\n")
        text.append(md_table(best[["method", "fraction", "score_accuracy", "test_accuracy",
                                   "params_json"]]))
        imp = _importance(st, params)
        if not imp.empty:
            text.append("\n### Which parameters matter\n")
            text.append(md_table(imp))
        numeric = [p for p in params if pd.api.types.is_numeric_dtype(st[p])]
        if len(numeric) >= 2:
            text.append(w.chart(PAGE, f"{study}-parallel", charts.parallel_coordinates(
                st.dropna(subset=["test_accuracy"]), numeric)))
    rank = rs.get("derived/hpo_rank_test")
    if not rank.empty:
        text.append("\n## Rank test (Friedman, methods across fraction x seed blocks)\n")
        text.append(md_table(rank))
    w.page(PAGE, "\n".join(text))
