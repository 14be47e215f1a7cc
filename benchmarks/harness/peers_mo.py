"""The methods of the multi-objective benchmark, behind one ask/tell interface, and the run loop that
scores them by hypervolume.

A session's ``tell(token, values, outcomes)`` takes the ``m`` objective values of a point (minimized,
raw) and, on a constrained problem, each constrained outcome by name. :meth:`MOMethod.run` drives a
session for the problem's budget and returns the run's record:

- ``values[i]`` (``m`` floats), ``feasible[i]``: evaluation ``i``'s objectives and feasibility;
- ``hv[i]``: the hypervolume, w.r.t. the problem's reference point, of the feasible values among the
  first ``i + 1`` evaluations (computed outside the timed region);
- ``overhead_s[i]`` (wall) and ``overhead_cpu_s[i]`` (process CPU): the method's own time for
  evaluation ``i``, in ask and tell (the function is not timed); ``setup_s`` builds the session.

Methods (each seeded with the run's seed, configured by its documentation's defaults):

- ``asktell``: ``BayesOpt()`` through ``init(space, seed=, n_objectives=m, ref_point=,
  constraints=)`` / ``ask`` / ``tell(values, constraints=)``; skipped, with the reason, while
  BayesOpt refuses several objectives at init. ``sobol``: asktell's ``Sobol`` the same way.
- ``optuna-gp``, ``optuna-tpe``, ``optuna-nsga2``: Optuna's GPSampler (multi-objective: LogEHVI),
  TPESampler (MOTPE) and NSGAIISampler (population 50, its default) on a study with ``m``
  ``"minimize"`` directions, ``study.ask(distributions)`` / ``study.tell(trial, values)``; the
  constraint as ``trial.set_constraint("s1", -slack)`` (feasible iff ``<= 0``) before the tell,
  which all three read (Optuna 5.0 deprecates ``constraints_func`` for it).
- ``ax``: Ax's ``Client`` with its default generation strategy, ``configure_optimization(objective=
  "-f1, -f2, ...", outcome_constraints=["f1 <= r1", ..., "s1 >= 0"])``: the bounds on objectives are
  Ax's objective thresholds (the reference point), the others outcome constraints.
- ``botorch``: the loop of BoTorch's multi-objective tutorials (``multi_objective_bo``,
  ``constrained_multi_objective_bo``): see :class:`_BoTorchMOSession`.

**The reference point.** Every method whose public API takes one is given the problem's
``ref_point`` (asktell's ``init(ref_point=)``, Ax's objective thresholds, the tutorial's
``qLogNEHVI(ref_point=)``); Optuna's samplers take none (GPSampler infers its own).
"""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from asktell.pareto import hypervolume_history
from asktell.space import Real, Space
from benchmarks.harness.peers import (
    Batch,
    Method,
    Params,
    Session,
    _AskTellSession,
    normalize,
    optuna_distributions,
    quiet_ax,
    quiet_optuna,
)
from benchmarks.harness.problems_mo import MOInstance, MOProblem

ASKTELL = "asktell"
TUTORIAL_MC_SAMPLES = 128  # the tutorials' MC_SAMPLES
OPTUNA_STARTUP = 10  # GPSampler's and TPESampler's n_startup_trials
NSGA2_POPULATION = 50  # NSGAIISampler's population_size


class MOSession(Session):
    """One multi-objective run: ``tell`` takes the point's ``m`` values (and outcomes)."""

    def tell(self, token: Any, values: Any, outcomes: Mapping[str, float] | None = None) -> None:
        raise NotImplementedError


