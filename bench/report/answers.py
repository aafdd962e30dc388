"""One table of answers: per practical question a study declares (``Study.question``), the
level chosen on the *validation* split at a stated epoch, tested on the *test* split against
every other level, paired by seed, with the source paper's margin (``decide``).

A study that trained longer than the epoch its paper reports (``report_epoch``) is answered
twice: at the paper's epoch and at the end of training, each row naming its epoch. Every
site page renders these rows as they are; nothing downstream chooses a "best" again.

``derived/answers``: one row per (question, study, epoch). ``derived/answer_gaps``: each
other level's per-seed gap to the choice, with the interval that matches the decision rule
(simultaneous over the family, Bonferroni), from which each decision is read: the choice is
*better* than a level when the interval lies above 0 and the mean gain reaches the margin,
*tied* with it when the interval lies inside ±margin.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd
from scipy import stats

from bench.report.claims import MIN_SEEDS, margin_for
from bench.report.paired import (
    ALPHA,
    MAX_SEEDS_REPORTED,
    Comparison,
    compare,
    planned_seeds,
)
from bench.report.stats import paired_samples
from bench.studies import REGISTRY, Study
from bench.studies.registry import PROFILES

#: what each decision says about the *other* level, against the choice
DECISIONS = {"better": "worse than the choice", "worse": "better than the choice on test",
             "equivalent": "tied within the margin", "undecided": "not decided"}


def answers(scored: pd.DataFrame, runs: pd.DataFrame, epochs: pd.DataFrame,
            claims: pd.DataFrame, extra: tuple[Study, ...] = ()) -> tuple[pd.DataFrame,
                                                                        pd.DataFrame]:
    """(answers, gaps) for every study with a ``question`` that has scores here, and for
    the ``extra`` studies (a study file's: "the best <title>")."""
    rows, gaps = [], []
    extra = tuple(replace(s, question=s.question or f"Best level: {s.title}") for s in extra)
    for study in (*REGISTRY, *extra):
        if not study.question or scored.empty or study.name not in set(scored["study"]):
            continue
        mine = scored[scored["study"] == study.name]
        profile = mine["profile"].value_counts().idxmax() if mine["profile"].notna().any() \
            else None
        if profile is not None:
            mine = mine[mine["profile"] == profile]
        for view, epoch, frame in _views(study, mine, runs, epochs, profile):
            answer, level_gaps = _answer(study, frame, view, epoch)
            if answer is None:
                continue
            answer.update(profile=profile, protocol=_protocol(profile),
                          claim_id=_claim_for(study, claims))
            rows.append(answer)
            gaps.append(level_gaps.assign(question=study.question, study=study.name,
                                          epoch=epoch, epoch_role=view))
    return (pd.DataFrame(rows),
            pd.concat(gaps, ignore_index=True) if gaps else pd.DataFrame())


def _protocol(profile: str | None) -> str | None:
    known = PROFILES.get(profile or "")
    return None if known is None else ("reduced" if known.reduced else "paper")


def _claim_for(study: Study, claims: pd.DataFrame) -> str | None:
    """The paper's claim on the same question: a best-level or no-gain claim of the study."""
    if claims.empty or "kind" not in claims:
        return None
    mine = claims[(claims["study"] == study.name)
                  & claims["kind"].isin(["best_level", "no_gain_past"])]
    return str(mine["claim_id"].iloc[0]) if not mine.empty else None


def _views(study: Study, scored: pd.DataFrame, runs: pd.DataFrame, epochs: pd.DataFrame,
           profile: str | None) -> list[tuple[str, int | None, pd.DataFrame]]:
    """(epoch role, epoch, scores at it): the study's reported epoch, and the end of training
    where it trained longer; a study whose factor is the epoch count has one view."""
    if study.curve:
        return [("per level", None, scored)]
    trained = _most(scored["epochs_trained"])
    if not study.report_epoch or trained is None:
        return [("end of training", trained, scored)]
    if trained != study.scored_epoch(PROFILES.get(profile or "") or PROFILES["paper"]):
        return [("end of training", trained, scored)]  # curves without the paper's epoch
    role = "the paper's epoch" if trained == study.report_epoch else \
        f"the paper's epoch {study.report_epoch}, scaled by the profile"
    views = [(role, trained, scored)]
    ran = runs[runs["run_id"].isin(scored["run_id"])]
    last = _most(ran["epochs"]) if "epochs" in ran else None
    if last is not None and last > trained:
        at_end = _at_epoch(scored, epochs, last)
        if not at_end.empty:
            views.append(("end of training", last, at_end))
    return views


def _most(values: pd.Series) -> int | None:
    """The largest epoch count in ``values`` (None when none is recorded)."""
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return int(numbers.max()) if len(numbers) else None


def _at_epoch(scored: pd.DataFrame, epochs: pd.DataFrame, epoch: int) -> pd.DataFrame:
    """``scored`` with test and validation accuracy read off the curves at ``epoch``."""
    at = epochs[(epochs["epoch"] == epoch) & (epochs["metric"] == "accuracy")
                & epochs["run_id"].isin(scored["run_id"])]
    wide = at.pivot_table(index="run_id", columns="split", values="value", aggfunc="first")
    if "test" not in wide or "val" not in wide:
        return pd.DataFrame()
    out = scored.drop(columns=["accuracy", "val_accuracy"]).merge(
        wide[["test", "val"]].rename(columns={"test": "accuracy", "val": "val_accuracy"}),
        left_on="run_id", right_index=True)
    return out.assign(epochs_trained=epoch)


def _answer(study: Study, s: pd.DataFrame, view: str,
            epoch: int | None) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    if s.empty or s["val_accuracy"].isna().all():
        return None, pd.DataFrame()
    chooser = s.groupby(["factor", "level"])["val_accuracy"].mean()
    factor, choice = chooser.idxmax()  # a growing search: the stage holding the overall best
    s = s[s["factor"] == factor]
    test = s.groupby("level")["accuracy"].mean()
    val = s.groupby("level")["val_accuracy"].mean()
    others = [lvl for lvl in test.sort_values(ascending=False).index if lvl != choice]
    margin = margin_for(study.source)
    family = [compare(paired_samples(s, choice, lvl), margin) for lvl in others]
    n = min((c.n for c in family), default=int(s["seed"].nunique()))
    decided = [decide(c, len(family)) if n >= MIN_SEEDS else "undecided" for c in family]
    gaps = _gaps(others, family, decided, test, val)
    row: dict[str, Any] = {
        "question": study.question, "study": study.name, "variant_of": study.variant_of,
        "factor": factor, "epoch": epoch, "epoch_role": view, "chosen_on": "validation",
        "reported_on": "test", "choice": choice, "choice_val_accuracy": float(val[choice]),
        "choice_test_accuracy": float(test[choice]), "n": n, "margin": margin,
        "effect_unit": "accuracy, test set (fraction)", "incomplete": _incomplete(study, s),
        **_verdict(others, family, decided, n)}
    return row, gaps


def _incomplete(study: Study, s: pd.DataFrame) -> str | None:
    """Why the answer rests on part of the study (levels not measured, or seeds missing at
    some levels), or None."""
    per_level = s.groupby("level")["seed"].nunique()
    declared = len(study.grid()) - len(study.aliases) \
        if study.factors and not study.stages and not study.curve else None
    parts = []
    if declared is not None and len(per_level) < declared:
        parts.append(f"{len(per_level)} of {declared} levels measured")
    if len(per_level) and per_level.min() < per_level.max():
        parts.append(f"{per_level.min()}–{per_level.max()} seeds per level")
    return "; ".join(parts) or None


def decide(c: Comparison, family: int) -> str:
    """One comparison of the choice with another level, read off the interval the site
    shows (``simultaneous_ci``): ``better`` (choice better: the interval above 0 and a mean
    gain of at least the margin), ``worse`` (the mirror), ``equivalent`` (the interval inside
    ±margin) or ``undecided``."""
    low, high = simultaneous_ci(c, family)
    if not (math.isfinite(low) and math.isfinite(high)):
        return "undecided"
    if low > 0 and c.mean >= c.margin:
        return "better"
    if high < 0 and c.mean <= -c.margin:
        return "worse"
    if -c.margin < low and high < c.margin:
        return "equivalent"
    return "undecided"


def simultaneous_ci(c: Comparison, family: int, confidence: float = 1 - ALPHA) -> tuple[
        float, float]:
    """The t-interval of ``c``'s mean at ``confidence`` Bonferroni-adjusted over ``family``
    comparisons (simultaneous: all ``family`` intervals cover their truths with probability
    at least ``confidence``); ``decide`` reads every decision off it."""
    if c.n < 2 or not math.isfinite(c.sd):
        return math.nan, math.nan
    level = 1 - (1 - confidence) / max(1, family)
    half = float(stats.t.ppf(0.5 + level / 2, c.n - 1)) * c.sd / math.sqrt(c.n)
    return c.mean - half, c.mean + half


def _gaps(others: list[str], family: list[Comparison], decided: list[str], test: pd.Series,
          val: pd.Series) -> pd.DataFrame:
    cis = [simultaneous_ci(c, len(family)) for c in family]
    return pd.DataFrame({
        "level": others, "gap": [c.mean for c in family],  # choice − level, per seed
        "gap_ci_low": [ci[0] for ci in cis], "gap_ci_high": [ci[1] for ci in cis],
        "n": [c.n for c in family], "decision": decided,
        "meaning": [DECISIONS[d] for d in decided],
        "test_accuracy": [float(test[lvl]) for lvl in others],
        "val_accuracy": [float(val[lvl]) for lvl in others]})


def _verdict(others: list[str], family: list[Comparison], decided: list[str],
             n: int) -> dict[str, Any]:
    """``better`` (beats every other level by the margin), ``tied`` (better than or tied
    with each), ``beaten on test`` (another level is better on test: validation chose
    otherwise), ``undecided``; the closest other level with its simultaneous CI."""
    if not family:
        return {"verdict": "only one level", "runner_up": None, "effect": None,
                "ci_low": None, "ci_high": None, "comparator": None, "tied_with": None,
                "seeds_needed": None, "why": "nothing to compare"}
    closest = min(range(len(family)), key=lambda i: family[i].mean)
    low, high = simultaneous_ci(family[closest], len(family))
    tied = [o for o, d in zip(others, decided, strict=True) if d == "equivalent"]
    open_ = [c for c, d in zip(family, decided, strict=True) if d == "undecided"]
    needs = max((planned_seeds(c, len(family)) or MAX_SEEDS_REPORTED for c in open_),
                default=None)
    if "worse" in decided:
        verdict, why = "beaten on test", "another level is better on the test set"
    elif all(d == "better" for d in decided):
        verdict, why = "better", "better than every other level by at least the margin"
    elif not open_:
        verdict, why = "tied", "better than or tied within the margin with every other level"
    elif n < MIN_SEEDS:
        verdict, why = "undecided", f"fewer than {MIN_SEEDS} paired seeds"
    else:
        below = all(abs(c.mean) < c.margin for c in open_)
        verdict = "undecided"
        why = (f"{len(open_)} comparison(s) neither shown different nor shown tied"
               + ("; their gaps are below the margin, not yet shown within it" if below
                  else "") + (f"; about {needs} seeds would decide them (planned from the "
                              "SD)" if needs < MAX_SEEDS_REPORTED else
                              f"; more than {MAX_SEEDS_REPORTED} seeds"))
    return {"verdict": verdict, "runner_up": others[closest], "effect": family[closest].mean,
            "ci_low": low, "ci_high": high, "comparator": f"{others[closest]}, per seed",
            "tied_with": ", ".join(tied) or None, "why": why, "seeds_needed": needs}
