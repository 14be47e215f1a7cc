"""asktell's loops and its peers behind one ask/tell interface, for side-by-side benchmark runs.

A :class:`Method` makes a :class:`Session` per (problem instance, seed): ``ask()`` returns a batch
of ``(params, token)`` (one point for most methods, a generation for CMA-ES), ``tell(token,
value)`` takes each value (``tell(token, value, outcomes)`` on a constrained problem: the raw value
of each constrained outcome, by name), ``recommend()`` the point the method would recommend now.
:meth:`Method.run` drives a session for the problem's budget and returns the run's record:

- ``overhead_s[i]`` (wall) and ``overhead_cpu_s[i]`` (process CPU time): the method's own time for
  evaluation ``i``, inside ask and tell (the function itself is not timed); a batch's time is shared
  evenly by its points. Building the session (creating a study, configuring an experiment) is
  ``setup_s``, apart.
- ``regret[i]``: simple regret, on the noiseless function, of the point the method would recommend
  after ``i + 1`` evaluations. For noiseless problems that is the best observed point. For noisy
  ones it is the method's own recommendation, computed outside the timed region:

  - asktell loops: ``loop.recommend(state)`` when the loop has one, else ``state.best()``;
  - the plain BoTorch loop and scikit-optimize: the evaluated point of lowest posterior mean of the
    GP (BoTorch: a GP fitted on all data the way the loop fits it; skopt: its last fitted model);
  - Ax: ``Client.get_best_parameterization(use_model_predictions=True)``;
  - random search, CMA-ES and Optuna's samplers: the best observed point (Optuna has no public
    model-based recommendation).

  On a constrained problem (noiseless) ``regret[i]`` is that of the best *feasible* point so far,
  None until there is one, and ``feasible[i]`` says whether evaluation ``i`` was feasible. Only
  methods made with ``constraints=True`` run on one: each passes the constraints through its own
  API (asktell ``init(constraints=...)``/``tell(constraints=...)``, Optuna ``trial.set_constraint``
  with ``c = -slack``, Ax ``outcome_constraints``, the constrained BoTorch loop of
  :mod:`~benchmarks.harness.peers_constrained`); random search ignores them.

A session that raises ends its run: the record keeps what was done and the error, and the benchmark
reports the seed as failed instead of stopping. Peers are configured with their documented defaults
and seeded with the run's seed; parameters map to each peer's own types (log scales, integers and
categoricals included).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from asktell.space import Categorical, Integer, Real, Space
from benchmarks.harness.problems import Instance, Problem

Params = dict[str, Any]
Batch = list[tuple[Params, Any]]


class Session:
    """One optimization run of a method: ask, tell, recommend."""

    def ask(self) -> Batch:
        raise NotImplementedError

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        """Take the value of the point of ``token`` (and on a constrained problem its outcomes)."""
        raise NotImplementedError

    def recommend(self) -> Params | None:
        """The point the method recommends now; None means the best observed point."""
        return None

    def extra(self) -> dict[str, Any]:
        """Anything worth keeping in the record (fit and acquisition times, a fallback note)."""
        return {}


def normalize(space: Space, params: Mapping[str, Any]) -> Params:
    """A peer's point as a valid asktell point: plain Python types, reals clipped into range."""
    out: Params = {}
    for name in space.names:
        value, param = params[name], space[name]
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(param, Real):
            value = min(max(float(value), param.low), param.high)
        elif isinstance(param, Integer):
            value = int(round(value))
        out[name] = value
    return space.check(out)


def missing(module: str) -> str | None:
    """Why a method that needs ``module`` cannot run here, or None."""
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install -c constraints.txt -e '.[bench]')"
    return None


