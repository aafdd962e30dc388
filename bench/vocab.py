"""Names the studies may use: initializers, activations, optimizers, model presets.

Kept free of heavy imports so that the CLI can validate input without loading Keras.
"""

from __future__ import annotations

from typing import Any

from bench.errors import unknown_name

INITIALIZERS = (
    "zeros", "ones", "random_normal", "random_uniform", "truncated_normal", "orthogonal",
    "lecun_normal", "lecun_uniform", "glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
)
ACTIVATIONS = (
    "elu", "selu", "softplus", "softsign", "relu", "tanh", "sigmoid", "hard_sigmoid", "linear",
)

#: Optimizer name -> (Keras class name, Keras 3 default learning rate, extra kwargs).
OPTIMIZERS: dict[str, tuple[str, float, dict[str, Any]]] = {
    "sgd": ("SGD", 0.01, {}),
    "momentum": ("SGD", 0.01, {"momentum": 0.9}),
    "rmsprop": ("RMSprop", 0.001, {}),
    "adagrad": ("Adagrad", 0.001, {}),
    "adadelta": ("Adadelta", 0.001, {}),
    "adam": ("Adam", 0.001, {}),
    "adamax": ("Adamax", 0.001, {}),
    "nadam": ("Nadam", 0.001, {}),
}

#: Defaults of Keras 2.2 (2018), the version ``fmnist_dnn_hparams`` ran; they differ for two.
KERAS2_LEARNING_RATES = {"adagrad": 0.01, "adadelta": 1.0, "nadam": 0.002, "adamax": 0.002}

#: Keras's ``fit`` default when ``batch_size`` is None.
DEFAULT_BATCH_SIZE = 32

#: Named architectures of the papers.
PRESETS: dict[str, dict[str, Any]] = {
    "mlp_300_100": {"kind": "mlp", "hidden": [300, 100], "activation": "relu"},
    "mlp_512_128_32": {"kind": "mlp", "hidden": [512, 128, 32]},
    "model_1": {"kind": "mlp", "hidden": [64], "activation": "relu"},
    "model_2": {"kind": "mlp", "hidden": [32, 48], "activation": "relu", "dropout": [0.2, 0.2]},
    "model_3": {"kind": "mlp", "hidden": [32, 48], "activation": "relu", "dropout": [0.2, 0.0]},
    "cnn_manual": {
        "kind": "cnn", "conv_filters": [32, 64], "kernel": 3, "strides": 1, "pool": "end",
        "padding": "valid", "dense": [512], "dropout": 0.5, "activation": "relu",
    },
}


def resolve_arch(arch: dict[str, Any] | str) -> dict[str, Any]:
    """A full architecture dict from a preset name or a (partial) dict."""
    if isinstance(arch, str):
        if arch not in PRESETS:
            raise unknown_name("model", arch, list(PRESETS))
        return dict(PRESETS[arch])
    if "preset" in arch:
        base = resolve_arch(arch["preset"])
        base.update({k: v for k, v in arch.items() if k != "preset"})
        return base
    return dict(arch)
