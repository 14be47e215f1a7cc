"""The multi-objective benchmark problems: BoTorch's multi-objective test functions, minimized.

Each problem is built from ``botorch.test_functions.multi_objective`` with ``negate=False``, so its
objectives are minimized (asktell's convention; BoTorch's acquisition functions maximize, so the
BoTorch peer negates them), and its ``ref_point`` and ``max_hv`` (BoTorch 0.18.1) are the yardstick:
the hypervolume of a run's *feasible* evaluated values with respect to ``ref_point``
(:func:`asktell.pareto.hypervolume`, the volume they dominate bounded by the reference point), and
``max_hv - hv``, of which the report gives ``log10``. The values told to every method are the raw
objectives (and on C2DTLZ2 the raw constraint slack).

- ``branincurrin``: BraninCurrin, 2-d, 2 objectives, 40 evaluations; ref (18, 6); max_hv 59.36011874867746
  ("approximated using NSGA-II").
- ``dtlz2``: DTLZ2(dim=6, num_objectives=2), 60 evaluations; ref (1.1, 1.1); max_hv ``1.1^2 - pi / 4``
  (the front is the quarter circle, in closed form). Shifted per seed (below).
- ``zdt1``: ZDT1(dim=6), 60 evaluations; ref (11, 11); max_hv ``120 + 2/3`` (closed form; the Pareto
  set is ``x_1 = ... = x_5 = 0``, a face of the box, not its centre).
- ``vehiclesafety``: VehicleSafety, 5-d on [1, 3]^5, 3 objectives, 80 evaluations; ref and max_hv
  from the approximate front of Tanabe and Ishibuchi (2020).
- ``carsideimpact``: CarSideImpact, 7-d, 4 objectives, 100 evaluations; ref and max_hv from the same
  approximate front.
- ``c2dtlz2``: C2DTLZ2(dim=6, num_objectives=2), 1 constraint, 60 evaluations; ref (1.1, 1.1); max_hv
  0.3996406303723544 ("approximate from nsga-ii"). The constraint is BoTorch's slack, feasible when
  ``>= 0`` (``evaluate_slack_true``; ``is_feasible`` is ``slack >= 0``), asktell's ``"s1 >= 0"``
  (Optuna and BoTorch's acquisitions take ``c = -slack <= 0``). Shifted per seed.

Four ``max_hv`` values (BraninCurrin's, VehicleSafety's, CarSideImpact's and C2DTLZ2's) are
approximations: a run may beat them. ``max_hv - hv`` is then floored at :data:`HV_FLOOR` times
``max_hv`` (the run counts as having reached the front) and the report says how many runs did.

**Shifts** (BENCHMARKS.md: no free lunch from the box centre). DTLZ2's Pareto set is every point
whose distance coordinates ``x_1 ... x_5`` are 0.5, so the box centre is Pareto optimal (one point
there is worth 36% of ``max_hv``), and a method whose design starts at the centre (Ax's) would start
on the front. On ``dtlz2`` and ``c2dtlz2`` an instance evaluates ``f(x - offset)`` with ``offset``
zero in ``x_0`` and ``Uniform(-0.25, 0.25)`` in each distance coordinate, drawn by
``numpy.random.default_rng([seed, crc32(name)])`` (one offset per seed, the same for every method);
the Pareto set moves to ``x_i = 0.5 + offset_i``, inside the box, and the front, the reference point
and ``max_hv`` (which live in objective space) are unchanged. BoTorch checks its inputs against its
box, so the shifted functions are evaluated with their bounds widened to [-0.25, 1.25] (the
formulas are unchanged there). The other problems are unshifted.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from botorch.test_functions.multi_objective import (
    C2DTLZ2,
    DTLZ2,
    ZDT1,
    BraninCurrin,
    CarSideImpact,
    VehicleSafety,
)

from asktell.constraints import Constraint, is_feasible, parse_constraints
from asktell.pareto import hypervolume
from asktell.space import Space
from benchmarks.harness.problems import box_space

HV_FLOOR = 1e-9  # of max_hv: the smallest hypervolume difference counted (a run at the front)
SHIFT = 0.25  # distance coordinates are shifted by Uniform(-SHIFT, SHIFT)
QUICK_BUDGET = 16


@dataclass(frozen=True)
class MOProblem:
    """A multi-objective benchmark problem; ``instance(seed)`` builds what one run optimizes.

    Args:
        name: the registry name.
        space: the box (reals ``x0 ... x{d-1}``, BoTorch's bounds).
        budget: evaluations of a full run; ``quick_budget`` of a ``--quick`` one.
        ref_point: the reference point of the yardstick's hypervolume (BoTorch's ``ref_point``).
        max_hv: the hypervolume of the true front w.r.t. ``ref_point`` (BoTorch's ``max_hv``).
        f: the objective values (``m`` floats) at an unshifted box point (a ``d`` array).
        constraints: outcome constraints in asktell's form (``"s1 >= 0"``), empty: unconstrained.
        outcomes: the constrained outcomes at an unshifted box point (one per constraint, in order).
        shift_dims: the coordinates shifted per seed (see the module's docstring).
        source: where ``max_hv`` comes from.
    """

    name: str
    space: Space
    budget: int
    ref_point: tuple[float, ...]
    max_hv: float
    f: Callable[[np.ndarray], Sequence[float]]
    quick_budget: int | None = QUICK_BUDGET
    constraints: tuple[str, ...] = ()
    outcomes: Callable[[np.ndarray], Sequence[float]] | None = None
    shift_dims: tuple[int, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if self.constraints:
            parse_constraints(self.constraints)
            if self.outcomes is None:
                raise ValueError(f"{self.name}: a constrained problem needs its outcomes.")

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def n_objectives(self) -> int:
        return len(self.ref_point)

    @property
    def optimum(self) -> float:
        """The best hypervolume (``max_hv``), the number the shared report keeps as the optimum."""
        return self.max_hv

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    @property
    def parsed_constraints(self) -> tuple[Constraint, ...]:
        return parse_constraints(self.constraints)

    def with_budget(self, budget: int) -> MOProblem:
        return replace(self, budget=budget)

    def quick(self) -> MOProblem:
        return self.with_budget(self.quick_budget or self.budget)

    def offset(self, seed: int) -> np.ndarray:
        """The seed's input offset (zero outside :attr:`shift_dims`)."""
        offset = np.zeros(self.dim)
        if self.shift_dims:
            rng = np.random.default_rng([seed, zlib.crc32(self.name.encode())])
            offset[list(self.shift_dims)] = rng.uniform(-SHIFT, SHIFT, len(self.shift_dims))
        return offset

    def instance(self, seed: int) -> MOInstance:
        return MOInstance(self, self.offset(seed))

    # --- the yardstick ---------------------------------------------------------------------------
    def hypervolume(self, values: Any) -> float:
        """The hypervolume of ``values`` (``n x m``, minimized) w.r.t. :attr:`ref_point`."""
        return hypervolume(
            np.asarray(values, dtype=np.float64).reshape(-1, self.n_objectives), self.ref_point
        )

    def hv_gap(self, hv: float) -> float:
        """``max_hv - hv``, floored at ``HV_FLOOR * max_hv`` (an approximate ``max_hv`` can be beaten)."""
        return max(self.max_hv - hv, HV_FLOOR * self.max_hv)

    def log_hv_diff(self, hv: float) -> float:
        """The yardstick: ``log10(max_hv - hv)`` (floored, see :meth:`hv_gap`)."""
        return math.log10(self.hv_gap(hv))


@dataclass(frozen=True)
class MOInstance:
    """One seed's version of a problem: ``values(params)`` are the objectives (minimized)."""

    problem: MOProblem
    offset: np.ndarray

    @property
    def space(self) -> Space:
        return self.problem.space

    def _point(self, params: Mapping[str, Any]) -> np.ndarray:
        return np.array([float(params[n]) for n in self.space.names]) - self.offset

    def values(self, params: Mapping[str, Any]) -> list[float]:
        """The ``m`` objective values at ``params``."""
        return [float(v) for v in self.problem.f(self._point(params))]

    def outcomes(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The constrained outcomes at ``params``, by name (empty for an unconstrained problem)."""
        if self.problem.outcomes is None:
            return {}
        raw = [float(v) for v in self.problem.outcomes(self._point(params))]
        return {c.name: v for c, v in zip(self.problem.parsed_constraints, raw, strict=True)}

    def feasible(self, outcomes: Mapping[str, float]) -> bool:
        """Whether ``outcomes`` keep every bound (asktell's rule: boundary included)."""
        return is_feasible(outcomes, self.problem.parsed_constraints)


# --- the registry ----------------------------------------------------------------------------------
def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)


def _widened(fn: Any, dims: Sequence[int]) -> Any:
    """``fn`` with the bounds of ``dims`` widened by :data:`SHIFT` (shifted inputs pass its checks)."""
    if dims:
        bounds = fn.bounds.clone()
        bounds[0, list(dims)] -= SHIFT
        bounds[1, list(dims)] += SHIFT
        fn.bounds = bounds
    return fn


def _from_botorch(
    name: str, fn: Any, budget: int, source: str, *, shift_dims: Sequence[int] = ()
) -> MOProblem:
    box = [tuple(b) for b in fn.bounds.T.tolist()]
    fn = _widened(fn, shift_dims)

    def f(x: np.ndarray) -> list[float]:
        return fn.evaluate_true(_tensor(x))[0].tolist()

    constrained = getattr(fn, "num_constraints", 0)

    def slack(x: np.ndarray) -> list[float]:
        return fn.evaluate_slack_true(_tensor(x))[0].tolist()

    return MOProblem(
        name,
        box_space(box),
        budget,
        tuple(float(r) for r in fn.ref_point.tolist()),
        float(fn.max_hv),
        f,
        constraints=tuple(f"s{i + 1} >= 0" for i in range(constrained)),
        outcomes=slack if constrained else None,
        shift_dims=tuple(shift_dims),
        source=source,
    )


# name -> (constructor, budget, where max_hv comes from, shifted coordinates)
BOTORCH_PROBLEMS: dict[str, tuple[Callable[[], Any], int, str, tuple[int, ...]]] = {
    "branincurrin": (lambda: BraninCurrin(negate=False), 40, "BoTorch: approximated using NSGA-II", ()),
    "dtlz2": (
        lambda: DTLZ2(dim=6, num_objectives=2, negate=False),
        60,
        "closed form: 1.1^2 - pi / 4",
        (1, 2, 3, 4, 5),
    ),
    "zdt1": (lambda: ZDT1(dim=6, negate=False), 60, "closed form: 120 + 2/3", ()),
    "vehiclesafety": (
        lambda: VehicleSafety(negate=False),
        80,
        "BoTorch: the approximate front of Tanabe and Ishibuchi (2020)",
        (),
    ),
    "carsideimpact": (
        lambda: CarSideImpact(negate=False),
        100,
        "BoTorch: the approximate front of Tanabe and Ishibuchi (2020)",
        (),
    ),
    "c2dtlz2": (
        lambda: C2DTLZ2(dim=6, num_objectives=2, negate=False),
        60,
        "BoTorch: approximate, from NSGA-II",
        (1, 2, 3, 4, 5),
    ),
}


def _multiobjective() -> dict[str, MOProblem]:
    return {
        name: _from_botorch(name, make(), budget, source, shift_dims=dims)
        for name, (make, budget, source, dims) in BOTORCH_PROBLEMS.items()
    }


MULTIOBJECTIVE: dict[str, MOProblem] = _multiobjective()


def multiobjective(name: str, *, quick: bool = False) -> MOProblem:
    """The multi-objective problem called ``name`` (at its quick budget when ``quick``)."""
    if name not in MULTIOBJECTIVE:
        raise KeyError(f"unknown problem {name!r}; problems are {list(MULTIOBJECTIVE)}.")
    return MULTIOBJECTIVE[name].quick() if quick else MULTIOBJECTIVE[name]
