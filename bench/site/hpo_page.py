"""The HPO page: best-so-far curves, optimisation time, best parameters, importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.site import charts
from bench.site.writer import SiteWriter, esc, md_table

PAGE = "hpo.md"


def startup_note(trials: pd.DataFrame) -> str:
    """Say plainly what the live searches' trial budget measures, from who proposed each."""
    from bench.hpo.libraries import startup_note as note

    budget = int(trials.groupby("search_id")["trial"].count().max())
    methods = [tuple(m.split(":", 1)) for m in sorted(trials["method"].unique())]
    text = note(methods, budget)
    if "proposed_by" in trials and trials["proposed_by"].notna().any():
        share = (trials["proposed_by"] == "model").mean()
        text += f" Of all {len(trials):,} live trials, {share:.0%} came from a library's model."
    return f'!!! warning "What this budget measures"\n    {esc(text)}\n\n'


def _band(df: pd.DataFrame, x: str) -> pd.DataFrame:
    rows = []
    for (method, xv), g in df.groupby(["method", x]):
        v = g["best_so_far"].dropna().to_numpy()
        if len(v) == len(g):  # every search has a value: a partial mean is not a curve
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


METHOD_COLUMNS = {  # derived/hpo_methods column -> what a reader sees
    "method": "library:algorithm", "fraction": "fraction trained", "epochs": "epochs",
    "n": "seeds", "best_mean": "best validation acc.", "test_mean": "its test acc.",
    "seconds_mean": "search time (s)", "suggest_seconds_mean": "library time (s)",
    "time_to_target_mean": "time to target (s)", "rank_accuracy": "rank (acc.)",
    "rank_speed": "rank (time)"}


def _live(trials: pd.DataFrame, searches: pd.DataFrame | None = None) -> pd.DataFrame:
    """Trials of the live searches the report compares (not replays against the table; only
    the budget and seeding ``report.hpo.current_searches`` keeps)."""
    from bench.hpo.tabular import TABLE_BENCHMARKS
    from bench.report.hpo import current_searches

    if "benchmark" in trials:
        trials = trials[~trials["benchmark"].isin(TABLE_BENCHMARKS)]
    if searches is not None and not searches.empty and "search_id" in trials:
        if "benchmark" in searches:
            searches = searches[~searches["benchmark"].isin(TABLE_BENCHMARKS)]
        trials = trials[trials["search_id"].isin(current_searches(searches)["search_id"])]
    return trials


def _params(blob: object) -> str:
    """``{"lr": 0.001, "conv": 2}`` as ``lr=0.001, conv=2``."""
    import json

    try:
        values = json.loads(str(blob))
    except ValueError:
        return str(blob)
    if not isinstance(values, dict):
        return str(blob)
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in values.items())


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _study_title(name: str) -> str:
    from bench.studies import REGISTRY

    return REGISTRY.get(name).title if name in REGISTRY.names() else name


#: complete seeds (every method and fraction finished) a set at the papers' protocol needs
#: before its live searches of a study replace a reduced set's on this page
LIVE_SEEDS = 5


def _live_of(rs, study: str | None = None) -> pd.DataFrame:
    """The compared live trials of ``rs`` (of one ``study`` when given)."""
    trials = _live(rs.get("trials"), rs.get("searches"))
    if "study" not in trials or "search_id" not in trials:  # no live searches in this set
        return pd.DataFrame()
    return trials[trials["study"] == study] if study is not None else trials


#: what tells the searches of one seed apart: the design's (nominal) fraction and epochs,
#: which a profile's scaling cannot merge (smoke trains 10 and 30 epochs both as 1)
CELL = ["method", "fraction", "epochs"]


def _cell_keys(trials: pd.DataFrame) -> list[str]:
    return [f"{c}_nominal" if f"{c}_nominal" in trials else c for c in CELL
            if c in trials or f"{c}_nominal" in trials]


def _design_cells(study: str) -> int:
    """Searches per seed in the catalogue's design of ``study`` (0 for a user's study)."""
    from bench.studies import REGISTRY

    if study not in REGISTRY.names():
        return 0
    spec = REGISTRY.get(study)
    methods = len(str(spec.hpo.get("methods", "")).split(","))
    return methods * int(np.prod([len(f.levels) for f in spec.factors]))


def complete_seeds(trials: pd.DataFrame) -> int:
    """Seeds holding a search of every cell (method x fraction x epochs) of the study's design
    (the catalogue's, or every combination seen when larger or not catalogued)."""
    if trials.empty or "seed" not in trials:
        return 0
    keys = _cell_keys(trials)
    studies = trials["study"].unique() if "study" in trials else []
    seen = int(np.prod([trials[k].nunique(dropna=False) for k in keys]))
    cells = max([seen] + [_design_cells(str(st)) for st in studies])
    per_seed = trials.drop_duplicates(["seed", *keys]).groupby("seed").size()
    return int((per_seed >= cells).sum())


