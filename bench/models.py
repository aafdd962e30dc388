"""Stage 2 — models: Keras 3 builders for the MLPs and CNNs of the five studies.

Only ``keras.*`` APIs are used so that any Keras backend (TensorFlow, JAX) runs them.
An architecture is plain data (``{"kind": "mlp", ...}``) so that it can be hashed and stored.
"""

from __future__ import annotations

import inspect
from typing import Any

from bench.errors import BenchError, unknown_name
from bench.quiet import keras
from bench.settings import load_builder, make_regularizer
from bench.vocab import ACTIVATIONS, INITIALIZERS, resolve_arch

INPUT_SHAPE = (28, 28, 1)
N_CLASSES = 10

def _check(activation: str, initializer: str) -> None:
    if activation not in ACTIVATIONS:
        raise unknown_name("activation", activation, ACTIVATIONS)
    if initializer not in INITIALIZERS:
        raise unknown_name("initializer", initializer, INITIALIZERS)


def _rates(dropout: list[float] | float | None, n: int, where: str) -> list[float]:
    """One dropout rate per layer from a rate or a list (its length must match)."""
    rates = dropout if isinstance(dropout, list) else [dropout or 0.0] * n
    if len(rates) != n:
        raise BenchError(f"dropout has {len(rates)} rates for {n} {where}")
    return [float(r or 0.0) for r in rates]


def build_mlp(
    hidden: list[int],
    activation: str = "linear",
    initializer: str = "glorot_uniform",
    dropout: list[float] | float | None = 0.0,
    regularizer: dict[str, Any] | None = None,
) -> keras.Model:
    """Flatten - Dense(h, activation) [- Dropout] ... - Dense(10, softmax); ``regularizer``
    penalises every Dense kernel."""
    _check(activation, initializer)
    rates = _rates(dropout, len(hidden), "hidden layers")
    layers: list[keras.layers.Layer] = [keras.Input(INPUT_SHAPE), keras.layers.Flatten()]
    return keras.Sequential(
        layers + _dense_head(hidden, rates, activation, initializer, regularizer))


def _dense_head(units: list[int], rates: list[float], activation: str,
                initializer: str, regularizer: dict[str, Any] | None = None,
                ) -> list[keras.layers.Layer]:
    """Dense(u, activation) [- Dropout(rate)] per hidden layer, then Dense(10, softmax)."""
    layers: list[keras.layers.Layer] = []
    for width, rate in zip(units, rates, strict=True):
        layers.append(
            keras.layers.Dense(int(width), activation=activation, kernel_initializer=initializer,
                               kernel_regularizer=make_regularizer(regularizer))
        )
        if rate:
            layers.append(keras.layers.Dropout(rate))
    # float32 output even under a mixed-precision policy (stable softmax and loss)
    layers.append(keras.layers.Dense(N_CLASSES, activation="softmax", dtype="float32",
                                     kernel_regularizer=make_regularizer(regularizer)))
    return layers


