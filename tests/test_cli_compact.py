"""``bench compact``: rebuilds tables from records; a missing set is a clear error."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.store import ResultStore
from tests.helpers import bench, store_record


def test_compact_rebuilds_tables(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    for rid in ("a", "b"):
        store.write_record("runs", rid, store_record(rid))
    out = bench("compact", str(tmp_path / "R"))
    assert out.returncode == 0, out.stderr
    assert sorted(pd.read_parquet(tmp_path / "R" / "runs.parquet")["run_id"]) == ["a", "b"]
    assert (tmp_path / "R" / "derived" / "levels.parquet").exists()


def test_compact_missing_set_exits_2(tmp_path: Path) -> None:
    out = bench("compact", str(tmp_path / "nope"))
    assert out.returncode == 2 and "does not exist" in out.stderr
