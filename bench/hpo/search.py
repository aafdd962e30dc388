"""One HPO search as a unit of work: it runs in an executor's worker and resumes.

A search (library, algorithm, cell, seed) trains all its trials in the worker process that
runs it and returns one record; the driver stores it (``bench.hpo.runner``). While it runs,
every finished trial is kept so that an interrupted search resumes instead of starting over:
Optuna's trials live in its own storage (a journal file under the result set, or an RDB with
``--optuna-storage``); Hyperopt's and scikit-optimize's in ``partial/<search_id>/`` of the
result set, one atomically written file per trial, removed once the search is stored.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.store import atomic_write_json

DEFAULT_TARGET = 0.95


@dataclass(frozen=True)
class SearchTask:
    """Everything a worker needs to run (or resume) one search; picklable."""

    search_id: str
    library: str
    algorithm: str
    seed: int
    n_trials: int
    space: str
    spec: dict[str, Any]  # the base RunSpec (``RunSpec.to_dict``); trials change its settings
    common: dict[str, Any]  # columns shared by the search row and its trial rows
    optuna_storage: Path | str  # a journal file, or an RDB URL
    optuna_study: str
    partial_dir: Path
    stop_file: Path  # exists once the driver was asked to stop (Ctrl-C)
    fresh: bool = False  # --force: forget stored trials and start over
    target: float = DEFAULT_TARGET
    extra: dict[str, Any] = field(default_factory=dict)


class PartialTrials:
    """The finished trials of a running search, one JSON file each (written atomically)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def write(self, row: dict[str, Any]) -> None:
        atomic_write_json(self.folder / f"trial-{row['trial']:05d}.json", row, compact=True)

    def read(self) -> list[dict[str, Any]]:
        """Trials 0, 1, ... in order, up to the first missing or unreadable one."""
        rows: list[dict[str, Any]] = []
        while True:
            path = self.folder / f"trial-{len(rows):05d}.json"
            try:
                rows.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                return rows

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.folder.parent.rmdir()  # ``partial/`` itself once no search is pending


def optuna_study_name(store_name: str, study: str, library: str, algorithm: str, sid: str,
                      external: bool) -> str:
    """Deterministic, so a restarted search finds its study; in a shared RDB it is prefixed
    with the result set's folder name so two result sets never share a search."""
    name = f"{study}-{library}-{algorithm}-{sid}"
    return f"{store_name}-{name}" if external else name


def run_search_task(task: SearchTask, options: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) ``task`` in this process; returns its record ``{search, trials}``."""
    from bench import engine
    from bench.errors import BenchError
    from bench.hpo.libraries import TrialLog, run_search
    from bench.hpo.space import SPACES, to_run_settings
    from bench.options import EngineOptions
    from bench.spec import RunSpec

    space = SPACES[task.space]
    base = RunSpec.from_dict(task.spec)
    engine_options = EngineOptions(**options)

    def evaluate(params: dict[str, Any]) -> dict[str, Any]:
        spec = base.with_(**to_run_settings(space, params))
        try:
            spec.validate()
        except BenchError as exc:
            return {"run": {"status": "failed", "error": str(exc)}}
        return engine.run(spec, engine_options)

    partial = None if task.library == "optuna" else PartialTrials(task.partial_dir)
    if partial is not None and task.fresh:
        partial.clear()
    stop_file = Path(task.stop_file)
    log = TrialLog(space, evaluate, stop=stop_file.exists,
                   on_row=partial.write if partial is not None else None,
                   method=(task.library, task.algorithm))
    if partial is not None:
        log.resume(partial.read())
    started = time.time()
    error = None
    try:
        run_search(task.library, task.algorithm, log, task.n_trials, task.seed,
                   storage=task.optuna_storage, study_name=task.optuna_study, fresh=task.fresh)
    except Exception as exc:  # a library failing (e.g. a missing optional dependency)
        error = f"{type(exc).__name__}: {exc}"
    interrupted = len(log.rows) < task.n_trials and stop_file.exists()
    return search_record(task, log.rows, log.resumed, error, started, interrupted)


def search_record(task: SearchTask, rows: list[dict[str, Any]], resumed: int,
                  error: str | None, started: float, interrupted: bool) -> dict[str, Any]:
    """The stored record of one search: its summary row and one row per trial."""
    status = "failed" if error or not rows else ("interrupted" if interrupted else "ok")
    common = task.common
    trials = [{**common, "trial_key": f"{task.search_id}-{r['trial']}", **r} for r in rows]
    oks = [r for r in rows if r["score_accuracy"] is not None]
    best = max(oks, key=lambda r: r["score_accuracy"], default=None)
    search = {
        **common, "status": status, "error": error, "n_trials": len(rows),
        "n_resumed": resumed, "n_failed": len(rows) - len(oks),
        "best_accuracy": best["score_accuracy"] if best else None,
        "best_test_accuracy": best["test_accuracy"] if best else None,
        "best_test_loss": best["test_loss"] if best else None,
        "best_params_json": best["params_json"] if best else None,
        "optimization_seconds": rows[-1]["elapsed_seconds"] if rows else None,
        "suggest_seconds_total": sum(r["suggest_seconds"] for r in rows),
        "target_accuracy": task.target,
        "time_to_target_seconds": time_to_target(rows, task.target),
        "started_at": started,
        "worker_host": socket.gethostname(), "worker_pid": os.getpid(),
    }
    return {"search": search, "trials": trials}


def time_to_target(rows: list[dict[str, Any]], target: float) -> float | None:
    for row in rows:
        if row["best_so_far"] is not None and row["best_so_far"] >= target:
            return row["elapsed_seconds"]
    return None


def request_stop(stop_file: Path) -> None:
    """Ask every running search to end after its current trial."""
    with contextlib.suppress(OSError):
        stop_file.parent.mkdir(parents=True, exist_ok=True)
        stop_file.touch()


def check_optuna_storage(url: str) -> str:
    """Open ``--optuna-storage URL`` once (Optuna creates its tables); returns the URL with
    any password hidden, for the manifest. Raises BenchError when it cannot be used."""
    from sqlalchemy.engine import make_url

    from bench.errors import BenchError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception as exc:
        hidden = re.sub(r"(://[^/@]*?:)[^/]*@", r"\1***@", url)  # never echo a password
        raise BenchError(f"--optuna-storage {hidden!r} is not a database URL "
                         "(e.g. postgresql+psycopg2://user@host/db)") from exc
    try:
        import optuna

        optuna.storages.RDBStorage(url)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BenchError(f"--optuna-storage: cannot open {shown}: {reason}") from exc
    return shown
