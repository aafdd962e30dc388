"""The papers' claims, declared as data, and verdicts computed from a result set.

Verdicts (rules in ``bench.report.paired`` and docs/studies.md): ``confirmed``, ``not
confirmed``, ``tied`` (a "best" level tied within the margin), ``undecidable`` (the seeds
available cannot decide; the row says how many would) or ``inconclusive`` (no data), each
with its n, effect size and CI, and its evidence in words and numbers. A verdict from a
reduced profile says so in its evidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from bench.report.paired import (
    ALPHA,
    MARGIN,
    MAX_SEEDS_REPORTED,
    Comparison,
    accuracy_margin,
    compare,
    holm,
    outcomes,
    planned_seeds,
    sd_upper,
    seeds_needed,
)
from bench.report.stats import paired_samples
from bench.studies.registry import OVERFIT_MIN_EPOCHS

MIN_SEEDS = 3  # fewer paired seeds than this never decide a claim (t-tests lean on normality)
OVERFIT_MARGIN = 0.05  # a validation-loss rise below 5 % over the second half is no overfit


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    text: str
    kind: str  # best_level | no_gain_past | rank_stable | overfits
    study: str
    params: dict[str, Any] = field(default_factory=dict)
    tested_as: str = ""  # what the test measures, in words, where the claim's own are loose

    @property
    def margin(self) -> float:
        """The accuracy margin of the claim's source paper (``margin_for``)."""
        return margin_for(self.source)


@cache
def margin_for(source: str) -> float:
    """``paired.accuracy_margin`` at the best accuracy ``source`` reports on its test set
    (MARGIN for a source that reports none, e.g. a study file's own)."""
    from bench.report.paper import paper_results

    paper = paper_results()
    rows = paper[(paper["source"] == source) & paper["metric"].str.contains("accuracy")
                 & ~paper["metric"].str.startswith("train_")]
    values = [v / 100 if m.endswith("_pct") else v
              for v, m in zip(rows["value"], rows["metric"], strict=True)]
    return accuracy_margin(max(values)) if values else MARGIN


#: what each kind of claim is tested as, in words (a declaration may add a ``note``)
TESTED_AS = {
    "best_level": "the claimed level against every other, test accuracy at the study's "
                  "reported epoch, paired by seed, Holm, with the margin",
    "no_gain_past": "each smaller level's gain over the reference shown below the margin "
                    "(one-sided, Holm), test accuracy, paired by seed",
    "rank_stable": "in each study, the level with the best validation accuracy at the early "
                   "epoch is shown not to lose the margin against any other level in test "
                   "accuracy at the late epoch, paired by seed (one-sided non-inferiority "
                   "against every level: an intersection-union test)",
    "overfits": "the per-seed relative change of the validation loss over the second half of "
                f"training (a least-squares line through it), at least {OVERFIT_MARGIN:.0%}",
}


def declared_claims() -> tuple[Claim, ...]:
    """The papers' claims, as their studies declare them (``Study.claims`` in the catalogue:
    id, kind, text, level, ...), in declaration order."""
    from bench.studies import REGISTRY

    out = []
    for study in REGISTRY:
        for c in study.claims:
            if c["kind"] not in TESTED_AS:
                continue  # an HPO study's claims: judged from searches by ``report.hpo``
            params = {k: v for k, v in c.items() if k not in ("id", "kind", "text", "note")}
            names = c.get("studies", [study.name])
            tested = TESTED_AS[c["kind"]] + (f"; {c['note']}" if c.get("note") else "")
            out.append(Claim(c["id"], study.source, c["text"], c["kind"], "+".join(names),
                             params, tested_as=tested))
    return tuple(out)


CLAIMS = declared_claims()


#: what a claim kind's effect measures (its unit) and against what (its comparator)
EFFECT_UNITS = {
    "best_level": ("accuracy, test set (fraction)", "the claimed level minus the closest other "
                   "level, per seed"),
    "no_gain_past": ("accuracy, test set (fraction)", "the smaller batch gaining most minus the "
                     "reference batch, per seed"),
    "rank_stable": ("accuracy, test set at the late epoch (fraction)", "the early winner minus "
                    "the level it trails most, per seed"),
    "overfits": ("relative change of the validation loss", "last epoch against mid-training "
                 "(second-half line), per seed"),
}


