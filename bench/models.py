"""Stage 2 — models: Keras 3 builders for the MLPs and CNNs of the five studies.

Only ``keras.*`` APIs are used so that any Keras backend (TensorFlow, JAX) runs them.
An architecture is plain data (``{"kind": "mlp", ...}``) so that it can be hashed and stored.
"""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError, unknown_name
from bench.quiet import keras
from bench.vocab import ACTIVATIONS, INITIALIZERS, resolve_arch

INPUT_SHAPE = (28, 28, 1)
N_CLASSES = 10

def _check(activation: str, initializer: str) -> None:
    if activation not in ACTIVATIONS:
        raise unknown_name("activation", activation, ACTIVATIONS)
    if initializer not in INITIALIZERS:
        raise unknown_name("initializer", initializer, INITIALIZERS)


def build_mlp(
    hidden: list[int],
    activation: str = "linear",
    initializer: str = "glorot_uniform",
    dropout: list[float] | float = 0.0,
) -> keras.Model:
    """Flatten - Dense(h, activation) [- Dropout] ... - Dense(10, softmax)."""
    _check(activation, initializer)
    rates = dropout if isinstance(dropout, list) else [dropout] * len(hidden)
    if len(rates) != len(hidden):
        raise BenchError(f"dropout has {len(rates)} rates for {len(hidden)} hidden layers")
    layers: list[keras.layers.Layer] = [keras.Input(INPUT_SHAPE), keras.layers.Flatten()]
    return keras.Sequential(layers + _dense_head(hidden, rates, activation, initializer))


def _dense_head(units: list[int], rates: list[float], activation: str,
                initializer: str) -> list[keras.layers.Layer]:
    """Dense(u, activation) [- Dropout(rate)] per hidden layer, then Dense(10, softmax)."""
    layers: list[keras.layers.Layer] = []
    for width, rate in zip(units, rates, strict=True):
        layers.append(
            keras.layers.Dense(int(width), activation=activation, kernel_initializer=initializer)
        )
        if rate:
            layers.append(keras.layers.Dropout(rate))
    # float32 output even under a mixed-precision policy (stable softmax and loss)
    layers.append(keras.layers.Dense(N_CLASSES, activation="softmax", dtype="float32"))
    return layers


def build_cnn(
    conv_filters: list[int],
    kernel: int = 3,
    strides: int = 1,
    pool: str = "each",
    padding: str = "same",
    dense: list[int] | None = None,
    dropout: float = 0.0,
    activation: str = "relu",
    initializer: str = "glorot_uniform",
) -> keras.Model:
    """Conv2D blocks (max-pool after ``each`` conv, at the ``end``, ``none``) - Dense - softmax."""
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
    return keras.Sequential(
        layers + _dense_head(dense, [dropout] * len(dense), activation, initializer))


def build(arch: dict[str, Any] | str, activation: str | None = None,
          initializer: str | None = None) -> keras.Model:
    """Build a model from an architecture; ``activation``/``initializer`` override the arch's."""
    spec = resolve_arch(arch)
    kind = spec.pop("kind", None)
    if activation is not None:
        spec["activation"] = activation
    if initializer is not None:
        spec["initializer"] = initializer
    if kind == "mlp":
        return build_mlp(**spec)
    if kind == "cnn":
        return build_cnn(**spec)
    raise BenchError(f"unknown model kind {kind!r}; valid: cnn, mlp")
