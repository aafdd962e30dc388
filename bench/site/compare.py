"""Result sets side by side: the Result sets page and one comparison page per pair of sets
(per study and level: the two means and their difference; per claim: do the verdicts agree)."""

from __future__ import annotations

import itertools
import re

import altair as alt
import pandas as pd

from bench.site import charts
from bench.site.provenance import provenance
from bench.site.sets import ResultSet
from bench.site.verdicts import badge
from bench.site.writer import SiteWriter, esc, front_matter, md_table

LEVEL_KEYS = ["study", "factor", "level_nominal"]


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._]+", "-", name).strip("-") or "set"


def compare_path(a: ResultSet, b: ResultSet) -> str:
    return f"compare/{slug(a.name)}--vs--{slug(b.name)}.md"


def _levels(rs: ResultSet) -> pd.DataFrame:
    lv = rs.get("derived/levels")
    if lv.empty:
        return lv
    if rs.profile and (lv["profile"] == rs.profile).any():
        lv = lv[lv["profile"] == rs.profile]
    lv = lv.assign(level_nominal=lv["level_nominal"].fillna(lv["level"]))
    return lv[[*LEVEL_KEYS, "level", "n", "epochs_trained", "fraction", "accuracy_mean",
               "accuracy_ci_low", "accuracy_ci_high", "rank"]]


def level_differences(a: ResultSet, b: ResultSet) -> pd.DataFrame:
    """Levels measured in both sets (matched on the paper's level): means and B − A."""
    la, lb = _levels(a), _levels(b)
    if la.empty or lb.empty:
        return pd.DataFrame()
    both = la.merge(lb, on=LEVEL_KEYS, suffixes=("_a", "_b"))
    both["difference"] = both["accuracy_mean_b"] - both["accuracy_mean_a"]
    both["cis_overlap"] = ((both["accuracy_ci_low_a"] <= both["accuracy_ci_high_b"])
                           & (both["accuracy_ci_low_b"] <= both["accuracy_ci_high_a"]))
    return both.sort_values(["study", "factor", "rank_a"]).reset_index(drop=True)


def claim_agreement(a: ResultSet, b: ResultSet) -> pd.DataFrame:
    ca, cb = a.get("derived/claims"), b.get("derived/claims")
    if ca.empty or cb.empty:
        return pd.DataFrame()
    both = ca[["claim_id", "claim", "verdict", "n"]].merge(
        cb[["claim_id", "verdict", "n"]], on="claim_id", suffixes=("_a", "_b"))
    both["agree"] = both["verdict_a"] == both["verdict_b"]
    return both


