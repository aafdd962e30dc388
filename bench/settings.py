"""Run settings beyond names: dropout, weight regularizers, optimizer arguments, learning-rate
schedules, label smoothing and custom model builders.

Checks that need Keras (an optimizer's signature, a schedule's class) import it lazily, so a
study that uses only plain names is still validated without loading Keras.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from typing import Any

from bench.errors import BenchError, unknown_name
from bench.vocab import OPTIMIZERS

REGULARIZERS = ("l1", "l2", "l1_l2")
#: Keras optimizer classes that are not optimizers a study can train with
_NOT_OPTIMIZERS = {"optimizer", "lossscaleoptimizer", "tfoptimizer"}
#: arguments set by their own setting, never inside ``optimizer: {...}``
_RESERVED_ARGS = {"learning_rate", "name", "kwargs"}


def is_builder(model: str) -> bool:
    """True for a custom builder path ``package.module:function``."""
    return isinstance(model, str) and ":" in model


# ---------------------------------------------------------------------- dropout / regularizer
def check_dropout(value: Any) -> None:
    """A rate in [0, 1), or a list of them (one per hidden layer); None: the architecture's."""
    rates = value if isinstance(value, list) else [value]
    if value is None:
        return
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise BenchError(f"dropout must be a rate in [0, 1) or a list of them, got {value!r}")


def check_regularizer(value: Any) -> None:
    """``{l2: 1e-4}``, ``{l1: 1e-5}`` or ``{l1_l2: [l1, l2]}``; None: no regularizer."""
    if value is None:
        return
    if not isinstance(value, dict) or len(value) != 1:
        raise BenchError(f"regularizer must be one of {{l1: x}}, {{l2: x}}, {{l1_l2: [l1, l2]}} "
                         f"or null, got {value!r}")
    (kind, amount), = value.items()
    if kind not in REGULARIZERS:
        raise unknown_name("regularizer", kind, REGULARIZERS)
    amounts = amount if kind == "l1_l2" else [amount]
    if kind == "l1_l2" and (not isinstance(amount, list) or len(amount) != 2):
        raise BenchError(f"regularizer l1_l2 takes [l1, l2], got {amount!r}")
    for a in amounts:
        if isinstance(a, bool) or not isinstance(a, int | float) or a < 0:
            raise BenchError(f"regularizer {kind} must be a number >= 0, got {amount!r}")


def make_regularizer(value: dict[str, Any] | None) -> Any:
    """The Keras regularizer of a ``regularizer`` value (None: none)."""
    if not value:
        return None
    from bench.quiet import keras

    (kind, amount), = value.items()
    if kind == "l1_l2":
        return keras.regularizers.L1L2(l1=float(amount[0]), l2=float(amount[1]))
    return (keras.regularizers.L1 if kind == "l1" else keras.regularizers.L2)(float(amount))


# ---------------------------------------------------------------------- optimizers
def optimizer_parts(optimizer: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, extra arguments) of ``sgd`` or ``{name: sgd, momentum: 0.9}``."""
    if isinstance(optimizer, dict):
        args = {k: v for k, v in optimizer.items() if k != "name"}
        return str(optimizer.get("name")), args
    return optimizer, {}


def _keras_class(name: str) -> tuple[type, dict[str, Any]]:
    """The Keras optimizer class and preset arguments for one of our names or a Keras name."""
    from bench.quiet import keras

    if name in OPTIMIZERS:
        cls_name, _, extra = OPTIMIZERS[name]
        return getattr(keras.optimizers, cls_name), dict(extra)
    found = {n.lower(): getattr(keras.optimizers, n) for n in dir(keras.optimizers)
             if inspect.isclass(getattr(keras.optimizers, n))
             and n.lower() not in _NOT_OPTIMIZERS}
    if name.lower() not in found:
        raise unknown_name("optimizer", name, sorted({*OPTIMIZERS, *found}))
    return found[name.lower()], {}


def default_learning_rate(optimizer: str | dict[str, Any]) -> float:
    """The learning rate used when none is set: ours for our names, else Keras's default."""
    name, _ = optimizer_parts(optimizer)
    if name in OPTIMIZERS:
        return OPTIMIZERS[name][1]
    cls, _ = _keras_class(name)
    return float(inspect.signature(cls).parameters["learning_rate"].default)


