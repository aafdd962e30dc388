"""Publishers: one small function per page (or page family) of the site."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from bench.data import DATASETS
from bench.errors import BenchError
from bench.site import charts
from bench.site.provenance import cite, provenance
from bench.site.sets import ResultSet, load_result_set, set_for, sets_with  # noqa: F401 (re-exported)
from bench.site.study_sections import (
    DIVERGED_LOSS,
    RANK_VIEW_LEVELS,
    paper_section,
    rank_section,
    sets_section,
    split_diverged,
)
from bench.site.verdicts import (
    RULES,
    badge,
    claim_table,
    claims_markdown,
    level_table,
    paired_section,
    protocol_note,
)
from bench.site.writer import SiteWriter, esc, front_matter, md_table
from bench.studies import REGISTRY, Study

ROOT_DOCS = Path(__file__).resolve().parents[2] / "docs"
NO_DATA = "!!! note \"No data yet\"\n    {what} Run `{cmd}` and rebuild the site.\n\n"


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else "?"


def home(w: SiteWriter, sets: list[ResultSet], primary: ResultSet | None) -> None:
    from bench.site.answers import answers_section

    text = ["---\nhide:\n  - navigation\n  - toc\n---\n",
            "# Which hyper-parameters should I pick?\n"]
    if primary is None:
        text.append(NO_DATA.format(what="No result set found.", cmd="bench all"))
        w.page("index.md", "\n".join(text))
        return
    claims = best_claims(sets)
    text.append(answers_section(w, sets, claims))
    text.append("\n## The papers' claims\n\nFive published studies re-run with one harness: "
                "several seeds with 95 % confidence intervals, wall-clock cost next to "
                "accuracy, and a verdict on every claim, from the result set that measured it "
                "at the papers' protocol when there is one (else a reduced set, marked so).\n")
    if claims.empty:
        text.append("_No claim could be evaluated yet._\n")
    else:
        table = claim_table(claims).assign(**{"result set": claims["result_set"].values})
        text.append(md_table(table, html_cols=("verdict",)))
    text.append("\n## Result sets\n\n")
    text.append(md_table(set_overview(sets)))
    text.append("\nCompare two sets level by level: [Result sets](result-sets.md). Every "
                "table with checksums: [Data](data.md). Sources: [References](references.md)."
                "\n\n## Reproduce\n\n```bash\npip install -e . && bench all            "
                "# quick profile, ~35 min on 2 CPU cores\nbench all --profile full --workers 0"
                "       # the papers' protocols x 5 seeds (GPU)\nbench site --results "
                "data_cache/results/* --out site\n```\n")
    w.page("index.md", "\n".join(text))


def set_overview(sets: list[ResultSet]) -> pd.DataFrame:
    """One row per set: protocol, seeds, data and epochs, hardware, runs, last update."""
    from bench.studies import PROFILES

    rows = []
    for s in sets:
        p = PROFILES.get(s.profile or "")
        rows.append({"result set": s.name, "profile": s.profile or "?",
                     "data": f"{p.data_scale:.0%}" if p else "?",
                     "epochs": f"{p.epoch_scale:.0%}" + (f" (max {p.max_epochs})"
                                                          if p and p.max_epochs else "")
                     if p else "?",
                     "seeds": s.seeds(), "hardware": s.hardware(),
                     "backend": s.manifest.get("keras_backend", "?"), "runs": s.n_runs,
                     "last updated": _when(s.manifest.get("updated"))})
    return pd.DataFrame(rows)


def _curves(rs: ResultSet, study: str) -> pd.DataFrame:
    runs, epochs = rs.get("runs"), rs.get("epochs")
    mine = runs[(runs["study"] == study) & (runs["status"] == "ok")]
    e = epochs[epochs["run_id"].isin(mine["run_id"]) & (epochs["metric"] != "seconds")]
    # a study read off one long run per seed (epochs) has no level: name the run's length
    level = mine["level"].astype(object).where(mine["level"].notna(),
                                               mine["epochs"].map(lambda n: f"{n} epochs"))
    return e.merge(mine[["run_id", "seed"]].assign(level=level.astype(str)), on="run_id")


def study_page(w: SiteWriter, rs: ResultSet | None, study: Study,
               others: list[ResultSet] | tuple = ()) -> None:
    """One study: the preferred set in full, then every other set that ran it."""
    path = f"studies/{study.name}.md"
    text = [front_matter(study.title), f"# {esc(study.title)}\n",
            f"Source: {cite(study.source, path)}"
            + (f", {study.paper_table.replace('_', ' ')}" if study.paper_table else "") + ".\n",
            (esc(study.description) + "\n") if study.description else ""]
    runs = rs.get("runs") if rs else pd.DataFrame()
    if rs is None or runs.empty or study.name not in set(runs["study"]):
        text.append(NO_DATA.format(what="This study has no results yet.",
                                   cmd=f"bench run {study.name}"))
        w.page(path, "\n".join(text))
        return
    levels = rs.get("derived/levels")
    levels = levels[levels["study"] == study.name] if not levels.empty else levels
    mine = runs[runs["study"] == study.name]
    text.append(protocol_note(rs, study, mine, levels))
    text.append(provenance(rs, path))
    if not levels.empty:
        text += _levels_section(w, path, rs, study, levels, others)
    text += _curves_section(w, path, rs, study)
    if len(study.factors) == 2 and not rs.get("derived/scores").empty:
        text += _both_factors(w, path, study, mine)
    text.append(paper_section(w, path, study, rs.get("derived/paper_vs_measured")))
    claims = rs.get("derived/claims")
    if not claims.empty:
        declared = claims["study"].astype(str).str.split("+")  # a claim may span studies
        mine_claims = claims[declared.map(lambda names: study.name in names)]
        if not mine_claims.empty:
            text.append("\n## Claims\n")
            text.append(claims_markdown(mine_claims))
    if study.per_class:
        text.append(_classification(w, path, rs, study))
    w.page(path, "\n".join(text))


def _levels_section(w: SiteWriter, path: str, rs: ResultSet, study: Study,
                    levels: pd.DataFrame, others: list[ResultSet] | tuple) -> list[str]:
    """Test accuracy per level (chart, cost, table, ranks), the paired comparisons and
    every result set side by side."""
    text = []
    scores = rs.get("derived/scores")
    scores = scores[scores["study"] == study.name] if not scores.empty else scores
    epoch = sorted({int(e) for e in pd.to_numeric(levels["epochs_trained"]).dropna()})
    at = "/".join(map(str, epoch)) or "?"
    text.append(f"## Test accuracy per level (epoch {at})\n")
    text.append(f"Each dot is one seed; the bar is the 95 % CI of the mean (computed on the "
                f"logit scale, so it stays inside [0, 1]). Test accuracy after {at} "
                f"epoch(s); the study's choice is made on validation below, and this "
                f"study's one answer is the one the home page shows.\n")
    text.append(w.chart(path, "levels", charts.level_means(levels, seeds=scores)))
    text.append(w.chart(path, "cost", charts.cost_vs_accuracy(levels)))
    text.append(md_table(level_table(levels)))
    if levels.groupby("factor")["level"].nunique().max() >= RANK_VIEW_LEVELS:
        text.append(rank_section(w, path, scores, across=bool(study.stages)))
    text.append(paired_section(rs, study.name))
    text.append(sets_section(w, path, study, [rs, *others]))
    return text


def _curves_section(w: SiteWriter, path: str, rs: ResultSet, study: Study) -> list[str]:
    """Learning curves, mean over seeds (diverged runs apart), when there is more than one
    epoch."""
    text = []
    curves = _curves(rs, study.name)
    if not curves.empty and curves["epoch"].max() > 1:
        curves, diverged = split_diverged(curves)
        text.append("\n## Learning curves\n\nMean over seeds. Click a legend entry to "
                    "highlight a level.\n")
        text.append(w.chart(path, "curves-acc", charts.learning_curves(curves, "accuracy")))
        text.append(w.chart(path, "curves-loss", charts.learning_curves(curves, "loss",
                                                                         diverged)))
        if not diverged.empty:
            text.append(f"Diverged runs (loss not finite or above {DIVERGED_LOSS:g}) are left "
                        "out of the means and drawn as red crosses at the top of the loss "
                        "chart.\n")
    return text


def _both_factors(w: SiteWriter, path: str, study: Study, mine: pd.DataFrame) -> list[str]:
    """The heatmap of a two-factor study: mean test accuracy per cell at the last epoch."""
    text = []
    a, b = (f.name for f in study.factors)
    ok = mine[mine["status"] == "ok"]
    parts = ok["level"].astype(str).str.split("|", n=1, expand=True)  # the factors' labels
    ok = ok.assign(**{a: parts[0], b: parts[1] if parts.shape[1] > 1 else ""})
    cells = ok.groupby([a, b])["test_accuracy"].mean().reset_index()
    text.append("\n## Both factors\n")
    last = "/".join(str(int(e)) for e in sorted(ok["epochs"].dropna().unique()))
    text.append(w.chart(path, "heat", charts.heatmap(
        cells, b, a, "test_accuracy", f"mean test accuracy after {last} epochs (the last)")))
    return text


def _classification(w: SiteWriter, path: str, rs: ResultSet, study: Study) -> str:
    runs = rs.get("runs")
    mine = runs[(runs["study"] == study.name) & (runs["status"] == "ok")]
    if mine.empty:
        return ""
    classes = list(DATASETS[mine["dataset"].iloc[0]].classes)
    out = ["\n## Classification report (mean over seeds)\n"]
    per = rs.get("classes")
    per = per[per["run_id"].isin(mine["run_id"])].merge(mine[["run_id", "level"]], on="run_id")
    report = per.groupby(["level", "class_name"], sort=False)[["precision", "recall", "f1"]].mean()
    out.append(md_table(report.reset_index()))
    conf = rs.get("confusion")
    for level, group in mine.groupby("level"):
        counts = conf[conf["run_id"].isin(group["run_id"])].groupby(["true", "pred"])["count"].sum()
        out.append(f"\n### Confusion matrix: {esc(level)}\n")
        out.append(w.chart(path, f"confusion-{level}", charts.confusion_heatmap(
            counts.reset_index(), classes)))
    grid = _image_grid(w, path, rs, mine, classes)
    if grid:
        out.append(grid)
    return "\n".join(out)


def _image_grid(w: SiteWriter, path: str, rs: ResultSet, mine: pd.DataFrame,
                classes: list[str]) -> str:
    """The first 40 test images with predicted vs true labels (PNG made at build time)."""
    from bench import data
    from bench.site.images import prediction_grid

    preds = rs.get("predictions")
    first = mine.sort_values("test_accuracy", ascending=False).iloc[0]
    if preds.empty or first["test_fraction"] < 1:
        return ""
    p = preds[preds["run_id"] == first["run_id"]].sort_values("index")
    try:
        ds = data.load(first["dataset"], download=False)
    except BenchError as exc:
        return f"\n_Image grid skipped: {exc}_\n"
    name = f"{Path(path).stem}-grid.png"
    png = prediction_grid(ds.x_test[p["index"].to_numpy()], p["true"].to_numpy(),
                          p["pred"].to_numpy(), classes)
    w.page(str(Path(path).parent / "images" / name), png)
    return (f"\n## First 40 test images ({esc(first['level'])}, seed {first['seed']})\n\n"
            f"Red titles are mistakes (predicted / true).\n\n![predictions](images/{name})\n")


def best_claims(sets: list[ResultSet]) -> pd.DataFrame:
    """Per claim, the verdict of the best-ranked set that has data for it (paper protocol
    first; for an HPO claim, the set the HPO page shows), with the set's name in
    ``result_set``."""
    from bench.site.hpo_page import live_set_for

    live = {s.name: live_set_for(sets, s.name) for s in REGISTRY if s.kind == "hpo"}
    rows = []
    for rs in sorted(sets, key=lambda r: r.rank(), reverse=True):
        claims = rs.get("derived/claims")
        if not claims.empty:
            measured = claims["n"].notna() if "n" in claims else False
            # an HPO claim comes from the set whose live searches the HPO page shows
            studies = claims["study"] if "study" in claims else pd.Series(None, claims.index)
            shown = studies.map(lambda st, rs=rs: live.get(st) is None or live[st] is rs)
            rows.append(claims.assign(result_set=rs.name, has_data=shown & (measured | (
                claims["verdict"] != "inconclusive"))))
    if not rows:
        return pd.DataFrame()
    every = pd.concat(rows, ignore_index=True)
    order = every.reset_index().sort_values(["has_data", "index"], ascending=[False, True])
    first = order.drop_duplicates("claim_id").sort_values("index")
    return first.drop(columns=["index", "has_data"]).reset_index(drop=True)


def claims_page(w: SiteWriter, sets: list[ResultSet]) -> None:
    from bench.site.provenance import PAPERS

    text = ["---\nhide:\n  - toc\n---\n", "# Claims and verdicts\n", RULES]  # wide tables
    claims = best_claims(sets)
    if claims.empty:
        text.append(NO_DATA.format(what="No claims evaluated yet.", cmd="bench all --seeds 3"))
    else:
        text.append("Each claim from the result set that measured it at the papers' protocol "
                    "when there is one (after the paper, column *source*). Papers: "
                    "[References](references.md).\n")
        for rs in sets:
            if rs.name in set(claims["result_set"]):
                text.append(f"- {rs.context()}")
        text.append("")
        short = claims["source"].map(lambda k: PAPERS[k].short if k in PAPERS else k)
        table_src = claims.assign(source=short + " · " + claims["result_set"])
        text.append(claims_markdown(table_src, source=True))
        text.append(_verdicts_per_set(sets))
        text += [provenance(rs, "claims.md") for rs in sets
                 if not rs.get("derived/claims").empty]
    w.page("claims.md", "\n".join(text))


def _verdicts_per_set(sets: list[ResultSet]) -> str:
    """Claim x result set: each set's own verdict, so a reader sees where they differ."""
    with_claims = [rs for rs in sets if not rs.get("derived/claims").empty]
    if len(with_claims) < 2:
        return ""
    table = None
    for rs in with_claims:
        c = rs.get("derived/claims")
        col = pd.DataFrame({"claim": c["claim"], rs.name: [
            f"{badge(v)} n={'' if pd.isna(n) else int(n)}"
            for v, n in zip(c["verdict"], c["n"], strict=True)]})
        table = col if table is None else table.merge(col, on="claim", how="outer")
    table = table.fillna("— (not in this set)")
    return ("\n## Verdicts in each result set\n\nThe same claims judged in every set on its "
            "own (a reduced protocol may disagree with the papers' one; details per level on "
            "the [comparison pages](result-sets.md)).\n\n"
            + md_table(table, html_cols=tuple(rs.name for rs in with_claims)))


