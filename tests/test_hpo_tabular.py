"""The tabular HPO benchmark: lookups instead of training, regret, ranks, start-up labels."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.hpo.libraries import TrialLog, proposed_by, run_search, startup_note
from bench.hpo.space import HPO_LIBS_GRID, grid_points, point_label
from bench.hpo.tabular import Table, replay
from bench.report.tabular import anytime, final_ranks, nemenyi_cd
from tests.helpers import bench, synthetic_table, true_accuracy

POINTS = grid_points(HPO_LIBS_GRID)


def test_grid_has_every_dimension_and_over_1000_points() -> None:
    assert len(POINTS) >= 1000
    assert len({point_label(p) for p in POINTS}) == len(POINTS)
    for param in HPO_LIBS_GRID.params:
        assert len(param.choices) >= 2, param.name
    lrs = [p.choices for p in HPO_LIBS_GRID.params if p.name == "learning_rate"][0]
    assert np.allclose(np.diff(np.log10(lrs)), 1.0)  # a log grid


@pytest.mark.parametrize("method", ["optuna:tpe", "optuna:cmaes", "optuna:qmc", "hyperopt:tpe",
                                    "hyperopt:anneal", "scikit-optimize:forest"])
def test_every_proposal_is_a_grid_point_and_costs_no_training(method: str) -> None:
    table = synthetic_table()
    library, algorithm = method.split(":")
    rows = replay(table, library, algorithm, 12, seed=3)
    assert len(rows) == 12
    labels = {point_label(p) for p in POINTS}
    assert all(r["config"] in labels for r in rows)
    # simulated time is the modelled compute cost plus the measured suggest time
    expected = np.cumsum([r["cost_seconds"] + r["suggest_seconds"] for r in rows])
    assert np.allclose([r["simulated_seconds"] for r in rows], expected)


def test_regret_is_measured_at_the_incumbent_against_the_table_optimum() -> None:
    table = synthetic_table(noise=0.01)
    assert table.optimum_label == "lr=1e-03,conv=2,dense=3,units=512,relu,f32,adam"
    rows = replay(table, "optuna", "random", 40, seed=1)
    best = -math.inf
    for r in rows:
        if r["objective"] is not None and r["objective"] > best:
            best, incumbent = r["objective"], r["config"]
        assert r["incumbent"] == incumbent  # chosen by what the search observed
        assert r["regret"] == pytest.approx(table.optimum - table.val_mean[incumbent])
        assert r["regret"] >= -1e-12


def test_without_noise_regret_never_increases_and_reaches_zero_with_enough_trials() -> None:
    table = synthetic_table(noise=0.0)
    rows = replay(table, "optuna", "tpe", 100, seed=0)
    regrets = [r["regret"] for r in rows]
    assert all(b <= a + 1e-12 for a, b in zip(regrets, regrets[1:], strict=False))
    assert regrets[-1] < regrets[0] or regrets[0] == 0


def test_a_trial_observes_one_recorded_seed_drawn_by_the_search_seed() -> None:
    table = synthetic_table(noise=0.02, seeds=2)
    a = replay(table, "optuna", "random", 20, seed=5)
    b = replay(table, "optuna", "random", 20, seed=5)
    assert [r["objective"] for r in a] == [r["objective"] for r in b]  # reproducible
    for r in a:
        recorded = table.by_label[r["config"]]["val_accuracy"].tolist()
        assert any(r["objective"] == pytest.approx(v) for v in recorded)


def test_an_incomplete_table_is_refused_with_the_count() -> None:
    runs = pd.DataFrame({"study": "hpo_table", "profile": "quick", "level": [point_label(POINTS[0])]
                         * 2, "seed": [0, 1], "status": "ok", "final_val_accuracy": 0.5,
                         "test_accuracy": 0.5, "train_seconds": 1.0})
    with pytest.raises(BenchError, match="1 of 1080 grid points"):
        Table.from_runs(runs, "hpo_table", "quick", HPO_LIBS_GRID)


def test_each_trial_says_whether_the_model_or_the_start_up_proposed_it() -> None:
    assert proposed_by("optuna", "tpe", 9) == "random start-up"
    assert proposed_by("optuna", "tpe", 10) == "model"
    assert proposed_by("hyperopt", "tpe", 19) == "random start-up"
    assert proposed_by("hyperopt", "tpe", 20) == "model"
    assert proposed_by("scikit-optimize", "gp", 10) == "model"
    assert proposed_by("hyperopt", "rand", 50) == "random search"
    note = startup_note([("optuna", "tpe"), ("hyperopt", "tpe"), ("scikit-optimize", "gp")], 10)
    assert "every algorithm here is still proposing at random" in note
    assert "hyperopt:tpe" in startup_note([("optuna", "tpe"), ("hyperopt", "tpe")], 15)
    log = TrialLog(HPO_LIBS_GRID, lambda p: {"run": {"status": "ok", "score_accuracy": 0.5}},
                   method=("optuna", "tpe"))
    run_search("optuna", "tpe", log, 12, 0)
    assert [r["proposed_by"] for r in log.rows] == ["random start-up"] * 10 + ["model"] * 2


def _trials(regrets: dict[str, np.ndarray]) -> pd.DataFrame:
    rows = []
    for method, matrix in regrets.items():
        for seed, curve in enumerate(matrix):
            rows += [{"study": "t", "profile": "p", "method": method, "seed": seed, "trial": i,
                      "regret": v} for i, v in enumerate(curve)]
    return pd.DataFrame(rows)


def test_ranks_friedman_and_normalised_score_on_known_truth() -> None:
    rng = np.random.default_rng(0)
    n = 20
    random_runs = rng.uniform(0.02, 0.06, size=(n, 1))
    good = rng.uniform(0.0, 0.01, size=(n, 1))
    trials = _trials({"optuna:random": random_runs, "hyperopt:rand": random_runs[::-1],
                      "optuna:tpe": good})
    ranks = final_ranks(None, None, trials).set_index("method")
    assert ranks.loc["optuna:tpe", "mean_rank"] == 1.0
    assert ranks["friedman_p"].iloc[0] < 0.001
    random_scores = ranks.loc[["optuna:random", "hyperopt:rand"], "normalised_score"]
    assert random_scores.mean() == pytest.approx(1.0)  # 1 = the mean of random search
    assert ranks.loc["optuna:tpe", "normalised_score"] < 0.3
    # identical methods: Friedman finds nothing
    same = _trials({m: rng.uniform(0, 0.05, size=(n, 1)) for m in
                    ("optuna:random", "hyperopt:rand", "optuna:tpe")})
    assert final_ranks(None, None, same)["friedman_p"].iloc[0] > 0.01


def test_nemenyi_critical_difference_matches_the_published_table() -> None:
    # Demsar (2006), table 5a: q_0.05 = 2.343 for 3 classifiers, 2.569 for 4
    assert nemenyi_cd(3, 20) == pytest.approx(2.343 * math.sqrt(3 * 4 / (6 * 20)), rel=1e-3)
    assert nemenyi_cd(4, 10) == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 10)), rel=1e-3)


def test_anytime_band_brackets_the_median() -> None:
    rng = np.random.default_rng(1)
    curves = np.sort(rng.uniform(0, 0.1, size=(20, 15)), axis=1)[:, ::-1]
    out = anytime(_trials({"optuna:tpe": curves}))
    assert len(out) == 15 and (out["n"] == 20).all()
    assert (out["low"] <= out["median_regret"] + 1e-12).all()
    assert (out["median_regret"] <= out["high"] + 1e-12).all()


def _write_table_records(root: Path, profile: str) -> None:
    folder = root / "records" / "runs"
    folder.mkdir(parents=True)
    for i, p in enumerate(POINTS):
        for seed in (0, 1):
            rid = f"t{i:04d}s{seed}"
            acc = true_accuracy(p) + (0.003 if seed else -0.003)
            run = {"run_id": rid, "study": "hpo_table", "status": "ok", "seed": seed,
                   "factors": {"factor": "config", "level": point_label(p), "profile": profile},
                   "final_val_accuracy": acc, "test_accuracy": acc, "train_seconds": 0.5,
                   "epochs": 1}
            (folder / f"{rid}.json").write_text(json.dumps({"run": run, "epochs": []}))


def test_bench_run_replays_every_algorithm_against_a_stored_table(tmp_path: Path) -> None:
    results = tmp_path / "set"
    _write_table_records(results, "smoke")
    done = bench("run", "hpo_tabular", "--profile", "smoke", "--workers", "2",
                 "--results", str(results), "--algorithms",
                 "optuna:tpe,optuna:random,hyperopt:rand,scikit-optimize:random")
    assert done.returncode == 0, done.stdout + done.stderr
    searches = pd.read_parquet(results / "searches.parquet")
    assert len(searches) == 4 * 2 and (searches["status"] == "ok").all()
    assert (searches["n_trials"] == 12).all()
    ranks = pd.read_parquet(results / "derived" / "hpo_tabular_ranks.parquet")
    assert set(ranks["method"]) == {"optuna:tpe", "optuna:random", "hyperopt:rand",
                                    "scikit-optimize:random"}
    curves = pd.read_parquet(results / "derived" / "hpo_anytime.parquet")
    assert curves["trial"].max() == 12
    # stored searches are not replayed again
    again = bench("run", "hpo_tabular", "--profile", "smoke", "--results", str(results),
                  "--algorithms", "optuna:tpe,optuna:random,hyperopt:rand,"
                  "scikit-optimize:random")
    assert again.returncode == 0
    assert len(pd.read_parquet(results / "searches.parquet")) == 8
    assert "already stored (skipped) │     8" in again.stderr


def test_without_a_complete_table_the_replay_is_skipped_with_a_reason(tmp_path: Path) -> None:
    done = bench("run", "hpo_tabular", "--profile", "smoke", "--results", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    assert "0 of 1080 grid points" in (done.stdout + done.stderr).replace("\n", " ")
    assert not (tmp_path / "s" / "searches.parquet").exists()


def test_claims_from_the_table_name_their_evidence_and_follow_the_truth() -> None:
    from bench.report.tabular import tabular_claims

    rng = np.random.default_rng(3)
    n = 20

    def trials(hyperopt_regret: float) -> pd.DataFrame:
        rows = []
        for method, regret, seconds in (("hyperopt:tpe", hyperopt_regret, 100.0),
                                        ("optuna:tpe", 0.02, 50.0),
                                        ("scikit-optimize:gp", 0.02, 200.0)):
            for seed in range(n):
                rows.append({"method": method, "seed": seed, "trial": 99,
                             "regret": regret + rng.normal(0, 0.002),
                             "suggest_seconds": seconds / 1e4 * rng.uniform(0.95, 1.05)})
        return pd.DataFrame(rows)

    better = tabular_claims(trials(0.0))
    assert better["hpo_hyperopt_most_accurate"][0] == "confirmed"
    assert "tabular benchmark, 100 trials x 20 seeds" in better["hpo_hyperopt_most_accurate"][1]
    # Optuna's own (suggest) time is below both by far more than 10 %
    assert better["hpo_optuna_fastest"][0] == "confirmed"
    assert better["hpo_optuna_fastest"][2] == better["hpo_hyperopt_most_accurate"][2] == 20
    tied = tabular_claims(trials(0.02))
    assert tied["hpo_hyperopt_most_accurate"][0] == "tied"
    worse = tabular_claims(trials(0.05))
    assert worse["hpo_hyperopt_most_accurate"][0] == "not confirmed"


def test_the_hpo_page_says_when_the_table_is_incomplete(tmp_path: Path) -> None:
    from bench.site.hpo_tabular import tabular_section
    from bench.site.writer import SiteWriter

    class Set:
        def __init__(self, tables: dict) -> None:
            self.tables = tables

        def get(self, name: str) -> pd.DataFrame:
            return self.tables.get(name, pd.DataFrame())

    part = pd.DataFrame({"config": [point_label(p) for p in POINTS[:10]], "seeds": 2,
                         "seeds_ok": 2, "val_mean": 0.5, "val_sd": 0.01, "test_mean": 0.5,
                         "rank": range(1, 11)})
    text = tabular_section(SiteWriter(tmp_path), "hpo.md", Set({"derived/hpo_table": part}))
    assert "10 of the 1,080 grid points" in text and "not complete yet" in text
    assert "point so far" in text


TWO_PROCESS_METHODS = ("optuna:random,optuna:tpe,hyperopt:rand,hyperopt:tpe,hyperopt:anneal,"
                       "scikit-optimize:random,scikit-optimize:forest,scikit-optimize:gbrt")


def _replayed(stderr: str) -> int:
    """Searches a `bench run` replayed, from its summary's `search ok` row (0 if none)."""
    import re

    found = re.search(r"search ok\s*│\s*(\d+)", stderr)
    return int(found.group(1)) if found else 0


