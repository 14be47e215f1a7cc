"""The benchmark problems: one registry of spaces, budgets, optima, shifts and noise.

A :class:`Problem` is a recipe; ``problem.instance(seed)`` is the :class:`Instance` one run
optimizes: ``instance(params)`` is the observed value (noisy for a noisy problem),
``instance.true_value(params)`` the noiseless one, whose minimum over the space is
``problem.optimum``. Every method gets the same instance for the same seed.

**Shifts** (BENCHMARKS.md: no free lunch from the box centre). A shifted instance evaluates
``f(x - offset)``; ``offset`` is drawn once per seed and problem, independently per coordinate, from
``Uniform(-w / 4, w / 4)`` with ``w`` the box width, by ``numpy.random.default_rng([seed,
crc32(name)])``. For every shifted problem below the shifted optimizer ``x* + offset`` stays inside
the box (Ackley: ``|x*_i| <= w / 4 < w / 2``; Levy: ``1 + offset_i`` in [-4, 6] within [-10, 10];
Rosenbrock: ``1 + offset_i`` in [-2.75, 4.75] within [-5, 10]; the quadratic ``|c_i| <= 2.5``), so
the optimum value is unchanged.

**Noise.** A noisy instance owns ``numpy.random.default_rng([seed, crc32(name), 1])`` and draws one
normal deviate per evaluation, so every method sees the same noise sequence for a seed.

The registries:

- :func:`global_bo`: the global-BO problems (BoTorch's test functions, noise-free):

  - ``branin``: Branin on [-5, 10] x [0, 15], 40 evaluations. Optimum 5 / (4 pi) = 0.397887.
  - ``hartmann6``: Hartmann6 on [0, 1]^6, 60 evaluations. Optimum -3.322368.
  - ``ackley10``: Ackley on [-32.768, 32.768]^10, shifted, 100 evaluations. Optimum 0.
  - ``rosenbrock4``: Rosenbrock on [-5, 10]^4, shifted, 60 evaluations. Optimum 0.
  - ``mixed``: two reals and two categoricals (3 and 4 choices), 60 evaluations. Optimum 0: ``f =
    scale[c2] * (branin(x0 - dx[c1], x1 - dy[c1]) - BRANIN_MIN) + bias[c1][c2]``, where ``c1``
    moves Branin's three minima (at least one stays in the box for every choice), ``c2`` rescales
    it and the pair sets the floor ``bias``; the minimum over the reals for each (c1, c2) is
    ``bias[c1][c2]``, so the optimum is ``min(bias) = 0`` at ``c1 = b, c2 = r`` by construction.
  - ``hartmann6-noisy``: Hartmann6 plus Gaussian noise of sd 0.1 (about 3% of its range), 60
    evaluations; regret is measured on the noiseless function.

- :func:`zeroth_order`: ``family-d`` in 2-1000 dimensions, all shifted, optimum 0: ``ackley-d``
  (BoTorch's constants) on [-32.768, 32.768]^d, ``levy-d`` on [-10, 10]^d, ``quadratic-d``
  (``sum(x^2) / d``) on [-5, 5]^d. Written out in torch without BoTorch's per-call input checks (they
  are called up to 1000 times per run), and differentiable: :meth:`Instance.true_gradient`.

- :func:`federation`: the federated problems of :mod:`asktell.problems` (the FZooS paper's quadratic
  and heterogeneous Levy and Ackley) on their benchmark boxes.

- :mod:`~benchmarks.harness.problems_constrained`: problems with outcome constraints (BoTorch's
  constrained test functions, a mixed-variable pressure vessel, an infeasible variant). A
  constrained :class:`Problem` names its constraints in asktell's form (``"s1 >= 0"``) and computes
  their outcomes (``instance.outcomes(params)``); ``optimum`` is then the best *feasible* value.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from botorch.test_functions.synthetic import Ackley, Branin, Hartmann, Rosenbrock

from asktell.constraints import Constraint, is_feasible, parse_constraints
from asktell.problems import Blackbox, federated_hetero, federated_quadratic, federated_quadratic_minimum
from asktell.space import Categorical, Real, Space

SHIFT_FRACTION = 0.25  # offsets are Uniform(-SHIFT_FRACTION * w, SHIFT_FRACTION * w) per coordinate
BRANIN_MIN = 5.0 / (4.0 * math.pi)  # exact: at the minimizers the quadratic term is 0
HARTMANN6_MIN = -3.322368011415515  # BoTorch rounds it to -3.32237
HARTMANN6_NOISE_SD = 0.1


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def box_space(bounds: list[tuple[float, float]], fmt: str = "x{}") -> Space:
    """A space of reals ``x0, x1, ...`` (names by ``fmt``) on the given bounds."""
    return Space({fmt.format(i): Real(lo, hi) for i, (lo, hi) in enumerate(bounds)})


@dataclass(frozen=True)
class Problem:
    """A benchmark problem; ``instance(seed)`` builds what one run optimizes.

    Args:
        f: the noiseless value of a box point (a ``d`` array; of the params dict when not ``vector``).
        quick_budget: the budget of ``--quick`` runs.
        shift: shift every seed's instance (see the module's docstring).
        torch_f: ``f`` on ``... x d`` tensors (autograd for true gradients), where there is one.
        constraints: outcome constraints in asktell's form (``"s1 >= 0"``, ``"mem <= 4"``); empty:
            unconstrained. A constrained problem is neither shifted nor noisy.
        outcomes: the constrained outcomes' values at a point (one per constraint, in order; of the
            box point or of the params dict, as ``f``).
        worst_value: the worst feasible value; a run that finds no feasible point has regret
            ``worst_value - optimum``, so that it ranks below every run that found one.
        infeasible: the problem has no feasible point by construction (``optimum`` is then that of
            the feasible problem it tightens, and no regret is defined).
    """

    name: str
    space: Space
    budget: int
    optimum: float
    f: Callable[[Any], float]
    quick_budget: int | None = None
    shift: bool = False
    noise_sd: float = 0.0
    vector: bool = True
    torch_f: Callable[[torch.Tensor], torch.Tensor] | None = None
    constraints: tuple[str, ...] = ()
    outcomes: Callable[[Any], Sequence[float]] | None = None
    worst_value: float | None = None
    infeasible: bool = False

    def __post_init__(self) -> None:
        if self.constraints:
            parse_constraints(self.constraints)  # a typo fails here, not in the middle of a run
            if self.outcomes is None or self.shift or self.noise_sd:
                raise ValueError(f"{self.name}: a constrained problem has outcomes, no shift and no noise.")

    @property
    def dim(self) -> int:
        return self.space.dim

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    @property
    def parsed_constraints(self) -> tuple[Constraint, ...]:
        """The constraints as asktell reads them (name, op, bound)."""
        return parse_constraints(self.constraints)

    @property
    def worst_regret(self) -> float:
        """The regret counted for a run without a feasible point (``worst_value - optimum``)."""
        return math.inf if self.worst_value is None else self.worst_value - self.optimum

    def with_budget(self, budget: int) -> Problem:
        return replace(self, budget=budget)

    def quick(self) -> Problem:
        return self.with_budget(self.quick_budget or self.budget)

    def instance(self, seed: int) -> Instance:
        offset = np.zeros(self.dim)
        if self.shift:
            width = np.array([p.high - p.low for p in self.space.params.values()])
            rng = np.random.default_rng([seed, _key(self.name)])
            offset = rng.uniform(-SHIFT_FRACTION * width, SHIFT_FRACTION * width)
        noise = np.random.default_rng([seed, _key(self.name), 1]) if self.noise_sd > 0 else None
        return Instance(self, offset, noise)


@dataclass(frozen=True)
class Instance:
    """One seed's version of a problem: call it with a params dict for the observed value."""

    problem: Problem
    offset: np.ndarray
    noise: np.random.Generator | None = None

    @property
    def space(self) -> Space:
        return self.problem.space

    @property
    def noisy(self) -> bool:
        return self.noise is not None

    def true_value(self, params: Mapping[str, Any]) -> float:
        """The noiseless value at ``params``."""
        if not self.problem.vector:
            return self.problem.f(params)
        x = np.array([float(params[n]) for n in self.space.names])
        return self.problem.f(x - self.offset if self.problem.shift else x)

    def outcomes(self, params: Mapping[str, Any]) -> dict[str, float]:
        """The constrained outcomes at ``params``, by name (empty for an unconstrained problem)."""
        problem = self.problem
        if problem.outcomes is None:
            return {}
        point = params if not problem.vector else np.array([float(params[n]) for n in self.space.names])
        values = [float(v) for v in problem.outcomes(point)]
        return {c.name: v for c, v in zip(problem.parsed_constraints, values, strict=True)}

    def feasible(self, outcomes: Mapping[str, float]) -> bool:
        """Whether ``outcomes`` keep every bound (asktell's rule: boundary included)."""
        return is_feasible(outcomes, self.problem.parsed_constraints)

    def regret(self, params: Mapping[str, Any]) -> float:
        """Simple regret of recommending ``params``: ``true_value(params) - optimum`` (>= 0)."""
        return self.true_value(params) - self.problem.optimum

    def __call__(self, params: Mapping[str, Any]) -> float:
        value = self.true_value(params)
        if self.noise is not None:
            value += self.problem.noise_sd * float(self.noise.standard_normal())
        return value

    # unit-cube views, for problems with a torch function (the zeroth-order study) -------------
    def torch_value(self, U: torch.Tensor) -> torch.Tensor:
        """The value at unit-cube points ``U`` (``... x d``), differentiable (autograd)."""
        params = self.space.params.values()
        low, high = (torch.tensor([getattr(p, a) for p in params], dtype=U.dtype) for a in ("low", "high"))
        X = low + (high - low) * U
        return self.problem.torch_f(X - torch.as_tensor(self.offset, dtype=U.dtype))  # type: ignore[misc]

    def value_unit(self, u: Any) -> float:
        """The value at one unit-cube point."""
        with torch.no_grad():
            return float(self.torch_value(torch.as_tensor(u, dtype=torch.float64)))

    def true_gradient(self, u: torch.Tensor) -> torch.Tensor:
        """Gradient of the value with respect to the unit-cube point ``u`` (``d``), by autograd."""
        u = u.detach().clone().to(torch.float64).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.torch_value(u), u)
        return grad


