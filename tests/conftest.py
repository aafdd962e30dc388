"""Shared fixtures: tiny generated IDX datasets and the real ones when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import make_tiny_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture
def tiny_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with generated mnist/ and fashion-mnist/ folders; caches isolated."""
    root = tmp_path / "data"
    make_tiny_dataset(root / "mnist", seed=1)
    make_tiny_dataset(root / "fashion-mnist", seed=2)
    monkeypatch.setenv("BENCH_DATA_DIR", str(root))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    from bench import data

    data._load_cached.cache_clear()
    return root


@pytest.fixture
def real_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The real datasets (``$BENCH_DATA_DIR`` or ../shared/datasets)."""
    root = Path(os.environ.get("BENCH_DATA_DIR") or SHARED)
    if not (root / "fashion-mnist").is_dir():
        pytest.fail(f"real datasets not found in {root}; set BENCH_DATA_DIR")
    monkeypatch.setenv("BENCH_DATA_DIR", str(root))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return root
