"""Acquisition under outcome constraints: constrained qLogNEI and LogEI, the probability of
feasibility, and CONFIG.

The model is multi-output (:func:`asktell.surrogates.outcomes.joint_model`): output 0 is the
objective's GP (of the negated, maybe log-warped values: maximized), output ``j >= 1`` the GP of a
constraint value ``c_j``, feasible where ``c_j <= t_j`` (``t_j = 0`` for a declared outcome's
``c = -slack``, 0.5 for the failure indicator).

Registered names that combine with constraints (:data:`CONSTRAINED`):

- ``"qlognei"`` (default): BoTorch's ``qLogNoisyExpectedImprovement`` with ``constraints``
  callables (its smoothed feasibility indicator, ``fat=True``), as BoTorch's closed-loop tutorial
  builds it: improvement over the best *feasible* baseline point, weighted by feasibility.
- ``"logei"``: BoTorch's analytic ``LogConstrainedExpectedImprovement`` at the best feasible
  observed value (``q = 1``, nothing pending); ``qLogExpectedImprovement`` with ``constraints``
  otherwise.
- ``"config"``: CONFIG (Xu et al., ICML 2023), see :func:`config_points`.

UCB, PI and Thompson sampling do not: BoTorch's forms of them take no outcome constraints, and a
product with a feasibility probability would be an acquisition of our own making, not theirs.

Until some observed point is feasible, ``qlognei`` and ``logei`` maximize the probability of
feasibility instead (BoTorch's analytic ``LogProbabilityOfFeasibility``, or
``qLogProbabilityOfFeasibility`` for batches and pending points): with no feasible incumbent an
improvement is not defined, and Optuna's GPSampler and Ax do the same.

The constraint callables hand BoTorch's smoothed indicator (a sigmoid of ``-c / eta``,
``eta = 1e-3``) each constraint in units of its data's spread, ``(c_j - t_j) / s_j``: the units
Ax's standardization gives BoTorch. A positive scale changes no sign, so feasibility means the same,
but ``eta`` means the same sharpness for an outcome in bytes as in seconds; in raw units the
indicator of an outcome in the millions is a step L-BFGS cannot follow (2.5 times the acquisition
evaluations on PressureVessel, measured).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import torch
from botorch.acquisition import (
    AcquisitionFunction,
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qUpperConfidenceBound,
)
from botorch.acquisition.analytic import (
    AnalyticAcquisitionFunction,
    LogConstrainedExpectedImprovement,
    LogProbabilityOfFeasibility,
)
from botorch.acquisition.logei import qLogProbabilityOfFeasibility
from botorch.acquisition.objective import GenericMCObjective
from botorch.exceptions.warnings import BotorchWarning
from botorch.models.model import Model
from botorch.utils.transforms import t_batch_mode_transform
from linear_operator.utils.warnings import NumericalWarning
from torch.quasirandom import SobolEngine

from asktell.acquisition.bo import AcquisitionInputs, OptimizerSettings, maximize
from asktell.acquisition.prior import prior_guided

CONSTRAINED = ("qlognei", "logei", "config")
PENALTY = 100.0  # CONFIG's exact-penalty weight per unit of a constraint's spread (see OptimisticProblem)
CHECK_POINTS = 2048  # Sobol points on which CONFIG checks whether its optimistic problem is feasible
BOUNDARY = 1e-6  # an LCB this close to its bound (in units of the data's spread) is on it


@dataclass(frozen=True)
class ConstrainedInputs(AcquisitionInputs):
    """:class:`AcquisitionInputs` of a constrained problem.

    Attributes (beyond the base class's; ``model`` is multi-output, ``Y_observed`` the objective's):
        thresholds: ``k`` the constraint values' bounds (output ``j + 1`` is feasible at most
            ``thresholds[j]``).
        scales: ``k`` their data's spread (positive).
        feasible: ``n`` booleans, whether each observed point kept every declared constraint.
        beta: CONFIG's confidence weight (bounds are ``mean -/+ sqrt(beta) std``).
    """

    thresholds: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    scales: torch.Tensor = field(default_factory=lambda: torch.ones(0))
    feasible: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))
    beta: float = 2.0

    @property
    def k(self) -> int:
        return int(self.thresholds.shape[0])

    def callables(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """BoTorch's constraint callables: samples ``... x q x (1 + k)`` to ``(c_j - t_j) / s_j``
        (``... x q``), feasible when ``<= 0``."""
        return [_Scaled(j + 1, float(self.thresholds[j]), float(self.scales[j])) for j in range(self.k)]

    def bounds(self) -> dict[int, tuple[float | None, float | None]]:
        """The analytic functions' constraints: ``{output: (None, threshold)}``."""
        return {j + 1: (None, float(self.thresholds[j])) for j in range(self.k)}


