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


def _search(store: ResultStore, sid: str, study: str = "hpo", profile: str = "smoke") -> None:
    store.write_record("searches", sid, {"search": {
        "search_id": sid, "study": study, "status": "ok", "profile": profile}, "trials": []})


def test_live_searches_count_only_when_planned_at_this_budget(tmp_path: Path) -> None:
    from bench.studies.progress import planned_search_ids

    store = ResultStore(tmp_path / "R")
    smoke = get_profile("smoke")
    at_two = sorted(planned_search_ids(store, smoke, None, None))
    at_ten = planned_search_ids(store, smoke, None, 10)
    assert at_two and not set(at_two) & at_ten  # the budget is part of a search's id
    _search(store, at_two[0])
    _search(store, "an-older-seeding-scheme")  # same study, not planned: not done
    rows = {r.study: r for r in progress(store, smoke)}
    assert rows["hpo"].done == 1 and rows["hpo"].remaining == rows["hpo"].planned - 1
    assert {r.study: r for r in progress(store, smoke, trials=10)}["hpo"].done == 0


def test_bad_trials_is_exit_2(tmp_path: Path) -> None:
    out = bench("run", "hpo", "--trials", "0", "--results", str(tmp_path / "R"))
    assert out.returncode == 2 and "--trials" in out.stderr
    assert not (tmp_path / "R").exists()
