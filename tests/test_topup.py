"""``--max-seeds``: the seed top-up's fixed-n plan, its false-positive rate, and chains that keep
the base their pilot chose (synthetic data whose truth is known; one small real run)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.report.paired import ALPHA, MARGIN, POWER, compare, outcomes, planned_seeds
from bench.spec import RunSpec
from bench.store import ResultStore
from bench.studies import REGISTRY, get_profile
from bench.studies.runner import StopFlag, StudyRunner
from bench.studies.topup import plan_topups
from tests.helpers import FakeExecutor, bench


def test_planned_seeds_come_from_the_sd_alone_and_have_the_stated_power() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, 5)
    noise = (noise - noise.mean()) / noise.std(ddof=1) * 0.008  # SD exactly 0.008
    near, far = compare(noise + 0.001), compare(noise + 0.004)
    assert math.isclose(near.sd, far.sd)
    n = planned_seeds(near)
    assert n == planned_seeds(far)  # the observed difference plays no part
    assert planned_seeds(near, family=4) > n  # Holm's strictest level
    # at n, the real decision rule calls a true zero "equivalent" and a two-margin gain
    # "better" about POWER of the time (normal approximations: within a few points)
    for delta, want in ((0.0, "equivalent"), (2 * MARGIN, "better")):
        hits = np.mean([outcomes([compare(rng.normal(delta, 0.008, n))])[0] == want
                        for _ in range(600)])
        assert hits > POWER - 0.06, (delta, hits)


def test_fixed_n_keeps_false_better_calls_below_alpha_and_peeking_does_not() -> None:
    """No true difference: calling "better" at the pilot-fixed n stays below ALPHA/2; testing
    again after every added seed (5 to 20) calls it several times as often."""
    rng = np.random.default_rng(7)
    reps, pilot, cap, sd = 1500, 5, 20, 0.01
    fixed = peeking = 0
    for _ in range(reps):
        d = rng.normal(0.0, sd, cap)
        n = min(max(planned_seeds(compare(d[:pilot])) or pilot, pilot), cap)
        fixed += outcomes([compare(d[:n])])[0] == "better"
        peeking += any(outcomes([compare(d[:k])])[0] == "better"
                       for k in range(pilot, cap + 1))
    assert fixed / reps < ALPHA / 2 + 0.005
    assert peeking / reps > 2.5 * fixed / reps and peeking / reps > 0.05


def _claims(rows: list[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["claim_id", "study", "verdict", "n", "seeds_planned"])


def test_plan_follows_the_planned_n_whatever_the_pilot_verdict_up_to_the_cap() -> None:
    """The pilot's verdicts play no part (a decided claim is topped up like an open one, so
    no claim is tested twice); a partial pilot plans nothing."""
    paper = get_profile("paper")
    plan = plan_topups(_claims([
        ("a", "initializers", "undecidable", 5, 8),
        ("b", "activations", "confirmed", 5, 75),
        ("c", "optimizers", "confirmed", 5, None),
        ("d", "batch_size", "undecidable", 3, 9),  # pilot (5 seeds) not complete
        ("e", "initializers+activations", "undecidable", 5, 9),  # combined: not a study
        ("f", "epochs", "undecidable", 5, 4),  # the pilot already has enough
    ]), paper, max_seeds=10)
    assert [(t.study, t.pilot, t.target, t.planned) for t in plan] == [
        ("initializers", 5, 8, 8), ("activations", 5, 10, 75)]
    assert "capped" in plan[1].line() and "capped" not in plan[0].line()


# validation accuracy by network: seed 0 (the pilot) picks 512-128; later seeds prefer 512-64
def _record(spec: RunSpec) -> dict[str, Any]:
    hidden = tuple(spec.architecture()["hidden"])
    best_two = (512, 128) if spec.seed == 0 else (512, 64)
    val = 0.9 if hidden[:1] == (512,) and len(hidden) == 1 else 0.5 + hidden[0] / 1e4
    if len(hidden) >= 2:
        val = 0.95 if hidden[:2] == best_two else 0.6
        val += 0.001 if hidden[2:3] == (32,) else 0.0  # stage 3: 32 units, no ties
    run = {"run_id": spec.config_hash(), "config_hash": spec.config_hash(), "study": spec.study,
           "status": "ok", "seed": spec.seed, "arch": spec.architecture(), "epochs": spec.epochs,
           "epochs_completed": spec.epochs, "factors": dict(spec.factors),
           "final_val_accuracy": val, "test_accuracy": val}
    return {"run": run, "epochs": [
        {"epoch": spec.epochs, "split": "val", "metric": "accuracy", "value": val}]}


def test_topped_up_seeds_never_change_the_base_a_stage_grows(tmp_path: Path) -> None:
    store, executor = ResultStore(tmp_path / "R"), FakeExecutor(_record)
    runner = StudyRunner(store, executor, get_profile("smoke"))  # pilot: 1 seed
    with StopFlag() as stop:
        runner.run(REGISTRY.get("architecture"), stop)
        pilot_nets = {tuple(s.architecture()["hidden"]) for s in executor.trained}
        runner.topped_up["architecture"] = 3
        runner.run(REGISTRY.get("architecture"), stop)
    added = [s for s in executor.trained if s.seed > 0]
    assert {s.seed for s in added} == {1, 2}
    # seeds 1-2 find 512-64 better, yet stages 3-4 still grow the pilot's 512-128
    assert {tuple(s.architecture()["hidden"]) for s in added} == pilot_nets
    assert (512, 128, 32, 16) in pilot_nets


def test_bad_max_seeds_is_one_line_exit_2_and_writes_nothing(tmp_path: Path,
                                                             tiny_data_dir: Path) -> None:
    for args in (["--max-seeds", "1"], ["--max-seeds", "4", "--seeds", "2"],
                 ["--max-seeds", "5", "--profile", "paper"]):  # paper already runs 5
        out = bench("run", "epochs", "--results", str(tmp_path / "R"), *args)
        assert out.returncode == 2, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "--max-seeds" in out.stderr
        assert not (tmp_path / "R").exists()


STUDY_FILE = """
name: topup_demo
title: Adam vs SGD, topped up
base: {dataset: fashion_mnist, model: mlp_300_100, epochs: 1}
factors:
  optimizer: [adam, sgd]