class MOMethod(Method):
    """A named multi-objective optimizer: ``session(instance, seed)`` starts a run."""

    def run(self, problem: MOProblem, seed: int) -> dict[str, Any]:  # type: ignore[override]
        """Optimize ``problem.instance(seed)`` for its budget; never raises for a method's failure."""
        instance = problem.instance(seed)
        record = {"method": self.name, "problem": problem.name, "seed": seed, "budget": problem.budget}
        values: list[list[float]] = []
        feasible: list[bool] = []
        wall: list[float] = []
        cpu: list[float] = []
        error, setup = None, 0.0
        session: Any = None
        start = time.perf_counter()
        try:
            session = self.session(instance, seed)  # type: ignore[arg-type]
            setup = time.perf_counter() - start
            while len(values) < problem.budget:
                w0, c0 = time.perf_counter(), time.process_time()
                batch = session.ask()[: problem.budget - len(values)]
                if not batch:
                    raise RuntimeError(f"{self.name} proposed no point")
                w, c = time.perf_counter() - w0, time.process_time() - c0
                for params, token in batch:
                    params = normalize(instance.space, params)
                    y = instance.values(params)
                    outcomes = instance.outcomes(params) if problem.constrained else None
                    w0, c0 = time.perf_counter(), time.process_time()
                    session.tell(token, y, outcomes)
                    w, c = w + time.perf_counter() - w0, c + time.process_time() - c0
                    ok = outcomes is None or instance.feasible(outcomes)
                    values.append(y)
                    feasible.append(ok)
                wall += [w / len(batch)] * len(batch)
                cpu += [c / len(batch)] * len(batch)
        except Exception as exc:  # a method's failure is data, not a crash
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        extra: dict[str, Any] = {}
        if session is not None:
            try:
                extra = session.extra()
            except Exception as exc:
                extra = {"extra_error": repr(exc)}
        return {
            **record,
            "n_objectives": problem.n_objectives,
            "values": values,
            "feasible": feasible,
            "hv": _feasible_history(problem, values, feasible),
            "overhead_s": wall,
            "overhead_cpu_s": cpu,
            "setup_s": setup,
            "wall_s": time.perf_counter() - start,
            "error": error,
            "extra": extra,
        }


# --- asktell ---------------------------------------------------------------------------------------
def _feasible_history(problem: MOProblem, values: list[list[float]], feasible: list[bool]) -> list[float]:
    """The hypervolume of the feasible values so far, after each evaluation (w.r.t. the problem's
    reference point): :func:`asktell.pareto.hypervolume_history` of the feasible ones, held across
    the infeasible ones."""
    kept = [y for y, ok in zip(values, feasible, strict=True) if ok]
    volumes = iter(hypervolume_history(np.asarray(kept).reshape(-1, problem.n_objectives), problem.ref_point))
    out, hv = [], 0.0
    for ok in feasible:
        hv = float(next(volumes)) if ok else hv
        out.append(hv)
    return out


class _AskTellMOSession(_AskTellSession, MOSession):
    """An asktell loop on a multi-objective problem: ``init(space, seed=, n_objectives=m,
    ref_point=, constraints=)``, then the shared session's ask and tell (its values a list)."""

    def __init__(self, loop: Any, instance: MOInstance, seed: int):
        problem = instance.problem
        self.loop = loop
        self.state = loop.init(
            instance.space,
            seed=seed,
            n_objectives=problem.n_objectives,
            ref_point=list(problem.ref_point),
            **({"constraints": list(problem.constraints)} if problem.constraints else {}),
        )

    def recommend(self) -> Params | None:
        return None


def _probe_space() -> Space:
    return Space({"x0": Real(0.0, 1.0), "x1": Real(0.0, 1.0)})


def bayesopt_refusal(**config: Any) -> str | None:
    """Why ``BayesOpt(**config)`` cannot run a multi-objective problem here (it refuses two
    objectives at init), or None when it can."""
    from asktell.errors import ConfigError
    from asktell.loops import BayesOpt

    try:
        BayesOpt(**config).init(_probe_space(), seed=0, n_objectives=2)
    except ConfigError as exc:
        return f"asktell's BayesOpt refuses several objectives: {exc}"
    return None


def asktell_mo(name: str = ASKTELL, factory: Callable[[], Any] | None = None, **config: Any) -> MOMethod:
    """asktell's BayesOpt (``BayesOpt(**config)``, or ``factory()``) on a multi-objective problem,
    skipped with the reason while the loop refuses several objectives."""

    def make() -> Any:
        from asktell.loops import BayesOpt

        return factory() if factory is not None else BayesOpt(**config)

    return MOMethod(
        name,
        lambda instance, seed: _AskTellMOSession(make(), instance, seed),  # type: ignore[arg-type]
        check=None if factory is not None else functools.partial(bayesopt_refusal, **config),
    )


def sobol() -> MOMethod:
    """asktell's scrambled Sobol sequence (several objectives and constraints, ignored when sampling)."""
    from asktell.loops import Sobol

    return MOMethod("sobol", lambda instance, seed: _AskTellMOSession(Sobol(), instance, seed))  # type: ignore[arg-type]