def build_cnn(
    conv_filters: list[int],
    kernel: int = 3,
    strides: int = 1,
    pool: str = "each",
    padding: str = "same",
    dense: list[int] | None = None,
    dropout: list[float] | float | None = 0.0,
    activation: str = "relu",
    initializer: str = "glorot_uniform",
    regularizer: dict[str, Any] | None = None,
) -> keras.Model:
    """Conv2D blocks (max-pool after ``each`` conv, at the ``end``, ``none``) - Dense - softmax.
    ``dropout`` follows each dense hidden layer; ``regularizer`` penalises every kernel."""
    _check(activation, initializer)
    if pool not in ("each", "end", "none"):
        raise BenchError(f"unknown pool {pool!r}; valid: each, end, none")
    layers: list[keras.layers.Layer] = [keras.Input(INPUT_SHAPE)]
    size = INPUT_SHAPE[0]
    for filters in conv_filters:
        layers.append(
            keras.layers.Conv2D(
                int(filters), int(kernel), strides=int(strides), padding=padding,
                activation=activation, kernel_initializer=initializer,
                kernel_regularizer=make_regularizer(regularizer),
            )
        )
        size = -(-size // strides) if padding == "same" else (size - kernel) // strides + 1
        if size < 1:
            raise BenchError(f"CNN too deep for 28x28 input: {conv_filters}, kernel {kernel}")
        if pool == "each" and size >= 2:
            layers.append(keras.layers.MaxPooling2D(2))
            size //= 2
    if pool == "end":
        layers.append(keras.layers.MaxPooling2D(2))
    layers.append(keras.layers.Flatten())
    dense = dense or []
    rates = _rates(dropout, len(dense), "dense layers")
    return keras.Sequential(
        layers + _dense_head(dense, rates, activation, initializer, regularizer))


def build_custom(spec: Any) -> keras.Model:
    """A builder's model: ``builder(input_shape, n_classes, spec)`` must return a Keras model
    with ``n_classes`` softmax outputs (``spec``: the RunSpec, its settings to read)."""
    path = spec.model
    model = load_builder(path)(INPUT_SHAPE, N_CLASSES, spec)
    if not isinstance(model, keras.Model):
        raise BenchError(f"model {path!r}: the builder returned {type(model).__name__}, "
                         "not a keras.Model")
    if tuple(model.output_shape)[-1] != N_CLASSES:
        raise BenchError(f"model {path!r}: output shape {model.output_shape}, expected "
                         f"{N_CLASSES} classes")
    _check_probabilities(path, model)
    return model


def _check_probabilities(path: str, model: keras.Model) -> None:
    """The outputs are class probabilities (a softmax): logits would be trained and stored
    as ``ok`` with a wrong loss."""
    import numpy as np

    x = np.random.default_rng(0).random((2, *INPUT_SHAPE), dtype="float32")
    y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype="float64")
    if not (np.isfinite(y).all() and (y >= -1e-6).all() and np.allclose(y.sum(-1), 1, atol=1e-2)):
        raise BenchError(f"model {path!r}: the outputs are not probabilities (end the network "
                         "with a softmax)")


def build_for(spec: Any) -> keras.Model:
    """The model of a RunSpec: a preset or architecture, or its custom builder's."""
    arch = spec.architecture()
    if arch["kind"] == "custom":
        return build_custom(spec)
    return build(arch)


def build(arch: dict[str, Any] | str, activation: str | None = None,
          initializer: str | None = None) -> keras.Model:
    """Build a model from an architecture; ``activation``/``initializer`` override the arch's."""
    spec = resolve_arch(arch)
    kind = spec.pop("kind", None)
    if activation is not None:
        spec["activation"] = activation
    if initializer is not None:
        spec["initializer"] = initializer
    builders = {"mlp": build_mlp, "cnn": build_cnn}
    if kind not in builders:
        raise BenchError(f"unknown model kind {kind!r}; valid: cnn, mlp")
    valid = list(inspect.signature(builders[kind]).parameters)
    unknown = sorted(set(spec) - set(valid))
    if unknown:
        raise BenchError(f"{kind} architecture: unknown key(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(valid)} (dropout and regularizer are also settings)")
    return builders[kind](**spec)


def describe_layers(model: keras.Model) -> str:
    """The network as built, one token per layer: ``dense300[l2=0.0001] dropout0.2 dense10``
    (read from each layer's Keras config, so it describes custom builders' models too)."""
    out = []
    for layer in model.layers:
        cfg = layer.get_config()
        name = type(layer).__name__.lower()
        size = cfg.get("units", cfg.get("filters", cfg.get("rate", "")))
        token = f"{name}{size:g}" if isinstance(size, float) else f"{name}{size}"
        if cfg.get("kernel_size"):
            token += "k" + "x".join(map(str, cfg["kernel_size"]))
        reg = cfg.get("kernel_regularizer")
        if reg:
            inner = reg.get("config", reg) if isinstance(reg, dict) else {}
            token += "[" + ",".join(f"{k}={v:g}" for k, v in sorted(inner.items())
                                    if isinstance(v, float) and v) + "]"
        out.append(token)
    return " ".join(out)