def speed_page(w: SiteWriter, sets: list[ResultSet]) -> None:
    rows = []
    for rs in sets:
        runs = rs.get("runs")
        if runs.empty:
            continue
        ok = runs[(runs["status"] == "ok") & runs["train_seconds"].notna()].copy()
        ok["images_per_s"] = ok["n_train"].astype(float) * ok["epochs"] / ok["train_seconds"]
        ok["epoch_seconds"] = ok["train_seconds"] / ok["epochs"]
        agg = ok.groupby("study")[["images_per_s", "epoch_seconds"]].median().reset_index()
        agg["result_set"] = rs.name
        rows.append(agg)
    text = ["# Speed\n", "Training throughput per study and result set. Epoch seconds exclude "
            "validation.\n", *[f"- {rs.context()}" for rs in sets if not rs.get('runs').empty],
            ""]
    if not rows:
        text.append(NO_DATA.format(what="No runs yet.", cmd="bench all"))
    else:
        speed = pd.concat(rows)
        text.append(w.chart("speed.md", "throughput", charts.speed_bars(speed)))
        text.append(md_table(speed, floats="{:,.3f}"))
    perf = [perf_summary(rs.get("perf")).assign(result_set=rs.name)
            for rs in sets if not rs.get("perf").empty]
    if perf:
        table = pd.concat(perf)
        text.append("\n## `bench perf`: engine vs tutorial `fit`\n")
        text.append("The latest `bench perf` of each result set: one process, the two "
                    "alternating, medians of 3 rounds (sweep: one tutorial process against "
                    "the engine's pinned workers). FLOP floor = 6 x parameters x images/s over "
                    "the best measured float32 matmul rate; *matmul share* counts "
                    "the Dense/Conv2D FLOPs a training step must execute, over the matmul "
                    "rate of the precision it trains in "
                    "(the project's `docs/performance.md` explains both).\n")
        text.append(w.chart("speed.md", "perf", charts.perf_speedups(table)))
        text.append(md_table(table, floats="{:,.2f}"))
    w.page("speed.md", "\n".join(text))


