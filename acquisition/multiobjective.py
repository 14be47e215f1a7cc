"""Acquisition for several objectives: BoTorch's qLogNEHVI and qLogNParEGO, with outcome constraints.

The model is multi-output (BoTorch's ``ModelListGP`` of independent GPs): outputs ``0 .. m-1`` are
the ``m`` objectives' GPs (each of the *negated* values, log-warped where its marginal likelihood
preferred it: maximized, as BoTorch expects), outputs ``m .. m+k-1`` the GPs of the constraint
values ``c_j`` (feasible where ``c_j <= t_j``: ``c = -slack`` of a declared outcome, ``t = 0``; the
failure indicator, ``t = 0.5``), as in :mod:`asktell.acquisition.constrained`.

Names (:data:`MULTIOBJECTIVE`, and the default):

- ``"qlognehvi"``: ``qLogNoisyExpectedHypervolumeImprovement`` (Daulton et al. 2021, in the log
  form of Ament et al. 2023), as BoTorch's multi-objective tutorial builds it: the expected
  improvement of the hypervolume over the front of the (noisy) baseline, all completed points
  (pruned to those that may be on it), feasibility-weighted under constraints. It decomposes the
  region each quasi-MC sample of the baseline leaves undominated into boxes, which is what it
  costs: exact boxes and 128 samples up to 3 objectives; from 4 on, BoTorch's approximate
  decomposition (:func:`partitioning_alpha`) and 64 samples (:func:`hypervolume_samples`), which
  keep an ask with 4 objectives and 100 trials at about 3.5 s of CPU (exact, with 128 samples: 40 s).
- ``"parego"``: ``qLogNParEGO`` (Knowles 2006, in BoTorch's log-noisy form): qLogNEI of a
  Chebyshev scalarization of the objectives with weights drawn from the simplex, new weights for
  every point of a batch.
- ``"qlognei"`` (BayesOpt's default) means, with several objectives, qLogNEHVI up to
  :data:`HYPERVOLUME_OBJECTIVES` objectives and ParEGO above (:func:`resolve`).

The hypervolume is measured in the objectives' units: a log-warped objective's samples are mapped
back (:class:`Unwarped`) before BoTorch computes hypervolumes, so the reference point means what the
state's ``ref_point`` means (negated: BoTorch maximizes). Until some observed point keeps every
constraint, both maximize the probability of feasibility instead, as the single-objective
constrained acquisitions do. A batch (``q > 1``) is chosen greedily, one point at a time, each
with the earlier ones pending (BoTorch's ``sequential=True``, which its tutorial uses for qNEHVI).

BoTorch 0.18 compiles a fused C++ kernel of qLogEHVI (``-march=native``) the first time one is
built, if a compiler is found: 30 s or more inside an ask, code tuned to one machine, results that
depend on whether a compiler was there. :func:`pure_python_kernels` keeps asktell's asks on BoTorch's
pure-PyTorch path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogProbabilityOfFeasibility
from botorch.acquisition.logei import qLogProbabilityOfFeasibility
from botorch.acquisition.multi_objective import logei as _mo_logei
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import (
    IdentityMCMultiOutputObjective,
    MCMultiOutputObjective,
)
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.multi_objective.utils import get_default_partitioning_alpha
from botorch.sampling import SobolQMCNormalSampler

from asktell.acquisition.bo import MC_SAMPLES, AcquisitionInputs, OptimizerSettings, maximize
from asktell.acquisition.constrained import _Scaled, quiet
from asktell.acquisition.prior import prior_guided
from asktell.pareto import non_dominated
from asktell.surrogates.warp import inverse_log_warp

MULTIOBJECTIVE = ("qlognehvi", "parego")
HYPERVOLUME_OBJECTIVES = 4  # the default uses qLogNEHVI up to this many objectives, ParEGO above
# the approximation level of qLogNEHVI's box decompositions by number of objectives (0: exact);
# BoTorch's get_default_partitioning_alpha for the others
PARTITIONING_ALPHA = {2: 0.0, 3: 0.0, 4: 1e-2}
MAX_CENTERS = 8  # front points an ask sprays L-BFGS restarts around
HYPERVOLUME_SAMPLES = 64  # qLogNEHVI's quasi-MC samples from 4 objectives on (MC_SAMPLES below)


def partitioning_alpha(n_objectives: int) -> float:
    """How coarse qLogNEHVI's box decompositions of the non-dominated region may be (BoTorch's
    ``alpha``: boxes that add less than this fraction of the volume are not split off): exact up
    to 3 objectives, :data:`PARTITIONING_ALPHA` for 4, BoTorch's default above."""
    if n_objectives in PARTITIONING_ALPHA:
        return PARTITIONING_ALPHA[n_objectives]
    return float(get_default_partitioning_alpha(n_objectives))


