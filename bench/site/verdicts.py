"""Site sections for verdicts: the decision rules, claim rows, per-level tables, paired
differences and the protocol each number was measured under."""

from __future__ import annotations

import pandas as pd

from bench.report.claims import OVERFIT_MARGIN
from bench.report.paired import ALPHA, MARGIN, POWER
from bench.site.writer import esc, md_table
from bench.studies import PROFILES, Study

_WHEN = (
    ("confirmed", f'"best is Y": Y beats every other level by ≥ {MARGIN} (significant); '
     f'"no gain": every smaller level\'s gain is shown to be below {MARGIN} (one-sided '
     'equivalence test); "overfits": the validation loss rises over the second half of '
     "training (significant)"),
    ("tied", f'"best is Y": Y is best but tied within ±{MARGIN} (TOST) with other levels'),
    ("not confirmed", f"another level beats Y by ≥ {MARGIN}; a smaller batch gains ≥ "
     f"{MARGIN}; the validation loss is shown to rise by less than {OVERFIT_MARGIN:.0%}"),
    ("undecidable", "fewer than 3 paired seeds, or the seeds available cannot decide; "
     "*seeds needed* estimates how many "
     f"would (power {POWER:.0%}, from the observed SD of the paired differences); "
     "`bench all --max-seeds N` adds seeds at a size fixed once from the first seeds"),
    ("inconclusive", "no data yet"),
)
RULES = (
    "Each claim of the five papers, tested on our data. Levels are compared **paired by "
    "seed** (a seed fixes the data subset, initial weights and batch order for every level), "
    f"with one-sided paired t-tests at α = {ALPHA}, Holm-corrected over the comparisons a "
    f"claim makes. The smallest accuracy difference that counts is **{MARGIN}** (half a "
    "percentage point).\n\n| verdict | when |\n|---|---|\n"
    + "".join(f"| {v} | {w} |\n" for v, w in _WHEN)
    + "\nA verdict measured on a reduced profile (less data or fewer epochs than the paper) "
    "says so.\n"
)

def badge(verdict: str) -> str:
    """A coloured verdict badge (HTML; the verdict text is escaped)."""
    return (f'<span class="verdict verdict-{esc(verdict).replace(" ", "-")}">'
            f"{esc(verdict)}</span>")


def claim_table(claims: pd.DataFrame, source: bool = False) -> pd.DataFrame:
    """Claim rows for a page: verdict badge, n, effect with CI, seeds needed."""
    out = pd.DataFrame({"claim": claims["claim"]})
    if source:
        out.insert(0, "source", claims["source"])
    out["verdict"] = claims["verdict"].map(badge)
    out["n"] = claims["n"].map(_int) if "n" in claims else ""
    if "effect" in claims:
        out["effect [95 % CI]"] = [
            "" if pd.isna(e) else f"{e:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            for e, lo, hi in zip(claims["effect"], claims["effect_ci_low"],
                                 claims["effect_ci_high"], strict=True)]
        out["seeds needed"] = claims["seeds_needed"].map(_int)
    if "protocol" in claims:
        out["protocol"] = claims["protocol"]
    return out


def claims_markdown(claims: pd.DataFrame, source: bool = False) -> str:
    """The claim table, then each claim's evidence as a paragraph (long text stays readable)."""
    text = [md_table(claim_table(claims, source), html_cols=("verdict",)), "\n### Evidence\n"]
    for row in claims.itertuples(index=False):
        text.append(f"- **{esc(row.claim)}** {badge(row.verdict)} — {esc(row.evidence)}")
    return "\n".join(text) + "\n"


def _int(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def level_table(levels: pd.DataFrame) -> pd.DataFrame:
    """Per level: trained label (nominal beside when it differs), n, mean, CI, validation."""
    label = [lvl if str(nom) == str(lvl) or pd.isna(nom) else f"{lvl} (paper: {nom})"
             for lvl, nom in zip(levels["level"], levels.get("level_nominal", levels["level"]),
                                 strict=True)]
    return pd.DataFrame({
        "level": label, "seeds": levels["n"], "test accuracy": levels["accuracy_mean"],
        "95 % CI low": levels["accuracy_ci_low"], "95 % CI high": levels["accuracy_ci_high"],
        "validation accuracy": levels.get("val_accuracy_mean"),
        "test loss": levels["loss_mean"], "train seconds": levels["seconds_mean"],
        "rank": levels["rank"]})


def paired_section(rs, study: str, levels: pd.DataFrame) -> str:
    """Each level against the best one, paired by seed: difference, CI, decision."""
    pairs = rs.get("derived/pairwise")
    if pairs.empty or levels.empty:
        return ""
    pairs = pairs[pairs["study"] == study]
    rows = []
    for factor, lv in levels.groupby("factor"):
        best = lv.sort_values("accuracy_mean", ascending=False)["level"].iloc[0]
        fp = pairs[pairs["factor"] == factor]
        for r in fp.itertuples(index=False):
            if best not in (r.level_a, r.level_b):
                continue
            sign = 1 if r.level_a == best else -1
            other = r.level_b if sign == 1 else r.level_a
            outcome = {"better": "worse", "worse": "better"}.get(r.outcome, r.outcome) \
                if sign == 1 else r.outcome
            lo, hi = sorted((-sign * r.diff_ci_low, -sign * r.diff_ci_high))
            rows.append({"level": other, f"minus best ({best})": -sign * r.mean_diff,
                         "95 % CI low": lo, "95 % CI high": hi, "seeds": r.n_pairs,
                         "Holm p": r.p_holm, "decision": outcome,
                         "seeds needed": _int(r.seeds_needed)})
    if not rows:
        return ""
    return ("\n## Each level against the best, paired by seed\n\n"
            f"Difference of test accuracy per seed. *decision*: better / worse by ≥ {MARGIN} "
            f"(Holm α = {ALPHA}), equivalent within ±{MARGIN} (TOST), or undecided with the "
            "seeds that would decide it.\n\n" + md_table(pd.DataFrame(rows)))


def protocol_note(rs, study: Study, runs: pd.DataFrame, levels: pd.DataFrame) -> str:
    """What was actually run: profile, data, epochs, seeds, selection split."""
    profiles = sorted(set(runs["profile"].dropna())) if "profile" in runs else []
    name = profiles[0] if profiles else "paper"
    profile = study.scaled(PROFILES.get(name, PROFILES["paper"]))
    ok = runs[runs["status"] == "ok"]
    sizes = pd.to_numeric(ok.get("n_train", pd.Series(dtype=float)), errors="coerce").dropna()
    n_train = f"{int(sizes.median()):,}" if len(sizes) else "?"
    trained = pd.to_numeric(ok.get("epochs", pd.Series(dtype=float)), errors="coerce").dropna()
    epochs = sorted({int(e) for e in trained})
    seeds = ok["seed"].nunique() if not ok.empty else 0
    selection = ", ".join(sorted(set(ok.get("selection", pd.Series(["test"])).dropna())))
    kind = ("**reduced protocol**: " + profile.summary()) if profile.reduced else \
        "the paper's protocol"
    return (f"Result set **{esc(rs.label())}**, profile `{esc(name)}` ({kind}). "
            f"Trained: {n_train} images, {'/'.join(map(str, epochs)) or '?'} epoch(s), "
            f"{seeds} seed(s); {len(runs)} runs ({len(ok)} ok); winners chosen on the "
            f"**{esc(selection or 'validation')}** split.\n")