def _verdict(claim: Claim, verdict: str, evidence: str, n: int | None = None,
             needs: int | None = None, effect: float | None = None,
             effect_ci: tuple[float, float] | None = None, planned: int | None = None,
             **numbers: Any) -> dict[str, Any]:
    unit, comparator = EFFECT_UNITS.get(claim.kind, (None, None))
    return {"claim_id": claim.id, "kind": claim.kind, "source": claim.source,
            "claim": claim.text,
            "tested_as": claim.tested_as or None, "effect_unit": unit,
            "comparator": comparator,
            "margin": OVERFIT_MARGIN if claim.kind == "overfits" else claim.margin,
            "study": claim.study, "verdict": verdict, "evidence": evidence, "n": n,
            "seeds_needed": needs, "seeds_planned": planned, "effect": effect,
            "effect_ci_low": effect_ci[0] if effect_ci else None,
            "effect_ci_high": effect_ci[1] if effect_ci else None,
            "numbers": str({k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in numbers.items()})}


def _study_scores(scored: pd.DataFrame, study: str) -> pd.DataFrame:
    s = scored[scored["study"] == study]
    return s[s["factor"] == s["factor"].mode().iloc[0]] if not s.empty else s


def _fmt(c: Comparison) -> str:
    return f"{c.mean:+.4f} [{c.ci_low:+.4f}, {c.ci_high:+.4f}]"


def _plan(family: list[Comparison]) -> int | None:
    """The top-up's fixed n for a claim: from the median pilot SD of its whole family's
    differences (never from which comparisons happened to be decided, nor from their means),
    raised to its upper confidence bound (``paired.sd_upper``: a pilot of 5 seeds
    underestimates the SD half the time), at least MIN_SEEDS. The median, because a level
    that fails outright (a diverging initializer) has a huge SD but is decided by its size
    at any n."""
    sds = [c.sd for c in family if c.n >= 2 and math.isfinite(c.sd)]
    if not sds:
        return None
    n = max(c.n for c in family)
    typical = replace(family[0], n=n, sd=sd_upper(float(np.median(sds)), n))
    planned = planned_seeds(typical, len(family))
    return max(planned, MIN_SEEDS) if planned is not None else None


def _undecided(claim: Claim, desc: str, family: list[Comparison], n: int,
               one_sided: str | None = None, **effect: Any) -> dict[str, Any]:
    """Undecidable with the seeds there are; ``one_sided``: only one equivalence bound is
    sought, ``upper`` "gains less than the margin" (no-gain claims: the effect to detect is
    the margin minus the mean) or ``lower`` "loses less than the margin" (margin plus mean)."""
    bound = {"upper": lambda c: c.margin - c.mean, "lower": lambda c: c.margin + c.mean}
    needs = max((seeds_needed(c, len(family), bound[one_sided](c)
                              if one_sided and bound[one_sided](c) > 0 else None)
                 or MAX_SEEDS_REPORTED for c in family), default=None)
    planned = effect.pop("planned", None)
    if n < MIN_SEEDS:
        return _verdict(claim, "undecidable", desc + f"; {n} seed(s): a verdict needs at "
                        f"least {MIN_SEEDS} paired seeds", n=n, needs=max(needs or 0, MIN_SEEDS),
                        planned=max(planned or 0, MIN_SEEDS), **effect)
    if all(abs(c.mean) < c.margin for c in family):
        return _verdict(claim, "undecidable", desc + f"; the open gaps are below the margin "
                        f"but not yet shown within it (TOST) with {n} seeds (needs "
                        f"≈{needs})", n=n, needs=needs, planned=planned, **effect)
    return _verdict(claim, "undecidable", desc + f"; undecidable with {n} seeds (needs "
                    f"≈{needs})", n=n, needs=needs, planned=planned, **effect)


