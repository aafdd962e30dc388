"""Result sets as the site sees them: tables loaded once, which set answers which study, and
the one-line context (protocol, seeds, hardware) printed wherever a number appears."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.store import ResultStore

TABLES = ("runs", "epochs", "classes", "confusion", "predictions", "searches", "trials",
          "perf", "derived/levels", "derived/claims", "derived/answers", "derived/answer_gaps",
          "derived/paper_vs_measured",
          "derived/scores", "derived/pairwise", "derived/hpo_methods", "derived/hpo_rank_test",
          "derived/hpo_table", "derived/hpo_anytime", "derived/hpo_anytime_time",
          "derived/hpo_overhead", "derived/hpo_tabular_ranks", "derived/hpo_table_check",
          "derived/hpo_tabular_tolerant_ranks", "derived/hpo_tabular_stability",
          "derived/hpo_table_top_check", "derived/hpo_table_fidelity_check")


@dataclass
class ResultSet:
    """One result set's tables, loaded once."""

    name: str
    root: Path
    manifest: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def get(self, name: str) -> pd.DataFrame:
        return self.tables.get(name, pd.DataFrame())

    @property
    def n_runs(self) -> int:
        return len(self.get("runs"))

    @property
    def profile(self) -> str | None:
        runs = self.get("runs")
        if runs.empty or "profile" not in runs or runs["profile"].isna().all():
            return None
        return str(runs["profile"].value_counts().idxmax())

    @property
    def full_protocol(self) -> bool:
        """True for a set run at the papers' protocols (the site's default view)."""
        from bench.studies import PROFILES

        profile = PROFILES.get(self.profile or "")
        return profile is not None and not profile.reduced

    def rank(self, count: int | None = None) -> tuple[bool, int]:
        """Sort key: sets at the papers' protocols first, then the most runs."""
        return self.full_protocol, self.n_runs if count is None else count

    def hardware(self) -> str:
        m = self.manifest.get("machine", {})
        cpu = f"{m.get('cpu', '?')} ({m.get('cpu_count', '?')} cores)"
        return ", ".join(m.get("gpus") or []) or cpu

    def label(self) -> str:
        return f"{self.name} — {self.hardware()}"

    def _seeds_per_level(self, study: str | None = None) -> pd.Series:
        """Finished seeds per (study, level), of ``study`` or of the whole set."""
        runs = self.get("runs")
        ok = runs[runs["status"] == "ok"] if not runs.empty else runs
        if study is not None and not ok.empty:
            ok = ok[ok["study"] == study]
        if ok.empty:
            return pd.Series(dtype=int)
        return ok.groupby(["study", "level"], dropna=False)["seed"].nunique()

    def seeds(self, study: str | None = None) -> int:
        """Most seeds any level of ``study`` (or of the set) finished."""
        per_level = self._seeds_per_level(study)
        return int(per_level.max()) if len(per_level) else 0

    def protocol(self) -> str:
        """The profile in words: "papers' protocol" or "reduced: 20 % of the data, ..."."""
        from bench.studies import PROFILES

        profile = PROFILES.get(self.profile or "")
        if profile is None:
            return f"profile {self.profile or '?'}"
        if profile.reduced:
            return f"reduced protocol '{profile.name}' ({profile.summary()})"
        return f"the papers' protocol (profile '{profile.name}')"

    def context(self, study: str | None = None) -> str:
        """One line: set, protocol, seeds, hardware (Markdown, escaped)."""
        from bench.site.writer import esc

        seeds = self.seeds(study)
        low = self.fewest_seeds() if study is None else seeds
        shown = (f"{seeds} seed{'s' if seeds != 1 else ''}" if low in (0, seeds) else
                 f"{low}–{seeds} seeds per study")
        return f"result set **{esc(self.name)}**: {esc(self.protocol())}, {shown}; " \
               f"{esc(self.hardware())}"

    def fewest_seeds(self) -> int:
        """The fewest seeds a study of the set holds (at its best-covered level)."""
        per_level = self._seeds_per_level()
        return int(per_level.groupby(level="study").max().min()) if len(per_level) else 0


def load_result_set(root: Path) -> ResultSet:
    """A result set's tables and conclusions, read as they are: the site never writes into a
    set nor recomputes what ``report`` concluded (a stale set is refused, with the fix)."""
    from bench.report import stale_reason

    store = ResultStore(root, create=False)
    why = stale_reason(store)
    if why:
        raise BenchError(f"result set {root}: {why}; run `bench compact {root}` first "
                         "(bench site only reads result sets)")
    rs = ResultSet(root.name, root, store.manifest())
    for name in TABLES:
        if store.has_table(name):
            try:
                rs.tables[name] = store.table(name)
            except BenchError:
                continue
    return rs


def study_count(rs: ResultSet, study: str) -> int:
    runs = rs.get("runs")
    return int((runs["study"] == study).sum()) if not runs.empty else 0


def sets_with(sets: list[ResultSet], study: str) -> list[ResultSet]:
    """The sets holding runs of ``study``, best first (papers' protocol, then most runs)."""
    having = [rs for rs in sets if study_count(rs, study)]
    return sorted(having, key=lambda rs: rs.rank(study_count(rs, study)), reverse=True)


def set_for(sets: list[ResultSet], study: str) -> ResultSet | None:
    """The preferred set for ``study`` (None when no set has any of its runs)."""
    having = sets_with(sets, study)
    return having[0] if having else None
