"""Adam as a pure function on plain lists, so its moments can live in a JSON state.

Same update as ``torch.optim.Adam`` (and optax's ``adam``) with default betas and eps; tested against
torch's optimizer as the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import torch


class AdamMemo(TypedDict):
    """:meth:`AdamState.to_dict`'s JSON: the moments (``d`` each) and the step count."""

    m: list[float]
    v: list[float]
    t: int


@dataclass(frozen=True)
class AdamState:
    """First and second moments (``d`` each) and the step count."""

    m: list[float]
    v: list[float]
    t: int = 0

    @classmethod
    def zeros(cls, d: int) -> AdamState:
        return cls([0.0] * d, [0.0] * d, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"m": self.m, "v": self.v, "t": self.t}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdamState:
        return cls(list(data["m"]), list(data["v"]), int(data["t"]))


def adam_step(
    grad: torch.Tensor,
    state: AdamState,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[torch.Tensor, AdamState]:
    """One Adam step for a ``d`` gradient: returns the ``d`` update to *subtract* and the new state."""
    b1, b2 = betas
    g = grad.to(torch.float64)
    m = b1 * torch.tensor(state.m, dtype=torch.float64) + (1 - b1) * g
    v = b2 * torch.tensor(state.v, dtype=torch.float64) + (1 - b2) * g * g
    t = state.t + 1
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return lr * m_hat / (v_hat.sqrt() + eps), AdamState(m.tolist(), v.tolist(), t)