def best_level(claim: Claim, levels: pd.DataFrame, scored: pd.DataFrame,
                want: str) -> dict[str, Any]:
    """Y is best: Y beats every other level (paired by seed, Holm, by at least MARGIN)."""
    s = _study_scores(scored, claim.study)
    if s.empty:
        return _verdict(claim, "inconclusive", "no results for this study yet")
    if want not in set(s["level"]):
        return _verdict(claim, "inconclusive", f"level {want} was not measured")
    means = s.groupby("level")["accuracy"].mean().sort_values(ascending=False)
    others = [lvl for lvl in means.index if lvl != want]
    if not others:
        return _verdict(claim, "inconclusive", f"only {want} was measured: nothing to compare")
    margin = claim.margin
    family = [compare(paired_samples(s, want, lvl), margin) for lvl in others]
    n = min((c.n for c in family), default=0)
    plan = _plan(family)
    result = outcomes(family) if n >= MIN_SEEDS else ["undecided"] * len(family)
    top = means.index[0]
    epochs = pd.to_numeric(s["epochs_trained"], errors="coerce").dropna() \
        if "epochs_trained" in s else pd.Series(dtype=float)
    at = f" at epoch {int(epochs.max())}" if len(epochs) and epochs.nunique() == 1 else ""
    desc = (f"test accuracy{at}: {want} {means[want]:.4f} (rank "
            f"{list(means.index).index(want) + 1}/{len(means)} by test mean); highest test "
            f"mean {top}: {means[top]:.4f} (the site's choice is made on validation)")
    closest = min(range(len(family)), key=lambda i: family[i].mean) if family else None
    effect = (family[closest].mean, (family[closest].ci_low, family[closest].ci_high)) \
        if closest is not None else (None, None)
    if "worse" in result:
        beaters = [o for o, r in zip(others, result, strict=True) if r == "worse"]
        c = family[others.index(beaters[0])]
        return _verdict(claim, "not confirmed", desc + f"; {beaters[0]} beats it by "
                        f"{-c.mean:.4f} per seed (Holm p<{ALPHA}, margin {margin})", n=n,
                        planned=plan, effect=c.mean, effect_ci=(c.ci_low, c.ci_high))
    if all(r == "better" for r in result):
        return _verdict(claim, "confirmed", desc + f"; beats every other level by ≥{margin} "
                        f"(closest {others[closest]}: {_fmt(family[closest])})", n=n, planned=plan,
                        effect=effect[0], effect_ci=effect[1])
    if all(r in ("better", "equivalent") for r in result):
        tied = [o for o, r in zip(others, result, strict=True) if r == "equivalent"]
        return _verdict(claim, "tied", desc + f"; best, tied within ±{margin} with "
                        f"{', '.join(tied)}", n=n, planned=plan, effect=effect[0],
                        effect_ci=effect[1])
    open_ = [f"{o}: {_fmt(c)}" for o, c, r in zip(others, family, result, strict=True)
             if r == "undecided"][:3]
    return _undecided(claim, desc + "; differences per seed " + "; ".join(open_),
                      [c for c, r in zip(family, result, strict=True) if r == "undecided"], n,
                      planned=plan, effect=effect[0], effect_ci=effect[1])


