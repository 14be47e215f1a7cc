"""The derived GP against independent oracles.

Oracles: central finite differences and torch autograd of BoTorch's ``posterior(X).mean`` (gradient
mean); the kernel's mixed second derivatives by ``torch.autograd.functional.hessian`` and finite
differences of BoTorch's joint posterior covariance (gradient covariance); hand-derived prior values
far from the data. Closed forms and the autograd path are also compared with each other.
"""

from __future__ import annotations

import math

import pytest
import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms import Log, Normalize, Standardize
from botorch.models.transforms.input import ChainedInputTransform, Warp
from gpytorch.kernels import (
    Kernel,
    MaternKernel,
    PeriodicKernel,
    PolynomialKernel,
    RBFKernel,
    ScaleKernel,
)
from gpytorch.means import LinearMean
from linear_operator import to_dense

from asktell.errors import ConfigError
from asktell.surrogates.gradient import derived_gp, gradient_posterior, gradient_trace

DT = torch.float64
CLOSED_KERNELS = ["rbf", "matern52"]
ALL_KERNELS = [*CLOSED_KERNELS, "matern32", "periodic", "rbf_plus_poly"]  # last: non-stationary
PRIOR_COEF = {"rbf": 1.0, "matern52": 5.0 / 3.0}  # P = coef * outputscale / lengthscale^2


def _box(d: int, g: torch.Generator) -> torch.Tensor:
    """A non-unit box with unequal widths, so the input chain rule matters."""
    lower = -2.0 - torch.rand(d, generator=g, dtype=DT)
    upper = 3.0 + 4.0 * torch.rand(d, generator=g, dtype=DT)
    return torch.stack([lower, upper])


def _base_kernel(kind: str, d: int):
    return {
        "rbf": lambda: RBFKernel(ard_num_dims=d),
        "matern52": lambda: MaternKernel(nu=2.5, ard_num_dims=d),
        "matern32": lambda: MaternKernel(nu=1.5, ard_num_dims=d),
        "periodic": lambda: PeriodicKernel(ard_num_dims=d),
        "rbf_plus_poly": lambda: RBFKernel(ard_num_dims=d) + PolynomialKernel(power=2),
    }[kind]()


def make_model(
    d: int,
    kind: str = "matern52",
    n: int = 20,
    seed: int = 0,
    noise: float = 1e-4,
    scale_kernel: bool = True,
    train_yvar: float | None = None,
    input_transform=None,
    cluster: float | None = None,
):
    """SingleTaskGP on a non-unit box, Normalize + Standardize, hyperparameters set by hand."""
    g = torch.Generator().manual_seed(seed)
    bounds = _box(d, g)
    u = torch.rand(n, d, generator=g, dtype=DT)
    if cluster is not None:  # points packed near the box centre (ZoRD/FZooS local data)
        u = 0.5 + cluster * (u - 0.5)
    X = bounds[0] + (bounds[1] - bounds[0]) * u
    Y = 40.0 + 25.0 * torch.sin(X.sum(-1, keepdim=True) / 3.0) + 3.0 * X[:, :1]
    base = _base_kernel(kind, d)
    covar = ScaleKernel(base) if scale_kernel else base
    yvar = None if train_yvar is None else torch.full_like(Y, train_yvar)
    model = SingleTaskGP(
        X,
        Y,
        train_Yvar=yvar,
        covar_module=covar,
        input_transform=input_transform or Normalize(d, bounds=bounds),
        outcome_transform=Standardize(1),
    )
    lengthscale = (0.3 + 0.5 * torch.rand(d, generator=g, dtype=DT)) * math.sqrt(d)
    for module in base.modules():
        if isinstance(module, Kernel) and module.has_lengthscale:
            module.lengthscale = lengthscale
    if scale_kernel:
        covar.outputscale = 2.3
    if train_yvar is None:
        model.likelihood.noise = noise
    model.eval()
    return model, bounds, g


def _queries(bounds: torch.Tensor, b: int, g: torch.Generator) -> torch.Tensor:
    u = torch.rand(b, bounds.shape[1], generator=g, dtype=DT)
    return bounds[0] + (bounds[1] - bounds[0]) * u


