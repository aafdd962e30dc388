"""Fault injection as a hostile user (issue 31): site output folders, stored XSS, symlinked
set folders, dying and too many workers, bad records and manifests, bombs and silent-bad
inputs. Each probe ends in exit 2 with one line and nothing written, or in the stored,
correct result."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from bench.store import ResultStore
from tests.helpers import (
    FakeExecutor,
    bench,
    one_line_error,
    result_set,
    site_in_chromium,
    stage_record,
    start_bench,
    study_file,
    tables,
    wait_records,
)

XSS = "<img src=x onerror=alert(31)>"


# ---------------------------------------------------------------- 1. the site's --out folder
def _site(results: list[Path], out: Path) -> None:
    args = [a for r in results for a in ("--results", str(r))]
    done = bench("site", *args, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]


def test_rebuilding_a_site_keeps_the_users_files_and_inputs(tmp_path: Path) -> None:
    results = result_set(tmp_path / "set-a")
    site = tmp_path / "site"
    _site([results], site)
    (site / "MY_NOTES.txt").write_text("notes")
    (site / "mydata").mkdir()
    (site / "mydata" / "precious.csv").write_text("1,2\n")
    inner = result_set(site / "myresults")
    records = {p: p.read_bytes() for p in (inner / "records").rglob("*.json")}
    stale = site / "studies" / "old-study.html"  # a page the previous build listed
    stale.write_text("old")
    marker = json.loads((site / ".bench-site").read_text())
    marker["files"].append("studies/old-study.html")
    (site / ".bench-site").write_text(json.dumps(marker))
    _site([inner], site)
    assert (site / "MY_NOTES.txt").read_text() == "notes"
    assert (site / "mydata" / "precious.csv").read_text() == "1,2\n"
    assert records and {p: p.read_bytes() for p in (inner / "records").rglob("*.json")} == records
    assert (site / "index.html").exists() and not stale.exists()
    assert "myresults" in (site / "index.html").read_text()
    assert not [p for p in tmp_path.iterdir() if ".building-" in p.name]


def test_a_hostile_site_marker_deletes_nothing_outside(tmp_path: Path) -> None:
    results = result_set(tmp_path / "set-a")
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / "victim.txt").write_text("keep")
    (site / ".bench-site").write_text(json.dumps({"files": ["../victim.txt", "/etc/hostname"]}))
    _site([results], site)
    assert (tmp_path / "victim.txt").read_text() == "keep"


@pytest.mark.parametrize("where", ["set", "inside-set"])
def test_site_out_inside_a_result_set_is_refused(tmp_path: Path, where: str) -> None:
    results = result_set(tmp_path / "set-a")
    out = results if where == "set" else results / "site"
    before = sorted(str(p) for p in results.rglob("*"))
    done = bench("site", "--results", str(results), "--out", str(out))
    one_line_error(done)
    assert sorted(str(p) for p in results.rglob("*")) == before


def test_a_link_where_the_site_writes_a_folder_is_refused(tmp_path: Path) -> None:
    results = result_set(tmp_path / "set-a")
    site = tmp_path / "site"
    _site([results], site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    import shutil

    shutil.rmtree(site / "studies")
    (site / "studies").symlink_to(elsewhere)
    done = bench("site", "--results", str(results), "--out", str(site))
    one_line_error(done, "link")
    assert not list(elsewhere.iterdir())


# ---------------------------------------------------------------- 2. stored XSS
def _evil_set(root: Path, title: str = XSS, level: str = XSS) -> Path:
    """A result set holding a user study whose title and level label are markup."""
    runs, epochs = tables({level: [0.8, 0.82, 0.81], "relu": [0.7, 0.71, 0.72]},
                           study="evil", factor="activation")
    store = ResultStore(root)
    store.update_manifest(machine={"cpu": XSS, "cpu_count": 2, "gpus": []},
                          keras_backend="tensorflow", user_studies={"evil": {
                              "name": "evil", "title": title,
                              "factors": {"activation": [level, "relu"]}}})
    for run in runs.to_dict("records"):
        rid = run["run_id"]
        run.update(dataset="mnist", model="mlp", n_train=100, test_fraction=1.0,
                   arch={"kind": "mlp"}, factors={"factor": run.pop("factor"),
                                                  "level": run.pop("level"),
                                                  "profile": run.pop("profile")})
        store.write_record("runs", rid, {
            "run": run, "epochs": epochs[epochs["run_id"] == rid].drop(columns="run_id")
            .to_dict("records"), "classes": [], "confusion": [], "predictions": []})
    done = bench("compact", str(root))
    assert done.returncode == 0, done.stderr[-2000:]
    return root


def _evil_site(tmp_path: Path) -> Path:
    a = _evil_set(tmp_path / "set-<b onmouseover=alert(32)>a")
    b = result_set(tmp_path / "set-b")
    _site([a, b], tmp_path / "site")
    return tmp_path / "site"


def test_titles_labels_and_set_names_are_escaped_in_every_page(tmp_path: Path) -> None:
    import re

    site = _evil_site(tmp_path)
    page = (site / "studies" / "evil.html").read_text()
    assert "&lt;img src=x onerror=alert(31)&gt;" in page
    pages = list(site.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        text = path.read_text()
        assert "<img src=x" not in text and "<b onmouseover" not in text, path
        for title in re.findall(r"<title>(.*?)</title>", text, re.S):
            assert "<" not in title, (path, title)


@pytest.mark.browser
def test_no_script_from_data_runs_in_chromium(tmp_path: Path) -> None:
    site = _evil_site(tmp_path)
    dialogs: list[str] = []
    tooltips: list[str] = []
    compare = next(p for p in (site / "compare").glob("*.html")).name
    with site_in_chromium(site) as (browser, base):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in ("studies/evil.html", f"compare/{compare}", "result-sets.html",
                     "index.html", "claims.html", "data.html", "speed.html"):
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            tooltips += _hover_every_mark(page)
        h1 = page.goto(base + "studies/evil.html") and page.inner_text("h1")
        assert XSS in h1  # shown as text
    assert not dialogs, dialogs
    assert any(XSS in t for t in tooltips), tooltips[:5]  # the label, shown as text


def _hover_every_mark(page) -> list[str]:
    """Wait for the charts, hover their marks so that Vega's tooltips open; their texts."""
    if page.locator("div.vega-chart").count() == 0:
        return []
    page.wait_for_selector(".vega-embed svg", timeout=20_000)
    marks = page.locator(".vega-embed svg .mark-symbol path, .vega-embed svg .mark-rect path")
    texts = []
    for i in range(min(marks.count(), 30)):
        try:
            marks.nth(i).hover(timeout=1000, force=True)
        except Exception:  # noqa: S112 (a mark hidden behind another)
            continue
        tooltip = page.locator("#vg-tooltip-element")
        if tooltip.count():
            assert tooltip.locator("img").count() == 0
            texts.append(tooltip.inner_text())
    return texts


