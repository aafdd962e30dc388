"""Stage 5 — store: every file a result set holds is read and written here.

Layout of a result set (a directory)::

    manifest.json            environment, sessions, schema version
    records/runs/<id>.json   one file per finished run  (the source of truth)
    records/searches/<id>.json  one file per finished HPO search (trials)
    runs.parquet epochs.parquet classes.parquet confusion.parquet predictions.parquet
    trials.parquet ...       tables compacted from the records (``pandas.read_parquet``)
    derived/*.parquet        statistics, claims, paper-vs-measured (written by ``report``)

Crash safety: every file is written to a temporary name and ``os.replace``-d into place, so
a reader sees the old or the new file, never half of one. A record is written once its run
has finished; tables are rebuilt from the records (idempotent), so ``kill -9`` at any moment
loses at most the run in flight. Several processes may write one result set: records have
unique names, compaction and the manifest take a file lock, and a claim lock keeps two
workers from training the same run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from bench import SCHEMA_VERSION, schema
from bench.errors import BenchError
from bench.record_check import record_problem as _record_problem
from bench.record_check import user_studies  # noqa: F401 (re-exported)
from bench.tidy import add_required, tidy_runs, uniform_objects

RUN_TABLES = ("runs", "epochs", "classes", "confusion", "predictions")
SEARCH_TABLES = ("searches", "trials")
#: what only a result set holds: a folder with none of these is someone else's
SET_MARKS = ("manifest.json", "records", "claims", ".lock", "optuna", "partial", "quarantine")
#: the set's own folders and files: never a symbolic link (writes would land elsewhere)
OWN = ("records", "records/runs", "records/searches", "derived", "claims", "quarantine",
       "quarantine/runs", "quarantine/searches", "optuna", "partial", "manifest.json", ".lock",
       *(f"{t}.parquet" for t in (*RUN_TABLES, *SEARCH_TABLES)))
FINAL_STATUSES = ("ok", "diverged")
 # a stored run with one of these is not run again


def _umask_mode() -> int:
    """The mode a plain ``open`` would give a new file (a set is shared between hosts and
    people; ``mkstemp`` alone would make every file private, 0600)."""
    try:  # Linux: read it without setting it (os.umask would race other threads)
        line = next(ln for ln in Path("/proc/self/status").read_text().splitlines()
                    if ln.startswith("Umask:"))
        mask = int(line.split()[1], 8)
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0)
        os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file + rename (fsync'd)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _umask_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any, compact: bool = False) -> None:
    """JSON, indented for people (the manifest) or ``compact`` (records: a third smaller)."""
    text = json.dumps(obj, default=_json_default, **(
        {"separators": (",", ":")} if compact else {"indent": 1}))
    atomic_write_bytes(path, text.encode())


def atomic_write_parquet(path: Path, df: pd.DataFrame | pa.Table) -> None:
    """A DataFrame or Arrow table as Parquet, via a temporary file + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _umask_mode())
    os.close(fd)
    try:
        if isinstance(df, pa.Table):
            pq.write_table(df, tmp)
        else:
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, set | tuple):
        return list(obj)
    return str(obj)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"unreadable file {path}: {exc}") from exc


