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

import math
from collections.abc import Callable
from typing import Any

import torch
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.kernels.categorical import CategoricalKernel
from gpytorch.kernels import AdditiveKernel, ProductKernel, RBFKernel, ScaleKernel
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
        self._direct = _written_out(self.kernel)  # (k(x, Z), k(x, x)), or None: through GPyTorch
        transform = getattr(gp, "outcome_transform", None)
        if transform is not None:
            self.shift = transform.means.detach().reshape(())
            self.scale = transform.stdvs.detach().reshape(())
        else:
            self.shift = torch.zeros((), dtype=X.dtype)
            self.scale = torch.ones((), dtype=X.dtype)

    @property
    def written_out(self) -> bool:
        """Whether the kernel is evaluated by the written-out formulas (see :meth:`cross`)."""
        return self._direct is not None

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

        The kernels :func:`~asktell.surrogates.gp.build_gp` makes (RBF, BoTorch's categorical
        kernel, and their scaled sums and products in ``MixedSingleTaskGP``) are written out
        (:func:`_written_out`): GPyTorch's kernel call costs 0.2-2 ms of bookkeeping per call,
        more than the arithmetic. Any other kernel goes through GPyTorch, each point as its own
        batch (``b x 1 x d``) as in BoTorch's acquisition calls: GPyTorch's distance computation
        centres its inputs on their mean for stability, and a ``b x d`` input would let one
        point's (possibly huge) gradient leak into every other's."""
        if self._direct is None:
            return self.kernel(x.unsqueeze(-2), Z).to_dense().squeeze(-2)
        return self._direct[0](x, Z)

    def prior_variance(self, x: torch.Tensor) -> torch.Tensor:
        """``k(x, x)`` at ``b x d`` points: ``b`` (a constant for the written-out kernels, which
        are stationary)."""
        if self._direct is None:
            return self.kernel(x.unsqueeze(-2), diag=True).squeeze(-1)
        return self._direct[1].expand(x.shape[:-1])

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


Cross = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _written_out(kernel: Any, called: bool = True) -> tuple[Cross, torch.Tensor] | None:
    """``k(x, Z)`` (``b x d``, ``m x d`` -> ``b x m``) and the constant ``k(x, x)`` of a kernel
    tree of ``RBFKernel``, BoTorch's ``CategoricalKernel``, ``ScaleKernel``, ``AdditiveKernel``
    and ``ProductKernel`` (active dimensions included), with its current (detached) parameters;
    None for any other kernel. The formulas are GPyTorch's and BoTorch's:
    RBF ``exp(-||(x - z) / l||^2 / 2)``, categorical ``exp(-mean_i [x_i != z_i] / l_i)``.

    Active dimensions as GPyTorch applies them: a kernel *called* slices its inputs by its own
    ``active_dims``; ``ScaleKernel`` hands its (sliced) inputs to its base kernel's ``forward``,
    which does not slice again (``called=False``), while sums and products call their parts."""
    dims = getattr(kernel, "active_dims", None) if called else None

    def sliced(f: Cross) -> Cross:
        if dims is None:
            return f
        return lambda x, Z: f(x[..., dims], Z[..., dims])

    one = torch.ones((), dtype=torch.float64)
    if type(kernel) is RBFKernel:
        ls = kernel.lengthscale.detach().reshape(1, -1)

        def rbf(x: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
            xs, Zs = x / ls, Z / ls
            d2 = (xs * xs).sum(-1, keepdim=True) + (Zs * Zs).sum(-1) - 2.0 * xs @ Zs.transpose(-1, -2)
            return torch.exp(-0.5 * d2.clamp_min(0.0))

        return sliced(rbf), one
    if type(kernel) is CategoricalKernel:
        cls = kernel.lengthscale.detach().reshape(-1)

        def categorical(x: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
            delta = (x.unsqueeze(-2) != Z.unsqueeze(-3)).to(x.dtype)  # b x m x d
            return torch.exp(-(delta / cls).mean(-1))

        return sliced(categorical), one
    if type(kernel) is ScaleKernel:
        base = _written_out(kernel.base_kernel, called=False)
        if base is None:
            return None
        scale = kernel.outputscale.detach().reshape(())
        f_base, diag_base = base
        return sliced(lambda x, Z: scale * f_base(x, Z)), scale * diag_base
    if type(kernel) in (AdditiveKernel, ProductKernel) and dims is None:
        parts = [_written_out(k) for k in kernel.kernels]
        if any(p is None for p in parts):
            return None
        fs = [p[0] for p in parts if p is not None]
        diags = [p[1] for p in parts if p is not None]
        if type(kernel) is AdditiveKernel:
            return (lambda x, Z: sum(f(x, Z) for f in fs[1:]) + fs[0](x, Z)), sum(diags[1:], diags[0])
        product = diags[0]
        for d in diags[1:]:
            product = product * d
        return (lambda x, Z: math.prod((f(x, Z) for f in fs[1:]), start=fs[0](x, Z))), product
    return None