# --- Optuna ----------------------------------------------------------------------------------------
class _OptunaMOSession(MOSession):
    """An Optuna sampler (its class name in ``optuna.samplers``, ``seed=seed``) on a study with one
    ``"minimize"`` direction per objective; constraints by ``trial.set_constraint(name, -slack)``."""

    def __init__(self, sampler: str, instance: MOInstance, seed: int):
        import optuna

        quiet_optuna()
        m = instance.problem.n_objectives
        self.study = optuna.create_study(
            directions=["minimize"] * m, sampler=getattr(optuna.samplers, sampler)(seed=seed)
        )
        self.distributions = optuna_distributions(instance.space)
        self.constraints = instance.problem.parsed_constraints

    def ask(self) -> Batch:
        trial = self.study.ask(self.distributions)
        return [(dict(trial.params), trial)]

    def tell(self, token: Any, values: Any, outcomes: Mapping[str, float] | None = None) -> None:
        for c in self.constraints:
            if outcomes is None:
                raise TypeError("a constrained problem's tell needs its outcomes")
            token.set_constraint(c.name, -c.slack(outcomes[c.name]))
        self.study.tell(token, list(values))


# --- Ax --------------------------------------------------------------------------------------------
def objective_names(m: int) -> list[str]:
    return [f"f{i + 1}" for i in range(m)]


class _AxMOSession(MOSession):
    """Ax's ``Client``, objectives ``f1 ... fm`` minimized (``"-f1, -f2"``), the reference point as
    objective thresholds (``"f1 <= r1"``: an outcome constraint on an objective of a
    multi-objective config is its threshold) and the problem's constraints (``"s1 >= 0"``)."""

    def __init__(self, instance: MOInstance, seed: int):
        from ax import Client, RangeParameterConfig

        quiet_ax()
        problem = instance.problem
        if not all(isinstance(p, Real) for p in instance.space.params.values()):
            raise TypeError("the multi-objective problems are boxes of reals (BoTorch's)")
        parameters = [
            RangeParameterConfig(name=name, bounds=(p.low, p.high), parameter_type="float")
            for name, p in instance.space.params.items()
            if isinstance(p, Real)
        ]
        self.names = objective_names(problem.n_objectives)
        thresholds = [f"{n} <= {r!r}" for n, r in zip(self.names, problem.ref_point, strict=True)]
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters)
        self.client.configure_optimization(
            objective=", ".join(f"-{n}" for n in self.names),
            outcome_constraints=thresholds + list(problem.constraints),
        )

    def ask(self) -> Batch:
        ((index, params),) = self.client.get_next_trials(max_trials=1).items()
        return [(dict(params), index)]

    def tell(self, token: Any, values: Any, outcomes: Mapping[str, float] | None = None) -> None:
        raw = {n: float(v) for n, v in zip(self.names, values, strict=True)}
        self.client.complete_trial(trial_index=token, raw_data={**raw, **(outcomes or {})})