@dataclass(frozen=True)
class _Scaled:
    """One constraint callable (a class, not a lambda, so each binds its own index and values)."""

    output: int
    threshold: float
    scale: float

    def __call__(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z[..., self.output] - self.threshold) / self.scale


def _objective_output(Z: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
    return Z[..., 0]


def objective() -> GenericMCObjective:
    """The MC objective of the multi-output model: its output 0."""
    return GenericMCObjective(_objective_output)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what BoTorch, GPyTorch and torch say while a constrained acquisition is built and
    maximized: jitter added to a Cholesky, a low-rank update that fell back to plain sampling, an
    L-BFGS restart that ended early, torch's one-time note on sparse tensors. None changes what is
    done with the result, and an ask must stay quiet in users' logs."""
    with warnings.catch_warnings():
        for category in (RuntimeWarning, NumericalWarning, BotorchWarning):
            warnings.simplefilter("ignore", category)
        warnings.filterwarnings("ignore", message="Sparse invariant checks", category=UserWarning)
        yield


def build(name: str, inputs: ConstrainedInputs, q: int) -> AcquisitionFunction:
    """The constrained acquisition ``name`` (``"qlognei"`` or ``"logei"``) for ``q`` points, or the
    probability of feasibility while no observed point is feasible; weighted by ``inputs.prior``
    where there is one (piBO)."""
    return prior_guided(_build(name, inputs, q), inputs.prior)


def _build(name: str, inputs: ConstrainedInputs, q: int) -> AcquisitionFunction:
    if not bool(inputs.feasible.any()):
        return probability_of_feasibility(inputs, q)
    if name == "qlognei":
        return qLogNoisyExpectedImprovement(
            inputs.model,
            X_baseline=inputs.X_observed,
            sampler=inputs.sampler(),
            objective=objective(),
            constraints=inputs.callables(),
            X_pending=inputs.pending,
            prune_baseline=True,
            cache_root=True,
            fat=True,
        )
    if name == "logei":
        best_f = inputs.Y_observed.reshape(-1)[inputs.feasible].max()
        if q == 1 and inputs.pending is None:
            return LogConstrainedExpectedImprovement(
                inputs.model, best_f=best_f, objective_index=0, constraints=inputs.bounds()
            )
        return qLogExpectedImprovement(
            inputs.model,
            best_f=best_f,
            sampler=inputs.sampler(),
            objective=objective(),
            constraints=inputs.callables(),
            X_pending=inputs.pending,
            fat=True,
        )
    raise ValueError(f"{name!r} is not a constrained acquisition built here; see CONSTRAINED.")


def probability_of_feasibility(inputs: ConstrainedInputs, q: int) -> AcquisitionFunction:
    """Log probability that a point (``q = 1``) or one of a batch keeps every constraint."""
    if q == 1 and inputs.pending is None:
        return LogProbabilityOfFeasibility(inputs.model, constraints=inputs.bounds())
    return qLogProbabilityOfFeasibility(
        inputs.model, constraints=inputs.callables(), sampler=inputs.sampler(), X_pending=inputs.pending
    )


def incumbents(
    X: torch.Tensor, y: torch.Tensor, feasible: torch.Tensor, violation: torch.Tensor, k: int = 3
) -> torch.Tensor:
    """The points to spray L-BFGS restarts around (``<= k x d``): of the observed ``X`` (``n x d``),
    the best feasible ones by their targets ``y`` (``n``, maximized), or while none is feasible the
    ``k`` that violate their constraints least (``violation``: ``n``, e.g. the sum of the scaled
    positive parts of the constraint values)."""
    if bool(feasible.any()):
        score = torch.where(feasible, y, torch.full_like(y, -math.inf))
        n = min(k, int(feasible.sum()))
    else:
        score, n = -violation, min(k, X.shape[0])
    return X[torch.topk(score, n).indices]


# --- CONFIG ---------------------------------------------------------------------------------------
class OptimisticProblem(AnalyticAcquisitionFunction):
    r"""CONFIG's optimistic problem as one function to maximize (``q = 1``).

    CONFIG (Xu, Jiang, Shen, Kolar, ICML 2023) picks ``argmin LCB_f(x)`` subject to
    ``LCB_{c_j}(x) <= t_j`` for every constraint: optimistic about the objective *and* about
    feasibility, so it explores until the data rule a region out. With the model's negated
    objective, ``-LCB_f`` is BoTorch's ``UpperConfidenceBound`` of output 0; the constraints enter
    as an exact penalty (a linear one outside the optimistic set, nothing inside):

    ``A(x) = UCB_0(x) / s_0 - rho * sum_j max(0, (LCB_j(x) - t_j) / s_j)``

    with ``s_0``, ``s_j`` the data's spreads, so that with ``rho`` (:data:`PENALTY`) above the
    constrained optimum's Lagrange multipliers in those units the maximizer of ``A`` is the
    constrained one, and one optimizer (L-BFGS-B, or BoTorch's mixed alternating one) serves real
    and mixed spaces alike. Confidence bounds are ``mean -/+ sqrt(beta) std`` of the latent GPs, as
    in BoTorch's UCB.
    """

    def __init__(
        self,
        model: Model,
        beta: float,
        thresholds: torch.Tensor,
        scales: torch.Tensor,
        objective_scale: float,
        rho: float = PENALTY,
    ) -> None:
        super().__init__(model=model, allow_multi_output=True)
        self.posterior_transform = None
        # plain attributes, not buffers: float64 CPU tensors like the models, never moved
        self.width = math.sqrt(beta)
        self.thresholds: torch.Tensor = thresholds.to(torch.float64)
        self.scales: torch.Tensor = scales.to(torch.float64)
        self.objective_scale = objective_scale
        self.rho = rho

    def confidence_bounds(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``UCB_0`` (``b``) of the objective output and ``(LCB_j - t_j) / s_j`` (``b x k``, feasible
        when ``<= 0``) at ``X`` (``b x 1 x d``)."""
        mean, sigma = self._mean_and_sigma(X)  # b x (1 + k)
        assert sigma is not None
        width = self.width * sigma
        ucb = mean[..., 0] + width[..., 0]
        lcb = (mean[..., 1:] - width[..., 1:] - self.thresholds) / self.scales
        return ucb, lcb

    @t_batch_mode_transform(expected_q=1)  # type: ignore[arg-type]
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        ucb, lcb = self.confidence_bounds(X)
        return ucb / self.objective_scale - self.rho * lcb.clamp_min(0).sum(-1)

    def optimistic(self, X: torch.Tensor) -> torch.Tensor:
        """Whether each of ``X`` (``b x d``) lies in the optimistic feasible set (``b`` booleans)."""
        with torch.no_grad():
            _, lcb = self.confidence_bounds(X.unsqueeze(-2))
        return (lcb <= BOUNDARY).all(-1)


class OptimisticBatch(AcquisitionFunction):
    r"""CONFIG's optimistic problem for a batch of ``q`` points, or one point with others pending.

    ``A(X) = qUCB_0(X) / s_0 - rho * sum_{i, j} max(0, (LCB_j(x_i) - t_j) / s_j)``: BoTorch's
    ``qUpperConfidenceBound`` of the objective output (``E max_i`` of the points' optimistic values,
    the pending points' included, so a point that repeats a pending one or another of the batch
    adds nothing and the batch spreads out) with each new point's optimistic constraint penalty as
    in :class:`OptimisticProblem`. (Conditioning on the model's own mean at the pending points, as
    GP-BUCB does, only shrinks variances: where the objective's posterior is already sure, a batch
    of such picks repeats one point.)
    """

    def __init__(self, inputs: ConstrainedInputs, objective_scale: float, rho: float = PENALTY) -> None:
        super().__init__(model=inputs.model)
        self.ucb = qUpperConfidenceBound(
            inputs.model,
            beta=inputs.beta,
            sampler=inputs.sampler(),
            objective=objective(),
            X_pending=inputs.pending,
        )
        self.single = OptimisticProblem(
            inputs.model, inputs.beta, inputs.thresholds, inputs.scales, objective_scale, rho
        )
        self.objective_scale = objective_scale
        self.rho = rho

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """``X``: ``b x q x d``; returns ``b``."""
        _, lcb = self.single.confidence_bounds(X.unsqueeze(-2))  # b x q x k
        return self.ucb(X) / self.objective_scale - self.rho * lcb.clamp_min(0).sum((-1, -2))


@dataclass(frozen=True)
class ConfigResult:
    """CONFIG's picks (``q x d``) and whether its optimistic problem was infeasible."""

    X: torch.Tensor
    infeasible: bool


def check_points(
    inputs: ConstrainedInputs, discrete_dims: dict[int, list[float]], cat_dims: dict[int, list[float]]
) -> torch.Tensor:
    """Where CONFIG looks for an optimistic feasible point besides its optimizer's result:
    :data:`CHECK_POINTS` scrambled Sobol points (discrete coordinates snapped to their allowed
    values) and the observed points (``m x d``)."""
    d = inputs.X_observed.shape[-1]
    engine = SobolEngine(d, scramble=True, seed=inputs.seed)
    U = engine.draw(CHECK_POINTS, dtype=torch.float64)
    for dims in (discrete_dims, cat_dims):
        for i, values in dims.items():
            allowed = torch.tensor(values, dtype=torch.float64)
            U[:, i] = allowed[(U[:, i, None] - allowed).abs().argmin(-1)]
    return torch.cat([U, inputs.X_observed])


def config_points(
    inputs: ConstrainedInputs,
    q: int,
    objective_scale: float,
    *,
    discrete_dims: dict[int, list[float]],
    cat_dims: dict[int, list[float]],
    settings: OptimizerSettings,
) -> ConfigResult:
    """CONFIG's ``q`` points, or, when its optimistic problem is infeasible, the points most likely
    feasible (and ``infeasible=True``).

    The declaration: no point of :func:`check_points` nor of the optimizer's result has every
    ``LCB_j <= t_j``. Then no point is feasible with the confidence ``beta`` gives; the loop says
    so and keeps sampling where feasibility is most likely, which is also where the data would
    first contradict the declaration. One point with nothing pending maximizes
    :class:`OptimisticProblem`, a batch or a point with others pending :class:`OptimisticBatch`.
    A pick the optimizer leaves a hair outside the optimistic set (the penalty's kink) is replaced
    by the best optimistic check point.
    """
    single = OptimisticProblem(inputs.model, inputs.beta, inputs.thresholds, inputs.scales, objective_scale)
    check = check_points(inputs, discrete_dims, cat_dims)
    with torch.no_grad():
        scores = single(check.unsqueeze(-2))
    inside = single.optimistic(check)
    centers = check[torch.topk(scores, min(3, check.shape[0])).indices]
    step = replace(inputs, centers=centers)  # type: ignore[call-arg]
    acq = single if q == 1 and inputs.pending is None else OptimisticBatch(step, objective_scale)
    X = maximize(acq, step, q, discrete_dims=discrete_dims, cat_dims=cat_dims, settings=settings)
    picked = single.optimistic(X)
    if not bool(inside.any()) and not bool(picked.any()):
        pof = probability_of_feasibility(inputs, q)
        return ConfigResult(
            maximize(pof, inputs, q, discrete_dims=discrete_dims, cat_dims=cat_dims, settings=settings),
            infeasible=True,
        )
    spare = scores.masked_fill(~inside, -math.inf)
    for i in torch.nonzero(~picked).reshape(-1).tolist():
        if math.isfinite(float(spare.max())):
            best = int(spare.argmax())
            X[i], spare[best] = check[best], -math.inf
    return ConfigResult(X, infeasible=False)
