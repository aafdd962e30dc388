"""A Rich progress bar per study, with ETA."""

from __future__ import annotations

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
