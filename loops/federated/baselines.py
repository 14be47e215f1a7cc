"""The finite-difference federated baselines: FedZO, FedProx, SCAFFOLD-I and SCAFFOLD-II.

As the FZooS paper (arXiv 2308.04077) sets them up for its comparisons, all share ZO-SGD's
estimator (``asktell.loops.zeroth``): at each of the ``T`` local steps, ``q`` orthonormalized
Gaussian directions, smoothing ``mu``, ``q + 1`` queries (the point and its probes), then a
corrected Adam step ``x <- x - Adam(g + gamma * v)``:

- **FedZO** (Fang et al., arXiv 2201.09531): no correction.
- **FedProx** (Li et al., arXiv 1812.06127): ``v = prox * (x - x_{r-1})``, a pull towards the
  round's start point.
- **SCAFFOLD** (Karimireddy et al., arXiv 1910.06378), with two kinds of control variate.
  **SCAFFOLD-I**: after the iterate exchange every client estimates its gradient at the new global
  point ``x_r`` (``q + 1`` more queries, counted) and sends it; ``v = mean_j D_j - D_i`` of those
  estimates, constant over the next round. **SCAFFOLD-II**: ``v = mean_j gbar_j - gbar_i`` with
  ``gbar_i`` the mean of client ``i``'s estimates over its local steps of the previous round, sent
  with the iterate.

Queries per client and round: ``T (q + 1)``, plus ``q + 1`` for SCAFFOLD-I.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from asktell.checks import check_choice
from asktell.errors import StateError
from asktell.loops.adam import AdamState, adam_step
from asktell.loops.federated.protocol import (
    MAX_QUERIES,
    PHASE_POST,
    PHASE_REPORT,
    PHASE_REPORT_POST,
    Federated,
    check_option,
)
from asktell.loops.federated.schema import FiniteDifferenceMemo
from asktell.loops.zeroth import DIRECTIONS, finite_difference_gradient, random_directions
from asktell.registry import register_loop
from asktell.state import State
from asktell.surrogates.seeding import torch_rng


@dataclass(frozen=True)
class FiniteDifferenceFederated(Federated):
    """Shared engine of the finite-difference baselines.

    Args:
        q: directions per gradient estimate.
        mu: finite-difference step (unit-cube coordinates).
        directions: ``"gaussian"`` (orthonormalized, FZooS's baselines) or ``"sphere"`` (FedZO).
    """

    q: int = 20
    mu: float = 0.01
    directions: str = "gaussian"
    memo_schema = FiniteDifferenceMemo

    def _validate_config(self) -> None:
        super()._validate_config()
        check_option("q", self.q, integer=True, high=MAX_QUERIES)  # a stencil is q + 1 queries
        check_option("mu", self.mu)
        check_choice("directions", self.directions, DIRECTIONS)

    def _check_memo(self, state: State) -> None:
        super()._check_memo(state)
        dim = state.space.dim
        if any(len(g) != dim for g in state.memo["grads"]):
            raise StateError(f"the memo's grads must be gradient estimates of {dim} coordinates each.")

    # -- units: a finite-difference stencil at a point
    def _stencil(self, state: State, memo: dict[str, Any], x: list[float], tag: str) -> dict[str, Any]:
        xt = torch.tensor(x, dtype=torch.float64)
        generator = torch_rng(state.seed, tag, memo["round"], memo.get("t", 0))
        U = random_directions(len(x), self.q, generator, self.directions)
        probes = (xt + self.mu * U).clamp(0.0, 1.0)
        return {"points": [x, *probes.tolist()], "ids": [], "center": x}

    def _extra_points(self, state: State, memo: dict[str, Any], k: int) -> torch.Tensor:
        x = torch.tensor(memo["unit"]["center"], dtype=torch.float64)
        generator = torch_rng(state.seed, "extra", state.counter)
        U = random_directions(x.numel(), k, generator, "sphere")
        return (x + self.mu * U).clamp(0.0, 1.0)

    def _estimate(self, state: State, memo: dict[str, Any]) -> torch.Tensor | None:
        """The stencil's gradient estimate, or None when its base point failed."""
        X, y, ok = self._unit_results(state, memo)
        if not ok[0] or not any(ok[1:]):
            return None
        keep = [j for j in range(1, len(ok)) if ok[j]]
        U = (X[keep] - X[0]) / self.mu  # actual displacements: probes clamped at the box move less
        return finite_difference_gradient(float(y[0]), y[keep], U, self.mu, self.directions)

    # -- phases
    def _start_local(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        memo["unit"] = self._stencil(state, memo, memo["x"], "local")
        memo["grads"] = []
        return memo

    def _next_unit(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        if memo["phase"] == PHASE_POST:
            grad = self._estimate(state, memo)
            x = memo["x_global"]
            memo.update(
                phase=PHASE_REPORT_POST,
                outbox={"delta": (grad if grad is not None else torch.zeros(len(x))).tolist()},
            )
            return memo
        grad = self._estimate(state, memo)
        x = torch.tensor(memo["x"], dtype=torch.float64)
        adam = AdamState.from_dict(memo["adam"])
        if grad is not None:
            memo["grads"] = memo["grads"] + [grad.tolist()]
            direction = grad + self._correction(memo, x)
            delta, adam = adam_step(direction, adam, self.lr)
            x = (x - delta).clamp(0.0, 1.0)
        memo.update(x=x.tolist(), adam=adam.to_dict(), t=memo["t"] + 1)
        if memo["t"] >= self.local_steps:
            memo.update(phase=PHASE_REPORT, outbox=self._iterate_report(memo))
        else:
            memo["unit"] = self._stencil(state, memo, memo["x"], "local")
        return memo

    def _is_last_unit(self, memo: dict[str, Any]) -> bool:
        return memo["phase"] == PHASE_POST or memo["t"] + 1 >= self.local_steps

    def _iterate_report(self, memo: dict[str, Any]) -> dict[str, Any]:
        return {"x": memo["x"]}

    def _correction(self, memo: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x)

    def _start_post(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        memo["unit"] = self._stencil(state, memo, memo["x_global"], "post")
        return memo


@register_loop
@dataclass(frozen=True)
class FedZO(FiniteDifferenceFederated):
    """FedZO (arXiv 2201.09531): federated averaging of finite-difference ZO-SGD local steps."""

    name = "fedzo"


@register_loop
@dataclass(frozen=True)
class FedProx(FiniteDifferenceFederated):
    """FedProx (arXiv 1812.06127): local steps pulled towards the round's start point.

    The proximal term's gradient ``prox * (x - x_{r-1})`` is added to each local step's direction.
    """

    prox: float = 1.0
    name = "fedprox"

    def _validate_config(self) -> None:
        super()._validate_config()
        check_option("prox", self.prox, allow_zero=True)  # 0: FedZO

    def _correction(self, memo: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        if memo["round"] <= 1:
            return torch.zeros_like(x)
        return self.prox * (x - torch.tensor(memo["x_start"], dtype=torch.float64))


@register_loop
@dataclass(frozen=True)
class ScaffoldI(FiniteDifferenceFederated):
    """SCAFFOLD type I (arXiv 1910.06378): control variates from gradients at the global point."""

    name = "scaffold1"
    has_post_exchange = True

    def array_sizes(self, dim: int) -> dict[str, int]:
        """The iterate and the post message's gradient estimate ``delta``."""
        return {"x": dim, "delta": dim}

    def _correction(self, memo: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        own, shared = memo["own"].get("delta"), memo["received"].get("delta")
        if own is None or shared is None:
            return torch.zeros_like(x)
        return torch.tensor(shared, dtype=torch.float64) - torch.tensor(own, dtype=torch.float64)


@register_loop
@dataclass(frozen=True)
class ScaffoldII(FiniteDifferenceFederated):
    """SCAFFOLD type II (arXiv 1910.06378): control variates from last round's mean local estimate."""

    name = "scaffold2"

    def array_sizes(self, dim: int) -> dict[str, int]:
        """The iterate and the mean local gradient estimate ``gbar`` sent with it."""
        return {"x": dim, "gbar": dim}

    def _iterate_report(self, memo: dict[str, Any]) -> dict[str, Any]:
        grads = memo["grads"]
        mean = torch.tensor(grads, dtype=torch.float64).mean(0) if grads else torch.zeros(len(memo["x"]))
        return {"x": memo["x"], "gbar": mean.tolist()}

    def _correction(self, memo: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
        own, shared = memo["own"].get("gbar"), memo["received"].get("gbar")
        if own is None or shared is None:
            return torch.zeros_like(x)
        return torch.tensor(shared, dtype=torch.float64) - torch.tensor(own, dtype=torch.float64)