# ---------------------------------------------------------------- 3. links and foreign folders
def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in root.rglob("*") if not p.is_symlink()}


@pytest.mark.parametrize("link", ["derived", "claims", "quarantine", "records/runs", ".lock",
                                  "manifest.json"])
def test_a_set_whose_own_folder_is_a_link_is_refused(tmp_path: Path, link: str) -> None:
    results = result_set(tmp_path / "set")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "mine.txt").write_text("x")
    target = results / link
    if target.is_dir():
        import shutil

        shutil.copytree(target, elsewhere / "copy")
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    target.symlink_to(elsewhere if link != ".lock" else target)  # .lock: a link loop
    before = _tree(elsewhere)
    for args in (["compact", str(results)], ["site", "--results", str(results), "--out",
                                              str(tmp_path / "site")]):
        one_line_error(bench(*args), "symbolic link")
        assert _tree(elsewhere) == before
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("where", ["/", "", "foreign"])
def test_results_in_a_foreign_folder_is_refused(tiny_data_dir: Path, tmp_path: Path,
                                                where: str) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine")
    target = str(cwd) if where == "foreign" else where
    done = bench("run", "initializers", "--results", target, "--workers", "1", cwd=cwd)
    one_line_error(done, "--results")
    assert sorted(p.name for p in cwd.iterdir()) == ["notes.txt"]
    assert not Path("/manifest.json").exists()


