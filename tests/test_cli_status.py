"""``bench status``: done / remaining per study of a profile, from the stored records."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.progress import planned_search_ids, progress
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


def test_time_left_of_live_searches_uses_the_sets_own_trial_times(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    smoke = get_profile("smoke")
    modelled = {r.study: r for r in progress(store, smoke)}["hpo"]
    sid = sorted(planned_search_ids(store, smoke, None, None))[0]
    store.write_record("searches", sid, {"search": {
        "search_id": sid, "study": "hpo", "status": "ok", "profile": "smoke",
        "optimization_seconds": 600.0, "n_trials": 2}, "trials": []})  # 300 s per trial
    row = {r.study: r for r in progress(store, smoke)}["hpo"]
    assert row.remaining == modelled.remaining - 1
    assert row.seconds_left == pytest.approx(300.0 * smoke.hpo_trials * row.remaining)
    ten = {r.study: r for r in progress(store, smoke, trials=10)}["hpo"]
    assert ten.seconds_left == pytest.approx(300.0 * 10 * ten.remaining)


def test_study_files_the_set_ran_are_listed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    store.update_manifest(user_studies={"my_lr": {
        "name": "my_lr", "base": {"dataset": "mnist", "optimizer": "adam"},
        "factors": {"learning_rate": [0.001, 0.01]}}, "broken": {"name": 3},
        "own_net": {"name": "own_net", "base": {"dataset": "mnist",
                                                "model": "beside_its_file:build"},
                    "factors": {"optimizer": ["adam", "sgd", "rmsprop"]}}})
    _fill(tmp_path / "R", "my_lr", 1)
    _fill(tmp_path / "R", "own_net", 1)
    rows = {r.study: r for r in progress(store, get_profile("smoke"))}
    assert "broken" not in rows  # a hand-edited definition is left out, not a crash
    mine = rows["my_lr"]
    assert (mine.unit, mine.planned, mine.done) == ("runs", 2 * get_profile("smoke").seeds, 1)
    assert mine.seconds_left > 0
    own = rows["own_net"]  # its network imports only beside its study file: counted, unpriced
    assert (own.planned, own.done, own.seconds_left) == (3 * get_profile("smoke").seeds, 1, None)
    out = bench("status", "--results", str(tmp_path / "R"), "--profile", "smoke")
    assert out.returncode == 0, out.stderr
    assert "my_lr" in out.stdout + out.stderr and "own_net" in out.stdout + out.stderr


def test_bad_trials_is_exit_2(tmp_path: Path) -> None:
    out = bench("run", "hpo", "--trials", "0", "--results", str(tmp_path / "R"))
    assert out.returncode == 2 and "--trials" in out.stderr
    assert not (tmp_path / "R").exists()
