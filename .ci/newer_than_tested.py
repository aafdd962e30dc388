"""Job-summary helper of .github/workflows/newest.yml (standard library only).

``newer_than_tested.py CONSTRAINTS FREEZE``: each constrained package whose installed version
differs from the tested one. ``newer_than_tested.py --failures JUNIT_XML``: failed tests.
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def versions_differing(constraints: str, freeze: str) -> list[str]:
    tested = {}
    for line in open(constraints, encoding="utf-8"):
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*[~=<>!]=?\s*([^\s#;]+)", line)
        if match:
            tested[_name(match.group(1))] = match.group(2)
    lines = []
    for line in open(freeze, encoding="utf-8"):
        name, sep, version = line.strip().partition("==")
        if sep and _name(name) in tested and version != tested[_name(name)]:
            lines.append(f"{name}: tested {tested[_name(name)]}, now {version}")
    return lines or ["(all constrained packages at their tested versions)"]


def failures(junit: str) -> list[str]:
    out = []
    for case in ET.parse(junit).iter("testcase"):
        for bad in [*case.iter("failure"), *case.iter("error")]:
            message = (bad.get("message") or "").splitlines()[0:1]
            out.append(f"{case.get('classname')}::{case.get('name')}: {''.join(message)[:200]}")
    return out or ["(none)"]


if __name__ == "__main__":
    if sys.argv[1] == "--failures":
        print("\n".join(failures(sys.argv[2])))
    else:
        print("\n".join(versions_differing(sys.argv[1], sys.argv[2])))
