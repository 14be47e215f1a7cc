"""BayesOpt: global Bayesian optimization as a stateless loop.

Each model-based ask rebuilds a BoTorch GP on the completed trials (failed ones never become values;
pending ones are passed to the acquisition function as ``X_pending``), warm-starts its
hyperparameters from the state's memo, and maximizes the acquisition function (qLogNEI by default).

The first ``n_init`` trials come from a scrambled Sobol design; by default
``n_init = min(max(5, d + 1), 20)`` for ``d`` parameters, a small design that leaves most of a
typical 40-100 evaluation budget to the model. A model-based ask falls back to the next Sobol point,
and records why in the trial's ``metadata["fallback"]``, while fewer than two trials have completed,
when all completed values are equal (nothing to model), or when the acquisition optimization fails.

Outcome constraints (``loop.init(space, constraints=["mem <= 4"])``): one GP per outcome beside the
objective's (:mod:`asktell.surrogates.outcomes`), each warm-started from the memo like the
objective's; the acquisition is constrained (:mod:`asktell.acquisition.constrained`: qLogNEI with
BoTorch's smoothed feasibility by default, the probability of feasibility until a feasible point is
observed, or CONFIG with ``acquisition="config"``). ``model_failures=True`` models failed
evaluations as one more constraint. The log warp applies to the objective only. A constrained
model-based trial also records ``feasibility_search: true`` when no feasible point had been
observed (the ask maximized the probability of feasibility), and CONFIG's ``infeasible: true``
when its optimistic problem was infeasible (``memo["infeasible"]`` holds the last model-based
ask's verdict).

Several objectives (``loop.init(space, n_objectives=3)``, all minimized): one GP per objective,
each warm-started from the memo and log-warped where its marginal likelihood prefers it (decided at
each cold fit, per objective), beside the constraint GPs; the acquisition is BoTorch's qLogNEHVI up
to four objectives and qLogNParEGO above or on request (:mod:`asktell.acquisition.multiobjective`),
against the state's reference point (``state.ref_point``; until the state infers one, one inferred
the same way from the completed values, for that ask only). ``predict`` returns every objective,
``recommend_front`` the recommended trade-offs (``recommend`` is for one objective).

Every model-based trial records ``fit_seconds`` and ``acq_seconds`` in its metadata. Like every
metadata key ending in ``_seconds`` they are measurements, the only part of an ask that differs
between two runs of the same state and call (see :mod:`asktell.state`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NotRequired, TypedDict

import torch
from botorch.acquisition import PosteriorMean
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import ModelListGP
from botorch.optim import optimize_acqf

from asktell.acquisition.bo import (
    ACQUISITIONS,
    NOT_PRIOR_GUIDED,
    AcquisitionInputs,
    OptimizerSettings,
    maximize,
    optimize,
    unasked,
)
from asktell.acquisition.colabo import COLABO_ACQUISITIONS
from asktell.acquisition.constrained import (
    CONSTRAINED,
    ConstrainedInputs,
    config_points,
    incumbents,
    quiet,
)
from asktell.acquisition.constrained import build as build_constrained
from asktell.acquisition.fast import fast_acquisition
from asktell.acquisition.multiobjective import MULTIOBJECTIVE, MultiObjectiveInputs, front_centers, resolve
from asktell.acquisition.multiobjective import points as multiobjective_points
from asktell.acquisition.prior import DEFAULT_PRIOR_BETA, PriorWeight, prior_exponent, prior_guided
from asktell.checks import MAX_NOISE_STD, MAX_SIZE, check_choice, check_positive
from asktell.errors import ConfigError, StateError
from asktell.loops.base import (
    Hyperparameters,
    Loop,
    Proposal,
    check_hyperparameters,
    check_sobol_count,
)
from asktell.loops.fit_plan import COLD, CONDITIONED, due_fit, plan_fit, stale_limit, stale_z2
from asktell.loops.random import require_sobol_dims, uniform_points
from asktell.loops.trajectory import encode_points, modelling_obstacle, sobol_design, trajectory
from asktell.pareto import infer_reference_point, non_dominated
from asktell.registry import register_loop
from asktell.rng import derive_seed
from asktell.space import Categorical
from asktell.state import COMPLETED, FAILED, Problem, State, Trial
from asktell.surrogates.cached import CachedPosterior
from asktell.surrogates.gp import GPFit, fit_gp
from asktell.surrogates.outcomes import (
    FAILURE,
    FAILURE_THRESHOLD,
    OutcomeFit,
    constraint_values,
    data_scale,
    feasibility,
    joint_model,
    log_feasibility,
    quiet_fits,
)
from asktell.surrogates.seeding import torch_global_seed, torch_rng
from asktell.surrogates.warp import inverse_log_warp, log_evidence, log_warp, log_warp_jacobian

POLISH_SHARE = 0.1  # budget: the last tenth of the trials polish the incumbent
POLISH_RADIUS = 0.05  # half-width of the polishing box, as a share of each coordinate's range
FAST = "fast path"  # what _optimize says when the fast path ran
PRIOR_METHODS = ("pibo", "colabo", "design")  # how a space's priors enter the asks (see BayesOpt)


@dataclass(frozen=True)
class Surrogate:
    """One ask's fitted model and exactly the data it was fitted on.

    Attributes:
        fit: the fitted GP (``fit.model``) and its hyperparameters.
        X: ``n x d`` completed points (unit cube).
        y: ``n`` their values, in the objective's units.
        Y: ``n x 1`` the model's targets: the values, log-warped when ``warped``, negated (BoTorch
            maximizes). The acquisition function reads its incumbent from these.
        warped: whether the model regresses log-warped values.
        outcomes: the GPs of the constraint values (declaration order), then the failure model's
            when there is one; empty for an unconstrained problem.
        C: ``n x k`` the observed constraint values ``c = -slack`` of the ``k`` declared outcomes.
        more: with several objectives, the 2nd to ``m``-th objectives' surrogates (each on the
            same ``X``, with its own ``y``, ``Y``, warp and fit; no outcomes); the fields above are
            the first objective's. Empty for one objective.
        plan: how the ask got its GPs: ``"cold"``, ``"warm"`` (fitted) or ``"conditioned"`` (the
            stored hyperparameters, no fit).
        stale_z2: when the ask checked the stored hyperparameters, the newest points' evidence
            against them (:func:`stale_z2`); None otherwise.
        posterior: the objective GP's cached posterior when the staleness check built one (the
            fast path's acquisition reuses its factor of the training covariance); else None.
    """

    fit: GPFit
    X: torch.Tensor
    y: torch.Tensor
    Y: torch.Tensor
    warped: bool
    outcomes: tuple[OutcomeFit, ...] = ()
    C: torch.Tensor | None = None
    more: tuple[Surrogate, ...] = ()
    plan: str = "warm"
    stale_z2: float | None = None
    posterior: CachedPosterior | None = None

    @property
    def objectives(self) -> tuple[Surrogate, ...]:
        """Every objective's surrogate, in objective order (one: this one)."""
        return (self, *self.more)

    @property
    def seconds(self) -> float:
        """Wall time of every fit of the ask: the objectives' and the outcomes'."""
        return (
            self.fit.seconds
            + sum(o.fit.seconds for o in self.more)
            + sum(o.fit.seconds for o in self.outcomes)
        )

    @property
    def notes(self) -> list[str]:
        return (
            list(self.fit.notes)
            + [f"objective {j + 2}: {n}" for j, o in enumerate(self.more) for n in o.fit.notes]
            + [f"{o.name}: {n}" for o in self.outcomes for n in o.fit.notes]
        )


