"""Pieces the model-based loops share: the trajectory as tensors, and the Sobol design/fallback."""

from __future__ import annotations

from typing import Any

import torch

from asktell.loops.random import sobol_points
from asktell.state import State


def trajectory(state: State) -> tuple[torch.Tensor, torch.Tensor]:
    """Completed trials as ``X`` (``n x d``, unit cube) and their values ``y`` (``n``).

    Failed and pending trials are never values.
    """
    done = state.completed
    X = state.space.encode_many([t.params for t in done])
    y = torch.tensor([float(t.value) for t in done], dtype=torch.float64)  # type: ignore[arg-type]
    return X, y


def modelling_obstacle(state: State) -> str | None:
    """Why no surrogate can be fitted on the trajectory yet, or None."""
    values = [t.value for t in state.completed]
    if len(values) < 2:
        return f"only {len(values)} completed trial(s); a GP needs at least 2"
    if max(values) == min(values):  # type: ignore[type-var]
        return "all completed values are equal; nothing to model"
    return None


def sobol_design(
    state: State, memo: dict[str, Any], k: int, reason: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The next ``k`` points of the run's scrambled Sobol sequence, with their metadata.

    Advances ``memo["sobol_issued"]`` in place (``memo`` is the caller's fresh copy). ``reason``
    says why a model-based ask fell back to the design; it goes into the metadata.
    """
    X = sobol_points(state.space.dim, state.seed, memo["sobol_issued"], k)
    memo["sobol_issued"] += k
    info = {"model": "sobol", **({"fallback": reason} if reason else {})}
    return state.space.decode_many(X), [dict(info) for _ in range(k)]
