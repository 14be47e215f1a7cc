"""BayesOpt: global Bayesian optimization as a stateless loop.

Each model-based ask rebuilds a BoTorch GP on the completed trials (failed ones never become values;
pending ones are passed to the acquisition function as ``X_pending``), warm-starts its
hyperparameters from the state's memo, and maximizes the acquisition function (qLogNEI by default).

The first ``n_init`` trials come from a scrambled Sobol design; by default
``n_init = min(max(5, d + 1), 20)`` for ``d`` parameters, a small design that leaves most of a
typical 40-100 evaluation budget to the model. A model-based ask falls back to the next Sobol point,
and records why in the trial's ``metadata["fallback"]``, while fewer than two trials have completed,
when all completed values are equal (nothing to model), or when the acquisition optimization fails.

Every model-based trial records ``fit_seconds`` and ``acq_seconds`` in its metadata. Like every
metadata key ending in ``_seconds`` they are measurements, the only part of an ask that differs
between two runs of the same state and call (see :mod:`asktell.state`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from gpytorch.mlls import ExactMarginalLogLikelihood

from asktell.acquisition.bo import ACQUISITIONS, AcquisitionInputs, OptimizerSettings, optimize
from asktell.errors import ConfigError, StateError
from asktell.loops.base import Loop, Proposal
from asktell.loops.trajectory import modelling_obstacle, sobol_design, trajectory
from asktell.registry import register_loop
from asktell.rng import derive_seed, torch_rng
from asktell.space import Categorical
from asktell.state import State, Trial
from asktell.surrogates.gp import GPFit, fit_gp


def _positive_int(name: str, value: Any, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}.")


def _warp_shift(r: torch.Tensor) -> float:
    return max(float(r.median()) / 10, 1e-12 * max(float(r.max()), 1.0))


def log_warp(y: torch.Tensor) -> torch.Tensor:
    """``log(y - min y + s)`` with ``s`` a tenth of the median distance to the minimum (``n``)."""
    r = y - y.min()
    return torch.log(r + _warp_shift(r))


def inverse_log_warp(w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The values whose :func:`log_warp` (with the data ``y``, ``n``) is ``w`` (any shape)."""
    r = y - y.min()
    return torch.exp(w) + y.min() - _warp_shift(r)


def log_warp_jacobian(y: torch.Tensor) -> float:
    """``sum log |d log_warp(y) / dy|``: turns a density of warped values into one of ``y``."""
    r = y - y.min()
    return float(-torch.log(r + _warp_shift(r)).sum())


def log_evidence(model) -> float:
    """Log marginal likelihood of the model's training targets in their original units.

    BoTorch's ``ExactMarginalLogLikelihood`` is an average over the standardized targets; the
    total adds back ``n log`` of Standardize's scale so two models of differently transformed
    values can be compared after their Jacobians are added.
    """
    model.train()
    try:
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        with torch.no_grad():
            inputs = model.train_inputs[0]
            value = float(mll(model(inputs), model.train_targets)) * inputs.shape[0]
    finally:
        model.eval()
    scale = float(model.outcome_transform.stdvs.reshape(-1)[0])
    return value - inputs.shape[0] * math.log(scale)


@dataclass(frozen=True)
class Prediction:
    """The surrogate's belief about the objective at ``b`` points, in the objective's units.

    ``median`` (``b``) is the posterior mean of a GP on the raw values (where mean and median
    agree), or the back-transformed mean of a GP on log-warped values; ``lower`` and ``upper``
    (``b``) are the back-transformed mean -/+ 2 posterior standard deviations (about a 95% band).
    """

    median: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor


