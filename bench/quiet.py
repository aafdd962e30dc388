"""Keras, imported without TensorFlow's C++ start-up banner (one per worker otherwise).

TensorFlow writes its oneDNN/CPU-feature notices straight to file descriptor 2 before its
logging is set up, so ``TF_CPP_MIN_LOG_LEVEL`` cannot silence them; stderr is pointed at
/dev/null for the import only. ``BENCH_TF_LOGS=1`` keeps them.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
from bench.env import GPU_SHARING_ENV  # noqa: E402

for _key, _value in GPU_SHARING_ENV.items():  # runs share a GPU: none takes all its memory
    os.environ.setdefault(_key, _value)


def _import_keras():
    if os.environ.get("BENCH_TF_LOGS"):
        import keras

        return keras
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
    return keras


keras = _import_keras()
