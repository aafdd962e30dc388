"""The HPO page's tabular-benchmark section: anytime regret, ranks, overhead, the table."""

from __future__ import annotations

import altair as alt
import pandas as pd

from bench.site.writer import SiteWriter, esc, md_table
from bench.studies import REGISTRY

WIDTH = 560
REGRET_FLOOR = 1e-4  # a log axis cannot show 0: regrets below this are drawn at it
PAPER_BUDGET = 10
#: the algorithm each library runs when asked for no particular one: only these get a band
#: (twelve overlapping bands hide each other; a legend click highlights any method)
DEFAULT_METHODS = ("optuna:tpe", "hyperopt:tpe", "scikit-optimize:gp")


def _method_color(methods) -> alt.Color:
    order = sorted(set(methods))
    return alt.Color("method:N", title="library:algorithm", sort=order,
                     scale=alt.Scale(scheme="category20" if len(order) > 10 else "category10"))


def anytime_chart(curves: pd.DataFrame, x: str) -> alt.LayerChart:
    """Median simple regret (log axis) vs trials or simulated seconds, bands over seeds."""
    data = curves.assign(**{c: curves[c].clip(lower=REGRET_FLOOR)
                            for c in ("median_regret", "low", "high") if c in curves})
    trials = x == "trial"
    pick = alt.selection_point(fields=["method"], bind="legend")
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:Q", title="trials" if trials else "simulated wall time (s, log scale)",
                scale=alt.Scale(type="linear" if trials else "log"),
                axis=alt.Axis(format="d", tickMinStep=1) if trials else alt.Axis()),
        color=_method_color(data["method"]),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.1)))
    line = base.mark_line().encode(
        y=alt.Y("median_regret:Q", title="median regret (accuracy below the optimum, log)",
                scale=alt.Scale(type="log")),
        tooltip=[alt.Tooltip("method:N", title="method"), alt.Tooltip(f"{x}:Q", format=".3g",
                 title="trials" if trials else "seconds"),
                 alt.Tooltip("median_regret:Q", title="median regret", format=".4f"),
                 alt.Tooltip("n:Q", title="seeds")])
    layers = [line]
    if trials and {"low", "high"} <= set(data.columns):
        banded = base.transform_filter(alt.FieldOneOfPredicate(field="method",
                                                               oneOf=list(DEFAULT_METHODS)))
        layers.insert(0, banded.mark_area(opacity=0.15).encode(y="low:Q", y2="high:Q"))
        rule = alt.Chart(pd.DataFrame({"trial": [PAPER_BUDGET]})).mark_rule(
            strokeDash=[4, 4], color="gray").encode(x="trial:Q")
        layers.append(rule)
    title = (["regret vs trials: median over seeds; dashed: the papers' 10-trial budget",
              "bands: 95 % bootstrap, for each library's default algorithm only"]
             if trials else "regret vs simulated wall time (modelled compute + suggest)")
    chart = alt.layer(*layers, title=alt.TitleParams(title)).add_params(pick)
    return chart.properties(width=WIDTH, height=340)


def rank_chart(ranks: pd.DataFrame) -> alt.LayerChart:
    """Mean rank per method with Nemenyi's critical difference drawn from the best."""
    data = ranks.sort_values("mean_rank")
    best = float(data["mean_rank"].min())
    cd = float(data["critical_difference"].iloc[0])
    order = data["method"].tolist()
    dots = alt.Chart(data).mark_circle(size=90).encode(
        x=alt.X("mean_rank:Q", title="mean rank over seeds (1 = best)",
                scale=alt.Scale(zero=False)),
        y=alt.Y("method:N", sort=order, title=None),
        color=alt.condition(f"datum.mean_rank <= {best + cd}", alt.value("#1f77b4"),
                            alt.value("#999999")),
        tooltip=[alt.Tooltip("method:N"), alt.Tooltip("mean_rank:Q", format=".2f"),
                 alt.Tooltip("median_regret:Q", format=".4f", title="median regret"),
                 alt.Tooltip("normalised_score:Q", format=".2f", title="normalised score")])
    band = alt.Chart(pd.DataFrame({"from": [best], "to": [best + cd]})).mark_rect(
        opacity=0.12, color="#1f77b4").encode(x="from:Q", x2="to:Q")
    trials = int(data["trials"].iloc[0])
    return alt.layer(band, dots, title=f"ranks after {trials} trials; shaded: within the "
                     f"critical difference ({cd:.2f}) of the best").properties(
        width=WIDTH, height=max(160, 22 * len(data)))


