"""HPO searches as units of work: resume after an interruption, parallel workers, Optuna RDB.

The resume tests use a fake, instant objective in place of ``engine.run`` (the libraries and
the storage are real); the CLI tests train tiny real CNNs; the PostgreSQL tests start a real
server (Debian's ``postgresql`` package) in a temporary folder.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from bench import engine
from bench.hpo import libraries
from bench.hpo.runner import plan_searches, run_hpo_studies, run_hpo_study
from bench.hpo.search import run_search_task
from bench.spec import RunSpec
from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.runner import StopFlag, StudyRunner
from tests.helpers import bench

METHODS = ["optuna:tpe", "optuna:random", "optuna:cmaes", "optuna:qmc", "hyperopt:tpe",
           "hyperopt:rand", "hyperopt:anneal", "hyperopt:atpe", "skopt:gp", "skopt:forest",
           "skopt:gbrt", "skopt:random"]
N_TRIALS, KILLED_AFTER = 6, 3


class Killed(BaseException):
    """Stands for ``kill -9`` mid-search: no library catches it, nothing is cleaned up."""


class FakeEngine:
    """``engine.run`` replaced by an instant objective; records what it 'trained'."""

    def __init__(self, kill_after: int | None = None, on_call=None,
                 fail_sigmoid: bool = True) -> None:
        self.trained: list[float] = []
        self.fail_sigmoid = fail_sigmoid
        self.kill_after = kill_after
        self.on_call = on_call

    def __call__(self, spec: RunSpec, options=None) -> dict:
        if self.kill_after is not None and len(self.trained) >= self.kill_after:
            raise Killed
        self.trained.append(spec.learning_rate)
        if self.on_call is not None:
            self.on_call(len(self.trained))
        if self.fail_sigmoid and spec.arch.get("activation") == "sigmoid":
            return {"run": {"status": "failed", "error": "injected failure"}}
        acc = 0.5 + 0.04 * math.log10(spec.learning_rate)
        return {"run": {"status": "ok", "score_accuracy": acc, "test_accuracy": acc,
                        "test_loss": 1 - acc, "train_seconds": 0.0}}


def _runner(tmp_path: Path, executor=None, trials: int = N_TRIALS, force: bool = False):
    profile = dataclasses.replace(get_profile("smoke"), hpo_trials=trials)
    store = ResultStore(tmp_path / "R")
    if executor is None:
        return SimpleNamespace(profile=profile, store=store, seeds=[0], seeds_overridden=True,
                               force=force)
    return StudyRunner(store, executor, profile, seeds=1, force=force)


def _one_task(runner, method: str):
    stop_file = runner.store.path("claims") / "stop-test"
    tasks = plan_searches(REGISTRY.get("hpo"), runner, {"algorithms": method}, stop_file)
    return tasks[0]  # one fraction is enough here


@pytest.mark.parametrize("method", METHODS)
def test_killed_search_resumes_from_its_stored_trials(method: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runner = _runner(tmp_path)
    task = _one_task(runner, method)
    first = FakeEngine(kill_after=KILLED_AFTER)
    monkeypatch.setattr(engine, "run", first)
    with pytest.raises(Killed):
        run_search_task(task, {})
    assert len(first.trained) == KILLED_AFTER

    second = FakeEngine()
    monkeypatch.setattr(engine, "run", second)
    record = run_search_task(task, {})
    search, trials = record["search"], record["trials"]
    assert search["status"] == "ok" and search["n_trials"] == N_TRIALS
    assert search["n_resumed"] == KILLED_AFTER
    assert [t["trial"] for t in trials] == list(range(N_TRIALS))
    # the first k trials come from storage, not trained again; the rest were trained now
    assert len(second.trained) == N_TRIALS - KILLED_AFTER
    learning_rates = [t["param_learning_rate"] for t in trials]
    assert learning_rates[:KILLED_AFTER] == pytest.approx(first.trained)
    assert learning_rates[KILLED_AFTER:] == pytest.approx(second.trained)
    # a resumed search does not replay the draws it already made
    assert len({t["params_json"] for t in trials}) == N_TRIALS
    assert trials[-1]["elapsed_seconds"] >= trials[KILLED_AFTER - 1]["elapsed_seconds"]
    best = [t["best_so_far"] for t in trials if t["best_so_far"] is not None]
    assert best == sorted(best)

    if method.startswith("optuna"):
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage = JournalStorage(JournalFileBackend(str(task.optuna_storage)))
        study = optuna.load_study(study_name=task.optuna_study, storage=storage)
        told = [t for t in study.trials if libraries.ROW_ATTR in t.user_attrs]
        assert len(told) == N_TRIALS  # the killed trial was closed, not counted
        assert all(t.state.is_finished() for t in study.trials)
    else:
        assert len(list(task.partial_dir.glob("trial-*.json"))) == N_TRIALS


@pytest.mark.parametrize("method", ["skopt:random", "optuna:qmc"])
def test_resumed_sequence_equals_an_uninterrupted_one(method: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the proposals do not depend on a random stream, a search stopped after its
    k-th trial (Ctrl-C) and resumed proposes what an uninterrupted one does."""
    whole = FakeEngine(fail_sigmoid=False)  # QMC's sequence starts after a completed trial
    monkeypatch.setattr(engine, "run", whole)
    run_search_task(_one_task(_runner(tmp_path / "a"), method), {})
    task = _one_task(_runner(tmp_path / "b"), method)
    task.stop_file.parent.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(engine, "run", FakeEngine(fail_sigmoid=False, on_call=lambda n: (
        task.stop_file.touch() if n == KILLED_AFTER else None)))
    stopped = run_search_task(task, {})
    assert stopped["search"]["status"] == "interrupted"
    assert stopped["search"]["n_trials"] == KILLED_AFTER
    task.stop_file.unlink()
    monkeypatch.setattr(engine, "run", FakeEngine(fail_sigmoid=False))
    resumed = run_search_task(task, {})
    assert resumed["search"]["n_resumed"] == KILLED_AFTER
    assert [t["param_learning_rate"] for t in resumed["trials"]] == pytest.approx(whole.trained)


