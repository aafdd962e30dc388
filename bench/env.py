"""Environment the frameworks read when they are imported (no framework import here)."""

from __future__ import annotations

#: runs share a GPU: none takes all its memory (TensorFlow grows, JAX does not pre-allocate)
GPU_SHARING_ENV = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
