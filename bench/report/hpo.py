"""HPO results per (study, library, algorithm, fraction): best accuracy, time, ranks, claims."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.claims import MIN_SEEDS
from bench.report.stats import mean_ci

KEYS = ["study", "profile", "method", "library", "algorithm", "fraction", "epochs"]


def current_searches(searches: pd.DataFrame) -> pd.DataFrame:
    """The live searches a report compares: per study, those at the largest trial budget
    asked for (``budget``; older records: ``n_trials``) at which every method of the study
    has a finished search (the papers' 10 once run, not a reduced profile's 4; an interrupted
    search at a bigger budget hides nothing), and of those the ones with per-cell sampler seeds
    when any have them (older searches reused one library seed at every fraction). Other
    searches stay stored; they are just not compared."""
    if searches.empty or "n_trials" not in searches:
        return searches
    budget = searches["budget"].fillna(searches["n_trials"]) if "budget" in searches \
        else searches["n_trials"]
    searches = searches.assign(budget=budget)
    chosen = {}
    for study, g in searches.groupby("study"):
        ok = g[g["status"] == "ok"] if "status" in g else g
        methods = g["method"].nunique()
        full = [b for b, at in ok.groupby("budget") if at["method"].nunique() == methods]
        chosen[study] = max(full) if full else g["budget"].max()
    out = searches[searches["budget"] == searches["study"].map(chosen)]
    if "sampler_seed" in out:
        seeded = out.groupby("study")["sampler_seed"].transform(lambda s: s.notna().any())
        out = out[out["sampler_seed"].notna() | ~seeded]
    return out


def method_stats(searches: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % CI over seeds of best accuracy, test accuracy and optimisation time."""
    ok = searches[searches["status"] == "ok"]
    rows = []
    for keys, g in ok.groupby(KEYS, dropna=False):
        row = dict(zip(KEYS, keys, strict=True)) | {"n": len(g)}
        for col, name in (("best_accuracy", "best"), ("best_test_accuracy", "test"),
                          ("optimization_seconds", "seconds"),
                          ("suggest_seconds_total", "suggest_seconds"),
                          ("time_to_target_seconds", "time_to_target")):
            mean, sd, low, high = mean_ci(g[col].astype(float).to_numpy())
            row.update({f"{name}_mean": mean, f"{name}_ci_low": low, f"{name}_ci_high": high})
        row["reached_target"] = int(g["time_to_target_seconds"].notna().sum())
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    grp = df.groupby(["study", "profile", "fraction", "epochs"])
    df["rank_accuracy"] = grp["best_mean"].rank(ascending=False, method="min").astype(int)
    df["rank_speed"] = grp["seconds_mean"].rank(method="min").astype(int)
    return df.sort_values(["study", "fraction", "rank_accuracy"]).reset_index(drop=True)


def rank_test(searches: pd.DataFrame) -> pd.DataFrame:
    """Friedman test of the methods' best accuracy across (fraction, seed) blocks."""
    rows = []
    ok = searches[searches["status"] == "ok"]
    for (study, profile), g in ok.groupby(["study", "profile"]):
        table = g.pivot_table(index=["fraction", "seed"], columns="method",
                              values="best_accuracy").dropna()
        if table.shape[1] < 3 or table.shape[0] < 2:
            continue
        res = stats.friedmanchisquare(*[table[c].to_numpy() for c in table.columns])
        ranks = table.rank(axis=1, ascending=False).mean()
        rows.append({"study": study, "profile": profile, "blocks": table.shape[0],
                     "statistic": float(res.statistic), "p_value": float(res.pvalue),
                     "mean_ranks": ", ".join(f"{m} {r:.2f}"
                                             for m, r in ranks.sort_values().items())})
    return pd.DataFrame(rows)


def hpo_claims(searches: pd.DataFrame, tabular: dict | None = None) -> list[dict]:
    """Verdicts for the HPO papers' claims: from the tabular benchmark where it decides them
    (``tabular``: claim id -> (verdict, evidence)), otherwise from the live searches; the
    evidence names which."""
    out = [row | _from_table(row, tabular or {}) for row in _live_claims(searches)]
    return out


def _from_table(row: dict, tabular: dict) -> dict:
    if row["claim_id"] not in tabular:
        return {"evidence": f"live searches: {row['evidence']}"}
    verdict, evidence, seeds = tabular[row["claim_id"]]
    return {"verdict": verdict, "n": seeds,
            "evidence": f"{evidence}. Live searches: {row['evidence']}"}


