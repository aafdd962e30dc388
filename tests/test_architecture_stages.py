"""The pyramid growing search: layer k is added to the winner of stage k-1, chosen on
validation accuracy (synthetic records whose truth is known; no training)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.spec import RunSpec
from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.runner import StopFlag, StudyRunner
from tests.helpers import FakeExecutor

# validation accuracy by network: [512] beats every 2-layer net, 512-128 is the best 2-layer
VAL = {(512,): 0.90, (512, 128): 0.88, (512, 64): 0.86, (512, 128, 32): 0.87}


def _record(spec: RunSpec) -> dict[str, Any]:
    hidden = tuple(spec.architecture()["hidden"])
    val = VAL.get(hidden, 0.5 + len(hidden) * 0.01 + hidden[-1] / 1e5)
    test = 1.0 - val  # the test set ranks the other way: selection must not look at it
    run = {"run_id": spec.config_hash(), "config_hash": spec.config_hash(), "study": spec.study,
           "status": "ok", "seed": spec.seed, "arch": spec.architecture(), "epochs": spec.epochs,
           "epochs_completed": spec.epochs, "factors": dict(spec.factors),
           "final_val_accuracy": val, "test_accuracy": test}
    epochs = [{"epoch": spec.epochs, "split": "val", "metric": "accuracy", "value": val},
              {"epoch": spec.epochs, "split": "test", "metric": "accuracy", "value": test}]
    return {"run": run, "epochs": epochs}


def test_each_stage_grows_the_previous_stages_winner(tmp_path: Path) -> None:
    executor = FakeExecutor(_record)
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
