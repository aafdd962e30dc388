"""Each HPO library driven by its own loop (``study.optimize``, ``fmin``, ``*_minimize``).

The objective wrapper times every trial and the library's own time between trials
(``suggest_seconds``), so each library's real overhead is measured.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.hpo.space import (
    Space,
    hyperopt_space,
    hyperopt_vals,
    normalise,
    skopt_space,
    skopt_value,
    suggest_optuna,
)

#: Optuna user attribute holding a finished trial's row (how a search resumes from storage)
ROW_ATTR = "bench_row"

ALGORITHMS: dict[str, tuple[str, ...]] = {
    "optuna": ("tpe", "mvtpe", "random", "cmaes", "gp", "qmc"),
    "hyperopt": ("tpe", "rand", "anneal", "atpe"),
    "scikit-optimize": ("gp", "forest", "gbrt", "random"),
}
ALIASES = {"skopt": "scikit-optimize", "sklearn-optimize": "scikit-optimize"}
#: each library's default algorithm (what the papers ran, and what a library is judged by)
DEFAULT_ALGORITHM = {"optuna": "tpe", "hyperopt": "tpe", "scikit-optimize": "gp"}
#: each library's random search (the baseline a normalised score divides by)
RANDOM_ALGORITHM = {"optuna": "random", "hyperopt": "rand", "scikit-optimize": "random"}
#: optional algorithms and the module their extra installs
NEEDS_MODULE = {("optuna", "gp"): "torch"}


#: trials proposed at random before the library's model takes over (set explicitly below so
#: the label cannot drift from the library's default): Optuna TPE (``mvtpe``: multivariate
#: TPE, the setting Optuna's documentation tells users to try)/GP 10, Hyperopt TPE 20,
#: ATPE 10 (``max(10, log10 |space|)``), anneal 1 (no history yet), CMA-ES 1 (its
#: categorical parameters are always drawn at random), scikit-optimize ``n_initial_points``
STARTUP_TRIALS: dict[tuple[str, str], int] = {
    ("optuna", "tpe"): 10, ("optuna", "mvtpe"): 10, ("optuna", "gp"): 10,
    ("optuna", "cmaes"): 1,
    ("hyperopt", "tpe"): 20, ("hyperopt", "atpe"): 10, ("hyperopt", "anneal"): 1,
    ("scikit-optimize", "gp"): 10, ("scikit-optimize", "forest"): 10,
    ("scikit-optimize", "gbrt"): 10,
}
#: algorithms that never model: what their every trial is
NO_MODEL = {("optuna", "random"): "random search", ("optuna", "qmc"): "quasi-random search",
            ("hyperopt", "rand"): "random search", ("scikit-optimize", "random"): "random search"}


def proposed_by(library: str, algorithm: str, trial: int) -> str:
    """Who proposed trial number ``trial`` (0-based): ``random start-up``, ``model`` or, for
    an algorithm without a model, what it is (``random search``)."""
    if (library, algorithm) in NO_MODEL:
        return NO_MODEL[(library, algorithm)]
    return "random start-up" if trial < STARTUP_TRIALS[(library, algorithm)] else "model"


def startup_note(methods: list[tuple[str, str]], n_trials: int) -> str:
    """One sentence on what a budget of ``n_trials`` measures for ``methods``."""
    random_only = [f"{lib}:{alg}" for lib, alg in methods
                   if (lib, alg) in NO_MODEL or STARTUP_TRIALS[(lib, alg)] >= n_trials]
    if len(random_only) == len(methods):
        return (f"With {n_trials} trials every algorithm here is still proposing at random "
                "(start-up phase): the searches compare random draws, not the libraries' models.")
    if random_only:
        return (f"With {n_trials} trials, {', '.join(random_only)} never leave random "
                "proposals; only the others' later trials come from their models.")
    return f"With {n_trials} trials every algorithm models after its start-up phase."


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
                 stop: Callable[[], bool] = lambda: False,
                 on_row: Callable[[dict[str, Any]], None] | None = None,
                 method: tuple[str, str] | None = None) -> None:
        self.space = space
        self.method = method
        self.evaluate = evaluate
        self.stop = stop
        self.on_row = on_row  # stores each finished trial at once (resume after a crash)
        self.rows: list[dict[str, Any]] = []
        self.resumed = 0
        self.start = time.perf_counter()
        self._last_end = self.start
        self.best = -math.inf

    def resume(self, rows: list[dict[str, Any]]) -> None:
        """Start from trials finished earlier: numbered on, elapsed time continues."""
        self.rows = [{**r, "trial": i} for i, r in enumerate(rows)]
        self.resumed = len(self.rows)
        scores = [r["objective"] for r in self.rows if r["objective"] is not None]
        self.best = max(scores, default=-math.inf)
        offset = self.rows[-1]["elapsed_seconds"] if self.rows else 0.0
        self.start = time.perf_counter() - offset
        self._last_end = time.perf_counter()

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
            "proposed_by": proposed_by(*self.method, len(self.rows)) if self.method else None,
            "device": run.get("device"), "precision": run.get("precision"),
        })
        self._last_end = ended
        if self.on_row is not None:
            self.on_row(self.rows[-1])
        return float(acc) if acc is not None else math.nan

    def loss(self, raw: dict[str, Any]) -> float:
        """For minimisers: a failed trial scores as the worst accuracy (loss 0)."""
        acc = self(raw)
        return 0.0 if math.isnan(acc) else -acc


def resume_seed(seed: int, done: int) -> int:
    """The seed of a search resumed after ``done`` trials (``seed`` itself when fresh)."""
    if done == 0:
        return seed
    return int(np.random.SeedSequence([seed, done]).generate_state(1)[0] % (2**31 - 1))


def run_optuna(log: TrialLog, algorithm: str, n_trials: int, seed: int,
               storage: Path | str | None, study_name: str, fresh: bool = False) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if isinstance(storage, Path):
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        storage.parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(storage)))
    if isinstance(storage, str):
        storage = optuna.storages.RDBStorage(storage)
    if fresh and storage is not None and study_name in optuna.get_all_study_names(storage):
        optuna.delete_study(study_name=study_name, storage=storage)
    if storage is not None:  # resume: the trials this search finished before
        log.resume(_finished_rows(optuna.create_study(
            direction="maximize", storage=storage, study_name=study_name, load_if_exists=True)))
    study = optuna.create_study(direction="maximize", sampler=optuna_sampler(
        algorithm, seed, log.resumed), storage=storage, study_name=study_name,
        load_if_exists=True)

    def objective(trial: optuna.Trial) -> float:
        value = log(suggest_optuna(trial, log.space))
        row = {k: v.item() if hasattr(v, "item") else v for k, v in log.rows[-1].items()}
        trial.set_user_attr(ROW_ATTR, row)  # stored before the trial is told
        return value

    if n_trials > log.resumed:
        study.optimize(objective, n_trials=n_trials - log.resumed, catch=(Exception,),
                       callbacks=[lambda s, t: s.stop() if log.stop() else None])


def optuna_sampler(algorithm: str, seed: int, resumed: int = 0) -> Any:
    """Optuna's sampler for ``algorithm``, seeded. QMC is scrambled (unscrambled, every seed
    is one sequence) with ``seed`` and continues its own sequence from the storage; the
    random streams of a resumed search are re-seeded. CMA-ES runs with margin (without it, a
    discrete space collapses to a few points)."""
    import optuna

    fresh = resume_seed(seed, resumed)
    startup = STARTUP_TRIALS.get(("optuna", algorithm), 0)
    if algorithm in ("tpe", "mvtpe"):
        return optuna.samplers.TPESampler(seed=fresh, n_startup_trials=startup,
                                          multivariate=algorithm == "mvtpe",
                                          warn_independent_sampling=False)
    if algorithm == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=fresh, warn_independent_sampling=False,
                                            n_startup_trials=startup, with_margin=True)
    if algorithm == "gp":
        return optuna.samplers.GPSampler(seed=fresh, n_startup_trials=startup)
    if algorithm == "qmc":
        return optuna.samplers.QMCSampler(
            seed=seed, scramble=True, warn_independent_sampling=False,
            independent_sampler=optuna.samplers.RandomSampler(seed=fresh))
    return optuna.samplers.RandomSampler(seed=fresh)


def _finished_rows(study: Any) -> list[dict[str, Any]]:
    """Rows of the trials ``study`` finished, in order. A trial left running by a killed
    process (this one holds the search's claim, so no other process runs it) is closed:
    told its stored result if its row was written, failed (and trained again) if not."""
    from optuna.trial import TrialState

    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = trial.user_attrs.get(ROW_ATTR)
        if trial.state == TrialState.RUNNING:
            if row is not None and row.get("objective") is not None:
                study.tell(trial.number, row["objective"])
            else:
                study.tell(trial.number, state=TrialState.FAIL)
        if row is not None:
            rows.append(row)
    return rows


def run_hyperopt(log: TrialLog, algorithm: str, n_trials: int, seed: int) -> None:
    from functools import partial

    from hyperopt import STATUS_OK, anneal, atpe, fmin, rand, tpe

    algo = {"tpe": partial(tpe.suggest, n_startup_jobs=STARTUP_TRIALS[("hyperopt", "tpe")]),
            "rand": rand.suggest, "anneal": anneal.suggest,
            "atpe": partial(_seeded_atpe, atpe.suggest)}[algorithm]

    def objective(params: dict[str, Any]) -> dict[str, Any]:
        return {"loss": log.loss(params), "status": STATUS_OK}

    def early_stop(_trials: Any, *args: Any) -> tuple[bool, tuple]:
        return log.stop(), args  # Ctrl-C: stop after the current trial

    if n_trials > log.resumed:
        fmin(objective, hyperopt_space(log.space), algo=algo, max_evals=n_trials,
             trials=_hyperopt_trials(log), rstate=np.random.default_rng(
                 resume_seed(seed, log.resumed)),
             show_progressbar=False, early_stop_fn=early_stop)


def _seeded_atpe(suggest: Callable[..., Any], new_ids: list, domain: Any, trials: Any,
                 seed: int) -> Any:
    """ATPE ignores the seed ``fmin`` draws from ``rstate`` for each suggestion and uses
    Python's and NumPy's global random state: seed both with it for the call (after ATPE's
    first construction, whose lazy imports draw from the global state once per process)."""
    _atpe_warmed()
    with _global_random(int(seed)):
        return suggest(new_ids, domain, trials, seed)


@functools.cache
def _atpe_warmed() -> bool:
    from hyperopt.atpe import ATPEOptimizer

    ATPEOptimizer()
    return True


@contextlib.contextmanager
def _global_random(seed: int) -> Iterator[None]:
    """Python's and NumPy's global random state seeded with ``seed`` for the duration, then
    restored."""
    import random

    saved, saved_np = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(saved)
        np.random.set_state(saved_np)


def _hyperopt_trials(log: TrialLog) -> Any:
    """A ``Trials`` holding the trials ``log`` resumed (fmin runs ``max_evals`` minus them)."""
    from hyperopt import JOB_STATE_DONE, STATUS_OK, Trials

    trials = Trials()
    rows = log.rows[:log.resumed]
    if not rows:
        return trials
    tids = trials.new_trial_ids(len(rows))
    miscs, results = [], []
    for tid, row in zip(tids, rows, strict=True):
        vals = hyperopt_vals(log.space, json.loads(row["params_json"]))
        miscs.append({"tid": tid, "cmd": ("domain_attachment", "FMinIter_Domain"),
                      "workdir": None, "idxs": {k: [tid] for k in vals},
                      "vals": {k: [v] for k, v in vals.items()}})
        loss = 0.0 if row["objective"] is None else -row["objective"]
        results.append({"loss": loss, "status": STATUS_OK})
    docs = trials.new_trial_docs(tids, [None] * len(rows), results, miscs)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)  # hyperopt's naive UTC
    for doc, row in zip(docs, rows, strict=True):
        ended = now - datetime.timedelta(seconds=rows[-1]["elapsed_seconds"]
                                         - row["elapsed_seconds"])
        doc.update(state=JOB_STATE_DONE, refresh_time=ended,  # ATPE reads both times
                   book_time=ended - datetime.timedelta(seconds=row["trial_seconds"]))
    trials.insert_trial_docs(docs)
    trials.refresh()
    return trials


def run_skopt(log: TrialLog, algorithm: str, n_trials: int, seed: int) -> None:
    import skopt

    dims = skopt_space(log.space)
    names = log.space.names()

    def objective(values: list[Any]) -> float:
        return log.loss(dict(zip(names, values, strict=True)))

    def stopper(_result: Any) -> bool:
        return log.stop()

    done = log.resumed
    if done >= n_trials:
        return
    common: dict[str, Any] = {"n_calls": n_trials - done, "callback": [stopper],
                              "random_state": resume_seed(seed, done)}
    if done:  # the finished trials as x0/y0 (failed ones score as loss 0, as when they ran)
        points = [json.loads(r["params_json"]) for r in log.rows[:done]]
        common["x0"] = [[skopt_value(p, params[p.name]) for p in log.space.params]
                        for params in points]
        common["y0"] = [0.0 if r["objective"] is None else -r["objective"]
                        for r in log.rows[:done]]
    startup = STARTUP_TRIALS[("scikit-optimize", "gp")]
    initial = {"n_initial_points": max(0, min(startup, n_trials) - done)}
    if algorithm == "random":
        # dummy_minimize trips over scikit-learn >= 1.6 (it type-checks a None estimator);
        # its sampler is skopt's Space.rvs, used here directly (a resumed search skips the
        # points it already evaluated).
        for point in skopt.space.Space(dims).rvs(n_trials, random_state=seed)[done:]:
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
               storage: Path | str | None = None, study_name: str = "bench",
               fresh: bool = False) -> None:
    """Drive ``library``'s own loop until ``log`` holds ``n_trials`` trials.

    Optuna resumes from ``storage`` (``fresh``: its study is deleted first); Hyperopt and
    scikit-optimize resume from the rows already in ``log`` (``TrialLog.resume``).
    """
    if library == "optuna":
        run_optuna(log, algorithm, n_trials, seed, storage, study_name, fresh)
    elif library == "hyperopt":
        run_hyperopt(log, algorithm, n_trials, seed)
    else:
        run_skopt(log, algorithm, n_trials, seed)
