"""The constrained benchmark problems: BoTorch's constrained test functions, a mixed-variable
pressure vessel, and an infeasible variant.

Each outcome is a constraint *slack*, feasible when it is ``>= 0``: BoTorch's ``evaluate_slack``
(its docstring: "positive slack corresponds to the constraint being feasible"; ``is_feasible`` is
``slack >= 0``), which is asktell's convention, so the constraints read ``"s1 >= 0", ..., "sm >=
0"`` (BoTorch's acquisition functions and Optuna take ``c <= 0``: ``c = -slack``). Every problem is
minimized, unshifted (a shift would move the constraints too; no optimum is at its box's centre) and
noiseless.

The optima, and why some are not BoTorch's ``_optimal_value`` (``botorch.test_functions.synthetic``,
BoTorch 0.18.1). We use BoTorch's value where it is the optimum of the function BoTorch implements;
where it is not (it quotes the literature, whose formulation differs), we use the value of a point
we found (SLSQP from 512 Sobol starts, or in closed form), checked feasible by BoTorch's own
``evaluate_slack_true`` and evaluated by its ``evaluate_true`` (``tests/benchmarks/
test_constrained_benchmark.py`` holds every witness to both):

- ``gramacy``: ConstrainedGramacy, 2-d, 2 constraints, 40 evaluations. BoTorch: 0.5998 ("approximate
  from [Gramacy2016]"); the witness (0.195123, 0.404665) gives 0.5997880528, below it.
- ``pressure-vessel``: PressureVessel, 4-d, 4 constraints, 60 evaluations. BoTorch: 6059.946341 "from
  [CoelloCoello2002constraint]", the optimum when the thicknesses x1, x2 are multiples of 0.0625
  everywhere. BoTorch rounds them in the objective only, not in the constraints, so x1 just under
  0.78125 costs as 0.75: the infimum is 5633.950241, attained at (0.78125, 0.40625, 40.479275,
  197.789348) (torch rounds half to even, 12.5 -> 12); found by enumerating the rounded thicknesses
  and solving the remaining 1-d problem (the volume constraint active) on each.
- ``welded-beam``: WeldedBeamSO, 4-d, 6 constraints, 60 evaluations. BoTorch: 1.728226 "from
  [CoelloCoello2002constraint]"; BoTorch's buckling load is ``4.013 E x3 x4^3 * 6 / L^2 ...``, 36
  times the literature's ``4.013 E sqrt(x3^2 x4^6 / 36) / L^2 ...``, so buckling never binds and the
  optimum moves to x3 at its bound: 1.5870775141 at (0.168, 4.067085, 10, 0.168).
- ``speed-reducer``: SpeedReducer, 7-d, 11 constraints, 80 evaluations. BoTorch: 2996.3482 "from
  [Lemonge2010constrained]", the known optimum rounded up; in closed form (x1..x5 at their active
  bounds, x6 and x7 where constraints 5 and 6 are active) 2996.3481650.
- ``vessel-mixed`` (our mixed problem), 5 parameters, 3 constraints, 60 evaluations: the pressure
  vessel as Coello Coello's formulation has it, shell and head thicknesses ``Integer(1, 99)``
  sixteenths of an inch, radius ``Real(10, 50)`` and length ``Real(150, 200)`` inches (BoTorch's
  bounds), plus a ``Categorical`` steel grade that trades allowable stress for price: grade ``g``
  multiplies the minimum thicknesses by ``1 / stress[g]``, the material terms of the cost by
  ``material[g]`` and the welding terms by ``welding[g]`` (:data:`VESSEL_GRADES`; ``carbon`` is the
  original problem). Constraints: ``s1 = x1 - 0.0193 x3 / stress``, ``s2 = x2 - 0.00954 x3 /
  stress``, ``s3 = pi x3^2 x4 + 4/3 pi x3^3 - 1296000`` (BoTorch's fourth, ``x4 <= 240``, cannot
  bind on these bounds and is left out). Optimum 5641.682765 (alloy, thicknesses 9/16 and 5/16,
  radius 43.717617 where s1 binds, length 157.554935) by enumeration over the grades and
  thicknesses (:func:`vessel_minimum`, which also finds the carbon optimum 6059.714335, the
  literature's best known value for the original problem).
- ``gramacy-infeasible``: ConstrainedGramacy with the second bound tightened, ``s2 >= 1.4`` (that is
  ``x1^2 + x2^2 <= 0.1``), 40 evaluations. Infeasible: ``s1 >= 0`` needs ``x1 + 2 x2 >= 1.5 - 0.5 =
  1``, and every point of that half-plane has ``x1^2 + x2^2 >= 1/5`` (its distance to the origin is
  ``1 / sqrt(5)``); inside ``x1^2 + x2^2 <= 0.1``, ``s1 <= sqrt(0.5) + 0.5 - 1.5 < -0.29``.

``worst_value`` is BoTorch's ``_worst_feasible_value`` ("computed from 100 SLSQP restarts"); for
``vessel-mixed`` the cost at the upper corner of the box (the cost grows in every variable and the
corner is feasible) for the dearest grade.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from botorch.test_functions.synthetic import ConstrainedGramacy, PressureVessel, SpeedReducer, WeldedBeamSO

from asktell.space import Categorical, Integer, Real, Space
from benchmarks.harness.problems import Problem, box_space

# name -> (optimum, a feasible point attaining it, where the number comes from)
OPTIMA: dict[str, tuple[float, tuple[Any, ...], str]] = {
    "gramacy": (
        0.5997880528347018,
        (0.19512268566662375, 0.40466536716807805),
        "SLSQP witness; BoTorch's _optimal_value 0.5998 is approximate (Gramacy et al. 2016)",
    ),
    "pressure-vessel": (
        5633.950241007438,
        (0.78125, 0.40625, 40.479274611398964, 197.78934758995274),
        "enumeration; BoTorch's 6059.946341 (Coello Coello 2002) rounds x1, x2 in the constraints too",
    ),
    "welded-beam": (
        1.5870775141402318,
        (0.16799999900000612, 4.067084804388404, 10.0, 0.16800000000000034),
        "SLSQP witness; BoTorch's 1.728226 (Coello Coello 2002) has a buckling load 1/36 of BoTorch's",
    ),
    "speed-reducer": (
        2996.3481649685345,
        (3.5, 0.7, 17.0, 7.3, 7.8, 3.3502146660964507, 5.286683229757922),
        "closed form; BoTorch's 2996.3482 (Lemonge et al. 2010) is this rounded up",
    ),
    "vessel-mixed": (
        5641.682765165591,
        (9, 5, 43.71761658031045, 157.55493521329964, "alloy"),
        "enumeration (vessel_minimum)",
    ),
}

# steel grade -> (allowable stress, material cost, welding cost), relative to the original's steel
VESSEL_GRADES: dict[str, tuple[float, float, float]] = {
    "carbon": (1.0, 1.0, 1.0),
    "alloy": (1.5, 1.45, 1.4),
    "stainless": (1.25, 1.5, 1.6),
}
VESSEL_VOLUME = 1296000.0  # cubic inches (750 ft^3)
INFEASIBLE_BOUND = 1.4  # gramacy-infeasible: s2 >= 1.4, i.e. x1^2 + x2^2 <= 0.1
QUICK_BUDGET = 14


def slack_names(m: int) -> tuple[str, ...]:
    """asktell's constraints on ``m`` slacks: ``("s1 >= 0", ..., "sm >= 0")``."""
    return tuple(f"s{i + 1} >= 0" for i in range(m))


