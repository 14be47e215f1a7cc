"""Test problems for the zeroth-order benchmark (``benchmarks/zeroth_order.py``).

Same conventions as :mod:`benchmarks.problems` (a :class:`ZOProblem` is a recipe,
``problem.instance(seed)`` the function one run optimizes, every method gets the same instance for
the same seed), with what the zeroth-order study needs on top: the value as a differentiable torch
function of the point in the *unit cube* (for the true gradient of the gradient-quality study, and
for CMA-ES, which runs in the unit cube), and dimensions up to 200.

Problems (``family-d``; all noiseless, optimum value 0):

- ``ackley-d``: Ackley (a = 20, b = 0.2, c = 2 pi) on [-32.768, 32.768]^d, the box of the ZoRD and
  FZooS papers' Ackley and of BoTorch's ``Ackley``.
- ``levy-d``: Levy on [-10, 10]^d (BoTorch's ``Levy`` box); unshifted optimum at x = (1, ..., 1).
- ``quadratic-d``: ``sum((x - c)^2) / d`` on [-5, 5]^d; unshifted optimum at the centre, c = 0.

The formulas are BoTorch's ``Ackley`` and ``Levy`` (``botorch.test_functions.synthetic``), written
out here without BoTorch's per-call input validation (they are called up to 1000 times per run).

**Shifts** (BENCHMARKS.md: no free lunch from the box centre). As in :mod:`benchmarks.problems`,
the instance evaluates ``f(x - offset)``, ``offset`` drawn once per seed and problem, independently
per coordinate, from ``Uniform(-w / 4, w / 4)`` with ``w`` the box width, by
``numpy.random.default_rng([seed, crc32(name)])`` (``name`` includes the dimension, e.g.
``"ackley-50"``). The shifted optimizer ``x* + offset`` stays inside the box: Ackley
``|x*_i| <= 16.384 < 32.768``; Levy ``1 + offset_i`` in [-4, 6]; quadratic ``|c_i| <= 2.5``.
The optimum value stays 0.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from asktell.space import Real, Space

SHIFT_FRACTION = 0.25  # offsets are Uniform(-SHIFT_FRACTION * w, SHIFT_FRACTION * w) per coordinate
FAMILIES = ("ackley", "levy", "quadratic")
BOXES = {"ackley": (-32.768, 32.768), "levy": (-10.0, 10.0), "quadratic": (-5.0, 5.0)}


def ackley(X: torch.Tensor) -> torch.Tensor:
    """Ackley (BoTorch's constants) of ``... x d`` points: ``...``."""
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


FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "ackley": ackley,
    "levy": levy,
    "quadratic": quadratic,
}


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


@dataclass(frozen=True)
class ZOInstance:
    """One seed's shifted problem. Call it with a params dict (box coordinates) for the value."""

    name: str
    family: str
    space: Space
    budget: int
    low: float
    high: float
    offset: np.ndarray
    optimum: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return self.space.dim

    def torch_value(self, U: torch.Tensor) -> torch.Tensor:
        """The value at unit-cube points ``U`` (``... x d``), differentiable (autograd)."""
        X = self.low + (self.high - self.low) * U
        offset = torch.as_tensor(self.offset, dtype=U.dtype)
        return FUNCTIONS[self.family](X - offset)

    def value_unit(self, u: np.ndarray | torch.Tensor) -> float:
        """The value at one unit-cube point (CMA-ES's coordinates)."""
        with torch.no_grad():
            return float(self.torch_value(torch.as_tensor(u, dtype=torch.float64)))

    def value_box(self, x: np.ndarray) -> float:
        """The value at one point in box coordinates."""
        with torch.no_grad():
            X = torch.as_tensor(x, dtype=torch.float64) - torch.as_tensor(self.offset)
            return float(FUNCTIONS[self.family](X))

    def true_gradient(self, u: torch.Tensor) -> torch.Tensor:
        """Gradient of the value with respect to the unit-cube point ``u`` (``d``), by autograd."""
        u = u.detach().clone().to(torch.float64).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.torch_value(u), u)
        return grad

    def __call__(self, params: Mapping[str, Any]) -> float:
        return self.value_box(np.fromiter((float(params[n]) for n in self.space.names), float, self.dim))


@dataclass(frozen=True)
class ZOProblem:
    """A benchmark problem: ``instance(seed)`` builds what one run optimizes."""

    family: str
    dim: int
    budget: int

    @property
    def name(self) -> str:
        return f"{self.family}-{self.dim}"

    @property
    def box(self) -> tuple[float, float]:
        return BOXES[self.family]

    def space(self) -> Space:
        low, high = self.box
        return Space({f"x{i}": Real(low, high) for i in range(self.dim)})

    def instance(self, seed: int) -> ZOInstance:
        low, high = self.box
        width = high - low
        rng = np.random.default_rng([seed, _key(self.name)])
        offset = rng.uniform(-SHIFT_FRACTION * width, SHIFT_FRACTION * width, self.dim)
        return ZOInstance(
            name=self.name,
            family=self.family,
            space=self.space(),
            budget=self.budget,
            low=low,
            high=high,
            offset=offset,
            info={"offset_abs_max": float(np.abs(offset).max())},
        )


# Budgets: 1000 queries for d >= 50 (the issue). d = 10 gets 150: the issue allows fewer there, and
# BayesOpt's asks cost 0.3-0.9 s each with 100-300 points on a 2-core machine (10 runs of 300 would
# take most of the benchmark's hour by themselves).
def default_budget(dim: int) -> int:
    return 150 if dim <= 10 else 1000


def quick_budget(dim: int) -> int:
    return 60 if dim <= 10 else 200


DEFAULT_PROBLEMS = (
    "ackley-10", "ackley-50", "ackley-200",
    "levy-10", "levy-50", "levy-200",
    "quadratic-50",
)  # fmt: skip


def get_problem(name: str, *, quick: bool = False, budget: int | None = None) -> ZOProblem:
    """``family-d`` as a problem, with the default (or quick, or given) budget."""
    family, _, dim_text = name.partition("-")
    if family not in FAMILIES or not dim_text.isdigit() or int(dim_text) < 2:
        raise KeyError(f"unknown problem {name!r}; problems are family-d with family in {FAMILIES}, d >= 2")
    dim = int(dim_text)
    if budget is None:
        budget = quick_budget(dim) if quick else default_budget(dim)
    return ZOProblem(family, dim, budget)
