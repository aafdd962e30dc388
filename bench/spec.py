"""A run specification: everything that determines one training run, and its hash."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from bench.errors import BenchError, unknown_name
from bench.settings import (
    check_dropout,
    check_optimizer,
    check_regularizer,
    check_schedule,
    default_learning_rate,
    initial_learning_rate,
    is_builder,
    load_builder,
    optimizer_parts,
)
from bench.vocab import ACTIVATIONS, DEFAULT_BATCH_SIZE, INITIALIZERS, resolve_arch

DATASETS = ("mnist", "fashion_mnist")
DEFAULT_VALIDATION = "holdout:0.1"
#: settings added after results were stored: left out of the hash while at their default
HASH_OPTIONAL = ("dropout", "regularizer", "label_smoothing")
MAX_EPOCHS = 1000  # the papers train 50 at most; a typo (1e9) would never end
TRAIN_IMAGES = 60_000  # MNIST's and Fashion-MNIST's training images
MIN_TRAIN, MIN_HOLDOUT = 100, 10  # fewer trains or validates on noise, yet reads "ok"


def parse_validation(text: str) -> float | None:
    """The holdout size of a ``validation`` value (share or count); None for test/none."""
    if text in ("test", "none"):
        return None
    kind, _, size = str(text).partition(":")
    try:
        value = float(size)
    except ValueError:
        value = -1.0
    if kind != "holdout" or not 0 < value < math.inf or (value >= 1 and value != int(value)):
        raise BenchError(f"validation must be test, none or holdout:N (a count, or a share "
                         f"below 1), got {text!r}")
    return value


def check_type(name: str, value: Any, kinds: type | tuple[type, ...]) -> None:
    """A BenchError naming ``name`` unless ``value`` is one of ``kinds`` (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, kinds):
        hint = " (YAML reads 1e-3 as text: write 1.0e-3)" if isinstance(value, str) else ""
        wanted = "an integer" if kinds in (int, (int, type(None))) else "a number"
        raise BenchError(f"{name} must be {wanted}, got {value!r}{hint}")