def _botorch(fn: Any) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], list[float]]]:
    """A BoTorch constrained test function's value and slacks at one box point (``d`` array)."""

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)

    def value(x: np.ndarray) -> float:
        return float(fn.evaluate_true(tensor(x)).item())

    def slack(x: np.ndarray) -> list[float]:
        return fn.evaluate_slack_true(tensor(x))[0].tolist()

    return value, slack


def _from_botorch(name: str, fn: Any, budget: int, constraints: Sequence[str] | None = None) -> Problem:
    value, slack = _botorch(fn)
    return Problem(
        name,
        box_space([tuple(b) for b in fn.bounds.T.tolist()]),
        budget,
        OPTIMA[name][0],
        value,
        QUICK_BUDGET,
        constraints=tuple(constraints or slack_names(fn.num_constraints)),
        outcomes=slack,
        worst_value=float(fn._worst_feasible_value),
    )


# --- the mixed pressure vessel -------------------------------------------------------------------
def vessel_cost(grade: str, x1: Any, x2: Any, x3: Any, x4: Any) -> Any:
    """The mixed vessel's cost (numbers or broadcasting arrays; thicknesses x1, x2 in inches)."""
    _, material, welding = VESSEL_GRADES[grade]
    return material * (0.6224 * x1 * x3 * x4 + 1.7781 * x2 * x3**2) + welding * (
        3.1661 * x1**2 * x4 + 19.84 * x1**2 * x3
    )