def _scatter(diff: pd.DataFrame, a: str, b: str) -> alt.LayerChart:
    data = diff.assign(label=diff["study"] + ": " + diff["level_nominal"])
    lo = float(min(data["accuracy_mean_a"].min(), data["accuracy_mean_b"].min()))
    hi = float(max(data["accuracy_mean_a"].max(), data["accuracy_mean_b"].max()))
    line = alt.Chart(pd.DataFrame({"x": [lo, hi], "y": [lo, hi]})).mark_line(
        color="#999", strokeDash=[4, 4]).encode(x="x:Q", y="y:Q")
    studies = data["study"].nunique()
    dots = alt.Chart(data, title="mean test accuracy per level: A vs B").mark_point(
        filled=True, size=50, opacity=0.8).encode(
        x=alt.X("accuracy_mean_a:Q", title=f"{a} (mean test accuracy)",
                scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%", tickCount=6)),
        y=alt.Y("accuracy_mean_b:Q", title=f"{b} (mean test accuracy)",
                scale=alt.Scale(zero=False), axis=alt.Axis(format=".0%", tickCount=6)),
        color=alt.Color("study:N", title="study", scale=alt.Scale(
            scheme="category10" if studies <= 10 else "category20"),
            legend=alt.Legend(orient="bottom", columns=3)),
        tooltip=[alt.Tooltip("label:N", title="study: level"),
                 alt.Tooltip("accuracy_mean_a:Q", title=a, format=".4f"),
                 alt.Tooltip("accuracy_mean_b:Q", title=b, format=".4f"),
                 alt.Tooltip("difference:Q", title="difference", format="+.4f")])
    return (line + dots).properties(width=charts.WIDTH, height=360)


def comparison_page(w: SiteWriter, a: ResultSet, b: ResultSet) -> None:
    path = compare_path(a, b)
    text = [front_matter(f"{a.name} vs {b.name}", hide_toc=True),
            f"# {esc(a.name)} vs {esc(b.name)}\n",
            f"- **A**: {a.context()}\n- **B**: {b.context()}\n",
            "Levels are matched on the paper's level (a reduced profile trains fewer epochs "
            "or less data under the same name, see *epochs* and *data*). *difference* is B − A "
            "of the mean test accuracy; *CIs overlap* says whether the two 95 % intervals of "
            "the mean overlap (a quick look, not a test: the sets share no seeds).\n"]
    diff = level_differences(a, b)
    if diff.empty:
        text.append("_The two sets have no level in common._\n")
    else:
        text.append(w.chart(path, "scatter", _scatter(diff, a.name, b.name)))
        summary = diff.groupby("study").agg(
            levels=("difference", "size"), mean_difference=("difference", "mean"),
            largest=("difference", lambda d: d.abs().max()),
            cis_overlap=("cis_overlap", "mean")).reset_index()
        summary["cis_overlap"] = summary["cis_overlap"].map("{:.0%}".format)
        text.append("\n## Per study\n")
        text.append(md_table(summary.rename(columns={
            "mean_difference": "mean difference (B − A)", "largest": "largest |difference|",
            "cis_overlap": "levels whose CIs overlap"})))
        text.append("\n## Per level\n")
        table = pd.DataFrame({
            "study": diff["study"], "level": diff["level_nominal"],
            "A: mean": diff["accuracy_mean_a"], "A: seeds": diff["n_a"],
            "A: epochs": diff["epochs_trained_a"], "A: data": diff["fraction_a"],
            "B: mean": diff["accuracy_mean_b"], "B: seeds": diff["n_b"],
            "B: epochs": diff["epochs_trained_b"], "B: data": diff["fraction_b"],
            "difference": diff["difference"],
            "CIs overlap": diff["cis_overlap"].map({True: "yes", False: "no"})})
        text.append(md_table(table))
    claims = claim_agreement(a, b)
    text.append("\n## Do the claim verdicts agree?\n")
    if claims.empty:
        text.append("_No claims in one of the sets._\n")
    else:
        agree = int(claims["agree"].sum())
        text.append(f"{agree} of {len(claims)} verdicts agree.\n")
        text.append(md_table(pd.DataFrame({
            "claim": claims["claim"], "A": claims["verdict_a"].map(badge),
            "B": claims["verdict_b"].map(badge),
            "agree": claims["agree"].map({True: "yes", False: "**no**"})}),
            html_cols=("A", "B", "agree")))
    text += ["\n## Provenance\n", provenance(a, path), provenance(b, path)]
    w.page(path, "\n".join(text))


def result_sets_page(w: SiteWriter, sets: list[ResultSet]) -> None:
    from bench.site.pages import set_overview

    text = ["---\nhide:\n  - toc\n---\n", "# Result sets\n",
            "Every result set found, side by side: the protocol it ran "
            "(share of the papers' data and epochs), seeds and hardware.\n"]
    text.append(md_table(set_overview(sets)) if sets else "_none_\n")
    pairs = list(itertools.combinations(sets, 2))
    if pairs:
        text.append("\n## Compare two sets\n\nPer study and level, the difference of the mean "
                    "test accuracy, and whether the claim verdicts agree:\n")
        for a, b in pairs:
            text.append(f"- [{esc(a.name)} vs {esc(b.name)}]({compare_path(a, b)})")
            comparison_page(w, a, b)
        text.append("")
    text.append("\n## Provenance\n")
    text += [provenance(rs, "result-sets.md") for rs in sets]
    w.page("result-sets.md", "\n".join(text))
