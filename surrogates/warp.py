"""Output warping and model evidence: model ``log(y - min y + s)`` when it explains ``y`` better.

A GP on values that span orders of magnitude (Rosenbrock's 1 to 1e6) spends its whole variance on
the worst points. The log warp ``w(y) = log(y - min y + s)``, with ``s`` a tenth of the median
distance to the minimum, is monotone, so the minimizer is unchanged. Whether to use it is a model
comparison: :func:`log_evidence` of each model in the *original* units, the warped one's plus
:func:`log_warp_jacobian` (the change of variables ``p(y) = p(w(y)) |dw/dy|``).

Shapes: ``y`` is ``n`` (the trajectory's values); warped values have the same shape.
"""

from __future__ import annotations

import math

import torch
from gpytorch.mlls import ExactMarginalLogLikelihood


def _warp_shift(r: torch.Tensor) -> float:
    return max(float(r.median()) / 10, 1e-12 * max(float(r.max()), 1.0))


def log_warp(y: torch.Tensor) -> torch.Tensor:
    """``log(y - min y + s)`` with ``s`` a tenth of the median distance to the minimum (``n``)."""
    r = y - y.min()
    return torch.log(r + _warp_shift(r))


def inverse_log_warp(w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The values whose :func:`log_warp` (with the data ``y``, ``n``) is ``w`` (any shape)."""
    r = y - y.min()
    return torch.exp(w) + y.min() - _warp_shift(r)


def log_warp_jacobian(y: torch.Tensor) -> float:
    """``sum log |d log_warp(y) / dy|``: turns a density of warped values into one of ``y``."""
    r = y - y.min()
    return float(-torch.log(r + _warp_shift(r)).sum())


def log_evidence(model) -> float:
    """Log marginal likelihood of the model's training targets in their original units.

    BoTorch's ``ExactMarginalLogLikelihood`` is an average over the standardized targets; the
    total adds back ``n log`` of Standardize's scale so two models of differently transformed
    values can be compared after their Jacobians are added.
    """
    model.train()
    try:
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            inputs = model.train_inputs[0]
            value = float(mll(model(inputs), model.train_targets)) * inputs.shape[0]
    finally:
        model.eval()
    scale = float(model.outcome_transform.stdvs.reshape(-1)[0])
    return value - inputs.shape[0] * math.log(scale)