def test_force_starts_a_search_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for method in ("optuna:tpe", "hyperopt:tpe"):
        monkeypatch.setattr(engine, "run", FakeEngine())
        run_search_task(_one_task(_runner(tmp_path / method), method), {})
        fake = FakeEngine()
        monkeypatch.setattr(engine, "run", fake)
        task = dataclasses.replace(_one_task(_runner(tmp_path / method), method), fresh=True)
        record = run_search_task(task, {})
        assert record["search"]["n_resumed"] == 0 and len(fake.trained) == N_TRIALS


def test_ctrl_c_stops_searches_after_their_trial_and_the_rerun_completes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the runner and the store: first Ctrl-C after k trainings, then run again."""
    from bench.executor import LocalExecutor

    study = REGISTRY.get("hpo")
    extra = {"algorithms": "optuna:tpe,hyperopt:tpe,skopt:gp"}
    runner = _runner(tmp_path, LocalExecutor(1))
    with StopFlag() as stop:
        fake = FakeEngine(on_call=lambda n: stop._handle(signal.SIGINT, None) if n == 2
                          else None)
        monkeypatch.setattr(engine, "run", fake)
        run_hpo_study(study, runner, stop, extra)
    assert runner.outcome.interrupted and len(fake.trained) == 2
    assert runner.outcome.ran == {"search interrupted": 1}
    assert not list(runner.store.path("records").glob("searches/*.json"))
    assert not list(runner.store.path("claims").glob("stop-*"))

    rerun = _runner(tmp_path, LocalExecutor(1))
    fake2 = FakeEngine()
    monkeypatch.setattr(engine, "run", fake2)
    run_hpo_study(study, rerun, StopFlag(), extra)
    searches = {r["search"]["search_id"]: r for r in rerun.store.records("searches")}
    assert len(searches) == 3 * 4 and not rerun.outcome.interrupted
    assert all(len(r["trials"]) == N_TRIALS for r in searches.values())
    assert sorted(r["search"]["n_resumed"] for r in searches.values()) == [0] * 11 + [2]
    assert len(fake2.trained) == 12 * N_TRIALS - 2  # the two stored trials were not retrained
    assert not list(rerun.store.path("partial").glob("*/*.json"))  # cleared once stored


def test_a_claimed_search_is_left_to_its_owner(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.executor import LocalExecutor

    runner = _runner(tmp_path, LocalExecutor(1))
    extra = {"algorithms": "optuna:random"}
    tasks = plan_searches(REGISTRY.get("hpo"), runner, extra, Path("unused"))
    held = runner.store.try_claim(f"search-{tasks[0].search_id}")  # another process runs it
    monkeypatch.setattr(engine, "run", FakeEngine())
    run_hpo_study(REGISTRY.get("hpo"), runner, StopFlag(), extra)
    held.release()
    stored = {r["search"]["search_id"] for r in runner.store.records("searches")}
    assert stored == {t.search_id for t in tasks[1:]}


class BatchRecorder:
    """An executor that records each batch it is handed before running it in-process."""

    options = None

    def __init__(self) -> None:
        self.batches: list[list] = []

    def map_tasks(self, fn, items, failed=None):
        batch = list(items)
        self.batches.append(batch)
        for item in batch:
            yield fn(item, {})


def test_hpo_studies_run_as_one_batch_seed_major_longest_first(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.kinds import batches as _batches
    from bench.studies.cost import run_seconds

    studies = [REGISTRY.get("hpo_epochs"), REGISTRY.get("hpo_optuna_hyperopt")]
    assert _batches([REGISTRY.get("epochs"), *studies, REGISTRY.get("hpo_baselines")]) == [
        [REGISTRY.get("epochs")], studies, [REGISTRY.get("hpo_baselines")]]
    recorder = BatchRecorder()
    profile = dataclasses.replace(get_profile("smoke"), hpo_trials=2)
    runner = StudyRunner(ResultStore(tmp_path / "R"), recorder, profile, seeds=2)
    monkeypatch.setattr(engine, "run", FakeEngine(fail_sigmoid=False))
    run_hpo_studies(studies, runner, StopFlag(), {"algorithms": "optuna:random"})
    assert len(recorder.batches) == 1  # no barrier between the two studies
    batch = recorder.batches[0]
    assert {t.common["study"] for t in batch} == {s.name for s in studies}
    seeds = [t.common["seed"] for t in batch]
    assert seeds == sorted(seeds) and set(seeds) == {0, 1}
    for seed in (0, 1):
        costs = [t.n_trials * run_seconds(RunSpec.from_dict(t.spec)) for t in batch
                 if t.common["seed"] == seed]
        assert costs == sorted(costs, reverse=True) and costs[0] > costs[-1]
    assert len(list(runner.store.records("searches"))) == len(batch) == 6


# ----------------------------------------------------------------------------- real trainings
@pytest.mark.slow
def test_two_workers_run_searches_in_parallel_processes(real_data_dir: Path,
                                                        tmp_path: Path) -> None:
    results = tmp_path / "H"
    out = bench("run", "hpo", "--profile", "smoke", "--results", str(results), "--workers", "2",
                "--algorithms", "optuna:tpe,hyperopt:tpe,skopt:gp")
    assert out.returncode == 0, out.stderr[-3000:]
    searches = pd.read_parquet(results / "searches.parquet")
    trials = pd.read_parquet(results / "trials.parquet")
    assert len(searches) == 12 and (searches["status"] == "ok").all()
    assert (searches["n_trials"] == 2).all() and (searches["n_resumed"] == 0).all()
    assert len(trials) == 24 and trials["trial_key"].is_unique
    assert searches["worker_pid"].nunique() == 2  # two pool processes ran the searches
    assert "12/12" in out.stderr  # progress reached the end
    again = bench("run", "hpo", "--profile", "smoke", "--results", str(results), "--workers",
                  "2", "--algorithms", "optuna:tpe,hyperopt:tpe,skopt:gp")
    assert again.returncode == 0 and "ran:" not in again.stderr


@pytest.mark.slow
def test_ray_runs_one_task_per_search(real_data_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "ray"
    out = bench("run", "hpo", "--profile", "smoke", "--results", str(results), "--executor",
                "ray", "--workers", "2", "--algorithms", "skopt:random")
    assert out.returncode == 0, out.stderr[-3000:]
    searches = pd.read_parquet(results / "searches.parquet")
    assert len(searches) == 4 and (searches["status"] == "ok").all()
    assert (searches["n_trials"] == 2).all()
    assert searches["worker_pid"].nunique() >= 2  # Ray worker processes, not the driver
    assert not (results / "partial").exists()  # trials kept only until the search is stored


# ----------------------------------------------------------------------------- PostgreSQL
def _pg_binary(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server of its own in a temporary folder (as ``postgres`` when root)."""
    initdb, pg_ctl = _pg_binary("initdb"), _pg_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail("PostgreSQL server binaries are not installed (apt-get install "
                    "postgresql); .ci/run installs them")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None or not _user_exists("postgres"):
            pytest.fail("running as root needs the 'postgres' user (Debian's postgresql "
                        "package creates it) and runuser")
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    data = folder / "data"
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    for _ in range(5):  # a free port may be taken before the server binds it (xdist workers)
        port = _free_port()
        started = subprocess.run([*as_user, pg_ctl, "-D", str(data), "-l", str(folder / "log"),
                                  "-w", "-o", f"-p {port} -k {folder} -c "
                                  "listen_addresses=127.0.0.1", "start"], capture_output=True)
        if started.returncode == 0:
            break
    else:
        log = (folder / "log").read_text(errors="replace")[-2000:]
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start on a free port: {log}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