def test_compact_on_a_folder_that_is_not_a_set_moves_nothing(tmp_path: Path) -> None:
    import pandas as pd

    folder = tmp_path / "mine"
    folder.mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(folder / "runs.parquet")
    before = _tree(folder)
    one_line_error(bench("compact", str(folder)), "not a result set")
    assert _tree(folder) == before


def test_a_claim_lock_that_is_a_link_is_not_followed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "set")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (store.root / "claims").mkdir()
    (store.root / "claims" / "r1.lock").symlink_to(victim)
    lock = store.try_claim("r1")
    assert lock is not None
    lock.release()
    assert victim.read_text() == "precious"


# ---------------------------------------------------------------- 5, 9. dying and exiting workers
BUILDER = '''
import multiprocessing
import os
import threading
import sys

import keras


def build(input_shape, n_classes, spec):
    in_worker = multiprocessing.parent_process() is not None
    if {when}:
        {how}
    return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(),
                             keras.layers.Dense(n_classes, activation="{last}")])
'''


def _builder_study(tmp_path: Path, how: str = "pass", last: str = "softmax",
                   when: str = "in_worker and spec.seed == 1 and spec.learning_rate == 0.002",
                   ) -> Path:
    (tmp_path / "hostile_builder.py").write_text(BUILDER.format(how=how, last=last, when=when))
    path = tmp_path / "dying.yaml"
    path.write_text("name: dying\nbase: {dataset: mnist, model: 'hostile_builder:build', "
                    "epochs: 1}\nfactors:\n  learning_rate: [0.001, 0.002]\n")
    return path


@pytest.mark.parametrize(("how", "error"), [("os._exit(3)", "WorkerDied"),
                                            ("sys.exit(0)", "SystemExit")])
@pytest.mark.slow
def test_a_dying_worker_is_recorded_failed_and_the_rest_runs(tiny_data_dir: Path,
                                                             tmp_path: Path, how: str,
                                                             error: str) -> None:
    import pandas as pd

    results = tmp_path / "R"
    done = bench("run", "--config", str(_builder_study(tmp_path, how)), "--results",
                 str(results), "--seeds", "2", "--workers", "2")
    assert done.returncode == 1, done.stderr[-3000:]  # failed runs, not a traceback
    assert "BrokenProcessPool" not in done.stderr and "summary" in done.stderr
    runs = pd.read_parquet(results / "runs.parquet").set_index("level")
    assert len(runs) == 4 and runs["run_id"].is_unique
    bad = runs[(runs["seed"] == 1) & (runs.index == "0.002")]
    assert bad["status"].tolist() == ["failed"] and error in bad["error"].iloc[0]
    assert (runs["status"] == "ok").sum() == 3
    session = json.loads((results / "manifest.json").read_text())["sessions"][-1]
    assert session["ended"] and session["outcome"] == {"failed": 1, "ok": 3}


def test_a_builder_returning_logits_is_refused(tiny_data_dir: Path, tmp_path: Path) -> None:
    done = bench("run", "--config", str(_builder_study(tmp_path, last="linear")),
                 "--results", str(tmp_path / "R"))
    one_line_error(done, "softmax")
    assert not (tmp_path / "R").exists()


def test_a_builder_calling_sys_exit_while_validated_is_refused(tiny_data_dir: Path,
                                                               tmp_path: Path) -> None:
    study = _builder_study(tmp_path, how="sys.exit(0)", when="True")
    done = bench("run", "--config", str(study), "--results", str(tmp_path / "R"))
    one_line_error(done, "sys.exit(0)")
    assert not (tmp_path / "R").exists()


