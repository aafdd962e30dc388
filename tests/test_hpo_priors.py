"""Every library gets equal prior mass per discrete level, and every seed is its own search."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from bench.hpo.libraries import ALGORITHMS, optuna_sampler
from bench.hpo.runner import available
from bench.hpo.space import (
    HPO_LIBS,
    HPO_LIBS_GRID,
    Space,
    hyperopt_space,
    hyperopt_vals,
    int_bounds,
    normalise,
    skopt_space,
    skopt_value,
    suggest_optuna,
)
from bench.hpo.tabular import replay
from tests.helpers import synthetic_table

DRAWS = 3000


def _discrete(space: Space) -> list:
    """The discrete dimensions small enough for a chi-square test (<= 10 values)."""
    out = []
    for p in space.params:
        if p.kind in ("ord", "cat") or (p.kind == "int" and p.high - p.low < 10):
            out.append(p)
    return out


def _levels(p) -> list:
    if p.kind in ("ord", "cat"):
        return list(p.choices)
    low, high = int_bounds(p)
    return list(range(low, high + 1))


def draws_optuna(space: Space) -> list[dict]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [normalise(space, suggest_optuna(study.ask(), space)) for _ in range(DRAWS)]


def draws_hyperopt(space: Space) -> list[dict]:
    """The prior Hyperopt's random search and TPE's start-up draw from."""
    from hyperopt.pyll import stochastic

    rng = np.random.default_rng(0)
    return [normalise(space, stochastic.sample(hyperopt_space(space), rng))
            for _ in range(DRAWS)]


def draws_skopt(space: Space, normalised: bool) -> list[dict]:
    """skopt's sampler as its random search (raw dimensions) and as gp_minimize's start-up
    (dimensions normalised to [0, 1]) use it."""
    from skopt.space import Space as SkSpace
    from skopt.utils import normalize_dimensions

    dims = skopt_space(space)
    sk = SkSpace(normalize_dimensions(dims) if normalised else dims)
    names = space.names()
    return [normalise(space, dict(zip(names, x, strict=True)))
            for x in sk.rvs(DRAWS, random_state=0)]


SAMPLERS = {"optuna": draws_optuna, "hyperopt": draws_hyperopt,
            "skopt-random": lambda s: draws_skopt(s, False),
            "skopt-normalised": lambda s: draws_skopt(s, True)}


@pytest.mark.parametrize("space", [HPO_LIBS_GRID, HPO_LIBS], ids=lambda s: s.name)
@pytest.mark.parametrize("library", list(SAMPLERS))
def test_every_level_of_every_dimension_is_drawn_uniformly(library: str, space: Space) -> None:
    points = SAMPLERS[library](space)
    for p in _discrete(space):
        levels = _levels(p)
        counts = np.array([sum(pt[p.name] == v for pt in points) for v in levels])
        assert counts.sum() == DRAWS, p.name  # every draw is a level
        p_value = stats.chisquare(counts).pvalue
        assert p_value > 1e-3, f"{library} {p.name}: {counts.tolist()} (p={p_value:.2g})"


def test_the_old_end_level_encoding_fails_the_same_check() -> None:
    """The check can fail: ``hp.quniform(0, n - 1, 1)`` halves the two end levels."""
    from hyperopt import hp
    from hyperopt.pyll import stochastic

    rng = np.random.default_rng(0)
    values = [int(stochastic.sample(hp.quniform("x", 0, 4, 1), rng)) for _ in range(DRAWS)]
    counts = np.bincount(values, minlength=5)
    assert stats.chisquare(counts).pvalue < 1e-6


def test_a_stored_trial_maps_back_to_each_library_s_encoding() -> None:
    point = {"learning_rate": 1e-3, "conv_layers": 3, "dense_layers": 1, "units": 64,
             "activation": "sigmoid", "filters": 32, "optimizer": "adam"}
    vals = hyperopt_vals(HPO_LIBS_GRID, point)
    assert vals["learning_rate"] == 3 and vals["conv_layers"] == 2 and vals["activation"] == 1
    assert normalise(HPO_LIBS_GRID, {**vals, "activation": "sigmoid", "filters": 32,
                                     "optimizer": "adam"}) == point
    sk = [skopt_value(p, point[p.name]) for p in HPO_LIBS_GRID.params]
    assert sk[:4] == [3, 2, 0, 1]
    assert all(x in d for x, d in zip(sk, skopt_space(HPO_LIBS_GRID), strict=True))
    edges = {"learning_rate": -0.5, "conv_layers": 2.49, "dense_layers": 2.5, "units": 0.51,
             "activation": "relu", "filters": 16, "optimizer": "adam"}
    got = normalise(HPO_LIBS_GRID, edges)
    assert (got["learning_rate"], got["conv_layers"], got["dense_layers"], got["units"]) == \
        (1e-6, 3, 5, 64)


METHODS = [(lib, alg) for lib, algs in ALGORITHMS.items() for alg in algs
           if available(lib, alg)]
#: past every start-up phase but Hyperopt TPE's (20): model proposals are compared too
TRIALS = 12


@pytest.mark.parametrize("method", METHODS, ids=lambda m: ":".join(m))
def test_two_seeds_give_two_searches_and_one_seed_the_same_search_twice(method) -> None:
    table = synthetic_table(noise=0.01)
    trials = 22 if method in (("hyperopt", "tpe"), ("hyperopt", "atpe")) else TRIALS

    def configs(seed: int) -> list[str]:
        return [r["config"] for r in replay(table, *method, trials, seed)]

    first, again, other = configs(3), configs(3), configs(4)
    assert first == again
    differ = sum(a != b for a, b in zip(first, other, strict=True))
    assert differ >= trials // 2, f"seeds 3 and 4 share {trials - differ} of {trials} trials"


def test_cmaes_keeps_a_margin_and_multivariate_tpe_is_multivariate() -> None:
    assert optuna_sampler("cmaes", 0)._with_margin
    assert optuna_sampler("mvtpe", 0)._multivariate
    assert not optuna_sampler("tpe", 0)._multivariate
    assert optuna_sampler("qmc", 0)._scramble