def overhead_chart(overhead: pd.DataFrame) -> alt.Chart:
    """The library's own time per trial (median over seeds), log axis."""
    data = overhead.assign(median_suggest_seconds=overhead["median_suggest_seconds"].clip(
        lower=1e-5))
    return alt.Chart(data, title="suggest time per trial (the library's own time, median "
                     "over seeds)").mark_line().encode(
        x=alt.X("trial:Q", title="trial", axis=alt.Axis(format="d", tickMinStep=1)),
        y=alt.Y("median_suggest_seconds:Q", title="seconds (log scale)",
                scale=alt.Scale(type="log")),
        color=_method_color(data["method"]),
        tooltip=[alt.Tooltip("method:N"), alt.Tooltip("trial:Q"),
                 alt.Tooltip("median_suggest_seconds:Q", format=".4f", title="seconds")],
    ).properties(width=WIDTH, height=300)


def _rank_table(ranks: pd.DataFrame) -> str:
    shown = ranks.sort_values("mean_rank")[["method", "mean_rank", "median_regret",
                                            "normalised_score", "seeds"]]
    shown = shown.rename(columns={"mean_rank": "mean rank", "median_regret": "median regret",
                                  "normalised_score": "normalised score (0 best, 1 random)"})
    return md_table(shown.round(4))


CHECK_COLUMNS = {"method": "library:algorithm", "searches": "searches", "trials": "trials",
                 "configs": "configurations", "bias": "live - table", "bias_ci_low": "CI low",
                 "bias_ci_high": "CI high", "within_noise": "share within noise",
                 "spearman_rho": "Spearman rho",
                 "replay_percentile": "final regret percentile among replays",
                 "verdict": "verdict"}


def _check_section(check: pd.DataFrame) -> str:
    """Whether live training lands where the table says (``report.table_check``)."""
    text = ["\n### Does the table predict live training?\n"]
    if check.empty:
        return "\n".join(text + ["Not checked yet: `bench run hpo_table_check` runs the three "
                                 "libraries' default searches on the grid with every proposed "
                                 "point trained for real (seeds the table does not hold).\n"])
    overall = check[check["method"] == "all"].iloc[0]
    methods = ", ".join(esc(m) for m in check["method"] if m != "all")
    text.append(
        f"{int(overall['searches'])} searches ({methods}) trained every point they proposed "
        f"for real: {int(overall['trials'])} trainings, each with its own seed that the table "
        f"does not hold, on {int(overall['configs'])} distinct configurations. Per "
        "configuration, live minus table validation accuracy: "
        f"{overall['bias']:+.4f} on average (95 % CI {overall['bias_ci_low']:+.4f} … "
        f"{overall['bias_ci_high']:+.4f}); {overall['within_noise']:.0%} of the configurations "
        f"lie inside the table's 95 % noise band (seed SD {overall['noise_sd']:.4f}); Spearman "
        f"rho {overall['spearman_rho']:.3f}. Verdict: **{esc(overall['verdict'])}** (agrees: "
        "the average is shown to be within ±0.005 and at least 85 % lie inside the band). A "
        "final-regret percentile near 0.5 means a live search ended where the replays of the "
        "same algorithm typically end.\n")
    text.append(md_table(check[list(CHECK_COLUMNS)].rename(columns=CHECK_COLUMNS)))
    return "\n".join(text)


def tabular_section(w: SiteWriter, page: str, rs) -> str:
    """Markdown (with charts) of the tabular benchmark, or a note that it is not built yet."""
    table = rs.get("derived/hpo_table")
    if "study" in table:  # the table the replays ran against, not a sample of it
        samples = {s.name for s in REGISTRY if s.hpo.get("sample_of")}
        table = table[~table["study"].isin(samples)]
    ranks = rs.get("derived/hpo_tabular_ranks")
    text = ["\n## The libraries compared on a tabular benchmark\n"]
    name = getattr(rs, "name", None)
    if name:
        text.append(f"From result set `{esc(name)}`.\n")
    if table.empty:
        return "\n".join(text + ["The table of trained configurations is not in this result "
                                 "set yet (`bench run hpo_table hpo_tabular`).\n"])
    text.append(_table_paragraph(table))
    text.append(_fidelity_note(table, rs.get("derived/hpo_table_fidelity_check")))
    text.append(_check_section(rs.get("derived/hpo_table_check")))
    text.append(_top_check_section(rs.get("derived/hpo_table_top_check")))
    if ranks.empty:
        return "\n".join(text + ["The replays have not run yet (`bench run hpo_tabular`).\n"])
    text.insert(2 if name else 1, _advice(rs))
    curves = rs.get("derived/hpo_anytime")
    timed = rs.get("derived/hpo_anytime_time")
    text.append(w.chart(page, "tabular-anytime", anytime_chart(curves, "trial")))
    if not timed.empty:
        text.append(w.chart(page, "tabular-anytime-time", anytime_chart(timed, "seconds")))
    text += _ranks_sections(w, page, ranks)
    text.append(_noise_section(rs))
    over = rs.get("derived/hpo_overhead")
    if not over.empty:
        text.append("\n### Library overhead\n")
        text.append(_overhead_sentence(over))
        text.append(w.chart(page, "tabular-overhead", overhead_chart(over)))
    return "\n".join(text)