def _square_or_die(item: int, options: dict) -> int:
    if item == 3:
        os._exit(9)
    return item * item


def test_the_pool_restarts_and_only_the_killer_fails() -> None:
    from bench.executor import LocalExecutor

    executor = LocalExecutor(workers=2)
    try:
        out = list(executor.map_tasks(_square_or_die, range(7),
                                      failed=lambda item, cause: ("failed", item, cause)))
    finally:
        executor.close()
    failed = [o for o in out if isinstance(o, tuple)]
    assert [f[1] for f in failed] == [3] and "died" in failed[0][2]
    assert sorted(o for o in out if not isinstance(o, tuple)) == [0, 1, 4, 16, 25, 36]


# ---------------------------------------------------------------- 6, 11. options refused early
@pytest.mark.parametrize(("args", "words"), [
    (["--workers", "999"], ["--workers", "cores"]),
    (["--workers", "-1"], ["--workers"]),
    (["--executor", "dask"], ["executor"]),
    (["--algorithms", "foo:bar"], ["foo"]),
    (["--optuna-storage", "postgresql://bob:s3cr3t@host:x:y/db"], ["***"]),
])
def test_bad_options_leave_no_result_folder(tiny_data_dir: Path, tmp_path: Path,
                                            args: list[str], words: list[str]) -> None:
    study = "hpo" if "--algorithms" in args or "--optuna-storage" in args else "initializers"
    done = bench("run", study, "--results", str(tmp_path / "R"), *args)
    one_line_error(done, *words)
    assert "s3cr3t" not in done.stderr + done.stdout
    assert not (tmp_path / "R").exists()


