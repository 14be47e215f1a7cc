"""Model-free loops: uniform random search and scrambled Sobol sequences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.quasirandom import SobolEngine

from asktell.errors import ConfigError
from asktell.loops.base import Loop, Proposal
from asktell.registry import register_loop
from asktell.rng import derive_seed, torch_rng
from asktell.state import State


def _check_objectives(n_objectives: Any) -> None:
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, int) or n_objectives < 1:
        raise ConfigError(f"n_objectives must be a positive integer, got {n_objectives!r}.")


@register_loop
@dataclass(frozen=True)
class RandomSearch(Loop):
    """Independent uniform samples of the space (uniform over the values of integers and choices).

    Args:
        n_objectives: how many values each told trial carries (1: a float; more: a list).
    """

    n_objectives: int = 1  # type: ignore[assignment]
    name = "random"

    def _validate_config(self) -> None:
        _check_objectives(self.n_objectives)

    def _propose(self, state: State, n: int) -> Proposal:
        generator = torch_rng(state.seed, "random", state.counter)
        return Proposal(params=state.space.sample(n, generator), memo=state.memo)


def sobol_points(dim: int, seed: int, skip: int, n: int):
    """Points ``skip .. skip + n - 1`` of the scrambled Sobol sequence for ``seed``: ``n x dim``."""
    if n == 0:  # SobolEngine.draw(0) fails on a fresh engine
        return torch.zeros(0, dim, dtype=torch.float64)
    engine = SobolEngine(dim, scramble=True, seed=derive_seed(seed, "sobol") % (2**31))
    if skip:
        engine.fast_forward(skip)
    return engine.draw(n, dtype=torch.float64)


@register_loop
@dataclass(frozen=True)
class Sobol(Loop):
    """A scrambled Sobol sequence seeded from the state's seed.

    The memo counts the points issued, so a resumed run continues the sequence where it stopped
    instead of re-issuing points.

    Args:
        n_objectives: how many values each told trial carries (1: a float; more: a list).
    """

    n_objectives: int = 1  # type: ignore[assignment]
    name = "sobol"

    def _validate_config(self) -> None:
        _check_objectives(self.n_objectives)

    def _init_memo(self, space, seed) -> dict[str, Any]:
        return {"sobol_issued": 0}

    def _propose(self, state: State, n: int) -> Proposal:
        issued = int(state.memo["sobol_issued"])
        X = sobol_points(state.space.dim, state.seed, issued, n)
        return Proposal(params=state.space.decode_many(X), memo={**state.memo, "sobol_issued": issued + n})
