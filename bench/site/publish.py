"""Put a freshly built site into ``--out`` without losing anything that was there.

The site is built into a private folder beside ``--out`` and then moved in. A rebuild
replaces the files the new build writes and deletes only the files the previous build listed
in its marker (``.bench-site``): a user's notes, data or result sets kept inside the folder
stay, and nothing inside an input result set is ever written or deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path, PurePosixPath

from bench.errors import BenchError
from bench.store import atomic_write_bytes

MARKER = ".bench-site"  # in every folder ``bench site`` built; lists the files it wrote


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a file, or a non-empty folder ``bench site`` did not make."""
    if out.exists() and not out.is_dir():
        raise BenchError(f"--out {out} is a file; give a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise BenchError(f"--out {out} is a non-empty folder that bench site did not build; "
                         "give an empty or new folder (nothing was written)")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_inputs(out: Path, inputs: list[Path]) -> None:
    """Refuse an ``--out`` that is, or lies inside, one of the result sets it reads."""
    for d in inputs:
        if _inside(out, Path(d).resolve()):
            raise BenchError(f"--out {out} is inside the result set {d}; give a folder "
                             "outside it (nothing was written)")


def previous_files(out: Path) -> set[str]:
    """The files the previous build listed (relative, inside ``out``); none for an older
    marker without a list, so that nothing unlisted is ever deleted."""
    try:
        listed = json.loads((out / MARKER).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    if not isinstance(listed, list):
        return set()
    return {f for f in listed if isinstance(f, str) and _safe_rel(f)}


def _safe_rel(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(parts) and not rel.startswith("/") and ".." not in parts and MARKER not in parts


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and p.name != MARKER}


def _write_marker(out: Path, files: set[str]) -> None:
    text = json.dumps({"built_by": "bench site", "files": sorted(files)}, indent=0)
    atomic_write_bytes(out / MARKER, text.encode())


def _check_targets(out: Path, rels: set[str], protect: list[Path]) -> None:
    """Every target is a file (or absent) under real folders of ``out``, outside the inputs."""
    for rel in sorted(rels):
        target = out / rel
        if any(_inside(target, p) for p in protect):
            raise BenchError(f"--out {out}: the site would write {rel} inside an input "
                             "result set; give another --out (nothing was written)")
        for parent in [*reversed(target.relative_to(out).parents[:-1])]:
            here = out / parent
            if here.is_symlink() or (here.exists() and not here.is_dir()):
                raise BenchError(f"--out {out}: {parent} is a link or a file where the site "
                                 "writes a folder; move it away (nothing was written)")
        if target.is_dir() and not target.is_symlink():
            raise BenchError(f"--out {out}: {rel} is a folder where the site writes a file; "
                             "move it away (nothing was written)")


def install(built: Path, out: Path, protect: list[Path]) -> None:
    """Move the site in ``built`` into ``out`` (see the module's docstring)."""
    new = _files(built)
    protect = [Path(p).resolve() for p in protect]
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        with contextlib.suppress(FileNotFoundError):
            out.rmdir()
        os.rename(built, out)
        _write_marker(out, new)
        return
    old = previous_files(out)
    _check_targets(out, new, protect)
    _write_marker(out, old | new)  # a crash while moving leaves every written file listed
    for rel in sorted(new):
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        os.replace(built / rel, out / rel)
    for rel in sorted(old - new, reverse=True):
        _remove_stale(out, rel, protect)
    _write_marker(out, new)
    shutil.rmtree(built, ignore_errors=True)


def _remove_stale(out: Path, rel: str, protect: list[Path]) -> None:
    """Delete one file of the previous build (never a folder, never through a link), then
    the folders it leaves empty."""
    target = out / rel
    parents = target.relative_to(out).parents[:-1]
    if any((out / p).is_symlink() for p in parents) or any(_inside(target, p) for p in protect):
        return
    if target.is_symlink() or target.is_file():
        target.unlink()
    for p in parents:
        with contextlib.suppress(OSError):
            (out / p).rmdir()  # only when empty
