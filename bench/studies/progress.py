"""What a result set holds and lacks against a profile: done / remaining per study."""

from __future__ import annotations

from dataclasses import dataclass

from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.catalog import REGISTRY
from bench.studies.cost import estimate
from bench.studies.registry import Profile


@dataclass(frozen=True)
class StudyProgress:
    study: str
    unit: str  # runs | searches
    planned: int
    done: int
    failed: int
    seconds_left: float  # estimated, one worker on a 2-core CPU

    @property
    def remaining(self) -> int:
        return max(0, self.planned - self.done)


def _counts(store: ResultStore, kind: str, profile: str) -> dict[str, tuple[int, int]]:
    """study -> (finished, failed) records of ``profile``."""
    key = "run" if kind == "runs" else "search"
    out: dict[str, list[int]] = {}
    for rec in store.records(kind):
        row = rec[key]
        row_profile = row.get("profile") or (row.get("factors") or {}).get("profile")
        if row_profile != profile:
            continue
        counts = out.setdefault(row.get("study", "?"), [0, 0])
        counts[0 if row.get("status") in FINAL_STATUSES else 1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def progress(store: ResultStore, profile: Profile, seeds: int | None = None) -> list[StudyProgress]:
    """One row per built-in study: planned under ``profile``, done, failed, time left.

    Staged and chained studies are planned like ``bench list`` plans them (their exact
    configurations depend on upstream winners, their counts do not)."""
    runs, searches = _counts(store, "runs", profile.name), _counts(store, "searches",
                                                                      profile.name)
    rows = []
    for study in REGISTRY:
        planned, seconds = estimate(study, profile, seeds)
        if study.kind == "tabular":
            from bench.hpo.tabular import plan

            methods, _, search_seeds = plan(study, profile, None)
            planned_searches = len(methods) * len(search_seeds)
            done, failed = searches.get(study.name, (0, 0))
            per = seconds / planned_searches if planned_searches else 0.0
            rows.append(StudyProgress(study.name, "searches", planned_searches, done, failed,
                                      per * max(0, planned_searches - done)))
            continue
        if study.kind == "hpo":
            from bench.hpo.runner import methods_for

            trials = profile.hpo_trials or study.hpo.get("trials", 10)
            n_methods = len(methods_for(study, profile.name, None))
            planned_searches = max(1, planned // max(1, trials * n_methods)) * n_methods
            done, failed = searches.get(study.name, (0, 0))
            per = seconds / planned_searches if planned_searches else 0.0
            rows.append(StudyProgress(study.name, "searches", planned_searches, done, failed,
                                      per * max(0, planned_searches - done)))
            continue
        done, failed = runs.get(study.name, (0, 0))
        per = seconds / planned if planned else 0.0
        rows.append(StudyProgress(study.name, "runs", planned, min(done, planned), failed,
                                  per * max(0, planned - done)))
    return rows