def live_set_for(sets: list, study: str):
    """The set whose live searches of ``study`` the page shows: one at the papers' protocol
    once it holds ``LIVE_SEEDS`` complete seeds, else the one with the most complete seeds,
    then the most trials."""
    scored = [(rs, _live_of(rs, study)) for rs in sets]
    scored = [(rs, complete_seeds(t), len(t)) for rs, t in scored if not t.empty]
    if not scored:
        return None
    return max(scored, key=lambda x: (x[0].full_protocol and x[1] >= LIVE_SEEDS,
                                      x[1], x[2]))[0]


def _source_line(rs, study: str, sets: list) -> str:
    """Which set the section shows, at which profile, and the other sets holding the study."""
    others = [f"`{esc(o.name)}` ({_count(complete_seeds(_live_of(o, study)), 'complete seed')})"
              for o in sets if o is not rs and not _live_of(o, study).empty]
    n = complete_seeds(_live_of(rs, study))
    line = (f"From result set `{esc(rs.name)}` (profile {esc(str(rs.profile))}, "
            f"{_count(n, 'complete seed')}: every method at every level of the design)")
    return line + (f"; also measured in {', '.join(others)}.\n" if others else ".\n")


def hpo_page(w: SiteWriter, sets: list, tabular_rs=None) -> list:
    """Write the page; return the result sets its numbers come from."""
    from bench.site.hpo_tabular import tabular_section

    text = ["# HPO libraries\n", "Optuna, Hyperopt and scikit-optimize, each driven by its own "
            "loop. Two kinds of evidence: a **tabular benchmark** (every algorithm, 100 trials "
            "x 20 seeds, against a table of 1,080 trained CNNs) that can tell the libraries' "
            "algorithms apart, and **live searches** at the papers' protocol (10 trials), "
            "which mostly measure random start-up. Each section says how much of it has "
            "run.\n"]
    if tabular_rs is not None:
        text.append(tabular_section(w, PAGE, tabular_rs))
    studies = sorted({st for rs in sets for st in _live_of(rs).get("study", [])})
    chosen = {study: live_set_for(sets, study) for study in studies}
    trials = pd.concat([_live_of(rs, study) for study, rs in chosen.items()],
                       ignore_index=True) if chosen else pd.DataFrame()
    if trials.empty:
        text.append("\n## Live searches\n")
        text.append('!!! note "No data yet"\n    No HPO results yet. Run `bench run hpo` and '
                    "rebuild the site.\n")
        w.page(PAGE, "\n".join(text))
        return [tabular_rs] if tabular_rs is not None else []
    budget = int(trials.groupby("search_id")["trial"].count().max())
    text.append(f"\n## Live searches: {budget} trials each"
                + (" (the papers' budget)\n" if budget == 10 else
                   " (the papers' budget is 10: `bench run hpo --trials 10 --seeds 5`)\n"))
    text.append("Lines: mean over seeds; bands: min-max over seeds. On the time axis a "
                "method's curve starts once every one of its searches has finished a trial.\n")
    text.append(startup_note(trials))
    text.append("Every trial is scored on a validation split carved from the training images; "
                "the test set gives the best trial's reported accuracy only. *fraction* is the "
                "share of the training images actually trained (`fraction_nominal` in the "
                "searches table keeps the paper's value).\n")
    for study, st in trials.groupby("study"):
        text += _live_study_section(w, study, st, chosen[study], sets)
    ranks = [r[r["study"] == study] for study, rs in chosen.items()
             if not (r := rs.get("derived/hpo_rank_test")).empty]
    rank = pd.concat(ranks, ignore_index=True) if ranks else pd.DataFrame()
    if not rank.empty:
        text.append("\n### Rank test (Friedman, methods across fraction x seed blocks)\n")
        text.append(md_table(rank.rename(columns={
            "blocks": "blocks (fraction x seed)", "statistic": "Friedman chi2",
            "p_value": "p", "mean_ranks": "mean rank per method (1 = best)"})))
    w.page(PAGE, "\n".join(text))
    used = ([tabular_rs] if tabular_rs is not None else []) + list(chosen.values())
    return [rs for i, rs in enumerate(used) if all(rs is not u for u in used[:i])]


