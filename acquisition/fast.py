"""The fast path of a single-objective ask: BoTorch's acquisition values from a cached Cholesky factor.

The common ask (one point, nothing pending, one objective, no constraints) spends most of its time
in the acquisition optimizer's 30-150 evaluations of GPyTorch's posterior (lazy tensors, prediction
strategies, a distribution object: ~1-3 ms a call with its backward pass) on a model that does not
change in between. The fast path computes the same acquisition values from
:class:`asktell.surrogates.cached.CachedPosterior`, which factors the training covariance once per
ask, with a handful of dense tensor operations:

- :class:`FastqLogNEI`: BoTorch's ``qLogNoisyExpectedImprovement`` (pruned baseline, cached root,
  the sampler's base samples) itself, with only its sampling at the new point replaced: the joint
  posterior row of ``(X_baseline, x)`` comes from the cache;
- :class:`FastLogEI`: ``LogExpectedImprovement``, ``log(sigma h((mu - f*) / sigma))`` with
  BoTorch's numerically careful ``log h`` (``_log_ei_helper``).

Values and gradients equal BoTorch's to 1e-6 on random models and points
(``tests/acquisition/test_fast.py``), so the fast path changes the time of an ask, not its
answer beyond rounding. :func:`fast_acquisition` says when it applies: ``"qlognei"`` or
``"logei"``, one point, nothing pending.

Shapes: the acquisition functions take ``b x 1 x d`` points and return ``b`` values, as BoTorch's.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction, qLogNoisyExpectedImprovement
from botorch.acquisition.analytic import _log_ei_helper
from botorch.exceptions.warnings import BotorchWarning
from botorch.models.gpytorch import GPyTorchModel
from botorch.sampling import MCSampler
from linear_operator.utils.cholesky import psd_safe_cholesky
from linear_operator.utils.errors import NotPSDError
from linear_operator.utils.warnings import NumericalWarning

from asktell.surrogates.cached import CachedPosterior

BOTORCH_MIN_VARIANCE = 1e-12  # the floor BoTorch's analytic acquisitions put on a variance


class FastLogEI(AcquisitionFunction):
    """Analytic LogEI of a maximized single-output GP at ``best_f``, from a cached posterior."""

    def __init__(
        self, model: GPyTorchModel, best_f: float | torch.Tensor, cache: CachedPosterior | None = None
    ):
        super().__init__(model=model)
        self.cache = cache if cache is not None else CachedPosterior(model)
        self.register_buffer("best_f", torch.as_tensor(best_f, dtype=self.cache.X.dtype).reshape(()))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """LogEI at ``b x 1 x d`` points: ``b``."""
        if X.shape[-2] != 1:
            raise ValueError(f"FastLogEI takes one point per batch (b x 1 x d), got {tuple(X.shape)}.")
        mean, variance = self.cache.mean_and_variance(X.squeeze(-2))
        sigma = variance.clamp_min(BOTORCH_MIN_VARIANCE).sqrt()
        return _log_ei_helper((mean - self.best_f) / sigma) + sigma.log()


class FastqLogNEI(qLogNoisyExpectedImprovement):
    """BoTorch's qLogNEI (pruned baseline, cached root) whose samples at one new point come from
    a :class:`CachedPosterior` instead of GPyTorch's joint posterior.

    BoTorch's ``sample_cached_cholesky`` draws ``f(x)`` jointly with the cached baseline samples:
    with ``S_b = Cov(f(X_b))`` factored once (``L_b``, BoTorch's ``_baseline_L``), the new row
    of the joint factor is ``l = L_b^{-1} Cov(f(X_b), f(x))`` and ``l_x = (Var f(x) - l.l)^{1/2}``,
    and ``f_s(x) = mean(x) + [l, l_x] . z_s`` with the sampler's fixed base samples ``z_s``
    (``S x (n_b + 1)``). This class computes ``mean``, the covariance row and ``Var f(x)``
    densely (``Cov(f(X_b), f(x)) = k(X_b, x) - k(X_b, X) K^{-1} k(X, x)``), then hands the samples
    to BoTorch's own improvement, smoothing and reduction. Batches of one point only
    (``b x 1 x d``); other shapes take BoTorch's path.
    """

    def __init__(
        self,
        model: GPyTorchModel,
        X_baseline: torch.Tensor,
        sampler: MCSampler,
        cache: CachedPosterior | None = None,
    ):
        super().__init__(model, X_baseline=X_baseline, sampler=sampler, prune_baseline=True, cache_root=True)
        self.cache = cache if cache is not None else CachedPosterior(model)
        with torch.no_grad(), warnings.catch_warnings():
            # one evaluation on BoTorch's path sets the sampler's base samples for one new point
            # (at a baseline point, whose new block of the joint factor may need jitter: quiet)
            warnings.simplefilter("ignore", NumericalWarning)
            super()._get_samples_and_objectives(self.X_baseline[:1].unsqueeze(0))
            cache = self.cache
            k_Xb = cache.kernel(cache.X, self.X_baseline).to_dense()  # n x n_b
            self._Kinv_k_Xb = torch.cholesky_solve(k_Xb, cache.L)  # K^{-1} k(X, X_b): n x n_b
        drawn: Any = self.sampler  # its base samples were set by BoTorch's path above (typed loosely)
        self._z = drawn.base_samples.reshape(drawn.sample_shape.numel(), -1)  # S x (n_b + 1)

    def _get_samples_and_objectives(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if X.shape[-2] != 1 or X.ndim != 3:
            return super()._get_samples_and_objectives(X)
        cache, x = self.cache, X.squeeze(-2)  # b x d
        k_xX, k_xb = cache.cross(x, cache.X), cache.cross(x, self.X_baseline)  # b x n, b x n_b
        k_xx = cache.prior_variance(x)  # b
        v = torch.linalg.solve_triangular(cache.L, k_xX.transpose(-1, -2), upper=False)  # n x b
        s2 = cache.scale**2
        mean = (cache.constant + k_xX @ cache.alpha) * cache.scale + cache.shift  # b
        cov_xb = (k_xb - k_xX @ self._Kinv_k_Xb) * s2  # b x n_b
        var_x = (k_xx - (v * v).sum(-2)) * s2  # b
        bl = torch.linalg.solve_triangular(self._baseline_L, cov_xb.transpose(-1, -2), upper=False)
        bl = bl.transpose(-1, -2)  # b x n_b
        try:
            br = psd_safe_cholesky((var_x - (bl * bl).sum(-1)).reshape(-1, 1, 1)).reshape(-1, 1)  # b x 1
        except NotPSDError:
            # the new block is negative beyond jitter (an ill-conditioned baseline factor next to
            # observed points): BoTorch's own path, which falls back to plain sampling then (and
            # says so; the fallback changes nothing the ask reports)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", BotorchWarning)
                return super()._get_samples_and_objectives(X)
        row = torch.cat([bl, br], dim=-1)  # b x (n_b + 1)
        samples = (mean.unsqueeze(0) + self._z @ row.transpose(-1, -2)).unsqueeze(-1).unsqueeze(-1)
        return samples, self.objective(samples, X=X)  # S x b x 1 x 1, S x b x 1


def fast_acquisition(
    name: str,
    model: GPyTorchModel,
    X_observed: torch.Tensor,
    Y_observed: torch.Tensor,
    sampler: MCSampler,
    q: int,
    n_pending: int,
    posterior: CachedPosterior | None = None,
) -> AcquisitionFunction | None:
    """The fast path's version of acquisition ``name`` for ``q`` points with ``n_pending`` pending
    ones, or None where there is none: ``"qlognei"`` (baseline ``X_observed``, ``n x d``, and
    ``sampler``) and ``"logei"`` (at the best of ``Y_observed``, ``n x 1``, maximized), for one
    point with nothing pending. ``posterior``, when given, is ``model``'s cached posterior
    (built by the caller already) and is reused rather than factored again."""
    if q != 1 or n_pending:
        return None
    if name == "qlognei":
        return FastqLogNEI(model, X_observed, sampler, cache=posterior)
    if name == "logei":
        return FastLogEI(model, Y_observed.max(), cache=posterior)
    return None