def check_optimizer(optimizer: Any) -> None:
    """A known name; a dict's arguments are checked by name against the Keras optimizer's
    signature and by value by building it once."""
    if isinstance(optimizer, str):
        if optimizer not in OPTIMIZERS:
            _keras_class(optimizer)
        return
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("name"), str):
        raise BenchError(f"optimizer must be a name or {{name: ..., argument: value}}, "
                         f"got {optimizer!r}")
    key = json.dumps(optimizer, sort_keys=True, default=repr)
    if key not in _CHECKED:  # building one takes ~10 ms; a grid has many cells
        _check_optimizer_dict(optimizer)
        _CHECKED.add(key)


_CHECKED: set[str] = set()


def _check_optimizer_dict(optimizer: dict[str, Any]) -> None:
    """Argument names against the Keras signature, values by kind, then build it once."""
    name, args = optimizer_parts(optimizer)
    cls, _ = _keras_class(name)
    valid = [p for p in inspect.signature(cls).parameters if p not in _RESERVED_ARGS]
    for arg in args:
        if arg == "learning_rate":
            raise BenchError("optimizer: set the learning rate with the learning_rate setting "
                             "(a number or a schedule), not inside optimizer")
        if arg not in valid:
            raise BenchError(f"optimizer {name}: unknown argument {arg!r}; valid: "
                             f"{', '.join(valid)}")
        _check_argument(name, arg, args[arg], inspect.signature(cls).parameters[arg].default)
    try:
        make_optimizer(optimizer, None)
    except (TypeError, ValueError) as exc:
        raise BenchError(f"optimizer {name}: {exc}") from exc


#: optimizer arguments that must be above 0, and those that are a share in [0, 1]
_POSITIVE_ARGS = {"epsilon", "clipnorm", "clipvalue", "global_clipnorm"}
_UNIT_ARGS = {"momentum", "beta_1", "beta_2", "beta_3", "rho", "ema_momentum",
              "initial_accumulator_value"}


def _check_argument(name: str, arg: str, value: Any, default: Any) -> None:
    """Keras checks few optimizer arguments: a flag must be true or false, a number finite
    and not negative (some above 0, some at most 1)."""
    import math

    where = f"optimizer {name}: {arg}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise BenchError(f"{where} must be true or false, got {value!r}")
        return
    if value is None or not isinstance(default, int | float | type(None)):
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BenchError(f"{where} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (arg in _POSITIVE_ARGS and value == 0):
        bound = "above 0" if arg in _POSITIVE_ARGS else "0 or more"
        raise BenchError(f"{where} must be a finite number {bound}, got {value!r}")
    if arg in _UNIT_ARGS and arg != "initial_accumulator_value" and value > 1:
        raise BenchError(f"{where} must be in [0, 1], got {value!r}")


def make_optimizer(optimizer: str | dict[str, Any], learning_rate: float | dict | None) -> Any:
    """The Keras optimizer of a run (a schedule when ``learning_rate`` is a dict)."""
    name, args = optimizer_parts(optimizer)
    cls, extra = _keras_class(name)
    if isinstance(learning_rate, dict):
        rate: Any = make_schedule(learning_rate)
    else:
        rate = learning_rate if learning_rate is not None else default_learning_rate(optimizer)
    return cls(learning_rate=rate, **{**extra, **args})


# ---------------------------------------------------------------------- schedules
def _schedule_class(name: str) -> type:
    from bench.quiet import keras

    classes = {n: getattr(keras.optimizers.schedules, n)
               for n in dir(keras.optimizers.schedules) if n[0].isupper()
               and n != "LearningRateSchedule"}
    by_snake = {_snake(n): c for n, c in classes.items()}
    if name in by_snake:
        return by_snake[name]
    if name in classes:
        return classes[name]
    raise unknown_name("learning-rate schedule", name, sorted(by_snake))


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def make_schedule(value: dict[str, Any]) -> Any:
    """A ``keras.optimizers.schedules`` object from ``{name: cosine_decay, ...}``."""
    args = {k: v for k, v in value.items() if k != "name"}
    return _schedule_class(str(value.get("name")))(**args)


def check_schedule(value: dict[str, Any]) -> None:
    """Name, argument names (the class's signature) and values (built once)."""
    if not isinstance(value.get("name"), str):
        raise BenchError(f"a learning-rate schedule needs a name, got {value!r}")
    key = "schedule " + json.dumps(value, sort_keys=True, default=repr)
    if key not in _CHECKED:
        _check_schedule(value)
        _CHECKED.add(key)


def _check_schedule(value: dict[str, Any]) -> None:
    """Name, argument names and the rates it gives (built once)."""
    cls = _schedule_class(value["name"])
    valid = [p for p in inspect.signature(cls).parameters if p != "name"]
    for arg in value:
        if arg != "name" and arg not in valid:
            raise BenchError(f"learning-rate schedule {value['name']}: unknown argument "
                             f"{arg!r}; valid: {', '.join(valid)}")
    try:
        schedule = make_schedule(value)
        rates = [float(schedule(step)) for step in (0, 1, 10, 100, 1_000, 10_000, 100_000)]
    except (TypeError, ValueError) as exc:
        raise BenchError(f"learning-rate schedule {value['name']}: {exc}") from exc
    import math

    if not all(math.isfinite(r) and r >= 0 for r in rates) or not rates[0] > 0:
        raise BenchError(f"learning-rate schedule {value['name']}: the rate must start above "
                         f"0 and stay a finite number, not negative (it is {rates[0]:g} at "
                         f"step 0, {min(rates):g} at its lowest)")


def initial_learning_rate(value: dict[str, Any]) -> float:
    """The rate a schedule starts from (the ``learning_rate`` column of its runs)."""
    if "initial_learning_rate" in value:
        return float(value["initial_learning_rate"])
    if value.get("values"):
        return float(value["values"][0])
    return float("nan")


# ---------------------------------------------------------------------- loss
def loss_for(label_smoothing: float | None) -> Any:
    """Sparse categorical cross-entropy, with label smoothing when it is set (> 0)."""
    if not label_smoothing:
        return "sparse_categorical_crossentropy"
    from bench.quiet import keras

    eps = float(label_smoothing)

    def smoothed_sparse_crossentropy(y_true: Any, y_pred: Any) -> Any:
        """(1 - eps) * CE(true class) + eps * mean over classes of CE (uniform target)."""
        ops = keras.ops
        logp = ops.log(ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1.0))
        n = ops.shape(logp)[-1]
        onehot = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), n)
        target = onehot * (1.0 - eps) + eps / n
        return -ops.sum(target * logp, axis=-1)

    return smoothed_sparse_crossentropy