# --- a plain BoTorch qLogNEHVI loop, as BoTorch's multi-objective tutorials write it -----------------
class _BoTorchMOSession(MOSession):
    """The closed loop of BoTorch's tutorials ``multi_objective_bo`` ("Parallel, Multi-Objective BO
    in BoTorch with qEHVI, qNEHVI, and qNParEGO") and ``constrained_multi_objective_bo``, one point
    per ask.

    A scrambled Sobol design of asktell's initial-design size (``BayesOpt().initial_design_size(d)``,
    so both start from designs of the same size), then per ask: one ``SingleTaskGP`` per outcome
    (the negated objectives, BoTorch maximizes, then each constraint as ``c = -slack``, ``<= 0``
    feasible, the tutorial's ``-evaluate_slack``) with ``Standardize(m=1)``, in a ``ModelListGP``
    fitted by ``fit_gpytorch_mll`` on its ``SumMarginalLogLikelihood``;
    ``qLogNoisyExpectedHypervolumeImprovement(model, ref_point=-ref_point, X_baseline=train_X,
    prune_baseline=True, sampler=SobolQMCNormalSampler(128))``, with
    ``objective=IdentityMCMultiOutputObjective(outcomes=[0 .. m-1])`` and ``constraints=[Z ->
    Z[..., m + k]]`` on a constrained problem; ``optimize_acqf(q=1, num_restarts=10,
    raw_samples=512, options={"batch_limit": 5, "maxiter": 200}, sequential=True)``.

    Departure: the tutorials know their noise level (``train_Yvar``); our problems are noiseless and
    the GPs infer the noise, like every other peer. Inputs are normalized to the unit cube (the
    tutorials' ``normalize(train_x, problem.bounds)``).
    """

    def __init__(self, instance: MOInstance, seed: int):
        from torch.quasirandom import SobolEngine

        from asktell.loops import BayesOpt

        torch.manual_seed(seed)  # the tutorials' seeding: raw samples and MC samplers use it
        problem = instance.problem
        self.space, d = instance.space, instance.space.dim
        self.m, self.constraints = problem.n_objectives, problem.parsed_constraints
        self.ref_point = [-r for r in problem.ref_point]
        n0 = BayesOpt().initial_design_size(d)
        self.initial = SobolEngine(d, scramble=True, seed=seed).draw(n0, dtype=torch.float64)
        self.X: list[torch.Tensor] = []
        self.Y: list[list[float]] = []
        self.fit_s: list[float] = []
        self.acq_s: list[float] = []

    def _model(self, train_X: torch.Tensor, train_Y: torch.Tensor) -> Any:
        from botorch.fit import fit_gpytorch_mll
        from botorch.models import ModelListGP, SingleTaskGP
        from botorch.models.transforms.outcome import Standardize
        from gpytorch.mlls.sum_marginal_log_likelihood import SumMarginalLogLikelihood

        models = [
            SingleTaskGP(train_X, train_Y[:, i : i + 1], outcome_transform=Standardize(m=1))
            for i in range(train_Y.shape[-1])
        ]
        model = ModelListGP(*models)
        fit_gpytorch_mll(SumMarginalLogLikelihood(model.likelihood, model))
        return model

    def constraint_callables(self) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """Constraint ``k`` as BoTorch takes it: samples ``... x q x (m + k)`` to ``... x q``, the
        modelled ``c = -slack`` itself (``<= 0`` feasible)."""

        def column(Z: torch.Tensor, i: int) -> torch.Tensor:
            return Z[..., i]

        return [functools.partial(column, i=self.m + k) for k in range(len(self.constraints))]

    def ask(self) -> Batch:
        from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
        from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
        from botorch.optim import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler

        if len(self.X) < len(self.initial):
            x = self.initial[len(self.X)]
        else:
            train_X, train_Y = torch.stack(self.X), torch.tensor(self.Y, dtype=torch.float64)
            t0 = time.perf_counter()
            model = self._model(train_X, train_Y)
            t1 = time.perf_counter()
            extra: dict[str, Any] = {}
            if self.constraints:
                extra = {
                    "objective": IdentityMCMultiOutputObjective(outcomes=list(range(self.m))),
                    "constraints": self.constraint_callables(),
                }
            acqf = qLogNoisyExpectedHypervolumeImprovement(
                model=model,
                ref_point=self.ref_point,
                X_baseline=train_X,
                prune_baseline=True,
                sampler=SobolQMCNormalSampler(sample_shape=torch.Size([TUTORIAL_MC_SAMPLES])),
                **extra,
            )
            bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)]).double()
            candidate, _ = optimize_acqf(
                acqf,
                bounds=bounds,
                q=1,
                num_restarts=10,
                raw_samples=512,
                options={"batch_limit": 5, "maxiter": 200},
                sequential=True,
            )
            x = candidate.detach()[0]
            self.fit_s.append(t1 - t0)
            self.acq_s.append(time.perf_counter() - t1)
        params = self.space.decode(x)
        return [(params, torch.as_tensor(self.space.encode(params)))]

    def tell(self, token: Any, values: Any, outcomes: Mapping[str, float] | None = None) -> None:
        cons = [-c.slack(outcomes[c.name]) for c in self.constraints] if outcomes is not None else []
        if len(cons) != len(self.constraints):
            raise TypeError("the BoTorch loop needs the outcomes of a constrained problem")
        self.X.append(token)
        self.Y.append([-float(v) for v in values] + cons)

    def extra(self) -> dict[str, Any]:
        return {"fit_s": self.fit_s, "acq_s": self.acq_s}


# --- the registry ----------------------------------------------------------------------------------
def _optuna(name: str, sampler: str) -> MOMethod:
    return MOMethod(name, functools.partial(_OptunaMOSession, sampler), "optuna")


MO_METHODS: dict[str, Callable[[], MOMethod]] = {
    "asktell": asktell_mo,
    "optuna-gp": lambda: _optuna("optuna-gp", "GPSampler"),
    "optuna-tpe": lambda: _optuna("optuna-tpe", "TPESampler"),
    "optuna-nsga2": lambda: _optuna("optuna-nsga2", "NSGAIISampler"),
    "ax": lambda: MOMethod("ax", _AxMOSession, "ax"),  # type: ignore[arg-type]
    "botorch": lambda: MOMethod("botorch", _BoTorchMOSession),  # type: ignore[arg-type]
    "sobol": sobol,
}
GP_PEER = "optuna-gp"  # the overhead goal's reference


def available(name: str) -> str | None:
    """Why method ``name`` cannot run here, or None."""
    return MO_METHODS[name]().unavailable()