def _live_claims(searches: pd.DataFrame) -> list[dict]:
    out = []
    ok = searches[(searches["status"] == "ok") & (searches["study"] == "hpo")] \
        if not searches.empty else searches

    def verdict(cid: str, source: str, text: str, v: str, ev: str) -> dict:
        return {"claim_id": cid, "source": source, "claim": text, "study": "hpo",
                "verdict": v, "evidence": ev, "numbers": "", "n": seeds, **where}

    where = _protocol(ok)

    seeds = int(ok["seed"].nunique()) if not ok.empty else None  # paired blocks per method

    libs = ok.groupby("library")
    if ok.empty or len(libs) < 2:
        for cid, text in (("hpo_optuna_fastest", "Optuna is the fastest library."),
                          ("hpo_hyperopt_most_accurate", "HyperOpt is (slightly) the most "
                           "accurate library."),
                          ("hpo_more_data_helps", "More data gives better accuracy.")):
            out.append(verdict(cid, "mnist_cnn_hpo_libs", text, "inconclusive",
                               "no HPO results for two or more libraries yet"))
        return out
    seeds = int(ok.groupby(["library", "fraction"]).size().min())
    # paired by (fraction, seed, algorithm-default): compare per library means
    secs = ok.groupby("library")["optimization_seconds"].mean().sort_values()
    acc = ok.groupby("library")["best_test_accuracy"].mean().sort_values(ascending=False)

    def paired(metric: str, a: str, b: str) -> float:
        pa = ok[ok["library"] == a].groupby(["fraction", "seed"])[metric].mean()
        pb = ok[ok["library"] == b].groupby(["fraction", "seed"])[metric].mean()
        common = pa.index.intersection(pb.index)
        if len(common) < 3:
            return np.nan
        return float(stats.wilcoxon(pa[common], pb[common]).pvalue)

    fastest = secs.index[0]
    ev = "; ".join(f"{lib} {s:.1f}s" for lib, s in secs.items())
    if "optuna" not in secs.index:
        v = "inconclusive"
    elif fastest == "optuna":
        p = paired("optimization_seconds", "optuna", secs.index[1])
        v = "confirmed" if seeds >= MIN_SEEDS and p < 0.05 else "undecidable"
        ev += f"; paired Wilcoxon vs {secs.index[1]} p={p:.3g}"
    else:
        p = paired("optimization_seconds", fastest, "optuna")
        v = "not confirmed" if p < 0.05 else "undecidable"
        ev += f"; {fastest} faster than optuna, paired Wilcoxon p={p:.3g}"
    out.append(verdict("hpo_optuna_fastest", "mnist_cnn_hpo_libs",
                       "Optuna is the fastest library.", v, ev + " (mean optimisation time)"))
    best = acc.index[0]
    ev = "; ".join(f"{lib} {a:.4f}" for lib, a in acc.items()) + " (mean best test accuracy)"
    if "hyperopt" not in acc.index:
        v = "inconclusive"
    else:
        other = acc.index[1] if best == "hyperopt" else best
        p = paired("best_test_accuracy", "hyperopt", other)
        ev += f"; paired Wilcoxon hyperopt vs {other} p={p:.3g}"
        if best == "hyperopt":
            v = "confirmed" if p < 0.05 else "undecidable"
        else:
            v = "not confirmed" if p < 0.05 else "undecidable"
    out.append(verdict("hpo_hyperopt_most_accurate", "mnist_cnn_hpo_libs",
                       "HyperOpt is (slightly) the most accurate library.", v, ev))
    out.append(verdict("hpo_more_data_helps", "mnist_cnn_hpo_libs",
                       "More data gives better accuracy.", *more_data_verdict(ok)))
    return out


#: a gain from the smallest to the largest fraction shown below this (upper 95 % bound) is
#: "no gain worth having": half a point of accuracy, the margin of the other HPO claims
MORE_DATA_MARGIN = 0.005


def _protocol(searches: pd.DataFrame) -> dict[str, str | None]:
    """The profile the searches ran under, and whether it is the papers' protocol."""
    from bench.studies.registry import PROFILES

    names = searches["profile"].dropna().unique() if "profile" in searches else []
    if len(names) != 1 or names[0] not in PROFILES:
        return {"profile": None, "protocol": None}
    return {"profile": str(names[0]),
            "protocol": "reduced" if PROFILES[names[0]].reduced else "paper"}


