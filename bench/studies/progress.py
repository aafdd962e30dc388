"""What a result set holds and lacks against a profile: done / remaining per study."""

from __future__ import annotations

from dataclasses import dataclass

from bench import kinds
from bench.errors import BenchError
from bench.store import FINAL_STATUSES, ResultStore
from bench.studies.catalog import REGISTRY
from bench.studies.config_file import recorded_user_studies
from bench.studies.registry import Profile


@dataclass(frozen=True)
class StudyProgress:
    study: str
    unit: str  # runs | searches
    planned: int
    done: int
    failed: int
    seconds_left: float | None  # estimated (None: cannot be priced here)

    @property
    def remaining(self) -> int:
        return max(0, self.planned - self.done)


def _counts(store: ResultStore, kind: str, profile: str,
            only: set[str] | None = None) -> dict[str, tuple[int, int]]:
    """study -> (finished, failed) records of ``profile`` (those with an id in ``only``)."""
    key = "run" if kind == "runs" else "search"
    ident = "run_id" if kind == "runs" else "search_id"
    out: dict[str, list[int]] = {}
    for rec in store.records(kind):
        row = rec[key]
        row_profile = row.get("profile") or (row.get("factors") or {}).get("profile")
        if row_profile != profile or (only is not None and row.get(ident) not in only):
            continue
        counts = out.setdefault(row.get("study", "?"), [0, 0])
        counts[0 if row.get("status") in FINAL_STATUSES else 1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def measured_trial_seconds(store: ResultStore, profile: str) -> dict[str, float]:
    """study -> mean seconds per trial of its finished live searches under ``profile`` (the
    set's own measurement; the cost model prices search-space CNNs only roughly)."""
    sums: dict[str, list[float]] = {}
    for rec in store.records("searches"):
        row = rec["search"]
        seconds, n = row.get("optimization_seconds"), row.get("n_trials")
        if (row.get("profile") != profile or row.get("status") != "ok" or row.get("benchmark")
                or not seconds or not n):
            continue
        total = sums.setdefault(row.get("study", "?"), [0.0, 0.0])
        total[0] += float(seconds)
        total[1] += float(n)
    return {k: v[0] / v[1] for k, v in sums.items()}


def planned_search_ids(store: ResultStore, profile: Profile, seeds: int | None,
                       trials: int | None) -> set[str]:
    """The ids of every live search the profile plans (so that searches at another budget,
    or with an older seeding scheme, are not counted as done)."""
    from types import SimpleNamespace

    from bench.hpo.runner import plan_searches

    runner = SimpleNamespace(profile=profile, store=store, force=False,
                             seeds=list(range(seeds or 0)), seeds_overridden=seeds is not None)
    extra = {"trials": trials} if trials else {}
    return {t.search_id for study in REGISTRY if study.kind == "hpo"
            for t in plan_searches(study, runner, extra, None, announce=False)}


def progress(store: ResultStore, profile: Profile, seeds: int | None = None,
             trials: int | None = None) -> list[StudyProgress]:
    """One row per built-in study and per study file the set ran: planned under
    ``profile``, done, failed, time left.

    Staged and chained studies are planned like ``bench list`` plans them (their exact
    configurations depend on upstream winners, their counts do not). Live searches count as
    done only when their id is planned (same budget, seeds and seeding)."""
    runs, searches = _counts(store, "runs", profile.name), _counts(store, "searches",
                                                                      profile.name)
    live = _counts(store, "searches", profile.name,
                   planned_search_ids(store, profile, seeds, trials))
    per_trial = measured_trial_seconds(store, profile.name)
    rows = []
    for study in [*REGISTRY, *recorded_user_studies(store)]:
        try:
            planned, seconds = kinds.estimate(study, profile, seeds, trials)
        except BenchError:  # a study file's own network, importable only beside its file
            planned = len(study.grid()) * (seeds or study.seeds(profile))
            done, failed = runs.get(study.name, (0, 0))
            rows.append(StudyProgress(study.name, "runs", planned, min(done, planned), failed,
                                      None))
            continue
        if study.kind == "tabular":
            from bench.hpo.replays import plan

            methods, _, search_seeds = plan(study, profile, None)
            planned_searches = len(methods) * len(search_seeds)
            done, failed = searches.get(study.name, (0, 0))
            per = seconds / planned_searches if planned_searches else 0.0
            rows.append(StudyProgress(study.name, "searches", planned_searches, done, failed,
                                      per * max(0, planned_searches - done)))
            continue
        if study.kind == "hpo":
            from bench.hpo.plan import methods_for, trials_for

            n_trials = trials_for(study, profile, trials)
            n_methods = len(methods_for(study, profile.name, None))
            planned_searches = max(1, planned // max(1, n_trials * n_methods)) * n_methods
            done, failed = live.get(study.name, (0, 0))
            per = seconds / planned_searches if planned_searches else 0.0
            if study.name in per_trial:
                per = per_trial[study.name] * n_trials
            rows.append(StudyProgress(study.name, "searches", planned_searches, done, failed,
                                      per * max(0, planned_searches - done)))
            continue
        done, failed = runs.get(study.name, (0, 0))
        per = seconds / planned if planned else 0.0
        rows.append(StudyProgress(study.name, "runs", planned, min(done, planned), failed,
                                  per * max(0, planned - done)))
    return rows
