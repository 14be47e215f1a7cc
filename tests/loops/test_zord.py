"""ZoRD: descent along the surrogate gradient, virtual steps, active queries, local subsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from asktell import Categorical, Integer, Real, Space
from asktell.errors import ConfigError, ParamError
from asktell.loops import ZOSGD, ZoRD
from asktell.loops.zord import nearest

SPACE = Space({f"x{i}": Real(-1.0, 1.0) for i in range(6)})
TARGET = [0.3, -0.2, 0.5, 0.1, -0.4, 0.25]


def bowl(p):
    return sum((p[f"x{i}"] - TARGET[i]) ** 2 for i in range(6))


def run(loop, steps, f=bowl, space=SPACE, seed=0, batch=1):
    state = loop.init(space, seed=seed)
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            state = loop.tell(state, t.id, f(t.params))
    return state


def test_zord_beats_zo_sgd_at_equal_queries_on_a_bowl():
    zord = run(ZoRD(n_init=8, lr=0.03), 60)
    zosgd = run(ZOSGD(lr=0.03, q=6), 60)
    assert zord.best().value < 0.5 * zosgd.best().value


def test_virtual_steps_are_taken_while_the_gradient_is_trusted():
    state = run(ZoRD(n_init=8, max_virtual_steps=5), 25)
    descents = [t for t in state.trials if t.metadata.get("role") == "descent"]
    assert descents and all(1 <= t.metadata["virtual_steps"] <= 5 for t in descents)
    assert all(0.0 <= t.metadata["uncertainty"] <= 1.0 for t in descents)
    # with a threshold of 0 only the first (always taken) step happens
    strict = run(ZoRD(n_init=8, threshold=0.0), 12)
    assert all(t.metadata["virtual_steps"] == 1 for t in strict.trials if t.metadata.get("role"))


def test_ask_n_adds_active_queries_near_the_descent_point():
    loop = ZoRD(n_init=8, active_radius=0.05)
    state = run(loop, 10)
    state, trials = loop.ask(state, n=4)
    roles = [t.metadata["role"] for t in trials]
    assert roles == ["descent", "active", "active", "active"]
    z = SPACE.encode(trials[0].params)
    for t in trials[1:]:
        assert float(np.abs(SPACE.encode(t.params) - z).max()) <= 0.05 + 1e-12


def test_local_subset_is_the_nearest_points():
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.1, 0.0], [0.5, 0.5]], dtype=torch.float64)
    assert nearest(X, torch.tensor([0.0, 0.0], dtype=torch.float64), 2).tolist() == [0, 2]
    state = run(ZoRD(n_init=5, n_local=7), 12)
    assert max(t.metadata.get("n_train", 0) for t in state.trials) == 7


def test_hyperparameters_are_warm_started_and_refit_on_schedule():
    state = run(ZoRD(n_init=5, fit_every=3), 12)
    assert state.memo["gp"] is not None and state.memo["asks"] == 7


def _lengthscales(state):
    (name,) = [k for k in state.memo["gp"] if k.endswith("raw_lengthscale")]
    return torch.tensor(state.memo["gp"][name]).numel()


def test_kernel_is_ard_in_low_and_isotropic_in_high_dimension():
    assert _lengthscales(run(ZoRD(n_init=5), 8)) == 6  # d = 6 <= ard_max_dim: ARD
    assert _lengthscales(run(ZoRD(n_init=5, ard_max_dim=5), 8)) == 1  # d = 6 > 5: one lengthscale
    assert _lengthscales(run(ZoRD(n_init=5, kernel="isotropic"), 8)) == 1
    assert _lengthscales(run(ZoRD(n_init=5, kernel="ard", ard_max_dim=1), 8)) == 6


def test_default_threshold_trusts_an_isotropic_surrogate_further():
    assert ZoRD().trust_threshold(6) == 0.5 and ZoRD().trust_threshold(200) == 0.9
    assert ZoRD(threshold=0.3).trust_threshold(200) == 0.3
    assert ZoRD(kernel="isotropic").trust_threshold(6) == 0.9


def test_adam_is_reset_after_tolerance_non_improving_queries():
    loop = ZoRD(n_init=3, tolerance=2)
    state = loop.init(SPACE, seed=0)
    values = iter([1.0, 2.0, 3.0] + [5.0] * 10)  # the first point stays the best
    for _ in range(8):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, next(values))
    assert state.memo["reset_for"] == 0


def test_integer_parameters_are_relaxed_and_categoricals_refused():
    space = Space({"x": Real(0.0, 1.0), "k": Integer(0, 20)})
    state = run(ZoRD(n_init=4), 8, f=lambda p: (p["x"] - 0.3) ** 2 + (p["k"] - 7) ** 2, space=space)
    assert all(isinstance(t.params["k"], int) for t in state.trials)
    with pytest.raises(ParamError, match="categorical"):
        ZoRD().init(Space({"c": Categorical(["a"]), "x": Real(0, 1)}))


@pytest.mark.parametrize(
    "config",
    [{"lr": 0}, {"threshold": 1.5}, {"optimizer": "rmsprop"}, {"active_rule": "x"}, {"n_local": 0}]
    + [{"kernel": "rbf"}, {"ard_max_dim": 0}],
)
def test_bad_configuration_is_refused(config):
    with pytest.raises(ConfigError):
        ZoRD(**config)