claims:
  - {kind: best_level, level: adam}
"""


@pytest.mark.slow
def test_run_with_max_seeds_tops_up_an_undecidable_study(tmp_path: Path,
                                                         tiny_data_dir: Path) -> None:
    """Smoke: 1 pilot seed cannot decide "adam is best"; the plan asks for the minimum of 3
    paired seeds, so seeds 1 and 2 are added to both levels and the claim gets n=3."""
    results, study_file = tmp_path / "R", tmp_path / "topup.yaml"
    study_file.write_text(STUDY_FILE)
    out = bench("run", "--config", str(study_file), "--results", str(results), "--workers", "1",
                "--max-seeds", "3", timeout=900)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "top-up: topup_demo: 1 -> 3 seeds" in " ".join(out.stderr.split())
    runs = pd.read_parquet(results / "runs.parquet")
    seeds = runs.groupby("level")["seed"].apply(sorted)
    assert sorted(seeds.index) == ["adam", "sgd"]
    assert all(v == [0, 1, 2] for v in seeds), seeds
    claims = pd.read_parquet(results / "derived" / "claims.parquet").set_index("claim_id")
    assert claims.loc["topup_demo_1", "n"] == 3
    # the plan stays the one fixed from the pilot, not one recomputed from the topped-up seeds
    from bench.studies.config_file import load_study_file
    from bench.studies.topup import pilot_claims

    pilot = pilot_claims(ResultStore(results, create=False), get_profile("smoke"),
                         [load_study_file(study_file)]).set_index("claim_id")
    assert claims.loc["topup_demo_1", "seeds_planned"] == pilot.loc["topup_demo_1",
                                                                    "seeds_planned"] == 3
    session = json.loads((results / "manifest.json").read_text())["sessions"][-1]
    assert [(t["study"], t["pilot"], t["seeds"]) for t in session["topups"]] == [
        ("topup_demo", 1, 3)]


def test_a_level_that_fails_outright_does_not_inflate_the_plan() -> None:
    from bench.report.claims import _plan

    rng = np.random.default_rng(3)
    typical = [compare(rng.normal(0.001, 0.004, 5)) for _ in range(4)]
    broken = compare(rng.normal(-0.7, 0.2, 5))  # e.g. an initializer that never trains
    # no more than if the fifth level were just as noisy as the noisiest typical one
    assert _plan([*typical, broken]) <= _plan([*typical, max(typical, key=lambda c: c.sd)])
    assert _plan([*typical, broken]) < planned_seeds(broken, 5)
