"""Fault injection: kill -9, Ctrl-C, concurrent writers, NaN runs, failures, damaged files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from bench import store as store_mod
from bench.store import ResultStore
from tests.helpers import bench, start_bench, store_record, study_file, wait_records


def _descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                kids = [int(k) for k in (task / "children").read_text().split()]
                out.update(kids)
                todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _kill_9(proc: subprocess.Popen) -> None:
    """SIGKILL ``bench``; its pool workers must end too (they watch their parent)."""
    workers = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "workers outlived a killed bench"


def _assert_exactly_once(results: Path, expected: int) -> pd.DataFrame:
    runs = pd.read_parquet(results / "runs.parquet")
    assert len(runs) == expected and runs["run_id"].is_unique
    assert (runs["status"] == "ok").all()
    for path in results.rglob("*.json"):
        json.loads(path.read_text())  # every file readable
    return runs


@pytest.mark.slow
def test_kill_9_during_runs_then_resume(tiny_data_dir: Path, tmp_path: Path) -> None:
    results, study = tmp_path / "R", study_file(tmp_path)
    args = ["run", "--config", str(study), "--results", str(results)]
    for already in (1, 3):  # kill twice, at different points
        proc = start_bench(args)
        wait_records(results, already, proc)
        _kill_9(proc)
    finished = {p.name: p.stat().st_mtime_ns for p in (results / "records" / "runs").glob("*")}
    done = bench(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    _assert_exactly_once(results, 6)
    for name, stamp in finished.items():  # nothing finished was re-run
        assert (results / "records" / "runs" / name).stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_ctrl_c_stops_after_current_run(tiny_data_dir: Path, tmp_path: Path) -> None:
    results, study = tmp_path / "R", study_file(tmp_path)
    args = ["run", "--config", str(study), "--results", str(results)]
    proc = start_bench(args)
    wait_records(results, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    kept = len(list((results / "records" / "runs").glob("*.json")))
    assert 1 <= kept < 6
    assert len(pd.read_parquet(results / "runs.parquet")) == kept  # compacted on the way out
    done = bench(*args)
    assert done.returncode == 0
    _assert_exactly_once(results, 6)


@pytest.mark.slow
def test_two_concurrent_writers(tiny_data_dir: Path, tmp_path: Path) -> None:
    results, study = tmp_path / "R", study_file(tmp_path)
    args = ["run", "--config", str(study), "--results", str(results), "--workers", "2"]
    procs = [start_bench(args), start_bench(args)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1500:] for o in outs]
    _assert_exactly_once(results, 6)
    manifest = json.loads((results / "manifest.json").read_text())
    assert len(manifest["sessions"]) == 2
    # each run was trained exactly once across both processes and their workers
    assert sum(s["outcome"].get("ok", 0) for s in manifest["sessions"]) == 6


@pytest.mark.slow
def test_kill_one_of_two_writers_at_random_points(tiny_data_dir: Path, tmp_path: Path) -> None:
    import random

    rng = random.Random(11)
    results, study = tmp_path / "R", study_file(tmp_path)
    args = ["run", "--config", str(study), "--results", str(results), "--workers", "2"]
    victim, other = start_bench(args), start_bench(args)
    wait_records(results, rng.randint(1, 3), victim)
    time.sleep(rng.random() * 0.5)
    _kill_9(victim)
    out = other.communicate(timeout=300)
    assert other.returncode == 0, out[1][-1500:]
    done = bench(*args[:-2])  # finish whatever the killed process held
    assert done.returncode == 0, done.stderr[-1500:]
    runs = _assert_exactly_once(results, 6)
    manifest = json.loads((results / "manifest.json").read_text())
    finished = sum(s.get("outcome", {}).get("ok", 0) for s in manifest["sessions"])
    by_victim = int((runs["trained_by"].astype(str).str.contains(f"'pid': {victim.pid}")
                     | runs["trained_by"].astype(str).str.contains(f'"pid": {victim.pid}')).sum())
    assert finished + by_victim == 6  # no run trained twice, none lost
    assert not list(results.rglob("*.tmp"))  # no half-written file left in view


@pytest.mark.slow
def test_nan_run_is_diverged_and_failure_is_stored(tiny_data_dir: Path, tmp_path: Path) -> None:
    study = study_file(tmp_path, """
name: faults
base: {dataset: mnist, model: model_1, epochs: 3, optimizer: sgd, activation: linear}
factors:
  learning_rate: [1.0e+12, 0.01]
  validation: [test, "holdout:5000"]