def vessel_slacks(grade: str, x1: float, x2: float, x3: float, x4: float) -> list[float]:
    """The mixed vessel's three slacks (>= 0 feasible)."""
    stress = VESSEL_GRADES[grade][0]
    volume = math.pi * x3**2 * x4 + (4.0 / 3.0) * math.pi * x3**3
    return [x1 - 0.0193 * x3 / stress, x2 - 0.00954 * x3 / stress, volume - VESSEL_VOLUME]


def _vessel_point(params: Mapping[str, Any]) -> tuple[str, float, float, float, float]:
    return (
        params["grade"],
        params["shell"] / 16.0,
        params["head"] / 16.0,
        float(params["radius"]),
        float(params["length"]),
    )


def _vessel_length(x3: Any) -> Any:
    """The length at which the volume constraint binds, for radius ``x3``."""
    return (VESSEL_VOLUME - (4.0 / 3.0) * np.pi * x3**3) / (np.pi * x3**2)


def vessel_minimum(grid: int = 4001) -> dict[str, tuple[float, tuple[Any, ...]]]:
    """Per grade, the mixed vessel's minimum and its point ``(shell, head, radius, length)``.

    The cost grows with the length, so at a minimum the length is the smallest the volume
    constraint allows (at least 150); what is left is a 1-d problem in the radius for each pair of
    thicknesses, whose feasible radii are ``[10, cap]`` with ``cap`` where s1 or s2 binds. Each is
    solved on a grid of ``grid`` radii plus the cap itself (the minimum sits there when the cost
    still falls at the cap) and the best grid point refined by a bounded scalar search. The point
    returned is moved 1e-14 (relative) inside the binding constraints, so that it is feasible in
    floating point; its cost is within 1e-9 of the infimum.
    """
    from scipy.optimize import minimize_scalar

    radii = np.linspace(10.0, 50.0, grid)
    lengths = np.maximum(150.0, _vessel_length(radii))
    thick = np.arange(1, 100) / 16.0
    out: dict[str, tuple[float, tuple[Any, ...]]] = {}
    for grade, (stress, _, _) in VESSEL_GRADES.items():
        best: tuple[float, tuple[Any, ...]] = (math.inf, ())
        for x1 in thick:  # rows: head thicknesses; columns: radii
            caps = np.minimum(np.minimum(stress * x1 / 0.0193, stress * thick / 0.00954), 50.0)
            ok = (lengths[None, :] <= 200.0) & (radii[None, :] <= caps[:, None])
            cost = np.where(
                ok, vessel_cost(grade, x1, thick[:, None], radii[None, :], lengths[None, :]), np.inf
            )
            j, i = np.unravel_index(np.argmin(cost), cost.shape)
            if cost[j, i] < best[0]:
                best = (float(cost[j, i]), (x1, thick[j], float(radii[i])))
            cap_lengths = np.maximum(150.0, _vessel_length(caps))
            at_caps = np.where(
                (caps >= 10.0) & (cap_lengths <= 200.0),
                vessel_cost(grade, x1, thick, caps, cap_lengths),
                np.inf,
            )
            j = int(np.argmin(at_caps))
            if at_caps[j] < best[0]:
                best = (float(at_caps[j]), (x1, thick[j], float(caps[j])))
        x1, x2, radius = best[1]

        def along(r: float, grade: str = grade, x1: float = x1, x2: float = x2) -> float:
            return float(vessel_cost(grade, x1, x2, r, max(150.0, float(_vessel_length(r)))))

        cap = min(stress * x1 / 0.0193, stress * x2 / 0.00954, 50.0)
        step = 40.0 / (grid - 1)
        low, high = max(10.0, radius - step), min(cap, radius + step)
        refined = minimize_scalar(along, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
        if refined.fun < best[0] and _vessel_length(refined.x) <= 200.0:
            best = (float(refined.fun), (x1, x2, float(refined.x)))
        x1, x2, radius = best[1]
        # a hair inside the binding constraints, so that the point is feasible in floating point
        radius *= 1.0 - 1e-14
        length = max(150.0, float(_vessel_length(radius)) * (1.0 + 1e-14))
        value = float(vessel_cost(grade, x1, x2, radius, length))
        out[grade] = (value, (round(x1 * 16), round(x2 * 16), radius, length))
    return out


def _vessel_mixed() -> Problem:
    space = Space(
        {
            "shell": Integer(1, 99),
            "head": Integer(1, 99),
            "radius": Real(10.0, 50.0),
            "length": Real(150.0, 200.0),
            "grade": Categorical(tuple(VESSEL_GRADES)),
        }
    )
    worst = max(vessel_cost(g, 99 / 16, 99 / 16, 50.0, 200.0) for g in VESSEL_GRADES)
    return Problem(
        "vessel-mixed",
        space,
        60,
        OPTIMA["vessel-mixed"][0],
        lambda p: float(vessel_cost(*_vessel_point(p))),
        QUICK_BUDGET,
        vector=False,
        constraints=slack_names(3),
        outcomes=lambda p: vessel_slacks(*_vessel_point(p)),
        worst_value=float(worst),
    )


def _constrained() -> dict[str, Problem]:
    gramacy = _from_botorch("gramacy", ConstrainedGramacy(), 40)
    infeasible = Problem(
        "gramacy-infeasible",
        gramacy.space,
        40,
        gramacy.optimum,
        gramacy.f,
        QUICK_BUDGET,
        constraints=("s1 >= 0", f"s2 >= {INFEASIBLE_BOUND}"),
        outcomes=gramacy.outcomes,
        worst_value=gramacy.worst_value,
        infeasible=True,
    )
    problems = [
        gramacy,
        _from_botorch("pressure-vessel", PressureVessel(), 60),
        _from_botorch("welded-beam", WeldedBeamSO(), 60),
        _from_botorch("speed-reducer", SpeedReducer(), 80),
        _vessel_mixed(),
        infeasible,
    ]
    return {p.name: p for p in problems}


CONSTRAINED: dict[str, Problem] = _constrained()
BOTORCH_CLASSES = {
    "gramacy": ConstrainedGramacy,
    "pressure-vessel": PressureVessel,
    "welded-beam": WeldedBeamSO,
    "speed-reducer": SpeedReducer,
}


def constrained(name: str, *, quick: bool = False) -> Problem:
    """The constrained problem called ``name`` (at its quick budget when ``quick``)."""
    if name not in CONSTRAINED:
        raise KeyError(f"unknown problem {name!r}; problems are {list(CONSTRAINED)}.")
    return CONSTRAINED[name].quick() if quick else CONSTRAINED[name]