def perf_summary(perf: pd.DataFrame) -> pd.DataFrame:
    """One readable row per measurement of the latest ``bench perf`` in ``perf``."""
    if "measured_at" in perf:
        perf = perf[perf["measured_at"] == perf["measured_at"].max()]
    peak = perf.loc[perf["kind"] == "peak", "peak_gflops"].max()
    rows = []
    for r in perf.to_dict("records"):
        if r["kind"] == "fit":
            matmul = r.get("engine_matmul_share")
            rows.append({"measurement": f"{r['model']}, batch {int(r['batch_size'])}",
                         "tutorial": f"{r['tutorial_images_per_s']:,.0f} img/s",
                         "engine": f"{r['engine_images_per_s']:,.0f} img/s",
                         "speedup": r["speedup"],
                         "flop_floor_share": f"{r['engine_flop_share']:.0%}",
                         "matmul_share": "" if matmul is None or matmul != matmul
                         else f"{matmul:.0%}"})
        elif r["kind"] == "sweep":
            rows.append({"measurement": f"sweep of {int(r['runs'])} runs, batch 32",
                         "tutorial": f"{r['tutorial_sweep_s']:.1f} s (1 process)",
                         "engine": f"{r['engine_sweep_s']:.1f} s ({int(r['workers'])} workers)",
                         "speedup": r["speedup"], "flop_floor_share": "",
                         "matmul_share": ""})
    out = pd.DataFrame(rows)
    out["matmul_peak_gflops"] = peak
    return out
