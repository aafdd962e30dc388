"""``bench all``: every study of a profile, the report and the site, in one command."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.studies import PROFILES, REGISTRY
from tests.helpers import bench, make_tiny_dataset


@pytest.mark.slow
def test_all_smoke_on_tiny_data(tiny_data_dir: Path, tmp_path: Path) -> None:
    # 6,000 training images: enough for optimizers_mlp's 5,000-image hold-out
    make_tiny_dataset(tiny_data_dir / "fashion-mnist", n_train=6000, seed=2)
    results, site = tmp_path / "R", tmp_path / "site"
    out = bench("all", "--profile", "smoke", "--results", str(results), "--site", str(site),
                timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = pd.read_parquet(results / "runs.parquet")
    trials = pd.read_parquet(results / "trials.parquet")
    smoke = PROFILES["smoke"]
    train = {s.name for s in REGISTRY if s.kind == "train" and s.in_bench_all(smoke)}
    assert "activations_paper_base" not in train  # paper-base variants: paper and full only
    hpo = {s.name for s in REGISTRY if s.kind == "hpo"}
    assert set(runs["study"]) == train
    assert set(trials["study"]) == hpo
    assert len(runs[runs["study"] == "initializers"]) == 12
    assert len(runs[runs["study"] == "activations"]) == 9
    assert len(runs[runs["study"] == "optimizers"]) == 7
    assert len(runs[runs["study"] == "batch_size"]) == 7
    claims = pd.read_parquet(results / "derived" / "claims.parquet")
    assert set(claims["verdict"]) <= {"confirmed", "not confirmed", "tied", "undecidable",
                                      "inconclusive"}
    assert (site / "index.html").exists() and (site / "hpo.html").exists()
    for study in (s.name for s in REGISTRY if s.kind == "train"):
        assert (site / "studies" / f"{study}.html").exists()
