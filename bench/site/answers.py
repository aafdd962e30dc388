"""The home page: one recommendation per practical question, from the claims machinery.

Each answer is the level with the best mean *validation* accuracy (chosen without the test
set, so the test below is not biased by the choice), tested on the test set as the claim
"the best is X" with ``claims.best_level`` (seed-paired t-tests, Holm, margin); *within
noise* lists the levels the same family of comparisons (``paired.outcomes``) does not find worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.report.claims import MIN_SEEDS, Claim, best_level
from bench.report.paired import MARGIN, MAX_SEEDS_REPORTED, compare, outcomes
from bench.report.stats import paired_samples
from bench.site import charts
from bench.site.sets import ResultSet, set_for
from bench.site.verdicts import badge
from bench.site.writer import SiteWriter, esc, md_table


@dataclass(frozen=True)
class Question:
    text: str
    studies: tuple[str, ...]  # the first one with results answers
    claim_id: str | None  # the paper's claim on the same question


QUESTIONS = (
    Question("Optimizer (with its learning rate)", ("optimizers_lr", "optimizers"),
             "dnn_best_optimizer"),
    Question("Weight initializer", ("initializers",), "dnn_best_initializer"),
    Question("Activation", ("activations",), "dnn_best_activation"),
    Question("Batch size", ("batch_size",), "dnn_batch_128"),
    Question("Epochs", ("epochs",), "dnn_best_epochs"),
    Question("Hidden layers (units per layer)", ("architecture",), None),
)
SHOWN_RUNNERS_UP = 3


def readable(level: str, study: str = "") -> str:
    """A level as a reader says it: ``nadam|0.001`` -> ``nadam (lr 0.001)``, architecture
    ``16-64`` -> ``16-64 (2 layers)``, batch size ``None`` -> ``Keras default (32)``."""
    if "|" in level:
        opt, lr = level.split("|", 1)
        return f"{opt} (lr {lr})"
    if study == "architecture":
        layers = level.count("-") + 1
        return f"{level} ({layers} layer{'s' if layers > 1 else ''})"
    if study == "batch_size" and level == "None":
        return "Keras default (32)"
    return level


def recommend(rs: ResultSet, study: str) -> dict | None:
    """Best level of ``study`` in ``rs``, its verdict, and each other level's gap to it."""
    scores = rs.get("derived/scores")
    if scores.empty or study not in set(scores["study"]):
        return None
    s = scores[scores["study"] == study]
    if rs.profile and (s["profile"] == rs.profile).any():
        s = s[s["profile"] == rs.profile]
    means = s.groupby(["factor", "level"])["accuracy"].mean()
    chooser = s.groupby(["factor", "level"])["val_accuracy"].mean() \
        if "val_accuracy" in s and s["val_accuracy"].notna().all() else means
    factor, best = chooser.idxmax()  # a growing search: the factor holding the overall best
    s = s[s["factor"] == factor]
    means = means.loc[factor].sort_values(ascending=False)
    others = [lvl for lvl in means.index if lvl != best]
    family = [compare(paired_samples(s, best, lvl)) for lvl in others]
    n = min((c.n for c in family), default=int(s["seed"].nunique()))
    result = outcomes(family) if family and n >= MIN_SEEDS else ["undecided"] * len(family)
    claim = Claim(f"best_{study}", "", f"The best is {best}.", "best_level", study,
                  {"level": best})
    verdict = best_level(claim, pd.DataFrame(), s, best) if others else None
    gaps = pd.DataFrame({"level": others, "gap": [c.mean for c in family],  # best − level
                         "gap_low": [c.ci_low for c in family],
                         "gap_high": [c.ci_high for c in family], "decision": result,
                         "accuracy": [means[lvl] for lvl in others]})
    return {"study": study, "factor": factor, "best": best, "best_accuracy": means[best],
            "n": n, "verdict": verdict, "gaps": gaps, "set": rs.name}


def _within_noise(gaps: pd.DataFrame, study: str) -> str:
    near = gaps[gaps["decision"] != "better"].sort_values("gap")  # "better": best beats it
    if near.empty:
        return "none: every other level is worse"
    names = [readable(lvl, study) + (" (tied)" if d == "equivalent" else "")
             for lvl, d in zip(near["level"], near["decision"], strict=True)]
    more = len(names) - SHOWN_RUNNERS_UP
    return ", ".join(names[:SHOWN_RUNNERS_UP]) + (f" +{more} more" if more > 0 else "")


