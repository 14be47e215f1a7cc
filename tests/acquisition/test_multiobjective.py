"""Multi-objective acquisition against its oracles: BoTorch's own qLogNEHVI and qLogNParEGO built
directly, as BoTorch's multi-objective tutorial builds them, for the same model, reference point,
constraints and pending points; the reference point actually used (the state's, or the one the
state would infer); the warp mapped back exactly; the probability of feasibility in closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.models import ModelListGP
from botorch.sampling import SobolQMCNormalSampler

from asktell import Real, Space
from asktell.acquisition import multiobjective as mo
from asktell.acquisition.bo import MC_SAMPLES
from asktell.loops import BayesOpt
from asktell.loops.bayesopt import _trajectory
from asktell.pareto import infer_reference_point, reference_trials
from asktell.surrogates.outcomes import data_scale
from asktell.surrogates.warp import log_warp

FAST = dict(num_restarts=2, raw_samples=32, acq_maxiter=20, max_fit_iter=40)
SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})


def values(p):
    x, y = p["x"], p["y"]
    return [(x - 0.2) ** 2 + (y - 0.3) ** 2, (x - 0.8) ** 2 + 0.5 * (y - 0.6) ** 2]


def outcomes(p):
    return {"g": math.sin(4 * p["x"]) * p["y"]}


def observed(n=10, seed=0, constraints=(), ref_point=None, **config):
    """A state of ``n`` completed Sobol trials (the design is the whole run)."""
    loop = BayesOpt(n_init=n, **{**FAST, "warp": "none", **config})
    state = loop.init(SPACE, seed=seed, n_objectives=2, constraints=list(constraints), ref_point=ref_point)
    for _ in range(n):
        state, (t,) = loop.ask(state)
        told = {"constraints": outcomes(t.params)} if constraints else {}
        state = loop.tell(state, t.id, values(t.params), **told)
    return loop, state


def inputs_of(loop, state, pending=()):
    X, y = _trajectory(state)
    surrogate = loop._fit(state, X, y)
    return surrogate, loop._multiobjective_inputs(state, surrogate, list(pending))


def points(k, seed):
    return torch.rand(k, 1, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def test_qlognehvi_is_botorchs():
    """asktell's qLogNEHVI equals the one BoTorch's tutorial builds: a ModelListGP of the
    objectives' GPs (of the negated values), the negated reference point, all completed points as
    the pruned baseline, the same quasi-MC sampler."""
    loop, state = observed()
    assert state.ref_point is not None  # stored by the tell that completed the design
    surrogate, inputs = inputs_of(loop, state)
    model = ModelListGP(*(o.fit.model for o in surrogate.objectives))
    with mo.pure_python_kernels():  # both on BoTorch's PyTorch path (no C++ kernel compiled)
        torch.manual_seed(0)  # BoTorch prunes the baseline with MC draws from the global generator
        oracle = qLogNoisyExpectedHypervolumeImprovement(
            model,
            ref_point=[-v for v in state.ref_point],
            X_baseline=surrogate.X,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=inputs.seed),
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            prune_baseline=True,
        )
        torch.manual_seed(0)
        ours = mo.qlognehvi(inputs)
        torch.testing.assert_close(ours.X_baseline, oracle.X_baseline)
        X = points(32, 3)
        with torch.no_grad():
            a, b = ours(X), oracle(X)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)
    assert bool((a > -math.inf).all()) and float(a.std()) > 0  # a real, varying acquisition
    # the model regresses the negated values: at the data its mean is close to -y
    with torch.no_grad():
        mean = inputs.model.posterior(surrogate.X).mean
    y = torch.tensor([t.value for t in state.completed], dtype=torch.float64)
    torch.testing.assert_close(-mean, y, atol=0.05 * float(y.abs().max()), rtol=0.0)


def test_constrained_qlognehvi_with_pending_points_is_botorchs():
    loop, state = observed(n=12, constraints=["g <= 0.3"])
    assert 0 < len(state.feasible) < len(state.completed)  # both kinds observed
    pending = [{"x": 0.3, "y": 0.4}, {"x": 0.7, "y": 0.5}]
    surrogate, inputs = inputs_of(loop, state, pending)
    (g,) = surrogate.outcomes
    scale = data_scale(g.fit)
    model = ModelListGP(*(o.fit.model for o in surrogate.objectives), g.fit.model)
    with mo.pure_python_kernels():
        torch.manual_seed(0)
        oracle = qLogNoisyExpectedHypervolumeImprovement(
            model,
            ref_point=[-v for v in state.ref_point],
            X_baseline=surrogate.X,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=inputs.seed),
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            # "g <= 0.3": the GP of g's c is g - 0.3, in units of its data's spread
            constraints=[lambda Z: Z[..., 2] / scale],
            X_pending=torch.tensor([[0.3, 0.4], [0.7, 0.5]], dtype=torch.float64),
            prune_baseline=True,
        )
        torch.manual_seed(0)
        ours = mo.qlognehvi(inputs)
        X = points(16, 4)
        with torch.no_grad():
            a, b = ours(X), oracle(X)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_parego_is_botorchs_with_the_same_weights():
    loop, state = observed(acquisition="parego")
    surrogate, inputs = inputs_of(loop, state)
    model = ModelListGP(*(o.fit.model for o in surrogate.objectives))
    with torch.random.fork_rng():
        torch.manual_seed(1)
        ours = mo.parego(inputs)
    weights = ours.scalarization_weights
    assert weights.shape == (2,) and math.isclose(float(weights.sum()), 1.0)
    with torch.random.fork_rng():
        torch.manual_seed(1)
        oracle = qLogNParEGO(
            model,
            X_baseline=surrogate.X,
            scalarization_weights=weights,
            sampler=SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=inputs.seed),
            objective=IdentityMCMultiOutputObjective(outcomes=[0, 1]),
            prune_baseline=True,
        )
    X = points(16, 5)
    with torch.no_grad():
        torch.testing.assert_close(ours(X), oracle(X), rtol=1e-9, atol=1e-9)


def test_the_stored_reference_point_is_the_one_used():
    loop, state = observed(n=12)
    stored = state.ref_point
    assert stored is not None and state.problem.ref_point_inferred
    # it was inferred from the first reference_trials(2) completed values, not from all 12
    first = np.array([t.value for t in state.completed[: reference_trials(2)]])
    np.testing.assert_allclose(stored, infer_reference_point(first), rtol=0, atol=0)
    everything = infer_reference_point(np.array([t.value for t in state.completed]))
    assert not np.allclose(everything, stored)
    _, inputs = inputs_of(loop, state)
    torch.testing.assert_close(inputs.ref_point, -torch.tensor(stored, dtype=torch.float64))
    with mo.pure_python_kernels():
        torch.testing.assert_close(mo.qlognehvi(inputs).ref_point, inputs.ref_point)


def test_a_given_reference_point_is_the_one_used():
    loop, state = observed(ref_point=[0.5, 0.4])
    assert state.ref_point == (0.5, 0.4) and not state.problem.ref_point_inferred
    _, inputs = inputs_of(loop, state)
    assert inputs.ref_point.tolist() == [-0.5, -0.4]


def test_before_the_state_has_one_the_reference_point_is_inferred_for_the_ask():
    n = reference_trials(2) - 1
    loop, state = observed(n=n)
    assert state.ref_point is None  # the state infers it at the 5th completed trial
    _, inputs = inputs_of(loop, state)
    expected = infer_reference_point(np.array([t.value for t in state.completed]))
    np.testing.assert_allclose(-inputs.ref_point.numpy(), expected, rtol=0, atol=0)
    # an ask works with it and leaves the state's problem alone
    asked, (trial,) = loop.ask(state)
    assert trial.metadata["acquisition"] == "qlognehvi" and asked.ref_point is None


def test_a_warped_objective_is_mapped_back_to_its_units():
    """Unwarped turns samples of the negated warped values back into negated values: exactly the
    inverse of the warp the objective's GP was fitted on."""
    y = torch.tensor([1.0, 3.0, 30.0, 300.0, 2.0], dtype=torch.float64)
    other = torch.tensor([0.5, 0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    Z = torch.stack([-log_warp(y), other], dim=-1)  # n x 2, as the model's outputs are
    back = mo.Unwarped((y, None))(Z)
    torch.testing.assert_close(back, torch.stack([-y, other], dim=-1), rtol=1e-12, atol=1e-12)


def test_the_inputs_map_warped_objectives_back():
    loop, state = observed(warp="log")
    surrogate, inputs = inputs_of(loop, state)
    assert all(o.warped for o in surrogate.objectives)
    objective = inputs.objective()
    assert isinstance(objective, mo.Unwarped)
    Z = torch.stack([o.Y.reshape(-1) for o in surrogate.objectives], dim=-1)
    y = torch.tensor([t.value for t in state.completed], dtype=torch.float64)
    torch.testing.assert_close(objective(Z), -y, rtol=1e-10, atol=1e-10)


def test_the_probability_of_feasibility_reads_the_constraint_outputs():
    loop, state = observed(n=12, constraints=["g <= 0.3"])
    _, inputs = inputs_of(loop, state)
    X = points(10, 6)
    with torch.no_grad():
        value = mo.probability_of_feasibility(inputs, 1)(X)
        posterior = inputs.model.posterior(X)
        mean, std = posterior.mean[:, 0, 2:], posterior.variance[:, 0, 2:].sqrt()
    expected = torch.special.log_ndtr((inputs.thresholds - mean) / std).sum(-1)
    torch.testing.assert_close(value, expected.to(value), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    ("acquisition", "m", "expected"),
    [
        ("qlognei", 2, "qlognehvi"),
        ("qlognei", 4, "qlognehvi"),
        ("qlognei", 5, "parego"),
        ("parego", 2, "parego"),
        ("qlognehvi", 6, "qlognehvi"),
    ],
)
def test_the_default_runs_qlognehvi_up_to_four_objectives_then_parego(acquisition, m, expected):
    assert mo.resolve(acquisition, m) == expected


def test_box_decompositions_are_exact_up_to_three_objectives():
    assert [mo.partitioning_alpha(m) for m in (2, 3)] == [0.0, 0.0]
    assert 0 < mo.partitioning_alpha(4) <= mo.partitioning_alpha(6)
    assert mo.hypervolume_samples(3) == MC_SAMPLES > mo.hypervolume_samples(4)


def test_the_fused_kernel_is_kept_off_and_restored():
    from botorch.acquisition.multi_objective import logei

    before = (logei._load_attempted, logei._C)
    with mo.pure_python_kernels():
        assert logei._load_attempted is True and logei._C is None
    assert (logei._load_attempted, logei._C) == before


def test_restarts_are_sprayed_around_the_feasible_front():
    X = torch.arange(12, dtype=torch.float64).reshape(12, 1) / 12
    front = torch.tensor([[float(i), 11.0 - i] for i in range(12)], dtype=torch.float64)  # all on it
    feasible = torch.ones(12, dtype=torch.bool)
    centers = mo.front_centers(X, front, feasible, torch.zeros(12))
    assert centers.shape == (mo.MAX_CENTERS, 1)  # spread along the first objective, both ends in
    assert centers[0, 0] == X[0, 0] and centers[-1, 0] == X[-1, 0]
    y = front.clone()
    y[3] = torch.tensor([20.0, 20.0])  # dominated
    feasible[5] = False  # infeasible: not a center, though on the front
    chosen = {float(x) for x in mo.front_centers(X[:8], y[:8], feasible[:8], torch.zeros(8)).reshape(-1)}
    assert chosen == {float(X[i, 0]) for i in (0, 1, 2, 4, 6, 7)}
    none = torch.zeros(12, dtype=torch.bool)
    violation = torch.linspace(1.0, 0.0, 12)
    least = mo.front_centers(X, y, none, violation).reshape(-1).tolist()
    assert least == [float(X[i, 0]) for i in (11, 10, 9)]
