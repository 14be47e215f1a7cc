"""GP fitting on a trajectory: warm starts, noise modes, fallbacks."""

from __future__ import annotations

import math

import pytest
import torch
from botorch.models import MixedSingleTaskGP, SingleTaskGP

from asktell.surrogates import gp as gp_module
from asktell.surrogates.gp import fit_gp


def _data(n=30, d=3, noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    f = torch.sin(6 * X[:, :1]) + (X[:, 1:2] - 0.3) ** 2 + 0.5 * X[:, 2:3]
    Y = f + noise * torch.randn(n, 1, generator=g, dtype=torch.float64)
    return X, Y


def _lengthscales(fit):
    return fit.model.covar_module.lengthscale.detach().reshape(-1)


def test_warm_start_and_cold_fit_give_close_hyperparameters():
    X, Y = _data(n=30)
    first = fit_gp(X[:25], Y[:25])
    cold = fit_gp(X, Y)
    warm = fit_gp(X, Y, warm_start=first.hyperparameters)
    assert warm.warm_started and not cold.warm_started
    # same optimum of the marginal likelihood: lengthscales agree within 15 % (named tolerance)
    assert torch.allclose(_lengthscales(warm), _lengthscales(cold), rtol=0.15)


def test_hyperparameters_are_plain_json_and_round_trip():
    import json

    X, Y = _data()
    fit = fit_gp(X, Y)
    again = json.loads(json.dumps(fit.hyperparameters))
    assert again == fit.hyperparameters
    refit = fit_gp(X, Y, warm_start=again, warm_fit_iter=1)
    assert refit.warm_started


def test_mismatched_warm_start_is_ignored_and_said():
    X, Y = _data()
    fit = fit_gp(X, Y, warm_start={"nonsense": [1.0]})
    assert not fit.warm_started and "did not match" in fit.notes[0]


def test_noiseless_mode_fixes_a_tiny_noise():
    X, Y = _data()
    fit = fit_gp(X, Y, noise_std=0.0)
    noise = float(fit.model.likelihood.noise.mean())
    # fixed at 1e-6 of the data's variance (in standardized units: about 1e-6)
    assert noise < 1e-5


def test_inferred_noise_finds_the_noise_level():
    X, Y = _data(n=80, noise=0.2, seed=1)
    fit = fit_gp(X, Y)
    # the likelihood's noise is in standardized units: rescale by the outcome std
    std = float(Y.std())
    noise_sd = math.sqrt(float(fit.model.likelihood.noise.mean())) * std
    assert 0.1 < noise_sd < 0.35  # true 0.2; generous band for 80 points


def test_given_noise_level_is_used():
    X, Y = _data()
    fit = fit_gp(X, Y, noise_std=0.3)
    assert isinstance(fit.model, SingleTaskGP)
    std = float(Y.std())
    assert math.sqrt(float(fit.model.likelihood.noise.mean())) * std == pytest.approx(0.3, rel=1e-6)


def test_categorical_dims_use_a_mixed_model():
    X, Y = _data()
    X[:, 2] = torch.floor(X[:, 2] * 3).clamp(max=2) / 3 + 1 / 6
    fit = fit_gp(X, Y, cat_dims=[2])
    assert isinstance(fit.model, MixedSingleTaskGP)


def test_a_failing_fit_falls_back_and_says_so(monkeypatch):
    from linear_operator.utils.errors import NotPSDError

    def boom(*args, **kwargs):
        raise NotPSDError("matrix not positive definite")

    monkeypatch.setattr(gp_module, "fit_gpytorch_mll", boom)
    X, Y = _data()
    fit = fit_gp(X, Y)
    assert "GP fit failed (NotPSDError" in fit.notes[0]
    mean = fit.model.posterior(X[:3]).mean  # the fallback model still predicts
    assert bool(torch.isfinite(mean).all())


def test_shapes_are_checked():
    X, Y = _data()
    with pytest.raises(ValueError, match="n x 1"):
        fit_gp(X, Y.reshape(-1))
