"""A fitted GP's posterior from one cached Cholesky factor: the fast path of an ask.

GPyTorch's ``posterior`` builds lazy tensors, prediction strategies and a distribution object on
every call (~1-2 ms each, more in reverse mode); an acquisition optimizer calls it 50-200 times an
ask on a model that does not change in between. :class:`CachedPosterior` factors the training
covariance once and then evaluates the same mathematics with a handful of dense tensor operations:

    K = k(X, X) + diag(noise)            (n x n, standardized units; L = chol(K))
    alpha = K^{-1} (y - c)                (y: the model's standardized targets, c its constant mean)
    mean(x) = c + k(x, X) alpha           (b)
    var(x)  = k(x, x) - k(x, X) K^{-1} k(X, x)

and maps both back through the model's ``Standardize`` transform (``mean * s + mu``, ``var * s^2``).
The kernel is the model's own ``covar_module`` (RBF, or the mixed kernel of ``MixedSingleTaskGP``),
so the fast path computes what GPyTorch computes, only with less bookkeeping; it is tested against
BoTorch's posterior (values and gradients, 1e-6) in ``tests/test_cached_posterior.py``. GPyTorch
switches to iterative solvers above 800 training points (``max_cholesky_size``); the cache always
factors exactly (1000 points: a 1000 x 1000 Cholesky, ~20 ms).

:meth:`CachedPosterior.loo_z2` gives the leave-one-out standardized squared residuals of the
training points from the same factor (Rasmussen & Williams, eq. 5.12), which the BayesOpt loop uses
to tell when stored hyperparameters went stale.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.models.gpytorch import GPyTorchModel
from gpytorch.settings import min_variance
from linear_operator.utils.cholesky import psd_safe_cholesky


class CachedPosterior:
    """The posterior of a fitted single-output BoTorch GP (eval mode), cached for repeated calls.

    Supports the models :func:`asktell.surrogates.gp.build_gp` makes: ``SingleTaskGP`` and
    ``MixedSingleTaskGP`` with a constant mean, Gaussian (inferred or fixed) noise, no input
    transform and an optional ``Standardize`` outcome transform.
    """

    def __init__(self, model: GPyTorchModel):
        gp: Any = model  # GPyTorch's modules are untyped: their submodules read as Tensor | Module
        if getattr(gp, "input_transform", None) is not None:
            raise ValueError("CachedPosterior does not support input transforms.")
        X = gp.train_inputs[0]  # n x d
        y = gp.train_targets  # n, standardized
        with torch.no_grad():
            self.X = X.detach()
            self.constant = gp.mean_module.constant.detach().reshape(())
            noise = gp.likelihood.noise.detach().reshape(-1).expand(X.shape[0])
            K = gp.covar_module(self.X).to_dense() + torch.diag(noise)
            self.L = psd_safe_cholesky(K)
            residual = (y.detach() - self.constant).unsqueeze(-1)
            self.alpha = torch.cholesky_solve(residual, self.L).squeeze(-1)  # n
        self.noise = noise
        self.kernel: Any = gp.covar_module
        transform = getattr(gp, "outcome_transform", None)
        if transform is not None:
            self.shift = transform.means.detach().reshape(())
            self.scale = transform.stdvs.detach().reshape(())
        else:
            self.shift = torch.zeros((), dtype=X.dtype)
            self.scale = torch.ones((), dtype=X.dtype)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])

    def mean_and_variance(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and variance of the latent function at ``b x d`` points (``b`` each),
        in the model's output units (after the outcome transform); differentiable in ``x``."""
        k_xX, k_xx = self.cross(x, self.X), self.prior_variance(x)
        mean = self.constant + k_xX @ self.alpha
        # k(x, X) K^{-1} k(X, x) as GPyTorch computes it (a Cholesky solve, then the product), so
        # that small variances round alike: var = k_xx - k.(K^{-1} k) cancels most digits there
        correction = torch.cholesky_solve(k_xX.transpose(-1, -2), self.L)  # n x b
        explained = (k_xX * correction.transpose(-1, -2)).sum(-1)
        # GPyTorch's floor of a latent variance (1e-10 in float64), as its posterior applies it
        variance = (k_xx - explained).clamp_min(min_variance.value(x.dtype))
        return mean * self.scale + self.shift, variance * self.scale**2

    def cross(self, x: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """``k(x, Z)`` for ``b x d`` points and ``m x d`` points: ``b x m``.

        Each point is its own batch (``b x 1 x d``), as in BoTorch's acquisition calls: GPyTorch's
        distance computation centres its inputs on their mean for stability, and a ``b x d``
        input would let one point's (possibly huge) gradient leak into every other's."""
        return self.kernel(x.unsqueeze(-2), Z).to_dense().squeeze(-2)

    def prior_variance(self, x: torch.Tensor) -> torch.Tensor:
        """``k(x, x)`` at ``b x d`` points: ``b``."""
        return self.kernel(x.unsqueeze(-2), diag=True).squeeze(-1)

    def loo_z2(self) -> torch.Tensor:
        """Leave-one-out standardized squared residuals of the ``n`` training points: ``n``.

        ``z_i = alpha_i / [K^{-1}]_ii^{1/2}``: the residual of ``y_i`` against the prediction from
        the other ``n - 1`` points, over that prediction's standard deviation (noise included).
        Under well-calibrated hyperparameters ``z_i^2`` averages about 1.
        """
        with torch.no_grad():
            eye = torch.eye(self.n, dtype=self.L.dtype)
            L_inv = torch.linalg.solve_triangular(self.L, eye, upper=False)
            precision_diag = (L_inv * L_inv).sum(0)  # diag of K^{-1} = L^{-T} L^{-1}
            return self.alpha**2 / precision_diag