# --- global BO (BoTorch's test functions) ---------------------------------------------------------
def _botorch_fn(fn: Any) -> Callable[[np.ndarray], float]:
    def value(x: np.ndarray) -> float:
        X = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
        return float(fn.evaluate_true(X).item())

    return value


def _wide(dim: int) -> list[tuple[float, float]]:
    """Bounds for a BoTorch test function wide enough to take shifted inputs (it checks them)."""
    return [(-100.0, 100.0)] * dim


MIXED_DX = {"a": 0.0, "b": 2.0, "c": -3.0}
MIXED_DY = {"a": 0.0, "b": 4.0, "c": 7.0}
MIXED_SCALE = {"p": 1.0, "q": 0.5, "r": 2.0, "s": 1.5}
MIXED_BIAS = {
    "a": {"p": 0.9, "q": 0.4, "r": 1.2, "s": 0.7},
    "b": {"p": 0.6, "q": 1.0, "r": 0.0, "s": 0.8},
    "c": {"p": 1.1, "q": 0.3, "r": 0.9, "s": 1.5},
}
_MIXED_BRANIN = _botorch_fn(Branin(bounds=_wide(2)))


def _mixed(params: Mapping[str, Any]) -> float:
    c1, c2 = params["c1"], params["c2"]
    x = np.array([float(params["x0"]) - MIXED_DX[c1], float(params["x1"]) - MIXED_DY[c1]])
    return MIXED_SCALE[c2] * (_MIXED_BRANIN(x) - BRANIN_MIN) + MIXED_BIAS[c1][c2]