def _top_note(table: pd.DataFrame) -> str:
    """How many points hold more seeds (the top region)."""
    more = table[table["seeds_ok"] > table["seeds_ok"].min()]
    if more.empty:
        return ""
    return (f"The {len(more)} best points (by the first two seeds) hold "
            f"{int(more['seeds_ok'].median())} seeds, so the optimum is not two seeds' "
            "noise. ")


def _fidelity_note(table: pd.DataFrame, check: pd.DataFrame) -> str:
    """The bias of the table's 1-epoch fidelity, stated, and its check when there is one."""
    top = table.sort_values("rank").head(20)
    high = int(top["config"].str.startswith("lr=1e-02").sum())
    text = (f"**Fidelity bias.** At 1 epoch the largest learning rate wins: {high} of the "
            "table's 20 best points have lr 1e-2, while live searches at the papers' 3 epochs "
            "ended at learning rates of 1.5–2.7e-3. The table ranks the algorithms on this "
            "1-epoch problem; which learning rate is best at the papers' protocol is not "
            "something it can say.")
    if check.empty:
        return text + (" (`bench run hpo_table_fidelity` trains 50 of its best points at "
                       "3 epochs on all the data to measure this.)\n")
    r = check.iloc[0]
    return text + (f" {int(r['configs'])} of its best points trained at {int(r['epochs'])} "
                   f"epochs on all the data rank as the table does with Spearman rho "
                   f"{r['spearman_rho']:.2f} (95 % CI {r['rho_ci_low']:.2f} … "
                   f"{r['rho_ci_high']:.2f}); the best of them has lr {esc(r['best_lr_table'])} "
                   f"in the table and lr {esc(r['best_lr_sample'])} there.\n")


def _startup_sentence(methods, budget: int) -> str:
    """Which algorithms made model-based proposals within ``budget`` trials, and how many."""
    from bench.hpo.libraries import NO_MODEL, STARTUP_TRIALS

    made = {}
    for m in sorted(set(methods)):
        lib, alg = m.split(":")
        if (lib, alg) not in NO_MODEL:
            made[m] = max(0, budget - STARTUP_TRIALS[(lib, alg)])
    some = {m: k for m, k in made.items() if k}
    if not some:
        return ("At this budget (the papers') no algorithm has made a model-based proposal: "
                "every one is still in its random start-up.\n")
    listed = ", ".join(f"{esc(m)} ({k})" for m, k in some.items())
    return (f"At this budget (the papers') {len(made) - len(some)} of the {len(made)} "
            "model-based algorithms have made no model-based proposal (still in their random "
            f"start-up); only {listed} have.\n")


TOLERANCE_TEXT = "0.005"


def _advice(rs) -> str:
    """One sentence: which library to use and how sure we are."""
    from bench.report.tabular_truth import NON_MODEL

    tol = rs.get("derived/hpo_tabular_tolerant_ranks")
    over = rs.get("derived/hpo_overhead")
    if tol.empty:
        return ""
    last = tol[tol["trials"] == tol["trials"].max()]
    cd, best = float(last["critical_difference"].iloc[0]), float(last["mean_rank"].min())
    top = set(last[last["mean_rank"] <= best + cd]["method"])
    group = sorted(top - set(NON_MODEL))
    cheap = ""
    if not over.empty and group:
        med = over[over["method"].isin(group)].groupby("method")["median_suggest_seconds"]
        med = med.median().sort_values()
        if not med.empty:
            cheap = (f"; among them {esc(med.index[0])} costs least per trial "
                     f"({med.iloc[0] * 1000:.0f} ms of its own time)")
    sure = ("sure that a model-based algorithm beats random search at 100 trials and not "
            "sure which one is best" if not top & set(NON_MODEL) else
            "not sure that any algorithm beats random search")
    return (f"**Which library?** Use any of {', '.join(esc(m) for m in group)} with 100 "
            f"trials{cheap}; we are {sure} (ranks with regrets below {TOLERANCE_TEXT} tied, "
            "told apart only beyond the critical difference).\n")


def _overhead_sentence(over: pd.DataFrame) -> str:
    med = over.groupby("method")["median_suggest_seconds"].median().sort_values()
    listed = ", ".join(f"{esc(m)} {v * 1000:.0f} ms" for m, v in med.items())
    return ("The libraries' own time per trial (median over trials of the median over seeds), "
            f"which is what 'fastest' can honestly mean at these training times: {listed}.\n")


