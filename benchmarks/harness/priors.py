"""The problems and methods of the priors benchmark: cells ``<problem>/<prior>``, priors over the optimum.

A cell is a base problem with a prior over where its optimum lies (``good``, ``misleading``) or
none (``none``); every cell of a base problem evaluates the same function for a seed (the shift of
the shifted Rosenbrock is the base problem's, drawn per seed), only the space the methods see
carries the prior (:class:`PriorProblem`, :class:`PriorInstance`).

Base problems (:data:`BASES`):

- ``branin`` and ``hartmann6``: the global-BO registry's (:mod:`~benchmarks.harness.problems`),
  40 and 60 evaluations; minimizers are BoTorch's (``_optimizers``: Branin's three, Hartmann6's one).
- ``rosenbrock4``: the registry's Rosenbrock on [-5, 10]^4, shifted per seed (the minimizer
  ``1 + offset`` lies in [-2.75, 4.75]^4), 60 evaluations; the priors follow each seed's minimizer.
- ``svc-digits``: the HPO benchmark's task (:mod:`benchmarks.hpo`): scikit-learn's ``SVC`` on the
  digits data, ``C`` in [1e-2, 1e3] and ``gamma`` in [1e-5, 1e-1], both log scale, the loss the
  5-fold cross-validated error (``1 - accuracy``). Unlike the HPO benchmark the folds are fixed
  (``StratifiedKFold(5, shuffle=True, random_state=0)`` for every seed), so the function is the same
  for every seed and has one reference optimum: :data:`SVC_OPTIMUM`, the lowest error of a grid of
  13 x 17 points (``log10 C`` in 0, 0.25, ..., 3; ``log10 gamma`` in -4, -3.875, ..., -2, the
  region of every good value; :func:`svc_grid` recomputes it), reached at :data:`SVC_MINIMIZER`. A
  run can beat the grid; the benchmark floors regrets at 0. 30 evaluations; about 0.5-3 s each.

Priors (:func:`prior_space`), per parameter a truncated :class:`~asktell.priors.Normal` with a
standard deviation of :data:`PRIOR_STD` (15%) of the parameter's range (in decades on a log
parameter), written on the unit cube's coordinate ``u`` (the log axis for a log parameter):

- ``good``: centred at the problem's first minimizer moved by a fixed, seed-independent
  :data:`GOOD_OFFSET` (5%) of the range, ``+`` on even coordinates, ``-`` on odd ones (clipped into
  the range): near the optimum, not on it;
- ``misleading``: centred at a point :data:`FAR_INSET` (15%) of the range in from a corner of the
  box, the corner whose point is farthest (Euclidean, in ``u``) from the nearest minimizer; for a
  problem with one minimizer that is the far end of every coordinate (a minimizer mid-range:
  the low end). It keeps 84% of its mass inside the bounds, the good prior at least 74% on these
  problems (asktell refuses a prior with under 1%).

Methods (:data:`PRIOR_METHODS`): ``pibo`` (``BayesOpt()``, whose default ``prior_method`` is
piBO), ``colabo`` (``BayesOpt(prior_method="colabo")``; spaces without categoricals only: all four
here), ``bayesopt`` (``BayesOpt()`` on the space without a prior), ``tpe-mode`` (Optuna's
``TPESampler(seed=seed)`` through ``study.ask`` / ``study.tell``, the prior's mode enqueued with
``study.enqueue_trial`` as the first trial), ``random-prior`` (asktell's ``RandomSearch``, which
draws from the prior). BayesOpt is built as the global-BO benchmark builds it, without ``budget=``:
piBO's ``beta`` is then its default 10 and there is no final polishing.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from botorch.test_functions.synthetic import Branin, Hartmann, Rosenbrock

from asktell.priors import Normal
from asktell.space import Categorical, Real, Space
from benchmarks.harness.peers import Method, _OptunaSession, asktell, normalize
from benchmarks.harness.problems import GLOBAL_BO, Instance, Problem

PRIORS = ("good", "misleading", "none")
PRIOR_STD = 0.15  # of the range (u), every prior
GOOD_OFFSET = 0.05  # of the range: the good prior's centre is the minimizer moved by this, +/- per coordinate
FAR_INSET = 0.15  # of the range: the misleading prior's centre lies this far in from a corner
SVC_FOLD_SEED = 0  # the fixed folds of the SVC task
SVC_BUDGET, SVC_QUICK_BUDGET = 30, 12
SVC_GRID = (np.linspace(0.0, 3.0, 13), np.linspace(-4.0, -2.0, 17))  # log10 C, log10 gamma
SVC_OPTIMUM = 0.00946301454657994  # svc_grid()'s lowest 5-fold CV error (about 17 of the 1797 digits wrong)
SVC_MINIMIZER = (10.0**0.5, 10.0**-3.5)  # C, gamma: the one grid point that reaches it


# --- the SVC task ----------------------------------------------------------------------------------
@functools.cache
def _svc_task() -> tuple[Any, Any, Any]:
    """The HPO benchmark's svc-digits task, its full data and the fixed folds."""
    from benchmarks.hpo import get_task

    task = get_task("svc-digits")
    X, y = task.data(False)
    return task, (X, y), task.cv(SVC_FOLD_SEED)


