"""What an HPO study searches: its methods, trials, seeds and the ids of its searches."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bench.hpo.libraries import NEEDS_MODULE, parse_methods
from bench.studies.registry import Study


def search_id(study: str, library: str, algorithm: str, fraction: str, seed: int,
              profile: str, extra: dict[str, Any]) -> str:
    blob = json.dumps([study, library, algorithm, fraction, seed, profile, extra], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def sampler_seed(seed: int, cell: int) -> int:
    """The library's seed for training seed ``seed`` in grid cell ``cell``: its own per cell,
    so that searches at different fractions do not try the same configurations."""
    import numpy as np

    return int(np.random.SeedSequence([seed, cell]).generate_state(1)[0] % (2**31 - 1))


def methods_for(study: Study, profile_name: str, requested: str | None) -> list[tuple[str, str]]:
    if requested:
        return parse_methods(requested)
    if profile_name == "full":
        return parse_methods(study.hpo.get("methods_full", "all"))
    return parse_methods(study.hpo["methods"])


def trials_for(study: Study, profile: Any, requested: int | None = None) -> int:
    """Trials per live search: ``--trials``, else the profile's cap, else the paper's."""
    return requested or profile.hpo_trials or study.hpo.get("trials", 10)


def available(library: str, algorithm: str) -> bool:
    """False for an optional algorithm whose extra is not installed (Optuna's GP: torch)."""
    import importlib.util

    module = NEEDS_MODULE.get((library, algorithm))
    return module is None or importlib.util.find_spec(module) is not None
