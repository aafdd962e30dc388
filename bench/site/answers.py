"""The home page's answers: ``derived/answers`` rendered as the report computed them.

Nothing here chooses or tests anything: each row names its epoch, the split that chose the
level (validation) and the split its numbers come from (test), and its interval is the one
the decision rule uses (simultaneous over the comparisons, see ``report.answers``).
"""

from __future__ import annotations

import pandas as pd

from bench.report.paired import ALPHA, MAX_SEEDS_REPORTED
from bench.site import charts
from bench.site.sets import ResultSet, set_for
from bench.site.verdicts import badge
from bench.site.writer import SiteWriter, esc, md_table
from bench.studies import REGISTRY

SHOWN_RUNNERS_UP = 3


def readable(level: str, study: str = "") -> str:
    """A level as a reader says it: ``nadam|0.001`` -> ``nadam (lr 0.001)``, a network
    ``16-64`` -> ``16-64 (2 layers)``, a level declared the same training as another (batch
    ``None``) -> ``Keras default (32)``."""
    if "|" in level:
        opt, lr = level.split("|", 1)
        return f"{opt} (lr {lr})"
    declared = REGISTRY.get(study) if study in REGISTRY.names() else None
    if declared is not None and declared.stages:
        layers = level.count("-") + 1
        return f"{level} ({layers} layer{'s' if layers > 1 else ''})"
    if declared is not None and level in declared.aliases:
        return f"Keras default ({declared.aliases[level]})"
    return level


def shown_answers(sets: list[ResultSet]) -> list[tuple[ResultSet | None, pd.DataFrame]]:
    """Per answering study (catalogue order, labelled variants left to their pages), its
    rows from the set that shows it (papers' protocol first); (None, a row with only the
    question) where no set answers it yet."""
    out: list[tuple[ResultSet | None, pd.DataFrame]] = []
    for study in REGISTRY:
        if not study.question or study.variant_of:
            continue
        rs = set_for(sets, study.name)
        table = rs.get("derived/answers") if rs else pd.DataFrame()
        mine = table[table["study"] == study.name] if "study" in table else table
        if rs is None or mine.empty:
            out.append((None, pd.DataFrame([{"question": study.question,
                                              "study": study.name}])))
        else:
            out.append((rs, mine))
    return out


def _epoch(row: pd.Series) -> str:
    if pd.isna(row["epoch"]):
        return "each level's own"
    return f"{int(row['epoch'])} ({row['epoch_role']})"


def _gap(row: pd.Series) -> str:
    if pd.isna(row["effect"]):
        return ""
    return (f"{row['effect'] * 100:+.2f} pp vs {esc(readable(str(row['runner_up']), row['study']))}"
            f" [{row['ci_low'] * 100:+.2f}, {row['ci_high'] * 100:+.2f}]")


def _within(rs: ResultSet, row: pd.Series) -> str:
    gaps = rs.get("derived/answer_gaps")
    if gaps.empty:
        return ""
    epoch = gaps["epoch"].isna() if pd.isna(row["epoch"]) else gaps["epoch"] == row["epoch"]
    near = gaps[(gaps["study"] == row["study"]) & epoch & (gaps["decision"] != "better")]
    if near.empty:
        return "none: every other level is worse"
    near = near.sort_values("gap")
    names = [readable(str(lvl), row["study"]) + (" (tied)" if d == "equivalent" else "")
             for lvl, d in zip(near["level"], near["decision"], strict=True)]
    more = len(names) - SHOWN_RUNNERS_UP
    return ", ".join(names[:SHOWN_RUNNERS_UP]) + (f" +{more} more" if more > 0 else "")


def _verdict_text(row: pd.Series) -> str:
    text = badge(str(row["verdict"]))
    needs = row.get("seeds_needed")
    if row["verdict"] == "undecided" and pd.notna(needs):
        text += (f" more than {MAX_SEEDS_REPORTED} seeds would be needed"
                 if needs >= MAX_SEEDS_REPORTED else f" ≈{int(needs)} seeds would decide")
    incomplete = row.get("incomplete")
    if isinstance(incomplete, str):
        text += f" (incomplete: {esc(incomplete)})"
    return text