@pytest.mark.parametrize("gap", [0.5, 2.0])  # while runs finish; while the set is compacted
@pytest.mark.slow
def test_a_second_ctrl_c_stops_now_and_records_the_interruption(tiny_data_dir: Path,
                                                                tmp_path: Path,
                                                                gap: float) -> None:
    import signal
    import time

    results = tmp_path / "R"
    proc = start_bench(["run", "--config", str(study_file(tmp_path)), "--results",
                        str(results), "--workers", "2"])
    wait_records(results, 1, proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    # -SIGINT: the Ctrl-C came as the interpreter shut down (a shell shows 130 for both)
    assert proc.returncode in (130, -signal.SIGINT), err[-2000:]
    assert "summary" in err and "interrupted" in err and "Traceback" not in err
    session = json.loads((results / "manifest.json").read_text())["sessions"][-1]
    assert session["interrupted"] is True and session["ended"]


# ---------------------------------------------------------------- 7, 9. inputs that passed
HEAD = "name: hostile\nbase: {dataset: mnist, model: model_1, epochs: 2}\n"


def _bomb() -> str:
    lines = ["factors: {optimizer: [adam]}", "x0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\nclaims: [{kind: best_level, level: *a9}]\n"


SILENT_BAD = {  # (study file body after HEAD, words of the one-line error)
    "alias_bomb": (_bomb(), "alias"),
    "alias_loop": ("factors: &x {optimizer: [adam], y: *x}\n", "refers to itself"),
    "too_many_cells": ("factors:\n  learning_rate: [" + ", ".join(
        f"{0.0001 * (i + 1):.6f}" for i in range(2000)) + "]\n", "2,000 grid cells"),
    "crossed_cells": ("factors:\n  learning_rate: [" + ", ".join(
        f"0.00{i + 1}" for i in range(9)) + "]\n  batch_size: [" + ", ".join(
        str(i + 1) for i in range(200)) + "]\n", "1,800 grid cells"),
    "long_title": ("title: " + "x" * 600 + "\nfactors: {optimizer: [adam]}\n", "title"),
    "adam_epsilon": ("factors:\n  optimizer: [{name: adam, epsilon: -1}]\n", "epsilon"),
    "adam_clipnorm": ("factors:\n  optimizer: [{name: adam, clipnorm: -1}]\n", "clipnorm"),
    "nesterov_text": ("factors:\n  optimizer: [{name: sgd, nesterov: 'yes'}]\n", "true or false"),
    "clipnorm_nan": ("factors:\n  optimizer: [{name: adam, global_clipnorm: .nan}]\n",
                     "global_clipnorm"),
    "schedule_negative": ("factors:\n  learning_rate: [{name: exponential_decay, "
                          "initial_learning_rate: -0.1, decay_steps: 10, decay_rate: 0.9}]\n",
                          "start above 0"),
    "schedule_nan": ("factors:\n  learning_rate: [{name: exponential_decay, "
                     "initial_learning_rate: .nan, decay_steps: 10, decay_rate: 0.9}]\n",
                     "start above 0"),
    "rate_inf": ("factors:\n  learning_rate: [.inf]\n", "learning_rate"),
    "holdout_all": ("factors:\n  validation: ['holdout:59999']\n", "trains on 1 images"),
    "holdout_inf": ("factors:\n  validation: ['holdout:inf']\n", "holdout:N"),
    "holdout_tiny": ("factors:\n  validation: ['holdout:0.00001']\n", "holds out 1 images"),
    "fraction_tiny": ("factors:\n  fraction: [1.0e-9]\n", "trains on 0 images"),
    "epochs_huge": ("factors:\n  epochs: [1000000000]\n", "epochs must be <= 1000"),
    "overfits_one_epoch": ("base: {dataset: mnist, model: model_1, epochs: 1}\nfactors:\n"
                           "  optimizer: [adam, sgd]\nclaims: [{kind: overfits, level: adam}]\n",
                           "4 epochs or more"),
}


@pytest.mark.parametrize("case", sorted(SILENT_BAD))
def test_silently_bad_study_files_are_refused(tmp_path: Path, case: str) -> None:
    import time

    from bench.errors import BenchError
    from bench.studies.config_file import load_study_file

    body, words = SILENT_BAD[case]
    path = tmp_path / "s.yaml"
    path.write_text((HEAD.split("\n")[0] + "\n" if body.startswith("base:") else HEAD) + body)
    started = time.process_time()
    with pytest.raises(BenchError) as err:
        load_study_file(path)
    assert words in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert time.process_time() - started < 30  # a bomb is refused, not expanded


def test_a_big_grid_of_rates_builds_one_network(tmp_path: Path, monkeypatch) -> None:
    from bench.studies import config_file

    built: list[str] = []
    real = config_file._build
    monkeypatch.setattr(config_file, "_build", lambda spec, part="both": (
        built.append(part), real(spec, part))[1])
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "factors:\n  learning_rate: [" + ", ".join(
        f"{0.0001 * (i + 1):.6f}" for i in range(500)) + "]\n")
    study = config_file.load_study_file(path)
    assert len(study.grid()) == 500
    assert built.count("network") == 1 and built.count("optimizer") == 1


def test_a_huge_study_file_is_refused_by_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "title: " + "x" * 2_000_000 + "\nfactors: {optimizer: [adam]}\n")
    done = bench("run", "--config", str(path), "--results", str(tmp_path / "R"))
    one_line_error(done, "at most 1,000,000")
    assert not (tmp_path / "R").exists()


# ---------------------------------------------------------------- 10. tracebacks
def test_a_record_with_text_for_a_number_is_quarantined_not_fatal(tmp_path: Path) -> None:
    results = result_set(tmp_path / "set")
    record = next((results / "records" / "runs").glob("*.json"))
    data = json.loads(record.read_text())
    data["run"]["epochs"] = "many"
    record.write_text(json.dumps(data))
    done = bench("compact", str(results))
    assert done.returncode == 0, done.stderr[-2000:]
    assert (results / "quarantine" / "runs" / record.name).exists()
    _site([results], tmp_path / "site")


@pytest.mark.parametrize("manifest", [[1, 2], "text"])
def test_a_manifest_that_is_not_an_object_is_one_line(tmp_path: Path, manifest) -> None:
    results = result_set(tmp_path / "set")
    (results / "manifest.json").write_text(json.dumps(manifest))
    before = _tree(results)
    for args in (["compact", str(results)], ["status", "--results", str(results)],
                 ["site", "--results", str(results), "--out", str(tmp_path / "site")]):
        one_line_error(bench(*args), "not a JSON object")
    assert _tree(results) == before