@dataclass(frozen=True)
class RunSpec:
    """One training run. ``None`` means "the framework default" and is stored as such."""

    study: str
    dataset: str = "fashion_mnist"
    #: a preset name, a label when ``arch`` is given, or a builder ``package.module:function``
    model: str = "mlp_512_128_32"
    #: architecture overrides on top of the preset (a builder's own keyword arguments)
    arch: dict[str, Any] | None = None
    activation: str | None = None
    initializer: str | None = None
    optimizer: str | dict[str, Any] = "rmsprop"  # a name, or {name: sgd, momentum: 0.9, ...}
    learning_rate: float | dict[str, Any] | None = None  # a rate or {name: <schedule>, ...}
    batch_size: int | None = None
    epochs: int = 5
    seed: int = 0
    fraction: float = 1.0
    #: where winners are chosen: ``holdout:F`` (the first F of the training images; F < 1 a
    #: share, F >= 1 a count), ``test`` (the papers' optimistic protocol) or ``none``
    validation: str = DEFAULT_VALIDATION
    test_fraction: float = 1.0
    #: objective when ``validation`` is ``test``/``none``: accuracy on a seeded test sample
    score_fraction: float = 1.0
    test_curve: bool = False  # evaluate the test set after every epoch (curve studies)
    precision: str = "auto"  # auto | float32 | mixed_bfloat16 | mixed_float16
    factors: dict[str, Any] = field(default_factory=dict)  # the study's own factor columns
    #: dropout rate of every hidden layer (or a list, one per layer); None: the architecture's
    dropout: float | list[float] | None = None
    regularizer: dict[str, Any] | None = None  # {l2: 1e-4}, {l1: ...}, {l1_l2: [l1, l2]}
    label_smoothing: float | None = None

    def architecture(self) -> dict[str, Any]:
        """The full architecture dict (preset + overrides + activation/initializer, dropout
        and regularizer); ``{"kind": "custom", "builder": ...}`` for a builder."""
        if is_builder(self.model):
            base: dict[str, Any] = {"kind": "custom", "builder": self.model}
        elif self.arch is None or "kind" not in self.arch:
            base = resolve_arch(self.model)
        else:
            base = {}
        base.update(self.arch or {})
        if self.dropout is not None:
            base["dropout"] = self.dropout
        if self.regularizer is not None:
            base["regularizer"] = self.regularizer
        if self.activation is not None:
            base["activation"] = self.activation
        if self.initializer is not None:
            base["initializer"] = self.initializer
        return base

    @property
    def selects_on_test(self) -> bool:
        """True when winners are chosen on the test set (the papers' optimistic protocol)."""
        return self.validation in ("test", "none")

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size or DEFAULT_BATCH_SIZE

    @property
    def effective_learning_rate(self) -> float:
        """The learning rate (a schedule's initial one)."""
        if isinstance(self.learning_rate, dict):
            return initial_learning_rate(self.learning_rate)
        if self.learning_rate is not None:
            return self.learning_rate
        return default_learning_rate(self.optimizer)

    @property
    def optimizer_name(self) -> str:
        return optimizer_parts(self.optimizer)[0]

    def config_hash(self) -> str:
        """Stable 16-hex-digit hash of everything that changes the result. Settings added
        later are left out at their default, so stored runs keep their hash."""
        payload = asdict(self)
        payload["arch"] = self.architecture()
        for name in HASH_OPTIONAL:
            if payload[name] is None:
                del payload[name]
        blob = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def validate(self) -> RunSpec:
        """Raise a BenchError naming the bad field; return self."""
        for name, kinds in (("epochs", int), ("seed", int), ("batch_size", (int, type(None))),
                            ("fraction", (int, float)), ("test_fraction", (int, float)),
                            ("score_fraction", (int, float)),
                            ("label_smoothing", (int, float, type(None)))):
            check_type(name, getattr(self, name), kinds)
        if self.dataset not in DATASETS:
            raise unknown_name("dataset", self.dataset, DATASETS)
        check_optimizer(self.optimizer)
        if isinstance(self.learning_rate, dict):
            check_schedule(self.learning_rate)
        else:
            check_type("learning_rate", self.learning_rate, (int, float, type(None)))
        check_dropout(self.dropout)
        check_regularizer(self.regularizer)
        if self.label_smoothing is not None and not 0 <= self.label_smoothing < 1:
            raise BenchError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if is_builder(self.model):
            load_builder(self.model)
            return self._validate_common()
        arch = self.architecture()
        if arch.get("activation", "linear") not in ACTIVATIONS:
            raise unknown_name("activation", arch["activation"], ACTIVATIONS)
        if arch.get("initializer", "glorot_uniform") not in INITIALIZERS:
            raise unknown_name("initializer", arch["initializer"], INITIALIZERS)
        if arch.get("kind") not in ("mlp", "cnn"):
            raise BenchError(f"model {self.model!r}: unknown kind {arch.get('kind')!r}")
        return self._validate_common()

    def _validate_common(self) -> RunSpec:
        for name in ("fraction", "test_fraction", "score_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise BenchError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.epochs < 1:
            raise BenchError(f"epochs must be >= 1, got {self.epochs}")
        if self.epochs > MAX_EPOCHS:
            raise BenchError(f"epochs must be <= {MAX_EPOCHS}, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
            raise BenchError(f"batch_size must be >= 1, got {self.batch_size}")
        if isinstance(self.learning_rate, int | float) and \
                not 0 < self.learning_rate < math.inf:
            raise BenchError(f"learning_rate must be a finite number > 0, got "
                             f"{self.learning_rate}")
        if not isinstance(self.validation, str):
            raise BenchError(f"validation must be a string, got {self.validation!r}")
        parse_validation(self.validation)
        if self.precision not in ("auto", "float32", "mixed_bfloat16", "mixed_float16"):
            raise BenchError(f"unknown precision {self.precision!r}")
        return self

    def check_sizes(self) -> RunSpec:
        """Enough training and validation images at the papers' data sizes (a study file's
        own settings; a reduced profile scales the data down on purpose)."""
        share = parse_validation(self.validation)
        held = 0 if share is None else round(share * TRAIN_IMAGES) if share < 1 else int(share)
        trained = int((TRAIN_IMAGES - held) * self.fraction)
        if share is not None and held < MIN_HOLDOUT:
            raise BenchError(f"validation {self.validation} holds out {held} images; at least "
                             f"{MIN_HOLDOUT} are needed")
        if trained < MIN_TRAIN:
            raise BenchError(f"fraction {self.fraction:g} with validation {self.validation} "
                             f"trains on {max(trained, 0)} images; at least {MIN_TRAIN} are "
                             "needed")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        names = {f.name for f in fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise BenchError(
                f"unknown run field(s) {', '.join(bad)}; valid: {', '.join(sorted(names))}"
            )
        return cls(**data)

    def with_(self, **changes: Any) -> RunSpec:
        return replace(self, **changes)