def _fd_mean_gradient(model, X: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Central differences of BoTorch's posterior mean, one posterior call for all points."""
    b, d = X.shape
    E = torch.diag(h)
    P = torch.cat([X.unsqueeze(1) + E, X.unsqueeze(1) - E], dim=1).reshape(-1, d)
    with torch.no_grad():
        mu = model.posterior(P).mean.reshape(b, 2, d)
    return (mu[:, 0] - mu[:, 1]) / (2.0 * h)


def _autograd_mean_gradient(model, X: torch.Tensor) -> torch.Tensor:
    Xg = X.clone().requires_grad_(True)
    model.posterior(Xg).mean.sum().backward()  # rows are independent
    return Xg.grad


# ---------------------------------------------------------------------------- gradient mean


@pytest.mark.parametrize(
    ("kind", "d"),
    [(kind, d) for kind in ALL_KERNELS for d in (1, 5, 50) if kind in CLOSED_KERNELS or d < 50]
    + [("matern32", 50)],
)
def test_mean_closed_autograd_and_finite_differences_agree(kind, d):
    model, bounds, g = make_model(d, kind, n=25 if d < 50 else 40)
    X = _queries(bounds, 3, g)
    width = bounds[1] - bounds[0]
    fd = _fd_mean_gradient(model, X, h=1e-5 * width)
    torch_grad = _autograd_mean_gradient(model, X)
    mean_ag, _ = gradient_posterior(model, X, method="autograd")
    scale = fd.abs().max()
    fd_tol = 1e-6  # central differences: O(h^2) truncation with h = 1e-5 of the box width
    exact_tol = 1e-9  # two exact derivatives of the same float64 computation
    assert mean_ag.shape == (3, d) and mean_ag.dtype == DT
    assert (mean_ag - fd).abs().max() <= fd_tol * scale
    assert (mean_ag - torch_grad).abs().max() <= exact_tol * scale
    if kind in CLOSED_KERNELS:
        mean_cf, _ = gradient_posterior(model, X, method="closed")
        assert (mean_cf - mean_ag).abs().max() <= exact_tol * scale
        assert (mean_cf - torch_grad).abs().max() <= exact_tol * scale


def test_default_singletaskgp_rbf_without_scalekernel():
    """BoTorch 0.18's default: RBF, dimension-scaled prior, no ScaleKernel (outputscale 1)."""
    g = torch.Generator().manual_seed(3)
    X = torch.rand(15, 4, generator=g, dtype=DT)
    Y = torch.sin(5 * X).sum(-1, keepdim=True)
    model = SingleTaskGP(X, Y)
    model.eval()
    assert type(model.covar_module) is RBFKernel
    Xq = torch.rand(4, 4, generator=g, dtype=DT)
    mean_cf, var_cf = gradient_posterior(model, Xq, method="closed")
    mean_ag, var_ag = gradient_posterior(model, Xq, method="autograd")
    exact_tol = 1e-9
    scale = mean_cf.abs().max()
    assert (mean_cf - _autograd_mean_gradient(model, Xq)).abs().max() <= exact_tol * scale
    assert (mean_cf - mean_ag).abs().max() <= exact_tol * scale
    assert (var_cf - var_ag).abs().max() <= exact_tol * var_cf.max()
    # far away the variance is the prior 1/l^2, times Standardize's scale^2 (no ScaleKernel)
    far = torch.full((1, 4), 1e3, dtype=DT)
    ls = model.covar_module.lengthscale.detach().reshape(-1)
    prior = model.outcome_transform.stdvs.reshape(()) ** 2 / ls**2
    assert torch.allclose(gradient_posterior(model, far)[1][0], prior, rtol=1e-12, atol=0.0)


def test_nonconstant_mean_module():
    d = 3
    model, bounds, g = make_model(d, "matern52")
    mean_module = LinearMean(d).to(DT)
    mean_module.weights.data = torch.tensor([[2.0], [-1.0], [0.5]], dtype=DT)
    refit = SingleTaskGP(
        model.train_inputs[0] * (bounds[1] - bounds[0]) + bounds[0],
        model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0],
        covar_module=model.covar_module,
        likelihood=model.likelihood,
        mean_module=mean_module,
        input_transform=Normalize(d, bounds=bounds),
        outcome_transform=Standardize(1),
    )
    refit.eval()
    X = _queries(bounds, 4, g)
    exact_tol = 1e-9
    for method in ("closed", "autograd"):
        mean, _ = gradient_posterior(refit, X, method=method)
        torch_grad = _autograd_mean_gradient(refit, X)
        assert (mean - torch_grad).abs().max() <= exact_tol * torch_grad.abs().max()


