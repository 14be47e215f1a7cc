"""ZO-SGD: descent along finite-difference estimates of the gradient, as a stateless loop.

The estimator is the one the FZooS paper's baselines share (arXiv 2308.04077; FedZO, arXiv
2201.09531): at the iterate
``x`` (in the unit cube), ``q`` random directions ``u_j``, smoothing ``mu``, and

    g = scale / q * sum_j (f(x + mu u_j) - f(x)) / mu * u_j

with ``directions="gaussian"``: Gaussian directions orthonormalized by Gram-Schmidt (QR), scale 1,
as in the FZooS code; or ``directions="sphere"``: independent directions uniform on the unit sphere,
scale ``d``, as in FedZO. The step is Adam's.

Every function evaluation is a trial, so query counts are honest: one step costs ``q + 1`` trials
(``f(x)`` and the ``q`` probes). ``ask(n)`` hands out the next ``n`` evaluations of the current step;
asking for more than the step needs adds further directions to it (they improve the estimate). The
step is taken, at the next ask, once ``f(x)`` and at least ``q`` probes are finished; failed probes
are left out of the estimate, and a failed ``f(x)`` means a step of zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import torch

from asktell.checks import MAX_SIZE, check_choice, check_positive
from asktell.errors import ConfigError, StateError
from asktell.loops.adam import AdamMemo, AdamState, adam_step
from asktell.loops.base import Loop, Proposal, check_unit_cube, check_vector, require_numeric
from asktell.registry import register_loop
from asktell.space import Space
from asktell.state import COMPLETED, State
from asktell.surrogates.seeding import torch_rng

DIRECTIONS = ("gaussian", "sphere")


def random_directions(d: int, q: int, generator: torch.Generator, kind: str = "gaussian") -> torch.Tensor:
    """``q x d`` unit directions: orthonormalized Gaussian (blocks of ``min(q, d)``) or uniform on the
    sphere."""
    if kind not in DIRECTIONS:
        raise ConfigError(f"kind must be one of {DIRECTIONS}, got {kind!r}.")
    G = torch.randn(q, d, generator=generator, dtype=torch.float64)
    if kind == "sphere":
        return G / G.norm(dim=1, keepdim=True)
    blocks = []
    for start in range(0, q, d):  # at most d orthonormal directions per block
        Q, R = torch.linalg.qr(G[start : start + d].T)
        blocks.append((Q * torch.sign(torch.diagonal(R))).T)  # sign fix: unique Gram-Schmidt
    return torch.cat(blocks)


def finite_difference_gradient(
    f_x: float, f_probes: torch.Tensor, directions: torch.Tensor, mu: float, kind: str = "gaussian"
) -> torch.Tensor:
    """The estimator above: ``f_probes`` (``q``) at ``x + mu * directions`` (``q x d``) -> ``d``."""
    q, d = directions.shape
    scale = d if kind == "sphere" else 1.0
    coefficients = (f_probes.to(torch.float64) - f_x) / mu
    return scale / q * (coefficients[:, None] * directions).sum(0)


class ZOSGDMemo(TypedDict):
    x: list[float]  # the iterate, in the unit cube
    step: int  # gradient steps taken
    probes: list[int]  # ids of the current step's trials: f(x) first, then the probes
    adam: AdamMemo


@register_loop
@dataclass(frozen=True)
class ZOSGD(Loop):
    """Zeroth-order SGD with a random finite-difference gradient and Adam.

    Args:
        lr: Adam's learning rate, in unit-cube coordinates.
        q: directions per gradient estimate (each one query).
        mu: finite-difference step, in unit-cube coordinates.
        directions: ``"gaussian"`` (orthonormalized, FZooS baselines) or ``"sphere"`` (FedZO).
        start: ``"random"`` (a uniform point from the seed) or ``"center"`` of the box.
    """

    lr: float = 0.01
    q: int = 20
    mu: float = 0.01
    directions: str = "gaussian"
    start: str = "random"
    name = "zosgd"
    memo_schema = ZOSGDMemo

    def _validate_config(self) -> None:
        check_positive("lr", self.lr)
        check_positive("q", self.q, integer=True, at_most=MAX_SIZE)
        check_positive("mu", self.mu)
        check_choice("directions", self.directions, DIRECTIONS)
        check_choice("start", self.start, ("random", "center"))

    def _check_space(self, space: Space) -> None:
        require_numeric(space, "ZOSGD")

    def _check_memo(self, state: State) -> None:
        memo, dim = state.memo, state.space.dim
        check_vector(memo["x"], dim, "the memo's iterate x")
        check_unit_cube(memo["x"], "the memo's iterate x")
        for key in ("m", "v"):
            check_vector(memo["adam"][key], dim, f"the memo's adam.{key}")
        ids = memo["probes"]
        if any(not 0 <= i < len(state.trials) for i in ids) or len(set(ids)) != len(ids):
            raise StateError(f"the memo's probes must be distinct ids of trials, got {ids}.")

    def _init_memo(self, space: Space, seed: int) -> dict[str, Any]:
        if self.start == "center":
            x = [0.5] * space.dim
        else:
            x = torch.rand(space.dim, generator=torch_rng(seed, "start"), dtype=torch.float64).tolist()
        return {"x": x, "step": 0, "probes": [], "adam": AdamState.zeros(space.dim).to_dict()}

    def _propose(self, state: State, n: int) -> Proposal:
        memo = self._advance(state)
        x = torch.tensor(memo["x"], dtype=torch.float64)
        issued = len(memo["probes"])
        first = len(state.trials)
        points = [self._probe_point(state, memo["step"], j, x) for j in range(issued, issued + n)]
        memo = {**memo, "probes": memo["probes"] + list(range(first, first + n))}
        metadata = [{"step": memo["step"], "probe": j} for j in range(issued, issued + n)]
        return Proposal(state.space.decode_many(torch.stack(points)), memo, metadata)

    def _directions(self, state: State, step: int, count: int) -> torch.Tensor:
        """The first ``count`` directions of ``step`` (a fixed sequence per step, in blocks of q)."""
        blocks = [
            random_directions(
                state.space.dim, self.q, torch_rng(state.seed, "zosgd", step, b), self.directions
            )
            for b in range((count + self.q - 1) // self.q)
        ]
        return torch.cat(blocks)[:count]

    def _probe_point(self, state: State, step: int, j: int, x: torch.Tensor) -> torch.Tensor:
        if j == 0:
            return x
        return (x + self.mu * self._directions(state, step, j)[j - 1]).clamp(0.0, 1.0)

    def _advance(self, state: State) -> dict[str, Any]:
        """Take the step when its evaluations are in; else the memo unchanged."""
        memo = dict(state.memo)
        probes = [state.trials[i] for i in memo["probes"]]
        finished = [t for t in probes if t.done]
        if not probes or not probes[0].done or len(finished) < self.q + 1:
            return memo
        x = torch.tensor(memo["x"], dtype=torch.float64)
        base = probes[0]
        used = [(j, t) for j, t in enumerate(probes) if j > 0 and t.status == COMPLETED]
        adam = AdamState.from_dict(memo["adam"])
        if base.status == COMPLETED and used:
            # a probe clamped at the box moved less than mu * u: use its actual displacement
            U = torch.stack([(self._probe_point(state, memo["step"], j, x) - x) / self.mu for j, _ in used])
            values = torch.tensor([t.value for _, t in used], dtype=torch.float64)
            grad = finite_difference_gradient(base.value, values, U, self.mu, self.directions)  # type: ignore[arg-type]
            delta, adam = adam_step(grad, adam, self.lr)
            x = (x - delta).clamp(0.0, 1.0)
        return {**memo, "x": x.tolist(), "step": memo["step"] + 1, "probes": [], "adam": adam.to_dict()}
