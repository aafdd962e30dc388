"""``bench perf``: a small measurement writes its table and a JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import bench


@pytest.mark.slow
def test_perf_json_and_table(real_data_dir: Path, tmp_path: Path) -> None:
    out = bench("perf", "--images", "2000", "--rounds", "1", "--workers", "2",
                "--sweep-runs", "2", "--no-cnn", "--json", "--results", str(tmp_path / "P"))
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads(out.stdout)
    kinds = [r["kind"] for r in rows]
    assert kinds == ["peak", "fit", "fit", "fit", "sweep"]
    fits = [r for r in rows if r["kind"] == "fit"]
    assert [r["batch_size"] for r in fits] == [32, 128, 512]
    for r in fits:  # ratios are reported, never asserted against a wall time
        assert r["speedup"] > 0 and r["engine_flop_share"] > 0
        assert r["params"] == 266_610 and r["engine_loop"] == "compiled"
    sweep = rows[-1]
    assert sweep["runs"] == 2 and sweep["images_per_run"] > 0
    assert sweep["tutorial_accuracy"] > 0.5 and sweep["engine_accuracy"] > 0.5  # both learn
    table = pd.read_parquet(tmp_path / "P" / "perf.parquet")
    assert len(table) == len(rows)


def test_perf_bad_input_exits_2(tmp_path: Path) -> None:
    out = bench("perf", "--images", "10", "--results", str(tmp_path / "P"))
    assert out.returncode == 2 and "--images" in out.stderr
