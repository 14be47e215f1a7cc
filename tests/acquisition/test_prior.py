"""piBO against its oracles: the torch prior density is the data layer's (floored), and a weighted
acquisition is BoTorch's ``PriorGuidedAcquisitionFunction`` with the same exponent (its own class for
Monte Carlo acquisitions, with the pending points moved onto it; the sum for analytic ones and
qLogNEHVI), on BoTorch's path and on the fast path, values and gradients."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from botorch.acquisition import (
    LogExpectedImprovement,
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qProbabilityOfImprovement,
)
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
from botorch.models import ModelListGP
from botorch.sampling import SobolQMCNormalSampler
from linear_operator.utils.warnings import NumericalWarning

from asktell import Categorical, Integer, Real, Space
from asktell.acquisition.fast import FastLogEI, FastqLogNEI
from asktell.acquisition.prior import (
    PointPriorGuided,
    PriorDensity,
    PriorWeight,
    prior_exponent,
    prior_guided,
)
from asktell.priors import PRIOR_FLOOR, Beta, Normal, Uniform
from asktell.surrogates.gp import fit_gp

DT = torch.float64
SPACE = Space(
    {
        "a": Real(0.0, 1.0, prior=Normal(0.3, 0.15)),
        "b": Real(1e-3, 1.0, log=True, prior=Beta(2.0, 3.0)),
        "c": Integer(0, 9, prior=Uniform(2, 6)),
    }
)


def _model(seed: int, n: int = 12, d: int = 3, outputs: int = 1):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=DT)
    Ys = [
        -(X - 0.3 + 0.2 * j).pow(2).sum(-1, keepdim=True) * 4
        + 0.05 * torch.randn(n, 1, generator=g, dtype=DT)
        for j in range(outputs)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        models = [fit_gp(X, Y, min_noise=1e-6).model for Y in Ys]
    return (models[0] if outputs == 1 else ModelListGP(*models)), X, torch.cat(Ys, -1), g


def _value_and_grad(acq, x):
    x = x.clone().requires_grad_(True)
    value = acq(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


def test_the_torch_density_is_the_data_layers_floored() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(5, 4, 3, generator=g, dtype=DT)
    X[0, 0, 2] = 0.05  # outside the uniform prior of c: density zero, the floor only
    got = PriorDensity(SPACE)(X)
    assert got.shape == (5, 4)
    want = np.logaddexp(SPACE.prior_log_density(X.reshape(-1, 3).numpy()), math.log(PRIOR_FLOOR)).reshape(
        5, 4
    )
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    assert float(got[0, 0]) == pytest.approx(math.log(PRIOR_FLOOR))
    np.testing.assert_allclose(PriorDensity(SPACE, log=False)(X).numpy(), np.exp(want), rtol=1e-12)


def test_the_density_of_a_categorical_is_its_weights() -> None:
    space = Space({"c": Categorical(["x", "y"], weights=[1, 3])})
    X = torch.tensor([[[0.25]], [[0.75]]], dtype=DT)
    np.testing.assert_allclose(PriorDensity(space)(X).reshape(-1).numpy(), np.log([0.5, 1.5]), rtol=1e-9)


def test_the_exponent_decays_as_beta_over_n() -> None:
    assert [prior_exponent(10.0, n) for n in (1, 2, 5, 40)] == [10.0, 5.0, 2.0, 0.25]
    assert prior_exponent(10.0, 0) == 10.0  # never more than at the first model-based ask


@pytest.mark.parametrize("seed", [0, 1])
def test_weighted_qlognei_is_botorchs_prior_guided_function_with_pending_points(seed: int) -> None:
    """qLogNEI keeps pending points in its baseline (BoTorch's incremental form, as the loop's
    unweighted asks do): the weighted function is BoTorch's wrapper around it, and for one point the
    acquisition plus the exponent times the log prior."""
    model, X, _, g = _model(seed)
    pending = torch.rand(2, 3, generator=g, dtype=DT)
    weight = PriorWeight(SPACE, 2.5)

    def acq(X_pending):
        sampler = SobolQMCNormalSampler(torch.Size([64]), seed=7)
        return qLogNoisyExpectedImprovement(
            model, X, sampler=sampler, X_pending=X_pending, prune_baseline=False
        )

    ours = prior_guided(acq(pending), weight)
    theirs = PriorGuidedAcquisitionFunction(acq(pending), PriorDensity(SPACE), log=True, prior_exponent=2.5)
    x = torch.rand(6, 2, 3, generator=g, dtype=DT)  # batches of two new points
    for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    x1 = x[:, :1]
    want = acq(pending)(x1) + 2.5 * PriorDensity(SPACE)(x1).squeeze(-1)
    torch.testing.assert_close(ours(x1), want, rtol=1e-9, atol=1e-9)


def test_pending_points_of_a_batch_acquisition_move_onto_botorchs_wrapper() -> None:
    """qLogEI concatenates its pending points to every batch: BoTorch's wrapper wants them on itself
    (it refuses them on the acquisition), and weights them with the batch."""
    model, X, Y, g = _model(5)
    pending = torch.rand(2, 3, generator=g, dtype=DT)

    def acq(X_pending):
        sampler = SobolQMCNormalSampler(torch.Size([64]), seed=3)
        return qLogExpectedImprovement(model, best_f=Y.max(), sampler=sampler, X_pending=X_pending)

    ours = prior_guided(acq(pending), PriorWeight(SPACE, 1.2))
    theirs = PriorGuidedAcquisitionFunction(
        acq(None), PriorDensity(SPACE), log=True, prior_exponent=1.2, X_pending=pending
    )
    assert torch.equal(ours.X_pending, pending) and ours.acq_func.X_pending is None
    x = torch.rand(5, 1, 3, generator=g, dtype=DT)
    for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_a_probability_acquisition_is_weighted_by_the_density_itself() -> None:
    model, X, Y, g = _model(3)
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=1)
    acq = qProbabilityOfImprovement(model, best_f=Y.max(), sampler=sampler)
    ours = prior_guided(acq, PriorWeight(SPACE, 0.7))
    x = torch.rand(5, 1, 3, generator=g, dtype=DT)
    want = acq(x) * PriorDensity(SPACE, log=False)(x).squeeze(-1).pow(0.7)
    torch.testing.assert_close(ours(x), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_analytic_logei_is_botorchs_prior_guided_function(seed: int) -> None:
    model, X, Y, g = _model(seed)
    weight = PriorWeight(SPACE, 1.5)
    ours = prior_guided(LogExpectedImprovement(model, best_f=Y.max()), weight)
    assert isinstance(ours, PointPriorGuided)
    theirs = PriorGuidedAcquisitionFunction(
        LogExpectedImprovement(model, best_f=Y.max()), PriorDensity(SPACE), log=True, prior_exponent=1.5
    )
    x = torch.rand(7, 1, 3, generator=g, dtype=DT)
    for a, b in zip(_value_and_grad(ours, x), _value_and_grad(theirs, x), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_fast_path_weighted_is_botorchs_weighted(seed: int) -> None:
    model, X, Y, g = _model(seed)
    weight = PriorWeight(SPACE, 3.0)
    x = torch.rand(8, 1, 3, generator=g, dtype=DT)
    sampler = lambda: SobolQMCNormalSampler(torch.Size([128]), seed=11)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        fast = prior_guided(FastqLogNEI(model, X, sampler()), weight)
        slow = PriorGuidedAcquisitionFunction(
            qLogNoisyExpectedImprovement(model, X, sampler=sampler(), prune_baseline=True, cache_root=True),
            PriorDensity(SPACE),
            log=True,
            prior_exponent=3.0,
        )
        for a, b in zip(_value_and_grad(fast, x), _value_and_grad(slow, x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
    fast_ei = prior_guided(FastLogEI(model, Y.max()), weight)
    slow_ei = PriorGuidedAcquisitionFunction(
        LogExpectedImprovement(model, best_f=Y.max()), PriorDensity(SPACE), log=True, prior_exponent=3.0
    )
    torch.testing.assert_close(fast_ei(x), slow_ei(x), rtol=1e-6, atol=1e-6)


def test_qlognehvi_keeps_its_pending_points_and_is_weighted_per_point() -> None:
    model, X, Y, g = _model(4, outputs=2)
    pending = torch.rand(1, 3, generator=g, dtype=DT)

    def acq():
        return qLogNoisyExpectedHypervolumeImprovement(
            model, ref_point=(Y.min(0).values - 0.1).tolist(), X_baseline=X,
            sampler=SobolQMCNormalSampler(torch.Size([32]), seed=2), prune_baseline=False,
        )  # fmt: skip

    inner = acq()
    ours = prior_guided(inner, PriorWeight(SPACE, 0.5))
    reference = acq()
    ours.set_X_pending(pending)
    reference.set_X_pending(pending)
    assert ours.X_pending is not None and torch.equal(inner.X_pending, pending)
    x = torch.rand(4, 1, 3, generator=g, dtype=DT)
    want = reference(x) + 0.5 * PriorDensity(SPACE)(x).squeeze(-1)
    torch.testing.assert_close(ours(x), want, rtol=1e-9, atol=1e-12)


def test_no_weight_leaves_the_acquisition_alone() -> None:
    model, X, Y, _ = _model(0)
    acq = LogExpectedImprovement(model, best_f=Y.max())
    assert prior_guided(acq, None) is acq