# ---------------------------------------------------------------------- custom builders
def load_builder(path: str) -> Callable[..., Any]:
    """The function of ``package.module:function`` (a BenchError when it cannot be found)."""
    module_name, _, func = path.partition(":")
    import bench.quiet  # noqa: F401  Keras and TensorFlow quiet before a builder imports them

    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any import failure is the user's to fix
        raise BenchError(f"model {path!r}: cannot import {module_name!r} "
                         f"({type(exc).__name__}: {exc})") from exc
    builder = getattr(module, func, None)
    if not callable(builder):
        raise BenchError(f"model {path!r}: {module_name} has no function {func!r}")
    return builder


# ---------------------------------------------------------------------- labels
def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def label(value: Any) -> str:
    """A short readable label of a level value: ``l2=0.0001``, ``sgd(momentum=0.9)``,
    ``mlp 256-64``, ``0.5,0.2``."""
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(label(v) for v in value)
    if isinstance(value, dict):
        if "kind" in value:
            return describe_arch(value)
        args = ", ".join(f"{k}={label(v)}" for k, v in value.items() if k != "name")
        if "name" in value:
            return f"{value['name']}({args})" if args else str(value["name"])
        return args
    return _num(value) if isinstance(value, float) else str(value)


def describe_arch(arch: dict[str, Any]) -> str:
    """``mlp 256-64``, ``cnn 32-64 / 128``, with dropout and regularizer when set."""
    kind = arch.get("kind")
    if kind == "custom":
        return str(arch.get("builder"))
    if kind == "cnn":
        text = "cnn " + "-".join(map(str, arch.get("conv_filters", [])))
        if arch.get("dense"):
            text += " / " + "-".join(map(str, arch["dense"]))
    else:
        text = f"{kind} " + "-".join(map(str, arch.get("hidden", [])))
    rates = arch.get("dropout") or 0
    if any(rates if isinstance(rates, list) else [rates]):
        text += " dropout " + label(rates)
    if arch.get("regularizer"):
        text += " " + label(arch["regularizer"])
    return text


def model_name(arch: dict[str, Any]) -> str:
    """An identifier of the network trained: ``mlp_256_64``, ``mlp_256_do0.2_l2=0.0001``."""
    return describe_arch(arch).replace(" dropout ", "_do").replace(" / ", "_d").replace(
        " ", "_").replace("-", "_")


def as_json(value: Any) -> str | None:
    """A dict or list as compact JSON for a table column (None stays None)."""
    return None if value is None else json.dumps(value, sort_keys=True)