""")  # 5,000 of the real 60,000 images pass validation; the tiny data's 600 fail in training
    results = tmp_path / "R"
    out = bench("run", "--config", str(study), "--results", str(results), "--profile", "paper",
                "--seeds", "1")
    assert out.returncode == 1  # failures make the exit code non-zero...
    runs = pd.read_parquet(results / "runs.parquet")
    assert len(runs) == 4  # ...but the sweep went on
    statuses = dict(zip(runs["level"], runs["status"], strict=True))
    assert statuses["1000000000000.0|test"] == "diverged"
    assert statuses["0.01|test"] == "ok"
    failed = runs[runs["status"] == "failed"]
    assert len(failed) == 2 and failed["error"].str.contains("holdout").all()
    assert runs.loc[runs["status"] == "diverged", "diverged_epoch"].iloc[0] == 1
    assert "failed" in out.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nfactors: {optimizer: [adam, adamz]}\n", "field 'factors.optimizer[1]': unknown "
     "optimizer 'adamz'; valid: adadelta"),
    ("name: x\nfactors: {activation: [selu, swishy]}\n", "unknown activation 'swishy'"),
    ("name: x\nfactors: {initializer: [he_nrml]}\n", "unknown initializer 'he_nrml'"),
    ("name: x\nfactors: {colour: [red]}\n", "field 'factors': Value error, unknown factor"),
    ("name: x\nbase: {epochz: 3}\nfactors: {seed_x: [1]}\n", "field 'base'"),
    ("name: x\nfactors: {optimizer: [adam]}\nextra: 1\n", "field 'extra'"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: x\nfactors: {learning_rate: [1e-3]}\n", "field 'factors.learning_rate[0]': "
     "learning_rate must be a number, got '1e-3' (YAML reads 1e-3 as text"),
    ("name: x\nbase: {epochs: 0}\nfactors: {optimizer: [adam]}\n", "field 'base': epochs must "
     "be >= 1"),
    ("name: x\nbase: {epochs: true}\nfactors: {optimizer: [adam]}\n", "field 'base': epochs "
     "must be an integer"),
    ("name: x\nbase: {fraction: 1.5}\nfactors: {optimizer: [adam]}\n", "fraction must be in"),
    ("name: x\nfactors: {batch_size: [32.5]}\n", "batch_size must be an integer, got 32.5"),
    ("name: x\nfactors: {validation: [\"holdout:x\"]}\n", "validation must be test, none or "
     "holdout:N"),
])
def test_bad_study_file_exits_2(tmp_path: Path, text: str, message: str) -> None:
    study = study_file(tmp_path, text)
    out = bench("run", "--config", str(study), "--results", str(tmp_path / "R"))
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "R").exists()


def test_corrupt_dataset_names_file_checksum_and_place(real_data_dir: Path,
                                                       tmp_path: Path) -> None:
    data = tmp_path / "data" / "fashion-mnist"
    data.mkdir(parents=True)
    for f in (real_data_dir / "fashion-mnist").iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    target = data / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])  # truncated
    out = bench("run", "optimizers_mlp", "--data-dir", str(tmp_path / "data"),
                "--results", str(tmp_path / "R"))
    assert out.returncode == 2
    assert "train-labels-idx1-ubyte.gz" in out.stderr and "expected" in out.stderr
    assert "original file" in out.stderr
    assert not (tmp_path / "R").exists()


def test_incompatible_schema_exits_2_and_keeps_files(tmp_path: Path, tiny_data_dir: Path) -> None:
    results = tmp_path / "R"
    results.mkdir()
    manifest = json.dumps({"schema_version": 999})
    (results / "manifest.json").write_text(manifest)
    out = bench("run", "--config", str(study_file(tmp_path)), "--results", str(results))
    assert out.returncode == 2 and "schema version 999" in out.stderr
    assert (results / "manifest.json").read_text() == manifest


def test_truncated_table_and_leftover_temp_files_are_repaired(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    store.write_record("runs", "a", store_record("a"))
    store.compact()
    table = tmp_path / "R" / "runs.parquet"
    table.write_bytes(table.read_bytes()[:50])  # a writer killed outside bench
    (tmp_path / "R" / "records" / "runs" / ".b.json.123.tmp").write_text('{"run": {')
    out = bench("compact", str(tmp_path / "R"))
    assert out.returncode == 0, out.stderr
    assert pd.read_parquet(table)["run_id"].tolist() == ["a"]


def test_crash_inside_a_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.json"
    store_mod.atomic_write_json(path, {"v": 1})

    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        store_mod.atomic_write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_site_on_partial_result_set(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    # records, no tables yet
    store.write_record("runs", "a", store_record("a", study="initializers"))
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "R").rglob("*"))
    out = bench("site", "--results", str(tmp_path / "R"), "--out", str(tmp_path / "site"))
    # the site only reads: it names the command that brings the set up to date
    assert out.returncode == 2 and "bench compact" in out.stderr, out.stderr[-2000:]
    assert len(out.stderr.strip().splitlines()) == 1
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "R").rglob("*")) == before
    assert bench("compact", str(tmp_path / "R")).returncode == 0
    out = bench("site", "--results", str(tmp_path / "R"), "--out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "site" / "studies" / "initializers.html").exists()
    assert os.path.exists(tmp_path / "R" / "runs.parquet")


def test_a_set_whose_runs_all_failed_still_compacts_and_builds(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "R")
    for i in range(3):
        store.write_record("runs", f"r{i}", {"run": {
            "run_id": f"r{i}", "study": "initializers", "status": "failed", "seed": i,
            "error": "boom", "factors": {"factor": "initializer", "level": "zeros",
                                         "profile": "quick"}}})
    assert bench("compact", str(tmp_path / "R")).returncode == 0
    out = bench("site", "--results", str(tmp_path / "R"), "--out", str(tmp_path / "site"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(pd.read_parquet(tmp_path / "R" / "epochs.parquet").columns) == [
        "run_id", "epoch", "split", "metric", "value"]


def test_non_utf8_study_file_exits_2(tmp_path: Path) -> None:
    study = tmp_path / "latin1.yaml"
    study.write_bytes("name: café\nfactors: {optimizer: [adam]}\n".encode("latin-1"))
    out = bench("run", "--config", str(study), "--results", str(tmp_path / "R"))
    assert out.returncode == 2 and "not UTF-8" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and not (tmp_path / "R").exists()


@pytest.mark.slow
def test_a_piped_run_logs_one_line_per_run_with_eta(tiny_data_dir: Path, tmp_path: Path) -> None:
    study = study_file(tmp_path)
    out = bench("run", "--config", str(study), "--results", str(tmp_path / "R"))
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("tiny: ")]
    assert len(lines) == 6 and all("ETA" in ln and " ok acc=" in ln for ln in lines), lines
    assert lines[-1].startswith("tiny: 6/6")
    assert "plan: 6 trainings" in out.stderr
