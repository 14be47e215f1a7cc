"""Test problems shared by the CLI's demo, the tests, the examples, the tutorials and the benchmarks.

Each takes a point as the dict a trial carries and returns the value to minimize. NumPy only: no
model, no torch, so a shell evaluator or a test can use them for free.

- :func:`branin` on :data:`BRANIN_SPACE` (``x1`` in [-5, 10], ``x2`` in [0, 15]); minimum
  :data:`BRANIN_MINIMUM` = 5 / (4 pi) at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475).
- :func:`federated_quadratic`: ``n`` heterogeneous clients of the FZooS paper's quadratic
  (arXiv 2308.04077, Sec. 6.1); their mean is minimal at ``x = -1/2``, with value
  :func:`federated_quadratic_minimum`.
- :func:`federated_hetero`: ``n`` clients of a scaled and shifted Levy or Ackley function, the same
  paper's heterogeneous synthetic tasks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from asktell.checks import check_positive
from asktell.errors import ConfigError
from asktell.space import Real, Space

Blackbox = Callable[[Mapping[str, Any]], float]

BRANIN_MINIMUM = 5.0 / (4.0 * math.pi)  # 0.397887...; exact: the quadratic term is 0 there
BRANIN_SPACE = Space({"x1": Real(-5.0, 10.0), "x2": Real(0.0, 15.0)})


def branin(params: Mapping[str, Any]) -> float:
    """The Branin function of ``params["x1"]`` and ``params["x2"]``; minimum 0.397887."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _vector(params: Mapping[str, Any]) -> np.ndarray:
    return np.fromiter(params.values(), dtype=np.float64)


def _check_clients(n: int, d: int) -> None:
    check_positive("n", n, integer=True)
    check_positive("d", d, integer=True)


def federated_quadratic(n: int, d: int, heterogeneity: float = 5.0, seed: int = 0) -> list[Blackbox]:
    """The federated quadratic: ``n`` client functions of ``d`` parameters.

    ``f_i(x) = (sum_j A_ij x_j^2 + B_ij x_j + 1) / (10 d)`` with ``A_i = 1 + C (a_i - 1/n)`` and
    ``B_i = 1 + C (b_i - 1/n)``, ``a, b`` Dirichlet(1/n) draws per coordinate from
    ``numpy.random.default_rng([seed, 61])`` and ``C`` the heterogeneity. The clients' mean is
    ``(|x|^2 + sum x + 1) / (10 d)``: minimum ``0.1 / d - 0.025`` at ``x = -1/2`` (inside any box
    around it; the benchmark's is [-10, 10]^d). Parameters are read in the point's order.
    """
    _check_clients(n, d)
    rng = np.random.default_rng([seed, 61])
    a = rng.dirichlet([1 / n] * n, size=d).T
    b = rng.dirichlet([1 / n] * n, size=d).T
    A, B = 1 + heterogeneity * (a - 1 / n), 1 + heterogeneity * (b - 1 / n)

    def make(i: int) -> Blackbox:
        def f(params: Mapping[str, Any]) -> float:
            x = _vector(params)
            return float(((A[i] * x**2 + B[i] * x).sum() + 1) / (10 * d))

        return f

    return [make(i) for i in range(n)]


def federated_quadratic_minimum(d: int) -> float:
    """The minimum of the mean of :func:`federated_quadratic`'s clients in ``d`` dimensions."""
    return 0.1 / d - 0.025


def levy(x: np.ndarray) -> float:
    """Levy's function, divided by ``d``: minimum 0 at ``x = 1``."""
    w = 1 + (x - 1) / 4
    inner = w[:-1]
    return float(
        np.sin(np.pi * w[0]) ** 2
        + ((inner - 1) ** 2 * (1 + 10 * np.sin(np.pi * inner + 1) ** 2)).sum()
        + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    ) / len(x)


def ackley(x: np.ndarray) -> float:
    """Ackley's function: minimum 0 at ``x = 0``."""
    return float(
        -20 * np.exp(-0.2 * np.sqrt((x**2).mean())) - np.exp(np.cos(2 * np.pi * x).mean()) + 20 + np.e
    )


def federated_hetero(name: str, n: int, d: int, heterogeneity: float, seed: int = 0) -> list[Blackbox]:
    """``n`` clients ``f_i(x) = g(c_i * (x - s_i))`` of ``g`` = :func:`levy` or :func:`ackley`.

    Scales ``c_i = 0.1 + C (a_i - 1/n)`` and shifts ``s_i = C (b_i - 1/n)``, ``a, b`` Dirichlet(1/n)
    draws per coordinate from ``numpy.random.default_rng([seed, 62])`` (``C``: the heterogeneity).
    """
    _check_clients(n, d)
    functions = {"levy": levy, "ackley": ackley}
    if name not in functions:
        raise ConfigError(f"name must be one of {sorted(functions)}, got {name!r}.")
    g = functions[name]
    rng = np.random.default_rng([seed, 62])
    c = 0.1 + heterogeneity * (rng.dirichlet([1 / n] * n, size=d).T - 1 / n)
    s = heterogeneity * (rng.dirichlet([1 / n] * n, size=d).T - 1 / n)

    def make(i: int) -> Blackbox:
        def f(params: Mapping[str, Any]) -> float:
            return g(c[i] * (_vector(params) - s[i]))

        return f

    return [make(i) for i in range(n)]