class Method:
    """A named optimizer: ``session(instance, seed)`` starts a run; ``needs`` names a module it
    cannot run without; ``constraints``: it takes outcome constraints (runs on constrained
    problems); ``check()`` says why it cannot run here beyond a missing module (None: it can)."""

    def __init__(
        self,
        name: str,
        session: Callable[[Instance, int], Session],
        needs: str | None = None,
        *,
        constraints: bool = False,
        check: Callable[[], str | None] | None = None,
    ):
        self.name, self.session, self.needs = name, session, needs
        self.constraints, self.check = constraints, check

    def unavailable(self) -> str | None:
        """Why this method cannot run here (a missing package, a feature not there yet), or None."""
        return (missing(self.needs) if self.needs else None) or (self.check() if self.check else None)

    def run(self, problem: Problem, seed: int) -> dict[str, Any]:
        """Optimize ``problem.instance(seed)`` for its budget; never raises for a method's failure."""
        instance = problem.instance(seed)
        record = {"method": self.name, "problem": problem.name, "seed": seed, "budget": problem.budget}
        observed, regret, wall, cpu, feasible = [], [], [], [], []
        start, error, session, setup = time.perf_counter(), None, None, 0.0
        best_value, best_params = math.inf, None
        constrained = problem.constrained
        try:
            if constrained and not self.constraints:
                raise TypeError(f"{self.name} takes no outcome constraints; {problem.name} has them")
            session = self.session(instance, seed)
            setup = time.perf_counter() - start
            while len(observed) < problem.budget:
                w0, c0 = time.perf_counter(), time.process_time()
                batch = session.ask()[: problem.budget - len(observed)]
                if not batch:
                    raise RuntimeError(f"{self.name} proposed no point")
                w, c = time.perf_counter() - w0, time.process_time() - c0
                for params, token in batch:
                    params = normalize(instance.space, params)
                    value = instance(params)
                    outcomes = instance.outcomes(params) if constrained else None
                    w0, c0 = time.perf_counter(), time.process_time()
                    if outcomes is None:
                        session.tell(token, value)
                    else:
                        session.tell(token, value, outcomes)
                    w, c = w + time.perf_counter() - w0, c + time.process_time() - c0
                    observed.append(value)
                    ok = outcomes is None or instance.feasible(outcomes)
                    feasible.append(ok)
                    if ok and value < best_value:
                        best_value, best_params = value, params
                    if constrained:  # noiseless: the best feasible value so far, none until one
                        regret.append(None if best_params is None else best_value - problem.optimum)
                    elif instance.noisy:
                        point = session.recommend()
                        point = best_params if point is None else normalize(instance.space, point)
                        regret.append(instance.regret(point))  # type: ignore[arg-type]
                    else:  # noiseless: the best value is the true value at the best point
                        regret.append(best_value - problem.optimum)
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
            "observed": observed,
            "regret": regret,
            "overhead_s": wall,
            "overhead_cpu_s": cpu,
            "setup_s": setup,
            "wall_s": time.perf_counter() - start,
            "error": error,
            "extra": extra,
            **({"feasible": feasible} if constrained else {}),
        }


# --- asktell loops -------------------------------------------------------------------------------
class _AskTellSession(Session):
    """An asktell loop through ``init`` / ``ask`` / ``tell``; a constrained problem's constraints go
    to ``init`` and its outcomes to each ``tell``."""

    def __init__(self, loop: Any, instance: Instance, seed: int):
        self.loop = loop
        constraints = list(instance.problem.constraints) or None
        self.state = loop.init(
            instance.space, seed=seed, **({"constraints": constraints} if constraints else {})
        )

    def ask(self) -> Batch:
        self.state, (trial,) = self.loop.ask(self.state, 1)
        return [(dict(trial.params), trial.id)]

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        extra = {"constraints": dict(outcomes)} if outcomes is not None else {}
        self.state = self.loop.tell(self.state, token, value, **extra)

    def recommend(self) -> Params | None:
        recommend = getattr(self.loop, "recommend", None)
        best = recommend(self.state) if recommend is not None else self.state.best()
        if best is None:
            return None
        return dict(best.params) if hasattr(best, "params") else dict(best)

    def extra(self) -> dict[str, Any]:
        """Per trial (in ask order), every number the loop wrote into its metadata (None where it
        wrote none: the timings ``fit_seconds``, ``acq_seconds``, ZoRD's ``virtual_steps`` ...),
        and the fallbacks it noted."""
        trials = self.state.trials
        keys = sorted({k for t in trials for k, v in t.metadata.items() if _number(v)})
        metadata = {k: [float(v) if _number(v := t.metadata.get(k)) else None for t in trials] for k in keys}
        notes = sorted({str(t.metadata["fallback"]) for t in trials if "fallback" in t.metadata})
        out = {"metadata": metadata, **({"fallbacks": notes} if notes else {})}
        if self.state.problem.constrained:  # CONFIG's declaration: the asks that said "infeasible"
            out["declared_infeasible"] = [i + 1 for i, t in enumerate(trials) if t.metadata.get("infeasible")]
            out["memo_infeasible"] = bool(self.state.memo.get("infeasible", False))
        return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def asktell(
    loop_factory: Callable[[], Any],
    name: str,
    *,
    constraints: bool = False,
    check: Callable[[], str | None] | None = None,
) -> Method:
    """Any asktell loop, through ``init`` / ``ask`` / ``tell`` (``loop_factory``: e.g. ``BayesOpt``;
    ``constraints``: the loop serves outcome constraints; ``check``: see :class:`Method`)."""
    return Method(
        name,
        lambda instance, seed: _AskTellSession(loop_factory(), instance, seed),
        constraints=constraints,
        check=check,
    )


