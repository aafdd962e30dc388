"""HPO results per (study, library, algorithm, fraction): best accuracy, time, ranks, claims."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.claims import MIN_SEEDS
from bench.report.paired import Comparison, compare, outcomes
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
    # the table decides: the live searches' effect is evidence in words, not the verdict's
    return {"verdict": verdict, "n": seeds, "tested_as": "on the tabular benchmark: see the "
            "evidence", "effect": None, "effect_ci_low": None, "effect_ci_high": None,
            "effect_unit": None, "comparator": None,
            "evidence": f"{evidence}. Live searches: {row['evidence']}"}


#: "faster" must be at least 10 % faster (per-seed log ratio), as on the tabular benchmark
TIME_MARGIN = float(np.log(1.1))
#: what each kind of HPO claim is tested as (the claims are declared by their study)
TESTED_AS = {
    "fastest": "library overhead (seconds the library spends proposing, summed over a search), "
               "per seed (fractions averaged), as a log ratio with a 10 % margin, Holm over "
               "the other libraries; the search's wall time includes training and drifts "
               "between sittings, so it never decides",
    "most_accurate": "best trial's full test-set accuracy of the default algorithm, per seed "
                     "(fractions averaged), against every other library with the margin, Holm",
    "more_data": "best trial's full test-set accuracy at the largest fraction minus the "
                 "smallest, per seed (methods averaged within a seed), with the margin; Page's "
                 "trend test is shown, not deciding",
}


def _declared() -> list[tuple[Any, dict]]:
    """(study, claim) for every claim an HPO study declares."""
    from bench.studies import REGISTRY

    return [(study, c) for study in REGISTRY if study.kind == "hpo" for c in study.claims
            if c["kind"] in TESTED_AS]


def _live_claims(searches: pd.DataFrame) -> list[dict]:
    """The HPO papers' claims from live searches, under the rules of every other claim: seeds
    are the unit (a seed's fractions and methods share its luck), a margin, TOST, Holm."""
    rows = []
    for study, claim in _declared():
        ok = searches[(searches["status"] == "ok") & (searches["study"] == study.name)] \
            if not searches.empty else searches
        if ok.empty or ok["library"].nunique() < 2:
            judged = ("inconclusive", "no HPO results for two or more libraries yet", {})
        else:
            judged = _JUDGES[claim["kind"]](ok, claim, study)
        verdict, evidence, numbers = judged
        rows.append({"claim_id": claim["id"], "kind": claim["kind"], "source": study.source,
                     "claim": claim["text"], "tested_as": TESTED_AS[claim["kind"]],
                     "study": study.name, "verdict": verdict, "evidence": evidence,
                     "numbers": "", "n": None, **numbers, **_protocol(ok)})
    return rows


def _defaults(ok: pd.DataFrame, study: Any) -> pd.DataFrame:
    """The searches of each library's default algorithm in ``study`` (``hpo["methods"]``):
    a library is compared through the algorithm the paper ran, not mixed with the others."""
    from bench.hpo.libraries import parse_methods

    return ok[ok["method"].isin({f"{lib}:{alg}" for lib, alg in
                                 parse_methods(study.hpo["methods"])})]


def _per_seed(ok: pd.DataFrame, column: str, log: bool = False) -> pd.DataFrame:
    """seed x library: ``column`` averaged over a seed's fractions."""
    v = ok[column].astype(float)
    values = ok.assign(v=np.log(v.clip(lower=1e-9)) if log else v)
    return values.pivot_table(index="seed", columns="library", values="v", aggfunc="mean")


def _numbers(c: Comparison, margin: float, unit: str, comparator: str) -> dict:
    return {"n": c.n, "effect": c.mean, "effect_ci_low": c.ci_low, "effect_ci_high": c.ci_high,
            "margin": margin, "effect_unit": unit, "comparator": comparator}


def _versus(table: pd.DataFrame, lib: str, margin: float) -> tuple[list[str], list[Comparison]]:
    others = [o for o in table.columns if o != lib]
    return others, [compare((table[lib] - table[o]).dropna().to_numpy(float), margin)
                    for o in others]


def _fastest(ok: pd.DataFrame, claim: dict, study: Any) -> tuple[str, str, dict]:
    ok = _defaults(ok, study)
    lib = claim["library"]
    if lib not in set(ok["library"]):
        return "inconclusive", f"no {lib} searches", {}
    table = -_per_seed(ok, "suggest_seconds_total", log=True)  # higher = faster
    others, family = _versus(table, lib, TIME_MARGIN)
    closest = min(range(len(family)), key=lambda i: family[i].mean)
    overhead = ok.groupby("library")["suggest_seconds_total"].median()
    wall = ok.groupby("library")["optimization_seconds"].mean().sort_values()
    c = family[closest]
    evidence = ("library overhead per search (median): " + "; ".join(
        f"{name} {v * 1000:.0f} ms" for name, v in overhead.items()) + f"; log("
        f"{others[closest]} / {lib}) {c.mean:+.3f} [{c.ci_low:+.3f}, {c.ci_high:+.3f}] "
        f"(positive: {lib} faster); search wall time, shown only: "
        + "; ".join(f"{name} {s:.1f}s" for name, s in wall.items()))
    return family_verdict(family), evidence, _numbers(
        c, TIME_MARGIN, f"log ratio of library overhead (other / {lib})", others[closest])


def _most_accurate(ok: pd.DataFrame, claim: dict, study: Any) -> tuple[str, str, dict]:
    from bench.report.claims import margin_for

    ok, source = _defaults(ok, study), study.source
    lib = claim["library"]
    if lib not in set(ok["library"]):
        return "inconclusive", f"no {lib} searches", {}
    table = _per_seed(ok, "best_test_accuracy")
    margin = margin_for(source)
    others, family = _versus(table, lib, margin)
    closest = min(range(len(family)), key=lambda i: family[i].mean)
    c = family[closest]
    means = table.mean().sort_values(ascending=False)
    evidence = ("; ".join(f"{name} {a:.4f}" for name, a in means.items()) + " (mean best "
                f"test accuracy); {lib} − {others[closest]}: {c.mean:+.4f} [{c.ci_low:+.4f}, "
                f"{c.ci_high:+.4f}], margin {margin}")
    return family_verdict(family), evidence, _numbers(
        c, margin, "accuracy, full test set (fraction)", others[closest])


def family_verdict(family: list[Comparison]) -> str:
    """"X is best" from X's comparisons with every other (``paired.outcomes``): confirmed
    (better than all), tied (better or equivalent), not confirmed (worse than one), else
    undecidable; fewer than MIN_SEEDS paired seeds never decide."""
    if not family or min(c.n for c in family) < MIN_SEEDS:
        return "undecidable"
    result = outcomes(family)
    if "worse" in result:
        return "not confirmed"
    if all(r == "better" for r in result):
        return "confirmed"
    if all(r in ("better", "equivalent") for r in result):
        return "tied"
    return "undecidable"


def _protocol(searches: pd.DataFrame) -> dict[str, str | None]:
    """The profile the searches ran under, and whether it is the papers' protocol."""
    from bench.studies.registry import PROFILES

    names = searches["profile"].dropna().unique() if "profile" in searches else []
    if len(names) != 1 or names[0] not in PROFILES:
        return {"profile": None, "protocol": None}
    return {"profile": str(names[0]),
            "protocol": "reduced" if PROFILES[names[0]].reduced else "paper"}


def more_data_verdict(ok: pd.DataFrame, claim: dict | None = None,
                      study: Any = None) -> tuple[str, str, dict]:
    """Best test accuracy at the largest fraction minus the smallest, per seed: one seed
    fixes the data subset of every method at a fraction, so the methods of a seed share its
    subset's luck and are averaged within the seed; the seeds are the independent units.
    *confirmed*: a gain of at least the margin (``paired.outcomes``); *not confirmed*: a loss,
    or a gain shown to be within the margin (TOST); else undecidable. Page's trend test of
    the whole ordering is reported, not deciding."""
    from bench.report.claims import margin_for

    table = ok.pivot_table(index=["seed", "method"], columns="fraction",
                           values="best_test_accuracy").dropna()
    table = table.groupby(level="seed").mean()  # fractions ascending: the predicted order
    if table.shape[1] < 2 or table.shape[0] < 2:
        return "inconclusive", "fewer than 2 fractions or 2 seeds with every fraction", {}
    margin = margin_for(study.source if study is not None else "mnist_cnn_hpo_libs")
    data = table.to_numpy()
    c = compare(data[:, -1] - data[:, 0], margin)
    result = outcomes([c])[0] if c.n >= MIN_SEEDS else "undecided"
    verdict = {"better": "confirmed", "worse": "not confirmed",
               "equivalent": "not confirmed"}.get(result, "undecidable")
    means = "; ".join(f"{f:g}: {m:.4f}" for f, m in table.mean().items())
    page = f"; Page's trend test p={stats.page_trend_test(data).pvalue:.3g}" \
        if table.shape[1] >= 3 else ""
    evidence = (f"{means} (mean best test accuracy per fraction, methods averaged within a "
                f"seed); fraction {table.columns[-1]:g} minus {table.columns[0]:g}: "
                f"{c.mean:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}] over {c.n} seeds, margin "
                f"{margin}{page}")
    if c.n < MIN_SEEDS:
        evidence += f"; fewer than {MIN_SEEDS} seeds"
    return verdict, evidence, _numbers(c, margin, "accuracy, full test set (fraction)",
                                       f"fraction {table.columns[0]:g}")


_JUDGES = {"fastest": _fastest, "most_accurate": _most_accurate, "more_data": more_data_verdict}


def hpo_paper_rows(searches: pd.DataFrame, paper: pd.DataFrame) -> list[dict]:
    """The HPO papers' figures next to our per-search values (a prediction interval for one
    search), for every table an HPO study declares (``hpo["paper_rows"]``: table -> how a
    row's level selects searches: ``library@fraction`` with the library's default algorithm,
    ``epochs`` or ``method``)."""
    from bench.report.paper import comparison_row
    from bench.studies import REGISTRY
    from bench.studies.registry import PROFILES

    rows = []
    ok = searches[searches["status"] == "ok"]
    for study in REGISTRY:
        declared = study.hpo.get("paper_rows", {}) if study.kind == "hpo" else {}
        mine = ok[ok["study"] == study.name]
        for rec in paper[(paper["source"] == study.source)
                         & paper["table"].isin(declared)].itertuples(index=False):
            sel = _select(mine, declared[rec.table], str(rec.level), study.hpo)
            col = {"optimization_seconds": "optimization_seconds",
                   "test_loss": "best_test_loss"}.get(rec.metric, "best_test_accuracy")
            if col not in sel:
                continue
            for profile, g in sel.groupby("profile") if not sel.empty else [(None, sel)]:
                scale = 100.0 if rec.metric.endswith("_pct") else 1.0
                values = g[col].astype(float).to_numpy() * scale
                reduced = (PROFILES.get(profile) or PROFILES["paper"]).reduced
                rows.append(comparison_row(rec, values, profile, study.name,
                                           _hpo_unlike(rec.metric, reduced)))
    return rows


def _select(searches: pd.DataFrame, how: str, level: str, hpo: dict) -> pd.DataFrame:
    """The searches a paper row's ``level`` names, read the way its study declares."""
    from bench.hpo.libraries import parse_methods

    if searches.empty:
        return searches
    if how == "library@fraction":
        lib, _, frac = level.partition("@fraction=")
        default = dict(parse_methods(hpo["methods"])).get(lib)
        nominal = searches.get("fraction_nominal", searches["fraction"])
        return searches[(searches["library"] == lib) & (searches["algorithm"] == default)
                        & np.isclose(nominal.astype(float), float(frac))]
    if how == "epochs":
        epochs = searches.get("epochs_nominal", searches["epochs"])
        return searches[pd.to_numeric(epochs) == int(level)]
    return searches[searches["method"] == level.replace("_", ":", 1)]


def _hpo_unlike(metric: str, reduced: bool) -> str:
    """Why an HPO paper figure is not like-for-like with a live search of ours (never is)."""
    from bench.report.paper import HARDWARE_REASON, REDUCED_REASON

    if reduced:
        return REDUCED_REASON
    if "seconds" in metric:
        return HARDWARE_REASON
    return ("the paper reports its one search's best trial as scored on the sample that chose "
            "it; ours is the mean over seeds of the chosen trial's full test-set accuracy")
