"""The derived GP: the posterior over the gradient of a GP sample path, given function values.

A GP prior ``f ~ GP(m, k)`` observed through ``y = f(X) + noise`` gives a Gaussian posterior over
``grad f(x)`` (ZoRD's derived GP, Shu et al., ICLR 2023, OpenReview n1bLgxHW6jW; FZooS,
arXiv 2308.04077, Sec. 4.1), in the model's latent input units ``z``:

    mean(z)      = grad m(z) + dk(z)^T alpha,            alpha = (K + N)^{-1} (y - m(X))
    cov(z)       = P(z) - dk(z)^T (K + N)^{-1} dk(z),    P(z) = d2k(z, z') / dz dz' at z' = z

with ``dk(z) = [dk(z, x_tau)/dz]_tau`` (``n x d``). For ARD lengthscales ``l`` and outputscale
``s2``, with ``u = (z - z')/l`` and ``r = |u|``, the closed forms are

    RBF:         dk/dz = -s2 exp(-r^2/2) (z - z')/l^2,                      P = s2 / l^2
    Matern-5/2:  dk/dz = -s2 (5/3)(1 + sqrt5 r) exp(-sqrt5 r) (z - z')/l^2, P = (5/3) s2 / l^2

(``P`` diagonal). Any other kernel goes through autograd on the kernel module itself. Results are
mapped to the user's units: the chain rule through the model's input transform (``z = T(x)``, so
``grad_x = J_T^T grad_z`` and ``cov_x = J_T^T cov_z J_T``) and Standardize's scale (mean times
``std``, covariance times ``std^2``).

Everything is float64. The model is never modified: the modules used are deep copies put in eval
mode, and nothing is cached on the model (a model's prediction cache is hidden state that goes
stale: GPyTorch's ``prediction_strategy``).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
from botorch.models.model import Model
from botorch.models.transforms.input import AffineInputTransform
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import Kernel, MaternKernel, RBFKernel, ScaleKernel
from gpytorch.likelihoods import _GaussianLikelihoodBase
from gpytorch.means import ConstantMean, ZeroMean
from linear_operator import to_dense
from linear_operator.utils.cholesky import psd_safe_cholesky
from torch import Tensor

from asktell.errors import ConfigError, ShapeError

__all__ = ["DerivedGP", "derived_gp", "gradient_posterior", "gradient_trace"]

Method = Literal["auto", "closed", "autograd"]
_METHODS = ("auto", "closed", "autograd")
_DTYPE = torch.float64
# Prior-term coefficient c in P = c s2 / l^2 for the kernels with a closed form.
_CLOSED_CURVATURE = {"rbf": 1.0, "matern52": 5.0 / 3.0}
# The mixed second derivative at z = z' is taken at offsets z' = z + h delta (h = 1, 2, 4), |delta|
# = this times the smallest lengthscale, and Richardson-extrapolated to h = 0: distance-based
# kernels have no usable autograd derivative at distance 0 (sqrt, cdist). The extrapolation cancels
# the O(delta) error of Matern-3/2 and the O(delta^2) error of smooth kernels; what is left is
# O(delta^3) plus rounding of order 1e-16/delta (Matern's polynomial and exponential factors
# cancel near 0), about 1e-11 relative.
_CURVATURE_OFFSET = 1e-4
# Bound on the elements of one b x n x d block of kernel derivatives, so memory stays small for
# large b (the caller's batch is processed in chunks).
_CHUNK_ELEMENTS = 2**24


@dataclass(frozen=True, eq=False)
class DerivedGP:
    """The gradient posterior of one fitted single-output GP, ready to evaluate.

    Built by :func:`derived_gp`; holds float64 copies of everything it needs, so the model can be
    dropped or changed afterwards. Inputs ``X`` of every method are ``b x d`` in the model's raw
    input units; ``n`` is the number of training points, ``p`` the latent (transformed) dimension.

    Attributes:
        kind: ``"rbf"`` or ``"matern52"`` (closed forms) or ``"autograd"``.
        train_inputs: ``n x p`` training inputs after the input transform.
        chol: ``n x n`` lower Cholesky factor of ``K + N`` (standardized units).
        alpha: ``n`` vector ``(K + N)^{-1} (y - m(X))``.
        noise: ``n`` observation noise variances of the training points (standardized units).
        y_scale: Standardize's standard deviation (1.0 without an outcome transform).
        raw_dim: raw input dimension ``d``.
    """

    kind: str
    raw_dim: int
    train_inputs: Tensor
    chol: Tensor
    alpha: Tensor
    noise: Tensor
    y_scale: float
    covar_module: Kernel
    mean_module: torch.nn.Module
    input_transform: torch.nn.Module | None
    input_scale: Tensor | None  # d: dz/dx of a diagonal affine transform; None: general Jacobian
    outputscale: Tensor | None  # scalar s2 (closed forms only)
    lengthscale: Tensor | None  # p (closed forms only)
    stationary_curvature: Tensor | None  # p x p prior term of a stationary autograd kernel

    # ---------------------------------------------------------------- public evaluation

    @property
    def new_point_noise(self) -> Tensor:
        """Noise variance assumed for an input not yet observed: the mean training noise."""
        return self.noise.mean()

    def mean(self, X: Tensor) -> Tensor:
        """Posterior mean of the gradient: ``b x d``, in the user's outcome units per raw unit."""
        X = self._check_X(X)
        Z = self.latent(X)
        if self.kind in _CLOSED_CURVATURE:
            # Never forms b x n x d: sum_tau w_tau (z - z_tau) = z sum(w) - w @ Z, centred on the
            # training mean so the two terms stay small where they cancel.
            w = self._psi(Z, self.train_inputs) * self.alpha  # b x n
            center = self.train_inputs.mean(0)
            zc, Zc = Z - center, self.train_inputs - center
            grad_z = -(w.sum(-1, keepdim=True) * zc - w @ Zc) / self._ls**2
        else:
            grad_z = torch.cat(
                [
                    torch.einsum("bnp,n->bp", self._dk_latent(Zb, self.train_inputs), self.alpha)
                    for Zb in self._chunks(Z)
                ]
            )
        grad_z = grad_z + self._mean_module_grad(Z)
        return self.y_scale * self._pull_back_vector(X, grad_z)

    def covariance(self, X: Tensor, full_cov: bool = False) -> Tensor:
        """Posterior covariance of the gradient: ``b x d x d``, or its diagonal ``b x d``.

        Units are the user's outcome units squared per raw unit squared.
        """
        X = self._check_X(X)
        out = []
        for Xb in self._chunks(X):
            Zb = self.latent(Xb)
            J = self._dk_raw(Xb, Zb, self.train_inputs)  # b x n x d
            V = torch.linalg.solve_triangular(self.chol, J, upper=False)  # L^{-1} J
            if full_cov:
                out.append(self._prior_raw(Xb, Zb, full=True) - V.transpose(-1, -2) @ V)
            else:
                out.append(self._prior_raw(Xb, Zb, full=False) - V.pow(2).sum(-2))
        return self.y_scale**2 * torch.cat(out)

    def trace(self, X: Tensor) -> Tensor:
        """Trace of the posterior gradient covariance at each point: ``b``.

        Closed-form kernels with a diagonal input transform use ``tr(A J J^T)`` with
        ``A = (K + N)^{-1}``: ``J J^T`` is ``n x n`` and, for these kernels,
        ``(J J^T)_{tau,sigma} = psi_tau psi_sigma <z - z_tau, z - z_sigma>_w``; expanding the inner
        product around precomputed ``n x n`` terms costs ``O(n d + n^2)`` per point and never
        forms ``b x d x d`` or ``b x n x d``. The ``O(n^2 d + n^3)`` set-up beats summing the
        diagonal (``O(b n^2 d)``, through ``L^{-1} J``) once ``b > 1 + n/d``; below that, and for
        other models, the diagonal is summed. Both are tested equal.
        """
        X = self._check_X(X)
        n, d = self.train_inputs.shape
        scale = self.input_scale
        if self.kind not in _CLOSED_CURVATURE or scale is None or X.shape[0] <= 1 + n / d:
            return self.covariance(X).sum(-1)
        Z = self.latent(X)
        s2, ls = self._s2, self._ls
        coef = _CLOSED_CURVATURE[self.kind]
        prior = coef * s2 * (scale**2 / ls**2).sum()
        w = scale**2 / ls**4  # d: weights of the inner product, chain rule included
        # Distances are shift invariant; centring on the data keeps the expanded terms small.
        center = self.train_inputs.mean(0)
        Zc, zc = self.train_inputs - center, Z - center
        A = torch.cholesky_inverse(self.chol)
        B = A * ((Zc * w) @ Zc.T)  # n x n
        psi = self._psi(Z, self.train_inputs)  # b x n
        a = (zc * w) @ Zc.T  # b x n
        c = (zc.pow(2) * w).sum(-1)  # b
        A_psi = psi @ A  # A is symmetric
        reduction = (
            c * (psi * A_psi).sum(-1) - 2.0 * (psi * a * A_psi).sum(-1) + (psi * (psi @ B)).sum(-1)
        )
        return self.y_scale**2 * (prior - reduction)

    def conditioned_trace(self, X: Tensor, X_new: Tensor) -> Tensor:
        """Trace of the gradient covariance at ``X`` after also observing inputs ``X_new``: ``b``.

        A GP's posterior covariance depends only on where it was observed, not on the values, so
        ``X_new`` (``k x d``, raw units) needs no outcomes. Each new point gets
        :attr:`new_point_noise`. Recomputes the Cholesky of the augmented ``(n + k)`` system: this
        is the reference the greedy active-query rule (``asktell.acquisition.active``) is tested
        against, not a fast path.
        """
        X = self._check_X(X)
        X_new = self._check_X(X_new)
        Z_all = torch.cat([self.train_inputs, self.latent(X_new)])
        noise = torch.cat([self.noise, self.new_point_noise.expand(X_new.shape[0])])
        K = self.kernel(Z_all, Z_all) + torch.diag(noise)
        L = psd_safe_cholesky(K)
        out = []
        for Xb in self._chunks(X):
            Zb = self.latent(Xb)
            V = torch.linalg.solve_triangular(L, self._dk_raw(Xb, Zb, Z_all), upper=False)
            out.append(self._prior_raw(Xb, Zb, full=False).sum(-1) - V.pow(2).sum((-1, -2)))
        return self.y_scale**2 * torch.cat(out)

    # ---------------------------------------------------------------- building blocks

    def latent(self, X: Tensor) -> Tensor:
        """The model's input transform (eval semantics) applied to raw ``X``: ``b x p``."""
        if self.input_transform is None:
            return X
        with torch.no_grad():
            return self.input_transform(X)

    def kernel(self, Z1: Tensor, Z2: Tensor) -> Tensor:
        """Prior covariance ``k(Z1, Z2)`` between latent inputs, standardized units: ``b1 x b2``."""
        with torch.no_grad():
            return to_dense(self.covar_module(Z1, Z2))

    def kernel_gradient(self, X: Tensor, Z2: Tensor) -> Tensor:
        """Kernel gradient ``d k(T(x_b), z2_m) / dx_b`` in raw units: ``b x m x d``.

        ``X`` is ``b x d`` (raw units), ``Z2`` is ``m x p`` (latent units, e.g. :meth:`latent`).
        """
        X = self._check_X(X)
        return torch.cat([self._dk_raw(Xb, self.latent(Xb), Z2) for Xb in self._chunks(X)])

    def prior_trace(self, X: Tensor) -> Tensor:
        """Trace of the prior gradient covariance (no data) at each point: ``b``."""
        X = self._check_X(X)
        return self.y_scale**2 * self._prior_raw(X, self.latent(X), full=False).sum(-1)

    # ---------------------------------------------------------------- internals

    @property
    def _s2(self) -> Tensor:
        assert self.outputscale is not None  # set whenever kind is a closed form
        return self.outputscale

    @property
    def _ls(self) -> Tensor:
        assert self.lengthscale is not None  # set whenever kind is a closed form
        return self.lengthscale

    def _check_X(self, X: Tensor) -> Tensor:
        X = torch.as_tensor(X, dtype=_DTYPE, device=self.train_inputs.device)
        if X.dim() != 2 or X.shape[-1] != self.raw_dim:
            raise ShapeError(
                f"X must be a b x {self.raw_dim} tensor of raw inputs, got shape {tuple(X.shape)}."
            )
        return X.detach()

    def _chunks(self, X: Tensor) -> tuple[Tensor, ...]:
        n, d = self.train_inputs.shape
        size = max(1, _CHUNK_ELEMENTS // max(1, (n + 1) * max(d, X.shape[-1])))
        return X.split(size) if X.shape[0] else (X,)

    def _psi(self, Z: Tensor, Z2: Tensor) -> Tensor:
        """Radial factor of the closed-form derivative, ``dk/dz = -psi (z - z')/l^2``: ``b x m``."""
        center = Z2.mean(0)
        u = (Z - center) / self._ls
        U = (Z2 - center) / self._ls
        r2 = (u.pow(2).sum(-1, keepdim=True) + U.pow(2).sum(-1) - 2.0 * u @ U.T).clamp_min(0.0)
        if self.kind == "rbf":
            return self._s2 * torch.exp(-0.5 * r2)
        r = r2.sqrt()
        root5_r = math.sqrt(5.0) * r
        return self._s2 * (5.0 / 3.0) * (1.0 + root5_r) * torch.exp(-root5_r)

    def _dk_latent(self, Z: Tensor, Z2: Tensor) -> Tensor:
        """``d k(z_b, z2_m) / dz_b`` in latent units: ``b x m x p``."""
        if self.kind in _CLOSED_CURVATURE:
            diff = Z.unsqueeze(-2) - Z2  # b x m x p
            return -self._psi(Z, Z2).unsqueeze(-1) * diff / self._ls**2
        b, m, p = Z.shape[0], Z2.shape[0], Z.shape[-1]
        # Pair every z_b with every z2_m and ask the kernel for the diagonal only: each value then
        # depends on one row of Z1, so one backward pass of the sum gives all b*m gradients.
        Z1 = Z.unsqueeze(-2).expand(b, m, p).reshape(b * m, p).clone().requires_grad_(True)
        Z2r = Z2.unsqueeze(0).expand(b, m, p).reshape(b * m, p)
        with torch.enable_grad():
            values = to_dense(self.covar_module(Z1, Z2r, diag=True))
            (grad,) = torch.autograd.grad(values.sum(), Z1, allow_unused=True)
        if grad is None:  # every pair coincides: gpytorch returned constants (zero slope)
            grad = torch.zeros_like(Z1)
        return grad.detach().reshape(b, m, p)

    def _dk_raw(self, X: Tensor, Z: Tensor, Z2: Tensor) -> Tensor:
        """``d k(T(x_b), z2_m) / dx_b`` in raw units: ``b x m x d``."""
        J = self._dk_latent(Z, Z2)
        if self.input_scale is not None:
            return J * self.input_scale
        return J @ self._input_jacobian(X)

    def _input_jacobian(self, X: Tensor) -> Tensor:
        """``dz/dx`` of a general input transform at each point: ``b x p x d``."""
        assert self.input_transform is not None  # input_scale is None only for a real transform
        Xg = X.clone().requires_grad_(True)
        with torch.enable_grad():
            Z = self.input_transform(Xg)
            rows = []
            for j in range(Z.shape[-1]):  # rows are independent, so summing over b is safe
                (g,) = torch.autograd.grad(Z[:, j].sum(), Xg, retain_graph=True, allow_unused=True)
                rows.append(torch.zeros_like(X) if g is None else g)
        return torch.stack(rows, dim=-2).detach()

    def _pull_back_vector(self, X: Tensor, v: Tensor) -> Tensor:
        """Chain rule for a gradient: ``J_T^T v`` (``b x p`` to ``b x d``)."""
        if self.input_scale is not None:
            return v * self.input_scale
        return (v.unsqueeze(-2) @ self._input_jacobian(X)).squeeze(-2)

    def _prior_latent(self, Z: Tensor) -> Tensor:
        """Prior term ``P`` in latent units: ``p`` (diagonal), ``p x p`` or ``b x p x p``."""
        if self.kind in _CLOSED_CURVATURE:
            return _CLOSED_CURVATURE[self.kind] * self._s2 / self._ls**2
        if self.stationary_curvature is not None:
            return self.stationary_curvature
        return _mixed_curvature(self.covar_module, Z)

    def _prior_raw(self, X: Tensor, Z: Tensor, full: bool) -> Tensor:
        """Prior term in raw units: ``b x d x d`` if ``full`` else its diagonal ``b x d``."""
        P = self._prior_latent(Z)
        b = X.shape[0]
        if self.input_scale is not None:
            s = self.input_scale
            if P.dim() == 1:
                diag = (s**2 * P).expand(b, -1)
                return torch.diag_embed(diag) if full else diag
            full_P = (s.unsqueeze(-1) * P * s).expand(b, -1, -1)  # p x p or b x p x p
            return full_P if full else full_P.diagonal(dim1=-2, dim2=-1)
        T = self._input_jacobian(X)  # b x p x d
        P = torch.diag_embed(P) if P.dim() == 1 else P
        full_P = T.transpose(-1, -2) @ P @ T
        return full_P if full else full_P.diagonal(dim1=-2, dim2=-1)

    def _mean_module_grad(self, Z: Tensor) -> Tensor:
        """Gradient of the prior mean function in latent units: ``b x p``."""
        if isinstance(self.mean_module, ConstantMean | ZeroMean):
            return torch.zeros_like(Z)  # no slope; skip autograd
        Zg = Z.clone().requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(self.mean_module(Zg).sum(), Zg, allow_unused=True)
        return torch.zeros_like(Z) if g is None else g.detach()


# -------------------------------------------------------------------- construction


def derived_gp(model: Model, method: Method = "auto") -> DerivedGP:
    """Build the gradient posterior of a fitted single-output BoTorch GP.

    Args:
        model: a fitted ``SingleTaskGP``-like exact GP with one output and no batch dimension, a
            Gaussian likelihood (homoskedastic or fixed noise), an optional input transform and an
            optional ``Standardize`` outcome transform. Train or eval mode; it is left unchanged.
        method: ``"closed"`` for the RBF / Matern-5/2 closed forms (optionally under a
            ``ScaleKernel``, ARD or shared lengthscale, no ``active_dims``); ``"autograd"`` for any
            kernel (derivatives of the kernel module by autograd); ``"auto"`` picks ``"closed"``
            where it applies.

    Returns:
        A :class:`DerivedGP`.

    Raises:
        ConfigError: ``method`` is not one of ``"auto"``, ``"closed"``, ``"autograd"``.
        NotImplementedError: the model has no derived GP here (batched or multi-output model,
            non-Gaussian likelihood, an outcome transform other than Standardize), or
            ``method="closed"`` for a kernel without a closed form.
    """
    if method not in _METHODS:
        raise ConfigError(f"method must be one of {_METHODS}, got {method!r}.")
    _check_model(model)
    gp: Any = model  # an ExactGP-based BoTorch model; its modules are not typed on Model
    # Deep copies in eval mode: the caller's model keeps its mode, caches and parameters, and a
    # Normalize with learned bounds cannot re-learn them while we transform points.
    covar = copy.deepcopy(gp.covar_module).to(_DTYPE).eval()
    mean_module = copy.deepcopy(gp.mean_module).to(_DTYPE).eval()
    transform = getattr(gp, "input_transform", None)
    if transform is not None:
        transform = copy.deepcopy(transform).to(_DTYPE).eval()

    raw_train = gp.train_inputs[0].detach().to(_DTYPE).clone()  # never share the model's storage
    original = getattr(gp, "_original_train_inputs", None)
    raw_dim = (original if original is not None else raw_train).shape[-1]
    with torch.no_grad():
        if transform is None or getattr(gp, "_has_transformed_inputs", False):
            Z = raw_train  # already transformed (BoTorch does this when entering eval mode)
        else:
            Z = transform.preprocess_transform(raw_train)
        y = gp.train_targets.detach().to(_DTYPE)
        noise = gp.likelihood.noise.detach().to(_DTYPE).reshape(-1).expand(Z.shape[0]).clone()
        K = to_dense(covar(Z, Z)) + torch.diag(noise)
        chol = psd_safe_cholesky(K)
        residual = (y - mean_module(Z)).unsqueeze(-1)
        alpha = torch.cholesky_solve(residual, chol).squeeze(-1)

    closed = _closed_form(covar)
    if method == "closed" and closed is None:
        raise NotImplementedError(
            "method='closed' needs RBFKernel or MaternKernel(nu=2.5), optionally in a "
            f"ScaleKernel, without active_dims; got {covar!r}. Use method='autograd' or 'auto'."
        )
    if method == "autograd":
        closed = None
    kind, outputscale, lengthscale = closed if closed is not None else ("autograd", None, None)

    stationary = None
    if kind == "autograd" and covar.is_stationary:
        # Translation invariance: the prior term is the same everywhere; compute it once at 0.
        stationary = _mixed_curvature(covar, torch.zeros(1, Z.shape[-1], dtype=_DTYPE))[0]

    return DerivedGP(
        kind=kind,
        raw_dim=raw_dim,
        train_inputs=Z,
        chol=chol,
        alpha=alpha,
        noise=noise,
        y_scale=_outcome_scale(gp),
        covar_module=covar,
        mean_module=mean_module,
        input_transform=transform,
        input_scale=_affine_scale(transform, raw_dim),
        outputscale=outputscale,
        lengthscale=lengthscale,
        stationary_curvature=stationary,
    )


def gradient_posterior(
    model: Model, X: Tensor, full_cov: bool = False, method: Method = "auto"
) -> tuple[Tensor, Tensor]:
    """Posterior mean and covariance of ``grad f`` at ``X``.

    Args:
        model: a fitted single-output BoTorch GP (see :func:`derived_gp`); left unchanged.
        X: ``b x d`` points in the model's raw input units.
        full_cov: return the full ``b x d x d`` covariance instead of its diagonal.
        method: ``"auto"``, ``"closed"`` or ``"autograd"`` (see :func:`derived_gp`).

    Returns:
        ``(mean, cov)``: ``mean`` is ``b x d`` (outcome units per raw input unit); ``cov`` is
        ``b x d x d`` if ``full_cov`` else the ``b x d`` diagonal. float64.
    """
    dgp = derived_gp(model, method)
    return dgp.mean(X), dgp.covariance(X, full_cov=full_cov)


def gradient_trace(model: Model, X: Tensor, method: Method = "auto") -> Tensor:
    """Trace of the posterior gradient covariance at each row of ``X`` (``b x d``): ``b``.

    Never forms ``b x d x d``; see :meth:`DerivedGP.trace`.
    """
    return derived_gp(model, method).trace(X)


# -------------------------------------------------------------------- helpers


def _check_model(model: Any) -> None:
    train_inputs = getattr(model, "train_inputs", None)
    if not train_inputs or train_inputs[0].dim() != 2 or getattr(model, "num_outputs", 1) != 1:
        raise NotImplementedError(
            "the derived GP needs an exact GP with one output and n x d training inputs "
            f"(no batch dimension); got {type(model).__name__}."
        )
    if not isinstance(model.likelihood, _GaussianLikelihoodBase):
        raise NotImplementedError(
            f"the derived GP needs a Gaussian likelihood, got {type(model.likelihood).__name__}."
        )
    outcome = getattr(model, "outcome_transform", None)
    if outcome is not None and not isinstance(outcome, Standardize):
        raise NotImplementedError(
            "the derived GP supports no outcome transform or Standardize (a nonlinear transform "
            f"has no Gaussian gradient posterior); got {type(outcome).__name__}."
        )


def _outcome_scale(model: Any) -> float:
    outcome = getattr(model, "outcome_transform", None)
    return 1.0 if outcome is None else float(outcome.stdvs.detach().reshape(-1)[0])


def _affine_scale(transform: torch.nn.Module | None, d: int) -> Tensor | None:
    """``dz/dx`` of an affine transform as a ``d`` vector; ``None`` for other transforms."""
    if transform is None or not transform.transform_on_eval:
        return torch.ones(d, dtype=_DTYPE)
    if not isinstance(transform, AffineInputTransform):
        return None
    coef = transform.coefficient.detach().to(_DTYPE).reshape(-1)
    slope = coef if transform.reverse else 1.0 / coef  # reverse: the forward pass untransforms
    scale = torch.ones(d, dtype=_DTYPE)
    indices = getattr(transform, "indices", None)
    if indices is None:
        scale = scale * slope  # broadcasts a single shared coefficient too
    else:
        scale[indices] = slope
    return scale


def _closed_form(covar: Kernel) -> tuple[str, Tensor, Tensor] | None:
    """``(kind, outputscale, lengthscale)`` if the kernel has a closed form here, else ``None``."""
    outputscale = torch.tensor(1.0, dtype=_DTYPE)  # BoTorch 0.18's default: no ScaleKernel
    base = covar
    if type(covar) is ScaleKernel:
        if covar.active_dims is not None or covar.outputscale.numel() != 1:
            return None
        outputscale = covar.outputscale.detach().to(_DTYPE).reshape(())
        base = covar.base_kernel
    if base.active_dims is not None or base.lengthscale is None:
        return None
    if type(base) is RBFKernel:
        kind = "rbf"
    elif type(base) is MaternKernel and base.nu == 2.5:
        kind = "matern52"
    else:
        return None
    lengthscale = base.lengthscale.detach().to(_DTYPE)
    if lengthscale.dim() != 2 or lengthscale.shape[0] != 1:
        return None  # batched hyperparameters
    return kind, outputscale, lengthscale.reshape(-1)


def _kernel_scale(covar: Kernel) -> float:
    """Smallest lengthscale found in the kernel (1.0 if none): sets the curvature offset."""
    scales = [
        float(m.lengthscale.detach().min())
        for m in covar.modules()
        if isinstance(m, Kernel) and m.has_lengthscale
    ]
    return min(scales) if scales else 1.0


def _mixed_curvature(covar: Kernel, Z: Tensor) -> Tensor:
    """``d2 k(z, z') / dz dz'`` at ``z' = z`` by autograd: ``b x p x p``.

    See ``_CURVATURE_OFFSET``: with ``H(h)`` exact by autograd at offset ``h delta``, the
    combination ``(8 H(1) - 6 H(2) + H(4)) / 3`` cancels the terms linear and quadratic in ``h``.
    """
    delta = _CURVATURE_OFFSET * _kernel_scale(covar) / math.sqrt(Z.shape[-1])
    H1, H2, H4 = (_mixed_curvature_at(covar, Z, h * delta) for h in (1.0, 2.0, 4.0))
    return (8.0 * H1 - 6.0 * H2 + H4) / 3.0


def _mixed_curvature_at(covar: Kernel, Z: Tensor, delta: float) -> Tensor:
    """``d2 k(z, z') / dz dz'`` at ``z' = z + delta * ones``, exact by autograd: ``b x p x p``.

    Uses ``p`` copies of each pair and the kernel's diagonal mode, so one double-backward pass gives
    all ``p`` rows: row ``i`` is the gradient w.r.t. ``z'`` of ``dk/dz_i`` taken on copy ``i``
    (the full-matrix mode goes through ``torch.cdist``, which has no double backward).
    """
    b, p = Z.shape
    Z1 = Z.unsqueeze(1).expand(b, p, p).reshape(b * p, p).clone().requires_grad_(True)
    Z2 = (Z + delta).unsqueeze(1).expand(b, p, p).reshape(b * p, p).clone().requires_grad_(True)
    with torch.enable_grad():
        values = to_dense(covar(Z1, Z2, diag=True))
        (g1,) = torch.autograd.grad(values.sum(), Z1, create_graph=True)
        picked = g1.reshape(b, p, p).diagonal(dim1=-2, dim2=-1).sum()
        (H,) = torch.autograd.grad(picked, Z2, allow_unused=True)
    if H is None:
        return torch.zeros(b, p, p, dtype=_DTYPE)
    H = H.detach().reshape(b, p, p)
    return 0.5 * (H + H.transpose(-1, -2))  # symmetric in exact arithmetic
