r"""piBO: an acquisition function weighted by the user's prior over the optimum.

piBO (Hvarfner et al., ICLR 2022) maximizes

.. math::  \alpha_\pi(x) = \alpha(x) \, \pi(x)^{\beta / n}

where :math:`\pi` is the prior density over the optimum (:mod:`asktell.priors`: a product of one
density per parameter, on the unit cube), :math:`\beta` the prior's weight (``prior_beta``) and
:math:`n` the number of model-based asks so far, this one included (SMAC3's count): while the data
are few the prior leads; as they grow the exponent goes to zero and the acquisition alone decides,
so a misleading prior washes out. The density is floored at :data:`asktell.priors.PRIOR_FLOOR`
(SMAC3's ``prior_floor``) before the power, so no point is ruled out for good.

asktell's acquisitions are log-valued (qLogNEI, LogEI, LogPI, qLogNEHVI, ...), so the weighting is
the sum :math:`\log\alpha(x) + (\beta/n)\log\pi(x)`. Built on BoTorch's
``PriorGuidedAcquisitionFunction``: for Monte Carlo acquisitions (and so for batches, where it
weights each point's samples before the batch's reduction), that class itself (qLogNEI keeps its
pending points in its baseline, BoTorch's incremental form; the others' pending points are moved
onto the wrapper, as it requires); for an analytic acquisition (one point)
or one that keeps its own pending points (qLogNEHVI, asked one point at a time), the same sum
computed by :class:`PointPriorGuided` (equal to BoTorch's class where both apply,
``tests/acquisition/test_prior.py``).

Shapes: points are ``batch x q x d`` on the unit cube; densities ``batch x q``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.monte_carlo import SampleReducingMCAcquisitionFunction
from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
from botorch.utils.transforms import t_batch_mode_transform

from asktell.priors import PRIOR_FLOOR, EncodedPrior
from asktell.space import Space

DEFAULT_PRIOR_BETA = 10.0
"""piBO's ``beta`` when the run's budget is unknown: the paper's choice (``N / 10`` for its 100
evaluations) and SMAC3's default ``n_trials / 10`` at 100 trials. With a ``budget`` the loop uses
``budget / 10``."""


def _log_density(prior: EncodedPrior, u: torch.Tensor) -> torch.Tensor:
    """Log density of one coordinate's prior at ``u`` (any shape), as
    :meth:`asktell.priors.EncodedPrior.log_pdf` computes it (``-inf`` where it is zero)."""
    args = prior.args
    if prior.kind == "normal":
        m, s = args
        z = (u - m) / s
        return -0.5 * z * z - math.log(s * math.sqrt(2 * math.pi)) - math.log(prior.mass)
    if prior.kind == "uniform":
        a, b = args
        inside = (u >= a) & (u <= b)
        return torch.where(inside, torch.full_like(u, -math.log(b - a)), torch.full_like(u, -math.inf))
    if prior.kind == "beta":
        a, b = args
        log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        inner = u.clamp(1e-300, 1.0 - 1e-16)
        return (a - 1) * inner.log() + (b - 1) * torch.log1p(-inner) - log_beta
    k = len(args)
    table = torch.tensor([math.log(p * k) if p > 0 else -math.inf for p in args], dtype=u.dtype)
    index = torch.floor(u.detach() * k).clamp(0, k - 1).long()
    return table[index]


class PriorDensity(torch.nn.Module):
    """The space's prior density over the optimum at encoded points, floored at
    :data:`~asktell.priors.PRIOR_FLOOR`: ``log(pi(x) + floor)`` (``log=True``) or ``pi(x) + floor``.

    ``forward``: ``batch x q x d`` points -> ``batch x q``.
    """

    def __init__(self, space: Space, log: bool = True):
        super().__init__()
        self.priors = dict(space.priors)
        self.log = log

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(X.shape[:-1], dtype=X.dtype, device=X.device)
        for i, prior in self.priors.items():
            total = total + _log_density(prior, X[..., i])
        floored = torch.logaddexp(total, torch.full_like(total, math.log(PRIOR_FLOOR)))
        return floored if self.log else floored.exp()


@dataclass(frozen=True)
class PriorWeight:
    """What one ask weights its acquisition with: the ``space``'s prior to the power ``exponent``
    (``beta / n``), by piBO (``method="pibo"``: the acquisition times the prior) or ColaBO
    (``"colabo"``: the GP's sample paths weighted by the prior at their maximizers,
    :mod:`asktell.acquisition.colabo`)."""

    space: Space
    exponent: float
    method: str = "pibo"


def prior_exponent(beta: float, n_model_asks: int) -> float:
    """piBO's exponent ``beta / n`` for the ``n``-th model-based ask (``n >= 1``)."""
    return beta / max(1, n_model_asks)


class PointPriorGuided(AcquisitionFunction):
    """``log acq(X) + exponent * sum_j log(pi(x_j) + floor)`` for a log-valued acquisition that is
    not a Monte Carlo one BoTorch's wrapper handles in batches: analytic ones (``q = 1``) and those
    keeping their own pending points (qLogNEHVI). ``set_X_pending`` goes to the acquisition."""

    def __init__(self, acq_function: AcquisitionFunction, weight: PriorWeight):
        super().__init__(model=acq_function.model)
        self.acq_func = acq_function
        self.prior_module = PriorDensity(weight.space, log=True)
        self.exponent = weight.exponent

    def set_X_pending(self, X_pending: torch.Tensor | None = None) -> None:
        if hasattr(self, "acq_func"):  # AcquisitionFunction.__init__ calls this before it is set
            self.acq_func.set_X_pending(X_pending)

    @property
    def X_pending(self) -> torch.Tensor | None:  # type: ignore[override]
        return getattr(self.acq_func, "X_pending", None)

    @t_batch_mode_transform()  # type: ignore[arg-type]
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.acq_func(X) + self.exponent * self.prior_module(X).sum(-1)


def prior_guided(acq: AcquisitionFunction, weight: PriorWeight | None) -> AcquisitionFunction:
    """``acq`` weighted by ``weight`` (piBO), or ``acq`` itself when ``weight`` is None or is
    ColaBO's (which built ``acq`` on its weighted paths already)."""
    if weight is None or weight.method != "pibo":
        return acq
    if isinstance(acq, SampleReducingMCAcquisitionFunction):
        pending = acq.X_pending  # None for qLogNEI, which keeps pending points in its baseline
        if pending is not None:  # BoTorch's wrapper holds them (and weights them with the batch)
            acq.set_X_pending(None)
        return PriorGuidedAcquisitionFunction(
            acq,
            PriorDensity(weight.space, log=acq._log),
            log=acq._log,
            prior_exponent=weight.exponent,
            X_pending=pending,
        )
    return PointPriorGuided(acq, weight)
