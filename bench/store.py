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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from bench import SCHEMA_VERSION
from bench.errors import BenchError

RUN_TABLES = ("runs", "epochs", "classes", "confusion", "predictions")
SEARCH_TABLES = ("searches", "trials")
FINAL_STATUSES = ("ok", "diverged")  # a stored run with one of these is not run again


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` via a temporary file + rename (fsync'd)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1, default=_json_default).encode())


def atomic_write_parquet(path: Path, df: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
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
        self.root = Path(root)
        if not create and not self.root.is_dir():
            raise BenchError(f"result set {self.root} does not exist")
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        self._check_schema()

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

    @contextlib.contextmanager
    def claim(self, run_id: str) -> Iterator[bool]:
        """Try to claim a run for this process; yields False if another process holds it."""
        claims = self.root / "claims"
        claims.mkdir(exist_ok=True)
        lock = FileLock(str(claims / f"{run_id}.lock"), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    # ------------------------------------------------------------------ manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        return read_json(self.manifest_path)

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
            atomic_write_json(self.manifest_path, manifest)
            return manifest

    # ------------------------------------------------------------------ records
    def _records_dir(self, kind: str) -> Path:
        return self.root / "records" / kind

    def write_record(self, kind: str, key: str, record: dict[str, Any]) -> Path:
        path = self._records_dir(kind) / f"{key}.json"
        atomic_write_json(path, record)
        return path

    def records(self, kind: str) -> Iterator[dict[str, Any]]:
        folder = self._records_dir(kind)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            try:
                yield json.loads(path.read_text())
            except (OSError, ValueError):
                # Only possible if a file was damaged outside bench; skip it, it will be re-run.
                continue

    def status(self, kind: str, key: str) -> str | None:
        """The stored status of one record, or None."""
        path = self._records_dir(kind) / f"{key}.json"
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
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
        """Rebuild every table from the records; returns row counts."""
        with self.lock():
            counts = self._compact_runs()
            counts.update(self._compact_searches())
        return counts

    def _compact_runs(self) -> dict[str, int]:
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
        if not rows["runs"]:
            return {}
        for table, items in rows.items():
            df = _uniform_objects(pd.DataFrame(items))
            if table == "runs":
                df = _tidy_runs(df)
            atomic_write_parquet(self.table_path(table), df)
        return {t: len(v) for t, v in rows.items()}

    def _compact_searches(self) -> dict[str, int]:
        searches, trials = [], []
        for rec in self.records("searches"):
            searches.append(rec["search"])
            trials.extend(rec.get("trials", []))
        if not searches:
            return {}
        atomic_write_parquet(self.table_path("searches"), _uniform_objects(pd.DataFrame(searches)))
        atomic_write_parquet(self.table_path("trials"), _uniform_objects(pd.DataFrame(trials)))
        return {"searches": len(searches), "trials": len(trials)}

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


def _uniform_objects(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding mixed types (e.g. levels 512 and "None") become strings."""
    for col in [c for c in df.columns if df[c].dtype == "object"]:
        kinds = {type(v) for v in df[col] if v is not None and v == v}
        if len(kinds) > 1 or kinds & {list, dict}:
            df[col] = [None if v is None or v != v else
                       (json.dumps(v) if isinstance(v, list | dict) else str(v)) for v in df[col]]
    return df


def _tidy_runs(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("batch_size", "diverged_epoch", "epochs_completed", "params", "n_train"):
        if col in df:
            df[col] = pd.array(pd.to_numeric(df[col], errors="coerce"), dtype="Int64")
    for col in ("test_accuracy", "test_loss", "train_seconds", "learning_rate", "macro_f1",
                "score_accuracy", "fit_seconds", "wall_seconds", "test_fraction", "fraction"):
        if col not in df:
            df[col] = float("nan")
    for col in ("error", "traceback", "dataset", "model", "optimizer", "activation",
                "initializer", "validation", "factor", "level", "profile"):
        if col not in df:
            df[col] = None
    for col in ("params", "n_train", "epochs", "diverged_epoch"):
        if col not in df:
            df[col] = pd.array([None] * len(df), dtype="Int64")
    return df.sort_values(["study", "run_id"]).reset_index(drop=True)


def open_results(path: Path | str) -> ResultStore:
    """Open an existing result set for reading (compacting pending records first)."""
    store = ResultStore(path, create=False)
    store.compact()
    return store
