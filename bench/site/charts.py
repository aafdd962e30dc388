"""Altair chart builders, shared by the site, the notebook and PNG export.

Every builder takes an already aggregated (small) DataFrame and returns an Altair chart.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

WIDTH = 560


def natural_order(values) -> list[str]:
    """Levels as a reader counts them: 5, 10, 20 (not "10", "20", "5"); text after numbers."""
    def key(v: object) -> tuple:
        try:
            return (0, float(str(v)), "")
        except ValueError:
            return (1, 0.0, str(v))

    return sorted({str(v) for v in values}, key=key)


def level_color(values, title: str = "level") -> alt.Color:
    """Colour by level in natural order; 20 colours when 10 are not enough."""
    order = natural_order(values)
    scheme = "category10" if len(order) <= 10 else "category20"
    # many levels: the legend goes below the chart in columns instead of being cut off
    legend = alt.Legend() if len(order) <= 12 else alt.Legend(orient="bottom", columns=4,
                                                               symbolLimit=0, labelLimit=120)
    return alt.Color("level:N", title=title, sort=order, scale=alt.Scale(scheme=scheme),
                     legend=legend)


INTEGER_AXIS = alt.Axis(format="d", tickMinStep=1)  # epochs and trials: no tick at 1.5


def learning_curves(curves: pd.DataFrame, metric: str = "accuracy",
                    diverged: pd.DataFrame | None = None) -> alt.Chart | alt.LayerChart:
    """Mean curve per level and split; click the legend to highlight levels; tooltips.
    ``diverged``: one red cross per diverged run (level, split, epoch, seed, loss, y)."""
    data = curves[curves["metric"] == metric]
    pick = alt.selection_point(fields=["level"], bind="legend")
    lines = (
        alt.Chart(data, title=f"{metric} per epoch (mean over seeds)")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=INTEGER_AXIS),
            # a diverged level's loss (~1e5) would flatten every other curve on a linear axis
            y=alt.Y("mean:Q", title=metric + (" (log scale)" if metric == "loss" else ""),
                    scale=alt.Scale(type="log") if metric == "loss" else alt.Scale(zero=False)),
            color=level_color(data["level"]),
            strokeDash=alt.StrokeDash("split:N", title="split"),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
            tooltip=[alt.Tooltip("level:N"), alt.Tooltip("split:N"),
                     alt.Tooltip("epoch:Q"),
                     alt.Tooltip("mean:Q", format=".4f", title=f"mean {metric}"),
                     alt.Tooltip("n:Q", title="seeds")],
        )
        .add_params(pick)
        .properties(width=WIDTH, height=300)
    )
    if diverged is None or diverged.empty:
        return lines
    crosses = alt.Chart(diverged).mark_point(shape="cross", color="#d62728", size=90,
                                             filled=True).encode(
        x=alt.X("epoch:Q"), y=alt.Y("y:Q"),
        tooltip=[alt.Tooltip("level:N"), alt.Tooltip("split:N"), alt.Tooltip("seed:Q"),
                 alt.Tooltip("epoch:Q", title="diverged at epoch"),
                 alt.Tooltip("loss:N", title="loss there")])
    return (lines + crosses).properties(
        title=f"{metric} per epoch (mean over seeds; red crosses: diverged runs)")


def rank_plot(ranks: pd.DataFrame) -> alt.LayerChart:
    """Per level, its rank under each seed (dots) and the mean rank (bar), best first."""
    order = ranks.groupby("level")["seed_rank"].mean().sort_values().index.tolist()
    base = alt.Chart(ranks, title="rank of each level under each seed (1 = best)").encode(
        y=alt.Y("level:N", sort=order, title=None))
    mean = base.mark_tick(thickness=3, size=16, color="#1f77b4").encode(
        x=alt.X("mean(seed_rank):Q", title="rank (1 = best)",
                axis=alt.Axis(format="d", tickMinStep=1)),
        tooltip=[alt.Tooltip("level:N"),
                 alt.Tooltip("mean(seed_rank):Q", title="mean rank", format=".1f")])
    span = base.mark_rule(color="#999").encode(x="min(seed_rank):Q", x2="max(seed_rank):Q")
    dots = base.mark_point(size=30, opacity=0.6, color="#555").encode(
        x="seed_rank:Q",
        tooltip=[alt.Tooltip("level:N"), alt.Tooltip("seed:Q"),
                 alt.Tooltip("seed_rank:Q", title="rank"),
                 alt.Tooltip("accuracy:Q", title="test accuracy", format=".4f")])
    return (span + dots + mean).properties(width=WIDTH, height=max(120, 18 * len(order)))


def level_means_by_set(levels: pd.DataFrame) -> alt.LayerChart:
    """Mean test accuracy and 95 % CI per level, one colour (and row offset) per set."""
    order = natural_order(levels["level"])
    base = alt.Chart(levels, title="test accuracy per level in each result set").encode(
        y=alt.Y("level:N", sort=order, title=None),
        yOffset=alt.YOffset("result_set:N"),
        color=alt.Color("result_set:N", title="result set",
                        legend=alt.Legend(orient="bottom", labelLimit=300)))
    points = base.mark_point(filled=True, size=50).encode(
        x=alt.X("accuracy_mean:Q", title="test accuracy (mean, 95 % CI)",
                scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("result_set:N", title="result set"), alt.Tooltip("level:N"),
                 alt.Tooltip("accuracy_mean:Q", title="mean", format=".4f"),
                 alt.Tooltip("accuracy_ci_low:Q", title="CI low", format=".4f"),
                 alt.Tooltip("accuracy_ci_high:Q", title="CI high", format=".4f"),
                 alt.Tooltip("n:Q", title="seeds"),
                 alt.Tooltip("epochs_trained:Q", title="epochs trained")])
    bars = (base.mark_rule().encode(x="accuracy_ci_low:Q", x2="accuracy_ci_high:Q")
            .transform_filter("isValid(datum.accuracy_ci_low)"))
    return (bars + points).properties(width=WIDTH, height=max(140, 30 * len(order)))


def level_means(levels: pd.DataFrame, metric: str = "accuracy",
                seeds: pd.DataFrame | None = None) -> alt.LayerChart:
    """Mean per level with 95 % CI error bars, best first; one hollow dot per seed."""
    order = levels.sort_values(f"{metric}_mean", ascending=False)["level"].tolist()
    base = alt.Chart(levels, title=f"test {metric}: mean and 95 % CI over seeds").encode(
        y=alt.Y("level:N", sort=order, title=None))
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X(f"{metric}_mean:Q", title=f"test {metric}", scale=alt.Scale(zero=False)),
        tooltip=["level:N", alt.Tooltip(f"{metric}_mean:Q", format=".4f", title="mean"),
                 alt.Tooltip(f"{metric}_ci_low:Q", format=".4f", title="CI low"),
                 alt.Tooltip(f"{metric}_ci_high:Q", format=".4f", title="CI high"),
                 alt.Tooltip("n:Q", title="seeds"), alt.Tooltip("rank:Q")],
    )
    bars = (base.mark_rule().encode(x=f"{metric}_ci_low:Q", x2=f"{metric}_ci_high:Q")
            .transform_filter(f"isValid(datum.{metric}_ci_low)"))
    layers = bars + points
    if seeds is not None and not seeds.empty:
        per_seed = seeds[["level", "seed", metric]].dropna()
        dots = alt.Chart(per_seed).mark_point(size=30, opacity=0.6, color="#888").encode(
            y=alt.Y("level:N", sort=order, title=None), x=alt.X(f"{metric}:Q"),
            tooltip=["level:N", alt.Tooltip("seed:Q"),
                     alt.Tooltip(f"{metric}:Q", format=".4f", title=f"test {metric}")])
        layers = dots + bars + points
    return layers.properties(width=WIDTH, height=max(120, 22 * len(order)))


def paper_vs_measured(joined: pd.DataFrame) -> alt.LayerChart:
    """Paper figure (cross) next to our mean and CI (point and rule), per level."""
    order = joined["level"].tolist()
    base = alt.Chart(joined, title="paper (x) vs measured (mean, 95 % CI)").encode(
        y=alt.Y("level:N", sort=order, title=None))
    measured = base.mark_point(filled=True, size=70, color="#1f77b4").encode(
        x=alt.X("measured_mean:Q", title="test accuracy", scale=alt.Scale(zero=False)),
        tooltip=[alt.Tooltip("level:N"),
                 alt.Tooltip("paper_value:Q", title="paper", format=".4f"),
                 alt.Tooltip("measured_mean:Q", title="measured (mean)", format=".4f"),
                 alt.Tooltip("difference:Q", format="+.4f"), alt.Tooltip("n:Q",
                                                                         title="seeds")],
    )
    interval = (base.mark_rule(color="#1f77b4").encode(x="ci_low:Q", x2="ci_high:Q")
                .transform_filter("isValid(datum.ci_low)"))
    paper = base.mark_point(shape="cross", size=90, color="#d62728").encode(
        x="paper_value:Q", tooltip=[alt.Tooltip("level:N"),
                                    alt.Tooltip("paper_value:Q", title="paper", format=".4f")])
    return (interval + measured + paper).properties(width=WIDTH, height=max(120, 22 * len(order)))


def confusion_heatmap(counts: pd.DataFrame, classes: list[str]) -> alt.LayerChart:
    """Confusion matrix (true vs predicted) summed over the selected runs."""
    data = counts.assign(true_name=[classes[i] for i in counts["true"]],
                         pred_name=[classes[i] for i in counts["pred"]])
    base = alt.Chart(data, title="confusion matrix (test set)").encode(
        x=alt.X("pred_name:N", sort=classes, title="predicted"),
        y=alt.Y("true_name:N", sort=classes, title="true"))
    heat = base.mark_rect().encode(
        color=alt.Color("count:Q", scale=alt.Scale(scheme="blues", type="symlog")),
        tooltip=[alt.Tooltip("true_name:N", title="true"),
                 alt.Tooltip("pred_name:N", title="predicted"), alt.Tooltip("count:Q")])
    text = base.mark_text(fontSize=10).encode(text="count:Q")
    return (heat + text).properties(width=380, height=380)


def heatmap(data: pd.DataFrame, x: str, y: str, value: str, title: str) -> alt.LayerChart:
    """Two crossed factors: mean metric per cell."""
    xt, yt = x.replace("_", " "), y.replace("_", " ")
    base = alt.Chart(data, title=title).encode(
        x=alt.X(f"{x}:N", sort=natural_order(data[x]), title=xt),
        y=alt.Y(f"{y}:N", sort=natural_order(data[y]), title=yt))
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="viridis"), title=title),
        tooltip=[alt.Tooltip(f"{x}:N", title=xt), alt.Tooltip(f"{y}:N", title=yt),
                 alt.Tooltip(f"{value}:Q", format=".4f", title=title)])
    text = base.mark_text(fontSize=10, color="white").encode(
        text=alt.Text(f"{value}:Q", format=".3f"))
    return (rect + text).properties(width=WIDTH, height=260)


def cost_vs_accuracy(levels: pd.DataFrame) -> alt.Chart:
    """Training seconds against accuracy, one point per level."""
    return (
        alt.Chart(levels, title="wall-clock cost vs accuracy")
        .mark_circle(size=80)
        .encode(
            x=alt.X("seconds_mean:Q", title="training seconds (mean)"),
            y=alt.Y("accuracy_mean:Q", title="test accuracy", scale=alt.Scale(zero=False)),
            color=level_color(levels["level"]),
            tooltip=[alt.Tooltip("level:N"),
                     alt.Tooltip("seconds_mean:Q", title="training seconds (mean)",
                                 format=".2f"),
                     alt.Tooltip("accuracy_mean:Q", title="test accuracy (mean)",
                                 format=".4f")],
        )
        .properties(width=WIDTH, height=260)
    )


def _bars_per_result_set(data: pd.DataFrame, title: str, x: alt.X, y: str,
                         tooltip: list) -> alt.Chart:
    """Horizontal bars of ``x`` per ``y``, one bar per result set side by side."""
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(x=x, y=alt.Y(f"{y}:N", title=None, sort=None),
                color=alt.Color("result_set:N", title="result set"),
                yOffset="result_set:N",
                tooltip=[alt.Tooltip("result_set:N", title="result set"), f"{y}:N", *tooltip])
        .properties(width=WIDTH)
    )


def speed_bars(speed: pd.DataFrame) -> alt.Chart:
    """Images per second of training, per study and result set."""
    return _bars_per_result_set(
        speed, "training throughput (images / s, median over runs)",
        alt.X("images_per_s:Q", title="images / s"), "study",
        [alt.Tooltip("images_per_s:Q", title="images / s", format=",.0f"),
         alt.Tooltip("epoch_seconds:Q", title="seconds per epoch", format=".3f")])


def perf_speedups(perf: pd.DataFrame) -> alt.Chart:
    """``bench perf``: engine speed-up over tutorial ``fit`` per measurement."""
    return _bars_per_result_set(
        perf, "engine vs tutorial model.fit (same process, alternating)",
        alt.X("speedup:Q", title="speed-up (x)"), "measurement",
        [alt.Tooltip("speedup:Q", title="speed-up (x)", format=".2f"), "tutorial:N",
         "engine:N"])


def best_so_far(trials: pd.DataFrame, x: str = "trial") -> alt.Chart:
    """HPO: best-so-far accuracy vs trial number or wall time, band over seeds."""
    base = alt.Chart(trials, title=f"best so far vs {x.replace('_', ' ')}").encode(
        x=alt.X(f"{x}:Q", title=x.replace("_", " "),
                axis=INTEGER_AXIS if x == "trial" else alt.Axis()),
        color=alt.Color("method:N"))
    line = base.mark_line().encode(
        y=alt.Y("mean:Q", title="best accuracy so far", scale=alt.Scale(zero=False)),
        tooltip=["method:N", f"{x}:Q", alt.Tooltip("mean:Q", format=".4f")])
    band = base.mark_area(opacity=0.2).encode(y="low:Q", y2="high:Q")
    return (band + line).properties(width=WIDTH, height=300)


def grouped_bars(data: pd.DataFrame, x: str, y: str, color: str, title: str,
                 interval: tuple[str, str] | None = None, y_title: str | None = None
                 ) -> alt.Chart | alt.LayerChart:
    """Bars of ``y`` per ``x``, one per ``color``; ``interval`` (low, high columns) adds
    error bars (a 95 % CI over seeds) so that a mean is not read without its spread."""
    base = alt.Chart(data, title=title).encode(
        x=alt.X(f"{x}:N", sort=natural_order(data[x]), axis=alt.Axis(labelAngle=0)),
        xOffset=f"{color}:N")
    tooltip = [f"{x}:N", f"{color}:N", alt.Tooltip(f"{y}:Q", format=".4g")]
    if interval:
        tooltip += [alt.Tooltip(f"{c}:Q", format=".4g") for c in interval]
    bars = base.mark_bar().encode(y=alt.Y(f"{y}:Q", title=y_title or y), color=f"{color}:N",
                                  tooltip=tooltip)
    if not interval:
        return bars.properties(width=WIDTH, height=260)
    whiskers = base.mark_rule(color="black").encode(y=f"{interval[0]}:Q",
                                                     y2=f"{interval[1]}:Q")
    return alt.layer(bars, whiskers).properties(width=WIDTH, height=260)


def parallel_coordinates(trials: pd.DataFrame, params: list[str]) -> alt.Chart:
    """HPO trials as lines across normalised parameters, coloured by accuracy."""
    long = trials[["trial_key", "test_accuracy", *params]].melt(
        id_vars=["trial_key", "test_accuracy"], var_name="parameter", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    long["scaled"] = long.groupby("parameter")["value"].transform(
        lambda v: (v - v.min()) / (v.max() - v.min()) if v.max() > v.min() else 0.5)
    return (
        alt.Chart(long, title="trials across parameters (scaled 0-1)")
        .mark_line(opacity=0.5)
        .encode(x=alt.X("parameter:N", sort=params), y=alt.Y("scaled:Q"),
                color=alt.Color("test_accuracy:Q", scale=alt.Scale(scheme="viridis")),
                detail="trial_key:N", tooltip=["parameter:N", "value:Q", "test_accuracy:Q"])
        .properties(width=WIDTH, height=280)
    )


DECISION_WORDS = {"better": "worse than the choice", "equivalent": "tied with the choice",
                  "undecided": "not decided", "worse": "better than the choice on test"}


def gap_to_best(gaps: pd.DataFrame, floor_pp: float = -5.0) -> alt.Chart:
    """Per question, each alternative's seed-paired gap to the choice, in points."""
    data = gaps.assign(
        diff_pp=-gaps["gap"] * 100, low_pp=-gaps["gap_high"] * 100,
        high_pp=-gaps["gap_low"] * 100,
        decision_words=gaps["decision"].map(DECISION_WORDS).fillna(gaps["decision"]))
    data["shown"] = data["diff_pp"].clip(lower=floor_pp)
    order = list(dict.fromkeys(data["question"]))
    colours = alt.Scale(domain=list(DECISION_WORDS.values()),
                        range=["#bbbbbb", "#2ca02c", "#ff7f0e", "#d62728"])
    title = "each alternative against the choice (test accuracy, seed-paired)"
    base = alt.Chart(data, title=title).encode(
        y=alt.Y("question:N", sort=order, title=None, axis=alt.Axis(labelLimit=340)),
        color=alt.Color("decision_words:N", title=None, scale=colours,
                        legend=alt.Legend(orient="bottom")))
    tooltip = [alt.Tooltip("question:N"), alt.Tooltip("level:N", title="alternative"),
               alt.Tooltip("best:N", title="choice (on validation)"),
               alt.Tooltip("diff_pp:Q", title="difference (pp)", format="+.2f"),
               alt.Tooltip("low_pp:Q", title="simultaneous 95 % CI low (pp)", format="+.2f"),
               alt.Tooltip("high_pp:Q", title="simultaneous 95 % CI high (pp)", format="+.2f"),
               alt.Tooltip("accuracy:Q", title="mean test accuracy", format=".2%"),
               alt.Tooltip("decision_words:N", title="decision")]
    dots = base.mark_point(filled=True, size=45, opacity=0.85).encode(
        x=alt.X("shown:Q", title="alternative minus choice, test accuracy (percentage points)",
                scale=alt.Scale(domain=[floor_pp, 0.5], clamp=True),
                axis=alt.Axis(tickCount=11)),
        yOffset=alt.YOffset("level:N"), tooltip=tooltip)
    return dots.properties(width=WIDTH, height=36 * len(order))
