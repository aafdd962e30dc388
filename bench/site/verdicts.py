"""Site sections for verdicts: the decision rules, claim rows, per-level tables, paired
differences and the protocol each number was measured under."""

from __future__ import annotations

import pandas as pd

from bench.report.claims import OVERFIT_MARGIN, margin_for
from bench.report.paired import ALPHA, POWER
from bench.site.writer import esc, md_table
from bench.studies import PROFILES, Study

_SOURCES = ("fmnist_dnn_hparams", "fmnist_mlp_optimizers", "mnist_keras_models",
            "mnist_cnn_hpo_libs", "mnist_cnn_optuna_hyperopt")
_WHEN = (
    ("confirmed", '"best is Y": Y beats every other level by ≥ the margin (significant); '
     '"no gain": every smaller level\'s gain is shown to be below the margin (one-sided '
     'equivalence test); "overfits": the validation loss rises over the second half of '
     f"training by ≥ {OVERFIT_MARGIN:.0%} (significant)"),
    ("tied", '"best is Y": Y is best but tied within ± the margin (TOST) with other levels'),
    ("not confirmed", "another level beats Y by ≥ the margin; a smaller batch gains ≥ the "
     f"margin; the validation loss is shown to rise by less than {OVERFIT_MARGIN:.0%}"),
    ("undecidable", "fewer than 3 paired seeds, or the seeds available cannot decide; "
     "*seeds needed* estimates how many "
     f"would (power {POWER:.0%}, from the observed SD of the paired differences); "
     "`bench all --max-seeds N` adds seeds at a size fixed once from the first seeds"),
    ("inconclusive", "no data yet"),
)
RULES = (
    "Each claim of the five papers, tested on our data. Levels are compared **paired by "
    "seed** (a seed fixes the data subset, initial weights and batch order for every level), "
    f"with paired t-tests: *better*/*worse* one-sided at α/2 = {ALPHA / 2} each way (together "
    f"a two-sided test at {ALPHA}), equivalence (TOST), no-gain, non-inferiority and "
    f"overfitting bounds one-sided at α = {ALPHA}; Holm-corrected over the comparisons a claim "
    "makes where any one of them decides it (an intersection-union test, where all must, "
    "needs none). The effect's 95 % CI is per comparison. The smallest accuracy difference "
    "that counts, the **margin**, is fixed per "
    "source paper before any of our data: 1.5 binomial standard errors of a 10,000-image "
    "test set at the best accuracy the paper reports, rounded up to 0.1 pp ("
    + ", ".join(f"{src} {margin_for(src) * 100:.1f} pp" for src in _SOURCES) + "). Each "
    "claim row names its margin, the unit of its effect and what the effect is measured "
    "against.\n\n| verdict | when |\n|---|---|\n"
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
        units = claims["effect_unit"] if "effect_unit" in claims else \
            pd.Series(None, index=claims.index)
        out["effect [95 % CI] (unit)"] = [
            "" if pd.isna(e) else f"{e:+.4f} [{lo:+.4f}, {hi:+.4f}]"
            + (f" ({u})" if isinstance(u, str) else "")
            for e, lo, hi, u in zip(claims["effect"], claims["effect_ci_low"],
                                    claims["effect_ci_high"], units, strict=True)]
        out["seeds needed"] = claims["seeds_needed"].map(_int)
    if "protocol" in claims:
        out["protocol"] = claims["protocol"]
    return out


def claims_markdown(claims: pd.DataFrame, source: bool = False) -> str:
    """The claim table, then each claim's evidence as a paragraph (long text stays readable)."""
    text = [md_table(claim_table(claims, source), html_cols=("verdict",)), "\n### Evidence\n"]
    for row in claims.to_dict("records"):
        tested = row.get("tested_as")
        unit = row.get("effect_unit")
        how = (f" *Tested as*: {esc(tested)}." if isinstance(tested, str) else "") + (
            f" *Effect*: {esc(unit)}, {esc(row.get('comparator') or '')}; margin "
            f"{row['margin']:g}." if isinstance(unit, str) and pd.notna(row.get("margin"))
            else "")
        text.append(f"- **{esc(row['claim'])}** {badge(row['verdict'])} — "
                    f"{esc(row['evidence'])}.{how}")
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
        "rank by test accuracy": levels["rank"]})


def paired_section(rs, study: str) -> str:
    """The study's answer as ``report`` computed it: per epoch, the level chosen on
    validation, its verdict, and every other level's per-seed test gap to it."""
    answers, gaps = rs.get("derived/answers"), rs.get("derived/answer_gaps")
    if answers.empty or "study" not in answers or study not in set(answers["study"]):
        return ""
    out = ["\n## The choice, and each level against it (paired by seed)\n",
           "The choice is the level with the best mean **validation** accuracy at the epoch "
           "named; each other level is compared with it on the **test** set, per seed, and "
           "each decision is read off the interval shown (paired t, simultaneous over the "
           f"comparisons, Bonferroni, {1 - ALPHA:.0%}): *worse* / *better* than the choice "
           "when it excludes 0 and the mean reaches the margin, *tied* when it lies inside "
           "± the margin, else *not decided*.\n"]
    for row in answers[answers["study"] == study].itertuples(index=False):
        epoch = "each level's own epochs" if pd.isna(row.epoch) else \
            f"epoch {int(row.epoch)} ({row.epoch_role})"
        incomplete = getattr(row, "incomplete", None)
        out.append(f"\n### At {esc(epoch)}: {esc(row.choice)} {badge(row.verdict)}\n\n"
                   f"Validation {row.choice_val_accuracy:.4f}, test "
                   f"{row.choice_test_accuracy:.4f}; {esc(row.why)}; margin "
                   f"{row.margin * 100:.1f} pp, {int(row.n)} seeds"
                   + (f"; incomplete: {esc(incomplete)}" if isinstance(incomplete, str)
                      else "") + ".\n")
        mine = gaps[(gaps["study"] == study) & (gaps["epoch"].isna() if pd.isna(row.epoch)
                                                 else gaps["epoch"] == row.epoch)]
        if not mine.empty:
            out.append(md_table(pd.DataFrame({
                "level": mine["level"], "choice − level, test (pp)": [
                    f"{g * 100:+.2f} [{lo * 100:+.2f}, {hi * 100:+.2f}]" for g, lo, hi in
                    zip(mine["gap"], mine["gap_ci_low"], mine["gap_ci_high"], strict=True)],
                "decision": mine["meaning"], "test accuracy": mine["test_accuracy"],
                "validation accuracy": mine["val_accuracy"]})))
            out.append("\n*choice − level*: mean of the per-seed differences, with its "
                       "simultaneous 95 % CI.\n")
    return "\n".join(out) + "\n"


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
