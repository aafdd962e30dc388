"""Each HPO library driven by its own loop (``study.optimize``, ``fmin``, ``*_minimize``).

The objective wrapper times every trial and the library's own time between trials
(``suggest_seconds``), so each library's real overhead is measured.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.hpo.space import Space, hyperopt_space, normalise, skopt_space, suggest_optuna

ALGORITHMS: dict[str, tuple[str, ...]] = {
    "optuna": ("tpe", "random", "cmaes", "gp", "qmc"),
    "hyperopt": ("tpe", "rand", "anneal", "atpe"),
    "scikit-optimize": ("gp", "forest", "gbrt", "random"),
}
ALIASES = {"skopt": "scikit-optimize", "sklearn-optimize": "scikit-optimize"}


def parse_methods(text: str) -> list[tuple[str, str]]:
    """``optuna:tpe,skopt`` -> [("optuna", "tpe"), ("scikit-optimize", <every algorithm>)]."""
    out: list[tuple[str, str]] = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if item == "all":
            out += [(lib, alg) for lib, algs in ALGORITHMS.items() for alg in algs]
            continue
        lib, _, alg = item.partition(":")
        lib = ALIASES.get(lib, lib)
        if lib not in ALGORITHMS:
            raise BenchError(f"unknown HPO library {lib!r}; valid: {', '.join(ALGORITHMS)}")
        algs = ALGORITHMS[lib] if not alg or alg == "all" else (alg,)
        for a in algs:
            if a not in ALGORITHMS[lib]:
                raise BenchError(f"unknown {lib} algorithm {a!r}; valid: "
                                 f"{', '.join(ALGORITHMS[lib])}")
            out.append((lib, a))
    return list(dict.fromkeys(out))


class TrialLog:
    """Wraps ``evaluate(params) -> record``; keeps one row per trial with its timings."""

    def __init__(self, space: Space, evaluate: Callable[[dict[str, Any]], dict[str, Any]],
                 stop: Callable[[], bool] = lambda: False) -> None:
        self.space = space
        self.evaluate = evaluate
        self.stop = stop
        self.rows: list[dict[str, Any]] = []
        self.start = time.perf_counter()
        self._last_end = self.start
        self.best = -math.inf

    def __call__(self, raw: dict[str, Any]) -> float:
        """The accuracy to maximise (NaN for a failed trial)."""
        began = time.perf_counter()
        suggest = began - self._last_end
        params = normalise(self.space, raw)
        record = self.evaluate(params)
        run = record["run"]
        ended = time.perf_counter()
        acc = run.get("score_accuracy") if run.get("status") == "ok" else None
        if acc is not None:
            self.best = max(self.best, acc)
        self.rows.append({
            "trial": len(self.rows), "params_json": json.dumps(params, sort_keys=True),
            **{f"param_{k}": v for k, v in params.items()},
            "objective": acc, "score_accuracy": acc, "test_accuracy": run.get("test_accuracy"),
            "test_loss": run.get("test_loss"), "status": run.get("status"),
            "error": run.get("error"), "trial_seconds": ended - began,
            "train_seconds": run.get("train_seconds"), "suggest_seconds": suggest,
            "elapsed_seconds": ended - self.start,
            "best_so_far": self.best if self.best > -math.inf else None,
            "device": run.get("device"), "precision": run.get("precision"),
        })
        self._last_end = ended
        return float(acc) if acc is not None else math.nan

    def loss(self, raw: dict[str, Any]) -> float:
        """For minimisers: a failed trial scores as the worst accuracy (loss 0)."""
        acc = self(raw)
        return 0.0 if math.isnan(acc) else -acc


def run_optuna(log: TrialLog, algorithm: str, n_trials: int, seed: int,
               storage: Path | str | None, study_name: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    samplers = {
        "tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "random": lambda: optuna.samplers.RandomSampler(seed=seed),
        "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False),
        "gp": lambda: optuna.samplers.GPSampler(seed=seed),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False),
    }
    sampler = samplers[algorithm]()
    if isinstance(storage, Path):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(storage)))
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage,
                                study_name=study_name, load_if_exists=True)

    def objective(trial: optuna.Trial) -> float:
        return log(suggest_optuna(trial, log.space))

    study.optimize(objective, n_trials=n_trials, catch=(Exception,),
                   callbacks=[lambda s, t: s.stop() if log.stop() else None])


def run_hyperopt(log: TrialLog, algorithm: str, n_trials: int, seed: int) -> None:
    from hyperopt import STATUS_OK, Trials, anneal, atpe, fmin, rand, tpe

    algo = {"tpe": tpe.suggest, "rand": rand.suggest, "anneal": anneal.suggest,
            "atpe": atpe.suggest}[algorithm]

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        return {"loss": log.loss(params), "status": STATUS_OK}

    def early_stop(_trials: Any, *args: Any) -> tuple[bool, tuple]:
        return log.stop(), args  # Ctrl-C: stop after the current trial

    fmin(objective, hyperopt_space(log.space), algo=algo, max_evals=n_trials, trials=Trials(),
         rstate=np.random.default_rng(seed), show_progressbar=False, early_stop_fn=early_stop)


def run_skopt(log: TrialLog, algorithm: str, n_trials: int, seed: int) -> None:
    import skopt

    dims = skopt_space(log.space)
    names = log.space.names()

    def objective(values: list[Any]) -> float:
        return log.loss(dict(zip(names, values, strict=True)))

    def stopper(_result: Any) -> bool:
        return log.stop()

    common = {"n_calls": n_trials, "random_state": seed, "callback": [stopper]}
    initial = {"n_initial_points": min(10, n_trials)}
    if algorithm == "random":
        # dummy_minimize trips over scikit-learn >= 1.6 (it type-checks a None estimator);
        # its sampler is skopt's Space.rvs, used here directly.
        for point in skopt.space.Space(dims).rvs(n_trials, random_state=seed):
            objective(point)
            if log.stop():
                break
    elif algorithm == "gp":
        skopt.gp_minimize(objective, dims, **common, **initial)
    elif algorithm == "forest":
        skopt.forest_minimize(objective, dims, **common, **initial)
    else:
        skopt.gbrt_minimize(objective, dims, **common, **initial,
                            base_estimator=_gbrt_estimator(seed))


def _gbrt_estimator(seed: int) -> Any:
    """skopt 0.10.2's GBRT on current scikit-learn / NumPy (both removed APIs it relies on).

    scikit-learn >= 1.6 reads the estimator type from ``__sklearn_tags__`` (skopt's class
    declares it the old way, so ``gbrt_minimize`` refuses it), and NumPy 2.4 removed
    ``np.in1d``, which skopt still calls. Both shims are no-ops on older versions.
    """
    if not hasattr(np, "in1d"):
        np.in1d = np.isin  # type: ignore[attr-defined]
    from skopt.learning import GradientBoostingQuantileRegressor

    class TaggedGBQR(GradientBoostingQuantileRegressor):
        def __sklearn_tags__(self) -> Any:
            tags = super().__sklearn_tags__()
            tags.estimator_type = "regressor"
            return tags

    return TaggedGBQR(random_state=seed)


def run_search(library: str, algorithm: str, log: TrialLog, n_trials: int, seed: int,
               storage: Path | str | None = None, study_name: str = "bench") -> None:
    """Drive ``library``'s own loop for ``n_trials`` evaluations of ``log``."""
    if library == "optuna":
        run_optuna(log, algorithm, n_trials, seed, storage, study_name)
    elif library == "hyperopt":
        run_hyperopt(log, algorithm, n_trials, seed)
    else:
        run_skopt(log, algorithm, n_trials, seed)
