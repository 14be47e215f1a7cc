"""BoTorch acquisition functions for the BayesOpt loop: a registry, built and optimized per ask.

Conventions: the model regresses the *negated* objective, so every acquisition function here is
maximized, as BoTorch expects. Inputs are points of the unit cube (``q x d``).

Registered names (``ACQUISITIONS``):

- ``"qlognei"`` (default): ``qLogNoisyExpectedImprovement``: handles noise, batches and pending
  points, with a baseline of all completed points (pruned to those that may be best).
- ``"logei"``: analytic ``LogExpectedImprovement`` at the best observed value; its batch form
  ``qLogExpectedImprovement`` when ``q > 1`` or points are pending.
- ``"ucb"``: ``UpperConfidenceBound(beta)``, or ``qUpperConfidenceBound`` for batches and pending.
- ``"pi"``: analytic ``LogProbabilityOfImprovement``, or ``qProbabilityOfImprovement``.
- ``"ts"``: pathwise Thompson sampling: one posterior sample path per point, maximized.
- ``"config"``: CONFIG; without outcome constraints its objective bound alone, i.e. ``"ucb"``
  (constrained problems: :mod:`asktell.acquisition.constrained`).

:func:`optimize` maximizes one with BoTorch's optimizers: ``optimize_acqf`` (multi-start L-BFGS-B
from the best of ``raw_samples`` random points) on real spaces, and
``optimize_acqf_mixed_alternating`` when the space has integer or categorical coordinates, so those
are only proposed at their allowed values. A space of integer and categorical coordinates only,
with at most :data:`ENUMERATION_LIMIT` (4096) points, is searched exhaustively instead: the
acquisition is evaluated at every point not asked yet (``optimize_acqf_discrete``, greedy
sequential for a batch), so an ask never lands on a known point there while one is left.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from botorch.acquisition import (
    AcquisitionFunction,
    LogExpectedImprovement,
    UpperConfidenceBound,
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qProbabilityOfImprovement,
    qUpperConfidenceBound,
)
from botorch.acquisition.analytic import LogProbabilityOfImprovement
from botorch.acquisition.thompson_sampling import PathwiseThompsonSampling
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models.model import Model
from botorch.optim import optimize_acqf, optimize_acqf_discrete
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from botorch.sampling import SobolQMCNormalSampler
from linear_operator.utils.warnings import NumericalWarning

from asktell.acquisition.colabo import build_colabo
from asktell.acquisition.prior import PriorWeight, prior_guided
from asktell.errors import RegistryError

MC_SAMPLES = 128  # quasi-MC samples of the batch acquisition functions
# a space of integer and categorical coordinates only, with at most this many points, is searched
# by evaluating the acquisition at every point not asked yet (BoTorch's optimize_acqf_discrete)
ENUMERATION_LIMIT = 4096
# acquisitions piBO cannot weight: their values may be negative (UCB, CONFIG's bound, a sample path)
NOT_PRIOR_GUIDED = ("ucb", "config", "ts")


@dataclass(frozen=True)
class AcquisitionInputs:
    """Everything an acquisition builder may use.

    Attributes:
        model: the fitted surrogate (of the negated objective).
        X_observed: ``n x d`` completed points (unit cube).
        Y_observed: ``n x 1`` their negated values.
        X_pending: ``p x d`` points asked but not yet told (``p`` may be 0).
        seed: seed of the quasi-MC sampler.
        options: per-function options (``beta`` for UCB).
        centers: ``c x d`` points to spray L-BFGS restarts around (None: the best 3 observed).
        X_avoid: ``a x d`` points never to propose (every trial asked so far and this ask's own
            earlier points); None: the observed and pending ones. Used where the space is small
            enough to enumerate.
        prior: the prior to weight the acquisition with (piBO, :mod:`asktell.acquisition.prior`),
            or None.
    """

    model: Model
    X_observed: torch.Tensor
    Y_observed: torch.Tensor
    X_pending: torch.Tensor
    seed: int
    options: dict[str, Any] = field(default_factory=dict)
    centers: torch.Tensor | None = None
    X_avoid: torch.Tensor | None = None
    prior: PriorWeight | None = None

    @property
    def pending(self) -> torch.Tensor | None:
        return self.X_pending if self.X_pending.shape[0] else None

    def sampler(self) -> SobolQMCNormalSampler:
        return SobolQMCNormalSampler(sample_shape=torch.Size([MC_SAMPLES]), seed=self.seed)


Builder = Callable[[AcquisitionInputs, int], AcquisitionFunction]
ACQUISITIONS: dict[str, Builder] = {}


def register_acquisition(name: str) -> Callable[[Builder], Builder]:
    """Register a builder ``(inputs, q) -> AcquisitionFunction`` under ``name``."""

    def decorate(builder: Builder) -> Builder:
        if name in ACQUISITIONS:
            raise RegistryError(f"acquisition {name!r} is already registered.")
        ACQUISITIONS[name] = builder
        return builder

    return decorate


@register_acquisition("qlognei")
def _qlognei(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    return qLogNoisyExpectedImprovement(
        inputs.model,
        X_baseline=inputs.X_observed,
        sampler=inputs.sampler(),
        X_pending=inputs.pending,
        prune_baseline=True,
        cache_root=True,
    )


@register_acquisition("logei")
def _logei(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    best_f = inputs.Y_observed.max()
    if q == 1 and inputs.pending is None:
        return LogExpectedImprovement(inputs.model, best_f=best_f)
    return qLogExpectedImprovement(
        inputs.model, best_f=best_f, sampler=inputs.sampler(), X_pending=inputs.pending
    )


@register_acquisition("ucb")
def _ucb(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    beta = float(inputs.options.get("beta", 2.0))
    if q == 1 and inputs.pending is None:
        return UpperConfidenceBound(inputs.model, beta=beta)
    return qUpperConfidenceBound(inputs.model, beta=beta, sampler=inputs.sampler(), X_pending=inputs.pending)


@register_acquisition("config")
def _config(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    # CONFIG without constraints minimizes the objective's lower confidence bound: UCB of the
    # negated objective (the constrained problem: asktell.acquisition.constrained)
    return _ucb(inputs, q)


@register_acquisition("pi")
def _pi(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    best_f = inputs.Y_observed.max()
    if q == 1 and inputs.pending is None:
        return LogProbabilityOfImprovement(inputs.model, best_f=best_f)
    return qProbabilityOfImprovement(
        inputs.model, best_f=best_f, sampler=inputs.sampler(), X_pending=inputs.pending
    )


@register_acquisition("ts")
def _ts(inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    # One sample path; the loop asks for q points by drawing q paths (see ``optimize``).
    return PathwiseThompsonSampling(inputs.model)


def build(name: str, inputs: AcquisitionInputs, q: int) -> AcquisitionFunction:
    """Build the registered acquisition function ``name`` for a batch of ``q`` points, weighted by
    ``inputs.prior`` where there is one: piBO (not for the unbounded ``"ucb"``, ``"config"`` and
    ``"ts"``, which the loop refuses with it), or ColaBO (``"qlognei"`` and ``"ts"`` on the weighted
    sample paths, :mod:`asktell.acquisition.colabo`)."""
    try:
        builder = ACQUISITIONS[name]
    except KeyError:
        raise RegistryError(f"unknown acquisition {name!r}; choose one of {sorted(ACQUISITIONS)}.") from None
    prior = inputs.prior
    if prior is not None and prior.method == "colabo":
        X_baseline = torch.cat([inputs.X_observed, inputs.X_pending.reshape(-1, inputs.X_observed.shape[-1])])
        return build_colabo(name, inputs.model, X_baseline, prior, inputs.seed)
    if prior is not None and name in NOT_PRIOR_GUIDED:
        raise ValueError(f"acquisition {name!r} takes no prior weight (its values can be negative).")
    return prior_guided(builder(inputs, q), prior)


@dataclass(frozen=True)
class OptimizerSettings:
    """Effort spent maximizing the acquisition function."""

    num_restarts: int = 4
    raw_samples: int = 256
    maxiter: int = 50


def optimize(
    name: str,
    inputs: AcquisitionInputs,
    q: int,
    *,
    discrete_dims: dict[int, list[float]],
    cat_dims: dict[int, list[float]],
    settings: OptimizerSettings,
) -> torch.Tensor:
    """Maximize acquisition ``name`` over the unit cube: returns ``q x d`` candidates.

    Randomness (raw samples, restarts, sample paths) is drawn from torch's global generator, which
    the caller seeds inside :func:`asktell.surrogates.seeding.torch_global_seed` (one process-wide
    lock, so threads asking at once do not interleave their draws): the ask is reproducible and
    the caller's global state is left as it was.
    """
    bounds, discrete_dims, cat_dims, fixed = box(inputs.X_observed, discrete_dims, cat_dims)
    if name == "ts" and q > 1:  # q independent sample paths, each maximized on its own
        return torch.cat(
            [
                optimize(
                    name,
                    inputs,
                    1,
                    discrete_dims=discrete_dims,
                    cat_dims=cat_dims,
                    settings=settings,
                )
                for _ in range(q)
            ]
        )
    acq = build(name, inputs, q)
    return _quietly_maximize(acq, bounds, q, discrete_dims, cat_dims, fixed, settings, inputs)


def box(
    X_observed: torch.Tensor, discrete_dims: dict[int, list[float]], cat_dims: dict[int, list[float]]
) -> tuple[torch.Tensor, dict[int, list[float]], dict[int, list[float]], dict[int, float]]:
    """The optimizer's ``2 x d`` bounds, the discrete and categorical coordinates it searches, and
    the coordinates it keeps fixed (those with a single allowed value)."""
    d = X_observed.shape[-1]
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]).to(X_observed)
    # BoTorch's mixed optimizer wants each discrete coordinate's bounds to be its extreme
    # allowed values; a coordinate with a single allowed value is simply fixed.
    fixed: dict[int, float] = {}
    for dims in (discrete_dims, cat_dims):
        for i, values in list(dims.items()):
            bounds[0, i], bounds[1, i] = min(values), max(values)
            if len(values) == 1:
                fixed[i] = values[0]
    discrete_dims = {i: v for i, v in discrete_dims.items() if i not in fixed}
    cat_dims = {i: v for i, v in cat_dims.items() if i not in fixed}
    return bounds, discrete_dims, cat_dims, fixed


def maximize(
    acq: AcquisitionFunction,
    inputs: AcquisitionInputs,
    q: int,
    *,
    discrete_dims: dict[int, list[float]],
    cat_dims: dict[int, list[float]],
    settings: OptimizerSettings,
) -> torch.Tensor:
    """Maximize a built acquisition function ``acq`` as :func:`optimize` does: ``q x d``."""
    bounds, discrete_dims, cat_dims, fixed = box(inputs.X_observed, discrete_dims, cat_dims)
    return _quietly_maximize(acq, bounds, q, discrete_dims, cat_dims, fixed, settings, inputs)


def _quietly_maximize(acq, bounds, q, discrete_dims, cat_dims, fixed, settings, inputs) -> torch.Tensor:
    with warnings.catch_warnings():
        # BoTorch warns when an L-BFGS restart ends early or a Cholesky needs jitter; neither
        # changes what we do with the result, and the ask must stay quiet in users' logs.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", NumericalWarning)
        warnings.simplefilter("ignore", OptimizationWarning)
        candidates = _maximize(acq, bounds, q, discrete_dims, cat_dims, fixed, settings, inputs)
    return candidates.detach().reshape(q, bounds.shape[-1])


def initial_conditions(
    acq: AcquisitionFunction, inputs: AcquisitionInputs, bounds: torch.Tensor, settings: OptimizerSettings
) -> torch.Tensor:
    """Starting points of L-BFGS for ``q = 1``: ``num_restarts x 1 x d``.

    The best ``num_restarts`` of ``raw_samples`` uniform points *plus* ``raw_samples // 4`` points
    sprayed around the best observed points, or ``inputs.centers`` where the caller knows better
    (the best *feasible* ones, under constraints) (normal, sd 0.05 of the box): the acquisition optimum
    is often a small step from the incumbent, which uniform raw samples in 6+ dimensions rarely
    hit. Taking the top values (rather than BoTorch's Boltzmann draw) keeps the choice
    deterministic and cheap; all raw points are scored in one batch.
    """
    d = bounds.shape[-1]
    lower, upper = bounds[0], bounds[1]
    uniform = lower + (upper - lower) * torch.rand(settings.raw_samples, d, dtype=bounds.dtype)
    if inputs.centers is not None:
        best = inputs.centers
    else:
        n_best = min(3, inputs.X_observed.shape[0])
        best = inputs.X_observed[torch.topk(inputs.Y_observed.reshape(-1), n_best).indices]
    n_best = best.shape[0]
    n_spray = settings.raw_samples // 4
    centers = best[torch.arange(n_spray) % n_best]
    spray = (centers + 0.05 * (upper - lower) * torch.randn(n_spray, d, dtype=bounds.dtype)).clamp(
        lower, upper
    )
    X = torch.cat([uniform, spray]).unsqueeze(1)  # raw x 1 x d
    with torch.no_grad():
        values = acq(X)
    top = torch.topk(values, min(settings.num_restarts, X.shape[0])).indices
    return X[top]


def enumeration(
    d: int, discrete_dims: dict[int, list[float]], cat_dims: dict[int, list[float]], fixed: dict[int, float]
) -> torch.Tensor | None:
    """Every point of a space whose ``d`` coordinates are all integer, categorical or fixed
    (encoded values: ``N x d``), or None when a coordinate is continuous or there are more than
    :data:`ENUMERATION_LIMIT` points."""
    values: list[list[float]] = []
    for i in range(d):
        if i in fixed:
            values.append([fixed[i]])
        elif i in discrete_dims or i in cat_dims:
            values.append(list(discrete_dims.get(i, cat_dims.get(i, []))))
        else:
            return None
    if math.prod(len(v) for v in values) > ENUMERATION_LIMIT:
        return None
    grids = [torch.tensor(v, dtype=torch.float64) for v in values]
    return torch.cartesian_prod(*grids).reshape(-1, d)


MIXED_OPTIONS: dict[str, Any] = {
    "num_spray_points": 20,
    "std_cont_perturbation": 0.05,
    "maxiter_alternating": 16,
}
"""BoTorch's alternating mixed optimizer's options for mixed spaces (besides the continuous steps'
iterations, which follow the loop's ``acq_maxiter``, at most 8)."""


def unasked(choices: torch.Tensor, avoid: torch.Tensor) -> torch.Tensor:
    """The rows of ``choices`` (``N x d``) that are none of ``avoid``'s (``a x d``)."""
    if avoid.shape[0] == 0:
        return choices
    # the direct distance: cdist's default matrix-product form is off by ~1e-8 for equal rows
    distance = torch.cdist(choices, avoid.to(choices), compute_mode="donot_use_mm_for_euclid_dist")
    taken = (distance < 1e-9).any(-1)
    return choices[~taken]


def _maximize(acq, bounds, q, discrete_dims, cat_dims, fixed, settings, inputs) -> torch.Tensor:
    choices = enumeration(bounds.shape[-1], discrete_dims, cat_dims, fixed)
    if choices is not None:
        avoid = inputs.X_avoid
        if avoid is None:
            avoid = torch.cat([inputs.X_observed, inputs.X_pending.reshape(-1, bounds.shape[-1])])
        remaining = unasked(choices, avoid)
        if remaining.shape[0] >= q:  # else every point was asked: the caller's dedupe says so
            candidates, _ = optimize_acqf_discrete(acq, q=q, choices=remaining, unique=True)
            return candidates
    if discrete_dims or cat_dims:
        candidates, _ = optimize_acqf_mixed_alternating(
            acq,
            bounds=bounds,
            discrete_dims=discrete_dims or None,
            cat_dims=cat_dims or None,
            q=q,
            num_restarts=settings.num_restarts,
            raw_samples=settings.raw_samples,
            fixed_features=fixed or None,
            options={**MIXED_OPTIONS, "maxiter_continuous": min(settings.maxiter, 8)},
        )
    else:
        candidates, _ = optimize_acqf(
            acq,
            bounds=bounds,
            q=q,
            num_restarts=settings.num_restarts,
            raw_samples=None if q == 1 and not fixed else settings.raw_samples,
            batch_initial_conditions=initial_conditions(acq, inputs, bounds, settings)
            if q == 1 and not fixed
            else None,
            fixed_features=fixed or None,
            options={
                "maxiter": settings.maxiter,
                "batch_limit": settings.num_restarts,
                "init_batch_limit": settings.raw_samples,
            },
            # a restart that stops early (scipy's ABNORMAL line search) is still a fine candidate;
            # retrying with fresh restarts would double the cost of the ask for nothing
            retry_on_optimization_warning=False,
        )
    return candidates
