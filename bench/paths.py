"""Where things live by default: the project's data cache and result sets."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$BENCH_CACHE_DIR`` or ``./data_cache`` (the repository's cache when run from its root)."""
    return Path(os.environ.get("BENCH_CACHE_DIR", "data_cache")).resolve()


def datasets_cache() -> Path:
    return cache_dir() / "datasets"


def results_root() -> Path:
    return cache_dir() / "results"