def test_two_processes_never_replay_the_same_search(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT

    results = tmp_path / "set"
    _write_table_records(results, "smoke")
    cmd = [sys.executable, "-m", "bench", "run", "hpo_tabular", "--profile", "smoke",
           "--workers", "1", "--results", str(results), "--algorithms", TWO_PROCESS_METHODS]
    procs = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    replayed = [_replayed(err) for _, err in outs]
    assert sum(replayed) == 8 * 2, replayed  # every search replayed once, by one process
    assert len(pd.read_parquet(results / "searches.parquet")) == 16


def test_a_claimed_tabular_search_is_left_to_its_owner(tmp_path: Path) -> None:
    from bench.hpo.tabular import search_key
    from bench.store import ResultStore

    results = tmp_path / "set"
    _write_table_records(results, "smoke")
    sid = search_key("hpo_tabular", "smoke", "optuna", "random", 0, 12)
    held = ResultStore(results).try_claim(f"search-{sid}")  # another process replays it
    done = bench("run", "hpo_tabular", "--profile", "smoke", "--workers", "1",
                 "--results", str(results), "--algorithms", "optuna:random")
    held.release()
    assert done.returncode == 0, done.stderr
    stored = set(pd.read_parquet(results / "searches.parquet")["search_id"])
    assert sid not in stored and len(stored) == 1


def test_the_top_region_is_chosen_by_the_base_seeds_and_gets_the_extra_seeds() -> None:
    from bench.hpo.table_top import top_region

    labels = [point_label(p) for p in POINTS[:6]]
    rows = [{"study": "hpo_table", "profile": "quick", "level": lab, "seed": s, "status": "ok",
             "final_val_accuracy": 0.5 + 0.01 * i} for i, lab in enumerate(labels)
            for s in (0, 1)]
    # an extra seed of the worst point scores high: the region must not move with it
    rows.append({**rows[0], "seed": 2, "final_val_accuracy": 0.99})
    runs = pd.DataFrame(rows)
    assert top_region(runs, "hpo_table", "quick", 2, 2) == [labels[5], labels[4]]
    assert top_region(runs.iloc[1:], "hpo_table", "quick", 2, 2) == []  # incomplete: none


def test_the_page_counts_the_model_based_proposals_made_within_the_papers_budget() -> None:
    from bench.site.hpo_tabular import _startup_sentence

    text = _startup_sentence(["optuna:tpe", "optuna:cmaes", "hyperopt:anneal", "hyperopt:tpe",
                              "scikit-optimize:gp", "optuna:random"], 10)
    assert "3 of the 5 model-based algorithms have made no model-based proposal" in text
    assert "optuna:cmaes (9)" in text and "hyperopt:anneal (9)" in text


def test_a_search_of_an_older_replay_protocol_is_replayed_again(tmp_path: Path) -> None:
    results = tmp_path / "set"
    _write_table_records(results, "smoke")
    args = ("run", "hpo_tabular", "--profile", "smoke", "--workers", "1", "--results",
            str(results), "--algorithms", "optuna:random")
    assert bench(*args).returncode == 0
    old = sorted((results / "records" / "searches").glob("*.json"))[0]
    record = json.loads(old.read_text())
    del record["search"]["replay_version"]  # as stored before the protocol changed
    old.write_text(json.dumps(record))
    again = bench(*args)
    assert again.returncode == 0, again.stderr
    assert _replayed(again.stderr) == 1  # only the superseded one
    searches = pd.read_parquet(results / "searches.parquet")
    assert (searches["replay_version"] == 2).all()