@pytest.mark.parametrize("entries", [
    {"../../../../escaped": {"name": "../../../../escaped", "factors": {"optimizer": ["a"]}}},
    {"evil": "/etc/passwd"}, ["not", "a", "mapping"],
    {"other": {"name": "evil", "factors": {"optimizer": ["adam"]}}}])
def test_broken_user_studies_entries_are_left_out(tmp_path: Path, entries) -> None:
    results = result_set(tmp_path / "set")
    manifest = json.loads((results / "manifest.json").read_text())
    manifest["user_studies"] = entries
    (results / "manifest.json").write_text(json.dumps(manifest))
    assert bench("compact", str(results)).returncode == 0
    assert bench("status", "--results", str(results)).returncode == 0
    _site([results], tmp_path / "deep" / "er" / "site")
    assert not list(tmp_path.rglob("escaped*"))


def test_disk_full_during_compaction(tmp_path: Path, monkeypatch) -> None:
    """Simulated: every table write fails with ENOSPC (records are small and still fit)."""
    import errno

    from bench import store as store_mod
    from bench.errors import BenchError

    results = result_set(tmp_path / "set")
    tables = {p.name: p.read_bytes() for p in results.glob("*.parquet")}
    store = ResultStore(results)
    extra = json.loads(next((results / "records" / "runs").glob("*.json")).read_text())
    extra["run"]["run_id"] = "extra"
    store.write_record("runs", "extra", extra)

    def full(path: Path, df) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_mod, "atomic_write_parquet", full)
    with pytest.raises(BenchError, match="No space left on device") as err:
        store.compact()
    assert "\n" not in str(err.value) and "bench compact" in str(err.value)
    assert {p.name: p.read_bytes() for p in results.glob("*.parquet")} == tables
    assert not [p for p in results.rglob("*.tmp")]
    monkeypatch.undo()
    store.compact()  # space again: nothing was lost
    assert "extra" in set(store.table("runs")["run_id"])


def test_a_session_records_its_end_when_compaction_fails(tiny_data_dir: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    from bench import executor as executor_mod
    from bench.app import RunRequest, execute
    from bench.errors import BenchError
    from bench.studies.config_file import load_study_file

    fake = FakeExecutor(lambda spec: executor_mod.died_record(spec, "not trained"))
    monkeypatch.setattr(executor_mod, "make_executor", lambda *a, **k: fake)

    def full(self) -> None:
        raise BenchError("cannot write the tables: No space left on device")

    monkeypatch.setattr(ResultStore, "compact", full)
    results = tmp_path / "R"
    with pytest.raises(BenchError, match="No space"):
        execute(RunRequest([load_study_file(study_file(tmp_path))], "smoke", 1, results,
                           workers=1))
    session = json.loads((results / "manifest.json").read_text())["sessions"][-1]
    assert session["ended"] and "No space" in session["compaction_error"]
    assert session["outcome"] == {"failed": 6} and len(fake.trained) == 6
    assert len(list((results / "records" / "runs").glob("*.json"))) == 6


# ---------------------------------------------------------------- 11. smaller
def test_two_sets_with_one_folder_name_publish_both(tmp_path: Path) -> None:
    import hashlib

    a, b = result_set(tmp_path / "a" / "base"), result_set(tmp_path / "b" / "base")
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["machine"]["cpu"] = "the other cpu"
    (b / "manifest.json").write_text(json.dumps(manifest))
    _site([a, b], tmp_path / "site")
    page = (tmp_path / "site" / "data.html").read_text()
    for name, root in (("a-base", a), ("b-base", b)):
        published = tmp_path / "site" / "data" / name / "manifest.json"
        assert published.read_bytes() == (root / "manifest.json").read_bytes()
        assert hashlib.sha256(published.read_bytes()).hexdigest() in page


def test_records_and_tables_follow_the_umask(tmp_path: Path) -> None:
    import stat

    old = os.umask(0o022)
    try:
        results = result_set(tmp_path / "set")
    finally:
        os.umask(old)
    files = [p for p in results.rglob("*") if p.is_file() and p.name != ".lock"]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in files), \
        {p.name: oct(p.stat().st_mode) for p in files}


