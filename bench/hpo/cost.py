"""Cost estimate of an HPO study for ``bench list``."""

from __future__ import annotations

from bench.hpo.plan import methods_for, trials_for
from bench.studies.cost import run_seconds
from bench.studies.registry import Profile, Study


def estimate_hpo(study: Study, profile: Profile, seeds: int | None,
                 trials: int | None = None) -> tuple[int, float]:
    """(trainings, seconds): searches x trials, each priced like a mid-size CNN run."""
    methods = methods_for(study, profile.name, None)
    trials = trials_for(study, profile, trials)
    seconds, runs = 0.0, 0
    for labels, changes in study.grid():
        spec = study.spec(profile, 0, changes, labels)
        n = len(methods) * trials * (seeds or profile.hpo_seeds)
        runs += n
        seconds += n * run_seconds(spec)
    return runs, seconds