def _top_check_section(top: pd.DataFrame) -> str:
    """The table's top region against its extra seeds (``report.table_check``)."""
    if top.empty:
        return ""
    r = top.iloc[0]
    return ("\n### Does the table's top region hold?\n\n"
            f"Its {int(r['configs'])} best points were trained again with "
            f"{int(r['extra_seeds'])} more seeds, later: extra-seed minus table mean "
            f"{r['bias']:+.4f} (95 % CI {r['bias_ci_low']:+.4f} … {r['bias_ci_high']:+.4f}); "
            f"{r['within_own_band']:.0%} inside their own 95 % noise band (median seed SD "
            f"{r['median_config_sd']:.4f}); the ranking within the region holds with Spearman "
            f"rho {r['spearman_rho']:.2f} (95 % CI {r['rho_ci_low']:.2f} … "
            f"{r['rho_ci_high']:.2f}). Verdict: **{esc(r['verdict'])}**. The region was "
            "chosen on the table's own two seeds, so their means are optimistic there (the "
            "winner's curse): a negative difference is expected, and it is why regret is now "
            "measured against the region's 5-seed means.\n")


def _noise_section(rs) -> str:
    """Ranks with regrets below the tolerance tied, and the leaders under each table seed."""
    from bench.report.tabular_truth import conclusion

    tol = rs.get("derived/hpo_tabular_tolerant_ranks")
    stable = rs.get("derived/hpo_tabular_stability")
    if tol.empty:
        return ""
    text = ["\n### Ranks within the noise\n",
            f"Regrets below {TOLERANCE_TEXT} (about the seed-to-seed SD at the top of the "
            "table) count as zero, so methods that end within the noise tie.\n"]
    for trials, part in tol.groupby("trials"):
        text.append(f"After {int(trials)} trials (critical difference "
                    f"{part['critical_difference'].iloc[0]:.2f}):\n")
        text.append(_rank_table(part))
    if not stable.empty:
        lead = stable.groupby(["trials", "tolerance", "truth"], as_index=False).first()
        lead = lead[["trials", "tolerance", "truth", "leader", "spearman_vs_mean"]].rename(
            columns={"truth": "truth defined by", "spearman_vs_mean":
                     "Spearman rho vs the seed-mean ranks"})
        text.append("\nThe leader when the truth is one table seed alone:\n")
        text.append(md_table(lead.round(3)))
        text.append(f"\n**What survives.** {esc(conclusion(tol, stable))}\n")
    return "\n".join(text)


def _table_paragraph(table: pd.DataFrame) -> str:
    """How much of the table is trained, its noise and its best point."""
    from bench.hpo.space import HPO_LIBS_GRID, grid_points

    total = len(grid_points(HPO_LIBS_GRID))
    complete = int((table["seeds_ok"] >= 2).sum())
    noise = table["val_sd"].median()
    best = table.sort_values("rank").iloc[0]
    done = complete >= total
    return (
        f"**{complete:,} of the {total:,} grid points** of the `mnist_cnn_hpo_libs` space have "
        "been trained for real with two or more seeds (1 epoch on 10,800 MNIST images: 20 % of "
        "the 54,000 left after a 6,000-image validation holdout; batch 128; learning rate on a "
        "log grid 1e-6 … 1e-2)" + ("." if done else
        " — the table is **not complete yet**, and no library has been replayed against it "
        "(`bench run hpo_table hpo_tabular` resumes it).") +
        f" {_top_note(table)}Median seed-to-seed SD of the validation accuracy: {noise:.4f}. "
        "Best "
        f"{'point' if done else 'point so far'}: `{esc(best['config'])}` (validation "
        f"{best['val_mean']:.4f}, test {best['test_mean']:.4f}). Each library then searches "
        "this table with its own loop: a trial returns a recorded run instead of training, so "
        "100 trials x 20 seeds per algorithm cost the libraries' own time only. *Regret* is "
        "how far the best configuration found so far (chosen by what the search observed) is "
        "below the table's optimum (its best seed-mean validation accuracy).\n")


def _ranks_sections(w: SiteWriter, page: str, ranks: pd.DataFrame) -> list[str]:
    """One section per budget: Friedman, the start-up note, the rank chart and table."""
    text: list[str] = []
    for trials, part in ranks.groupby("trials"):
        friedman = part["friedman_p"].iloc[0]
        text.append(f"\n### After {int(trials)} trials\n")
        text.append(f"Friedman test over {int(part['seeds'].iloc[0])} seeds: p = {friedman:.3g}. "
                    f"Methods whose mean ranks differ by less than the critical difference "
                    f"({part['critical_difference'].iloc[0]:.2f}, Nemenyi) are not told "
                    "apart.\n")
        if int(trials) <= PAPER_BUDGET:
            text.append(_startup_sentence(part["method"], int(trials)))
        text.append(w.chart(page, f"tabular-ranks-{int(trials)}", rank_chart(part)))
        text.append(_rank_table(part))
    return text
