"""What a trial of the tabular benchmark costs: a model of compute, not a recorded time.

A table's recorded training times drift with the order the grid was trained in (sittings,
machine load), and the grid was trained learning rate by learning rate, so a recorded time
mixes the architecture's cost with when it ran. At the table's one fidelity (batch, epochs
and data size fixed) compute is decided by the architecture alone, so the cost of a point is
its architecture's: ``log seconds = architecture effect + when-it-ran effect`` is fitted by
least squares over every recorded run (when: the run's place in the training order, in
``BINS`` equal-count bins), and an architecture costs ``exp(its effect + the mean
when-effect)`` -- the same for every learning rate, activation and optimizer it is trained
with, however the order drifted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the grid parameters that decide a training's compute at a fixed batch, epochs and data
COMPUTE_PARAMS = ("conv_layers", "dense_layers", "units", "filters")
BINS = 20


def architecture(label: str) -> str:
    """The compute-relevant part of a grid point's label (``conv=2,dense=3,units=64,f32``)."""
    parts = label.split(",")
    keep = [p for p in parts if p.startswith(("conv=", "dense=", "units="))]
    keep += [p for p in parts if p.startswith("f") and p[1:].isdigit()]
    return ",".join(keep)


def _order_bins(runs: pd.DataFrame, bins: int) -> np.ndarray:
    """Each run's bin of the training order (one bin without start times)."""
    if "started_at" not in runs or runs["started_at"].isna().all():
        return np.zeros(len(runs), dtype=int)
    order = runs["started_at"].rank(method="first").fillna(0).to_numpy()
    n = max(1, min(bins, len(runs) // 20))
    return np.minimum((order - 1) * n // max(len(runs), 1), n - 1).astype(int)


def fit_costs(runs: pd.DataFrame, bins: int = BINS) -> dict[str, float]:
    """Seconds per training of each point (``runs``: label, train_seconds, started_at) from
    its architecture's effect, the drift of the training order taken out."""
    ok = runs[np.isfinite(runs["train_seconds"].astype(float))
              & (runs["train_seconds"].astype(float) > 0)].reset_index(drop=True)
    if ok.empty:
        return {}
    arch = ok["label"].map(architecture)
    names = sorted(arch.unique())
    when = _order_bins(ok, bins)
    n_bins = int(when.max()) + 1
    x = np.zeros((len(ok), len(names) + n_bins - 1))
    x[np.arange(len(ok)), arch.map({a: i for i, a in enumerate(names)}).to_numpy()] = 1.0
    for b in range(1, n_bins):
        x[when == b, len(names) + b - 1] = 1.0
    y = np.log(ok["train_seconds"].astype(float).to_numpy())
    coef = np.linalg.lstsq(x, y, rcond=None)[0]
    drift = np.concatenate([[0.0], coef[len(names):]])
    mean_drift = float(np.mean(drift[when]))
    per_arch = {a: float(np.exp(coef[i] + mean_drift)) for i, a in enumerate(names)}
    return {label: per_arch[architecture(label)] for label in runs["label"].unique()
            if architecture(label) in per_arch}
