"""Seconds per test file, most first, from a pytest JUnit XML (``--junitxml``) or a saved
pytest log with ``--durations`` lines (those list only the N slowest phases, so their totals
are a lower bound).

    python tools/test_times.py junit.xml
    python tools/test_times.py pytest.log
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

#: a ``--durations`` line: "12.34s call     tests/test_x.py::test_y[param]"
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s+(?:call|setup|teardown)\s+([^\s:]+)::")


def file_of(classname: str) -> str:
    """The test file of a JUnit ``classname`` ("tests.test_x" or "tests.test_x.TestY")."""
    parts = classname.split(".")
    for i, part in enumerate(parts):
        if part.startswith("test_") or part.endswith("_test"):
            return "/".join(parts[: i + 1]) + ".py"
    return "/".join(parts) + ".py"


def from_junit(path: Path) -> dict[str, tuple[float, int]]:
    """(seconds, tests) per file; a test's time includes its set-up and tear-down."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("file") or file_of(case.get("classname", ""))
        totals[name][0] += float(case.get("time") or 0.0)
        totals[name][1] += 1
    return {k: (v[0], int(v[1])) for k, v in totals.items()}


def from_durations(text: str) -> dict[str, tuple[float, int]]:
    """(seconds, test phases listed) per file from pytest's ``--durations`` lines."""
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for line in text.splitlines():
        match = DURATION.match(line)
        if match:
            totals[match[2]][0] += float(match[1])
            totals[match[2]][1] += 1
    return {k: (v[0], int(v[1])) for k, v in totals.items()}


def read(path: Path) -> tuple[dict[str, tuple[float, int]], str]:
    """Per-file totals from ``path``, JUnit XML or a pytest log (told apart by content), and
    what they count ("tests" or "phases")."""
    text = path.read_text(errors="replace")
    if text.lstrip().startswith("<"):
        return from_junit(path), "tests"
    return from_durations(text), "phases"


def table(totals: dict[str, tuple[float, int]], counted: str = "tests") -> str:
    """The per-file table, most seconds first, with each file's share and the sum."""
    grand = sum(s for s, _ in totals.values()) or 1.0
    width = max([len(f) for f in totals] + [len("total")])
    lines = [f"{'file':<{width}}  {'seconds':>8}  {'share':>6}  {counted:>6}"]
    for name, (secs, n) in sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0])):
        lines.append(f"{name:<{width}}  {secs:8.1f}  {secs / grand:6.1%}  {n:6d}")
    count = sum(n for _, n in totals.values())
    lines.append(f"{'total':<{width}}  {sum(s for s, _ in totals.values()):8.1f}  "
                 f"{'':>6}  {count:6d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the table of each file named; 2 on a usage error or an unreadable file."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = Path(args[0])
    try:
        totals, counted = read(path)
    except (OSError, ET.ParseError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    if not totals:
        print(f"error: no test times in {path}", file=sys.stderr)
        return 2
    print(table(totals, counted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
