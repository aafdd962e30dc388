"""A rough cost model for ``bench list``: runs and CPU seconds per study and profile.

Calibrated on a 2-core x86 CPU (see docs/performance.md); GPUs are much faster.
"""

from __future__ import annotations

from bench.spec import RunSpec
from bench.studies.registry import Profile, Study

RUN_OVERHEAD_S = 2.5  # build + compile + predict for a small model
MLP_S_PER_MPARAM_SAMPLE = 1.6e-5  # seconds per (million parameters x training image) per epoch
MLP_S_PER_SAMPLE = 2.5e-5  # fixed per-image cost (framework overhead at batch 32)
CNN_S_PER_SAMPLE = 4.0e-4


def run_seconds(spec: RunSpec, params: int | None = None) -> float:
    n_train = spec.fraction * (55_000 if spec.validation.startswith("holdout") else 60_000)
    arch = spec.architecture()
    if arch["kind"] == "cnn":
        per_sample = CNN_S_PER_SAMPLE
    else:
        sizes = [784, *arch.get("hidden", []), 10]
        mparams = sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False)) / 1e6
        per_sample = MLP_S_PER_SAMPLE * 32 / spec.effective_batch_size ** 0.5 / 5.66 + (
            MLP_S_PER_MPARAM_SAMPLE * mparams)
    return RUN_OVERHEAD_S + spec.epochs * n_train * per_sample


def estimate(study: Study, profile: Profile, seeds: int) -> tuple[int, float]:
    """(runs, seconds) for ``study`` under ``profile`` with ``seeds`` seeds."""
    if study.kind == "hpo":
        from bench.hpo.cost import estimate_hpo

        return estimate_hpo(study, profile, seeds)
    seed_list = list(range(seeds))
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
    specs = study.expand(profile, seed_list)
    return len(specs), sum(run_seconds(s) for s in specs)