def test_fixed_noise_model():
    model, bounds, g = make_model(3, "matern52", train_yvar=1e-3)
    X = _queries(bounds, 4, g)
    mean, _ = gradient_posterior(model, X)
    fd = _fd_mean_gradient(model, X, h=1e-5 * (bounds[1] - bounds[0]))
    fd_tol = 1e-6
    assert (mean - fd).abs().max() <= fd_tol * fd.abs().max()


def test_nonlinear_input_transform_uses_the_jacobian():
    d = 3
    g = torch.Generator().manual_seed(11)
    bounds = _box(d, g)
    warp = Warp(d=d, indices=list(range(d)))
    warp._set_concentration(i=0, value=torch.tensor([[0.7, 1.4, 2.0]], dtype=DT))
    warp._set_concentration(i=1, value=torch.tensor([[1.8, 0.9, 1.3]], dtype=DT))
    transform = ChainedInputTransform(normalize=Normalize(d, bounds=bounds), warp=warp)
    model, bounds, g = make_model(d, "matern52", input_transform=transform, seed=11)
    dgp = derived_gp(model)
    assert dgp.input_scale is None  # the general-Jacobian path
    X = bounds[0] + (bounds[1] - bounds[0]) * (0.1 + 0.8 * torch.rand(3, d, generator=g, dtype=DT))
    mean, diag = gradient_posterior(model, X)
    fd_tol, exact_tol = 1e-6, 1e-9
    fd = _fd_mean_gradient(model, X, h=1e-6 * (bounds[1] - bounds[0]))
    assert (mean - fd).abs().max() <= fd_tol * fd.abs().max()
    assert (mean - _autograd_mean_gradient(model, X)).abs().max() <= exact_tol * fd.abs().max()
    cov = _fd_posterior_covariance(model, X[0], h=1e-4 * (bounds[1] - bounds[0]))
    assert (diag[0] - cov.diagonal()).abs().max() <= 1e-4 * cov.abs().max()


# ---------------------------------------------------------------------------- gradient covariance


def _kernel_hessian_covariance(model, x: torch.Tensor, offset: float) -> torch.Tensor:
    """Brute force: Sigma = d2k(x, x')/dx dx' - dk(x)^T (K + N)^{-1} dk(x), all by autograd.

    The kernel is taken in raw units, through the model's own input transform and covariance
    module; the cross term comes from ``torch.autograd.functional.hessian`` on ``k(x, x')`` at
    ``x' = x + offset`` (``offset = 0`` only for RBF: distance-based kernels have no autograd
    second derivative at distance 0).
    """
    model.eval()
    tf, covar = model.input_transform, model.covar_module
    Z = model.train_inputs[0]  # transformed in eval mode
    d = x.numel()

    def k_pair(w):
        a, b = tf(w[:d].unsqueeze(0)), tf(w[d:].unsqueeze(0))
        if offset == 0.0:
            return to_dense(covar(a, b))[0, 0]
        return to_dense(covar(a, b, diag=True))[0]  # diag mode: double-differentiable norm

    H = torch.autograd.functional.hessian(k_pair, torch.cat([x, x + offset]))[:d, d:]
    J = torch.autograd.functional.jacobian(lambda a: to_dense(covar(tf(a.unsqueeze(0)), Z))[0], x)
    with torch.no_grad():
        K = to_dense(covar(Z, Z)) + model.likelihood.noise * torch.eye(Z.shape[0], dtype=DT)
        sigma = H - J.T @ torch.linalg.solve(K, J)
    return model.outcome_transform.stdvs.reshape(()) ** 2 * sigma


def _fd_posterior_covariance(model, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Mixed central differences of BoTorch's joint posterior covariance c(x, x') at x' = x."""
    d = x.numel()
    E = torch.diag(h)
    P = torch.cat([x + E, x - E])  # rows: x + h_i e_i (i < d), then x - h_i e_i
    with torch.no_grad():
        C = model.posterior(P).distribution.covariance_matrix  # user units (Standardize undone)
    pp, pm, mp, mm = C[:d, :d], C[:d, d:], C[d:, :d], C[d:, d:]
    return (pp - pm - mp + mm) / (4.0 * h.unsqueeze(-1) * h)