def _shifted(name: str, fn: Any, dim: int, box: tuple[float, float], budget: int, quick: int) -> Problem:
    """A BoTorch test function on ``box^dim``, shifted per seed; optimum 0."""
    return Problem(
        name,
        box_space([box] * dim),
        budget,
        0.0,
        _botorch_fn(fn(dim=dim, bounds=_wide(dim))),
        quick,
        shift=True,
    )


def _global_bo() -> dict[str, Problem]:
    h6_space, hartmann = box_space([(0.0, 1.0)] * 6), _botorch_fn(Hartmann(dim=6))
    mixed_space = Space(
        {
            "x0": Real(-5.0, 10.0),
            "x1": Real(0.0, 15.0),
            "c1": Categorical(tuple(MIXED_DX)),
            "c2": Categorical(tuple(MIXED_SCALE)),
        }
    )
    problems = [
        Problem("branin", box_space([(-5.0, 10.0), (0.0, 15.0)]), 40, BRANIN_MIN, _botorch_fn(Branin()), 15),
        Problem("hartmann6", h6_space, 60, HARTMANN6_MIN, hartmann, 20),
        _shifted("ackley10", Ackley, 10, (-32.768, 32.768), 100, 28),
        _shifted("rosenbrock4", Rosenbrock, 4, (-5.0, 10.0), 60, 18),
        Problem("mixed", mixed_space, 60, 0.0, _mixed, 18, vector=False),
        Problem("hartmann6-noisy", h6_space, 60, HARTMANN6_MIN, hartmann, 20, noise_sd=HARTMANN6_NOISE_SD),
    ]
    return {p.name: p for p in problems}


