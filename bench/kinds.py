"""The kinds of study, each declared once: how it runs (its units on the one runner,
``bench.units``), what it costs, what ``bench status`` counts, whether it trains on the
datasets, and whether consecutive studies of the kind run as one batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.hpo.cost import estimate_hpo
from bench.hpo.replays import estimate_replays, run_tabular_study
from bench.hpo.runner import run_hpo_studies
from bench.studies.cost import estimate_train
from bench.studies.registry import Profile, Study
from bench.studies.runner import StudyRunner
from bench.units import StopFlag

Runs = Callable[[list[Study], StudyRunner, StopFlag, dict[str, Any]], None]
Estimate = Callable[[Study, Profile, "int | None", "int | None"], tuple[int, float]]


@dataclass(frozen=True)
class StudyKind:
    """One kind of study (``Study.kind``)."""

    name: str
    run: Runs  # run a batch of studies of this kind
    estimate: Estimate  # (trainings, seconds on one worker)
    unit: str  # what a unit stores: "runs" or "searches"
    batched: bool = False  # consecutive studies share one batch (no barrier between them)
    trains: Callable[[Study], bool] = lambda study: True  # needs the datasets


def _run_training(studies: list[Study], runner: StudyRunner, stop: StopFlag,
                  extra: dict[str, Any]) -> None:
    for study in studies:
        runner.run(study, stop)


def _run_replays(studies: list[Study], runner: StudyRunner, stop: StopFlag,
                 extra: dict[str, Any]) -> None:
    for study in studies:
        run_tabular_study(study, runner, stop, extra)


KINDS = {kind.name: kind for kind in (
    StudyKind("train", _run_training, estimate_train, "runs"),
    StudyKind("table", _run_training, estimate_train, "runs"),
    StudyKind("hpo", run_hpo_studies, estimate_hpo, "searches", batched=True),
    StudyKind("tabular", _run_replays, estimate_replays, "searches",
              trains=lambda study: bool(study.hpo.get("live"))),
)}


def kind_of(study: Study) -> StudyKind:
    return KINDS[study.kind]


def estimate(study: Study, profile: Profile, seeds: int | None = None,
             trials: int | None = None) -> tuple[int, float]:
    """(trainings, seconds on one worker) of ``study`` under ``profile``."""
    return kind_of(study).estimate(study, profile, seeds, trials)


def batches(studies: list[Study]) -> list[list[Study]]:
    """``studies`` in order, consecutive studies of a batched kind merged into one batch
    (their units are independent, so the executor runs them without a barrier)."""
    out: list[list[Study]] = []
    for study in studies:
        if kind_of(study).batched and out and out[-1][0].kind == study.kind:
            out[-1].append(study)
        else:
            out.append([study])
    return out