@pytest.mark.parametrize("kind", CLOSED_KERNELS)
def test_covariance_matches_kernel_hessian_oracle(kind):
    model, bounds, g = make_model(3, kind)
    x = _queries(bounds, 1, g)[0]
    offset = 0.0 if kind == "rbf" else 1e-7 * float((bounds[1] - bounds[0]).min())
    oracle = _kernel_hessian_covariance(model, x, offset)
    tol = 1e-7  # oracle offset error O(offset^2) plus rounding of order 1e-16 / offset
    for method in ("closed", "autograd"):
        _, cov = gradient_posterior(model, x.unsqueeze(0), full_cov=True, method=method)
        assert cov.shape == (1, 3, 3)
        assert (cov[0] - oracle).abs().max() <= tol * oracle.abs().max()


@pytest.mark.parametrize("kind", ALL_KERNELS)
def test_covariance_matches_posterior_finite_differences(kind):
    model, bounds, g = make_model(2, kind, n=15)
    x = _queries(bounds, 1, g)[0]
    width = bounds[1] - bounds[0]
    _, cov = gradient_posterior(model, x.unsqueeze(0), full_cov=True)
    stationary = derived_gp(model).stationary_curvature is not None
    assert stationary == (kind in ("matern32", "periodic"))  # closed kinds need neither path
    # O(h^2) truncation against 1e-12 / h^2 rounding; Matern-3/2 is only C^2 at distance 0, so its
    # mixed difference has an O(h) error there.
    h_rel, tol = (1e-5, 1e-3) if kind == "matern32" else (1e-4, 3e-5)
    oracle = _fd_posterior_covariance(model, x, h=h_rel * width)
    assert (cov[0] - oracle).abs().max() <= tol * oracle.abs().max()


@pytest.mark.parametrize("kind", CLOSED_KERNELS)
def test_variance_shrinks_near_data_and_returns_to_prior_far_away(kind):
    d = 2
    model, bounds, _ = make_model(d, kind, n=40)
    width = bounds[1] - bounds[0]
    ls = model.covar_module.base_kernel.lengthscale.detach().reshape(-1)
    outputscale = model.covar_module.outputscale.detach()  # 2.3 up to softplus round trip
    y_scale = model.outcome_transform.stdvs.reshape(())
    # prior: coef * outputscale / l^2 in latent units, times (dz/dx)^2 = 1/width^2, times std^2
    prior = PRIOR_COEF[kind] * outputscale / ls**2 / width**2 * y_scale**2
    far = (bounds[1] + 100.0 * width).unsqueeze(0)
    near = model.train_inputs[0][:1] * width + bounds[0]  # a training point, raw units
    _, var_far = gradient_posterior(model, far)
    _, var_near = gradient_posterior(model, near)
    far_tol = 1e-12  # k(x, X) underflows to 0 a hundred box widths away
    assert torch.allclose(var_far[0], prior, rtol=far_tol, atol=0.0)
    assert bool((var_near[0] < 0.5 * prior).all())  # 40 points within a few lengthscales
    assert gradient_trace(model, near) < 0.5 * prior.sum()


@pytest.mark.parametrize("method", ["closed", "autograd"])
@pytest.mark.parametrize("kind", CLOSED_KERNELS)
def test_full_cov_diagonal_and_trace_are_consistent(kind, method):
    model, bounds, g = make_model(5, kind, n=12)
    X = _queries(bounds, 9, g)  # 9 > 1 + n/d: the trace's n x n fast path
    _, full = gradient_posterior(model, X, full_cov=True, method=method)
    _, diag = gradient_posterior(model, X, method=method)
    exact_tol = 1e-10
    assert full.shape == (9, 5, 5) and diag.shape == (9, 5)
    assert torch.allclose(full, full.transpose(-1, -2), rtol=0, atol=exact_tol * diag.max())
    assert torch.allclose(full.diagonal(dim1=-2, dim2=-1), diag, rtol=exact_tol, atol=0.0)
    trace = gradient_trace(model, X, method=method)
    assert torch.allclose(trace, diag.sum(-1), rtol=exact_tol, atol=0.0)
    trace_one = gradient_trace(model, X[:1], method=method)  # the L^{-1} J path
    assert torch.allclose(trace_one, diag[:1].sum(-1), rtol=exact_tol, atol=0.0)
    assert bool((torch.linalg.eigvalsh(full) > -exact_tol * diag.max()).all())  # PSD


