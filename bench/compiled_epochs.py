"""Optional TensorFlow path of the engine: each training epoch as one compiled program.

Keras' ``fit`` with ``jit_compile`` compiles one *step*; a non-compiled loop around it pulls
every batch from a ``tf.data`` iterator and launches the XLA program again, which costs more
than the arithmetic of a small MLP on a CPU (measured: ~50k images/s at batch 128 against
~110k with the whole epoch compiled, on the 2-core dev machine). Here the epoch's full
batches run in one ``tf.while_loop`` compiled with XLA; every iteration calls the model's own
``train_step``, so the loss, gradients, optimizer update and training metrics are Keras'
own — only the loop that feeds the batches differs. The order of the batches is a seeded
permutation per epoch; the last, partial batch runs after the full ones, as in ``fit``.
CNNs on a CPU run the same loop as a TensorFlow graph without XLA (XLA convolutions are
slower there).

Tracing and compiling cost ~1 s per model, more than a short run trains. Runs of one
configuration (seeds of one level) therefore share a compiled model per process
(:func:`acquire`): the cached model gets the freshly initialised weights of the new run and
its optimizer and metrics go back to their initial state, so a reused model trains exactly
as a new one does (tested bit for bit).

Only public Keras calls prepare the model (``test_on_batch`` builds the model, loss and
metrics without changing a weight; ``optimizer.build``); optimizer state is restored by
variable path. Whatever fails while preparing or compiling (another backend, a Keras release
that changed ``train_step``) raises :class:`Unavailable`, and the engine trains the same run
with Keras' ``fit`` loop instead, recording why.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from bench.quiet import keras

CACHE_SIZE = 4  # compiled models kept per process


class Unavailable(RuntimeError):
    """Compiled epochs cannot train this model here; the reason is the message."""


class CompiledEpochs:
    """Train a compiled Keras model on in-memory arrays, one XLA call per epoch."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray,
                 batch_size: int, jit: bool = True) -> None:
        self.model = model
        self.batch_size = batch_size
        self.n = len(y)
        self.full_batches = self.n // batch_size
        self._build(x[:batch_size], y[:batch_size])
        self.initial_optimizer_state = {v.path: v.numpy() for v in model.optimizer.variables}
        if len(self.initial_optimizer_state) != len(model.optimizer.variables):
            raise Unavailable("optimizer variables have no unique paths to restore them by")
        self._full = tf.function(self._full_batches_loop, jit_compile=jit)
        self._step = tf.function(model.train_step, jit_compile=False)
        self.compiled = False
        self.compile_seconds = 0.0

    def _build(self, x: np.ndarray, y: np.ndarray) -> None:
        """Create the model, loss, metric and optimizer variables outside the compiled loop
        (variables cannot be created inside it), with public calls: one evaluation batch
        (weights unchanged) and ``optimizer.build``."""
        self.model.test_on_batch(x, y)
        self.model.reset_metrics()
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)

    def _full_batches_loop(self, order: tf.Tensor, x: tf.Tensor, y: tf.Tensor,
                           steps: tf.Tensor) -> tf.Tensor:
        batch = self.batch_size

        def body(i: tf.Tensor) -> tf.Tensor:
            index = tf.slice(order, [i * batch], [batch])
            self.model.train_step((tf.gather(x, index), tf.gather(y, index)))
            return i + 1

        return tf.while_loop(lambda i: i < steps, body, [tf.constant(0)])[0]

    def compile(self, x: tf.Tensor, y: tf.Tensor) -> float:
        """Trace and compile without training (a zero-step call); returns the seconds, so
        that epoch times measure training only. Free once done."""
        if self.compiled:
            return 0.0
        start = time.perf_counter()
        order = tf.range(self.n, dtype=tf.int32)
        if self.full_batches:
            self._full(order, x, y, tf.constant(0)).numpy()
        tail = self.n - self.full_batches * self.batch_size
        if tail:
            self._step.get_concrete_function((tf.TensorSpec((tail, *x.shape[1:]), x.dtype),
                                              tf.TensorSpec((tail,), y.dtype)))
        self.compiled = True
        self.compile_seconds = time.perf_counter() - start
        return self.compile_seconds

    def reset(self, weights: list[np.ndarray]) -> None:
        """Fresh-run state: these initial weights, the optimizer as built, no metrics."""
        self.model.set_weights(weights)
        for variable in self.model.optimizer.variables:
            variable.assign(self.initial_optimizer_state[variable.path])
        self.model.reset_metrics()
        self.model.stop_training = False

    def train_epoch(self, x: tf.Tensor, y: tf.Tensor, order: np.ndarray) -> dict[str, float]:
        """One epoch in ``order``; returns its training metrics as ``fit`` logs them."""
        self.model.reset_metrics()
        order = order.astype(np.int32)
        if self.full_batches:
            self._full(tf.constant(order), x, y, tf.constant(self.full_batches)).numpy()
        tail = order[self.full_batches * self.batch_size:]
        if len(tail):
            self._step((tf.gather(x, tail), tf.gather(y, tail)))
        return {k: float(v) for k, v in self.model.get_metrics_result().items()}


