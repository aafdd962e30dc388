"""Run an HPO study: (library, algorithm) x fraction x seed searches, one record each."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from bench.errors import BenchError
from bench.hpo.libraries import parse_methods, run_search
from bench.hpo.space import SPACES, to_run_settings
from bench.spec import RunSpec
from bench.studies.registry import Study

DEFAULT_TARGET = 0.95


def search_id(study: str, library: str, algorithm: str, fraction: str, seed: int,
              profile: str, extra: dict[str, Any]) -> str:
    blob = json.dumps([study, library, algorithm, fraction, seed, profile, extra], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def methods_for(study: Study, profile_name: str, requested: str | None) -> list[tuple[str, str]]:
    if requested:
        return parse_methods(requested)
    if profile_name == "full":
        return parse_methods(study.hpo.get("methods_full", "all"))
    return parse_methods(study.hpo["methods"])


def time_to_target(rows: list[dict[str, Any]], target: float) -> float | None:
    for row in rows:
        if row["best_so_far"] is not None and row["best_so_far"] >= target:
            return row["elapsed_seconds"]
    return None


def available(library: str, algorithm: str) -> bool:
    """False for an optional algorithm whose extra is not installed (Optuna's GP: torch)."""
    if (library, algorithm) == ("optuna", "gp"):
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    return True


def run_hpo_study(study: Study, runner: Any, stop: Any, extra: dict[str, Any]) -> None:
    """Run every search of ``study`` not yet stored; each search is stored when it ends."""
    from bench import engine

    profile = runner.profile
    space = SPACES[study.hpo["space"]]
    n_trials = profile.hpo_trials or study.hpo.get("trials", 10)
    methods = methods_for(study, profile.name, extra.get("algorithms"))
    cells = study.grid()
    seeds = runner.seeds if runner.seeds_overridden else list(range(profile.hpo_seeds))
    plan = [(lib, alg, labels, changes, seed) for lib, alg in methods
            for labels, changes in cells for seed in seeds]
    missing = {m for m in methods if not available(*m)}
    if missing:
        from bench.cli.progress import console

        console.print(f"{study.name}: skipping {', '.join(':'.join(m) for m in sorted(missing))}"
                      " (needs torch: pip install -e '.[gp]')")
        plan = [p for p in plan if (p[0], p[1]) not in missing]
    done = set() if runner.force else runner.store.completed("searches")
    todo = []
    for lib, alg, labels, changes, seed in plan:
        sid = search_id(study.name, lib, alg, json.dumps(labels, sort_keys=True), seed,
                        profile.name, {"trials": n_trials})
        if sid not in done:
            todo.append((sid, lib, alg, labels, changes, seed))
    runner.outcome.skipped += len(plan) - len(todo)
    runner.reporter.start(study.name, len(plan), len(plan) - len(todo))
    options = getattr(runner.executor, "options", None) or engine.EngineOptions()
    for sid, lib, alg, labels, changes, seed in todo:
        if stop.stop:
            runner.outcome.interrupted = True
            return
        base = study.spec(profile, seed, changes, labels)

        def evaluate(params: dict[str, Any], base: RunSpec = base) -> dict[str, Any]:
            settings = to_run_settings(space, params)
            spec = base.with_(**settings)
            try:
                spec.validate()
            except BenchError as exc:
                return {"run": {"status": "failed", "error": str(exc)}}
            record = engine.run(spec, options)
            runner.outcome.note_hardware(record["run"])
            return record

        from bench.hpo.libraries import TrialLog

        log = TrialLog(space, evaluate, stop=lambda: stop.stop)
        started = time.time()
        error = None
        try:
            run_search(lib, alg, log, n_trials, seed,
                       storage=runner.store.path("optuna") / "journal.log",
                       study_name=f"{study.name}-{lib}-{alg}-{sid}-{int(started)}")
        except Exception as exc:  # a library failing (e.g. a missing optional dependency)
            error = f"{type(exc).__name__}: {exc}"
        status = "failed" if error or not log.rows else (
            "interrupted" if stop.stop and len(log.rows) < n_trials else "ok")
        nominal = labels.get("fraction", str(study.base.get("fraction", 1.0)))
        common = {"search_id": sid, "study": study.name, "library": lib, "algorithm": alg,
                  "method": f"{lib}:{alg}", "fraction": base.fraction,
                  "fraction_nominal": float(nominal), "epochs": base.epochs,
                  "epochs_nominal": int(labels.get("epochs", study.base.get("epochs", 0))),
                  "selection": "test" if base.selects_on_test else "validation", "seed": seed,
                  "profile": profile.name, "space": space.name,
                  **{k: v for k, v in base.factors.items()
                     if k not in ("fraction", "epochs", "factor", "level", "profile")
                     and not k.endswith("_nominal")}}
        trials = [{**common, "trial_key": f"{sid}-{r['trial']}", **r} for r in log.rows]
        oks = [r for r in log.rows if r["score_accuracy"] is not None]
        best = max(oks, key=lambda r: r["score_accuracy"], default=None)
        target = study.hpo.get("target", DEFAULT_TARGET)
        search = {
            **common, "status": status, "error": error, "n_trials": len(log.rows),
            "n_failed": len(log.rows) - len(oks),
            "best_accuracy": best["score_accuracy"] if best else None,
            "best_test_accuracy": best["test_accuracy"] if best else None,
            "best_test_loss": best["test_loss"] if best else None,
            "best_params_json": best["params_json"] if best else None,
            "optimization_seconds": log.rows[-1]["elapsed_seconds"] if log.rows else None,
            "suggest_seconds_total": sum(r["suggest_seconds"] for r in log.rows),
            "target_accuracy": target,
            "time_to_target_seconds": time_to_target(log.rows, target),
            "started_at": started,
        }
        if status != "interrupted":
            runner.store.write_record("searches", sid, {"search": search, "trials": trials})
        runner.outcome.ran[f"search {status}"] += 1
        if status == "failed":
            runner.outcome.failed.append({"status": "failed", "study": study.name,
                                          "run_id": sid, "error": error or "no trial finished"})
        runner.reporter.advance({"search": {**search, "study": study.name}})
