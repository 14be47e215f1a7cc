"""Test problems for the global-BO benchmark, each with a space, a budget and a known optimum.

A :class:`Problem` is a recipe; ``problem.instance(seed)`` gives the :class:`Instance` one run
optimizes: ``instance(params)`` is the observed value (noisy for the noisy problem) and
``instance.true_value(params)`` the noiseless one, whose minimum over the space is
``instance.optimum``. Every method gets the same instance for the same seed.

Values come from BoTorch's test functions (``botorch.test_functions.synthetic``), noise-free.

Problems (name, space, budget):

- ``branin``: Branin on [-5, 10] x [0, 15], 40 evaluations. Optimum 5 / (4 pi) = 0.397887.
- ``hartmann6``: Hartmann6 on [0, 1]^6, 60 evaluations. Optimum -3.322368.
- ``ackley10``: Ackley on [-32.768, 32.768]^10, shifted (below), 100 evaluations. Optimum 0.
- ``rosenbrock4``: Rosenbrock on [-5, 10]^4, shifted (below), 60 evaluations. Optimum 0.
- ``mixed``: two reals and two categoricals (3 and 4 choices), 60 evaluations. Optimum 0 (below).
- ``hartmann6-noisy``: Hartmann6 plus Gaussian noise of standard deviation 0.1 (about 3% of the
  function's range on [0, 1]^6), 60 evaluations. Regret is measured on the noiseless function.

**Shifts.** Ackley's optimum is the centre of its box and Rosenbrock's is close to it, so a method
that samples the centre early would look brilliant. For these two the instance evaluates
``f(x - offset)``, where ``offset`` is drawn once per seed, independently per coordinate, from
``Uniform(-w / 4, w / 4)`` with ``w`` the box width (Ackley: +-16.384; Rosenbrock: +-3.75), using
``numpy.random.default_rng([seed, crc32(name)])``. The optimizer of the shifted function is
``x* + offset``, which stays inside the box for both (Ackley: |x*_i| <= 16.4 < 32.768; Rosenbrock:
1 + offset_i in [-2.75, 4.75] within [-5, 10]); the optimum value is unchanged.

**Noise.** The noisy instance owns ``numpy.random.default_rng([seed, crc32(name), 1])`` and draws
one normal deviate per evaluation, so every method sees the same noise sequence for a seed.

**Mixed problem.** Parameters ``x0`` in [-5, 10], ``x1`` in [0, 15], ``c1`` in {a, b, c},
``c2`` in {p, q, r, s}::

    f = scale[c2] * (branin(x0 - dx[c1], x1 - dy[c1]) - BRANIN_MIN) + bias[c1][c2]

``c1`` moves Branin's three minima (``dx`` in {0, 2, -3}, ``dy`` in {0, 4, 7}; at least one minimum
stays inside the box for every choice), ``c2`` rescales it (``scale`` in {1, 0.5, 2, 1.5}) and the
pair sets the floor ``bias``. The minimum over the reals for each (c1, c2) is ``bias[c1][c2]``, so
the optimum is ``min(bias) = 0`` at ``c1 = b, c2 = r`` by construction.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from botorch.test_functions.synthetic import Ackley, Branin, Hartmann, Rosenbrock

from asktell.space import Categorical, Real, Space

BRANIN_MIN = 5.0 / (4.0 * math.pi)  # exact: at the minimizers the quadratic term is 0
HARTMANN6_MIN = -3.322368011415515  # BoTorch rounds it to -3.32237
HARTMANN6_NOISE_SD = 0.1
SHIFT_FRACTION = 0.25  # offsets are Uniform(-SHIFT_FRACTION * w, SHIFT_FRACTION * w) per coordinate


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


def _botorch_fn(fn: Any) -> Callable[[np.ndarray], float]:
    def value(x: np.ndarray) -> float:
        X = torch.as_tensor(x, dtype=torch.float64).reshape(1, -1)
        return float(fn.evaluate_true(X).item())

    return value


def _wide(dim: int, half_width: float) -> list[tuple[float, float]]:
    """Bounds for a BoTorch test function wide enough to take shifted inputs (it checks them)."""
    return [(-half_width, half_width)] * dim


def _box_space(bounds: list[tuple[float, float]]) -> Space:
    return Space({f"x{i}": Real(lo, hi) for i, (lo, hi) in enumerate(bounds)})


@dataclass(frozen=True)
class Instance:
    """One seed's version of a problem: call it with a params dict for the observed value."""

    name: str
    space: Space
    budget: int
    optimum: float
    noise_sd: float
    _true: Callable[[Mapping[str, Any]], float]
    _noise: np.random.Generator | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def noisy(self) -> bool:
        return self.noise_sd > 0

    def true_value(self, params: Mapping[str, Any]) -> float:
        """The noiseless value at ``params``."""
        return self._true(params)

    def regret(self, params: Mapping[str, Any]) -> float:
        """Simple regret of recommending ``params``: ``true_value(params) - optimum`` (>= 0)."""
        return self.true_value(params) - self.optimum

    def __call__(self, params: Mapping[str, Any]) -> float:
        value = self._true(params)
        if self._noise is not None:
            value += self.noise_sd * float(self._noise.standard_normal())
        return value


