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
    return alt.Color("level:N", title=title, sort=order, scale=alt.Scale(scheme=scheme))


INTEGER_AXIS = alt.Axis(format="d", tickMinStep=1)  # epochs and trials: no tick at 1.5


def learning_curves(curves: pd.DataFrame, metric: str = "accuracy") -> alt.Chart:
    """Mean curve per level and split; click the legend to highlight levels; tooltips."""
    data = curves[curves["metric"] == metric]
    pick = alt.selection_point(fields=["level"], bind="legend")
    return (
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
            tooltip=["level:N", "split:N", "epoch:Q", alt.Tooltip("mean:Q", format=".4f"),
                     alt.Tooltip("n:Q", title="seeds")],
        )
        .add_params(pick)
        .properties(width=WIDTH, height=300)
    )


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
        tooltip=["level:N", alt.Tooltip("paper_value:Q", format=".4f"),
                 alt.Tooltip("measured_mean:Q", format=".4f"),
                 alt.Tooltip("difference:Q", format="+.4f"), "n:Q"],
    )
    interval = (base.mark_rule(color="#1f77b4").encode(x="ci_low:Q", x2="ci_high:Q")
                .transform_filter("isValid(datum.ci_low)"))
    paper = base.mark_point(shape="cross", size=90, color="#d62728").encode(
        x="paper_value:Q", tooltip=["level:N", alt.Tooltip("paper_value:Q", format=".4f")])
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
        tooltip=["true_name:N", "pred_name:N", "count:Q"])
    text = base.mark_text(fontSize=9).encode(text="count:Q")
    return (heat + text).properties(width=380, height=380)


def heatmap(data: pd.DataFrame, x: str, y: str, value: str, title: str) -> alt.LayerChart:
    """Two crossed factors: mean metric per cell."""
    base = alt.Chart(data, title=title).encode(x=alt.X(f"{x}:N", sort=natural_order(data[x])),
                                               y=alt.Y(f"{y}:N", sort=natural_order(data[y])))
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="viridis")),
        tooltip=[f"{x}:N", f"{y}:N", alt.Tooltip(f"{value}:Q", format=".4f")])
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
            tooltip=["level:N", alt.Tooltip("seconds_mean:Q", format=".2f"),
                     alt.Tooltip("accuracy_mean:Q", format=".4f")],
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
                yOffset="result_set:N", tooltip=["result_set:N", f"{y}:N", *tooltip])
        .properties(width=WIDTH)
    )


def speed_bars(speed: pd.DataFrame) -> alt.Chart:
    """Images per second of training, per study and result set."""
    return _bars_per_result_set(
        speed, "training throughput (images / s, median over runs)",
        alt.X("images_per_s:Q", title="images / s"), "study",
        [alt.Tooltip("images_per_s:Q", format=",.0f"),
         alt.Tooltip("epoch_seconds:Q", format=".3f")])


def perf_speedups(perf: pd.DataFrame) -> alt.Chart:
    """``bench perf``: engine speed-up over tutorial ``fit`` per measurement."""
    return _bars_per_result_set(
        perf, "engine vs tutorial model.fit (same process, alternating)",
        alt.X("speedup:Q", title="speed-up (x)"), "measurement",
        [alt.Tooltip("speedup:Q", format=".2f"), "tutorial:N", "engine:N"])


def best_so_far(trials: pd.DataFrame, x: str = "trial") -> alt.Chart:
    """HPO: best-so-far accuracy vs trial number or wall time, band over seeds."""
    base = alt.Chart(trials, title=f"best so far vs {x}").encode(
        x=alt.X(f"{x}:Q", title=x.replace("_", " "),
                axis=INTEGER_AXIS if x == "trial" else alt.Axis()),
        color=alt.Color("method:N"))
    line = base.mark_line().encode(
        y=alt.Y("mean:Q", title="best accuracy so far", scale=alt.Scale(zero=False)),
        tooltip=["method:N", f"{x}:Q", alt.Tooltip("mean:Q", format=".4f")])
    band = base.mark_area(opacity=0.2).encode(y="low:Q", y2="high:Q")
    return (band + line).properties(width=WIDTH, height=300)


def grouped_bars(data: pd.DataFrame, x: str, y: str, color: str, title: str) -> alt.Chart:
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(x=alt.X(f"{x}:N", sort=natural_order(data[x])), y=alt.Y(f"{y}:Q"),
                color=f"{color}:N", xOffset=f"{color}:N",
                tooltip=[f"{x}:N", f"{color}:N", alt.Tooltip(f"{y}:Q", format=".4g")])
        .properties(width=WIDTH, height=260)
    )


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