_cache: OrderedDict[str, CompiledEpochs] = OrderedDict()
_unavailable: dict[str, str] = {}  # key -> why it failed (not tried again in this process)


def unavailable_reason() -> str | None:
    """Why compiled epochs cannot run with the active backend at all, or ``None``."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        return f"compiled epochs need the TensorFlow backend (active: {backend})"
    return None


def acquire(key: str, fresh: keras.Model, compile_model: Callable[[keras.Model], None],
            x: np.ndarray, y: np.ndarray, batch_size: int, jit: bool) -> CompiledEpochs:
    """A trainer whose model starts from ``fresh``'s weights: the cached one for ``key``
    (same architecture, optimizer, batch and array shapes) or, the first time, ``fresh``
    itself, compiled by ``compile_model`` and traced. Raises :class:`Unavailable` (with
    ``fresh`` untrained) when that fails."""
    reason = unavailable_reason() or _unavailable.get(key)
    if reason:
        raise Unavailable(reason)
    trainer = _cache.pop(key, None)
    if trainer is None:
        compile_model(fresh)
        try:
            trainer = CompiledEpochs(fresh, x, y, batch_size, jit)
            trainer.compile(tf.constant(x), tf.constant(y))
        except Exception as exc:
            reason = str(exc) if isinstance(exc, Unavailable) else f"{type(exc).__name__}: {exc}"
            _unavailable[key] = reason.splitlines()[0][:300] if reason else type(exc).__name__
            raise Unavailable(_unavailable[key]) from exc
    else:
        trainer.reset(fresh.get_weights())
    _cache[key] = trainer
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return trainer


def fit(trainer: CompiledEpochs, x: np.ndarray, y: np.ndarray, *, epochs: int, seed: int,
        validation: tuple[np.ndarray, np.ndarray] | None, validation_batch_size: int,
        callbacks: list[keras.callbacks.Callback]) -> float:
    """``model.fit`` for the engine's purposes (batches shuffled by ``seed``, epoch callbacks,
    validation each epoch); returns the seconds spent compiling (0 for a reused model),
    which epochs exclude."""
    model = trainer.model
    rng = np.random.default_rng(seed)
    x_all, y_all = tf.constant(x), tf.constant(y)
    compile_seconds = trainer.compile(x_all, y_all)
    hooks = keras.callbacks.CallbackList(callbacks, model=model)
    model.stop_training = False
    hooks.on_train_begin()
    for epoch in range(epochs):
        hooks.on_epoch_begin(epoch)
        order = rng.permutation(len(y))
        logs: dict[str, Any] = trainer.train_epoch(x_all, y_all, order)
        if validation is not None:
            hooks.on_test_begin()
            val = model.evaluate(*validation, batch_size=validation_batch_size, verbose=0,
                                 return_dict=True)
            hooks.on_test_end()
            logs.update({f"val_{k}": float(v) for k, v in val.items()})
        hooks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    hooks.on_train_end()
    return compile_seconds
