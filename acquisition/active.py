"""Active queries that shrink the uncertainty of the gradient surrogate (ZoRD, FZooS).

Around an iterate ``x``, draw candidates uniformly in the box ``x +/- radius`` (intersected with the
search bounds) and choose ``m`` of them to query, by one of two rules (FZooS, arXiv 2308.04077,
Sec. 4.2.1 and its appendix; ZoRD, ICLR 2023):

``"trace_at_iterate"`` (the default, the intended local rule)
    Greedily choose the candidates that most reduce ``tr Cov[grad f(x) | data]`` at the iterate,
    once they are observed. Conditioning needs inputs only (a GP's posterior covariance does not
    depend on the observed values), so each step is a rank-one update of the joint posterior of
    ``(grad f(x), f(candidates))``: with ``Q = Cov[grad f(x), f(C)]`` (``N x d``) and
    ``S = Cov[f(C)]`` (``N x N``), observing candidate ``c`` with noise ``s2`` lowers the trace by
    ``|Q_c|^2 / (S_cc + s2)`` and updates ``Q -= S_:c Q_c / (S_cc + s2)``,
    ``S -= S_:c S_c: / (S_cc + s2)``. Cost ``O(n^2 N + n d N)`` once, then ``O(N d + N^2)`` a step.
``"uncertainty_at_candidates"`` (what the papers' code does)
    The ``m`` candidates with the largest trace of the gradient covariance at themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from botorch.models.model import Model
from torch import Tensor

from asktell.errors import ConfigError, ParamError
from asktell.surrogates.gradient import DerivedGP, derived_gp

__all__ = ["RULES", "draw_candidates", "select_active_queries"]

_DTYPE = torch.float64


def draw_candidates(
    x: Tensor,
    n_candidates: int,
    radius: float | Tensor,
    generator: torch.Generator,
    bounds: Tensor | None = None,
) -> Tensor:
    """Points drawn uniformly in the box ``x +/- radius`` intersected with ``bounds``.

    Uniform in the intersection rather than clipped afterwards, so no mass piles up on the faces.

    Args:
        x: ``d`` (or ``1 x d``) centre, inside ``bounds``.
        n_candidates: number of points ``N >= 0``.
        radius: positive half-width, a float or a ``d`` tensor.
        generator: the only source of randomness.
        bounds: ``2 x d`` lower and upper bounds; the unit cube by default.

    Returns:
        ``N x d`` float64 tensor.
    """
    x, bounds, radius = _check_box(x, radius, bounds)
    if not isinstance(n_candidates, int) or n_candidates < 0:
        raise ConfigError(f"n_candidates must be an int >= 0, got {n_candidates!r}.")
    lower = torch.maximum(x - radius, bounds[0])
    upper = torch.minimum(x + radius, bounds[1])
    u = torch.rand(n_candidates, x.shape[-1], generator=generator, dtype=_DTYPE)
    return lower + (upper - lower) * u


def select_active_queries(
    model: Model,
    x: Tensor,
    m: int,
    n_candidates: int,
    radius: float | Tensor,
    generator: torch.Generator,
    bounds: Tensor | None = None,
    rule: str = "trace_at_iterate",
) -> Tensor:
    """Choose ``m`` points near ``x`` whose observation best informs the gradient surrogate.

    Args:
        model: a fitted single-output BoTorch GP on raw inputs (see
            :func:`asktell.surrogates.gradient.derived_gp`); left unchanged.
        x: ``d`` (or ``1 x d``) iterate, raw units, inside ``bounds``.
        m: number of points to return, ``0 <= m <= n_candidates``.
        n_candidates: number of uniform candidates drawn (:func:`draw_candidates`).
        radius: half-width of the candidate box, a float or a ``d`` tensor.
        generator: the only source of randomness (drawing the candidates).
        bounds: ``2 x d`` search bounds; the unit cube by default.
        rule: a key of :data:`RULES`: ``"trace_at_iterate"`` or ``"uncertainty_at_candidates"``.

    Returns:
        ``m x d`` float64 tensor of distinct candidates, in the order chosen (greedy order for
        ``"trace_at_iterate"``, decreasing uncertainty for ``"uncertainty_at_candidates"``).
    """
    if rule not in RULES:
        raise ConfigError(f"rule must be one of {sorted(RULES)}, got {rule!r}.")
    if not isinstance(m, int) or not isinstance(n_candidates, int) or not 0 <= m <= n_candidates:
        raise ConfigError(f"`0 <= m <= n_candidates` must hold for ints, got ({m=}, {n_candidates=}).")
    candidates = draw_candidates(x, n_candidates, radius, generator, bounds)
    if m == 0:
        return candidates[:0]
    dgp = derived_gp(model)
    x = torch.as_tensor(x, dtype=_DTYPE).reshape(1, -1)
    return candidates[RULES[rule](dgp, x, candidates, m)]


def _greedy_trace_at_iterate(dgp: DerivedGP, x: Tensor, candidates: Tensor, m: int) -> Tensor:
    """Indices (``m``) of the greedy trace-at-``x`` choice among ``candidates`` (``N x d``)."""
    Z_train = dgp.train_inputs
    Z_cand = dgp.latent(candidates)
    noise = dgp.new_point_noise
    # Posterior given the training inputs, through the Cholesky factor L of K + N:
    # Q = Cov[f(C), grad f(x)] = dk(x, C) - K_TC^T A dk(x, T), S = Cov[f(C)] = K_CC - K_TC^T A K_TC.
    W = torch.linalg.solve_triangular(dgp.chol, dgp.kernel(Z_train, Z_cand), upper=False)  # n x N
    V = torch.linalg.solve_triangular(dgp.chol, dgp.kernel_gradient(x, Z_train)[0], upper=False)
    Q = dgp.kernel_gradient(x, Z_cand)[0] - W.T @ V  # N x d
    S = dgp.kernel(Z_cand, Z_cand) - W.T @ W  # N x N
    gain_num = Q.pow(2).sum(-1)  # |Q_c|^2
    chosen: list[int] = []
    available = torch.ones(candidates.shape[0], dtype=torch.bool)
    for _ in range(m):
        denom = S.diagonal().clamp_min(0.0) + noise  # rounding can leave S_cc slightly negative
        gain = torch.where(available, gain_num / denom, -torch.inf)
        c = int(torch.argmax(gain))
        chosen.append(c)
        available[c] = False
        s_c = S[:, c] / denom[c]
        q_c = Q[c].clone()
        Q -= s_c.unsqueeze(-1) * q_c
        S -= s_c.unsqueeze(-1) * S[c]
        gain_num = Q.pow(2).sum(-1)
    return torch.tensor(chosen, dtype=torch.long)


def _top_uncertainty_at_candidates(dgp: DerivedGP, x: Tensor, candidates: Tensor, m: int) -> Tensor:
    """Indices (``m``) of the candidates with the largest gradient-covariance trace."""
    del x  # the papers' rule looks only at the candidates
    return torch.topk(dgp.trace(candidates), m).indices


RULES: dict[str, Callable[[DerivedGP, Tensor, Tensor, int], Tensor]] = {
    "trace_at_iterate": _greedy_trace_at_iterate,
    "uncertainty_at_candidates": _top_uncertainty_at_candidates,
}
"""Active-query rules by name: ``(derived GP, 1 x d iterate, N x d candidates, m) -> m indices``."""


def _check_box(x: Tensor, radius: float | Tensor, bounds: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    x = torch.as_tensor(x, dtype=_DTYPE)
    if x.dim() > 2 or (x.dim() == 2 and x.shape[0] != 1) or x.numel() == 0:
        raise ParamError(f"x must be a d or 1 x d tensor, got shape {tuple(x.shape)}.")
    x = x.reshape(-1)
    d = x.numel()
    bounds = torch.stack([torch.zeros(d), torch.ones(d)]) if bounds is None else bounds
    bounds = torch.as_tensor(bounds, dtype=_DTYPE)
    if bounds.shape != (2, d) or not bool((bounds[0] < bounds[1]).all()):
        raise ParamError(
            f"bounds must be a 2 x {d} tensor with lower < upper, got shape {tuple(bounds.shape)}."
        )
    if not bool(((x >= bounds[0]) & (x <= bounds[1])).all()):
        raise ParamError(f"x must lie inside bounds, got x={x.tolist()}.")
    radius = torch.as_tensor(radius, dtype=_DTYPE)
    if radius.numel() not in (1, d) or not bool((radius > 0).all()):
        raise ConfigError(f"radius must be positive, a float or {d} values, got {radius.tolist()}.")
    return x, bounds, radius.reshape(-1)
