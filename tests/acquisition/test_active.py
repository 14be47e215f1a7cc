"""Active queries: in the box, reproducible, and the greedy rule against a recomputed oracle."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.kernels import MaternKernel, ScaleKernel

from asktell.acquisition.active import RULES, draw_candidates, select_active_queries
from asktell.errors import ConfigError, ParamError
from asktell.surrogates.gradient import derived_gp

DT = torch.float64


def _local_model(d: int = 6, n: int = 20, seed: int = 0):
    """A Matern-5/2 GP on a trajectory-like cloud around a point of a non-unit box."""
    g = torch.Generator().manual_seed(seed)
    bounds = torch.stack([torch.full((d,), -1.0, dtype=DT), torch.full((d,), 3.0, dtype=DT)])
    x = 1.0 + 0.5 * torch.rand(d, generator=g, dtype=DT)
    X = x + 0.4 * (torch.rand(n, d, generator=g, dtype=DT) - 0.5)
    Y = (X - 1.2).pow(2).sum(-1, keepdim=True) + 0.3 * torch.sin(4 * X[:, :1])
    base = MaternKernel(nu=2.5, ard_num_dims=d)
    covar = ScaleKernel(base)
    model = SingleTaskGP(
        X,
        Y,
        covar_module=covar,
        input_transform=Normalize(d, bounds=bounds),
        outcome_transform=Standardize(1),
    )
    base.lengthscale = 0.1 * math.sqrt(d) * (1.0 + torch.rand(d, generator=g, dtype=DT))
    covar.outputscale = 1.5
    model.likelihood.noise = 1e-4
    model.eval()
    return model, x, bounds


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_points_lie_in_the_clipped_box_and_come_from_the_candidates(rule):
    model, _, bounds = _local_model()
    x = bounds[0] + 0.05  # near the lower corner: the box x +/- radius gets clipped
    radius = 0.3
    chosen = select_active_queries(model, x, 5, 40, radius, _gen(1), bounds=bounds, rule=rule)
    candidates = draw_candidates(x, 40, radius, _gen(1), bounds=bounds)
    assert chosen.shape == (5, 6) and chosen.dtype == DT
    assert bool((chosen >= torch.maximum(x - radius, bounds[0])).all())
    assert bool((chosen <= torch.minimum(x + radius, bounds[1])).all())
    # every chosen point is one of the candidates (same generator seed), each at most once
    matches = (chosen.unsqueeze(1) == candidates.unsqueeze(0)).all(-1)
    assert bool((matches.sum(-1) == 1).all())
    assert len({int(i) for i in matches.float().argmax(-1)}) == 5


def test_candidates_default_to_the_unit_cube():
    x = torch.tensor([0.0, 0.5, 1.0], dtype=DT)
    candidates = draw_candidates(x, 200, 0.2, _gen(0))
    assert bool((candidates >= torch.tensor([0.0, 0.3, 0.8])).all())
    assert bool((candidates <= torch.tensor([0.2, 0.7, 1.0])).all())


@pytest.mark.parametrize("rule", sorted(RULES))
def test_deterministic_given_the_generator_and_no_global_rng(rule):
    model, x, bounds = _local_model()
    state = torch.get_rng_state()
    first = select_active_queries(model, x, 4, 30, 0.1, _gen(7), bounds=bounds, rule=rule)
    again = select_active_queries(model, x, 4, 30, 0.1, _gen(7), bounds=bounds, rule=rule)
    other = select_active_queries(model, x, 4, 30, 0.1, _gen(8), bounds=bounds, rule=rule)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(state, torch.get_rng_state())


def test_greedy_rank_one_updates_match_recomputed_greedy():
    """Incremental (rank-one) greedy == greedy by recomputing the augmented system each time."""
    model, x, bounds = _local_model()
    m, n_candidates, radius = 3, 25, 0.15
    chosen = select_active_queries(model, x, m, n_candidates, radius, _gen(3), bounds=bounds)
    candidates = draw_candidates(x, n_candidates, radius, _gen(3), bounds=bounds)
    dgp = derived_gp(model)
    picked: list[int] = []
    for _ in range(m):
        traces = torch.stack(
            [
                dgp.conditioned_trace(x.unsqueeze(0), candidates[[*picked, c]])[0]
                if c not in picked
                else torch.tensor(math.inf, dtype=DT)
                for c in range(n_candidates)
            ]
        )
        picked.append(int(torch.argmin(traces)))
    assert torch.equal(chosen, candidates[picked])


def test_greedy_reduces_the_trace_at_the_iterate_more_than_random_choices():
    model, x, bounds = _local_model(d=8, n=25, seed=4)
    m, n_candidates, radius = 5, 100, 0.2
    chosen = select_active_queries(model, x, m, n_candidates, radius, _gen(5), bounds=bounds)
    candidates = draw_candidates(x, n_candidates, radius, _gen(5), bounds=bounds)
    dgp = derived_gp(model)
    at_x = x.unsqueeze(0)
    greedy = dgp.conditioned_trace(at_x, chosen)[0]
    rng = _gen(6)
    subsets = [torch.randperm(n_candidates, generator=rng)[:m] for _ in range(20)]
    random_traces = torch.stack([dgp.conditioned_trace(at_x, candidates[i])[0] for i in subsets])
    papers_rule = select_active_queries(
        model, x, m, n_candidates, radius, _gen(5), bounds=bounds, rule="uncertainty_at_candidates"
    )
    assert greedy < dgp.trace(at_x)[0]
    assert bool((greedy <= random_traces).all())
    assert greedy <= dgp.conditioned_trace(at_x, papers_rule)[0]


def test_uncertainty_at_candidates_picks_the_largest_traces():
    model, x, bounds = _local_model()
    chosen = select_active_queries(
        model, x, 4, 30, 0.3, _gen(2), bounds=bounds, rule="uncertainty_at_candidates"
    )
    candidates = draw_candidates(x, 30, 0.3, _gen(2), bounds=bounds)
    traces = derived_gp(model).covariance(candidates).sum(-1)  # oracle: sum of the diagonal
    assert torch.equal(chosen, candidates[torch.argsort(traces, descending=True)[:4]])


def test_zero_queries_and_bad_input():
    model, x, bounds = _local_model()
    empty = select_active_queries(model, x, 0, 10, 0.1, _gen(0), bounds=bounds)
    assert empty.shape == (0, 6)
    with pytest.raises(ConfigError, match="rule"):
        select_active_queries(model, x, 2, 10, 0.1, _gen(0), bounds=bounds, rule="norm")
    with pytest.raises(ConfigError, match="n_candidates"):
        select_active_queries(model, x, 11, 10, 0.1, _gen(0), bounds=bounds)
    with pytest.raises(ConfigError, match="radius"):
        select_active_queries(model, x, 2, 10, 0.0, _gen(0), bounds=bounds)
    with pytest.raises(ParamError, match="inside bounds"):
        select_active_queries(model, x + 10.0, 2, 10, 0.1, _gen(0), bounds=bounds)
    with pytest.raises(ParamError, match="bounds"):
        select_active_queries(model, x, 2, 10, 0.1, _gen(0), bounds=bounds[:, :3])
