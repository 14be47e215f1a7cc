"""The local part of a trajectory: the points a local surrogate is fitted on."""

from __future__ import annotations

import torch


def nearest(X: torch.Tensor, center: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the ``k`` rows of ``X`` (``n x d``) nearest ``center`` (``d``), nearest first.

    Ties keep the order of the rows (a stable sort), so the subset is a function of the data.
    """
    distances = torch.linalg.norm(X - center, dim=-1)
    return torch.argsort(distances, stable=True)[:k]
