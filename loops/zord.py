"""ZoRD: zeroth-order descent along the gradient of a GP surrogate fitted on the trajectory.

The derived GP (:mod:`asktell.surrogates.gradient`) gives, from the points already queried, a
posterior over the gradient: its mean is a descent direction, its covariance says how far to trust
it. Each ask (Shu et al., ICLR 2023, OpenReview n1bLgxHW6jW, with this project's decisions):

1. **Start** at the best completed point (the reference code's greedy restart: after an improving
   query this *is* the last query, after a worse one the run returns to the best). When
   ``tolerance`` completed queries in a row have not improved on the best, Adam's moments are reset
   once for that best point.
2. **Local surrogate**: a GP on the ``n_local`` completed points nearest the start (default 150), so
   an ask costs the same after 100 or 10 000 queries. Its hyperparameters live in the memo: they
   are re-fitted (warm-started) every ``fit_every`` asks and reused as they are in between; the
   reference code refits at every step, which costs far more and moves them little.
3. **Virtual steps**: Adam steps along the posterior-mean gradient, without queries, while the
   normalized gradient uncertainty ``tr Cov[grad f(z)] / tr Cov_prior[grad f(z)]`` (0: known, 1:
   nothing known) stays below ``threshold``, at most ``max_virtual_steps``; the first step is
   always taken. The surrogate is fitted once per ask, at the start point: virtual steps move a
   few ``lr`` away, well inside the local subset.
4. **Query** the last virtual point (clipped to the box). ``ask(n=k)`` adds ``k - 1`` active
   queries: candidates uniform in a box of half-width ``active_radius`` around it, chosen to shrink
   the trace of the gradient covariance there (:mod:`asktell.acquisition.active`).

Coordinates are those of the unit cube (``lr`` and radii included). Integer parameters are relaxed
(the point is decoded to the nearest allowed value); categorical ones are refused. The first
``n_init`` trials are a Sobol design (ZoRD's uniform initialisation, spread evenly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, TypedDict

import torch

from asktell.acquisition.active import RULES, select_active_queries
from asktell.checks import MAX_NOISE_STD, MAX_SIZE, check_choice, check_positive
from asktell.errors import ConfigError, StateError
from asktell.loops.adam import AdamMemo, AdamState, adam_step
from asktell.loops.base import (
    Hyperparameters,
    Loop,
    Proposal,
    check_hyperparameters,
    check_sobol_count,
    check_vector,
    require_numeric,
)
from asktell.loops.random import require_sobol_dims
from asktell.loops.trajectory import modelling_obstacle, sobol_design, trajectory
from asktell.registry import register_loop
from asktell.space import Space
from asktell.state import State
from asktell.surrogates.gp import GPFit, fit_gp
from asktell.surrogates.gradient import derived_gp
from asktell.surrogates.local import nearest
from asktell.surrogates.seeding import torch_global_seed, torch_rng


class ZoRDMemo(TypedDict):
    sobol_issued: int  # points of the initial design (and fallbacks) handed out
    adam: AdamMemo  # Adam's moments along the surrogate's gradient
    reset_for: int | None  # the best trial whose stagnation last reset Adam
    gp: Hyperparameters | None  # the local GP's hyperparameters, reused between fits
    asks: int  # model-based asks so far (a fit every ``fit_every``)


@register_loop
@dataclass(frozen=True)
class ZoRD(Loop):
    """Trajectory-informed zeroth-order descent with dynamic virtual updates.

    Args:
        lr: learning rate of the virtual steps (unit-cube coordinates).
        threshold: largest normalized gradient uncertainty (in [0, 1]) at which virtual steps go
            on. Default (``None``): 0.5 with an ARD kernel, 0.9 with an isotropic one. With one
            lengthscale in hundreds of dimensions, ~150 local points cannot pin down most gradient
            directions, so the ratio rarely falls below ~0.6 (Levy-200) and 0.5 would stop every
            ask after its first step; on held-out seeds 0.9 lowered Levy-200's final value from
            ~910 to ~610 but raised Levy-50's (ARD) from 84 to 141, hence the split.
        max_virtual_steps: virtual steps per query at most.
        n_init: size of the Sobol initial design (default 10).
        n_local: nearest completed points the local surrogate is fitted on.
        optimizer: ``"adam"`` or ``"sgd"`` (plain steps of ``lr`` times the gradient).
        tolerance: non-improving queries before Adam's moments are reset.
        fit_every: fit the local GP's hyperparameters every this many asks (1: every ask); in
            between they are reused as they are. Stored states may call it ``refit_every``.
        noise_std: observation noise (``None`` infers it, ``0.0`` declares the function noiseless).
        kernel: ``"ard"`` (one lengthscale per coordinate), ``"isotropic"`` (one for all) or
            ``"auto"`` (default): isotropic when ``d > ard_max_dim``. With ~``n_local`` points in
            hundreds of dimensions, ARD lengthscales are not identifiable: the fit makes most
            coordinates "irrelevant" (huge lengthscales), the gradient posterior is then confident
            that they do not matter, and the descent moves in a small subspace only.
        ard_max_dim: the largest dimension at which ``kernel="auto"`` uses ARD.
        active_radius, active_candidates, active_rule: the active queries of ``ask(n > 1)``.
    """

    lr: float = 0.02
    threshold: float | None = None
    max_virtual_steps: int = 10
    n_init: int = 10
    n_local: int = 150
    optimizer: str = "adam"
    tolerance: int = 10
    fit_every: int = 5
    noise_std: float | None = None
    kernel: str = "auto"
    ard_max_dim: int = 50
    active_radius: float = 0.05
    active_candidates: int = 100
    active_rule: str = "trace_at_iterate"
    name = "zord"
    renamed_options = {"refit_every": "fit_every"}
    memo_schema = ZoRDMemo

    def _validate_config(self) -> None:
        check_positive("lr", self.lr)
        if self.threshold is not None and (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, (int, float))
            or not (0 <= self.threshold <= 1)
        ):
            raise ConfigError(f"threshold must be a number in [0, 1], got {self.threshold!r}.")
        check_choice("kernel", self.kernel, ("auto", "ard", "isotropic"))
        for key in ("max_virtual_steps", "n_init", "n_local", "active_candidates"):
            check_positive(key, getattr(self, key), integer=True, at_most=MAX_SIZE)
        for key in ("tolerance", "fit_every", "ard_max_dim"):
            check_positive(key, getattr(self, key), integer=True)
        check_positive("active_radius", self.active_radius)
        check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        check_choice("active_rule", self.active_rule, RULES)
        check_positive("noise_std", self.noise_std, allow_zero=True, allow_none=True, at_most=MAX_NOISE_STD)

    def _check_space(self, space: Space) -> None:
        require_numeric(space, "ZoRD")
        require_sobol_dims(space, "ZoRD")  # the initial design

    def _check_memo(self, state: State) -> None:
        memo = state.memo
        check_sobol_count(state, memo["sobol_issued"])
        check_hyperparameters(memo["gp"])
        for key in ("m", "v"):
            check_vector(memo["adam"][key], state.space.dim, f"the memo's adam.{key}")
        if memo["adam"]["t"] < 0:  # Adam's bias correction divides by 1 - beta**t
            raise StateError(f"the memo's adam.t must be >= 0, got {memo['adam']['t']}.")
        if memo["reset_for"] is not None and not 0 <= memo["reset_for"] < len(state.trials):
            raise StateError(f"the memo's reset_for names no trial: {memo['reset_for']}.")

    def _init_memo(self, space: Space, seed: int) -> dict[str, Any]:
        return {
            "sobol_issued": 0,
            "adam": AdamState.zeros(space.dim).to_dict(),
            "reset_for": None,  # id of the best trial whose stagnation last reset Adam
            "gp": None,
            "asks": 0,
        }

    def _propose(self, state: State, n: int) -> Proposal:
        memo = dict(state.memo)
        n_design = max(0, min(n, self.n_init - len(state.trials)))
        params, metadata = sobol_design(state, memo["sobol_issued"], n_design)
        memo["sobol_issued"] += n_design
        reason = modelling_obstacle(state) if n_design < n else None
        if n_design == n or reason:
            more, info = sobol_design(state, memo["sobol_issued"], n - n_design, reason)
            memo["sobol_issued"] += n - n_design
            return Proposal(params + more, memo, metadata + info)

        X, y = trajectory(state)
        best = int(torch.argmin(y))
        start = X[best]
        adam = self._maybe_reset(state, memo)
        local = nearest(X, start, self.n_local)
        fit = self._fit(state, X[local], y[local], memo)
        begin = time.perf_counter()
        dgp = derived_gp(fit.model)
        z, adam, steps, uncertainty = self._virtual_steps(dgp, start, adam, self.trust_threshold(X.shape[-1]))
        points = [z]
        if n - n_design > 1:
            extra = select_active_queries(
                fit.model,
                z,
                m=n - n_design - 1,
                n_candidates=max(self.active_candidates, 2 * (n - n_design)),
                radius=self.active_radius,
                generator=torch_rng(state.seed, "active", state.counter),
                rule=self.active_rule,
            )
            points.extend(extra)
        memo.update(adam=adam.to_dict(), gp=fit.hyperparameters, asks=memo["asks"] + 1)
        info = {
            "model": "zord",
            "virtual_steps": steps,
            "uncertainty": uncertainty,
            "n_train": int(local.numel()),
            "fit_seconds": fit.seconds,
            "step_seconds": time.perf_counter() - begin,
        }
        if fit.notes:
            info["fallback"] = "; ".join(fit.notes)
        new = state.space.decode_many(torch.stack(points))
        roles = ["descent"] + ["active"] * (len(points) - 1)
        return Proposal(params + new, memo, metadata + [{**info, "role": r} for r in roles])

    def _maybe_reset(self, state: State, memo: dict[str, Any]) -> AdamState:
        """Adam's moments, reset once when ``tolerance`` queries in a row missed the best."""
        best = state.best()
        assert best is not None
        since_best = sum(1 for t in state.completed if t.id > best.id)
        if since_best >= self.tolerance and memo["reset_for"] != best.id:
            memo["reset_for"] = best.id
            return AdamState.zeros(state.space.dim)
        return AdamState.from_dict(memo["adam"])

    def _fit(self, state: State, X: torch.Tensor, y: torch.Tensor, memo: dict[str, Any]) -> GPFit:
        refit = memo["gp"] is None or memo["asks"] % self.fit_every == 0
        # a failed fit may restart from samples of the priors (torch's global generator)
        with torch_global_seed(state.seed, "zord-fit", state.counter):
            return fit_gp(
                X,
                y.unsqueeze(-1),
                noise_std=self.noise_std,
                isotropic=self.isotropic(X.shape[-1]),
                warm_start=memo["gp"],
                warm_fit_iter=40 if refit else 0,
            )

    def isotropic(self, dim: int) -> bool:
        """Whether the local GP in ``dim`` dimensions has one lengthscale for all coordinates."""
        return self.kernel == "isotropic" or (self.kernel == "auto" and dim > self.ard_max_dim)

    def trust_threshold(self, dim: int) -> float:
        """The uncertainty threshold of the virtual steps in ``dim`` dimensions."""
        if self.threshold is not None:
            return float(self.threshold)
        return 0.9 if self.isotropic(dim) else 0.5

    def _virtual_steps(self, dgp, start: torch.Tensor, adam: AdamState, threshold: float):
        """Descend along the surrogate's gradient while it is trusted: (point, adam, steps, u)."""
        z = start.clone()
        steps, uncertainty = 0, 1.0
        for step in range(self.max_virtual_steps):
            Z = z.unsqueeze(0)
            uncertainty = float(dgp.trace(Z) / dgp.prior_trace(Z))
            if step > 0 and uncertainty >= threshold:
                break
            grad = dgp.mean(Z)[0]
            if self.optimizer == "adam":
                delta, adam = adam_step(grad, adam, self.lr)
            else:
                delta = self.lr * grad
            z = (z - delta).clamp(0.0, 1.0)
            steps += 1
        return z, adam, steps, uncertainty
