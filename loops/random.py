"""Model-free loops: uniform random search and scrambled Sobol sequences.

Both serve any number of objectives (``init(space, n_objectives=k)``): they never read the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import torch
from torch.quasirandom import SobolEngine

from asktell.errors import ParamError
from asktell.loops.base import Loop, Proposal, check_sobol_count
from asktell.registry import register_loop
from asktell.rng import derive_seed
from asktell.space import Space
from asktell.state import State
from asktell.surrogates.seeding import torch_rng


def uniform_points(space: Space, n: int, generator: torch.Generator) -> list[dict[str, Any]]:
    """``n`` points drawn uniformly from the space (uniform over the values of integers and
    choices): ``n x d`` uniforms from ``generator``, decoded."""
    return space.decode_many(torch.rand(n, space.dim, generator=generator, dtype=torch.float64))


class RandomMemo(TypedDict):
    """Nothing: each ask's draw comes from (seed, counter)."""


@register_loop
@dataclass(frozen=True)
class RandomSearch(Loop):
    """Independent uniform samples of the space (uniform over the values of integers and choices);
    where the space has priors (:mod:`asktell.priors`), those parameters are drawn from them."""

    name = "random"
    max_objectives = None
    supports_constraints = True  # it samples as before; best() is the best feasible trial
    memo_schema = RandomMemo

    def _propose(self, state: State, n: int) -> Proposal:
        generator = torch_rng(state.seed, "random", state.counter)
        space = state.space
        if not space.has_priors:
            return Proposal(params=uniform_points(space, n, generator), memo=state.memo)
        U = torch.rand(n, space.dim, generator=generator, dtype=torch.float64)
        return Proposal(params=space.decode_many(space.from_prior(U.numpy())), memo=state.memo)


def require_sobol_dims(space: Space, loop: str) -> None:
    """Refuse spaces with more coordinates than torch's Sobol engine draws (21 201)."""
    if space.dim > SobolEngine.MAXDIM:
        raise ParamError(
            f"{loop} draws Sobol points, which exist for at most {SobolEngine.MAXDIM} parameters; "
            f"this space has {space.dim}. Use RandomSearch, ZOSGD or a federated loop."
        )


def sobol_points(dim: int, seed: int, skip: int, n: int) -> torch.Tensor:
    """Points ``skip .. skip + n - 1`` of the scrambled Sobol sequence for ``seed``: ``n x dim``."""
    if n == 0:  # SobolEngine.draw(0) fails on a fresh engine
        return torch.zeros(0, dim, dtype=torch.float64)
    # SobolEngine scrambles with a generator of its own, seeded here: the global one is untouched
    engine = SobolEngine(dim, scramble=True, seed=derive_seed(seed, "sobol") % (2**31))
    if skip:
        engine.fast_forward(skip)
    return engine.draw(n, dtype=torch.float64)


class SobolMemo(TypedDict):
    sobol_issued: int  # points of the sequence handed out so far


@register_loop
@dataclass(frozen=True)
class Sobol(Loop):
    """A scrambled Sobol sequence seeded from the state's seed.

    The memo counts the points issued, so a resumed run continues the sequence where it stopped
    instead of re-issuing points.
    """

    name = "sobol"
    max_objectives = None
    supports_constraints = True  # it samples as before; best() is the best feasible trial
    memo_schema = SobolMemo

    def _check_space(self, space: Space) -> None:
        require_sobol_dims(space, "Sobol")

    def _init_memo(self, space, seed) -> dict[str, Any]:
        return {"sobol_issued": 0}

    def _check_memo(self, state: State) -> None:
        check_sobol_count(state, state.memo["sobol_issued"], every_asked=True)

    def _propose(self, state: State, n: int) -> Proposal:
        issued = int(state.memo["sobol_issued"])
        X = sobol_points(state.space.dim, state.seed, issued, n)
        return Proposal(params=state.space.decode_many(X), memo={**state.memo, "sobol_issued": issued + n})