def more_data_verdict(ok: pd.DataFrame) -> tuple[str, str]:
    """Page's trend test of best test accuracy across the dataset fractions, blocked by
    seed. One seed fixes the data subset of every method at a fraction, so the methods of a
    seed share its subset's luck: they are averaged within the seed, and the seeds are the
    independent blocks. The ordered alternative (accuracy grows with the fraction) is the
    claim itself. *not confirmed*: a significant fall, or a largest-minus-smallest gain whose
    95 % CI lies below ``MORE_DATA_MARGIN``."""
    table = ok.pivot_table(index=["seed", "method"], columns="fraction",
                           values="best_test_accuracy").dropna()
    table = table.groupby(level="seed").mean()  # fractions ascending: the predicted order
    if table.shape[1] < 3 or table.shape[0] < 2:
        return "inconclusive", "fewer than 3 fractions or 2 seeds with every fraction"  # no data
    means = "; ".join(f"{f:g}: {m:.4f}" for f, m in table.mean().items())
    data = table.to_numpy()
    up = stats.page_trend_test(data).pvalue
    down = stats.page_trend_test(data[:, ::-1]).pvalue
    mean, _, low, high = mean_ci(data[:, -1] - data[:, 0])
    seeds = table.shape[0]
    enough = seeds >= MIN_SEEDS
    verdict = ("confirmed" if enough and up < 0.05 else
               "not confirmed" if enough and (down < 0.05 or high < MORE_DATA_MARGIN) else
               "undecidable")  # measured, but the seeds cannot decide
    evidence = (f"{means} (mean best test accuracy per fraction, methods averaged within a "
                f"seed); Page's trend test over {seeds} seeds p={up:.3g}; fraction "
                f"{table.columns[-1]:g} minus {table.columns[0]:g}: {mean:+.4f} "
                f"[{low:+.4f}, {high:+.4f}]")
    if not enough:
        evidence += f"; fewer than {MIN_SEEDS} seeds"
    return verdict, evidence


def hpo_paper_rows(searches: pd.DataFrame, paper: pd.DataFrame) -> list[dict]:
    """Tables 1 and 3-7 of mnist_cnn_hpo_libs and figures 4-5 of mnist_cnn_optuna_hyperopt
    next to our per-search values (a prediction interval for one search)."""
    from bench.report.paper import comparison_row
    from bench.studies.registry import PROFILES

    rows = []
    ok = searches[searches["status"] == "ok"]
    nominal = ok["fraction_nominal"] if "fraction_nominal" in ok else ok["fraction"]
    epochs = ok["epochs_nominal"] if "epochs_nominal" in ok else ok["epochs"]
    for rec in paper[paper["source"].isin(["mnist_cnn_hpo_libs",
                                           "mnist_cnn_optuna_hyperopt"])].itertuples(index=False):
        if rec.table.startswith("table") and "fraction" in rec.table:
            lib, _, frac = str(rec.level).partition("@fraction=")
            default = {"optuna": "tpe", "hyperopt": "tpe", "scikit-optimize": "gp"}[lib]
            sel = ok[(ok["study"] == "hpo") & (ok["library"] == lib)
                     & np.isclose(nominal, float(frac)) & (ok["algorithm"] == default)]
            study = "hpo"
        elif rec.table == "table7_epochs":
            sel = ok[(ok["study"] == "hpo_epochs") & (epochs == int(rec.level))]
            study = "hpo_epochs"
        elif rec.table in ("fig4_optuna", "fig5_hyperopt"):
            method = str(rec.level).replace("_", ":", 1)
            sel = ok[(ok["study"] == "hpo_optuna_hyperopt") & (ok["method"] == method)]
            study = "hpo_optuna_hyperopt"
        else:
            continue
        col = {"optimization_seconds": "optimization_seconds", "test_loss": "best_test_loss"}.get(
            rec.metric, "best_test_accuracy")
        if col not in sel:
            continue
        for profile, g in sel.groupby("profile") if not sel.empty else [(None, sel)]:
            scale = 100.0 if rec.metric.endswith("_pct") else 1.0
            values = g[col].astype(float).to_numpy() * scale
            reduced = (PROFILES.get(profile) or PROFILES["paper"]).reduced
            rows.append(comparison_row(rec, values, profile, study, reduced))
    return rows
