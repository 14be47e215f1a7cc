"""Gaussian-process surrogates fitted on a query trajectory.

:func:`fit_gp` builds a BoTorch GP from scratch on every call (models are rebuilt, never stored: the
state keeps only the fitted hyperparameters as plain numbers) and fits it with ``fit_gpytorch_mll``:

- real and integer spaces: ``SingleTaskGP`` with BoTorch's default priors (RBF kernel with a
  dimension-scaled log-normal lengthscale prior) and a ``Standardize`` outcome transform;
- spaces with categorical coordinates: ``MixedSingleTaskGP`` (a categorical kernel on those
  coordinates, combined with the continuous one);
- noise inferred by default; fixed when the caller gives a noise level (``noise_std``, in the user's
  units; ``0.0`` means noiseless, modelled with a tiny fixed noise for numerical safety).

Warm start: the hyperparameters of the previous fit (``GPFit.hyperparameters``, a JSON-able dict of
lists of floats) initialise the next one, which then needs only a few L-BFGS iterations. Inputs are
points of the unit cube (``n x d``), targets are ``n x 1``; the model *maximizes* nothing: it just
regresses, callers negate values when they minimize.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import fit_gpytorch_mll
from botorch.models import MixedSingleTaskGP, SingleTaskGP
from botorch.models.gpytorch import GPyTorchModel
from botorch.models.transforms.outcome import Standardize
from gpytorch.constraints import GreaterThan
from gpytorch.kernels import RBFKernel
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior

from asktell.errors import ShapeError

NOISELESS_VARIANCE = 1e-6  # fixed noise of a "noiseless" model, relative to the data's variance
NOISE_PRIOR = (-8.0, 2.0)  # log-normal prior of an inferred noise variance (standardized units)


@dataclass
class GPFit:
    """A fitted model and what the loop keeps of it.

    Attributes:
        model: the fitted BoTorch model, in eval mode.
        hyperparameters: ``{parameter name: nested list of floats}``, the warm start for the next fit.
        seconds: wall time of the fit.
        warm_started: whether the fit started from given hyperparameters.
        notes: what went wrong, if anything, and what was done instead (goes into trial metadata).
    """

    model: GPyTorchModel
    hyperparameters: dict[str, Any]
    seconds: float
    warm_started: bool
    notes: list[str] = field(default_factory=list)


def build_gp(
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    cat_dims: list[int] | None = None,
    noise_std: float | None = None,
    isotropic: bool = False,
    min_noise: float | None = None,
) -> GPyTorchModel:
    """An unfitted BoTorch GP for ``X`` (``n x d``, unit cube) and ``Y`` (``n x 1``).

    ``isotropic=True`` uses one lengthscale for all coordinates (with BoTorch's dimension-scaled
    log-normal prior) instead of one per coordinate: in hundreds of dimensions with ~150 local
    points, ARD lengthscales are neither identifiable nor cheap to fit. ``min_noise`` lowers the
    floor of an inferred noise variance (standardized units; BoTorch's default is 1e-4).
    """
    Yvar = None
    if noise_std is not None:
        var = noise_std**2 if noise_std > 0 else NOISELESS_VARIANCE * max(float(Y.var()), 1e-12)
        Yvar = torch.full_like(Y, var)
    if cat_dims:
        return MixedSingleTaskGP(
            X, Y, cat_dims=list(cat_dims), train_Yvar=Yvar, outcome_transform=Standardize(m=1)
        )
    likelihood = None
    if Yvar is None and min_noise is not None:
        # BoTorch's default likelihood (LogNormal(-4, 1) prior on the noise variance), with a lower
        # floor than its 1e-4: on deterministic functions that floor blurs the last digits of the
        # optimum (Branin's regret stalls near 1e-3 with it).
        prior = LogNormalPrior(loc=NOISE_PRIOR[0], scale=NOISE_PRIOR[1])
        likelihood = GaussianLikelihood(
            noise_prior=prior,
            noise_constraint=GreaterThan(min_noise, transform=None, initial_value=prior.mode),
        )
    covar = None
    if isotropic:
        d = X.shape[-1]
        prior = LogNormalPrior(loc=math.sqrt(2) + 0.5 * math.log(d), scale=math.sqrt(3))
        covar = RBFKernel(lengthscale_prior=prior, lengthscale_constraint=GreaterThan(2.5e-2))
    return SingleTaskGP(
        X, Y, train_Yvar=Yvar, likelihood=likelihood, covar_module=covar, outcome_transform=Standardize(m=1)
    )


def hyperparameters_of(model: GPyTorchModel) -> dict[str, Any]:
    """The model's trainable parameters as plain JSON (raw, unconstrained values)."""
    return {name: p.detach().tolist() for name, p in model.named_parameters()}


def _load_hyperparameters(model: GPyTorchModel, values: dict[str, Any]) -> bool:
    """Copy stored hyperparameters into ``model`` when their names and shapes match."""
    params = dict(model.named_parameters())
    if set(values) != set(params):
        return False
    with torch.no_grad():
        for name, p in params.items():
            value = torch.as_tensor(values[name], dtype=p.dtype)
            if value.shape != p.shape or not bool(torch.isfinite(value).all()):
                return False
        for name, p in params.items():
            p.copy_(torch.as_tensor(values[name], dtype=p.dtype))
    return True


def fit_gp(
    X: torch.Tensor,
    Y: torch.Tensor,
    *,
    cat_dims: list[int] | None = None,
    noise_std: float | None = None,
    warm_start: dict[str, Any] | None = None,
    max_fit_iter: int = 200,
    warm_fit_iter: int = 40,
    isotropic: bool = False,
    min_noise: float | None = None,
) -> GPFit:
    """Fit a GP on a trajectory: ``X`` is ``n x d`` in the unit cube, ``Y`` is ``n x 1``.

    With ``warm_start`` (hyperparameters of an earlier fit on similar data) L-BFGS starts there and
    runs at most ``warm_fit_iter`` iterations (0: no fit, just condition on the data with them);
    otherwise from BoTorch's defaults with ``max_fit_iter``.
    A fit that fails (non-PD matrices, numerical errors) keeps the starting hyperparameters and says
    so in ``notes``: the model is still usable, only not tuned.
    """
    if X.ndim != 2 or Y.shape != (X.shape[0], 1):
        raise ShapeError(f"expected X: n x d and Y: n x 1, got {tuple(X.shape)} and {tuple(Y.shape)}.")
    start = time.perf_counter()
    model = build_gp(X, Y, cat_dims=cat_dims, noise_std=noise_std, isotropic=isotropic, min_noise=min_noise)
    warm = warm_start is not None and _load_hyperparameters(model, warm_start)
    notes: list[str] = []
    if warm_start is not None and not warm:
        notes.append("stored hyperparameters did not match the model; fitted from defaults")
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    if warm and warm_fit_iter == 0:  # condition on the data with the stored hyperparameters as they are
        model.eval()
        return GPFit(model, dict(warm_start or {}), time.perf_counter() - start, True, notes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizationWarning)
            fit_gpytorch_mll(
                mll,
                optimizer_kwargs={"options": {"maxiter": warm_fit_iter if warm else max_fit_iter}},
                # a warm start is already near the optimum: no random restarts from the priors
                max_attempts=1 if warm else 3,
            )
    except Exception as exc:  # noqa: BLE001 - any failure falls back to the starting values
        notes.append(f"GP fit failed ({type(exc).__name__}: {exc}); used unfitted hyperparameters")
        model = build_gp(
            X, Y, cat_dims=cat_dims, noise_std=noise_std, isotropic=isotropic, min_noise=min_noise
        )
        if warm:
            _load_hyperparameters(model, warm_start or {})
    model.eval()
    hyper = hyperparameters_of(model)
    if not all(math.isfinite(v) for v in _flatten(hyper)):
        notes.append("fit produced non-finite hyperparameters; used defaults")
        model = build_gp(
            X, Y, cat_dims=cat_dims, noise_std=noise_std, isotropic=isotropic, min_noise=min_noise
        )
        model.eval()
        hyper = hyperparameters_of(model)
    return GPFit(model, hyper, time.perf_counter() - start, warm, notes)


def _flatten(values: Any) -> list[float]:
    if isinstance(values, dict):
        return [v for item in values.values() for v in _flatten(item)]
    if isinstance(values, list):
        return [v for item in values for v in _flatten(item)]
    return [float(values)]
