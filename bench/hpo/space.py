"""Search spaces declared once, translated to each library's native space."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Param:
    """One hyper-parameter: ``float``/``int`` in [low, high] (``log``), ``cat`` of choices, or
    ``ord``: ordered choices (a grid), which every library sees as an integer index so that it
    can model their order (the tabular benchmark's learning-rate grid).

    Every discrete value (an ``int`` or an ``ord`` level) gets the same prior mass in every
    library: Hyperopt and scikit-optimize see it as a value in [low - 0.5, high + 0.5] rounded
    to the nearest integer (``hp.quniform(low, high, 1)`` and skopt's normalised ``Integer``
    give the two end values half the mass of the others)."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Space:
    name: str
    params: tuple[Param, ...]
    fixed: dict[str, Any]

    def names(self) -> list[str]:
        return [p.name for p in self.params]


#: ``mnist_cnn_hpo_libs``: lr, conv layers, dense layers, units, activation (+ the best trials'
#: filters and optimizer); kernel 5 and strides 1 fixed as in its best trials.
HPO_LIBS = Space("mnist_cnn_hpo_libs", (
    Param("learning_rate", "float", 1e-6, 1e-2, log=True),
    Param("conv_layers", "int", 1, 3),
    Param("dense_layers", "int", 1, 5),
    Param("units", "int", 5, 512),
    Param("activation", "cat", choices=("relu", "sigmoid")),
    Param("filters", "cat", choices=(16, 32)),
    Param("optimizer", "cat", choices=("rmsprop", "adam")),
), {"kernel": 5, "strides": 1})

#: ``mnist_cnn_optuna_hyperopt``: Conv-Conv-MaxPool-Dense-Dropout with 8 tuned settings.
OPTUNA_HYPEROPT = Space("mnist_cnn_optuna_hyperopt", (
    Param("batch_size", "cat", choices=(32, 64, 128)),
    Param("filters", "cat", choices=(16, 32, 64)),
    Param("kernel", "cat", choices=(3, 5)),
    Param("strides", "cat", choices=(1, 2)),
    Param("activation", "cat", choices=("relu", "elu", "tanh")),
    Param("dropout", "float", 0.1, 0.6),
    Param("hidden", "cat", choices=(128, 256, 512)),
    Param("learning_rate", "float", 1e-4, 1e-2, log=True),
), {})

#: ``mnist_cnn_hpo_libs`` on a grid for the tabular benchmark: every dimension kept, the
#: learning rate on a log grid (one point per decade), 5 x 3 x 3 x 3 x 2 x 2 x 2 = 1,080 points.
HPO_LIBS_GRID = Space("mnist_cnn_hpo_libs_grid", (
    Param("learning_rate", "ord", choices=(1e-6, 1e-5, 1e-4, 1e-3, 1e-2)),
    Param("conv_layers", "ord", choices=(1, 2, 3)),
    Param("dense_layers", "ord", choices=(1, 3, 5)),
    Param("units", "ord", choices=(8, 64, 512)),
    Param("activation", "cat", choices=("relu", "sigmoid")),
    Param("filters", "cat", choices=(16, 32)),
    Param("optimizer", "cat", choices=("rmsprop", "adam")),
), HPO_LIBS.fixed)

SPACES = {s.name: s for s in (HPO_LIBS, OPTUNA_HYPEROPT, HPO_LIBS_GRID)}


def grid_points(space: Space) -> list[dict[str, Any]]:
    """Every point of a space whose parameters all have choices (``ord``/``cat``)."""
    import itertools

    if any(p.kind not in ("ord", "cat") for p in space.params):
        raise ValueError(f"space {space.name} is not a grid")
    names = space.names()
    return [dict(zip(names, values, strict=True))
            for values in itertools.product(*(p.choices for p in space.params))]


def point_label(params: dict[str, Any]) -> str:
    """A short stable label of one grid point, e.g.
    ``lr=1e-04,conv=2,dense=3,units=64,relu,f32,adam``."""
    return (f"lr={params['learning_rate']:.0e},conv={params['conv_layers']},"
            f"dense={params['dense_layers']},units={params['units']},{params['activation']},"
            f"f{params['filters']},{params['optimizer']}")


def to_run_settings(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """RunSpec fields for one trial's parameters."""
    p = {**space.fixed, **params}
    if space.name.startswith(HPO_LIBS.name):
        arch = {"kind": "cnn", "conv_filters": [int(p["filters"])] * int(p["conv_layers"]),
                "kernel": int(p["kernel"]), "strides": int(p["strides"]), "pool": "each",
                "padding": "same", "dense": [int(p["units"])] * int(p["dense_layers"]),
                "activation": p["activation"]}
        return {"arch": arch, "model": "cnn_hpo", "optimizer": p["optimizer"],
                "learning_rate": float(p["learning_rate"])}
    arch = {"kind": "cnn", "conv_filters": [int(p["filters"]), int(p["filters"]) * 2],
            "kernel": int(p["kernel"]), "strides": int(p["strides"]), "pool": "end",
            "padding": "same", "dense": [int(p["hidden"])], "dropout": float(p["dropout"]),
            "activation": p["activation"]}
    return {"arch": arch, "model": "cnn_tuned", "optimizer": "adam",
            "learning_rate": float(p["learning_rate"]), "batch_size": int(p["batch_size"])}


# -- translations ------------------------------------------------------------------------
def suggest_optuna(trial: Any, space: Space) -> dict[str, Any]:
    out = {}
    for p in space.params:
        if p.kind == "float":
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
        elif p.kind == "ord":
            out[p.name] = trial.suggest_int(p.name, 0, len(p.choices) - 1)
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return out


def hyperopt_space(space: Space) -> dict[str, Any]:
    from hyperopt import hp

    out = {}
    for p in space.params:
        if p.kind == "float":
            out[p.name] = (hp.loguniform(p.name, math.log(p.low), math.log(p.high)) if p.log
                           else hp.uniform(p.name, p.low, p.high))
        elif p.kind in ("ord", "int"):  # quniform, not uniformint: ATPE breaks on uniformint
            low, high = int_bounds(p)
            out[p.name] = hp.quniform(p.name, low - 0.5, high + 0.5, 1)
        else:
            out[p.name] = hp.choice(p.name, list(p.choices))
    return out


def hyperopt_vals(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """A trial's parameters as Hyperopt stores them (a choice as its index), for resuming."""
    out = {}
    for p in space.params:
        v = params[p.name]
        out[p.name] = list(p.choices).index(v) if p.kind in ("cat", "ord") else float(v)
    return out


def int_bounds(p: Param) -> tuple[int, int]:
    """The integer range of a discrete parameter: an ``ord``'s level indices, an ``int``'s
    [low, high]."""
    return (0, len(p.choices) - 1) if p.kind == "ord" else (int(p.low), int(p.high))


def skopt_space(space: Space) -> list[Any]:
    from skopt.space import Categorical, Real

    dims = []
    for p in space.params:
        if p.kind == "float":
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform",
                             name=p.name))
        elif p.kind in ("ord", "int"):  # a rounded Real: equal mass per value, order kept
            low, high = int_bounds(p)
            dims.append(Real(low - 0.5, high + 0.5, name=p.name))
        else:
            dims.append(Categorical(list(p.choices), name=p.name))
    return dims


def skopt_value(p: Param, value: Any) -> Any:
    """A stored value as scikit-optimize's dimension holds it (an ``ord`` level as its
    index), for resuming."""
    return list(p.choices).index(value) if p.kind == "ord" else value


def normalise(space: Space, params: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values (ints for int params, levels for ord ones) whatever library
    produced them; a discrete value drawn in [low - 0.5, high + 0.5] is rounded into range."""
    out = {}
    for p in space.params:
        v = params[p.name]
        v = v.item() if hasattr(v, "item") else v
        if p.kind in ("ord", "int"):
            low, high = int_bounds(p)
            v = min(high, max(low, int(math.floor(float(v) + 0.5))))
        out[p.name] = p.choices[v] if p.kind == "ord" else v
    return out