def asktell_bayesopt() -> Method:
    """asktell's global-BO method: ``BayesOpt()`` with its defaults."""
    from asktell.loops import BayesOpt

    return asktell(BayesOpt, "asktell")


# --- random search -------------------------------------------------------------------------------
class _RandomSession(Session):
    """Uniform random search (uniform over the values of integers and categoricals)."""

    def __init__(self, instance: Instance, seed: int):
        from asktell.loops.random import uniform_points

        self.space, self.generator, self.uniform = (
            instance.space,
            torch.Generator().manual_seed(seed),
            uniform_points,
        )

    def ask(self) -> Batch:
        return [(self.uniform(self.space, 1, self.generator)[0], None)]

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        pass  # random points ignore what they find, constraints included


# --- Optuna --------------------------------------------------------------------------------------
def optuna_distributions(space: Space) -> dict[str, Any]:
    """Optuna distributions for an asktell space."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, p in space.params.items():
        if isinstance(p, Real):
            out[name] = FloatDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Integer):
            out[name] = IntDistribution(p.low, p.high, log=p.log)
        elif isinstance(p, Categorical):
            out[name] = CategoricalDistribution(list(p.choices))
    return out


def quiet_optuna() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


class _OptunaSession(Session):
    """An Optuna sampler (its class name in ``optuna.samplers``, built with ``seed=seed``) through
    ``study.ask(fixed_distributions)`` / ``study.tell``; on a constrained problem each outcome goes
    to ``trial.set_constraint(name, -slack)`` before the tell (Optuna 5: feasible iff every value is
    ``<= 0``; GPSampler and TPESampler read them from the trials, ``constraints_func`` is
    deprecated)."""

    def __init__(self, sampler: str, instance: Instance, seed: int):
        import optuna

        quiet_optuna()
        self.study = optuna.create_study(
            direction="minimize", sampler=getattr(optuna.samplers, sampler)(seed=seed)
        )
        self.distributions = optuna_distributions(instance.space)
        self.constraints = instance.problem.parsed_constraints

    def ask(self) -> Batch:
        trial = self.study.ask(self.distributions)
        return [(dict(trial.params), trial)]

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        for c in self.constraints if outcomes is not None else ():
            token.set_constraint(c.name, -c.slack(outcomes[c.name]))
        self.study.tell(token, value)


# --- scikit-optimize -----------------------------------------------------------------------------
def skopt_dimensions(space: Space) -> list[Any]:
    """scikit-optimize dimensions for an asktell space."""
    from skopt.space import Categorical as SkCategorical
    from skopt.space import Integer as SkInteger
    from skopt.space import Real as SkReal

    dims: list[Any] = []
    for name, p in space.params.items():
        if isinstance(p, (Real, Integer)):
            kind = SkReal if isinstance(p, Real) else SkInteger
            dims.append(kind(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=name))
        else:
            dims.append(SkCategorical(list(p.choices), name=name))
    return dims


class _SkoptSession(Session):
    """``skopt.Optimizer(dimensions, base_estimator="GP", acq_func="EI", random_state=seed)``."""

    def __init__(self, instance: Instance, seed: int):
        import skopt

        self.names, dims = instance.space.names, skopt_dimensions(instance.space)
        self.opt = skopt.Optimizer(dims, base_estimator="GP", acq_func="EI", random_state=seed)

    def ask(self) -> Batch:
        x = self.opt.ask()
        return [(dict(zip(self.names, x, strict=True)), x)]

    def tell(self, token: Any, value: float) -> None:
        self.opt.tell(token, value)

    def recommend(self) -> Params | None:
        if not self.opt.models:
            return None
        mean = self.opt.models[-1].predict(self.opt.space.transform(self.opt.Xi))
        return dict(zip(self.names, self.opt.Xi[int(np.argmin(mean))], strict=True))


# --- a plain BoTorch loop, as BoTorch's tutorials write it --------------------------------------
def _fit_gp(train_X: torch.Tensor, train_Y: torch.Tensor) -> Any:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = SingleTaskGP(train_X, train_Y, outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    return model


class _BoTorchSession(Session):
    """Sobol initial design of ``2 (d + 1)`` points, then SingleTaskGP + fit_gpytorch_mll + qLogNEI
    + optimize_acqf (10 restarts, 512 raw samples) per ask.

    Inputs are the unit-cube encodings of the asktell space; candidates are decoded through the
    space, which rounds integer and categorical coordinates (the tutorials' relax-and-round).
    The GP maximizes ``-value``.
    """

    def __init__(self, instance: Instance, seed: int):
        from torch.quasirandom import SobolEngine

        torch.manual_seed(seed)  # the tutorials' seeding: raw samples and MC samplers use it
        self.space, d = instance.space, instance.space.dim
        self.initial = SobolEngine(d, scramble=True, seed=seed).draw(2 * (d + 1), dtype=torch.float64)
        self.X: list[torch.Tensor] = []
        self.Y: list[float] = []
        self.fit_s: list[float] = []
        self.acq_s: list[float] = []

    def _data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack(self.X), -torch.tensor(self.Y, dtype=torch.float64).unsqueeze(-1)

    def ask(self) -> Batch:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.optim import optimize_acqf

        if len(self.X) < len(self.initial):
            x = self.initial[len(self.X)]
        else:
            train_X, train_Y = self._data()
            t0 = time.perf_counter()
            model = _fit_gp(train_X, train_Y)
            t1 = time.perf_counter()
            acqf = qLogNoisyExpectedImprovement(model=model, X_baseline=train_X, prune_baseline=True)
            bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)]).double()
            candidate, _ = optimize_acqf(acqf, bounds=bounds, q=1, num_restarts=10, raw_samples=512)
            x = candidate.detach()[0]
            self.fit_s.append(t1 - t0)
            self.acq_s.append(time.perf_counter() - t1)
        params = self.space.decode(x)
        return [(params, torch.as_tensor(self.space.encode(params)))]

    def tell(self, token: Any, value: float) -> None:
        self.X.append(token)
        self.Y.append(float(value))

    def recommend(self) -> Params | None:
        if len(self.X) < 2:
            return None
        train_X, train_Y = self._data()
        model = _fit_gp(train_X, train_Y)
        with torch.no_grad():
            mean = model.posterior(train_X).mean.squeeze(-1)
        return self.space.decode(train_X[int(torch.argmax(mean))])

    def extra(self) -> dict[str, Any]:
        return {"fit_s": self.fit_s, "acq_s": self.acq_s}


# --- Ax ------------------------------------------------------------------------------------------
class _AxSession(Session):
    """Ax's ``Client`` with its default generation strategy, minimizing ``y``; a constrained
    problem's constraints are its ``outcome_constraints`` (``"s1 >= 0"`` reads the same in Ax), the
    outcomes reported with ``y`` in ``complete_trial(raw_data=...)``."""

    def __init__(self, instance: Instance, seed: int):
        from ax import ChoiceParameterConfig, Client, RangeParameterConfig

        quiet_ax()
        parameters: list[Any] = []
        for name, p in instance.space.params.items():
            if isinstance(p, (Real, Integer)):
                kind, scaling = ("float" if isinstance(p, Real) else "int"), ("log" if p.log else "linear")
                parameters.append(
                    RangeParameterConfig(
                        name=name, bounds=(p.low, p.high), parameter_type=kind, scaling=scaling
                    )
                )
                continue
            kinds = {type(c) for c in p.choices}
            if len(kinds) != 1 or not kinds <= {str, int, float, bool}:
                raise TypeError(f"Ax needs choices of one type, got {p.choices!r}")
            kind = {str: "str", int: "int", float: "float", bool: "bool"}[kinds.pop()]
            parameters.append(
                ChoiceParameterConfig(
                    name=name, values=list(p.choices), parameter_type=kind, is_ordered=False
                )
            )
        self.client = Client(random_seed=seed)
        self.client.configure_experiment(parameters=parameters)
        self.client.configure_optimization(
            objective="-y", outcome_constraints=list(instance.problem.constraints) or None
        )

    def ask(self) -> Batch:
        ((index, params),) = self.client.get_next_trials(max_trials=1).items()
        return [(dict(params), index)]

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        self.client.complete_trial(trial_index=token, raw_data={"y": value, **(outcomes or {})})

    def recommend(self) -> Params | None:
        params, *_ = self.client.get_best_parameterization(use_model_predictions=True)
        return dict(params)


def quiet_ax() -> None:
    from ax.utils.common.logger import set_stderr_log_level

    set_stderr_log_level(logging.ERROR)  # its per-trial INFO and "model fit is poor" WARNINGs


# --- CMA-ES --------------------------------------------------------------------------------------
class _CMASession(Session):
    """CMA-ES (pycma's ``CMAEvolutionStrategy``) in the unit cube (``bounds=[0, 1]``), default
    population ``4 + 3 ln d``, cma's ``seed = seed + 1`` (0 means "time" to cma). A batch is a
    generation, told once all its values are in (a generation cut at the budget is not told).

    Args:
        sigma0: the initial step size in unit-cube coordinates (pycma: about a third of the box).
        x0: ``(instance, seed) -> start point`` in the unit cube (default: the centre).
    """

    def __init__(self, instance: Instance, seed: int, sigma0: float = 0.3, x0: Callable | None = None):
        import cma

        x0 = x0(instance, seed) if x0 else [0.5] * instance.space.dim

        self.space = instance.space
        self.low = np.array([p.low for p in self.space.params.values()])
        self.high = np.array([p.high for p in self.space.params.values()])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es = cma.CMAEvolutionStrategy(
                x0, sigma0, {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9}
            )
        self.solutions: list[np.ndarray] = []
        self.values: list[float] = []

    def ask(self) -> Batch:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.solutions, self.values = self.es.ask(), []
        points = (self.low + (self.high - self.low) * np.clip(x, 0.0, 1.0) for x in self.solutions)
        return [(dict(zip(self.space.names, x.tolist(), strict=True)), i) for i, x in enumerate(points)]

    def tell(self, token: Any, value: float) -> None:
        self.values.append(value)
        if len(self.values) == len(self.solutions):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.es.tell(self.solutions, self.values)


def cma(sigma0: float = 0.3, x0: Callable[[Instance, int], list[float]] | None = None) -> Method:
    """CMA-ES through ask/tell in the unit cube (see :class:`_CMASession`)."""
    return Method("cma", functools.partial(_CMASession, sigma0=sigma0, x0=x0), "cma")


# --- registry ------------------------------------------------------------------------------------
PEERS: dict[str, Callable[[], Method]] = {
    "random": lambda: Method("random", _RandomSession, constraints=True),
    "optuna-tpe": lambda: Method(
        "optuna-tpe", functools.partial(_OptunaSession, "TPESampler"), "optuna", constraints=True
    ),
    "optuna-gp": lambda: Method(
        "optuna-gp", functools.partial(_OptunaSession, "GPSampler"), "optuna", constraints=True
    ),
    "skopt-gp": lambda: Method("skopt-gp", _SkoptSession, "skopt"),
    "botorch": lambda: Method("botorch", _BoTorchSession),
    "ax": lambda: Method("ax", _AxSession, "ax", constraints=True),
    "cma": cma,
}


def quiet() -> None:
    """Silence the peers' per-trial logging and the warnings that repeat every ask."""
    warnings.filterwarnings("ignore", message=".*objective has been evaluated at this point.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="skopt")
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="botorch")
    # qLogNEI with constraints, every point infeasible so far (the constrained BoTorch loop)
    warnings.filterwarnings("ignore", message="When all training points are infeasible")
    from botorch.exceptions.warnings import BadInitialCandidatesWarning, InputDataWarning, OptimizationWarning
    from linear_operator.utils.warnings import NumericalWarning

    for category in (BadInitialCandidatesWarning, InputDataWarning, OptimizationWarning, NumericalWarning):
        warnings.filterwarnings("ignore", category=category)
    if missing("optuna") is None:
        quiet_optuna()
    if missing("ax") is None:
        quiet_ax()


def init_worker(threads: int) -> None:
    """Set up a benchmark process: ``threads`` torch threads, quiet peers."""
    torch.set_num_threads(threads)
    quiet()
