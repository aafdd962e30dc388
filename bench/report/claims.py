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
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from bench.report.paired import (
    ALPHA,
    MARGIN,
    MAX_SEEDS_REPORTED,
    Comparison,
    compare,
    holm,
    outcomes,
    planned_seeds,
    seeds_needed,
)
from bench.report.stats import paired_samples

MIN_SEEDS = 3  # fewer paired seeds than this never decide a claim (t-tests lean on normality)
OVERFIT_MARGIN = 0.05  # a validation-loss rise below 5 % over the second half is no overfit
OVERFIT_MIN_EPOCHS = 4  # a shorter curve has no second half to fit a line through


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    text: str
    kind: str  # best_level | no_gain_past | rank_stable | overfits
    study: str
    params: dict[str, Any] = field(default_factory=dict)


CLAIMS = (
    Claim("dnn_best_initializer", "fmnist_dnn_hparams", "The best weight initializer is he_normal.",
          "best_level", "initializers", {"level": "he_normal"}),
    Claim("dnn_best_activation", "fmnist_dnn_hparams", "The best activation is selu.",
          "best_level", "activations", {"level": "selu"}),
    Claim("dnn_best_optimizer", "fmnist_dnn_hparams", "The best optimizer is adamax.",
          "best_level", "optimizers", {"level": "adamax"}),
    Claim("dnn_batch_128", "fmnist_dnn_hparams", "Batches smaller than 128 bring no gain.",
          "no_gain_past", "batch_size", {"level": "128", "smaller": ["64", "32", "16"]}),
    Claim("dnn_best_epochs", "fmnist_dnn_hparams", "20 epochs give the best accuracy.",
          "best_level", "epochs", {"level": "20"}),
    Claim("dnn_twig", "fmnist_dnn_hparams",
          "Hyper-parameters chosen at 5 epochs stay the best at 20 epochs.",
          "rank_stable", "initializers+activations+optimizers",
          {"early": 5, "late": 20, "studies": ["initializers", "activations", "optimizers"]}),
    Claim("mlp_rmsprop_overfits", "fmnist_mlp_optimizers",
          "RMSprop overfits by 30 epochs (validation loss rises).", "overfits", "optimizers_mlp",
          {"level": "rmsprop"}),
    Claim("mlp_adam_overfits", "fmnist_mlp_optimizers",
          "Adam overfits by 30 epochs (validation loss rises).", "overfits", "optimizers_mlp",
          {"level": "adam"}),
    Claim("keras_model1_overfits", "mnist_keras_models",
          "Model_1 overfits (validation loss rises from epoch 1 to 30).", "overfits",
          "keras_models", {"level": "model_1"}),
)


