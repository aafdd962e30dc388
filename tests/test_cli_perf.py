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
        assert r["matmul_flops_per_image"] == 1_126_800
        assert 0 < r["engine_matmul_share"] < r["engine_flop_share"]
    sweep = rows[-1]
    assert sweep["runs"] == 2 and sweep["images_per_run"] > 0
    assert sweep["tutorial_accuracy"] > 0.5 and sweep["engine_accuracy"] > 0.5  # both learn
    table = pd.read_parquet(tmp_path / "P" / "perf.parquet")
    assert len(table) == len(rows)
    from bench.site.pages import perf_summary  # the Speed page's table

    summary = perf_summary(table)
    assert list(summary["measurement"]) == [
        "mlp_300_100, batch 32", "mlp_300_100, batch 128", "mlp_300_100, batch 512",
        "sweep of 2 runs, batch 32"]
    assert summary["speedup"].tolist() == [r["speedup"] for r in rows[1:]]


def test_perf_bad_input_exits_2(tmp_path: Path) -> None:
    out = bench("perf", "--images", "10", "--results", str(tmp_path / "P"))
    assert out.returncode == 2 and "--images" in out.stderr


def test_training_flops_count_dense_and_conv_products() -> None:
    from bench import models
    from bench.perf import training_flops

    # 784-300-100-10: forward + weight gradients of all layers, input gradients of two
    dense = [784 * 300, 300 * 100, 100 * 10]
    assert training_flops(models.build("mlp_300_100")) == 4 * sum(dense) + 2 * sum(dense[1:])
    # 3x3 convs to 26x26x32 and 24x24x64, pool, 9216 -> 512 -> 10
    macs = [26 * 26 * 32 * 9, 24 * 24 * 64 * 9 * 32, 9216 * 512, 512 * 10]
    assert training_flops(models.build("cnn_manual")) == 2 * (2 * sum(macs) + sum(macs[1:]))
