"""Test helpers: the real ``bench`` command in a subprocess; accuracy equal over seeds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench(*args: str, env: dict[str, str] | None = None, timeout: int = 600,
          cwd: Path | None = None) -> subprocess.CompletedProcess:
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
