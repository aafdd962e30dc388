"""``bench status``: done / remaining per study of a profile, from the stored records."""

from __future__ import annotations

from pathlib import Path

from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.progress import progress
from tests.helpers import bench


def _fill(root: Path, study: str, n: int, status: str = "ok", profile: str = "smoke") -> None:
    store = ResultStore(root)
    for i in range(n):
        rid = f"{study}-{status}-{i}"
        store.write_record("runs", rid, {"run": {
            "run_id": rid, "study": study, "status": status, "seed": i,
            "factors": {"factor": "x", "level": str(i), "profile": profile}}})


def test_progress_counts_done_and_remaining(tmp_path: Path) -> None:
    root = tmp_path / "R"
    _fill(root, "optimizers_mlp", 3)
    _fill(root, "optimizers_mlp", 1, status="failed")
    _fill(root, "initializers", 5, profile="quick")  # another profile: not counted
    rows = {r.study: r for r in progress(ResultStore(root), get_profile("smoke"))}
    assert set(rows) == set(REGISTRY.names())
    mlp = rows["optimizers_mlp"]
    assert (mlp.planned, mlp.done, mlp.failed, mlp.remaining) == (4, 3, 1, 1)
    assert mlp.seconds_left > 0
    assert rows["initializers"].done == 0


def test_status_command_prints_every_study_name_whole(tmp_path: Path) -> None:
    root = tmp_path / "R"
    _fill(root, "optimizers_mlp", 4)
    out = bench("status", "--results", str(root), "--profile", "smoke", env={"COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    for name in REGISTRY.names():
        assert name in out.stdout + out.stderr
    missing = bench("status", "--results", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
