"""Progress with ETA: a Rich bar per study on a terminal, one line per finished run in a log."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


class RichReporter:
    """Implements ``bench.studies.runner.Reporter`` with one bar per study."""

    def __init__(self) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[last]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.current: str | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def start(self, study: str, total: int, skipped: int) -> None:
        if study not in self.tasks:
            self.tasks[study] = self.progress.add_task(study, total=total, completed=skipped,
                                                       last="")
        else:
            self.progress.update(self.tasks[study], total=total, completed=skipped)
        self.current = study

    def advance(self, record: dict[str, Any]) -> None:
        run = record.get("run") or record.get("search") or {}
        study = run.get("study", self.current)
        acc = run.get("test_accuracy", run.get("best_accuracy"))
        last = f"{run.get('status')} acc={acc:.3f}" if isinstance(acc, float) else run.get("status")
        self.progress.update(self.tasks[study], advance=1, last=last or "")

    def finish(self, study: str) -> None:
        self.current = None


class LineReporter:
    """For logs and pipes: one plain line per finished run or search, with an ETA."""

    def __init__(self) -> None:
        self.state: dict[str, list[float]] = {}  # study -> [total, done, done_here, t0]

    def __enter__(self) -> LineReporter:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def start(self, study: str, total: int, skipped: int) -> None:
        old = self.state.get(study)
        self.state[study] = [total, skipped, old[2] if old else 0, old[3] if old else
                             time.monotonic()]
        if skipped:
            console.print(f"{study}: {skipped}/{total} already stored")

    def advance(self, record: dict[str, Any]) -> None:
        run = record.get("run") or record.get("search") or {}
        study = run.get("study", "?")
        st = self.state.setdefault(study, [0, 0, 0, time.monotonic()])
        st[1] += 1
        st[2] += 1
        elapsed = time.monotonic() - st[3]
        eta = elapsed / st[2] * max(0, st[0] - st[1])
        acc = run.get("test_accuracy", run.get("best_accuracy"))
        acc_text = f" acc={acc:.4f}" if isinstance(acc, float) else ""
        console.print(f"{study}: {int(st[1])}/{int(st[0])} {run.get('status')}{acc_text} "
                      f"elapsed {_clock(elapsed)} ETA {_clock(eta)}", soft_wrap=True)

    def finish(self, study: str) -> None:
        pass


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def reporter() -> RichReporter | LineReporter:
    """A live bar on a terminal, plain lines otherwise (``bench all > log``)."""
    return RichReporter() if console.is_terminal else LineReporter()
