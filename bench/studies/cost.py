"""A rough cost model for ``bench list``: runs and CPU seconds per study and profile.

Calibrated with ``bench perf`` on a 2-core x86 CPU (docs/performance.md): a training step
costs a fixed overhead plus a per-image term proportional to the parameter count; every
epoch also evaluates the validation set. Times are for one worker (one core); GPUs are much
faster. Checked against the quick result set made with compiled epochs: 50 min estimated,
about 39 min of worker time measured (31 min in 276 runs + 7 min in 16 HPO searches),
24.6 min of wall time with 2 workers.
"""

from __future__ import annotations

from bench.spec import RunSpec
from bench.studies.registry import Profile, Study

RUN_OVERHEAD_S = 2.0  # build, compile, final predict
STEP_S = 3.8e-4  # fixed cost of one optimizer step (engine, 2-core CPU)
MPARAM_SAMPLE_S = 6.3e-5  # per training image and million parameters
CNN_SAMPLE_S = 1.3e-3  # per training image, small CNNs on one core (measured in `quick`)


def _mparams(arch: dict) -> float:
    sizes = [784, *arch.get("hidden", []), 10]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False)) / 1e6


def run_seconds(spec: RunSpec) -> float:
    """Estimated wall seconds of one run on a 2-core CPU."""
    n_train = spec.fraction * (55_000 if spec.validation.startswith("holdout") else 60_000)
    n_val = 6_000 if spec.validation.startswith("holdout") else 0
    if spec.test_curve or spec.selects_on_test:
        n_val += 10_000 * spec.test_fraction
    arch = spec.architecture()
    if arch["kind"] == "cnn":
        per_epoch = n_train * CNN_SAMPLE_S + n_val * CNN_SAMPLE_S / 3
    else:
        sample = MPARAM_SAMPLE_S * _mparams(arch)
        per_epoch = n_train / spec.effective_batch_size * STEP_S + n_train * sample
        per_epoch += n_val * sample / 3
    return RUN_OVERHEAD_S + spec.epochs * per_epoch


#: mean suggest time of one replayed trial over every algorithm (100-trial searches; skopt's
#: GP and Hyperopt's ATPE dominate)
REPLAY_TRIAL_S = 0.5


def estimate_train(study: Study, profile: Profile, seeds: int | None = None,
                   trials: int | None = None) -> tuple[int, float]:
    """(runs, seconds) of a training study under ``profile`` with ``seeds`` seeds (None:
    the profile's, after the study's caps)."""
    seeds = seeds or study.seeds(profile)
    if study.stages:
        runs, seconds = 0, 0.0
        hidden: list[int] = [512]
        for stage in study.stages:
            for units in stage.levels:
                spec = study.spec(profile, 0, {"arch": {"kind": "mlp", "hidden": [*hidden, units]}},
                                  {stage.name: str(units)})
                runs += seeds
                seconds += seeds * run_seconds(spec)
            hidden = [*hidden, stage.levels[len(stage.levels) // 2]]
        return runs, seconds
    specs = study.expand(profile, list(range(seeds)))
    return len(specs), sum(run_seconds(s) for s in specs)
