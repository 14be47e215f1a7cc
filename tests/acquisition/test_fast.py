"""The fast path against its oracle: BoTorch's own posterior, qLogNEI and LogEI, values and gradients."""

from __future__ import annotations

import warnings

import pytest
import torch
from botorch.acquisition import LogExpectedImprovement, qLogNoisyExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler
from linear_operator.utils.warnings import NumericalWarning

from asktell.acquisition.fast import FastLogEI, FastqLogNEI, fast_acquisition
from asktell.surrogates.cached import CachedPosterior
from asktell.surrogates.gp import fit_gp

DT = torch.float64
# the model kinds build_gp makes: inferred noise (asktell's low floor), noiseless, a fixed noise
# level, and a mixed space (a categorical coordinate: MixedSingleTaskGP)
KINDS = {
    "inferred": dict(min_noise=1e-6),
    "noiseless": dict(noise_std=0.0),
    "fixed-noise": dict(noise_std=0.2),
    "mixed": dict(cat_dims=[1], min_noise=1e-6),
}


def _model(kind: str, seed: int, n: int = 15, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=DT)
    if kind == "mixed":
        X[:, 1] = torch.randint(0, 3, (n,), generator=g).to(DT)
    noise = 0.05 * torch.randn(n, 1, generator=g, dtype=DT)
    Y = -(X - 0.3).pow(2).sum(-1, keepdim=True) * 4 + noise + 2.0  # not standardized: Standardize works
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        return fit_gp(X, Y, **KINDS[kind]).model, X, Y, g


def _points(kind: str, g: torch.Generator, X: torch.Tensor, b: int = 8) -> torch.Tensor:
    """``b x 1 x d`` points: random ones, and some next to observed points (where the posterior
    variance is tiny and the joint factor needs care)."""
    x = torch.rand(b, 1, X.shape[-1], generator=g, dtype=DT)
    x[: b // 4, 0] = X[: b // 4] + 1e-3 * torch.rand(b // 4, X.shape[-1], generator=g, dtype=DT)
    if kind == "mixed":
        x[..., 1] = torch.randint(0, 3, (b, 1), generator=g).to(DT)
    return x.requires_grad_(True)


def _value_and_grad(acq, x):
    value = acq(x)
    (grad,) = torch.autograd.grad(value.sum(), x)
    return value.detach(), grad


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_cached_posterior_is_botorchs(kind, seed):
    model, X, _, g = _model(kind, seed)
    cache = CachedPosterior(model)
    assert cache.written_out  # every kernel build_gp makes: the written-out formulas are tested here
    x = _points(kind, g, X).squeeze(-2)
    posterior = model.posterior(x)
    mean, variance = cache.mean_and_variance(x)
    torch.testing.assert_close(mean, posterior.mean.squeeze(-1), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(variance, posterior.variance.squeeze(-1), rtol=1e-6, atol=1e-8)
    (ours,) = torch.autograd.grad((mean + variance).sum(), x)
    (theirs,) = torch.autograd.grad((posterior.mean + posterior.variance).sum(), x)
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_qlognei_equals_botorchs_qlognei(kind, seed):
    model, X, _, g = _model(kind, seed)

    def build(cls, **kwargs):
        torch.manual_seed(11)  # BoTorch's baseline pruning draws from the global generator
        return cls(model, X_baseline=X, sampler=SobolQMCNormalSampler(torch.Size([128]), seed=3), **kwargs)

    ours = build(FastqLogNEI)
    theirs = build(qLogNoisyExpectedImprovement, prune_baseline=True, cache_root=True)
    torch.testing.assert_close(ours.X_baseline, theirs.X_baseline)  # the same pruned baseline
    x = _points(kind, g, X)
    value, grad = _value_and_grad(ours, x)
    expected, expected_grad = _value_and_grad(theirs, x)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_logei_equals_botorchs_logei(kind, seed):
    model, X, Y, g = _model(kind, seed)
    best_f = model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0].max()
    x = _points(kind, g, X)
    value, grad = _value_and_grad(FastLogEI(model, best_f), x)
    expected, expected_grad = _value_and_grad(LogExpectedImprovement(model, best_f=best_f), x)
    torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-6, atol=1e-6)


def test_batches_of_several_points_take_botorchs_path():
    model, X, _, g = _model("inferred", 0)
    torch.manual_seed(11)
    ours = FastqLogNEI(model, X_baseline=X, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=3))
    torch.manual_seed(11)
    theirs = qLogNoisyExpectedImprovement(
        model, X_baseline=X, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=3), cache_root=True
    )
    x = torch.rand(4, 3, 3, generator=g, dtype=DT)  # q = 3
    torch.testing.assert_close(ours(x), theirs(x))