def hypervolume_samples(n_objectives: int) -> int:
    """qLogNEHVI's quasi-MC samples: :data:`asktell.acquisition.bo.MC_SAMPLES` up to 3 objectives,
    :data:`HYPERVOLUME_SAMPLES` from 4 on (each sample's front gets its own box decomposition, the
    bulk of an ask's cost there)."""
    return MC_SAMPLES if n_objectives <= 3 else HYPERVOLUME_SAMPLES


def resolve(acquisition: str, n_objectives: int) -> str:
    """The acquisition a multi-objective ask runs for BayesOpt's ``acquisition`` option:
    ``"qlognehvi"`` or ``"parego"`` as named, and for the default ``"qlognei"`` qLogNEHVI up to
    :data:`HYPERVOLUME_OBJECTIVES` objectives, ParEGO above."""
    if acquisition in MULTIOBJECTIVE:
        return acquisition
    return "qlognehvi" if n_objectives <= HYPERVOLUME_OBJECTIVES else "parego"


class Unwarped(MCMultiOutputObjective):
    """The objectives' samples in their own units (negated): output ``j`` of ``m`` as it is, or,
    for an objective whose GP regresses the log-warped values, mapped back through the warp.

    Samples ``... x q x (m + k)`` to ``... x q x m``. Output ``j`` of a warped objective is the
    negated warped value ``-w(y)``; its sample ``z`` becomes ``-w^{-1}(-z)``, the negated value
    (:func:`asktell.surrogates.warp.inverse_log_warp`, monotone, so the front is unchanged but its
    hypervolume is measured in the objective's units).
    """

    def __init__(self, observed: tuple[torch.Tensor | None, ...]) -> None:
        """``observed[j]``: the observed values ``y`` (``n``) of objective ``j`` whose warp maps it
        back, or None for an objective modelled as it is."""
        super().__init__()
        self.observed = observed

    def forward(self, samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
        columns = []
        for j, y in enumerate(self.observed):
            z = samples[..., j]
            columns.append(z if y is None else -inverse_log_warp(-z, y))
        return torch.stack(columns, dim=-1)


@dataclass(frozen=True)
class MultiObjectiveInputs(AcquisitionInputs):
    """:class:`AcquisitionInputs` of a problem with ``m`` objectives (and maybe constraints).

    Attributes (beyond the base class's; ``model`` has ``m + k`` outputs):
        Y_observed: ``n x m`` the observed values, negated (BoTorch maximizes), in their units.
        ref_point: ``m`` the reference point, negated: BoTorch's (a point improves the hypervolume
            where its negated values exceed it in every objective).
        warped: ``m`` entries: objective ``j``'s observed values ``y`` (``n``) when its GP regresses
            log-warped values, else None (see :class:`Unwarped`).
        thresholds: ``k`` the constraint values' bounds (output ``m + j`` is feasible at most
            ``thresholds[j]``).
        scales: ``k`` their data's spread (positive).
        feasible: ``n`` booleans, whether each observed point kept every declared constraint.
    """

    ref_point: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    warped: tuple[torch.Tensor | None, ...] = ()
    thresholds: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    scales: torch.Tensor = field(default_factory=lambda: torch.ones(0))
    feasible: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))

    @property
    def m(self) -> int:
        return int(self.ref_point.shape[0])

    @property
    def k(self) -> int:
        return int(self.thresholds.shape[0])

    def objective(self) -> MCMultiOutputObjective:
        """The MC objective: the first ``m`` outputs, warped ones mapped back (:class:`Unwarped`)."""
        if any(y is not None for y in self.warped):
            return Unwarped(self.warped)
        return IdentityMCMultiOutputObjective(outcomes=list(range(self.m)))

    def callables(self) -> list[Callable[[torch.Tensor], torch.Tensor]] | None:
        """BoTorch's constraint callables, ``(c_j - t_j) / s_j`` of output ``m + j`` (feasible
        when ``<= 0``; the scales as in :mod:`asktell.acquisition.constrained`), or None."""
        if not self.k:
            return None
        return [_Scaled(self.m + j, float(self.thresholds[j]), float(self.scales[j])) for j in range(self.k)]


def qlognehvi(inputs: MultiObjectiveInputs, X_pending: torch.Tensor | None = None) -> AcquisitionFunction:
    """BoTorch's qLogNEHVI of the inputs (``X_pending``: ``p x d``, default the inputs')."""
    pending = inputs.pending if X_pending is None else X_pending
    return qLogNoisyExpectedHypervolumeImprovement(
        inputs.model,
        ref_point=inputs.ref_point.tolist(),
        X_baseline=inputs.X_observed,
        sampler=SobolQMCNormalSampler(torch.Size([hypervolume_samples(inputs.m)]), seed=inputs.seed),
        objective=inputs.objective(),
        constraints=inputs.callables(),
        X_pending=pending if pending is not None and pending.shape[0] else None,
        prune_baseline=True,
        alpha=partitioning_alpha(inputs.m),
    )