SHARED_WORKER = textwrap.dedent("""
    import os, sys, time, optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    study = optuna.create_study(study_name=name, storage=url, load_if_exists=True,
                                sampler=optuna.samplers.TPESampler(seed=os.getpid()))
    def objective(trial):
        trial.set_user_attr("pid", os.getpid())
        x = trial.suggest_float("x", -5, 5)
        time.sleep(0.02)  # let the two processes interleave
        return (x - 1) ** 2
    study.optimize(objective, n_trials=n)
""")


def test_two_processes_share_one_optuna_study_in_postgresql(postgres_url: str) -> None:
    import optuna

    optuna.create_study(study_name="shared", storage=postgres_url)  # before both start
    workers = [subprocess.Popen([sys.executable, "-c", SHARED_WORKER, postgres_url, "shared",
                                 str(n)]) for n in (25, 15)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    trials = optuna.load_study(study_name="shared", storage=postgres_url).trials
    assert len(trials) == 25 + 15
    assert sorted(t.number for t in trials) == list(range(40))  # none lost or duplicated
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    by_pid = pd.Series([t.user_attrs["pid"] for t in trials]).value_counts()
    assert sorted(by_pid) == [15, 25]


def test_searches_resume_from_postgresql(postgres_url: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    runner = _runner(tmp_path)
    stop_file = runner.store.path("claims") / "stop-test"
    task, = [t for t in plan_searches(REGISTRY.get("hpo"), runner, {
        "algorithms": "optuna:tpe", "optuna_storage": postgres_url}, stop_file)
        if t.common["fraction_nominal"] == 0.5]
    assert task.optuna_study.startswith("R-hpo-optuna-tpe-")  # no timestamp: found again
    monkeypatch.setattr(engine, "run", FakeEngine(kill_after=KILLED_AFTER))
    with pytest.raises(Killed):
        run_search_task(task, {})
    second = FakeEngine()
    monkeypatch.setattr(engine, "run", second)
    record = run_search_task(task, {})
    assert record["search"]["n_resumed"] == KILLED_AFTER
    assert len(second.trained) == N_TRIALS - KILLED_AFTER
    assert [t["trial"] for t in record["trials"]] == list(range(N_TRIALS))


@pytest.mark.slow
def test_bench_run_optuna_storage(postgres_url: str, real_data_dir: Path,
                                  tmp_path: Path) -> None:
    import optuna

    results = tmp_path / "PG"
    out = bench("run", "hpo", "--profile", "smoke", "--results", str(results),
                "--algorithms", "optuna:random", "--optuna-storage", postgres_url)
    assert out.returncode == 0, out.stderr[-3000:]
    searches = pd.read_parquet(results / "searches.parquet")
    assert len(searches) == 4 and (searches["status"] == "ok").all()
    assert not (results / "optuna" / "journal.log").exists()  # the studies are in the RDB
    names = [n for n in optuna.get_all_study_names(postgres_url) if n.startswith("PG-hpo-")]
    assert sorted(n.rsplit("-", 1)[1] for n in names) == sorted(searches["search_id"])
    for name in names:
        study = optuna.load_study(study_name=name, storage=postgres_url)
        assert len([t for t in study.trials if libraries.ROW_ATTR in t.user_attrs]) == 2
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["sessions"][-1]["optuna_storage"] == postgres_url  # no password to hide


def test_bad_optuna_storage_exits_2_without_writing(tmp_path: Path) -> None:
    for url in ("not a url", "postgresql+psycopg2://nobody@127.0.0.1:1/none"):
        out = bench("run", "hpo", "--profile", "smoke", "--results", str(tmp_path / "R"),
                    "--optuna-storage", url)
        assert out.returncode == 2, out.stderr[-2000:]
        assert "--optuna-storage" in out.stderr and len(out.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "R").exists()
    out = bench("all", "--profile", "smoke", "--results", str(tmp_path / "R"), "--no-site",
                "--optuna-storage", "not a url")
    assert out.returncode == 2 and "--optuna-storage" in out.stderr
    assert not (tmp_path / "R").exists()
