"""Random Fourier features (RFF) for the RBF kernel: a surrogate small enough to send over a network.

Every client and the server rebuild the same features from a shared seed, so only the ``M`` weights
travel (FZooS, arXiv 2308.04077, Sec. 4.2; Rahimi and Recht, NeurIPS 2007):

    phi(x) = sqrt(2 / M) cos(Omega x + b),   Omega_j ~ N(0, I / l^2),   b_j ~ U[0, 2 pi]

approximates ``k(x, x') = exp(-|x - x'|^2 / (2 l^2))`` by ``phi(x)^T phi(x')``. The weights are a
ridge regression solved in the dual (``n x n``, cheap when ``n << M``):

    w = Phi^T (Phi Phi^T + sigma^2 I)^{-1} y,    Phi: n x M

so ``phi(x)^T w`` tends to the exact GP posterior mean ``k(x, X)(K + sigma^2 I)^{-1} y`` as ``M``
grows, and the surrogate's gradient has the closed form

    grad (phi(x)^T w) = -sqrt(2 / M) Omega^T (w * sin(Omega x + b)).

BoTorch's ``RandomFourierFeatures`` draws its weights from torch's global generator inside the
kernel module; the shared-seed contract needs the draw to be a pure function of the seed, hence
this small module. Everything is float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from asktell.rng import derive_seed


@dataclass(frozen=True, eq=False)
class RFFFeatures:
    """Shared random features: ``omega`` (``M x d``) and ``offset`` (``M``)."""

    omega: Tensor
    offset: Tensor

    @property
    def n_features(self) -> int:
        return self.omega.shape[0]

    def __call__(self, X: Tensor) -> Tensor:
        """Features of ``X`` (``n x d``): ``n x M``."""
        return math.sqrt(2.0 / self.n_features) * torch.cos(X @ self.omega.T + self.offset)

    def value(self, X: Tensor, w: Tensor) -> Tensor:
        """The surrogate ``phi(X) w`` at ``X`` (``n x d``): ``n``."""
        return self(X) @ w

    def gradient(self, X: Tensor, w: Tensor) -> Tensor:
        """Gradient of the surrogate at ``X`` (``n x d``): ``n x d``."""
        sines = torch.sin(X @ self.omega.T + self.offset)  # n x M
        return -math.sqrt(2.0 / self.n_features) * (sines * w) @ self.omega


@lru_cache(maxsize=8)
def rff_features(dim: int, n_features: int, lengthscale: float, seed: int) -> RFFFeatures:
    """The features for ``(dim, M, l, seed)``: the same numbers in every process.

    A pure function of its arguments (cached, since clients rebuild them every local step).
    """
    generator = torch.Generator().manual_seed(derive_seed(seed, "rff", dim, n_features))
    omega = torch.randn(n_features, dim, generator=generator, dtype=torch.float64) / lengthscale
    offset = 2 * math.pi * torch.rand(n_features, generator=generator, dtype=torch.float64)
    omega.requires_grad_(False)
    return RFFFeatures(omega, offset)


def fit_rff_weights(features: RFFFeatures, X: Tensor, y: Tensor, noise: float = 1e-6) -> Tensor:
    """Ridge weights ``w`` (``M``) for data ``X`` (``n x d``), ``y`` (``n``), solved in the dual."""
    Phi = features(X)  # n x M
    K = Phi @ Phi.T
    K.diagonal().add_(noise)
    L = torch.linalg.cholesky(K)
    return Phi.T @ torch.cholesky_solve(y.reshape(-1, 1).to(Phi), L).reshape(-1)
