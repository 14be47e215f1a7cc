"""The outcome GPs' pieces: the stacked multi-output model is the list of GPs, constraint values
map back to outcome units."""

from __future__ import annotations

import pytest
import torch
from botorch.models import ModelListGP, SingleTaskGP

from asktell.constraints import Constraint
from asktell.surrogates.gp import fit_gp
from asktell.surrogates.outcomes import OutcomeFit, constraint_values, data_scale, joint_model, stack


def _data(n=12, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    Y = torch.stack(
        [torch.sin(5 * X[:, 0]) + X[:, 1], 100 * X.sum(-1) ** 2, torch.cos(3 * X[:, 2]) - 0.2], dim=-1
    )
    return X, Y


def _fits(X, Y, noise_std=None):
    return [
        fit_gp(X, Y[:, j : j + 1], noise_std=noise_std, max_fit_iter=30, min_noise=1e-6) for j in range(3)
    ]


@pytest.mark.parametrize("noise_std", [None, 0.0])
def test_the_stacked_model_is_the_list_of_gps(noise_std):
    X, Y = _data()
    fits = _fits(X, Y, noise_std)
    listed = ModelListGP(*(f.model for f in fits))
    stacked = stack([f.model for f in fits], Y)
    assert isinstance(stacked, SingleTaskGP) and stacked.num_outputs == 3
    Xt = torch.rand(7, 2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = stacked.posterior(Xt), listed.posterior(Xt)
        torch.testing.assert_close(a.mean, b.mean, rtol=1e-6, atol=1e-8)
        torch.testing.assert_close(a.variance, b.variance, rtol=1e-5, atol=1e-10)
        # the joint covariance of the q = 2 points, output by output (independent outputs)
        torch.testing.assert_close(
            a.distribution.covariance_matrix, b.distribution.covariance_matrix, rtol=1e-5, atol=1e-9
        )


def test_models_of_different_kinds_are_not_stacked():
    X, Y = _data()
    inferred, fixed = _fits(X, Y)[0], _fits(X, Y, noise_std=0.0)[1]
    assert stack([inferred.model, fixed.model], Y[:, :2]) is None
    other_points = fit_gp(X[:-1], Y[:-1, :1], max_fit_iter=5)
    assert stack([inferred.model, other_points.model], Y[:, :2]) is None
    # joint_model then gives the list
    outcome = OutcomeFit("a", fixed, 0.0, data_scale(fixed), Constraint("a", "<=", 0.0))
    assert isinstance(joint_model(inferred.model, Y[:, :1], (outcome,), Y[:, 1:2]), ModelListGP)


def test_constraint_values_are_minus_the_slack_and_map_back():
    le, ge = Constraint("mem", "<=", 4.0), Constraint("recall", ">=", 0.9)
    torch.testing.assert_close(
        constraint_values(le, [3.0, 5.0]), torch.tensor([[-1.0], [1.0]], dtype=torch.float64)
    )
    torch.testing.assert_close(
        constraint_values(ge, [0.95, 0.8]), torch.tensor([[-0.05], [0.1]], dtype=torch.float64)
    )
    X, Y = _data()
    fit = _fits(X, Y)[0]
    c = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    assert OutcomeFit("mem", fit, 0.0, 1.0, le).outcome_units(c).tolist() == [3.0, 4.5]
    assert OutcomeFit("recall", fit, 0.0, 1.0, ge).outcome_units(c).tolist() == pytest.approx([1.9, 0.4])