class ResultStore:
    """A result set on disk."""

    def __init__(self, root: Path | str, create: bool = True) -> None:
        if not str(root).strip():
            raise BenchError("--results is empty; name a folder for the result set")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise BenchError(f"result set {self.root} is a file, not a folder")
        if not create and not self.root.is_dir():
            raise BenchError(f"result set {self.root} does not exist")
        self._check_folder(create)
        if create:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                # per process and thread: two runners of one process must not share it
                probe = self.root / f".write-test-{os.getpid()}-{threading.get_ident()}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise BenchError(f"cannot write the result set {self.root}: "
                                 f"{exc.strerror or exc}") from exc
        self._check_schema()

    def _check_folder(self, create: bool) -> None:
        """Refuse a folder that is not a result set (a new set needs an empty or new one),
        and a set whose own folders or files are links (writes would land elsewhere)."""
        root = self.root
        if root.is_dir() and not any((root / m).exists() for m in SET_MARKS) \
                and any(root.iterdir()):  # an empty folder is an empty set
            if not create:
                raise BenchError(f"{root} is not a result set (no manifest.json or records/)")
            raise BenchError(f"--results {root} is a non-empty folder that is not a result "
                             "set; give a new or empty folder (nothing was written)")
        links = [name for name in OWN if (root / name).is_symlink()]
        if links:
            raise BenchError(f"result set {root}: {links[0]} is a symbolic link; a set holds "
                             "its own files (copy the target in; nothing was written)")

    # ------------------------------------------------------------------ paths and locks
    def path(self, name: str) -> Path:
        return self.root / name

    def table_path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    @contextlib.contextmanager
    def lock(self, timeout: float = 120) -> Iterator[None]:
        """Exclusive lock for compaction and manifest updates."""
        with FileLock(str(self.root / ".lock"), timeout=timeout):
            yield

    def try_claim(self, run_id: str) -> FileLock | None:
        """Claim a run for this process until the returned lock is released (after its
        record is written); None when another process holds it."""
        claims = self.root / "claims"
        claims.mkdir(exist_ok=True)
        path = claims / f"{run_id}.lock"
        if path.is_symlink():  # locking opens (and truncates) the link's target
            path.unlink()
        lock = FileLock(str(path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return None
        return lock

    # ------------------------------------------------------------------ manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        manifest = read_json(self.manifest_path)
        if not isinstance(manifest, dict):
            raise BenchError(f"{self.manifest_path} is not a JSON object; restore it from a "
                             "copy (nothing was written)")
        return manifest

    def _check_schema(self) -> None:
        if not self.manifest_path.exists():
            return
        version = self.manifest().get("schema_version")
        if version != SCHEMA_VERSION:
            raise BenchError(
                f"result set {self.root} has schema version {version}, this bench reads "
                f"version {SCHEMA_VERSION}; use a new --results directory"
            )

    def update_manifest(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into manifest.json (``sessions`` entries are appended/updated)."""
        with self.lock():
            manifest = self.manifest() or {"schema_version": SCHEMA_VERSION, "created": time.time()}
            session = changes.pop("session", None)
            manifest.update(changes)
            if session is not None:
                sessions = manifest.setdefault("sessions", [])
                sessions[:] = [s for s in sessions if s.get("id") != session["id"]] + [session]
            manifest["updated"] = time.time()
            try:
                atomic_write_json(self.manifest_path, manifest)
            except OSError as exc:
                raise BenchError(f"cannot write {self.manifest_path}: {exc.strerror or exc}; "
                                 "the previous manifest is kept") from exc
            return manifest

    # ------------------------------------------------------------------ records
    def _records_dir(self, kind: str) -> Path:
        return self.root / "records" / kind

    def write_record(self, kind: str, key: str, record: dict[str, Any]) -> Path:
        path = self._records_dir(kind) / f"{key}.json"
        atomic_write_json(path, record, compact=True)
        return path

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        """Every readable record of ``kind``; a damaged one is moved to ``quarantine/``
        (kept, never deleted), reported once, and its run is trained again later."""
        folder = self._records_dir(kind)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                rec = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                self._quarantine(path, f"unreadable JSON ({exc})")
                continue
            problem = _record_problem(kind, rec)
            if problem:
                self._quarantine(path, problem)
                continue
            yield rec

    def _quarantine(self, path: Path, why: str) -> None:
        """Move a damaged record aside, keeping its bytes, and warn once."""
        target = self.root / "quarantine" / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target = target.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
        with contextlib.suppress(OSError):
            os.replace(path, target)
            warnings.warn(f"damaged record {path.name} moved to {target} ({why}); its "
                          "table rows are kept and the run will be trained again",
                          stacklevel=3)

    def pending(self, kind: str) -> set[str]:
        """Ids of ``kind`` records not (yet) in their table: a run still going, or one that
        ended without compacting. Reads file names and one column, no record."""
        folder = self._records_dir(kind)
        names = {p.stem for p in folder.glob("*.json")} if folder.is_dir() else set()
        table, key = ("runs", "run_id") if kind == "runs" else ("searches", "search_id")
        if not names or not self.has_table(table):
            return names
        try:
            have = set(pd.read_parquet(self.table_path(table), columns=[key])[key].astype(str))
        except Exception:  # noqa: BLE001 - a damaged table: everything is pending
            return names
        return names - have

    def quarantined(self, kind: str) -> set[str]:
        """Ids of records moved to ``quarantine/`` for ``kind``."""
        folder = self.root / "quarantine" / kind
        return {p.name.split(".")[0] for p in folder.glob("*.json")} if folder.is_dir() else set()

    def status(self, kind: str, key: str) -> str | None:
        """The stored status of one record, or None."""
        path = self._records_dir(kind) / f"{key}.json"
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if _record_problem(kind, rec):
            return None
        return rec["run" if kind == "runs" else "search"].get("status")

    def statuses(self, kind: str = "runs") -> dict[str, str]:
        """record id -> stored status."""
        key, ident = ("run", "run_id") if kind == "runs" else ("search", "search_id")
        return {r[key][ident]: r[key].get("status", "") for r in self.records(kind)}

    def completed(self, kind: str = "runs") -> set[str]:
        return {k for k, s in self.statuses(kind).items() if s in FINAL_STATUSES}

    # ------------------------------------------------------------------ tables
    def compact(self) -> dict[str, int]:
        """Rebuild every table from the records; returns row counts. Every table is checked
        against ``bench.schema`` before any is written: a declared column whose values do
        not fit its type, or a write that fails (disk full), leaves the old tables and every
        record as they were."""
        try:
            with self.lock():
                frames = {**self._run_frames(), **self._search_frames()}
                tables = {name: schema.to_arrow(name, df) for name, df in frames.items()}
                for name, table in tables.items():
                    atomic_write_parquet(self.table_path(name), table)
        except OSError as exc:
            raise BenchError(f"cannot write the tables of {self.root}: "
                             f"{exc.strerror or exc}; the records and the previous tables "
                             "are kept: free space and run `bench compact`") from exc
        return {name: table.num_rows for name, table in tables.items()}

    def _run_frames(self) -> dict[str, pd.DataFrame]:
        """The run tables as rebuilt from the records (none when the set has no runs)."""
        rows: dict[str, list[dict]] = {t: [] for t in RUN_TABLES}
        for rec in self.records("runs"):
            run = dict(rec["run"])
            run_id = run["run_id"]
            factors = run.pop("factors", {}) or {}
            for k, v in factors.items():
                run.setdefault(k, v if not isinstance(v, list | dict) else json.dumps(v))
            run["arch"] = json.dumps(run.get("arch"), sort_keys=True)
            rows["runs"].append(run)
            for table in RUN_TABLES[1:]:
                rows[table].extend({"run_id": run_id, **r} for r in rec.get(table, []))
        if not rows["runs"] and not self.has_table("runs"):
            return {}
        have = {r["run_id"] for r in rows["runs"]}
        frames = {}
        for table, items in rows.items():
            fresh = pd.DataFrame(items) if items else \
                pd.DataFrame(columns=schema.required(table))
            df = uniform_objects(self._with_unbacked_rows(table, fresh, have, "run_id"))
            frames[table] = tidy_runs(df) if table == "runs" else add_required(table, df)
        return frames

    def _with_unbacked_rows(self, table: str, fresh: pd.DataFrame, have: set[str],
                            key: str) -> pd.DataFrame:
        """``fresh`` plus the rows of the existing ``table`` whose id has no readable record
        (a set copied as Parquet only, or a record that was damaged): compaction never drops
        data it cannot rebuild."""
        if not self.has_table(table):
            return fresh
        try:
            old = pd.read_parquet(self.table_path(table))
        except Exception as exc:  # a damaged table is rebuilt from the records, kept aside
            keep = self.root / "quarantine" / f"{table}.{time.time_ns()}.parquet"
            keep.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.table_path(table), keep)
            warnings.warn(f"unreadable table {table} moved to {keep} ({exc})", stacklevel=3)
            return fresh
        if key not in old or old.empty:
            return fresh
        kept = old[~old[key].astype(str).isin(have)]
        if kept.empty:
            return fresh
        return pd.concat([fresh, kept], ignore_index=True) if not fresh.empty else kept

    def _search_frames(self) -> dict[str, pd.DataFrame]:
        """The search tables as rebuilt from the records (an empty one is not written)."""
        searches, trials = [], []
        for rec in self.records("searches"):
            searches.append(rec["search"])
            trials.extend(rec.get("trials", []))
        have = {s["search_id"] for s in searches}
        frames = {}
        for table, items in (("searches", searches), ("trials", trials)):
            df = self._with_unbacked_rows(table, pd.DataFrame(items), have, "search_id")
            if not df.empty:
                frames[table] = add_required(table, uniform_objects(df))
        return frames

    def has_table(self, name: str) -> bool:
        return self.table_path(name).exists()

    def table(self, name: str) -> pd.DataFrame:
        path = self.table_path(name)
        if not path.exists():
            raise BenchError(f"result set {self.root} has no table {name!r}")
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise BenchError(f"unreadable table {path}: {exc}; run `bench compact`") from exc

    def write_table(self, name: str, df: pd.DataFrame) -> Path:
        path = self.table_path(name)
        atomic_write_parquet(path, df)
        return path

    def fingerprint(self, tables: tuple[str, ...]) -> dict[str, str | None]:
        """SHA-256 of each of ``tables`` as stored (None where absent): what a derived table
        was computed from, so a reader can tell whether it is still current."""
        import hashlib

        out: dict[str, str | None] = {}
        for name in tables:
            path = self.table_path(name)
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
        return out

    def write_json(self, name: str, obj: Any) -> Path:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, obj)
        return path

    def read_json(self, name: str) -> Any:
        """A JSON file of the set (None when absent)."""
        path = self.path(name)
        return read_json(path) if path.exists() else None


def open_results(path: Path | str) -> ResultStore:
    """Open an existing result set for reading (compacting pending records first)."""
    store = ResultStore(path, create=False)
    store.compact()
    return store
