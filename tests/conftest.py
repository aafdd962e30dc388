"""Shared fixtures: tiny generated IDX datasets and the real ones when present."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def make_tiny_dataset(folder: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """A learnable 10-class dataset: each class lights up its own band of rows."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, label in enumerate(y):
            x[i, 2 * label + 4 : 2 * label + 7, 4:24] = 250
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", y)
    return folder


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
