"""RFF surrogate: the same features from the same seed anywhere; convergence to the exact GP."""

from __future__ import annotations

import math
import subprocess
import sys

import torch

from asktell.surrogates.rff import fit_rff_weights, rff_features


def _data(n=40, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=g, dtype=torch.float64)
    y = torch.sin(3 * X[:, 0]) + X[:, 1] ** 2 - X[:, 2]
    return X, y


def _exact_gradient(X, y, x, lengthscale, noise):
    """Gradient of the exact GP posterior mean with k = exp(-|x-x'|^2/(2 l^2))."""
    K = torch.exp(-(torch.cdist(X, X) ** 2) / (2 * lengthscale**2)) + noise * torch.eye(len(X), dtype=X.dtype)
    alpha = torch.linalg.solve(K, y)
    k = torch.exp(-(torch.cdist(x, X) ** 2) / (2 * lengthscale**2))  # b x n
    diff = x[:, None, :] - X[None]  # b x n x d
    return -(k[..., None] * diff * alpha[None, :, None]).sum(1) / lengthscale**2


def test_rff_gradient_converges_to_the_exact_gp_mean_gradient():
    X, y = _data()
    x = torch.rand(5, 3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    exact = _exact_gradient(X, y, x, lengthscale=1.0, noise=1e-2)
    errors = []
    for M in (100, 1000, 20000):
        feats = rff_features(3, M, 1.0, seed=4)
        w = fit_rff_weights(feats, X, y, noise=1e-2)
        errors.append(float((feats.gradient(x, w) - exact).norm() / exact.norm()))
    assert errors[0] > errors[1] > errors[2]  # Monte Carlo error ~ 1/sqrt(M)
    assert errors[2] < 0.1  # 20 000 features: within 10 % of the exact gradient


def test_gradient_is_the_derivative_of_the_value():
    X, y = _data()
    feats = rff_features(3, 500, 1.0, seed=1)
    w = fit_rff_weights(feats, X, y)
    x = torch.rand(4, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64).requires_grad_()
    feats.value(x, w).sum().backward()
    assert torch.allclose(feats.gradient(x.detach(), w), x.grad, rtol=1e-10, atol=1e-12)


def test_kernel_is_approximated():
    feats = rff_features(2, 50000, 0.7, seed=3)
    a = torch.tensor([[0.1, 0.2]], dtype=torch.float64)
    b = torch.tensor([[0.5, -0.1]], dtype=torch.float64)
    approx = float(feats(a) @ feats(b).T)
    exact = math.exp(-float(((a - b) ** 2).sum()) / (2 * 0.7**2))
    assert abs(approx - exact) < 0.02  # sd ~ 1/sqrt(M) = 0.0045


def test_same_seed_gives_the_same_features_in_another_process():
    feats = rff_features(4, 64, 1.0, seed=11)
    code = (
        "import torch; from asktell.surrogates.rff import rff_features;"
        "f = rff_features(4, 64, 1.0, seed=11);"
        "print(repr(float(f.omega.sum())), repr(float(f.offset.sum())))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [repr(float(feats.omega.sum())), repr(float(feats.offset.sum()))]
    assert not torch.equal(rff_features(4, 64, 1.0, seed=12).omega, feats.omega)
