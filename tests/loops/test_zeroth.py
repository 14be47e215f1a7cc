"""ZO-SGD and its pieces: Adam against torch's, the estimator against exact gradients."""

from __future__ import annotations

import pytest
import torch

from asktell import Categorical, Real, Space
from asktell.errors import ParamError
from asktell.loops import ZOSGD
from asktell.loops.adam import AdamState, adam_step
from asktell.loops.zeroth import finite_difference_gradient, random_directions


def test_adam_matches_torch_optim_adam():
    g = torch.Generator().manual_seed(0)
    p = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.05)
    ours, state = torch.zeros(5, dtype=torch.float64), AdamState.zeros(5)
    for _ in range(7):
        grad = torch.randn(5, generator=g, dtype=torch.float64)
        p.grad = grad.clone()
        opt.step()
        delta, state = adam_step(grad, state, lr=0.05)
        ours = ours - delta
    assert torch.allclose(ours, p.detach(), rtol=1e-12, atol=1e-15)  # same arithmetic up to rounding


def test_gaussian_directions_are_orthonormal_and_deterministic():
    U = random_directions(6, 6, torch.Generator().manual_seed(1))
    assert torch.allclose(U @ U.T, torch.eye(6, dtype=torch.float64), atol=1e-12)
    assert torch.equal(U, random_directions(6, 6, torch.Generator().manual_seed(1)))
    S = random_directions(6, 4, torch.Generator().manual_seed(1), kind="sphere")
    assert torch.allclose(S.norm(dim=1), torch.ones(4, dtype=torch.float64))


def test_estimator_recovers_a_linear_gradient_with_d_orthonormal_directions():
    d, mu = 8, 1e-3
    w = torch.linspace(-1, 1, d, dtype=torch.float64)
    U = random_directions(d, d, torch.Generator().manual_seed(2))
    x = torch.full((d,), 0.3, dtype=torch.float64)
    values = (x + mu * U) @ w
    g = finite_difference_gradient(float(x @ w), values, U, mu)
    # sum_j (u_j . w) u_j = w for an orthonormal basis; the estimator averages: w / d
    assert torch.allclose(g * d, w, atol=1e-9)


def test_sphere_estimator_is_unbiased_for_a_linear_function():
    d, q, mu = 5, 4000, 1e-3
    w = torch.arange(1.0, d + 1, dtype=torch.float64)
    U = random_directions(d, q, torch.Generator().manual_seed(3), kind="sphere")
    x = torch.zeros(d, dtype=torch.float64)
    g = finite_difference_gradient(0.0, (x + mu * U) @ w, U, mu, kind="sphere")
    assert torch.allclose(g, w, rtol=0.1)  # E[d u u^T] = I; 4000 directions: ~5 % noise


SPACE = Space({f"x{i}": Real(-2.0, 2.0) for i in range(5)})


def sphere(p):
    return sum((v - 0.5) ** 2 for v in p.values())


def test_each_step_costs_q_plus_one_trials_and_descends():
    loop = ZOSGD(q=5, lr=0.05)
    state = loop.init(SPACE, seed=0)
    values = []
    for _ in range(30 * 6):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, sphere(t.params))
        values.append(t.value if t.value is not None else sphere(t.params))
    assert state.memo["step"] == 29  # the 30th step's probes are issued; 29 steps taken
    assert sphere(SPACE.decode(state.memo["x"])) < 0.5 * sphere(state.trials[0].params)


def test_failed_probes_and_a_failed_base_do_not_stall():
    loop = ZOSGD(q=3)
    state = loop.init(SPACE, seed=1)
    for i in range(12):
        state, (t,) = loop.ask(state)
        failed = i in (0, 5)  # the first base and one probe of the second step
        state = loop.tell(
            state, t.id, None if failed else sphere(t.params), status="failed" if failed else "completed"
        )
    assert state.memo["step"] == 2


def test_asking_more_than_a_step_needs_adds_directions():
    loop = ZOSGD(q=3)
    state = loop.init(SPACE, seed=2)
    state, trials = loop.ask(state, n=6)
    assert [t.metadata["probe"] for t in trials] == [0, 1, 2, 3, 4, 5]
    assert all(t.metadata["step"] == 0 for t in trials)


def test_categorical_spaces_are_refused():
    with pytest.raises(ParamError, match="categorical"):
        ZOSGD().init(Space({"c": Categorical(["a", "b"]), "x": Real(0, 1)}))