def _live_study_section(w: SiteWriter, study: str, st: pd.DataFrame, rs: Any,
                        sets: list) -> list[str]:
    """One live-HPO study: its size, best-so-far curves, the methods' table and what the
    searches found."""
    text: list[str] = []
    methods = rs.get("derived/hpo_methods")
    per = st.groupby("search_id")
    text.append(f"\n### {esc(_study_title(study))}\n")
    text.append(_source_line(rs, study, sets))
    counts = (_count(per.ngroups, "search", "searches"),
              _count(st["method"].nunique(), "method"),
              _count(st["fraction"].nunique(), "fraction"),
              _count(st["seed"].nunique(), "seed"))
    text.append(f"Study `{esc(study)}`: {counts[0]} ({' x '.join(counts[1:])}), "
                f"{int(per['trial'].count().max())} trials each.\n")
    frac = st["fraction"].max()
    top = st[st["fraction"] == frac]
    never = top.groupby("search_id")["best_so_far"].transform(lambda b: b.isna().all())
    text.append(f"Best so far at dataset fraction {frac:g}"
                + (f" ({_count(top.loc[never, 'search_id'].nunique(), 'search')} without "
                   "a successful trial left out):\n" if never.any() else ":\n"))
    top = top[~never]
    text += _best_so_far_charts(w, study, top)
    if not methods.empty:
        text += _methods_section(w, study, methods[methods["study"] == study])
    text += _best_trials(w, study, st)
    return text


def _best_so_far_charts(w: SiteWriter, study: str, top: pd.DataFrame) -> list[str]:
    """Best so far per trial and per second, one line per method (and epochs level)."""
    text: list[str] = []
    if "epochs" in top and top["epochs"].nunique() > 1:  # the study's factor: one line each
        top = top.assign(method=top["method"] + ", " + top["epochs"].map(
            lambda e: f"{int(e)} epochs"))
    numbered = top.assign(trial=top["trial"] + 1)
    text.append(w.chart(PAGE, f"{study}-trial", charts.best_so_far(_band(numbered, "trial"),
                                                                    "trial")))
    text.append(w.chart(PAGE, f"{study}-time", charts.best_so_far(
        _band(_on_time_grid(top), "wall_seconds"), "wall_seconds")))
    return text


def _methods_section(w: SiteWriter, study: str, m: pd.DataFrame) -> list[str]:
    """Seconds and test accuracy per fraction trained (charts), and the methods' table."""
    text: list[str] = []
    if m["fraction"].nunique() > 1:
        shown_m = m.assign(fraction=m["fraction"].map(lambda f: f"{f:.3g}"))
        text.append(w.chart(PAGE, f"{study}-seconds", charts.grouped_bars(
            shown_m, "fraction", "seconds_mean", "method",
            ["optimisation time per fraction trained", "mean over seeds, 95 % CI"],
            ("seconds_ci_low", "seconds_ci_high"), "seconds")))
        text.append(w.chart(PAGE, f"{study}-acc", charts.grouped_bars(
            shown_m.assign(test_ci_low=shown_m["test_ci_low"].clip(lower=0.0),
                           test_ci_high=shown_m["test_ci_high"].clip(upper=1.0)),
            "fraction", "test_mean", "method",
            ["best trial's test accuracy per fraction trained",
             "mean over seeds, 95 % CI (cut at 0 and 1)"],
            ("test_ci_low", "test_ci_high"), "test accuracy")))
    shown = m[list(METHOD_COLUMNS)].astype({"epochs": "Int64", "n": "Int64",
                                            "rank_accuracy": "Int64",
                                            "rank_speed": "Int64"})
    shown = shown.assign(fraction=shown["fraction"].map(lambda f: f"{f:.2f}"))
    text.append(md_table(shown.rename(columns=METHOD_COLUMNS)))
    return text


def _best_trials(w: SiteWriter, study: str, st: pd.DataFrame) -> list[str]:
    """The best trial per method, which parameters matter, parallel coordinates."""
    text: list[str] = []
    params = [c for c in st.columns if c.startswith("param_") and st[c].notna().any()]
    best = st.dropna(subset=["score_accuracy"]).sort_values("score_accuracy").groupby(
        "method").tail(1)
    text.append("\n#### Best trial per method\n\nThe trial with the highest validation "
                "score over all of a method's searches (a description of what it found, "
                "not a comparison: the comparison is the table of means above).\n")
    best = best.assign(params_json=best["params_json"].map(_params),
                       fraction=best["fraction"].map(lambda f: f"{f:.2f}"))
    text.append(md_table(best[["method", "fraction", "score_accuracy", "test_accuracy",
                               "params_json"]].rename(columns={
        "method": "library:algorithm", "fraction": "fraction trained",
        "score_accuracy": "validation acc.", "test_accuracy": "test acc.",
        "params_json": "parameters"})))
    imp = _importance(st, params)
    if not imp.empty:
        text.append("\n#### Which parameters matter\n")
        text.append(md_table(imp))
    numeric = [p for p in params if pd.api.types.is_numeric_dtype(st[p])]
    if len(numeric) >= 2:
        text.append(w.chart(PAGE, f"{study}-parallel", charts.parallel_coordinates(
            st.dropna(subset=["test_accuracy"]), numeric)))
    return text