def svc_loss(params: Mapping[str, Any]) -> float:
    """The 5-fold CV error of ``SVC(C, gamma)`` on the digits, on the fixed folds (1 on a failed fit)."""
    import warnings

    from sklearn.model_selection import cross_val_score

    task, (X, y), cv = _svc_task()
    estimator = task.estimator().set_params(C=float(params["C"]), gamma=float(params["gamma"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(estimator, X, y, cv=cv, scoring=task.scoring, error_score=math.nan)
    loss = task.loss(float(np.mean(scores)))
    return loss if math.isfinite(loss) else 1.0


def svc_grid() -> list[tuple[float, float, float]]:
    """``(C, gamma, error)`` on :data:`SVC_GRID` (221 cross-validations, a few minutes): the grid
    that :data:`SVC_OPTIMUM` and :data:`SVC_MINIMIZER` come from."""
    return [
        (10.0**c, 10.0**g, svc_loss({"C": 10.0**c, "gamma": 10.0**g}))
        for c, g in itertools.product(*SVC_GRID)
    ]


def _svc_problem() -> Problem:
    space = Space({"C": Real(1e-2, 1e3, log=True), "gamma": Real(1e-5, 1e-1, log=True)})
    return Problem("svc-digits", space, SVC_BUDGET, SVC_OPTIMUM, svc_loss, SVC_QUICK_BUDGET, vector=False)


# --- base problems and their minimizers ------------------------------------------------------------
@dataclass(frozen=True)
class Base:
    """A base problem and its minimizers (box points of the unshifted function, the first one the
    good prior's); a shifted problem's minimizers move with each seed's offset."""

    problem: Problem
    minimizers: tuple[tuple[float, ...], ...]


def _optimizers(fn: Any) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(v) for v in x) for x in fn._optimizers)


@functools.cache
def bases() -> dict[str, Base]:
    """The base problems: Branin, Hartmann6, shifted Rosenbrock-4, SVC on digits."""
    return {
        "branin": Base(GLOBAL_BO["branin"], _optimizers(Branin())),
        "hartmann6": Base(GLOBAL_BO["hartmann6"], _optimizers(Hartmann(dim=6))),
        "rosenbrock4": Base(GLOBAL_BO["rosenbrock4"], _optimizers(Rosenbrock(dim=4))),
        "svc-digits": Base(_svc_problem(), (SVC_MINIMIZER,)),
    }


BASES = ("branin", "hartmann6", "rosenbrock4", "svc-digits")
QUICK_BASES = ("branin", "hartmann6")


# --- priors ----------------------------------------------------------------------------------------
def _unit(space: Space, point: Sequence[float]) -> np.ndarray:
    """A box point's unit-cube coordinates (the log axis for a log parameter); reals only."""
    out = []
    for n, v in zip(space.names, point, strict=True):
        param = space[n]
        if not isinstance(param, Real):
            raise TypeError(f"the priors benchmark puts priors on reals only, {n} is {param!r}")
        out.append(param.encode(float(v)))
    return np.array(out)


def good_centre(space: Space, minimizers: np.ndarray) -> np.ndarray:
    """The good prior's centre in ``u``: the first minimizer moved by :data:`GOOD_OFFSET`, ``+`` on
    even coordinates and ``-`` on odd ones, clipped into [0, 1]."""
    signs = np.array([1.0 if i % 2 == 0 else -1.0 for i in range(space.dim)])
    return np.clip(minimizers[0] + GOOD_OFFSET * signs, 0.0, 1.0)


def misleading_centre(space: Space, minimizers: np.ndarray) -> np.ndarray:
    """The misleading prior's centre in ``u``: of the points :data:`FAR_INSET` in from each corner
    of the box, the one farthest from its nearest minimizer (the first such in ``itertools.product``
    order on a tie)."""
    candidates = np.array(list(itertools.product((FAR_INSET, 1.0 - FAR_INSET), repeat=space.dim)))
    nearest = np.linalg.norm(candidates[:, None, :] - minimizers[None, :, :], axis=-1).min(axis=1)
    return candidates[int(np.argmax(nearest))]


def prior_space(space: Space, centre_u: np.ndarray) -> Space:
    """``space`` with a Normal prior of std :data:`PRIOR_STD` of each range centred at ``centre_u``
    (unit-cube coordinates; on a log parameter ``loc`` in its units and ``scale`` in decades)."""
    params: dict[str, Any] = {}
    for (name, p), u in zip(space.params.items(), centre_u, strict=True):
        if not isinstance(p, Real):
            raise TypeError(f"the priors benchmark puts priors on reals only, {name} is {p!r}")
        span = math.log10(p.high) - math.log10(p.low) if p.log else p.high - p.low
        params[name] = Real(p.low, p.high, log=p.log, prior=Normal(p.decode(float(u)), PRIOR_STD * span))
    return Space(params)


def centre(space: Space, minimizers: np.ndarray, prior: str) -> np.ndarray:
    """The centre (in ``u``) of ``prior`` for minimizers at ``minimizers`` (``u``, one per row)."""
    if prior == "good":
        return good_centre(space, minimizers)
    if prior == "misleading":
        return misleading_centre(space, minimizers)
    raise ValueError(f"no prior centre for {prior!r}; priors are {PRIORS}")


@dataclass(frozen=True)
class PriorInstance(Instance):
    """A base problem's instance for one seed, seen through a space with the cell's prior."""

    prior_space: Space | None = None

    @property
    def space(self) -> Space:  # type: ignore[override]
        return self.prior_space if self.prior_space is not None else self.problem.space


@dataclass(frozen=True)
class PriorProblem(Problem):
    """A cell ``<base>/<prior>``: the base problem's function, budget and optimum; each seed's
    instance is the base problem's (same shift) with the prior's space (:func:`prior_space`)."""

    base: Problem | None = None
    prior: str = "none"
    minimizers: tuple[tuple[float, ...], ...] = ()

    def shifted_minimizers(self, offset: np.ndarray) -> np.ndarray:
        """The minimizers of the instance with ``offset``, in unit-cube coordinates (one per row)."""
        points = np.array(self.minimizers, dtype=float) + (offset if self.shift else 0.0)
        return np.array([_unit(self.space, x) for x in points])

    def centre_u(self, seed: int) -> np.ndarray | None:
        """The prior's centre for ``seed`` in unit-cube coordinates (None without a prior)."""
        if self.prior == "none":
            return None
        offset = self.base.instance(seed).offset if self.base is not None else np.zeros(self.dim)
        return centre(self.space, self.shifted_minimizers(offset), self.prior)

    def instance(self, seed: int) -> PriorInstance:
        inner = self.base.instance(seed) if self.base is not None else super().instance(seed)
        u = self.centre_u(seed)
        return PriorInstance(
            self, inner.offset, inner.noise, None if u is None else prior_space(self.space, u)
        )


def cell_problem(base: str, prior: str) -> PriorProblem:
    """The cell ``<base>/<prior>``."""
    b = bases()[base]
    kept = {f.name: getattr(b.problem, f.name) for f in fields(Problem)}
    return PriorProblem(
        **{**kept, "name": f"{base}/{prior}"}, base=b.problem, prior=prior, minimizers=b.minimizers
    )


def cells(names: Sequence[str] = BASES) -> dict[str, PriorProblem]:
    """Every cell of the base problems ``names``, problem by problem (good, misleading, none)."""
    return {f"{b}/{p}": cell_problem(b, p) for b in names for p in PRIORS}


def split(cell: str) -> tuple[str, str]:
    """``"branin/good"`` -> ``("branin", "good")``."""
    base, _, prior = cell.rpartition("/")
    return base, prior


# --- methods ---------------------------------------------------------------------------------------
class _TPEModeSession(_OptunaSession):
    """Optuna's ``TPESampler(seed=seed)`` (:class:`~benchmarks.harness.peers._OptunaSession`), the
    prior's mode enqueued first (``study.enqueue_trial``): Optuna's public way to say "try here"."""

    def __init__(self, instance: Instance, seed: int):
        super().__init__("TPESampler", instance, seed)
        space = instance.space
        if space.has_priors:
            self.mode = normalize(space, space.decode(space.prior_mode(np.full(space.dim, 0.5))))
            self.study.enqueue_trial(self.mode)


def _bayesopt(**options: Any) -> Any:
    from asktell.loops import BayesOpt

    return BayesOpt(**options)


def _random() -> Any:
    from asktell.loops import RandomSearch

    return RandomSearch()


PRIOR_METHODS: dict[str, Callable[[], Method]] = {
    "pibo": lambda: asktell(_bayesopt, "pibo"),
    "colabo": lambda: asktell(functools.partial(_bayesopt, prior_method="colabo"), "colabo"),
    "bayesopt": lambda: asktell(_bayesopt, "bayesopt"),
    "tpe-mode": lambda: Method("tpe-mode", _TPEModeSession, "optuna"),
    "random-prior": lambda: asktell(_random, "random-prior"),
}
NO_PRIOR = "bayesopt"  # the one method of the "none" cells, the yardstick of the others


def applies(method: str, cell: str, space: Space) -> bool:
    """``bayesopt`` runs on the ``none`` cells only, the others on ``good`` and ``misleading``;
    ``colabo`` only on spaces without categoricals (BayesOpt refuses it on those)."""
    prior = split(cell)[1]
    if method == NO_PRIOR:
        return prior == "none"
    if prior == "none":
        return False
    return method != "colabo" or not any(isinstance(p, Categorical) for p in space.params.values())