@dataclass(frozen=True)
class Prediction:
    """The surrogate's belief about the objective at ``b`` points, in the objective's units.

    ``median`` (``b``) is the posterior mean of a GP on the raw values (where mean and median
    agree), or the back-transformed mean of a GP on log-warped values; ``lower`` and ``upper``
    (``b``) are the back-transformed mean -/+ 2 posterior standard deviations (about a 95% band).
    With ``m > 1`` objectives the three are ``b x m``: column ``j`` is objective ``j``'s, from its
    own GP and warp.
    Constrained problems (or ``model_failures``) add ``constraints``, ``feasibility`` and
    ``failure`` (:class:`OutcomePrediction`); otherwise they are empty and None.
    """

    median: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    constraints: dict[str, OutcomePrediction] = field(default_factory=dict)
    feasibility: torch.Tensor | None = None
    failure: torch.Tensor | None = None


@dataclass(frozen=True)
class OutcomePrediction:
    """The surrogate's belief about one constrained outcome at ``b`` points, in its own units.

    ``mean``, ``lower``, ``upper`` (``b``): the posterior mean and the mean -/+ 2 standard
    deviations; ``probability`` (``b``): the posterior probability that the constraint holds.
    A :class:`Prediction` of a constrained problem maps each outcome's name to one, and its
    ``feasibility`` (``b``) is the probability that every constraint holds (times the probability
    of not failing, with ``model_failures``); ``failure`` (``b``) the probability that an evaluation
    there fails (with ``model_failures`` and at least one failed trial; else None).
    """

    mean: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    probability: torch.Tensor


# The functional form: its types are evaluated here, so ``NotRequired`` is seen (this module's
# ``from __future__ import annotations`` would leave a class body's annotations as strings).
BayesOptMemo = TypedDict(  # noqa: UP013 - the class form would hide NotRequired (see above)
    "BayesOptMemo",
    {
        "sobol_issued": int,  # points of the initial design (and fallbacks) handed out
        "gp": Hyperparameters | None,  # the last fit's hyperparameters: the next fit's warm start
        "fits": int,  # model fits so far (every ``cold_fit_every``-th is cold)
        # completed trials at the last fit (refit="auto" fits again when they grew by a quarter);
        # absent in states from before the rule: their next model-based ask fits
        "fitted_n": NotRequired[int],
        "cold_n": NotRequired[int],  # completed trials at the last cold fit (refit="auto")
        "warped": bool,  # whether the last cold fit chose the log warp
        # several objectives only (absent otherwise): "gp" and "warped" are the first objective's,
        # these the 2nd to m-th objectives' (m - 1 entries each, in objective order)
        "objective_gps": NotRequired[list[Hyperparameters]],
        "objective_warped": NotRequired[list[bool]],
        # constrained problems only (absent otherwise, so older states load and unconstrained
        # memos are what they were): each outcome's GP hyperparameters, by outcome name
        "constraint_gps": NotRequired[dict[str, Hyperparameters]],
        "failure_gp": NotRequired[Hyperparameters],  # model_failures=True, once a trial has failed
        "infeasible": NotRequired[bool],  # acquisition="config": the last model-based ask's declaration
    },
)


