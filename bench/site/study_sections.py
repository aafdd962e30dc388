"""Study-page sections beyond the main set's numbers: every result set side by side, a rank
view for studies with many levels, and learning curves with diverged runs set apart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.site import charts
from bench.site.sets import ResultSet
from bench.site.writer import SiteWriter, esc, md_table
from bench.studies import Study

RANK_VIEW_LEVELS = 8  # a factor with this many levels gets a rank view
#: a loss above this (about 9x that of guessing among 10 classes, ln 10 = 2.3) or not finite
#: marks a run's curve as diverged: drawn as a marker, kept out of the mean loss line
DIVERGED_LOSS = 20.0


def split_diverged(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mean curves per level/split/metric/epoch, one marker per diverged run and split).

    A diverged run's loss curve is left out of the mean loss line; its accuracy stays in the
    accuracy means (it is part of the level's result)."""
    loss = raw[raw["metric"] == "loss"]
    bad_rows = loss[~np.isfinite(loss["value"]) | (loss["value"] > DIVERGED_LOSS)]
    first = (bad_rows.sort_values("epoch").groupby(["run_id", "split"], as_index=False)
             .first())
    bad_keys = set(zip(first["run_id"], first["split"], strict=True))
    is_bad = pd.Series([(r, s) in bad_keys for r, s in zip(raw["run_id"], raw["split"],
                                                            strict=True)], index=raw.index)
    kept = raw[~(is_bad & (raw["metric"] == "loss"))]
    means = (kept.groupby(["level", "split", "metric", "epoch"])["value"]
             .agg(mean="mean", n="count").reset_index())
    if first.empty:
        return means, pd.DataFrame()
    ok_loss = means.loc[means["metric"] == "loss", "mean"]
    top = float(ok_loss.max()) * 1.5 if not ok_loss.empty and math.isfinite(ok_loss.max()) \
        else DIVERGED_LOSS
    markers = first.assign(y=top, loss=first["value"].map(
        lambda v: f"{v:.3g}" if math.isfinite(v) else str(v)))
    return means, markers[["level", "split", "epoch", "seed", "loss", "y"]]


def rank_section(w: SiteWriter, path: str, scores: pd.DataFrame, across: bool = False) -> str:
    """Per seed, each level's rank within its factor (1 = best); mean rank and range.
    ``across``: rank every level of the study together (a growing search's networks, whose
    stages are factors, share one axis)."""
    if scores.empty or scores["seed"].nunique() < 2:
        return ""
    s = scores.drop_duplicates(["level", "seed"]) if across else scores.copy()
    s["seed_rank"] = s.groupby(["seed"] if across else ["factor", "seed"])["accuracy"].rank(
        ascending=False, method="min")
    return ("\n## Rank view\n\nEach seed ranks the levels by test accuracy (1 = best): a level "
            "whose ranks scatter is not reliably better than its neighbours; one that ranks "
            "the same under every seed is.\n\n"
            + w.chart(path, "ranks", charts.rank_plot(s[["level", "seed", "seed_rank",
                                                          "accuracy"]])))


def sets_section(w: SiteWriter, path: str, study: Study, sets: list[ResultSet]) -> str:
    """The study in every result set that ran it: one colour per set, one context line each."""
    frames = []
    for rs in sets:
        lv = rs.get("derived/levels")
        if lv.empty or study.name not in set(lv["study"]):
            continue
        lv = lv[lv["study"] == study.name]
        frames.append(lv.assign(result_set=rs.name))
    if len(frames) < 2:
        return ""
    both = pd.concat(frames, ignore_index=True)
    lines = "\n".join(f"- {rs.context(study.name)}" for rs in sets
                      if rs.name in set(both["result_set"]))
    wide = both.pivot_table(index="level", columns="result_set", values="accuracy_mean",
                            aggfunc="first")
    wide = wide.reindex(charts.natural_order(wide.index)).reset_index()
    return ("\n## In each result set\n\nThe same study in every result set that ran it (a "
            "reduced protocol trains on less data or for fewer epochs, so its accuracy is "
            "lower; compare the order, not the level):\n\n" + lines + "\n\n"
            + w.chart(path, "sets", charts.level_means_by_set(both))
            + md_table(wide.rename(columns={"level": "level (mean test accuracy)"}))
            + "\nLevel by level across all studies: [Result sets](../result-sets.md).\n")


def paper_section(w: SiteWriter, path: str, study: Study, paper: pd.DataFrame) -> str:
    """The paper's figures next to ours, each row like-for-like or not (the reasons listed
    once below the table), and how many like-for-like rows land inside our interval."""
    from bench.studies import REGISTRY

    pv = paper[(paper["study"] == study.name) & paper["metric"].isin(
        ["test_accuracy", "val_accuracy"])] if not paper.empty else paper
    if pv.empty:
        return ""
    like = pv[pv["comparable"].astype(bool)]
    measured = like[like["paper_in_pi"].notna() & (like["n"] >= 2)]  # an interval needs 2 seeds
    inside = int(measured["paper_in_pi"].astype(bool).sum())
    summary = (f"Of the {len(like)} like-for-like rows, {len(measured)} are measured (2 seeds "
               f"or more) and {inside} of those have the paper's figure inside our one-run "
               f"interval" if len(like) else "No row here is like-for-like with the paper, so "
               "none is counted as inside or outside")
    variants = [v.name for v in REGISTRY if v.variant_of == study.name]
    if variants:
        summary += "; the paper's base is run as " + ", ".join(f"[{v}]({v}.md)" for v in variants)
    reasons = list(dict.fromkeys(pv["not_comparable_because"].dropna())) \
        if "not_comparable_because" in pv else []
    mark = {why: i + 1 for i, why in enumerate(reasons)}
    why = pv["not_comparable_because"] if reasons else pd.Series(None, index=pv.index)
    table = pd.DataFrame({
        "level": pv["level"], "metric": pv["metric"], "paper epochs": pv["epochs"],
        "paper": pv["paper_value"], "ours: mean": pv["measured_mean"],
        "one run: low": pv["pi_low"], "one run: high": pv["pi_high"], "seeds": pv["n"],
        "paper inside": pv["paper_in_pi"].map({True: "yes", False: "no"}).fillna(""),
        "like-for-like": ["yes" if ok else f"no ({mark.get(w_, '?')})"
                          for ok, w_ in zip(pv["comparable"], why, strict=True)]})
    acc = pv[pv["metric"] == "test_accuracy"]
    chart = w.chart(path, "paper", charts.paper_vs_measured(acc)) \
        if not acc.empty and acc["measured_mean"].notna().any() else ""
    return ("\n## Paper vs measured\n" + chart + "The paper reports one run, so its figure is "
            "compared with a 95 % *prediction interval* for one of our runs (where a single new "
            "run lands), not with the CI of our mean. " + summary + ".\n\n" + md_table(table)
            + "".join(f"\n({i}) {esc(r)}\n" for r, i in mark.items()))