def no_gain_past(claim: Claim, levels: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """No smaller level gains MARGIN or more over the reference (one-sided equivalence bound
    per level, Holm); refuted when one gains significantly by at least MARGIN."""
    s = _study_scores(scored, claim.study)
    ref = claim.params["level"]
    if s.empty or ref not in set(s["level"]):
        return _verdict(claim, "inconclusive", "no results for this study yet")
    smaller = [lvl for lvl in claim.params["smaller"] if lvl in set(s["level"])]
    margin = claim.margin
    family = [compare(paired_samples(s, lvl, ref), margin) for lvl in smaller]
    n = min((c.n for c in family), default=0)
    plan = _plan(family)
    desc = "; ".join(f"batch {lvl} − {ref}: {_fmt(c)}" for lvl, c in zip(smaller, family,
                                                                          strict=True))
    if n < MIN_SEEDS:
        return _undecided(claim, desc, family, n, planned=plan)
    result = outcomes(family)
    no_gain = holm([c.p_not_greater for c in family])
    top = max(range(len(family)), key=lambda i: family[i].mean)
    effect = dict(effect=family[top].mean, effect_ci=(family[top].ci_low, family[top].ci_high))
    if "better" in result:
        return _verdict(claim, "not confirmed", desc + f"; a smaller batch gains ≥{margin} "
                        f"(Holm p<{ALPHA})", n=n, planned=plan, **effect)
    if all(p < ALPHA for p in no_gain):
        return _verdict(claim, "confirmed", desc + f"; every smaller batch's gain is below "
                        f"{margin} (one-sided equivalence test, Holm p<{ALPHA})", n=n,
                        planned=plan, **effect)
    return _undecided(claim, desc, [c for c, p in zip(family, no_gain, strict=True)
                                    if p >= ALPHA], n, one_sided="upper", planned=plan,
                      **effect)


def _stays_best(claim: Claim, val: pd.DataFrame, test: pd.DataFrame,
                profile: Any) -> dict[str, Any]:
    """"Chosen at 5 epochs stays the best at 20": per study, the level with the best mean
    validation accuracy at the early epoch is compared, in *test* accuracy at the late
    epoch and paired by seed, with every other level (no late "best" is picked: a pick on
    noisy data would often be the early winner itself and make the test vacuous).
    Confirmed when it is shown not to lose the margin against any level of any study (an
    intersection-union test: each one-sided at ALPHA, no correction needed); not confirmed
    when some level beats it by at least the margin (Holm over every comparison); else
    undecidable."""
    early, late = profile.epochs(claim.params["early"]), profile.epochs(claim.params["late"])
    margin = claim.margin
    parts, comps = [], []
    for study in claim.params["studies"]:
        v, t = val[val["study"] == study], test[test["study"] == study]
        if v.empty or t.empty:
            continue
        e_late = min(late, int(v["epoch"].max()))
        e_early = min(early, e_late)
        at_early = v[v["epoch"] == e_early].groupby("level")["value"].mean().dropna()
        at_late = t[t["epoch"] == e_late].pivot_table(index="seed", columns="level",
                                                      values="value", aggfunc="mean")
        if e_early == e_late or at_early.empty or at_early.idxmax() not in at_late:
            continue
        winner = at_early.idxmax()
        mine = [(lvl, compare((at_late[winner] - at_late[lvl]).dropna().to_numpy(float),
                              margin)) for lvl in at_late.columns if lvl != winner]
        mine = [(lvl, c) for lvl, c in mine if c.n >= 1]
        if not mine:
            continue
        comps += [c for _, c in mine]
        lvl, worst = min(mine, key=lambda item: item[1].mean)
        parts.append(f"{study}: best on validation at {e_early} epochs {winner}; at {e_late} "
                     f"on test, against {lvl} (its closest rival) {_fmt(worst)}")
    if not comps:
        return _verdict(claim, "inconclusive", "needs validation and test curves of at least "
                        "2 epoch counts")
    n = min(c.n for c in comps)
    worst = min(comps, key=lambda c: c.mean)
    effect = dict(effect=worst.mean, effect_ci=(worst.ci_low, worst.ci_high))
    desc = "; ".join(parts) + " (early winner − level, test accuracy at the late epoch)"
    if n < MIN_SEEDS:
        return _undecided(claim, desc, comps, n, **effect)
    if "worse" in outcomes(comps):
        return _verdict(claim, "not confirmed", desc + f"; a level beats the early winner by "
                        f"≥{margin} at the late epoch (Holm p<{ALPHA})", n=n, **effect)
    open_ = [c for c in comps if c.p_not_less >= ALPHA]
    if not open_:
        return _verdict(claim, "confirmed", desc + f"; in every study the early winner is "
                        f"shown within {margin} of every level at the late epoch (one-sided "
                        f"p<{ALPHA} each)", n=n, **effect)
    return _undecided(claim, desc, open_, n, one_sided="lower", **effect)


def overfits(claim: Claim, curves_loss: pd.DataFrame) -> dict[str, Any]:
    """Validation loss rises: the per-seed relative rise of the validation loss from the
    middle epoch to the last (a least-squares line through the second half), tested with
    a one-sided t-test against 0 and reported with its CI; a rise below OVERFIT_MARGIN
    shown by the one-sided bound refutes it. More seeds make this easier, not harder."""
    c = curves_loss[(curves_loss["study"] == claim.study)
                    & (curves_loss["level"] == claim.params["level"])]
    if c.empty:
        return _verdict(claim, "inconclusive", "no results for this level yet")
    rises = []
    for _, run in c.groupby("run_id"):
        run = run.sort_values("epoch")
        e, v = run["epoch"].to_numpy(float), run["value"].to_numpy(float)
        if len(v) < OVERFIT_MIN_EPOCHS or not np.all(np.isfinite(v)):
            continue
        half = len(v) // 2
        slope, intercept = np.polyfit(e[half:], v[half:], 1)
        start = slope * e[half] + intercept
        rises.append(float(slope * (e[-1] - e[half]) / start))
    if not rises:
        return _verdict(claim, "inconclusive",
                        f"curves too short (fewer than {OVERFIT_MIN_EPOCHS} epochs)")
    comp = compare(np.array(rises), margin=OVERFIT_MARGIN)
    n = comp.n
    desc = (f"validation loss over the second half of training: {comp.mean:+.1%} per seed "
            f"[{comp.ci_low:+.1%}, {comp.ci_high:+.1%}], n={n}")
    effect = dict(effect=comp.mean, effect_ci=(comp.ci_low, comp.ci_high))
    plan = _plan([comp])
    kw = dict(n=n, planned=plan, **effect)
    if n < MIN_SEEDS:
        return _undecided(claim, desc, [comp], n, planned=plan, **effect)
    if comp.p_greater < ALPHA and comp.mean >= OVERFIT_MARGIN:
        return _verdict(claim, "confirmed", desc + f"; rises by ≥{OVERFIT_MARGIN:.0%} "
                        f"(one-sided p={comp.p_greater:.3g})", **kw)
    if comp.p_not_greater < ALPHA:
        return _verdict(claim, "not confirmed", desc + f"; any rise is below "
                        f"{OVERFIT_MARGIN:.0%} (one-sided p={comp.p_not_greater:.3g})", **kw)
    return _undecided(claim, desc, [comp], n, planned=plan, **effect)


def user_claims(definitions: dict[str, dict[str, Any]]) -> list[Claim]:
    """The claims study files state (``claims: [{kind: best_level, level: adam}]``), as
    ``Claim`` rows judged by the same rules as the papers' claims."""
    from bench.studies.config_file import study_from_definition

    out = []
    for name, raw in definitions.items():
        try:
            study = study_from_definition(raw)
        except ValueError:
            continue  # a manifest edited by hand: its claims cannot be read
        for i, c in enumerate(study.claims):
            text = c["text"] or {
                "best_level": f"The best level is {c['level']}.",
                "overfits": f"{c['level']} overfits (validation loss rises).",
                "no_gain_past": f"Levels {', '.join(c.get('smaller', []))} gain nothing over "
                                f"{c['level']}.",
            }[c["kind"]]
            params = {"level": c["level"], "smaller": c.get("smaller", [])}
            out.append(Claim(f"{name}_{i + 1}", study.source, text, c["kind"], name, params,
                             tested_as=TESTED_AS[c["kind"]]))
    return out


def verdicts(levels: pd.DataFrame, scored: pd.DataFrame, runs: pd.DataFrame,
             epochs: pd.DataFrame, extra: list[Claim] | tuple[Claim, ...] = ()) -> pd.DataFrame:
    """One row per claim (the papers' and ``extra``) with its verdict and evidence.

    Claims are judged on the profile with the most runs in the result set (a set normally
    holds one profile); epoch counts in claims are scaled by that profile.
    """
    from bench.studies.registry import PROFILES

    if "profile" in runs and runs["profile"].notna().any():
        main = runs["profile"].value_counts().idxmax()
        runs = runs[runs["profile"] == main]
        scored = scored[scored["profile"] == main]
        levels = levels[levels["profile"] == main]
    else:
        main = "paper"
    profile = PROFILES.get(main, PROFILES["paper"])
    curves = epochs[epochs["split"].isin(["val", "test"])].merge(
        runs[["run_id", "study", "level", "seed", "status"]], on="run_id")
    curves = curves[curves["status"] == "ok"]
    val = curves[curves["split"] == "val"]
    acc = val[val["metric"] == "accuracy"]
    loss = val[val["metric"] == "loss"]
    test_acc = curves[(curves["split"] == "test") & (curves["metric"] == "accuracy")]
    rows = []
    for claim in (*CLAIMS, *extra):
        if claim.kind == "best_level":
            rows.append(best_level(claim, levels, scored, _trained_level(claim, profile)))
        elif claim.kind == "no_gain_past":
            rows.append(no_gain_past(claim, levels, scored))
        elif claim.kind == "rank_stable":
            rows.append(_stays_best(claim, acc, test_acc, profile))
        elif claim.kind == "overfits":
            rows.append(overfits(claim, loss))
    for row in rows:
        row["profile"] = main
        row["protocol"] = "reduced" if profile.reduced else "paper"
        if profile.reduced and row["verdict"] != "inconclusive":
            row["evidence"] += (f" — reduced protocol '{main}' ({profile.summary()}), "
                                "not the paper's")
    return pd.DataFrame(rows)


def _trained_level(claim: Claim, profile: Any) -> str:
    """The claim's level as trained: a study whose levels are epoch counts (``curve``) trains
    the epochs study's "20" as 8 under quick."""
    from bench.studies import REGISTRY

    level = claim.params["level"]
    study = REGISTRY.get(claim.study) if claim.study in REGISTRY.names() else None
    if study is not None and study.curve:  # its levels are epoch counts, scaled by a profile
        return str(study.scaled(profile).epochs(int(level)))
    return level
