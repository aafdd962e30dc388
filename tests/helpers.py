"""Test helpers shared by the test files: the real ``bench`` command (in the foreground or
the background), generated datasets, result tables and sets, and the site in Chromium."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str, env: dict[str, str] | None = None, timeout: int = 600,
          cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``bench *args`` to the end (in the repository unless ``cwd``); its output kept."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd or ROOT)


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    """``bench`` refused: exit 2, one error line on stderr naming ``words``, no traceback
    (a tiny test dataset's unverified-checksum warning may come before it)."""
    lines = [ln for ln in done.stderr.strip().splitlines()
             if "UserWarning" not in ln and not ln.startswith("  ")]
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]


def assert_same_accuracy(accuracy: dict[str, list[float]], reference: str, other: str,
                         floor: float, tolerance: float) -> None:
    """Both arms learn (reference mean above ``floor``), their means differ by less than
    ``tolerance`` and Welch's t-test does not separate them (p > 0.01)."""
    import numpy as np
    from scipy import stats

    a, b = np.array(accuracy[reference]), np.array(accuracy[other])
    assert a.mean() > floor, accuracy
    assert abs(a.mean() - b.mean()) < tolerance, accuracy
    assert stats.ttest_ind(a, b, equal_var=False).pvalue > 0.01, accuracy


class FakeExecutor:
    """An executor that trains nothing: ``make_record(spec)`` is each run's record."""

    def __init__(self, make_record) -> None:
        self.make_record = make_record
        self.trained: list = []

    def map_tasks(self, fn, items, failed=None):
        """Each training unit's record from ``make_record(spec)`` (``fn`` is not called)."""
        from bench.spec import RunSpec

        for item in items:
            spec = RunSpec.from_dict(item)
            self.trained.append(spec)
            yield self.make_record(spec)

    def close(self, now: bool = False) -> None:
        pass


# ------------------------------------------------------------------ generated datasets (IDX)
def write_idx(path: Path, array: np.ndarray) -> None:
    """Write ``array`` (uint8) as a gzipped IDX file."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def make_tiny_dataset(folder: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """A learnable 10-class dataset: each class lights up its own band of rows."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        rng.shuffle(y)
        x = rng.integers(0, 60, size=(n, 28, 28))
        for i, label in enumerate(y):
            x[i, 2 * label + 4 : 2 * label + 7, 4:24] = 250
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", y)
    return folder


# ------------------------------------------------------------------ result tables and sets
# he_normal is best; random_uniform is within noise of it; zeros is far worse
PAPER = {"he_normal": [0.900, 0.910, 0.905, 0.902], "random_uniform": [0.901, 0.908, 0.903, 0.904],
         "glorot_uniform": [0.850, 0.860, 0.855, 0.852], "zeros": [0.10, 0.10, 0.10, 0.10]}
QUICK = {"he_normal": [0.80, 0.81, 0.805], "random_uniform": [0.70, 0.71, 0.705],
         "glorot_uniform": [0.75, 0.76, 0.755], "zeros": [0.10, 0.10, 0.10]}
SMALL = {"he_normal": [0.80, 0.82, 0.81], "zeros": [0.1, 0.1, 0.1], "selu": [0.78, 0.79, 0.8]}