def answers(sets: list[ResultSet]) -> list[tuple[Question, dict | None]]:
    out = []
    for q in QUESTIONS:
        rec = None
        for study in q.studies:
            rs = set_for(sets, study)
            rec = recommend(rs, study) if rs else None
            if rec:
                break
        out.append((q, rec))
    return out


def recommendation_table(found: list[tuple[Question, dict | None]],
                         claims: pd.DataFrame) -> pd.DataFrame:
    """One row per question (HTML cells are built here and escaped)."""
    by_claim = claims.set_index("claim_id") if not claims.empty else pd.DataFrame()
    rows = []
    for q, rec in found:
        row = {"question": esc(q.text)}
        if rec is None:
            row.update({"best choice": "no results yet", "verdict": "",
                        "within noise of the best": "", "best − next [95 % CI]": "",
                        "seeds": ""})
        else:
            v = rec["verdict"]
            effect = "" if v is None or pd.isna(v["effect"]) else (
                f"{v['effect'] * 100:+.2f} pp [{v['effect_ci_low'] * 100:+.2f}, "
                f"{v['effect_ci_high'] * 100:+.2f}]")
            link = f"studies/{rec['study']}.md"
            needs = "" if v is None or pd.isna(v["seeds_needed"]) else \
                f" ≈{int(v['seeds_needed'])} seeds would decide" \
                if v["seeds_needed"] < MAX_SEEDS_REPORTED else \
                f" more than {MAX_SEEDS_REPORTED} seeds would be needed"
            row.update({"best choice": f"[**{esc(readable(rec['best'], rec['study']))}**]"
                                       f"({link}) {rec['best_accuracy']:.1%}",
                        "verdict": (badge(v["verdict"]) + needs) if v else "",
                        "within noise of the best": esc(_within_noise(rec["gaps"],
                                                                      rec["study"])),
                        "best − next [95 % CI]": effect, "seeds": str(rec["n"])})
        paper = ""
        if q.claim_id and not by_claim.empty and q.claim_id in by_claim.index:
            c = by_claim.loc[q.claim_id]
            paper = f"{esc(c['claim'])} {badge(c['verdict'])}"
        row["the paper's claim"] = paper
        rows.append(row)
    rows.append({"question": "HPO library", "best choice": "[see the HPO page](hpo.md)",
                 "verdict": "", "within noise of the best": "", "best − next [95 % CI]": "",
                 "seeds": "", "the paper's claim": ""})
    return pd.DataFrame(rows)


def gap_frame(found: list[tuple[Question, dict | None]]) -> pd.DataFrame:
    """Every level's seed-paired gap to its question's best choice (for the chart)."""
    frames = []
    for q, rec in found:
        if rec is not None and not rec["gaps"].empty:
            gaps = rec["gaps"].assign(question=q.text, best=readable(rec["best"], rec["study"]))
            frames.append(gaps.assign(level=[readable(v, rec["study"]) for v in gaps["level"]]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def answers_section(w: SiteWriter, sets: list[ResultSet], claims: pd.DataFrame) -> str:
    """The recommendation table and its chart (the first screen of the home page)."""
    found = answers(sets)
    used = sorted({rec["set"] for _, rec in found if rec})
    context = "; ".join(rs.context() for rs in sets if rs.name in used) or "no results yet"
    text = [f"Best mean validation accuracy (chosen on the validation split; the test accuracy "
            f"shown); Fashion-MNIST MLPs; {context}.\n",
            md_table(recommendation_table(found, claims), html_cols=(
                "question", "best choice", "verdict", "within noise of the best",
                "best − next [95 % CI]", "seeds", "the paper's claim")),
            f"\n*Verdict*: is the best choice really better than every other level, by a "
            f"seed-paired t-test (Holm) and a margin of {MARGIN * 100:.1f} pp — the rules of "
            "[Claims](claims.md). *Within noise*: levels that test is unable to call worse "
            "(*tied*: shown equal within the margin). *best − next*: the best minus the "
            "closest level, per seed, in percentage points.\n"]
    gaps = gap_frame(found)
    if not gaps.empty:
        text.append("\nEach dot is one alternative's gap to the best choice (mean of the "
                    "per-seed differences; its 95 % CI in the tooltip); gaps beyond −5 pp are "
                    "drawn at the edge.\n")
        text.append(w.chart("index.md", "gaps", charts.gap_to_best(gaps)))
    return "\n".join(text)