def parego(inputs: MultiObjectiveInputs, X_pending: torch.Tensor | None = None) -> AcquisitionFunction:
    """BoTorch's qLogNParEGO of the inputs, with scalarization weights drawn from the simplex (by
    torch's global generator, which the loop seeds for the ask)."""
    pending = inputs.pending if X_pending is None else X_pending
    return qLogNParEGO(
        inputs.model,
        X_baseline=inputs.X_observed,
        sampler=inputs.sampler(),
        objective=inputs.objective(),
        constraints=inputs.callables(),
        X_pending=pending if pending is not None and pending.shape[0] else None,
        prune_baseline=True,
    )


BUILDERS: dict[str, Callable[..., AcquisitionFunction]] = {"qlognehvi": qlognehvi, "parego": parego}


def probability_of_feasibility(inputs: MultiObjectiveInputs, q: int) -> AcquisitionFunction:
    """Log probability that a point (``q = 1``, nothing pending) or one of a batch keeps every
    constraint: outputs ``m .. m+k-1`` of the model."""
    if q == 1 and inputs.pending is None:
        bounds: dict[int, tuple[float | None, float | None]] = {
            inputs.m + j: (None, float(inputs.thresholds[j])) for j in range(inputs.k)
        }
        return LogProbabilityOfFeasibility(inputs.model, constraints=bounds)
    return qLogProbabilityOfFeasibility(
        inputs.model, constraints=inputs.callables() or [], sampler=inputs.sampler(), X_pending=inputs.pending
    )


def front_centers(
    X: torch.Tensor, y: torch.Tensor, feasible: torch.Tensor, violation: torch.Tensor
) -> torch.Tensor:
    """Where a multi-objective ask sprays L-BFGS restarts: the observed points (``X``: ``n x d``,
    values ``y``: ``n x m``, minimized) on the front of the feasible ones, at most
    :data:`MAX_CENTERS` spread along the first objective; while none is feasible, the three that
    violate their constraints least (``violation``: ``n``)."""
    if not bool(feasible.any()):
        return X[torch.topk(-violation, min(3, X.shape[0])).indices]
    rows = torch.nonzero(feasible).reshape(-1)
    front = rows[torch.from_numpy(non_dominated(y[rows].numpy()))]
    front = front[torch.argsort(y[front, 0], stable=True)]
    if front.shape[0] > MAX_CENTERS:
        front = front[torch.linspace(0, front.shape[0] - 1, MAX_CENTERS).round().long()]
    return X[front]


@contextlib.contextmanager
def pure_python_kernels() -> Iterator[None]:
    """Keep BoTorch's qLogEHVI family on its pure-PyTorch path inside the block: no fused C++
    kernel compiled or used (see the module's docstring). The caller holds asktell's global torch
    lock (:func:`asktell.surrogates.seeding.torch_global_seed`), as every ask does."""
    attempted, kernel = _mo_logei._load_attempted, _mo_logei._C
    _mo_logei._load_attempted, _mo_logei._C = True, None
    try:
        yield
    finally:
        _mo_logei._load_attempted, _mo_logei._C = attempted, kernel


@dataclass(frozen=True)
class MultiObjectiveResult:
    """The picks (``q x d``) and what to record about them: the acquisition used and whether the
    ask searched for feasibility (no feasible point observed yet)."""

    X: torch.Tensor
    acquisition: str
    feasibility_search: bool


def points(
    name: str,
    inputs: MultiObjectiveInputs,
    q: int,
    *,
    discrete_dims: dict[int, list[float]],
    cat_dims: dict[int, list[float]],
    settings: OptimizerSettings,
) -> MultiObjectiveResult:
    """``q`` points maximizing acquisition ``name`` (``"qlognehvi"`` or ``"parego"``), one at a
    time, each with the pending points and the earlier picks pending; while no observed point is
    feasible (a constrained problem), the batch maximizing the probability of feasibility.

    Randomness (pruning, ParEGO's weights, raw samples and restarts) comes from torch's global
    generator, which the caller seeds for the ask (:func:`asktell.acquisition.bo.optimize`).
    """
    dims = {"discrete_dims": discrete_dims, "cat_dims": cat_dims, "settings": settings}
    with quiet(), pure_python_kernels():
        if inputs.k and not bool(inputs.feasible.any()):
            X = maximize(prior_guided(probability_of_feasibility(inputs, q), inputs.prior), inputs, q, **dims)
            return MultiObjectiveResult(X, name, feasibility_search=True)
        build = BUILDERS[name]
        d = inputs.X_observed.shape[-1]
        chosen = torch.zeros(0, d, dtype=inputs.X_observed.dtype)
        acq = None
        for _ in range(q):
            pending = torch.cat([inputs.X_pending, chosen])
            if acq is None or name == "parego":  # ParEGO: new weights for every point
                acq = prior_guided(build(inputs, pending), inputs.prior)
            else:  # qLogNEHVI updates its box decompositions for the new pending point
                acq.set_X_pending(pending)
            chosen = torch.cat([chosen, maximize(acq, inputs, 1, **dims)])
    return MultiObjectiveResult(chosen, name, feasibility_search=False)
