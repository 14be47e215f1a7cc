"""Constrained acquisition against its oracles: BoTorch's own constrained qLogNEI built as its
tutorial builds it, the probability of feasibility in closed form, and CONFIG's optimistic problem
on a 1-d case whose optimistic feasible set is computed on a grid from BoTorch's UCB."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.acquisition import UpperConfidenceBound, qLogNoisyExpectedImprovement
from botorch.acquisition.objective import GenericMCObjective
from botorch.models import ModelListGP
from botorch.sampling import SobolQMCNormalSampler

from asktell import Real, Space
from asktell.acquisition.bo import MC_SAMPLES, OptimizerSettings
from asktell.acquisition.constrained import (
    OptimisticProblem,
    build,
    config_points,
    probability_of_feasibility,
)
from asktell.loops import BayesOpt
from asktell.loops.trajectory import trajectory
from asktell.surrogates.outcomes import data_scale

FAST = dict(num_restarts=2, raw_samples=64, acq_maxiter=25, max_fit_iter=40)
SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})
CONSTRAINTS = ["g <= 0.3", "h >= -0.5"]


def outcomes(p):
    return {"g": math.sin(4 * p["x"]) * p["y"], "h": -((p["x"] - 0.3) ** 2) - (p["y"] - 0.6) ** 2}


def objective(p):
    return (p["x"] - 0.8) ** 2 + (p["y"] - 0.7) ** 2


def constrained_state(n=12, seed=0, **config):
    loop = BayesOpt(n_init=n, **{**FAST, **config})
    state = loop.init(SPACE, seed=seed, constraints=CONSTRAINTS)
    for _ in range(n):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, objective(t.params), constraints=outcomes(t.params))
    return loop, state


def inputs_of(loop, state, pending=()):
    X, y = trajectory(state)
    surrogate = loop._fit(state, X, y)
    return surrogate, loop._constrained_inputs(state, surrogate, list(pending))


def test_constrained_qlognei_is_botorchs():
    """asktell's feasibility-weighted qLogNEI equals the one BoTorch's closed-loop tutorial builds
    for the same model: a GenericMCObjective on output 0 and one callable per constraint, each
    ``c(Z) <= 0`` feasible (here c = -slack of the declared bound, in its data's units)."""
    loop, state = constrained_state()
    assert state.feasible and len(state.feasible) < len(state.completed)  # both kinds observed
    surrogate, inputs = inputs_of(loop, state)
    g, h = surrogate.outcomes
    scale_g, scale_h = data_scale(g.fit), data_scale(h.fit)
    torch.manual_seed(0)  # BoTorch prunes the baseline with MC draws from the global generator
    oracle = qLogNoisyExpectedImprovement(
        inputs.model,
        X_baseline=surrogate.X,
        sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=inputs.seed),
        objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]),
        # "g <= 0.3": the GP of g's c is g - 0.3; "h >= -0.5": the GP of h's c is -0.5 - h
        constraints=[lambda Z: Z[..., 1] / scale_g, lambda Z: Z[..., 2] / scale_h],
        prune_baseline=True,
        cache_root=True,
        fat=True,
    )
    torch.manual_seed(0)
    ours = build("qlognei", inputs, 1)
    torch.testing.assert_close(ours.X_baseline, oracle.X_baseline)
    X = torch.rand(32, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(ours(X), oracle(X), rtol=1e-9, atol=1e-9)
    # and the GPs are of c, in BoTorch's sign: at the data, (noiselessly) the observed c
    with torch.no_grad():
        c = inputs.model.posterior(surrogate.X).mean[..., 1:]
    observed = torch.tensor(
        [[t.constraints["g"] - 0.3, -0.5 - t.constraints["h"]] for t in state.completed], dtype=torch.float64
    )
    torch.testing.assert_close(c, observed, atol=0.05 * float(observed.abs().max()), rtol=0.0)


def test_the_model_list_and_the_stacked_model_give_the_same_constrained_value():
    loop, state = constrained_state()
    surrogate, inputs = inputs_of(loop, state)
    assert not isinstance(inputs.model, ModelListGP)  # stacked: one batched SingleTaskGP
    listed = ModelListGP(surrogate.fit.model, *(o.fit.model for o in surrogate.outcomes))
    from dataclasses import replace

    X = torch.rand(16, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.manual_seed(0)
        a = build("qlognei", inputs, 1)(X)
        torch.manual_seed(0)
        b = build("qlognei", replace(inputs, model=listed), 1)(X)
    # the same posterior; quasi-MC base samples are laid out differently over the outputs, so
    # the two estimates agree to their MC error (128 samples), not to the last digit
    torch.testing.assert_close(a.exp(), b.exp(), rtol=0.15, atol=1e-3 * float(a.exp().max()))


def test_the_probability_of_feasibility_is_the_product_of_normal_cdfs():
    loop, state = constrained_state()
    _, inputs = inputs_of(loop, state)
    X = torch.rand(10, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        value = probability_of_feasibility(inputs, 1)(X)
        posterior = inputs.model.posterior(X)
        mean, std = posterior.mean[:, 0, 1:], posterior.variance[:, 0, 1:].sqrt()
    expected = torch.special.log_ndtr((inputs.thresholds - mean) / std).sum(-1)
    torch.testing.assert_close(value, expected.to(value), rtol=1e-6, atol=1e-9)


# --- CONFIG on a hand-built 1-d case --------------------------------------------------------------
LINE = Space({"x": Real(0.0, 2.0)})


def line_state(constraint, n=8, **config):
    """A noiseless 1-d problem: minimize (x - 1.6)^2 subject to a bound on g(x) = sin(3x)."""
    loop = BayesOpt(acquisition="config", n_init=n, noise_std=0.0, **{**FAST, **config})
    state = loop.init(LINE, seed=1, constraints=[constraint])
    for _ in range(n):
        state, (t,) = loop.ask(state)
        state = loop.tell(
            state, t.id, (t.params["x"] - 1.6) ** 2, constraints={"g": math.sin(3 * t.params["x"])}
        )
    return loop, state


def test_configs_optimistic_set_and_pick_on_a_grid():
    """The optimistic feasible set {LCB_c(x) <= 0} computed on a grid with BoTorch's
    UpperConfidenceBound (maximize=False is -LCB) of the constraint's GP: CONFIG's set is the same,
    it contains the truly feasible grid points (optimism), and CONFIG's pick maximizes the
    objective's UCB over it (minimizes LCB_f) up to the grid's resolution."""
    loop, state = line_state("g <= 0.5")
    surrogate, inputs = inputs_of(loop, state)
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64).reshape(-1, 1)  # unit cube of [0, 2]
    objective_gp, constraint_gp = surrogate.fit.model, surrogate.outcomes[0].fit.model
    with torch.no_grad():
        lcb = -UpperConfidenceBound(constraint_gp, beta=loop.beta, maximize=False)(grid.unsqueeze(1))
        ucb = UpperConfidenceBound(objective_gp, beta=loop.beta)(grid.unsqueeze(1))
    oracle_set = lcb <= 0.0
    problem = OptimisticProblem(
        inputs.model, loop.beta, inputs.thresholds, inputs.scales, data_scale(surrogate.fit)
    )
    ours = problem.optimistic(grid)
    assert int((ours != oracle_set).sum()) <= 2  # the set's ends, within the tolerance
    truly = torch.sin(3 * 2 * grid.reshape(-1)) <= 0.5
    assert bool(oracle_set[truly].float().mean() > 0.99)
    assert 0.2 < float(oracle_set.float().mean()) < 0.9  # a proper subset: the case is not trivial
    result = config_points(
        inputs,
        1,
        data_scale(surrogate.fit),
        discrete_dims={},
        cat_dims={},
        settings=OptimizerSettings(4, 256, 50),
    )
    assert not result.infeasible
    pick = result.X.reshape(1, 1)
    assert bool(problem.optimistic(pick).all())
    with torch.no_grad():
        pick_ucb = UpperConfidenceBound(objective_gp, beta=loop.beta)(pick.unsqueeze(1))
    best_on_grid = float(ucb[oracle_set].max())
    assert float(pick_ucb) >= best_on_grid - 1e-3 * abs(best_on_grid)


def test_config_declares_an_infeasible_problem_and_seeks_feasibility():
    """g = sin(3x) never reaches 3: with 8 noiseless points the optimistic set is empty, the ask
    says so (trial metadata and memo), and it samples where feasibility is most likely: its pick's
    probability of feasibility is the grid's best (closed form, log Phi((t - mean) / std))."""
    loop, state = line_state("g >= 3")
    before = state.to_json()
    new, (trial,) = loop.ask(state)
    assert trial.metadata["infeasible"] is True and new.memo["infeasible"] is True
    assert state.to_json() == before  # the input state is untouched
    surrogate, inputs = inputs_of(loop, state)
    grid = torch.linspace(0, 1, 2001, dtype=torch.float64).reshape(-1, 1)
    pick = torch.tensor([[trial.params["x"] / 2.0]], dtype=torch.float64)

    def log_pof(X):
        with torch.no_grad():
            posterior = surrogate.outcomes[0].fit.model.posterior(X)
        return torch.special.log_ndtr(-posterior.mean / posterior.variance.sqrt()).reshape(-1)

    assert float(log_pof(pick)) >= float(log_pof(grid).max()) - 1e-3 * abs(float(log_pof(grid).max()))


def test_config_never_declares_a_feasible_problem_infeasible():
    loop, state = line_state("g <= 0.5", n=4)
    for _ in range(8):
        state, (trial,) = loop.ask(state)
        assert "infeasible" not in trial.metadata and state.memo["infeasible"] is False
        x = trial.params["x"]
        state = loop.tell(state, trial.id, (x - 1.6) ** 2, constraints={"g": math.sin(3 * x)})
    best = state.best()
    assert best is not None and math.sin(3 * best.params["x"]) <= 0.5


@pytest.mark.parametrize("q", [1, 3])
def test_config_batches_spread_out(q):
    loop, state = line_state("g <= 0.5")
    new, trials = loop.ask(state, n=q)
    xs = sorted(t.params["x"] for t in trials)
    assert len(trials) == q and all(b - a > 1e-3 for a, b in zip(xs, xs[1:], strict=False))
    assert all(t.metadata["model"] == "gp" for t in trials)