@pytest.mark.parametrize("kind", CLOSED_KERNELS)
def test_trace_fast_path_is_accurate_on_clustered_nearly_noiseless_data(kind):
    """The expanded n x n identity against L^{-1} J where cancellation would hurt most."""
    d, n = 20, 60
    model, bounds, g = make_model(d, kind, n=n, noise=1e-6, cluster=0.02)
    centre = (bounds[0] + bounds[1]) / 2
    X = centre + 0.01 * (bounds[1] - bounds[0]) * (torch.rand(8, d, generator=g, dtype=DT) - 0.5)
    dgp = derived_gp(model)
    fast = dgp.trace(X)
    reference = dgp.covariance(X).sum(-1)
    tol = 1e-6  # relative to the prior trace, which bounds both
    assert (fast - reference).abs().max() <= tol * dgp.prior_trace(X[:1])[0]
    assert bool((fast > 0).all())


# ---------------------------------------------------------------------------- conditioning


def test_conditioned_trace_needs_no_values():
    """Observing extra inputs: the trace equals that of a model refitted with any values there."""
    d = 3
    model, bounds, g = make_model(d, "matern52", n=10)
    model_plain = SingleTaskGP(
        model.train_inputs[0] * (bounds[1] - bounds[0]) + bounds[0],
        model.train_targets.unsqueeze(-1),
        covar_module=model.covar_module,
        likelihood=model.likelihood,
        input_transform=Normalize(d, bounds=bounds),
        outcome_transform=None,
    )
    X_new = _queries(bounds, 4, g)
    x = _queries(bounds, 2, g)
    refit = SingleTaskGP(
        torch.cat([model_plain.train_inputs[0], X_new]),
        torch.cat([model_plain.train_targets, torch.randn(4, generator=g, dtype=DT)]).unsqueeze(-1),
        covar_module=model.covar_module,
        likelihood=model.likelihood,
        input_transform=Normalize(d, bounds=bounds),
        outcome_transform=None,
    )
    model_plain.eval()
    refit.eval()
    dgp = derived_gp(model_plain)
    exact_tol = 1e-10
    conditioned = dgp.conditioned_trace(x, X_new)
    assert torch.allclose(conditioned, gradient_trace(refit, x), rtol=exact_tol, atol=0.0)
    assert bool((conditioned < dgp.trace(x)).all())
    unchanged = dgp.conditioned_trace(x, X_new[:0])
    assert torch.allclose(unchanged, dgp.trace(x), rtol=exact_tol, atol=0.0)


# ---------------------------------------------------------------------------- model hygiene


def _snapshot(model):
    return (
        {k: v.clone() for k, v in model.state_dict().items()},
        [m.training for m in model.modules()],
        model.train_inputs[0].clone(),
        getattr(model, "_has_transformed_inputs", None),
    )


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_model_is_left_unchanged(mode):
    d = 2
    g = torch.Generator().manual_seed(5)
    X = 10 * torch.rand(12, d, generator=g, dtype=DT)
    Y = torch.sin(X).sum(-1, keepdim=True)
    # Normalize without bounds learns them from data in train mode: a mutation trap
    model = SingleTaskGP(X, Y, input_transform=Normalize(d), outcome_transform=Standardize(1))
    model.train(mode == "train")
    before = _snapshot(model)
    far = torch.tensor([[50.0, -40.0], [1.0, 2.0]], dtype=DT)
    for method in ("closed", "autograd"):
        gradient_posterior(model, far, full_cov=True, method=method)
        gradient_trace(model, far, method=method)
    after = _snapshot(model)
    assert before[0].keys() == after[0].keys()
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])
    assert before[1] == after[1] and before[3] == after[3]
    assert torch.equal(before[2], after[2])


# ---------------------------------------------------------------------------- refusals


@pytest.mark.filterwarnings("ignore::botorch.exceptions.warnings.InputDataWarning")
def test_bad_inputs_are_refused():
    model, _, _ = make_model(3, "matern32")
    with pytest.raises(ValueError, match="b x 3"):
        gradient_posterior(model, torch.zeros(3, dtype=DT))
    with pytest.raises(ConfigError, match="method"):
        gradient_posterior(model, torch.zeros(1, 3, dtype=DT), method="fd")
    with pytest.raises(NotImplementedError, match="closed"):
        gradient_posterior(model, torch.zeros(1, 3, dtype=DT), method="closed")
    X = torch.rand(8, 2, dtype=DT)
    log_model = SingleTaskGP(X, X.sum(-1, keepdim=True) + 1.0, outcome_transform=Log())
    with pytest.raises(NotImplementedError, match="Standardize"):
        gradient_posterior(log_model, X[:1])
