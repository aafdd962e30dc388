"""Model builders: parameter counts match the papers."""

from __future__ import annotations

import pytest

from bench import models
from bench.errors import BenchError


@pytest.mark.parametrize(("preset", "params"), [
    ("mlp_300_100", 266_610), ("model_1", 50_890), ("model_2", 27_194), ("model_3", 27_194),
])
def test_paper_parameter_counts(preset: str, params: int) -> None:
    assert models.build(preset).count_params() == params


def test_model_3_drops_the_second_dropout() -> None:
    kinds = [type(layer).__name__ for layer in models.build("model_3").layers]
    assert kinds.count("Dropout") == 1


def test_cnn_builder_and_depth_check() -> None:
    cnn = models.build({"kind": "cnn", "conv_filters": [16, 32, 32], "kernel": 5, "dense": [64]})
    assert cnn.output_shape == (None, 10)
    with pytest.raises(BenchError, match="too deep"):
        models.build({"kind": "cnn", "conv_filters": [8] * 4, "kernel": 7, "padding": "valid",
                      "pool": "each"})


def test_unknown_names_list_valid_ones() -> None:
    with pytest.raises(BenchError, match="valid: .*he_normal"):
        models.build("mlp_300_100", initializer="he_nrmal")
    with pytest.raises(BenchError, match="unknown model"):
        models.build("model_9")
