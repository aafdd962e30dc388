"""The pyramid growing search: layer k is added to the winner of stage k-1, chosen on
validation accuracy (synthetic records whose truth is known; no training)."""

from __future__ import annotations

from pathlib import Path

from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.runner import StopFlag, StudyRunner
from tests.helpers import FakeExecutor, stage_record


def test_each_stage_grows_the_previous_stages_winner(tmp_path: Path) -> None:
    executor = FakeExecutor(stage_record)
    runner = StudyRunner(ResultStore(tmp_path / "R"), executor, get_profile("smoke"), seeds=2)
    with StopFlag() as stop:
        runner.run(REGISTRY.get("architecture"), stop)
    by_stage: dict[str, set[tuple[int, ...]]] = {}
    for spec in executor.trained:
        by_stage.setdefault(spec.factors["factor"], set()).add(
            tuple(spec.architecture()["hidden"]))
    assert by_stage["layer2_units"] == {(512, u) for u in (64, 128, 256, 512)}
    # stage 3 grows 512-128 (best of stage 2) although [512] alone scores higher
    assert by_stage["layer3_units"] == {(512, 128, u) for u in (16, 32, 64, 128)}
    assert by_stage["layer4_units"] == {(512, 128, 32, 16)}
    assert len(executor.trained) == 2 * (9 + 4 + 4 + 1)