@dataclass(frozen=True)
class Problem:
    """A benchmark problem: ``instance(seed)`` builds what one run optimizes."""

    name: str
    space: Space
    budget: int
    optimum: float
    make_true: Callable[[int], tuple[Callable[[Mapping[str, Any]], float], dict[str, Any]]]
    noise_sd: float = 0.0

    @property
    def dim(self) -> int:
        return self.space.dim

    def with_budget(self, budget: int) -> Problem:
        return replace(self, budget=budget)

    def instance(self, seed: int) -> Instance:
        true, info = self.make_true(seed)
        noise = np.random.default_rng([seed, _key(self.name), 1]) if self.noise_sd > 0 else None
        return Instance(
            name=self.name,
            space=self.space,
            budget=self.budget,
            optimum=self.optimum,
            noise_sd=self.noise_sd,
            _true=true,
            _noise=noise,
            info=info,
        )


def _vector(space: Space) -> Callable[[Mapping[str, Any]], np.ndarray]:
    names = space.names
    return lambda params: np.array([float(params[n]) for n in names])


def _unshifted(fn: Any, space: Space) -> Callable[[int], tuple[Callable, dict[str, Any]]]:
    value, vec = _botorch_fn(fn), _vector(space)

    def make(seed: int) -> tuple[Callable, dict[str, Any]]:
        return (lambda params: value(vec(params))), {}

    return make


def _shifted(fn: Any, space: Space, name: str) -> Callable[[int], tuple[Callable, dict[str, Any]]]:
    value, vec = _botorch_fn(fn), _vector(space)
    width = np.array([p.high - p.low for p in space.params.values()])

    def make(seed: int) -> tuple[Callable, dict[str, Any]]:
        rng = np.random.default_rng([seed, _key(name)])
        offset = rng.uniform(-SHIFT_FRACTION * width, SHIFT_FRACTION * width)
        return (lambda params: value(vec(params) - offset)), {"offset": offset.tolist()}

    return make


# --- the mixed problem ------------------------------------------------------------------------
MIXED_C1 = ("a", "b", "c")
MIXED_C2 = ("p", "q", "r", "s")
MIXED_DX = {"a": 0.0, "b": 2.0, "c": -3.0}
MIXED_DY = {"a": 0.0, "b": 4.0, "c": 7.0}
MIXED_SCALE = {"p": 1.0, "q": 0.5, "r": 2.0, "s": 1.5}
MIXED_BIAS = {
    "a": {"p": 0.9, "q": 0.4, "r": 1.2, "s": 0.7},
    "b": {"p": 0.6, "q": 1.0, "r": 0.0, "s": 0.8},
    "c": {"p": 1.1, "q": 0.3, "r": 0.9, "s": 1.5},
}


def _mixed_true(seed: int) -> tuple[Callable, dict[str, Any]]:
    branin = _botorch_fn(Branin(bounds=_wide(2, 100.0)))

    def value(params: Mapping[str, Any]) -> float:
        c1, c2 = params["c1"], params["c2"]
        x = np.array([float(params["x0"]) - MIXED_DX[c1], float(params["x1"]) - MIXED_DY[c1]])
        return MIXED_SCALE[c2] * (branin(x) - BRANIN_MIN) + MIXED_BIAS[c1][c2]

    return value, {}


def _problems() -> dict[str, Problem]:
    branin_space = _box_space([(-5.0, 10.0), (0.0, 15.0)])
    h6_space = _box_space([(0.0, 1.0)] * 6)
    ackley_space = _box_space([(-32.768, 32.768)] * 10)
    rosen_space = _box_space([(-5.0, 10.0)] * 4)
    mixed_space = Space(
        {
            "x0": Real(-5.0, 10.0),
            "x1": Real(0.0, 15.0),
            "c1": Categorical(MIXED_C1),
            "c2": Categorical(MIXED_C2),
        }
    )
    hartmann = Hartmann(dim=6)
    problems = [
        Problem("branin", branin_space, 40, BRANIN_MIN, _unshifted(Branin(), branin_space)),
        Problem("hartmann6", h6_space, 60, HARTMANN6_MIN, _unshifted(hartmann, h6_space)),
        Problem(
            "ackley10",
            ackley_space,
            100,
            0.0,
            _shifted(Ackley(dim=10, bounds=_wide(10, 100.0)), ackley_space, "ackley10"),
        ),
        Problem(
            "rosenbrock4",
            rosen_space,
            60,
            0.0,
            _shifted(Rosenbrock(dim=4, bounds=_wide(4, 100.0)), rosen_space, "rosenbrock4"),
        ),
        Problem("mixed", mixed_space, 60, 0.0, _mixed_true),
        Problem(
            "hartmann6-noisy",
            h6_space,
            60,
            HARTMANN6_MIN,
            _unshifted(hartmann, h6_space),
            noise_sd=HARTMANN6_NOISE_SD,
        ),
    ]
    return {p.name: p for p in problems}


PROBLEMS: dict[str, Problem] = _problems()

# Budgets of ``--quick``: enough for every model-based method to leave its initial design.
QUICK_BUDGETS = {
    "branin": 15,
    "hartmann6": 20,
    "ackley10": 28,
    "rosenbrock4": 18,
    "mixed": 18,
    "hartmann6-noisy": 20,
}


def get_problem(name: str, *, quick: bool = False) -> Problem:
    """The problem called ``name``, with its quick budget when ``quick``."""
    if name not in PROBLEMS:
        raise KeyError(f"unknown problem {name!r}; problems are {list(PROBLEMS)}.")
    problem = PROBLEMS[name]
    return problem.with_budget(QUICK_BUDGETS[name]) if quick else problem