GLOBAL_BO: dict[str, Problem] = _global_bo()


def global_bo(name: str, *, quick: bool = False) -> Problem:
    """The global-BO problem called ``name`` (its quick budget when ``quick``: enough for every
    model-based method to leave its initial design)."""
    if name not in GLOBAL_BO:
        raise KeyError(f"unknown problem {name!r}; problems are {list(GLOBAL_BO)}.")
    return GLOBAL_BO[name].quick() if quick else GLOBAL_BO[name]


# --- zeroth order (torch, differentiable, 10-200 dimensions) --------------------------------------
def ackley(X: torch.Tensor) -> torch.Tensor:
    """Ackley (BoTorch's constants a = 20, b = 0.2, c = 2 pi) of ``... x d`` points: ``...``."""
    a, b, c = 20.0, 0.2, 2.0 * math.pi
    part1 = -a * torch.exp(-b * torch.sqrt(X.pow(2).mean(-1)))
    part2 = -torch.exp(torch.cos(c * X).mean(-1))
    return part1 + part2 + a + math.e


def levy(X: torch.Tensor) -> torch.Tensor:
    """Levy (BoTorch's form) of ``... x d`` points: ``...``."""
    W = 1.0 + (X - 1.0) / 4.0
    part1 = torch.sin(math.pi * W[..., 0]).pow(2)
    inner = W[..., :-1]
    part2 = ((inner - 1.0).pow(2) * (1.0 + 10.0 * torch.sin(math.pi * inner + 1.0).pow(2))).sum(-1)
    part3 = (W[..., -1] - 1.0).pow(2) * (1.0 + torch.sin(2.0 * math.pi * W[..., -1]).pow(2))
    return part1 + part2 + part3


def quadratic(X: torch.Tensor) -> torch.Tensor:
    """``sum(x^2) / d`` of ``... x d`` points: ``...``."""
    return X.pow(2).mean(-1)


ZO_FAMILIES: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], tuple[float, float]]] = {
    "ackley": (ackley, (-32.768, 32.768)),
    "levy": (levy, (-10.0, 10.0)),
    "quadratic": (quadratic, (-5.0, 5.0)),
}
ZO_DEFAULT = (
    "ackley-10", "ackley-50", "ackley-200",
    "levy-10", "levy-50", "levy-200",
    "quadratic-50",
)  # fmt: skip


def _no_grad(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[np.ndarray], float]:
    def value(x: np.ndarray) -> float:
        with torch.no_grad():
            return float(fn(torch.as_tensor(x, dtype=torch.float64)))

    return value


def zo_budget(dim: int, quick: bool = False) -> int:
    """1000 queries for d >= 50 and 150 for d = 10 (BayesOpt's asks cost 0.3-0.9 s each there);
    quick: 200 and 60."""
    if quick:
        return 60 if dim <= 10 else 200
    return 150 if dim <= 10 else 1000


def zeroth_order(name: str, *, quick: bool = False, budget: int | None = None) -> Problem:
    """``family-d`` (e.g. ``levy-50``) with the default (or quick, or given) budget."""
    family, _, dim_text = name.partition("-")
    if family not in ZO_FAMILIES or not dim_text.isdigit() or int(dim_text) < 2:
        raise KeyError(
            f"unknown problem {name!r}; problems are family-d with family in {list(ZO_FAMILIES)}, d >= 2"
        )
    fn, (low, high) = ZO_FAMILIES[family]
    dim = int(dim_text)
    return Problem(
        name,
        box_space([(low, high)] * dim),
        budget or zo_budget(dim, quick),
        0.0,
        _no_grad(fn),
        shift=True,
        torch_f=fn,
    )


# --- federated (asktell.problems) -----------------------------------------------------------------
FED_BOXES = {"quadratic": (-10.0, 10.0), "levy": (-10.0, 10.0), "ackley": (-32.768, 32.768)}


def federation(
    name: str, n: int, d: int, heterogeneity: float, seed: int
) -> tuple[Space, list[Blackbox], float | None]:
    """``n`` client functions of a federated problem on its box and the optimum of their mean
    (None where unknown): ``quadratic`` (:func:`asktell.problems.federated_quadratic`), or ``levy``
    and ``ackley`` (:func:`asktell.problems.federated_hetero`)."""
    space = box_space([FED_BOXES[name]] * d, "x{:04d}")
    if name == "quadratic":
        return space, federated_quadratic(n, d, heterogeneity, seed), federated_quadratic_minimum(d)
    return space, federated_hetero(name, n, d, heterogeneity, seed), None