# ---------------------------------------------------------------- 8. crossed labels
def test_crossed_labels_with_a_bar_are_refused(tmp_path: Path) -> None:
    from bench.errors import BenchError
    from bench.studies.config_file import load_study_file

    path = tmp_path / "s.yaml"
    path.write_text(HEAD + "factors:\n  optimizer: [{name: adam, label: 'a|b'}, "
                    "{name: adam, label: a}]\n  learning_rate: [{learning_rate: 0.001, "
                    "label: c}, {learning_rate: 0.002, label: 'b|c'}]\n")
    with pytest.raises(BenchError, match=r"factors\.optimizer\[0\].*'\|'"):
        load_study_file(path)
    path.write_text(HEAD + "factors:\n  optimizer: [{name: adam, label: 'a|b'}]\n")
    assert load_study_file(path).grid()  # one factor: no cell to collide with


# ---------------------------------------------------------------- 4. two processes, one pyramid
def test_two_runners_on_a_staged_study_grow_one_pyramid(tmp_path: Path) -> None:
    """Two runners (threads standing in for processes: the claim locks are file locks) on
    one set: each stage's winner is chosen once every run of the stage is stored."""
    import time

    from bench.studies import REGISTRY, get_profile
    from bench.studies.runner import StopFlag, StudyRunner

    def slow(spec):
        """[512] wins stage 1 with its slow seed-0 run (the smoke profile's one pilot seed
        chooses): a runner that chooses before that run is stored grows [256] instead."""
        hidden = tuple(spec.architecture()["hidden"])
        record = stage_record(spec)
        if len(hidden) == 1:
            val = {(256,): 0.7, (512,): (0.99, 0.6)[spec.seed]}.get(hidden, 0.5)
            record["run"]["final_val_accuracy"] = val
            record["epochs"][0]["value"] = val
        time.sleep(0.6 if hidden == (512,) and spec.seed == 0 else 0.02)
        return record

    executors = [FakeExecutor(slow), FakeExecutor(slow)]
    errors: list[BaseException] = []

    def run(executor: FakeExecutor) -> None:
        try:
            runner = StudyRunner(ResultStore(tmp_path / "R"), executor, get_profile("smoke"),
                                 seeds=2)
            runner.poll_seconds = 0.05
            with StopFlag() as stop:
                runner.run(REGISTRY.get("architecture"), stop)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in executors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    trained = [s for e in executors for s in e.trained]
    assert len(trained) == 2 * (9 + 4 + 4 + 1)  # each run once: one pyramid
    assert len({s.config_hash() for s in trained}) == len(trained)
    assert all(e.trained for e in executors)  # both took part
    bases = {}
    for spec in trained:
        bases.setdefault(spec.factors["factor"], set()).add(
            tuple(spec.architecture()["hidden"][:-1]))
    assert all(len(b) == 1 for b in bases.values()), bases
    assert bases["layer2_units"] == {(512,)}


def test_a_chart_named_after_a_level_stays_in_its_folder_and_attribute(tmp_path: Path) -> None:
    import altair as alt
    import pandas as pd

    from bench.site.writer import SiteWriter

    w = SiteWriter(tmp_path / "docs")
    chart = alt.Chart(pd.DataFrame({"x": [1]})).mark_point().encode(x="x")
    html_ = w.chart("studies/keras_models.md", 'confusion-../../../x" onmouseover="alert(1)', chart)
    w.write()
    assert '"' not in html_.split('data-spec="')[1].split('"')[0]
    written = [p for p in tmp_path.rglob("*.json")]
    assert len(written) == 1 and (tmp_path / "docs" / "studies" / "charts") in written[0].parents
