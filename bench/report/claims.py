"""The papers' claims, declared as data, and verdicts computed from a result set.

Verdicts: ``confirmed``, ``not confirmed`` or ``inconclusive`` (too few seeds, or the data
cannot separate the levels), each with its evidence in words and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

MIN_SEEDS = 3  # fewer seeds than this can only give "inconclusive" for comparisons


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


def _verdict(claim: Claim, verdict: str, evidence: str, **numbers: Any) -> dict[str, Any]:
    return {"claim_id": claim.id, "source": claim.source, "claim": claim.text,
            "study": claim.study, "verdict": verdict, "evidence": evidence,
            "numbers": str({k: (round(v, 4) if isinstance(v, float) else v)
                            for k, v in numbers.items()})}


def _best_level(claim: Claim, levels: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    lv = levels[levels["study"] == claim.study]
    if lv.empty:
        return _verdict(claim, "inconclusive", "no results for this study yet")
    want = claim.params["level"]
    if want not in set(lv["level"]):
        return _verdict(claim, "inconclusive", f"level {want} was not measured")
    best = lv.sort_values("accuracy_mean", ascending=False).iloc[0]
    mine = lv[lv["level"] == want].iloc[0]
    n = int(mine["n"])
    desc = (f"{want}: {mine['accuracy_mean']:.4f} (rank {int(mine['rank'])}/{len(lv)}); "
            f"best {best['level']}: {best['accuracy_mean']:.4f}; {n} seed(s)")
    if n < MIN_SEEDS:
        return _verdict(claim, "inconclusive", desc + f"; fewer than {MIN_SEEDS} seeds",
                        rank=int(mine["rank"]))
    s = scored[scored["study"] == claim.study]
    if best["level"] == want:
        second = lv.sort_values("accuracy_mean", ascending=False).iloc[1]
        a = s[s["level"] == want]["accuracy"].to_numpy()
        b = s[s["level"] == second["level"]]["accuracy"].to_numpy()
        p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
        if p < 0.05:
            return _verdict(claim, "confirmed", desc + f"; better than the runner-up "
                            f"{second['level']} (p={p:.3g})", rank=1, p=p)
        return _verdict(claim, "inconclusive", desc + f"; ranked first but not significantly "
                        f"better than {second['level']} (p={p:.3g})", rank=1, p=p)
    a = s[s["level"] == best["level"]]["accuracy"].to_numpy()
    b = s[s["level"] == want]["accuracy"].to_numpy()
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue) * (len(lv) - 1)  # Bonferroni
    p = min(1.0, p)
    if p < 0.05:
        return _verdict(claim, "not confirmed",
                        desc + f"; {best['level']} is significantly better (p={p:.3g})", p=p)
    return _verdict(claim, "inconclusive",
                    desc + f"; the difference is not significant (p={p:.3g})", p=p)


def _no_gain_past(claim: Claim, levels: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    s = scored[scored["study"] == claim.study]
    ref = s[s["level"] == claim.params["level"]]["accuracy"].to_numpy()
    if len(ref) == 0:
        return _verdict(claim, "inconclusive", "no results for this study yet")
    gains = []
    for lvl in claim.params["smaller"]:
        x = s[s["level"] == lvl]["accuracy"].to_numpy()
        if len(x) == 0:
            continue
        p = (float(stats.ttest_ind(x, ref, equal_var=False, alternative="greater").pvalue)
             if len(x) >= 2 and len(ref) >= 2 else np.nan)
        gains.append((lvl, float(x.mean() - ref.mean()), p))
    desc = "; ".join(f"batch {lvl}: {d:+.4f} vs 128 (p={p:.3g})" for lvl, d, p in gains)
    if len(ref) < MIN_SEEDS:
        return _verdict(claim, "inconclusive", desc + f"; fewer than {MIN_SEEDS} seeds")
    k = max(1, len(gains))
    if any(p * k < 0.05 for _, _, p in gains if np.isfinite(p)):
        return _verdict(claim, "not confirmed", desc + "; a smaller batch is significantly better")
    return _verdict(claim, "confirmed", desc + "; no smaller batch is significantly better")


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
    parts, xs, ys, kept = [], [], [], 0
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
        xs += list(a[common].rank())
        ys += list(b[common].rank())
        same = a[common].idxmax() == b[common].idxmax()
        parts.append(f"{study}: best at {e_early} epochs {a[common].idxmax()}, at {e_late} "
                     f"{b[common].idxmax()}{' (same)' if same else ''}")
    if not kept:
        return _verdict(claim, "inconclusive", "needs curves of at least 2 epoch counts")
    rho, low, high = _spearman_ci(np.array(xs), np.array(ys), np.random.default_rng(0))
    desc = "; ".join(parts) + f"; Spearman rho of the level ranks {rho:.2f} [{low:.2f}, {high:.2f}]"
    if np.isfinite(low) and low > 0.5:
        return _verdict(claim, "confirmed", desc, rho=rho, low=low, high=high)
    if np.isfinite(high) and high < 0.5:
        return _verdict(claim, "not confirmed", desc, rho=rho, low=low, high=high)
    return _verdict(claim, "inconclusive", desc, rho=rho, low=low, high=high)


def _overfits(claim: Claim, curves_loss: pd.DataFrame) -> dict[str, Any]:
    c = curves_loss[(curves_loss["study"] == claim.study)
                    & (curves_loss["level"] == claim.params["level"])]
    if c.empty:
        return _verdict(claim, "inconclusive", "no results for this level yet")
    rises = []
    for _, run in c.groupby("run_id"):
        run = run.sort_values("epoch")
        v = run["value"].to_numpy()
        if len(v) < 3:
            continue
        rises.append((float(v[-1] / v.min() - 1), int(run["epoch"].iloc[int(v.argmin())]),
                      int(run["epoch"].iloc[-1])))
    if not rises:
        return _verdict(claim, "inconclusive", "curves too short (fewer than 3 epochs)")
    desc = "; ".join(f"val loss {r:+.1%} above its minimum (epoch {m}) at epoch {e}"
                     for r, m, e in rises)
    hits = sum(r > 0.05 for r, _, _ in rises)
    if len(rises) < MIN_SEEDS:
        verdict = "inconclusive"
        desc += f"; fewer than {MIN_SEEDS} seeds"
    elif hits == len(rises):
        verdict = "confirmed"
    elif hits == 0:
        verdict = "not confirmed"
    else:
        verdict = "inconclusive"
    return _verdict(claim, verdict, desc, seeds_rising=hits, seeds=len(rises))


def verdicts(levels: pd.DataFrame, scored: pd.DataFrame, runs: pd.DataFrame,
             epochs: pd.DataFrame) -> pd.DataFrame:
    """One row per claim with its verdict and evidence.

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
    for claim in CLAIMS:
        if claim.kind == "best_level":
            rows.append(_best_level(claim, levels, scored))
        elif claim.kind == "no_gain_past":
            rows.append(_no_gain_past(claim, levels, scored))
        elif claim.kind == "rank_stable":
            rows.append(_rank_stable(claim, acc, profile))
        elif claim.kind == "overfits":
            rows.append(_overfits(claim, loss))
    return pd.DataFrame(rows)