def test_the_fast_path_applies_to_one_point_with_nothing_pending():
    model, X, Y, _ = _model("inferred", 0)
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    assert isinstance(fast_acquisition("qlognei", model, X, Y, sampler, 1, 0), FastqLogNEI)
    assert isinstance(fast_acquisition("logei", model, X, Y, sampler, 1, 0), FastLogEI)
    assert fast_acquisition("qlognei", model, X, Y, sampler, 2, 0) is None  # a batch
    assert fast_acquisition("qlognei", model, X, Y, sampler, 1, 1) is None  # a pending point
    assert fast_acquisition("ucb", model, X, Y, sampler, 1, 0) is None  # no fast version


def test_a_given_cached_posterior_is_reused_not_factored_again():
    model, X, Y, g = _model("inferred", 0)
    posterior = CachedPosterior(model)
    sampler = SobolQMCNormalSampler(torch.Size([64]), seed=0)
    torch.manual_seed(11)
    given = fast_acquisition("qlognei", model, X, Y, sampler, 1, 0, posterior=posterior)
    torch.manual_seed(11)
    own = fast_acquisition("qlognei", model, X, Y, SobolQMCNormalSampler(torch.Size([64]), seed=0), 1, 0)
    assert given.cache is posterior and own.cache is not posterior
    x = _points("inferred", g, X)
    torch.testing.assert_close(given(x), own(x), rtol=0, atol=0)
    assert fast_acquisition("logei", model, X, Y, sampler, 1, 0, posterior=posterior).cache is posterior


def test_a_kernel_without_written_out_formulas_goes_through_gpytorch():
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel

    g = torch.Generator().manual_seed(3)
    X, Y = torch.rand(12, 2, generator=g, dtype=DT), torch.rand(12, 1, generator=g, dtype=DT)
    model = SingleTaskGP(X, Y, covar_module=MaternKernel(nu=2.5, ard_num_dims=2)).eval()
    cache = CachedPosterior(model)
    assert not cache.written_out
    x = torch.rand(5, 2, generator=g, dtype=DT)
    mean, variance = cache.mean_and_variance(x)
    posterior = model.posterior(x)
    torch.testing.assert_close(mean, posterior.mean.squeeze(-1).detach())
    torch.testing.assert_close(variance, posterior.variance.squeeze(-1).detach())


def test_fast_logei_refuses_batches():
    model, X, Y, _ = _model("inferred", 0)
    with pytest.raises(ValueError, match="one point per batch"):
        FastLogEI(model, Y.max())(torch.rand(2, 2, 3, dtype=DT))


def test_leave_one_out_residuals_match_refitting_without_each_point():
    """``loo_z2`` from one factor equals predicting each point from a model conditioned on the
    others with the same hyperparameters (the brute-force definition)."""
    model, X, Y, _ = _model("inferred", 4, n=10)
    z2 = CachedPosterior(model).loo_z2()
    noise = float(model.likelihood.noise)
    Yt = model.train_targets  # standardized
    for i in range(X.shape[0]):
        keep = [j for j in range(X.shape[0]) if j != i]
        K = model.covar_module(X[keep]).to_dense() + noise * torch.eye(len(keep), dtype=DT)
        k = model.covar_module(X[keep], X[i : i + 1]).to_dense().squeeze(-1)
        c = model.mean_module.constant.detach()
        with torch.no_grad():
            mean = c + k @ torch.linalg.solve(K, Yt[keep] - c)
            var = 1.0 - k @ torch.linalg.solve(K, k) + noise
        assert float(z2[i]) == pytest.approx(float((Yt[i] - mean) ** 2 / var), rel=1e-6)


def test_a_new_block_that_is_not_positive_falls_back_to_botorchs_path(monkeypatch):
    """Next to observed points the dense new block can be negative beyond jitter; the fast path
    then samples as BoTorch does (which has its own fallback), and still returns its values."""
    from linear_operator.utils.errors import NotPSDError

    from asktell.acquisition import fast

    model, X, _, g = _model("noiseless", 0)

    def build(cls, **kwargs):
        torch.manual_seed(11)
        return cls(model, X_baseline=X, sampler=SobolQMCNormalSampler(torch.Size([64]), seed=3), **kwargs)

    ours = build(FastqLogNEI)
    theirs = build(qLogNoisyExpectedImprovement, prune_baseline=True, cache_root=True)

    def refuse(*args, **kwargs):
        raise NotPSDError("not positive definite")

    monkeypatch.setattr(fast, "psd_safe_cholesky", refuse)
    x = _points("noiseless", g, X)
    torch.testing.assert_close(ours(x), theirs(x))