@register_loop
@dataclass(frozen=True)
class BayesOpt(Loop):
    """Bayesian optimization with a GP surrogate and a BoTorch acquisition function.

    Args:
        acquisition: ``"qlognei"`` (default), ``"logei"``, ``"ucb"``, ``"pi"``, ``"ts"`` or
            ``"config"``. With outcome constraints (or ``model_failures``): ``"qlognei"``,
            ``"logei"`` or ``"config"`` (:mod:`asktell.acquisition.constrained`); the others are
            refused at ``init``. Unconstrained, ``"config"`` is UCB (CONFIG's objective bound).
            With several objectives (:mod:`asktell.acquisition.multiobjective`): ``"qlognehvi"``
            (qLogNEHVI), ``"parego"`` (qLogNParEGO), or the default ``"qlognei"``, which then
            means qLogNEHVI up to 4 objectives and ParEGO above; each takes constraints, and the
            single-objective ones are refused at ``init`` (so are ``"qlognehvi"`` and
            ``"parego"`` with one objective). A trial's ``metadata["acquisition"]`` names the one
            its ask ran.
        n_init: size of the Sobol initial design (default: ``min(max(5, d + 1), 20)``).
        noise_std: observation noise in the objective's units: ``None`` infers it (default),
            ``0.0`` declares the function noiseless.
        min_noise: floor of an inferred noise variance, relative to the data's variance (``None``:
            BoTorch's default likelihood, whose floor is 1e-4).
        warp: ``"auto"`` (default) models ``log(y - min y + s)`` instead of ``y`` when that
            explains the values better (marginal likelihood, decided at each cold fit), ``"log"``
            always, ``"none"`` never (:mod:`asktell.surrogates.warp`).
        beta: exploration weight of UCB, and CONFIG's: its confidence bounds are
            ``mean -/+ sqrt(beta) std`` (BoTorch's convention; 2.0 gives 1.41 standard deviations).
        num_restarts, raw_samples, acq_maxiter: effort of the acquisition optimizer.
        max_fit_iter: L-BFGS iterations of a cold fit (from BoTorch's default hyperparameters).
        warm_fit_iter: L-BFGS iterations of a fit warm-started from the previous hyperparameters.
        cold_fit_every: every this many model fits, fit cold again (escapes a poor local optimum
            of the marginal likelihood that warm starts would keep). Stored states may call it
            ``refit_every``.
        refit: ``"auto"`` (default; with constraints or several objectives it means
            ``"always"``): an ask fits its GPs only when the data grew by a quarter since the
            last fit, or when the newest points' leave-one-out residuals under the
            stored hyperparameters say those went stale (their summed ``z^2`` above the 99%
            chi-square quantile; up to ``fit_subset`` completed trials); otherwise it
            conditions on the data with the stored hyperparameters, no L-BFGS. ``"always"``:
            every model-based ask fits (warm-started).
        budget: the number of trials the run will ask in all, when known (``minimize`` passes
            its ``n_trials``). The last tenth of them (at least one) *polish* the incumbent:
            a one-point ask with nothing pending, on a problem with one objective and no
            constraints, maximizes the posterior mean (BoTorch's ``PosteriorMean``) inside a
            box of half-width 0.05 of each coordinate's range around the incumbent (the
            completed point of best posterior mean), integer and categorical coordinates
            fixed at its values; ``metadata["polish"]`` says so. Where that point repeats a
            known one, the regular acquisition runs. None (default): no polishing.
        fit_subset: with more completed trials than this, the hyperparameters are fitted on a
            random subset of this size (a new one per ask) and the GP conditions on all trials
            with them: each L-BFGS step of a fit costs O(n^3) in the number of trials, and an ask
            with 500 trials took 1-19 s here without it.
        model_failures: model failed evaluations as one more constraint (the "hidden constraint"):
            a GP of the failure indicator over every finished trial, whose probability of staying
            below 1/2 multiplies into the feasibility (:mod:`asktell.surrogates.outcomes`).
            Without it (default) failed trials are ignored by the models.
        fast_path: asks for one point with nothing pending evaluate ``"qlognei"`` and ``"logei"``
            from a cached Cholesky factor (:mod:`asktell.acquisition.fast`: BoTorch's values, in
            a fraction of the time); ``False`` runs BoTorch's acquisition functions as they are.
        prior_method: how the space's priors (:mod:`asktell.priors`), where it has any, steer the
            asks. Each starts the initial design at the prior's mode and draws every other design
            point after it from the prior (through its quantile function, so those stay evenly
            spread in the prior's measure), the rest from the Sobol sequence; a trial's
            ``metadata["prior"]`` says ``"mode"`` or ``"draw"``. ``"pibo"`` (default) then
            weights the acquisition by the prior to the power ``beta / n`` at the ``n``-th
            model-based ask (:mod:`asktell.acquisition.prior`; ``metadata["prior_weight"]``),
            constraints and several objectives included; ``"ucb"``, ``"config"`` and ``"ts"``
            take no such weight and are refused at ``init`` with a prior space. ``"colabo"``:
            ColaBO (:mod:`asktell.acquisition.colabo`): the GP's sample paths are weighted by
            the prior at their maximizers (to the same power ``beta / n``) and ``"qlognei"`` or
            ``"ts"`` runs on them; one objective, no constraints. ``"design"``: the prior shapes
            the initial design only. ``metadata["prior_method"]`` names the one that ran.
        prior_beta: piBO's ``beta`` (how many asks the prior keeps its say): ``None`` (default)
            takes a tenth of the ``budget`` when there is one (SMAC3's ``n_trials / 10``), else
            10 (the piBO paper's choice for its 100 evaluations).
    """

    acquisition: str = "qlognei"
    n_init: int | None = None
    noise_std: float | None = None
    min_noise: float = 1e-6
    warp: str = "auto"
    beta: float = 2.0
    num_restarts: int = 4
    raw_samples: int = 256
    acq_maxiter: int = 50
    max_fit_iter: int = 200
    warm_fit_iter: int = 40
    cold_fit_every: int = 10
    fit_subset: int = 256
    model_failures: bool = False
    fast_path: bool = True
    refit: str = "auto"
    budget: int | None = None
    prior_method: str = "pibo"
    prior_beta: float | None = None
    name = "bayesopt"
    max_objectives = None
    supports_constraints = True
    renamed_options = {"refit_every": "cold_fit_every"}
    memo_schema = BayesOptMemo

    def _validate_config(self) -> None:
        check_choice("acquisition", self.acquisition, (*ACQUISITIONS, *MULTIOBJECTIVE))
        check_positive("n_init", self.n_init, integer=True, allow_none=True, at_most=MAX_SIZE)
        for key in (
            "num_restarts",
            "raw_samples",
            "acq_maxiter",
            "max_fit_iter",
            "warm_fit_iter",
            "fit_subset",
        ):
            check_positive(key, getattr(self, key), integer=True, at_most=MAX_SIZE)
        check_positive("cold_fit_every", self.cold_fit_every, integer=True)
        check_positive("noise_std", self.noise_std, allow_zero=True, allow_none=True, at_most=MAX_NOISE_STD)
        check_positive("min_noise", self.min_noise, allow_zero=True, allow_none=True)
        check_positive("beta", self.beta, allow_zero=True)
        check_choice("warp", self.warp, ("auto", "log", "none"))
        check_choice("model_failures", self.model_failures, (False, True))
        check_choice("fast_path", self.fast_path, (False, True))
        check_choice("refit", self.refit, ("auto", "always"))
        check_positive("budget", self.budget, integer=True, allow_none=True, at_most=MAX_SIZE)
        check_choice("prior_method", self.prior_method, PRIOR_METHODS)
        check_positive("prior_beta", self.prior_beta, allow_zero=True, allow_none=True, at_most=MAX_SIZE)
        if self.model_failures and self.acquisition not in (*CONSTRAINED, *MULTIOBJECTIVE):
            raise ConfigError(
                f"model_failures=True makes failures a constraint, and acquisition "
                f"{self.acquisition!r} takes no constraints; use one of {list(CONSTRAINED)}."
            )

    def _check_problem(self, problem: Problem) -> None:
        super()._check_problem(problem)
        m = problem.n_objectives
        if m > 1 and self.acquisition not in ("qlognei", *MULTIOBJECTIVE):
            raise ConfigError(
                f"acquisition {self.acquisition!r} optimizes one objective, and this problem has {m}; "
                "use 'qlognehvi' (qLogNEHVI), 'parego' (qLogNParEGO) or the default 'qlognei', which "
                "with several objectives runs qLogNEHVI up to 4 objectives and ParEGO above."
            )
        if m == 1 and self.acquisition in MULTIOBJECTIVE:
            raise ConfigError(
                f"acquisition {self.acquisition!r} is for several objectives, and this problem has "
                f"one; use one of {sorted(ACQUISITIONS)} (the default 'qlognei' is qLogNEI)."
            )
        if self.prior_method == "colabo" and (m > 1 or problem.constrained or self.model_failures):
            raise ConfigError(
                "prior_method='colabo' serves one objective without constraints here; with "
                "constraints or several objectives use prior_method='pibo' (the default)."
            )
        if m == 1 and problem.constrained and self.acquisition not in CONSTRAINED:
            raise ConfigError(
                f"acquisition {self.acquisition!r} takes no outcome constraints (BoTorch's form of it "
                f"has none); for a constrained problem use one of {list(CONSTRAINED)}."
            )

    def _constrained(self, state: State) -> bool:
        """Whether the asks model constraints: declared ones, or failures."""
        return state.problem.constrained or self.model_failures

    def _check_space(self, space) -> None:
        require_sobol_dims(space, "BayesOpt")  # the initial design
        if space.has_priors and self.prior_method == "pibo" and self.acquisition in NOT_PRIOR_GUIDED:
            raise ConfigError(
                f"this space has priors, which piBO multiplies into the acquisition, and "
                f"{self.acquisition!r} takes no such weight (its values can be negative); use "
                "acquisition='qlognei' (the default), 'logei' or 'pi', prior_method='colabo' (with "
                "'ts'), or prior_method='design' to use the prior for the initial design only."
            )
        if space.has_priors and self.prior_method == "colabo" and space.categorical_dims():
            raise ConfigError(
                "prior_method='colabo' draws the GP's sample paths from BoTorch's random features, "
                "which have none for the categorical kernel of this space's categorical parameters; "
                "use prior_method='pibo' (the default)."
            )
        if space.has_priors and self.prior_method == "colabo" and self.acquisition not in COLABO_ACQUISITIONS:
            raise ConfigError(
                f"prior_method='colabo' drives {list(COLABO_ACQUISITIONS)} on its prior-weighted "
                f"sample paths, not {self.acquisition!r}; use prior_method='pibo' for it."
            )

    def _prior_info(self, state: State, acquisition: str) -> dict[str, Any]:
        """``prior_weight`` (the exponent) and ``prior_method`` for a model-based ask's metadata,
        where a prior weighted it."""
        weight = self._prior_weight(state)
        if weight is None or acquisition == "posterior_mean":
            return {}
        return {"prior_weight": weight.exponent, "prior_method": weight.method}

    def _prior_weight(self, state: State) -> PriorWeight | None:
        """This ask's prior weight (piBO's or ColaBO's): the prior to the power ``beta / n`` at the
        ``n``-th model-based ask (``beta``: ``prior_beta``, else a tenth of the ``budget``, else
        :data:`~asktell.acquisition.prior.DEFAULT_PRIOR_BETA`); None without priors or with
        ``prior_method="design"``."""
        if not state.space.has_priors or self.prior_method == "design":
            return None
        beta = self.prior_beta
        if beta is None:
            beta = self.budget / 10 if self.budget is not None else DEFAULT_PRIOR_BETA
        n = len(state.trials) - self.initial_design_size(state.space.dim) + 1
        return PriorWeight(state.space, prior_exponent(beta, n), self.prior_method)

    def _check_memo(self, state: State) -> None:
        memo = state.memo
        check_sobol_count(state, memo["sobol_issued"])
        check_hyperparameters(memo["gp"])
        for key in ("sobol_issued", "fits"):
            if memo[key] < 0:
                raise StateError(f"the memo's {key} must be >= 0, got {memo[key]}.")
        for key in ("fitted_n", "cold_n"):
            if key in memo and not 0 <= memo[key] <= len(state.completed):
                raise StateError(
                    f"the memo's {key} is {memo[key]}, but the state has "
                    f"{len(state.completed)} completed trials; the state was edited or mixed up."
                )
        if "constraint_gps" in memo:
            names = state.problem.outcome_names
            stored = list(memo["constraint_gps"])
            if sorted(stored) != sorted(names):
                raise StateError(
                    f"the memo's constraint_gps are for the outcomes {sorted(stored)[:10]}, but the "
                    f"problem constrains {names}; the state was edited or mixed up."
                )
            for gp in memo["constraint_gps"].values():
                check_hyperparameters(gp)
        if "failure_gp" in memo:
            if not self.model_failures:
                raise StateError("the memo has a failure_gp, but this loop does not model failures.")
            check_hyperparameters(memo["failure_gp"])
        if "infeasible" in memo and not (self.acquisition == "config" and self._constrained(state)):
            raise StateError(
                "the memo records an infeasibility declaration, which only CONFIG on a constrained "
                "problem makes; the state was edited or mixed up."
            )
        self._check_objective_memo(state)

    def _check_objective_memo(self, state: State) -> None:
        """The 2nd to m-th objectives' warm starts: present with m - 1 entries each once a model
        was fitted (``gp`` not null) on a problem with several objectives, absent with one."""
        memo, m = state.memo, state.n_objectives
        keys = [key for key in ("objective_gps", "objective_warped") if key in memo]
        if m == 1:
            if keys:
                raise StateError(
                    f"the memo has {keys}, which only a problem with several objectives has; "
                    "the state was edited or mixed up."
                )
            return
        if memo["gp"] is not None and len(keys) < 2:
            raise StateError(
                "the memo has the first objective's GP but not objective_gps and objective_warped "
                f"(the other {m - 1} objectives'); the state was edited or mixed up."
            )
        for key in keys:
            if len(memo[key]) != m - 1:
                raise StateError(
                    f"the memo's {key} has {len(memo[key])} entries; the problem's 2nd to last "
                    f"objectives are {m - 1}."
                )
        for gp in memo.get("objective_gps", []):
            check_hyperparameters(gp)

    def initial_design_size(self, dim: int) -> int:
        return self.n_init if self.n_init is not None else min(max(5, dim + 1), 20)

    def _init_memo(self, space, seed) -> dict[str, Any]:
        return {"sobol_issued": 0, "gp": None, "fits": 0, "warped": False}

    # --- ask ----------------------------------------------------------------------------------
    def _propose(self, state: State, n: int) -> Proposal:
        """Sobol points while the design lasts, then the acquisition's optimum.

        The data flow one way: the trajectory is built once; :meth:`_fit` returns the model with
        the targets and the warp it was fitted on; the acquisition uses exactly those; the new
        memo is assembled once, at the end.
        """
        issued = int(state.memo["sobol_issued"])
        design_size = self.initial_design_size(state.space.dim)
        n_design = max(0, min(n, design_size - len(state.trials)))
        params, metadata = sobol_design(state, issued, n_design, prior_until=design_size)
        issued += n_design
        n_model = n - n_design
        fitted: dict[str, Any] = {}  # what a model-based ask adds to the memo
        reason = modelling_obstacle(state) if n_model else None
        if n_model and not reason:
            points, info, fitted = self._model_points(state, params, n_model)
            if points is None:  # the acquisition optimization failed: Sobol points, said so
                reason = info[0]["fallback"]
            else:
                params, metadata, n_model = params + points, metadata + info, 0
        if n_model:
            more, info = sobol_design(state, issued, n_model, reason)
            params, metadata, issued = params + more, metadata + info, issued + n_model
        return Proposal(params, {**state.memo, **fitted, "sobol_issued": issued}, metadata)

    def _model_points(
        self, state: State, design: list[dict[str, Any]], q: int
    ) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]], dict[str, Any]]:
        """``q`` points from the surrogate, given this ask's ``design`` points (pending too): the
        points (None when the acquisition optimization failed), their metadata (one entry with the
        reason then) and the memo's new model entries."""
        X, y = _trajectory(state)
        pending = [t.params for t in state.pending] + design
        acquisition = self.acquisition  # the one the ask runs (several objectives: resolved)
        # BoTorch draws restarts, raw samples and sample paths from torch's global generator; it
        # is seeded from (seed, counter) for the whole section, alone (asktell.rng)
        with torch_global_seed(state.seed, "bayesopt", state.counter):
            surrogate = self._fit(state, X, y)
            start = time.perf_counter()
            extra: dict[str, Any] = {}  # what the constrained acquisition says about the asks
            X_new: torch.Tensor | None
            try:
                if surrogate.more:
                    acquisition = resolve(self.acquisition, state.n_objectives)
                    X_new, extra = self._optimize_multiobjective(state, surrogate, pending, acquisition, q)
                elif surrogate.outcomes:
                    X_new, extra = self._optimize_constrained(state, surrogate, pending, q=q)
                else:
                    polished = self._polish(state, surrogate, pending, q) if self._polishing(state) else None
                    if polished is not None:
                        X_new, acquisition, extra = polished, "posterior_mean", {"polish": True}
                    else:
                        X_new, acquisition = self._optimize(state, surrogate, pending, q=q)
                    if acquisition == FAST:
                        acquisition, extra = self.acquisition, {"fast_path": True}
                notes = surrogate.notes
            except Exception as exc:  # noqa: BLE001 - a failed optimization must not fail the ask
                X_new = None
                notes = [
                    *surrogate.notes,
                    f"acquisition optimization failed ({type(exc).__name__}: {exc})",
                ]
            acq_seconds = time.perf_counter() - start
        refitted = surrogate.plan != CONDITIONED
        fitted: dict[str, Any] = {
            "gp": surrogate.fit.hyperparameters,
            "fits": state.memo["fits"] + refitted,
            "fitted_n": int(X.shape[0]) if refitted else state.memo["fitted_n"],
            "cold_n": int(X.shape[0])
            if surrogate.plan == COLD
            else state.memo.get("cold_n", int(X.shape[0])),
            "warped": surrogate.warped,
        }
        if surrogate.more:
            fitted["objective_gps"] = [o.fit.hyperparameters for o in surrogate.more]
            fitted["objective_warped"] = [o.warped for o in surrogate.more]
        for outcome in surrogate.outcomes:
            if outcome.constraint is not None:
                fitted.setdefault("constraint_gps", {})[outcome.name] = outcome.fit.hyperparameters
            else:
                fitted["failure_gp"] = outcome.fit.hyperparameters
        if "infeasible" in extra:
            fitted["infeasible"] = extra["infeasible"]
        if X_new is None:
            return None, [{"fallback": "; ".join(notes)}], fitted
        info = {
            "model": "gp",
            "acquisition": acquisition,
            "n_train": int(X.shape[0]),
            "warm_start": surrogate.fit.warm_started,
            "fit": surrogate.plan,
            "fit_seconds": surrogate.seconds,
            "acq_seconds": acq_seconds,
            **{k: v for k, v in extra.items() if v},
            **self._prior_info(state, acquisition),
        }
        if surrogate.stale_z2 is not None:
            info["stale_z2"] = surrogate.stale_z2
        if notes:
            info["fallback"] = "; ".join(notes)
        deduped = self._dedupe(state, state.space.decode_many(X_new), design)
        return [point for point, _ in deduped], [{**info, **note} for _, note in deduped], fitted

    def _warped(self, stored: bool) -> bool:
        """Whether the model of a warm fit regresses warped values (the last cold fit's choice,
        ``stored``)."""
        return self.warp == "log" or (self.warp == "auto" and bool(stored))

    def _cat_dims(self, state: State) -> list[int]:
        return [i for i, p in enumerate(state.space.params.values()) if isinstance(p, Categorical)]

    def _fit(self, state: State, X: torch.Tensor, y: torch.Tensor) -> Surrogate:
        """The ask's GPs on ``X`` (``n x d``) and ``y`` (``n``; with ``m`` objectives ``n x m``, one
        GP per column), and on the outcomes of a constrained problem, as :meth:`_fit_plan` says:
        conditioned on the data with the memo's hyperparameters, or fitted (warm-started from
        them, or cold). A conditioned surrogate whose newest points the stored hyperparameters
        predict badly (:func:`stale_z2` above :func:`stale_limit`) is fitted warm after all; with
        more than ``fit_subset`` completed trials only the schedule refits.
        The memo is only read.
        """
        plan = self._fit_plan(state, X.shape[0])
        surrogate = self._fit_models(state, X, y, plan)
        if plan != CONDITIONED:
            return surrogate
        n_new = X.shape[0] - int(state.memo["fitted_n"])
        if X.shape[0] > self.fit_subset:
            # the schedule alone: hyperparameters fitted on a subset predict the asked points
            # overconfidently (measured: z^2 of 8-29 at 500 Hartmann6 trials, refits or not)
            return replace(surrogate, plan=CONDITIONED)
        posteriors = [CachedPosterior(model) for model in _checked_models(surrogate)]
        score = stale_z2(posteriors, n_new)
        if n_new <= 0 or score <= stale_limit(n_new):
            return replace(surrogate, plan=CONDITIONED, stale_z2=score, posterior=posteriors[0])
        refit = self._fit_models(state, X, y, self._due_fit(state))
        refit.fit.seconds += surrogate.seconds  # the ask paid for both
        return replace(refit, stale_z2=score)

    def _fit_plan(self, state: State, n: int) -> str:
        """How this ask gets its GPs from ``n`` completed trials (:func:`plan_fit`)."""
        return plan_fit(state.memo, n, fits_less=self._fits_less(state), cold_fit_every=self.cold_fit_every)

    def _fits_less(self, state: State) -> bool:
        """Whether ``refit="auto"`` applies: one objective and no constraints (failures modelled
        count as one). With outcome GPs or several objectives every ask fits, as with
        ``"always"``: there the acquisition dominates the ask, and on held-out seeds of the
        pressure vessel (4 constraints) conditioned outcome GPs ended in the worse basin in three
        of four seeds (final regret 196-372 against ~22), at the same cost per ask."""
        return self.refit == "auto" and not self._constrained(state) and state.n_objectives == 1

    def _due_fit(self, state: State) -> str:
        """The fit this ask makes when it fits (:func:`due_fit`)."""
        return due_fit(
            state.memo,
            len(state.completed),
            fits_less=self._fits_less(state),
            cold_fit_every=self.cold_fit_every,
        )

    def _fit_models(self, state: State, X: torch.Tensor, y: torch.Tensor, plan: str) -> Surrogate:
        """Every GP of the ask, as ``plan`` says (see :meth:`_fit`).

        With ``warp="auto"``, each cold fit also fits the log-warped values and keeps the model
        whose marginal likelihood of the *original* values is higher (the warped one's includes
        the log map's Jacobian), so the choice is a likelihood comparison, not a threshold; with
        several objectives each makes its own choice.
        """
        memo = state.memo
        cold = plan == COLD
        options: dict[str, Any] = {
            "cat_dims": self._cat_dims(state),
            "noise_std": self.noise_std,
            "max_fit_iter": self.max_fit_iter,
            "min_noise": self.min_noise,
            "warm_fit_iter": 0 if plan == CONDITIONED else self.warm_fit_iter,
        }
        if y.ndim == 1:
            first = self._fit_objective(state, X, y, memo["gp"], memo["warped"], cold, options)
        else:
            warm = [memo["gp"], *memo.get("objective_gps", [None] * (y.shape[-1] - 1))]
            warps = [memo["warped"], *memo.get("objective_warped", [False] * (y.shape[-1] - 1))]
            with warnings.catch_warnings():
                # one objective may be constant while the others vary (one objective alone is
                # not modelled then); BoTorch notes that its standardized data has no spread
                warnings.filterwarnings(
                    "ignore", message="Data \\(outcome observations\\) is not standardized"
                )
                fits = [
                    self._fit_objective(state, X, y[:, j], warm[j], warps[j], cold, options)
                    for j in range(y.shape[-1])
                ]
            first = replace(fits[0], more=tuple(fits[1:]))
        first = replace(first, plan=plan)
        if not self._constrained(state):
            return first
        outcomes, C = self._fit_outcomes(state, X, cold, options)
        return replace(first, outcomes=outcomes, C=C)

    def _fit_objective(
        self,
        state: State,
        X: torch.Tensor,
        y: torch.Tensor,
        warm_start: dict[str, Any] | None,
        warped: bool,
        cold: bool,
        options: dict[str, Any],
    ) -> Surrogate:
        """One objective's GP on ``X`` (``n x d``) and its values ``y`` (``n``), from its stored
        hyperparameters ``warm_start`` and warp ``warped`` (unless ``cold``); at a cold fit with
        ``warp="auto"`` the better of the plain and the log-warped model."""
        choices = [False, True] if cold and self.warp == "auto" else [self._warped(warped)]
        best: tuple[float, Surrogate] | None = None
        seconds = 0.0  # of every fit, so that fit_seconds says what the ask spent on the model
        for warp in choices:
            Y = -(log_warp(y) if warp else y).unsqueeze(-1)
            fit = self._fit_targets(state, X, Y, None if cold else warm_start, options, "fit-subset")
            surrogate = Surrogate(fit=fit, X=X, y=y, Y=Y, warped=warp)
            if len(choices) == 1:
                best = (0.0, surrogate)
                break
            score = log_evidence(fit.model) + (log_warp_jacobian(y) if warp else 0.0)
            if best is None or score > best[0]:
                best = (score, surrogate)
            seconds += fit.seconds
        assert best is not None
        if len(choices) > 1:
            best[1].fit.seconds = seconds
        return best[1]

    def _fit_targets(
        self,
        state: State,
        X: torch.Tensor,
        Y: torch.Tensor,
        warm_start: dict[str, Any] | None,
        options: dict[str, Any],
        key: str,
    ) -> GPFit:
        """Fit one GP on ``X`` (``n x d``) and ``Y`` (``n x 1``) from ``warm_start`` (None: cold);
        with more than ``fit_subset`` points, on a random subset (drawn from ``key``), then
        conditioned on all of them with those hyperparameters."""
        options = dict(options)
        warm_iter, subset_seconds = options.pop("warm_fit_iter"), 0.0
        given = warm_start
        if X.shape[0] > self.fit_subset and (warm_start is None or warm_iter > 0):
            generator = torch_rng(state.seed, key, state.counter)
            rows = torch.randperm(X.shape[0], generator=generator)[: self.fit_subset]
            subset_fit = fit_gp(X[rows], Y[rows], warm_start=warm_start, warm_fit_iter=warm_iter, **options)
            warm_start, subset_seconds = subset_fit.hyperparameters, subset_fit.seconds
            warm_iter = 0  # condition on all trials with the subset's values
        fit = fit_gp(X, Y, warm_start=warm_start, warm_fit_iter=warm_iter, **options)
        fit.seconds += subset_seconds
        fit.warm_started = given is not None
        return fit

    def _fit_outcomes(
        self, state: State, X: torch.Tensor, cold: bool, options: dict[str, Any]
    ) -> tuple[tuple[OutcomeFit, ...], torch.Tensor]:
        """One GP per declared outcome on the completed trials ``X`` (``n x d``), of ``c = -slack``,
        then with ``model_failures`` the failure indicator's over every finished trial; each
        warm-started from the memo (cold with the objective's). Also returns the observed
        constraint values ``C`` (``n x k``).

        A noiseless problem (``noise_std=0``) has noiseless outcomes too; otherwise each infers
        its noise (``noise_std`` is in the objective's units). The failure indicator's GP always
        infers its noise, with BoTorch's default floor: a 0/1 step is not a function to interpolate.
        """
        with quiet_fits():
            return self._fit_outcome_gps(state, X, cold, options)

    def _fit_outcome_gps(
        self, state: State, X: torch.Tensor, cold: bool, options: dict[str, Any]
    ) -> tuple[tuple[OutcomeFit, ...], torch.Tensor]:
        memo, done = state.memo, state.completed
        stored = {} if cold else dict(memo.get("constraint_gps") or {})
        own = {**options, "noise_std": 0.0 if self.noise_std == 0 else None}
        fits: list[OutcomeFit] = []
        columns = []
        for constraint in state.constraints:
            C = constraint_values(constraint, [t.constraints[constraint.name] for t in done])  # type: ignore[index]
            fit = self._fit_targets(state, X, C, stored.get(constraint.name), own, "fit-subset")
            fits.append(OutcomeFit(constraint.name, fit, 0.0, data_scale(fit), constraint))
            columns.append(C)
        finished = state.with_status(COMPLETED, FAILED)
        failed = [1.0 if t.status == FAILED else 0.0 for t in finished]
        if self.model_failures and 0.0 < sum(failed) < len(failed):
            X_all = encode_points(state.space, [t.params for t in finished])
            labels = torch.tensor(failed, dtype=torch.float64).unsqueeze(-1)
            warm = None if cold else memo.get("failure_gp")
            fit = self._fit_targets(
                state, X_all, labels, warm, {**options, "noise_std": None, "min_noise": None}, "fit-failures"
            )
            fits.append(OutcomeFit(FAILURE, fit, FAILURE_THRESHOLD, data_scale(fit)))
        C = torch.cat(columns, dim=-1) if columns else torch.zeros(X.shape[0], 0, dtype=torch.float64)
        return tuple(fits), C

    def _optimize(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]], q: int
    ) -> tuple[torch.Tensor, str]:
        """The acquisition's ``q x d`` maximizers, given the trials still ``pending`` (dicts), and
        the acquisition that ran: its name, or :data:`FAST` when the fast path computed it
        (:mod:`asktell.acquisition.fast`; the trial's ``metadata["fast_path"]`` says so)."""
        inputs = AcquisitionInputs(
            model=surrogate.fit.model,
            X_observed=surrogate.X,
            Y_observed=surrogate.Y,
            X_pending=encode_points(state.space, pending),
            X_avoid=_asked(state, pending),
            seed=derive_seed(state.seed, "qmc", state.counter) % (2**31),
            options={"beta": self.beta},
            prior=self._prior_weight(state),
        )
        dims = {"discrete_dims": state.space.discrete_dims(), "cat_dims": state.space.categorical_dims()}
        settings = OptimizerSettings(self.num_restarts, self.raw_samples, self.acq_maxiter)
        fast = None
        if self.fast_path and (inputs.prior is None or inputs.prior.method == "pibo"):
            fast = fast_acquisition(
                self.acquisition,
                inputs.model,
                surrogate.X,
                surrogate.Y,
                inputs.sampler(),
                q,
                len(pending),
                posterior=surrogate.posterior,
            )
        if fast is not None:
            return maximize(prior_guided(fast, inputs.prior), inputs, q, settings=settings, **dims), FAST
        return optimize(self.acquisition, inputs, q, settings=settings, **dims), self.acquisition

    def _polishing(self, state: State) -> bool:
        """Whether this ask is among the last :data:`POLISH_SHARE` of the ``budget``."""
        if self.budget is None:
            return False
        return len(state.trials) >= self.budget - max(1, math.ceil(POLISH_SHARE * self.budget))

    def _polish(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]], q: int
    ) -> torch.Tensor | None:
        """The posterior mean's maximizer (``1 x d``; the model regresses the negated, maybe
        warped, values, so it is the predicted minimizer) in a box of half-width
        :data:`POLISH_RADIUS` around the completed point of best posterior mean, discrete and
        categorical coordinates fixed there; None where polishing does not apply (a batch, a
        pending point, no continuous coordinate) or its point repeats a known one."""
        discrete = {**state.space.discrete_dims(), **state.space.categorical_dims()}
        d = surrogate.X.shape[-1]
        if q != 1 or pending or len(discrete) == d:
            return None
        model = surrogate.fit.model
        with torch.no_grad():
            center = surrogate.X[int(model.posterior(surrogate.X).mean.reshape(-1).argmax())]
        lower = (center - POLISH_RADIUS).clamp(0.0, 1.0)
        upper = (center + POLISH_RADIUS).clamp(0.0, 1.0)
        fixed = {i: float(center[i]) for i in discrete}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", OptimizationWarning)
            X, _ = optimize_acqf(
                PosteriorMean(model),
                bounds=torch.stack([lower, upper]),
                q=1,
                num_restarts=self.num_restarts,
                raw_samples=self.raw_samples,
                fixed_features=fixed or None,
                options={"maxiter": self.acq_maxiter},
            )
        X = X.detach().reshape(1, d)
        if bool(unasked(X, _asked(state, pending)).shape[0] == 0):
            return None
        point = state.space.decode_many(X)[0]
        if _key(point) in {_key(t.params) for t in state.trials}:  # the same point once decoded
            return None
        return X

    def _optimize_constrained(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]], q: int
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """The constrained acquisition's ``q x d`` maximizers and what to record about them:
        ``infeasible`` (CONFIG's declaration) or ``feasibility_search`` (no feasible point observed
        yet: the ask maximized the probability of feasibility)."""
        inputs = self._constrained_inputs(state, surrogate, pending)
        dims = {"discrete_dims": state.space.discrete_dims(), "cat_dims": state.space.categorical_dims()}
        settings = OptimizerSettings(self.num_restarts, self.raw_samples, self.acq_maxiter)
        with quiet():
            if self.acquisition == "config":
                result = config_points(inputs, q, data_scale(surrogate.fit), settings=settings, **dims)
                return result.X, {"infeasible": result.infeasible}
            acq = build_constrained(self.acquisition, inputs, q)
            X = maximize(acq, inputs, q, settings=settings, **dims)
        return X, {"feasibility_search": not bool(inputs.feasible.any())}

    def _constrained_inputs(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]]
    ) -> ConstrainedInputs:
        """What the constrained acquisition reads: the joint model of the objective and the
        outcomes, their thresholds and scales, which observed points are feasible, the pending
        points, and where to spray restarts (the best feasible points, or the least infeasible)."""
        outcomes = surrogate.outcomes
        thresholds = torch.tensor([o.threshold for o in outcomes], dtype=torch.float64)
        scales = torch.tensor([o.scale for o in outcomes], dtype=torch.float64)
        feasible = torch.tensor([bool(t.feasible) for t in state.completed])
        assert surrogate.C is not None
        k = surrogate.C.shape[-1]  # the declared outcomes come first; the failure model last
        violation = (surrogate.C / scales[:k]).clamp_min(0).sum(-1)
        return ConstrainedInputs(
            model=joint_model(surrogate.fit.model, surrogate.Y, outcomes, surrogate.C),
            X_observed=surrogate.X,
            Y_observed=surrogate.Y,
            X_pending=encode_points(state.space, pending),
            X_avoid=_asked(state, pending),
            seed=derive_seed(state.seed, "qmc", state.counter) % (2**31),
            options={"beta": self.beta},
            prior=self._prior_weight(state),
            centers=incumbents(surrogate.X, surrogate.Y.reshape(-1), feasible, violation),
            thresholds=thresholds,
            scales=scales,
            feasible=feasible,
            beta=self.beta,
        )

    def _optimize_multiobjective(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]], name: str, q: int
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """The ``q x d`` maximizers of the multi-objective acquisition ``name`` and what to record
        about them (``feasibility_search``, as the constrained single-objective asks)."""
        result = multiobjective_points(
            name,
            self._multiobjective_inputs(state, surrogate, pending),
            q,
            discrete_dims=state.space.discrete_dims(),
            cat_dims=state.space.categorical_dims(),
            settings=OptimizerSettings(self.num_restarts, self.raw_samples, self.acq_maxiter),
        )
        return result.X, {"feasibility_search": result.feasibility_search}

    def _multiobjective_inputs(
        self, state: State, surrogate: Surrogate, pending: list[dict[str, Any]]
    ) -> MultiObjectiveInputs:
        """What a multi-objective acquisition reads: BoTorch's ``ModelListGP`` of the objectives'
        GPs (in order) and then the outcomes', the observed values (negated), the reference point
        (the state's; until it has one, inferred from the completed values as the state will infer
        it, for this ask only), each warped objective's data, the constraints' bounds and scales,
        which observed points are feasible, the pending points, and where to spray restarts (the
        observed feasible front, or the least infeasible points)."""
        objectives = surrogate.objectives
        y = torch.stack([o.y for o in objectives], dim=-1)  # n x m, minimized
        feasible = torch.tensor([bool(t.feasible) for t in state.completed])
        ref = state.ref_point
        if ref is None:  # as the state will infer it: from the feasible values (all, before any)
            known = y[feasible] if bool(feasible.any()) else y
            ref = tuple(infer_reference_point(known.numpy()).tolist())
        outcomes = surrogate.outcomes
        scales = torch.tensor([o.scale for o in outcomes], dtype=torch.float64)
        C = surrogate.C
        violation = (
            (C / scales[: C.shape[-1]]).clamp_min(0).sum(-1) if C is not None else torch.zeros(y.shape[0])
        )
        models = [o.fit.model for o in objectives] + [o.fit.model for o in outcomes]
        return MultiObjectiveInputs(
            model=ModelListGP(*models),
            X_observed=surrogate.X,
            Y_observed=-y,
            X_pending=encode_points(state.space, pending),
            X_avoid=_asked(state, pending),
            seed=derive_seed(state.seed, "qmc", state.counter) % (2**31),
            prior=self._prior_weight(state),
            centers=front_centers(surrogate.X, y, feasible, violation),
            ref_point=-torch.tensor(ref, dtype=torch.float64),
            warped=tuple(o.y if o.warped else None for o in objectives),
            thresholds=torch.tensor([o.threshold for o in outcomes], dtype=torch.float64),
            scales=scales,
            feasible=feasible,
        )

    def _dedupe(
        self, state: State, candidates: list[dict[str, Any]], earlier: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Replace candidates that repeat a trial or each other by fresh random points.

        Integer and categorical coordinates snap to their allowed values, so in small discrete
        spaces the optimizer can land on a point already asked; asking it again would waste an
        evaluation (and hand one point to two workers).
        """
        seen = {_key(t.params) for t in state.trials} | {_key(p) for p in earlier}
        generator = torch_rng(state.seed, "dedupe", state.counter)
        out = []
        for point in candidates:
            note: dict[str, Any] = {}
            if _key(point) in seen:
                for _ in range(100):
                    point = uniform_points(state.space, 1, generator)[0]
                    if _key(point) not in seen:
                        break
                note = {"fallback": "the acquisition optimum repeated a known point; random point"}
            seen.add(_key(point))
            out.append((point, note))
        return out

    # --- the surrogate ------------------------------------------------------------------------
    def predict(self, state: State, points: Sequence[Mapping[str, Any]]) -> Prediction:
        """The GPs of the next ask, fitted as that ask would fit them, at ``points`` (``b`` dicts).

        Values are in the objective's units even when the loop models log-warped values; with
        ``m`` objectives ``median``, ``lower`` and ``upper`` are ``b x m`` (see
        :class:`Prediction`). In a constrained problem (or with ``model_failures``) the prediction
        also holds each outcome's mean, band and probability of keeping its bound (in the
        outcome's units), the probability of feasibility and, once a trial failed, the
        probability of failing (:class:`OutcomePrediction`). Raises StateError while there is
        nothing to model (fewer than two completed trials, all equal) and ParamError for points
        outside the space.
        """
        self._check_state(state)
        reason = modelling_obstacle(state)
        if reason:
            raise StateError(f"no surrogate yet: {reason}.")
        X = encode_points(state.space, [state.space.check(p) for p in points])
        X_train, y = _trajectory(state)
        with torch_global_seed(state.seed, "predict", state.counter):
            surrogate = self._fit(state, X_train, y)
        each_objective = [_objective_bands(o, X) for o in surrogate.objectives]
        if surrogate.more:
            bands = [torch.stack([b[i] for b in each_objective], dim=-1) for i in range(3)]
        else:
            bands = each_objective[0]
        if not surrogate.outcomes:
            return Prediction(bands[0], bands[1], bands[2])
        means, stds = _outcome_posterior(surrogate.outcomes, X)
        each, product = feasibility(surrogate.outcomes, means, stds)
        constraints, failure = {}, None
        for j, outcome in enumerate(surrogate.outcomes):
            if outcome.constraint is None:
                failure = 1.0 - each[:, j]
                continue
            ends = [outcome.outcome_units(means[:, j] + s * 2 * stds[:, j]) for s in (-1.0, 1.0)]
            constraints[outcome.name] = OutcomePrediction(
                mean=outcome.outcome_units(means[:, j]),
                lower=torch.minimum(*ends),
                upper=torch.maximum(*ends),
                probability=each[:, j],
            )
        return Prediction(
            bands[0], bands[1], bands[2], constraints=constraints, feasibility=product, failure=failure
        )

    # --- recommendation -----------------------------------------------------------------------
    def recommend(self, state: State) -> Trial | None:
        """The completed trial to use: the best observed value when the function is noiseless,
        else the completed point with the best posterior mean (a lucky noisy draw is not a
        recommendation).

        In a constrained problem, among the completed points likely feasible (posterior
        probability of feasibility at least 1/2, the failure model aside: these points did not
        fail); when none is, the one most likely feasible. Noiseless, the best feasible observed
        trial, when there is one, is certain and is the answer.

        With several objectives no single trial is best: raises StateError pointing to
        :meth:`recommend_front` (the recommended trade-offs) and ``state.pareto_front()``.
        """
        self._check_state(state)
        if state.n_objectives > 1:
            raise StateError(
                f"this problem has {state.n_objectives} objectives: no single trial is recommended; "
                "use loop.recommend_front(state) (the trade-offs by the posterior means) or "
                "state.pareto_front() (the observed non-dominated trials)."
            )
        constrained = state.problem.constrained
        if modelling_obstacle(state) or (self.noise_std == 0 and (not constrained or state.best())):
            return state.best()
        X, y = trajectory(state)
        with torch_global_seed(state.seed, "recommend", state.counter):
            surrogate = self._fit(state, X, y)
            with torch.no_grad():
                mean = surrogate.fit.model.posterior(X).mean.reshape(-1)
        if not constrained:
            return state.completed[int(mean.argmax())]
        declared = tuple(o for o in surrogate.outcomes if o.constraint is not None)
        log_likely = log_feasibility(declared, *_outcome_posterior(declared, X)).sum(-1)
        likely = log_likely >= math.log(0.5)
        if bool(likely.any()):
            score = torch.where(likely, mean, torch.full_like(mean, -math.inf))
            return state.completed[int(score.argmax())]
        return state.completed[int(log_likely.argmax())]

    def recommend_front(self, state: State) -> list[Trial]:
        """The completed trials to use as trade-offs, in id order: those whose posterior means
        (every objective's) no other completed trial's dominate, when the function is noisy (a
        lucky draw is not a trade-off); noiseless (``noise_std=0``), or while there is nothing to
        model, the observed front (``state.pareto_front()``).

        In a constrained problem, among the completed points likely feasible (as :meth:`recommend`
        chooses them); when none is, the one most likely feasible. One objective:
        ``[recommend(state)]`` (empty without a completed trial).
        """
        self._check_state(state)
        if state.n_objectives == 1:
            best = self.recommend(state)
            return [] if best is None else [best]
        constrained = state.problem.constrained
        if modelling_obstacle(state) or (self.noise_std == 0 and (not constrained or state.pareto_front())):
            return state.pareto_front()
        X, y = _trajectory(state)
        with torch_global_seed(state.seed, "recommend", state.counter):
            surrogate = self._fit(state, X, y)
            with torch.no_grad():
                # minimized, and warped where a GP is: a monotone map per objective keeps dominance
                means = -torch.cat([o.fit.model.posterior(X).mean for o in surrogate.objectives], dim=-1)
        rows = torch.arange(X.shape[0])
        if constrained:
            declared = tuple(o for o in surrogate.outcomes if o.constraint is not None)
            log_likely = log_feasibility(declared, *_outcome_posterior(declared, X)).sum(-1)
            likely = log_likely >= math.log(0.5)
            if not bool(likely.any()):
                return [state.completed[int(log_likely.argmax())]]
            rows = rows[likely]
        keep = rows[torch.from_numpy(non_dominated(means[rows].numpy()))]
        return [state.completed[int(i)] for i in keep]


def _asked(state: State, pending: list[dict[str, Any]]) -> torch.Tensor:
    """Every point asked so far, finished (completed or failed) and ``pending`` (the pending
    trials' and this ask's own earlier points), encoded: ``a x d``. An enumerated space proposes
    none of them."""
    finished = [t.params for t in state.with_status(COMPLETED, FAILED)]
    return encode_points(state.space, finished + pending)


def _checked_models(surrogate: Surrogate) -> list[Any]:
    """The GPs whose stored hyperparameters the staleness check tests: the objectives' (the
    first first) and the constraints'."""
    models = [o.fit.model for o in surrogate.objectives]
    return models + [o.fit.model for o in surrogate.outcomes if o.constraint is not None]


def _trajectory(state: State) -> tuple[torch.Tensor, torch.Tensor]:
    """The completed trials as ``X`` (``n x d``) and their values: ``n`` for one objective
    (:func:`asktell.loops.trajectory.trajectory`), ``n x m`` for ``m``."""
    if state.n_objectives == 1:
        return trajectory(state)
    done = state.completed
    X = encode_points(state.space, [t.params for t in done])
    values = [list(t.value) for t in done]  # type: ignore[arg-type]
    Y = torch.tensor(values, dtype=torch.float64).reshape(len(done), state.n_objectives)
    return X, Y


def _objective_bands(surrogate: Surrogate, X: torch.Tensor) -> list[torch.Tensor]:
    """One objective's posterior median, lower and upper band at ``X`` (``b x d``), in its units:
    ``b`` each (see :class:`Prediction`)."""
    with torch.no_grad():
        posterior = surrogate.fit.model.posterior(X)
        mean = -posterior.mean.reshape(-1)  # the model regresses the negated (warped) values
        std = posterior.variance.clamp_min(0).sqrt().reshape(-1)
    bands = [mean, mean - 2 * std, mean + 2 * std]
    if surrogate.warped:
        bands = [inverse_log_warp(b, surrogate.y) for b in bands]
    return bands


def _outcome_posterior(
    outcomes: tuple[OutcomeFit, ...], X: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The outcome GPs' posterior means and standard deviations at ``X`` (``b x d``): ``b x k`` each."""
    means, stds = [], []
    with torch.no_grad():
        for outcome in outcomes:
            posterior = outcome.fit.model.posterior(X)
            means.append(posterior.mean.reshape(-1))
            stds.append(posterior.variance.clamp_min(0).sqrt().reshape(-1))
    if not means:
        empty = torch.zeros(X.shape[0], 0, dtype=torch.float64)
        return empty, empty
    return torch.stack(means, -1), torch.stack(stds, -1)


def _key(params: dict[str, Any]) -> tuple:
    return tuple((k, type(v).__name__, v) for k, v in params.items())