def tables(values: dict[str, list[float]], study: str = "initializers",
           factor: str = "initializer") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Runs and epochs tables of a paper-profile study: one run per accuracy in ``values``."""
    runs, epochs = [], []
    for level, accs in values.items():
        for seed, acc in enumerate(accs):
            rid = f"{level}-{seed}"
            runs.append({"run_id": rid, "study": study, "profile": "paper", "factor": factor,
                         "level": level, "seed": seed, "status": "ok", "test_accuracy": acc,
                         "test_loss": 1 - acc, "train_seconds": 1.0, "epochs": 20,
                         "validation": "test", "macro_f1": acc, "params": 1})
            for e in range(1, 21):
                epochs += [{"run_id": rid, "epoch": e, "split": "val", "metric": "accuracy",
                            "value": acc - 0.01 * (20 - e) / 20},
                           {"run_id": rid, "epoch": e, "split": "val", "metric": "loss",
                            "value": 1 - acc}]
    return pd.DataFrame(runs), pd.DataFrame(epochs)


def make_set(root: Path, values: dict[str, list[float]], profile: str = "paper",
             cpu: str = "test cpu", model: str = "mlp", prefix: bool = True,
             provenance: bool = True) -> Path:
    """A result set of the initializers study written through the store, compacted and
    reported (``prefix``: run ids start with the profile; ``provenance``: a git commit and
    library versions in the manifest)."""
    from bench.report import build_report
    from bench.store import ResultStore

    runs, epochs = tables(values)
    store = ResultStore(root)
    extra = {"git_commit": "0123abc", "libraries": {"keras": "3.0.0"}} if provenance else {}
    store.update_manifest(machine={"cpu": cpu, "cpu_count": 2, "gpus": []},
                          keras_backend="tensorflow", **extra)
    for run in runs.to_dict("records"):
        base = run["run_id"]
        run.pop("profile")
        run.update(run_id=f"{profile}-{base}" if prefix else base, dataset="fashion_mnist",
                   model=model, n_train=100, test_fraction=1.0, arch={"kind": "mlp"},
                   factors={"factor": run.pop("factor"), "level": run.pop("level"),
                            "profile": profile})
        mine = epochs[epochs["run_id"] == base]
        store.write_record("runs", run["run_id"], {
            "run": run, "epochs": mine.drop(columns="run_id").to_dict("records"),
            "classes": [], "confusion": [], "predictions": []})
    store.compact()
    build_report(store)  # what `bench run` and `bench compact` do: the site only reads
    return root


def result_set(root: Path) -> Path:
    """A small but real-shaped result set (three initializers, three seeds)."""
    return make_set(root, SMALL, model="mlp_512_128_32", prefix=False, provenance=False)


def store_record(run_id: str, status: str = "ok", study: str = "s") -> dict:
    """A minimal run record as the store takes it."""
    return {
        "run": {"run_id": run_id, "config_hash": run_id, "study": study, "status": status,
                "seed": 0, "batch_size": None, "test_accuracy": 0.5, "arch": {"kind": "mlp"},
                "factors": {"factor": "batch_size", "level": "None", "profile": "smoke"}},
        "epochs": [{"epoch": 1, "split": "train", "metric": "loss", "value": 1.0}],
        "classes": [], "confusion": [], "predictions": [],
    }


# validation accuracy by network: [512] beats every 2-layer net, 512-128 is the best 2-layer
STAGE_VAL = {(512,): 0.90, (512, 128): 0.88, (512, 64): 0.86, (512, 128, 32): 0.87}


def stage_record(spec: Any) -> dict[str, Any]:
    """A staged-architecture run's record from ``STAGE_VAL``; the test set ranks the other
    way, so that selection must not look at it."""
    hidden = tuple(spec.architecture()["hidden"])
    val = STAGE_VAL.get(hidden, 0.5 + len(hidden) * 0.01 + hidden[-1] / 1e5)
    test = 1.0 - val
    run = {"run_id": spec.config_hash(), "config_hash": spec.config_hash(), "study": spec.study,
           "status": "ok", "seed": spec.seed, "arch": spec.architecture(), "epochs": spec.epochs,
           "epochs_completed": spec.epochs, "factors": dict(spec.factors),
           "final_val_accuracy": val, "test_accuracy": test}
    epochs = [{"epoch": spec.epochs, "split": "val", "metric": "accuracy", "value": val},
              {"epoch": spec.epochs, "split": "test", "metric": "accuracy", "value": test}]
    return {"run": run, "epochs": epochs}


# ------------------------------------------------------------------ HPO lookup tables
def true_accuracy(p: dict) -> float:
    """A smooth landscape with one best point (lr 1e-3, 2 conv layers, relu, 512 units)."""
    return (0.9 - 0.05 * abs(math.log10(p["learning_rate"]) + 3)
            - 0.01 * abs(p["conv_layers"] - 2) - 0.02 * (p["activation"] == "sigmoid")
            - 0.005 * (p["units"] != 512) - 0.002 * (p["filters"] == 16)
            - 0.001 * (p["optimizer"] == "rmsprop") - 0.001 * (p["dense_layers"] != 3))


def synthetic_table(noise: float = 0.0, seeds: int = 2) -> Any:
    """A complete lookup table of the HPO grid from ``true_accuracy`` (plus ``noise``)."""
    from bench.hpo.space import HPO_LIBS_GRID, grid_points, point_label
    from bench.hpo.tabular import Table

    rng = np.random.default_rng(0)
    rows = [{"label": point_label(p), "seed": s, "status": "ok",
             "val_accuracy": true_accuracy(p) + rng.normal(0, noise),
             "test_accuracy": true_accuracy(p), "train_seconds": 1.0 + p["conv_layers"]}
            for p in grid_points(HPO_LIBS_GRID) for s in range(seeds)]
    return Table(HPO_LIBS_GRID, pd.DataFrame(rows))


# ------------------------------------------------------------------ `bench` in the background
STUDY = """
name: tiny
base: {dataset: mnist, model: model_1, epochs: 2, optimizer: adam}
factors:
  learning_rate: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]
"""


def study_file(tmp_path: Path, text: str = STUDY) -> Path:
    """``text`` written as tmp_path/tiny.yaml."""
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def start_bench(args: list[str]) -> subprocess.Popen:
    """``bench *args`` started in the background, its output piped."""
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_records(results: Path, n: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``results`` holds ``n`` run records; fail if ``proc`` exits first."""
    deadline = time.time() + timeout
    folder = results / "records" / "runs"
    while time.time() < deadline:
        if folder.exists() and len(list(folder.glob("*.json"))) >= n:
            return
        if proc.poll() is not None:
            raise AssertionError(f"bench exited early: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("timed out waiting for records")


# ------------------------------------------------------------------ the site in Chromium
CHROMIUM = Path("/usr/bin/chromium")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def require_chromium() -> None:
    """Fail (not skip) where Debian's Chromium is missing: CI must run the browser tests."""
    if not CHROMIUM.exists():
        pytest.fail("chromium is not installed (apt-get install chromium); .ci/browser "
                    "installs it")


@contextlib.contextmanager
def site_in_chromium(site: Path, *flags: str) -> Iterator[tuple[Any, str]]:
    """Serve ``site`` on a free local port and open headless Chromium (extra ``flags``):
    yields (Playwright browser, base URL); closes both."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                        args=["--no-sandbox", "--disable-gpu", *flags])
            try:
                yield browser, f"http://127.0.0.1:{server.server_address[1]}/"
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