@register_loop
@dataclass(frozen=True)
class BayesOpt(Loop):
    """Bayesian optimization with a GP surrogate and a BoTorch acquisition function.

    Args:
        acquisition: ``"qlognei"`` (default), ``"logei"``, ``"ucb"``, ``"pi"`` or ``"ts"``.
        n_init: size of the Sobol initial design (default: ``min(max(5, d + 1), 20)``).
        noise_std: observation noise in the objective's units: ``None`` infers it (default),
            ``0.0`` declares the function noiseless.
        min_noise: floor of an inferred noise variance, relative to the data's variance.
        warp: ``"auto"`` (default) models ``log(y - min y + s)`` instead of ``y`` when that
            explains the values better (marginal likelihood, decided at each cold fit), ``"log"``
            always, ``"none"`` never. The map
            is monotone, so the minimizer is unchanged; a GP on values spanning orders of magnitude
            (Rosenbrock's 1 to 1e6) otherwise spends its whole variance on the worst points.
        beta: exploration weight of UCB.
        num_restarts, raw_samples, acq_maxiter: effort of the acquisition optimizer.
        max_fit_iter: L-BFGS iterations of a fit from BoTorch's default hyperparameters.
        warm_fit_iter: L-BFGS iterations of a fit warm-started from the previous hyperparameters.
        refit_every: every this many model fits, fit from the defaults again (escapes a poor
            local optimum of the marginal likelihood that warm starts would keep).
        fit_subset: with more completed trials than this, the hyperparameters are fitted on a
            random subset of this size (a new one per ask) and the GP conditions on all trials
            with them: each L-BFGS step of a fit costs O(n^3) in the number of trials, and an ask
            with 500 trials took 1-19 s here without it.
    """

    acquisition: str = "qlognei"
    n_init: int | None = None
    noise_std: float | None = None
    min_noise: float = 1e-6
    warp: str = "auto"
    beta: float = 2.0
    num_restarts: int = 4
    raw_samples: int = 256
    acq_maxiter: int = 50
    max_fit_iter: int = 200
    warm_fit_iter: int = 40
    refit_every: int = 10
    fit_subset: int = 256
    name = "bayesopt"

    def _validate_config(self) -> None:
        if self.acquisition not in ACQUISITIONS:
            raise ConfigError(f"acquisition must be one of {sorted(ACQUISITIONS)}, got {self.acquisition!r}.")
        _positive_int("n_init", self.n_init, allow_none=True)
        for key in (
            "num_restarts",
            "raw_samples",
            "acq_maxiter",
            "max_fit_iter",
            "warm_fit_iter",
            "refit_every",
            "fit_subset",
        ):
            _positive_int(key, getattr(self, key))
        if self.noise_std is not None and (
            isinstance(self.noise_std, bool)
            or not isinstance(self.noise_std, (int, float))
            or not 0 <= self.noise_std < float("inf")
        ):
            raise ConfigError(f"noise_std must be None or a finite number >= 0, got {self.noise_std!r}.")
        if self.warp not in ("auto", "log", "none"):
            raise ConfigError(f"warp must be 'auto', 'log' or 'none', got {self.warp!r}.")
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or self.beta < 0:
            raise ConfigError(f"beta must be a number >= 0, got {self.beta!r}.")

    def initial_design_size(self, dim: int) -> int:
        return self.n_init if self.n_init is not None else min(max(5, dim + 1), 20)

    def _init_memo(self, space, seed) -> dict[str, Any]:
        return {"sobol_issued": 0, "gp": None, "fits": 0, "warped": False}

    # --- ask ----------------------------------------------------------------------------------
    def _propose(self, state: State, n: int) -> Proposal:
        space = state.space
        memo = dict(state.memo)
        n_design = max(0, min(n, self.initial_design_size(space.dim) - len(state.trials)))
        params, metadata = sobol_design(state, memo, n_design)
        n_model = n - n_design
        if n_model == 0:
            return Proposal(params, memo, metadata)
        reason = modelling_obstacle(state)
        if reason:
            more, info = sobol_design(state, memo, n_model, reason)
            return Proposal(params + more, memo, metadata + info)

        with torch.random.fork_rng(devices=[]):
            # BoTorch draws restarts, raw samples and sample paths from torch's global generator;
            # seeding it here from (seed, counter), inside fork_rng, makes the ask reproducible and
            # leaves the caller's global generator as it was.
            torch.manual_seed(derive_seed(state.seed, "bayesopt", state.counter))
            fit = self._fit(state, memo, extra_pending=params)
            start = time.perf_counter()
            try:
                X = self._optimize(state, fit, extra_pending=params, q=n_model)
                notes = list(fit.notes)
            except Exception as exc:  # noqa: BLE001 - a failed optimization must not fail the ask
                X = None
                notes = [
                    *fit.notes,
                    f"acquisition optimization failed ({type(exc).__name__}: {exc})",
                ]
            acq_seconds = time.perf_counter() - start
        memo["gp"] = fit.hyperparameters
        memo["fits"] = memo["fits"] + 1
        if X is None:
            more, info = sobol_design(state, memo, n_model, "; ".join(notes))
            return Proposal(params + more, memo, metadata + info)
        info = {
            "model": "gp",
            "acquisition": self.acquisition,
            "n_train": len(state.completed),
            "warm_start": fit.warm_started,
            "fit_seconds": fit.seconds,
            "acq_seconds": acq_seconds,
        }
        if notes:
            info["fallback"] = "; ".join(notes)
        for point in self._dedupe(state, space.decode_many(X), params):
            params.append(point[0])
            metadata.append({**info, **point[1]})
        return Proposal(params, memo, metadata)

    def _training_data(self, state: State, warped: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``X`` (``n x d``) and the model's targets ``n x 1``: the (possibly warped) values, negated
        because BoTorch maximizes. ``warped=None`` uses the choice stored in the memo."""
        X, y = trajectory(state)
        if warped is None:
            warped = self.warp == "log" or (self.warp == "auto" and bool(state.memo.get("warped")))
        return X, -(log_warp(y) if warped else y).unsqueeze(-1)

    def _cat_dims(self, state: State) -> list[int]:
        return [i for i, p in enumerate(state.space.params.values()) if isinstance(p, Categorical)]

    def _fit(self, state: State, memo: dict[str, Any], extra_pending: list[dict]) -> GPFit:
        """Fit the GP, warm-started from the memo; a cold fit every ``refit_every`` fits.

        With ``warp="auto"``, each cold fit also fits the log-warped values and keeps the model
        whose marginal likelihood of the *original* values is higher (the warped one's includes
        the log map's Jacobian), so the choice is a likelihood comparison, not a threshold.
        """
        cold = memo["gp"] is None or memo["fits"] % self.refit_every == 0
        candidates: list[bool | None] = [False, True] if cold and self.warp == "auto" else [None]
        best: tuple[float, GPFit, bool | None] | None = None
        seconds = 0.0  # of every fit, so that fit_seconds says what the ask spent on the model
        options: dict[str, Any] = {
            "cat_dims": self._cat_dims(state),
            "noise_std": self.noise_std,
            "max_iter": self.max_fit_iter,
            "min_noise": self.min_noise,
        }
        _, y = trajectory(state)
        for warped in candidates:
            X, Y = self._training_data(state, warped)
            warm_start, warm_iter, subset_seconds = None if cold else memo["gp"], self.warm_fit_iter, 0.0
            if X.shape[0] > self.fit_subset:
                generator = torch_rng(state.seed, "fit-subset", state.counter)
                rows = torch.randperm(X.shape[0], generator=generator)[: self.fit_subset]
                subset_fit = fit_gp(
                    X[rows], Y[rows], warm_start=warm_start, warm_max_iter=warm_iter, **options
                )
                warm_start, subset_seconds = subset_fit.hyperparameters, subset_fit.seconds
                warm_iter = 0  # condition on all trials with the subset's values
            fit = fit_gp(X, Y, warm_start=warm_start, warm_max_iter=warm_iter, **options)
            fit.seconds += subset_seconds
            fit.warm_started = not cold
            if len(candidates) == 1:
                return fit
            score = log_evidence(fit.model) + (log_warp_jacobian(y) if warped else 0.0)
            if best is None or score > best[0]:
                best = (score, fit, warped)
            seconds += fit.seconds
        assert best is not None
        memo["warped"] = best[2]
        best[1].seconds = seconds
        return best[1]

    def _optimize(self, state: State, fit: GPFit, extra_pending: list[dict], q: int) -> torch.Tensor:
        X, Y = self._training_data(state)
        pending = [t.params for t in state.pending] + list(extra_pending)
        inputs = AcquisitionInputs(
            model=fit.model,
            X_observed=X,
            Y_observed=Y,
            X_pending=state.space.encode_many(pending),
            seed=derive_seed(state.seed, "qmc", state.counter) % (2**31),
            options={"beta": self.beta},
        )
        return optimize(
            self.acquisition,
            inputs,
            q,
            discrete_dims=state.space.discrete_dims(),
            cat_dims=state.space.categorical_dims(),
            settings=OptimizerSettings(self.num_restarts, self.raw_samples, self.acq_maxiter),
        )

    def _dedupe(
        self, state: State, candidates: list[dict[str, Any]], earlier: list[dict[str, Any]]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Replace candidates that repeat a trial or each other by fresh random points.

        Integer and categorical coordinates snap to their allowed values, so in small discrete
        spaces the optimizer can land on a point already asked; asking it again would waste an
        evaluation (and hand one point to two workers).
        """
        seen = {_key(t.params) for t in state.trials} | {_key(p) for p in earlier}
        generator = torch_rng(state.seed, "dedupe", state.counter)
        out = []
        for point in candidates:
            note: dict[str, Any] = {}
            if _key(point) in seen:
                for _ in range(100):
                    point = state.space.sample(1, generator)[0]
                    if _key(point) not in seen:
                        break
                note = {"fallback": "the acquisition optimum repeated a known point; random point"}
            seen.add(_key(point))
            out.append((point, note))
        return out

    # --- the surrogate ------------------------------------------------------------------------
    def predict(self, state: State, points: Sequence[Mapping[str, Any]]) -> Prediction:
        """The GP of the next ask, fitted as that ask would fit it, at ``points`` (``b`` dicts).

        Values are in the objective's units even when the loop models log-warped values. Raises
        StateError while there is nothing to model (fewer than two completed trials, all equal)
        and ParamError for points outside the space.
        """
        self._check_state(state)
        reason = modelling_obstacle(state)
        if reason:
            raise StateError(f"no surrogate yet: {reason}.")
        X = state.space.encode_many([state.space.check(p) for p in points])
        memo = dict(state.memo)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(state.seed, "predict", state.counter))
            fit = self._fit(state, memo, [])
        warped = self.warp == "log" or (self.warp == "auto" and bool(memo.get("warped")))
        with torch.no_grad():
            posterior = fit.model.posterior(X)
            mean = -posterior.mean.reshape(-1)  # the model regresses the negated (warped) values
            std = posterior.variance.clamp_min(0).sqrt().reshape(-1)
        bands = [mean, mean - 2 * std, mean + 2 * std]
        if warped:
            _, y = trajectory(state)
            bands = [inverse_log_warp(b, y) for b in bands]
        return Prediction(*bands)

    # --- recommendation -----------------------------------------------------------------------
    def recommend(self, state: State) -> Trial | None:
        """The completed trial to use: the best observed value when the function is noiseless,
        else the completed point with the best posterior mean (a lucky noisy draw is not a
        recommendation)."""
        self._check_state(state)
        if self.noise_std == 0 or modelling_obstacle(state):
            return state.best()
        X, _ = trajectory(state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(state.seed, "recommend", state.counter))
            fit = self._fit(state, dict(state.memo), [])
            with torch.no_grad():
                mean = fit.model.posterior(X).mean.reshape(-1)
        return state.completed[int(mean.argmax())]


def _key(params: dict[str, Any]) -> tuple:
    return tuple((k, type(v).__name__, v) for k, v in params.items())
