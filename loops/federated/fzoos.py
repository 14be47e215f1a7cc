"""FZooS: federated zeroth-order optimization with trajectory-informed surrogate gradients.

Shu et al., "Federated Zeroth-Order Optimization using Trajectory-Informed Surrogate Gradients",
arXiv 2308.04077 (below: the paper). Each client descends along the derived-GP gradient of a GP
fitted on its own query trajectory (the ``n_local`` points nearest the current iterate), corrected
by the difference between the global and its own random-Fourier-feature (RFF) surrogate gradients
of the previous round, both evaluated at the current local iterate (the paper's Sec. 4, adaptive
gradient correction):

    g = grad mu_i(x) + gamma_t * (grad phi(x)^T w_{r-1} - grad phi(x)^T w^{(i)}_{r-1})

``correction="adaptive"`` (default) uses ``gamma_t = 1/t``; ``"fixed"`` uses ``gamma = 1`` and
evaluates the bracket at the round's start point ``x_{r-1}`` (the ablation's fixed variant);
``"theory"`` uses the length of the paper's Corollary 1, shared by all clients for the
round and estimated from what the federation already exchanges:

    gamma_r = G / (G + 2 U + 2 N eps)

- ``G``, the heterogeneity: the server's weighted mean of ``|grad mu_i(x_r) - grad mu(x_r)|^2``
  over the clients' RFF surrogates and their average, at the new global point;
- ``U``, the surrogate's gradient uncertainty (``omega kappa rho^{(r-1)T}`` in the bound): the
  weighted mean over clients of the trace of their local GP's gradient covariance at ``x_r``
  (before their post-round queries: an upper estimate), one float each client adds to its post
  message (none from a client without a model yet);
- ``eps``, the RFF error: ``(d / M)`` times the mean ``|grad mu_i(x_r)|^2`` (a relative error of
  ``sqrt(d / M)``, our stand-in for the bound's unspecified ``O(1/M)``).

Means are over the clients that sent a post message, with their weights; ``N`` is the
federation's size. ``G`` needs two of them: a post exchange with fewer keeps the previous
``G`` and ``eps`` (as the server keeps the previous ``w``), and until one has delivered them the
length is 0. Heterogeneous clients (large ``G``) get ``gamma`` near 1, near-identical ones near 0.
``"none"`` drops the correction (with one client this is the single-client surrogate descent).

Queries per client and round (defaults): the round's start point, then per local step its new
iterate plus ``local_active`` active queries around it (not after the last step); after the
iterate exchange, the new global point plus ``post_active`` active queries in a box of half-width
``rho_i`` (half the client's mean coordinate displacement in the round), after which the client
fits its RFF weights on the ``n_rff`` points nearest the global point and sends them. With
``T = 10``: ``1 + 10 + 5 * 9 + 1 + 50 = 107`` queries, as the paper's experiments count them. Before
round 1 each client also queries ``init_queries`` points within 0.01 of ``x_0`` (the paper's
experiments: 10).

Choices of this implementation: gradients of GP means in closed form, uncertainty as the trace of
the gradient covariance, local active queries chosen by that uncertainty (as the paper states
them), no server-side acceptance test, every query counted. The local GP is isotropic RBF
(hundreds of dimensions, ~150 points), its hyperparameters re-fitted every ``fit_every`` steps and
reused in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from asktell.acquisition.active import draw_candidates, select_active_queries
from asktell.checks import check_choice
from asktell.errors import ConfigError, StateError
from asktell.loops.adam import AdamState, adam_step
from asktell.loops.federated.protocol import (
    MAX_QUERIES,
    PHASE_POST,
    PHASE_REPORT,
    PHASE_REPORT_POST,
    Federated,
    Message,
    ServerState,
    check_option,
)
from asktell.loops.federated.schema import FZooSMemo
from asktell.loops.trajectory import modelling_obstacle, trajectory
from asktell.registry import register_loop
from asktell.rng import derive_seed
from asktell.state import State
from asktell.surrogates.gp import GPFit, fit_gp
from asktell.surrogates.gradient import derived_gp
from asktell.surrogates.local import nearest
from asktell.surrogates.rff import fit_rff_weights, rff_features
from asktell.surrogates.seeding import torch_global_seed, torch_rng

CORRECTIONS = ("adaptive", "fixed", "theory", "none")
# the RFF kernel's lengthscale, in unit-cube coordinates: frequencies 1 / lengthscale stay finite
MIN_LENGTHSCALE, MAX_LENGTHSCALE = 1e-6, 1e6


@register_loop
@dataclass(frozen=True)
class FZooS(Federated):
    """FZooS (arXiv 2308.04077; see the module docstring).

    Args:
        n_features: ``M``, random Fourier features of the shared surrogate.
        rff_lengthscale: RBF lengthscale of the RFF kernel (unit-cube coordinates).
        n_local, n_rff: nearest points for the local GP and for the RFF weights.
        local_active, local_candidates, local_radius: active queries after each local step.
        post_active, post_candidates: active queries around the new global point.
        init_queries: queries near ``x_0`` before round 1 (stored states may call it ``n_init``).
        correction: ``"adaptive"``, ``"fixed"``, ``"theory"`` or ``"none"``.
        fit_every: fit the local GP's hyperparameters every this many local steps, reuse them in
            between (stored states may call it ``refit_every``).
    """

    n_features: int = 10000
    rff_lengthscale: float = 1.0
    n_local: int = 150
    n_rff: int = 500
    local_active: int = 5
    local_candidates: int = 100
    local_radius: float = 0.01
    post_active: int = 50
    post_candidates: int = 200
    init_queries: int = 10
    correction: str = "adaptive"
    fit_every: int = 5
    name = "fzoos"
    has_post_exchange = True
    memo_schema = FZooSMemo
    renamed_options = {"refit_every": "fit_every", "n_init": "init_queries"}

    def _validate_config(self) -> None:
        super()._validate_config()
        for key in ("n_features", "n_local", "n_rff", "local_candidates", "post_candidates", "fit_every"):
            check_option(key, getattr(self, key), integer=True)
        for key in ("local_active", "post_active", "init_queries"):  # queries of one unit
            check_option(key, getattr(self, key), integer=True, allow_zero=True, high=MAX_QUERIES)
        check_option("rff_lengthscale", self.rff_lengthscale, high=MAX_LENGTHSCALE)
        if self.rff_lengthscale < MIN_LENGTHSCALE:
            raise ConfigError(
                f"rff_lengthscale must be at least {MIN_LENGTHSCALE:g} (unit-cube coordinates: "
                f"shorter ones make the features' frequencies overflow), got {self.rff_lengthscale!r}."
            )
        check_option("local_radius", self.local_radius)
        if self.local_active > self.local_candidates or self.post_active > self.post_candidates:
            raise ConfigError("active queries must not outnumber their candidates.")
        check_choice("correction", self.correction, CORRECTIONS)

    def array_sizes(self, dim: int) -> dict[str, int]:
        """The iterate, the RFF weights ``w`` (``M``) and Corollary 1's scalars ``unc``, ``G``, ``eps``."""
        return {"x": dim, "w": self.n_features, "unc": 1, "G": 1, "eps": 1}

    def _check_memo(self, state: State) -> None:
        super()._check_memo(state)
        unc = state.memo.get("unc")
        if unc is not None and unc < 0:
            raise StateError(f"the memo's unc is a trace of a covariance: >= 0, got {unc}.")

    # ---------------------------------------------------------------- local phase
    def _start_local(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        x = memo["x"]
        points = [x]
        if memo["round"] == 1 and self.init_queries:  # points near x_0 before the first step
            xt = torch.tensor(x, dtype=torch.float64)
            noise = torch.rand(
                self.init_queries, len(x), generator=torch_rng(state.seed, "init"), dtype=torch.float64
            )
            points += (xt + 0.01 * (2 * noise - 1)).clamp(0.0, 1.0).tolist()
        memo["unit"] = {"points": points, "ids": [], "center": x}
        return memo

    def _next_unit(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        if memo["phase"] == PHASE_POST:
            return self._finish_post(state, memo)
        if memo["t"] >= self.local_steps:
            memo.update(phase=PHASE_REPORT, outbox={"x": memo["x"]})
            return memo
        x = torch.tensor(memo["x"], dtype=torch.float64)
        model = self._local_model(state, memo, x)
        t = memo["t"] + 1
        # no model yet (fewer than two distinct values): the step follows the correction alone
        local = derived_gp(model).mean(x.unsqueeze(0))[0] if model is not None else torch.zeros_like(x)
        direction = local + self._correction(state, memo, x, t)
        delta, adam = adam_step(direction, AdamState.from_dict(memo["adam"]), self.lr)
        x_new = (x - delta).clamp(0.0, 1.0)
        points = [x_new.tolist()]
        if t < self.local_steps and self.local_active:
            generator = torch_rng(state.seed, "local-active", memo["round"], t)
            points += self._active(
                model, x_new, self.local_active, self.local_candidates, self.local_radius, generator
            )
        memo.update(
            x=x_new.tolist(),
            adam=adam.to_dict(),
            t=t,
            unit={"points": points, "ids": [], "center": x_new.tolist()},
        )
        return memo

    def _correction(self, state: State, memo: dict[str, Any], x: torch.Tensor, t: int) -> torch.Tensor:
        own, shared = memo["own"].get("w"), memo["received"].get("w")
        if self.correction == "none" or own is None or shared is None:
            return torch.zeros_like(x)
        features = rff_features(x.numel(), self.n_features, float(self.rff_lengthscale), self._rff_seed(memo))
        difference = torch.tensor(shared, dtype=torch.float64) - torch.tensor(own, dtype=torch.float64)
        if self.correction == "fixed":
            at = torch.tensor(memo["x_start"], dtype=torch.float64)
            return features.gradient(at.unsqueeze(0), difference)[0]
        return features.gradient(x.unsqueeze(0), difference)[0] * self._gamma(memo, t)

    def _gamma(self, memo: dict[str, Any], t: int) -> float:
        """The correction length at local step ``t``: ``1/t``, or Corollary 1's (module docstring)."""
        if self.correction != "theory":
            return 1.0 / t
        received = memo["received"]
        if not all(k in received for k in ("G", "eps", "unc")):  # no post exchange has reached us
            return 0.0
        G, eps, U = (float(received[k][0]) for k in ("G", "eps", "unc"))
        denominator = G + 2 * U + 2 * memo["n_clients"] * eps
        return min(max(G / denominator, 0.0), 1.0) if denominator > 0 else 0.0

    def _local_model(self, state: State, memo: dict[str, Any], x: torch.Tensor):
        """The local GP on the ``n_local`` completed points nearest ``x``, or None without data."""
        if modelling_obstacle(state):
            return None
        X, y = trajectory(state)
        local = nearest(X, x, self.n_local)
        refit = memo["gp"] is None or memo["fits"] % self.fit_every == 0
        with torch_global_seed(state.seed, "fzoos-fit", state.counter):
            fit: GPFit = fit_gp(
                X[local],
                y[local].unsqueeze(-1),
                warm_start=memo["gp"],
                warm_fit_iter=40 if refit else 0,
                isotropic=True,
                min_noise=1e-6,
            )
        memo.update(gp=fit.hyperparameters, fits=memo["fits"] + 1)
        return fit.model

    def _active(self, model, x: torch.Tensor, m: int, n_candidates: int, radius: float, generator) -> list:
        """``m`` active queries around ``x`` (uniform candidates when there is no model yet)."""
        if model is None:
            return draw_candidates(x, m, radius, generator).tolist()
        return select_active_queries(
            model, x, m=m, n_candidates=n_candidates, radius=radius, generator=generator
        ).tolist()

    # ---------------------------------------------------------------- post phase
    def _start_post(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        x_global = torch.tensor(memo["x_global"], dtype=torch.float64)
        points = [x_global.tolist()]
        model = self._local_model(state, memo, x_global) if self.post_active or self._theory else None
        if self.post_active:
            # rho_i: half the client's mean absolute coordinate displacement in the round
            rho = max(float((x_global - torch.tensor(memo["x"], dtype=torch.float64)).abs().mean()) / 2, 1e-3)
            generator = torch_rng(state.seed, "post-active", memo["round"])
            points += self._active(model, x_global, self.post_active, self.post_candidates, rho, generator)
        if self._theory:  # U of Corollary 1: this client's gradient uncertainty at x_r
            trace = derived_gp(model).trace(x_global.unsqueeze(0))[0] if model is not None else None
            memo["unc"] = None if trace is None else max(float(trace), 0.0)
        memo["unit"] = {"points": points, "ids": [], "center": x_global.tolist()}
        return memo

    @property
    def _theory(self) -> bool:
        return self.correction == "theory"

    def _finish_post(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        """Fit the client's RFF weights on the points nearest the global iterate and send them."""
        X, y = trajectory(state)
        extra = {"unc": [memo["unc"]]} if self._theory and memo.get("unc") is not None else {}
        if not len(y):  # every query failed: a zero surrogate
            memo.update(phase=PHASE_REPORT_POST, outbox={"w": [0.0] * self.n_features, **extra})
            return memo
        center = torch.tensor(memo["x_global"], dtype=torch.float64)
        near = nearest(X, center, self.n_rff)
        y_near = y[near]
        low, span = float(y_near.min()), float(y_near.max() - y_near.min()) or 1.0
        features = rff_features(
            X.shape[1], self.n_features, float(self.rff_lengthscale), self._rff_seed(memo)
        )
        # min-max normalized targets, weights scaled back: the global surrogate averages the
        # clients' surrogates in their own units (arXiv 2308.04077, Sec. 4: the global surrogate)
        w = fit_rff_weights(features, X[near], (y_near - low) / span, noise=1e-6) * span
        memo.update(phase=PHASE_REPORT_POST, outbox={"w": w.tolist(), **extra})
        return memo

    def _post_globals(
        self, server: ServerState, messages: list[Message], averages: dict[str, np.ndarray]
    ) -> dict[str, list[float]]:
        """With ``correction="theory"``: ``G`` and ``eps`` of Corollary 1 at the new global point."""
        if not self._theory or len(messages) < 2:  # no spread to measure: keep the previous G
            return {}
        x = torch.tensor(server.pending_x if server.pending_x is not None else server.x, dtype=torch.float64)
        seed = derive_seed(server.seed, "rff")  # the clients' rff_seed
        features = rff_features(x.numel(), self.n_features, float(self.rff_lengthscale), seed)
        W = torch.tensor(np.stack([m.arrays["w"] for m in messages]), dtype=torch.float64)  # k x M
        grads = features.gradient(x.expand(len(messages), -1), W)  # k x d
        weights = torch.tensor([server.weights[m.client] for m in messages], dtype=torch.float64)
        weights = weights / weights.sum()
        mean_grad = weights @ grads
        G = float(weights @ (grads - mean_grad).pow(2).sum(-1))
        eps = float(weights @ grads.pow(2).sum(-1)) * x.numel() / self.n_features
        return {"G": [G], "eps": [eps]}

    def _extra_points(self, state: State, memo: dict[str, Any], k: int) -> torch.Tensor:
        center = torch.tensor(memo["unit"]["center"], dtype=torch.float64)
        u = torch.rand(
            k, center.numel(), generator=torch_rng(state.seed, "extra", state.counter), dtype=torch.float64
        )
        return (center + self.local_radius * (2 * u - 1)).clamp(0.0, 1.0)

    def _is_last_unit(self, memo: dict[str, Any]) -> bool:
        return memo["phase"] == PHASE_POST or memo["t"] >= self.local_steps

    def _rff_seed(self, memo: dict[str, Any]) -> int:
        # shared by all clients and the server: derived from the federation, not from the client
        return int(memo["rff_seed"])