def _verdict(claim: Claim, verdict: str, evidence: str, n: int | None = None,
             needs: int | None = None, effect: float | None = None,
             effect_ci: tuple[float, float] | None = None, planned: int | None = None,
             **numbers: Any) -> dict[str, Any]:
    return {"claim_id": claim.id, "source": claim.source, "claim": claim.text,
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
    at least MIN_SEEDS. The median, because a level that fails outright (a diverging
    initializer) has a huge SD but is decided by its size at any n."""
    sds = [c.sd for c in family if c.n >= 2 and math.isfinite(c.sd)]
    if not sds:
        return None
    typical = replace(family[0], n=max(c.n for c in family), sd=float(np.median(sds)))
    planned = planned_seeds(typical, len(family))
    return max(planned, MIN_SEEDS) if planned is not None else None


def _undecided(claim: Claim, desc: str, family: list[Comparison], n: int,
               one_sided: bool = False, **effect: Any) -> dict[str, Any]:
    """Undecidable with the seeds there are; ``one_sided``: only the bound "below the margin"
    is sought (no-gain claims), so the effect is the margin minus the mean."""
    needs = max((seeds_needed(c, len(family), c.margin - c.mean if one_sided else None)
                 or MAX_SEEDS_REPORTED for c in family), default=None)
    planned = effect.pop("planned", None)
    if n < MIN_SEEDS:
        return _verdict(claim, "undecidable", desc + f"; {n} seed(s): a verdict needs at "
                        f"least {MIN_SEEDS} paired seeds", n=n, needs=max(needs or 0, MIN_SEEDS),
                        planned=max(planned or 0, MIN_SEEDS), **effect)
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
    family = [compare(paired_samples(s, want, lvl)) for lvl in others]
    n = min((c.n for c in family), default=0)
    plan = _plan(family)
    result = outcomes(family) if n >= MIN_SEEDS else ["undecided"] * len(family)
    top = means.index[0]
    desc = (f"{want}: {means[want]:.4f} (rank {list(means.index).index(want) + 1}/"
            f"{len(means)}); best {top}: {means[top]:.4f}")
    closest = min(range(len(family)), key=lambda i: family[i].mean) if family else None
    effect = (family[closest].mean, (family[closest].ci_low, family[closest].ci_high)) \
        if closest is not None else (None, None)
    if "worse" in result:
        beaters = [o for o, r in zip(others, result, strict=True) if r == "worse"]
        c = family[others.index(beaters[0])]
        return _verdict(claim, "not confirmed", desc + f"; {beaters[0]} beats it by "
                        f"{-c.mean:.4f} per seed (Holm p<{ALPHA}, margin {MARGIN})", n=n,
                        planned=plan, effect=c.mean, effect_ci=(c.ci_low, c.ci_high))
    if all(r == "better" for r in result):
        return _verdict(claim, "confirmed", desc + f"; beats every other level by ≥{MARGIN} "
                        f"(closest {others[closest]}: {_fmt(family[closest])})", n=n, planned=plan,
                        effect=effect[0], effect_ci=effect[1])
    if all(r in ("better", "equivalent") for r in result):
        tied = [o for o, r in zip(others, result, strict=True) if r == "equivalent"]
        return _verdict(claim, "tied", desc + f"; best, tied within ±{MARGIN} with "
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
    family = [compare(paired_samples(s, lvl, ref)) for lvl in smaller]
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
        return _verdict(claim, "not confirmed", desc + f"; a smaller batch gains ≥{MARGIN} "
                        f"(Holm p<{ALPHA})", n=n, planned=plan, **effect)
    if all(p < ALPHA for p in no_gain):
        return _verdict(claim, "confirmed", desc + f"; every smaller batch's gain is below "
                        f"{MARGIN} (one-sided equivalence test, Holm p<{ALPHA})", n=n,
                        planned=plan, **effect)
    return _undecided(claim, desc, [c for c, p in zip(family, no_gain, strict=True)
                                    if p >= ALPHA], n, one_sided=True, planned=plan,
                      **effect)


def _spearman_ci(x: np.ndarray, y: np.ndarray,
                 rng: np.random.Generator) -> tuple[float, float, float]:
    rho = float(stats.spearmanr(x, y).statistic)
    boots = []
    for _ in range(1000):
        idx = rng.integers(0, len(x), len(x))
        if len(set(idx)) > 2:
            r = stats.spearmanr(x[idx], y[idx]).statistic
            if np.isfinite(r):
                boots.append(r)
    if not boots:
        return rho, np.nan, np.nan
    return rho, float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def _rank_stable(claim: Claim, curves: pd.DataFrame, profile: Any) -> dict[str, Any]:
    early, late = profile.epochs(claim.params["early"]), profile.epochs(claim.params["late"])
    parts, xs, ys, kept, seeds = [], [], [], 0, []
    for study in claim.params["studies"]:
        c = curves[curves["study"] == study]
        if c.empty:
            continue
        top_e = c[c["epoch"] == c["epoch"].max()]["epoch"].max()
        e_late = min(late, int(top_e))
        e_early = min(early, e_late)
        if e_early == e_late:
            continue
        a = c[c["epoch"] == e_early].groupby("level")["value"].mean()
        b = c[c["epoch"] == e_late].groupby("level")["value"].mean()
        common = a.index.intersection(b.index)
        if len(common) < 3:
            continue
        kept += 1
        seeds.append(int(c[c["epoch"] == e_late].groupby("level")["run_id"].nunique().min()))
        xs += list(a[common].rank())
        ys += list(b[common].rank())
        same = a[common].idxmax() == b[common].idxmax()
        parts.append(f"{study}: best at {e_early} epochs {a[common].idxmax()}, at {e_late} "
                     f"{b[common].idxmax()}{' (same)' if same else ''}")
    if not kept:
        return _verdict(claim, "inconclusive", "needs curves of at least 2 epoch counts")
    rho, low, high = _spearman_ci(np.array(xs), np.array(ys), np.random.default_rng(0))
    desc = "; ".join(parts) + f"; Spearman rho of the level ranks {rho:.2f} [{low:.2f}, {high:.2f}]"
    verdict = ("confirmed" if np.isfinite(low) and low > 0.5 else
               "not confirmed" if np.isfinite(high) and high < 0.5 else "undecidable")
    # n: the fewest seeds behind a level's mean; the effect is rho with its bootstrap CI
    return _verdict(claim, verdict, desc, n=min(seeds), effect=rho, effect_ci=(low, high),
                    rho=rho, low=low, high=high)


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
            out.append(Claim(f"{name}_{i + 1}", study.source, text, c["kind"], name, params))
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
    val = epochs[epochs["split"] == "val"].merge(
        runs[["run_id", "study", "level", "status"]], on="run_id")
    val = val[val["status"] == "ok"]
    acc = val[val["metric"] == "accuracy"]
    loss = val[val["metric"] == "loss"]
    rows = []
    for claim in (*CLAIMS, *extra):
        if claim.kind == "best_level":
            rows.append(best_level(claim, levels, scored, _trained_level(claim, profile)))
        elif claim.kind == "no_gain_past":
            rows.append(no_gain_past(claim, levels, scored))
        elif claim.kind == "rank_stable":
            rows.append(_rank_stable(claim, acc, profile))
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
    """The claim's level as trained: the epochs study's "20" is 8 epochs under quick."""
    from bench.studies import REGISTRY

    level = claim.params["level"]
    if claim.study == "epochs":
        return str(REGISTRY.get("epochs").scaled(profile).epochs(int(level)))
    return level