def answer_table(found: list[tuple[ResultSet | None, pd.DataFrame]],
                 claims: pd.DataFrame) -> pd.DataFrame:
    """One row per question and epoch (HTML cells escaped here)."""
    by_claim = claims.set_index("claim_id") if not claims.empty else pd.DataFrame()
    rows = []
    for rs, table in found:
        if rs is None:
            continue  # listed once below the table (``_unanswered``)
        for _, row in table.iterrows():
            link = f"studies/{row['study']}.md"
            paper = ""
            cid = row.get("claim_id")
            if isinstance(cid, str) and not by_claim.empty and cid in by_claim.index:
                c = by_claim.loc[cid]
                paper = f"{esc(c['claim'])} {badge(c['verdict'])}"
            rows.append({
                "question": esc(row["question"]), "epoch": esc(_epoch(row)),
                "choice (validation → test accuracy)":
                    f"[**{esc(readable(str(row['choice']), row['study']))}**]({link}) "
                    f"{row['choice_val_accuracy']:.1%} → {row['choice_test_accuracy']:.1%}",
                "verdict": _verdict_text(row),
                "within noise of the choice": esc(_within(rs, row)),
                "choice − closest, test [simultaneous 95 % CI]": _gap(row),
                "seeds": str(int(row["n"])), "margin": f"{row['margin'] * 100:.1f} pp",
                "the paper's claim": paper})
    rows.append({"question": "HPO library", "choice (validation → test accuracy)":
                 "[see the HPO page](hpo.md)"})
    return pd.DataFrame(rows).fillna("")


def gap_frame(found: list[tuple[ResultSet | None, pd.DataFrame]]) -> pd.DataFrame:
    """The answer gaps of the rows shown, one chart row per question and epoch."""
    frames = []
    for rs, table in found:
        if rs is None:
            continue
        gaps = rs.get("derived/answer_gaps")
        if gaps.empty:
            continue
        for _, row in table.iterrows():
            epoch = gaps["epoch"].isna() if pd.isna(row["epoch"]) else \
                gaps["epoch"] == row["epoch"]
            g = gaps[(gaps["study"] == row["study"]) & epoch]
            if g.empty:
                continue
            label = row["question"] if pd.isna(row["epoch"]) else \
                f"{row['question']} · epoch {int(row['epoch'])}"
            frames.append(g.assign(question=label, accuracy=g["test_accuracy"],
                                   best=readable(str(row["choice"]), row["study"]),
                                   gap_low=g["gap_ci_low"], gap_high=g["gap_ci_high"],
                                   level=[readable(str(v), row["study"]) for v in g["level"]]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def answers_section(w: SiteWriter, sets: list[ResultSet], claims: pd.DataFrame) -> str:
    """The answer table and its chart (the first screen of the home page)."""
    found = shown_answers(sets)
    used = sorted({rs.name for rs, _ in found if rs is not None})
    context = "; ".join(rs.context() for rs in sets if rs.name in used) or "no results yet"
    table = answer_table(found, claims)
    missing = [t["question"].iloc[0] for rs, t in found if rs is None]
    text = [f"Each choice is the level with the best mean **validation** accuracy at the epoch "
            f"named; its numbers and its test against every other level use the **test** "
            f"set. Fashion-MNIST MLPs; {context}.\n",
            md_table(table, html_cols=tuple(table.columns)),
            ("\nNo results yet: " + esc(", ".join(missing)) + ".\n") if missing else "",
            f"\n*Verdict* (computed once by the report; every decision is read off the "
            f"interval shown, simultaneous over the choice's comparisons: paired t, "
            f"Bonferroni, {1 - ALPHA:.0%}): *better*: against every other level the interval "
            f"lies above 0 and the mean gain reaches the margin; *tied*: every other level is "
            f"worse or its interval lies inside ± the margin; *beaten on test*: another level "
            f"is better on the test set (validation chose otherwise); *undecided*: neither. "
            f"*Seeds*: paired seeds behind each comparison. A study trained past the paper's "
            f"epoch is answered at both epochs.\n"]
    gaps = gap_frame(found)
    if not gaps.empty:
        text.append("\nEach dot is one alternative's gap to the choice (mean of the per-seed "
                    "test-accuracy differences; its simultaneous 95 % CI in the tooltip); gaps "
                    "beyond −5 pp are drawn at the edge.\n")
        text.append(w.chart("index.md", "gaps", charts.gap_to_best(gaps)))
    return "\n".join(text)
