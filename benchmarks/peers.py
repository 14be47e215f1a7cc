"""asktell and its peers behind one small interface, for side-by-side benchmark runs.

A :class:`Method` makes a :class:`Session` per (problem instance, seed):
``ask() -> (params, token)``, ``tell(token, value)`` and ``recommend() -> params | None``.
:meth:`Method.run` drives a session for the problem's budget and returns a :class:`RunRecord`:

- ``overhead_s[i]``: seconds spent inside ask and tell for evaluation ``i`` (the function itself is
  not timed); building the session (creating a study, configuring an experiment) is recorded apart
  in ``setup_s``.
- ``regret[i]``: simple regret, on the noiseless function, of the point the method would recommend
  after ``i + 1`` evaluations. For noiseless problems that is the best observed point. For noisy
  ones it is the method's own recommendation, computed outside the timed region:

  - asktell loops: ``loop.recommend(state)`` when the loop has one, else ``state.best()``;
  - the plain BoTorch loop and scikit-optimize: the evaluated point of lowest posterior mean of the
    GP (BoTorch: a GP fitted on all data the way the loop fits it; skopt: its last fitted model);
  - Ax: ``Client.get_best_parameterization(use_model_predictions=True)``;
  - random search and both Optuna samplers: the best observed point (Optuna has no public
    model-based recommendation).

A session that raises ends its run: the record keeps what was done and the error, and the benchmark
reports the seed as failed instead of stopping.

Peers are configured with their documented defaults and seeded with the run's seed; parameters map
to each peer's own types (log scale, integers and categoricals included).
"""

from __future__ import annotations

import logging
import math
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from asktell.space import Categorical, Integer, Real, Space
from benchmarks.problems import Instance, Problem

Params = dict[str, Any]


@dataclass
class RunRecord:
    """One method's run on one problem and seed (lists have one entry per evaluation)."""

    method: str
    problem: str
    seed: int
    budget: int
    observed: list[float] = field(default_factory=list)
    regret: list[float] = field(default_factory=list)
    overhead_s: list[float] = field(default_factory=list)
    setup_s: float = 0.0
    wall_s: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and len(self.regret) == self.budget

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Session:
    """One optimization run of a method: ask, tell, recommend."""

    def ask(self) -> tuple[Params, Any]:
        raise NotImplementedError

    def tell(self, token: Any, value: float) -> None:
        raise NotImplementedError

    def recommend(self) -> Params | None:
        """The point the method recommends now; None means the best observed point."""
        return None

    def extra(self) -> dict[str, Any]:
        """Anything worth keeping in the raw JSON (fit and acquisition times, a fallback note)."""
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


class Method:
    """A named optimizer. Subclasses implement :meth:`session` (and :meth:`unavailable`)."""

    name: str = ""

    def unavailable(self) -> str | None:
        """Why this method cannot run here (a missing package), or None."""
        return None

    def session(self, instance: Instance, seed: int) -> Session:
        raise NotImplementedError

    def run(self, problem: Problem, seed: int) -> RunRecord:
        """Optimize ``problem.instance(seed)`` for its budget; never raises for a peer's failure."""
        instance = problem.instance(seed)
        record = RunRecord(self.name, problem.name, seed, problem.budget)
        start = time.perf_counter()
        best_value, best_params = math.inf, None
        session = None
        try:
            session = self.session(instance, seed)
            record.setup_s = time.perf_counter() - start
            for _ in range(problem.budget):
                t0 = time.perf_counter()
                params, token = session.ask()
                t1 = time.perf_counter()
                params = normalize(instance.space, params)
                value = instance(params)
                t2 = time.perf_counter()
                session.tell(token, value)
                t3 = time.perf_counter()
                record.overhead_s.append((t1 - t0) + (t3 - t2))
                record.observed.append(value)
                if value < best_value:
                    best_value, best_params = value, params
                recommended = session.recommend() if instance.noisy else None
                if recommended is not None:
                    recommended = normalize(instance.space, recommended)
                record.regret.append(instance.regret(recommended or best_params))
        except Exception as exc:  # a peer's failure is data, not a crash
            record.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=4)}"
        if session is not None:
            try:
                record.extra = session.extra()
            except Exception as exc:
                record.extra = {"extra_error": repr(exc)}
        record.wall_s = time.perf_counter() - start
        return record


# --- asktell loops -------------------------------------------------------------------------------
class _AskTellSession(Session):
    def __init__(self, loop: Any, space: Space, seed: int):
        self.loop = loop
        self.state = loop.init(space, seed=seed)

    def ask(self) -> tuple[Params, Any]:
        self.state, (trial,) = self.loop.ask(self.state, 1)
        return dict(trial.params), trial.id

    def tell(self, token: Any, value: float) -> None:
        self.state = self.loop.tell(self.state, token, value)

    def recommend(self) -> Params | None:
        recommend = getattr(self.loop, "recommend", None)
        best = recommend(self.state) if recommend is not None else self.state.best()
        if best is None:
            return None
        return dict(best.params) if hasattr(best, "params") else dict(best)

    def extra(self) -> dict[str, Any]:
        """Timings the loop wrote into trial metadata (keys ending in ``_seconds`` or ``_s``)."""
        times: dict[str, list[float | None]] = {}
        trials = self.state.trials
        keys = sorted({k for t in trials for k in t.metadata if k.endswith(("_seconds", "_s"))})
        for key in keys:
            times[key] = [
                float(v) if isinstance(v := t.metadata.get(key), (int, float)) else None
                for t in trials
            ]
        notes = sorted({str(t.metadata["fallback"]) for t in trials if "fallback" in t.metadata})
        out: dict[str, Any] = {"metadata_times": times} if times else {}
        if notes:
            out["fallbacks"] = notes
        return out


class AskTellMethod(Method):
    """Any asktell loop, through ``init`` / ``ask`` / ``tell``.

    Args:
        loop_factory: builds the loop (its configuration), e.g. ``BayesOpt``.
        name: the method's name in tables.
    """

    def __init__(self, loop_factory: Callable[[], Any], name: str):
        self.loop_factory = loop_factory
        self.name = name

    def session(self, instance: Instance, seed: int) -> Session:
        return _AskTellSession(self.loop_factory(), instance.space, seed)


def asktell_method() -> tuple[Method, str | None]:
    """asktell's global-BO method: ``BayesOpt()`` when it exists, else Sobol with a warning."""
    from asktell import loops

    if hasattr(loops, "BayesOpt"):
        return AskTellMethod(loops.BayesOpt, "asktell"), None
    warning = (
        "asktell.loops.BayesOpt does not exist yet: the 'asktell' column is the Sobol loop, so "
        "its regret and overhead say nothing about BayesOpt and the goals are not meaningful."
    )
    return AskTellMethod(loops.Sobol, "asktell"), warning


# --- random search -------------------------------------------------------------------------------
class _RandomSession(Session):
    def __init__(self, space: Space, seed: int):
        self.space = space
        self.generator = torch.Generator().manual_seed(seed)

    def ask(self) -> tuple[Params, Any]:
        return self.space.sample(1, self.generator)[0], None

    def tell(self, token: Any, value: float) -> None:
        pass


class RandomMethod(Method):
    """Uniform random search (uniform over the values of integers and categoricals)."""

    name = "random"

    def session(self, instance: Instance, seed: int) -> Session:
        return _RandomSession(instance.space, seed)


# --- Optuna --------------------------------------------------------------------------------------
def optuna_distributions(space: Space) -> dict[str, Any]:
    """Optuna distributions for an asktell space."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

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
    def __init__(self, sampler: Any, space: Space):
        import optuna

        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.distributions = optuna_distributions(space)

    def ask(self) -> tuple[Params, Any]:
        trial = self.study.ask(self.distributions)
        return dict(trial.params), trial

    def tell(self, token: Any, value: float) -> None:
        self.study.tell(token, value)


class OptunaMethod(Method):
    """An Optuna sampler through ``study.ask(fixed_distributions)`` / ``study.tell``.

    Args:
        sampler_factory: ``seed -> sampler``, e.g. ``lambda s: TPESampler(seed=s)``.
        name: the method's name in tables.
    """

    def __init__(self, sampler_factory: Callable[[int], Any], name: str):
        self.sampler_factory = sampler_factory
        self.name = name

    def unavailable(self) -> str | None:
        return _missing("optuna")

    def session(self, instance: Instance, seed: int) -> Session:
        quiet_optuna()
        return _OptunaSession(self.sampler_factory(seed), instance.space)


def optuna_tpe() -> OptunaMethod:
    def make(seed: int) -> Any:
        from optuna.samplers import TPESampler

        return TPESampler(seed=seed)

    return OptunaMethod(make, "optuna-tpe")


def optuna_gp() -> OptunaMethod:
    def make(seed: int) -> Any:
        from optuna.samplers import GPSampler

        return GPSampler(seed=seed)

    return OptunaMethod(make, "optuna-gp")


# --- scikit-optimize -----------------------------------------------------------------------------
def skopt_dimensions(space: Space) -> list[Any]:
    """scikit-optimize dimensions for an asktell space."""
    from skopt.space import Categorical as SkCategorical
    from skopt.space import Integer as SkInteger
    from skopt.space import Real as SkReal

    dims: list[Any] = []
    for name, p in space.params.items():
        if isinstance(p, Real):
            prior = "log-uniform" if p.log else "uniform"
            dims.append(SkReal(p.low, p.high, prior=prior, name=name))
        elif isinstance(p, Integer):
            prior = "log-uniform" if p.log else "uniform"
            dims.append(SkInteger(p.low, p.high, prior=prior, name=name))
        else:
            dims.append(SkCategorical(list(p.choices), name=name))
    return dims


class _SkoptSession(Session):
    def __init__(self, space: Space, seed: int):
        import skopt

        self.names = space.names
        self.opt = skopt.Optimizer(
            skopt_dimensions(space), base_estimator="GP", acq_func="EI", random_state=seed
        )

    def ask(self) -> tuple[Params, Any]:
        x = self.opt.ask()
        return dict(zip(self.names, x, strict=True)), x

    def tell(self, token: Any, value: float) -> None:
        self.opt.tell(token, value)

    def recommend(self) -> Params | None:
        if not self.opt.models:
            return None
        Xt = self.opt.space.transform(self.opt.Xi)
        mean = self.opt.models[-1].predict(Xt)
        return dict(zip(self.names, self.opt.Xi[int(np.argmin(mean))], strict=True))


class SkoptMethod(Method):
    """``skopt.Optimizer(dimensions, base_estimator="GP", acq_func="EI", random_state=seed)``."""

    name = "skopt-gp"

    def unavailable(self) -> str | None:
        return _missing("skopt")

    def session(self, instance: Instance, seed: int) -> Session:
        return _SkoptSession(instance.space, seed)


# --- a plain BoTorch loop, as BoTorch's tutorials write it --------------------------------------
def _fit_gp(train_X: torch.Tensor, train_Y: torch.Tensor) -> Any:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize
    from gpytorch.mlls import ExactMarginalLogLikelihood

    model = SingleTaskGP(train_X, train_Y, outcome_transform=Standardize(m=1))
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    fit_gpytorch_mll(mll)
    return model


class _BoTorchSession(Session):
    """Sobol initial design of ``2 (d + 1)`` points, then SingleTaskGP + qLogNEI per ask.

    Inputs are the unit-cube encodings of the asktell space; candidates are decoded through the
    space, which rounds integer and categorical coordinates (the tutorials' relax-and-round).
    The GP maximizes ``-value``.
    """

    def __init__(self, space: Space, seed: int):
        from torch.quasirandom import SobolEngine

        torch.manual_seed(seed)  # the tutorials' seeding: raw samples and MC samplers use it
        self.space = space
        d = space.dim
        sobol = SobolEngine(d, scramble=True, seed=seed)
        self.initial = sobol.draw(2 * (d + 1), dtype=torch.float64)
        self.X: list[torch.Tensor] = []
        self.Y: list[float] = []
        self.fit_s: list[float] = []
        self.acq_s: list[float] = []

    def _data(self) -> tuple[torch.Tensor, torch.Tensor]:
        train_X = torch.stack(self.X)
        train_Y = -torch.tensor(self.Y, dtype=torch.float64).unsqueeze(-1)
        return train_X, train_Y

    def ask(self) -> tuple[Params, Any]:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.optim import optimize_acqf

        k = len(self.X)
        if k < len(self.initial):
            x = self.initial[k]
        else:
            train_X, train_Y = self._data()
            t0 = time.perf_counter()
            model = _fit_gp(train_X, train_Y)
            t1 = time.perf_counter()
            acqf = qLogNoisyExpectedImprovement(
                model=model, X_baseline=train_X, prune_baseline=True
            )
            bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)])
            candidate, _ = optimize_acqf(
                acqf, bounds=bounds.double(), q=1, num_restarts=10, raw_samples=512
            )
            x = candidate.detach()[0]
            self.fit_s.append(t1 - t0)
            self.acq_s.append(time.perf_counter() - t1)
        params = self.space.decode(x)
        return params, self.space.encode(params)

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


class BoTorchTutorialMethod(Method):
    """SingleTaskGP + fit_gpytorch_mll + qLogNEI + optimize_acqf(10 restarts, 512 raw samples)."""

    name = "botorch"

    def session(self, instance: Instance, seed: int) -> Session:
        return _BoTorchSession(instance.space, seed)


# --- Ax ------------------------------------------------------------------------------------------
class _AxSession(Session):
    def __init__(self, space: Space, seed: int):
        from ax import ChoiceParameterConfig, Client, RangeParameterConfig

        parameters: list[Any] = []
        for name, p in space.params.items():
            if isinstance(p, (Real, Integer)):
                parameters.append(
                    RangeParameterConfig(
                        name=name,
                        bounds=(p.low, p.high),
                        parameter_type="float" if isinstance(p, Real) else "int",
                        scaling="log" if p.log else "linear",
                    )
                )
            else:
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
        self.client.configure_optimization(objective="-y")

    def ask(self) -> tuple[Params, Any]:
        ((index, params),) = self.client.get_next_trials(max_trials=1).items()
        return dict(params), index

    def tell(self, token: Any, value: float) -> None:
        self.client.complete_trial(trial_index=token, raw_data={"y": value})

    def recommend(self) -> Params | None:
        params, *_ = self.client.get_best_parameterization(use_model_predictions=True)
        return dict(params)


def quiet_ax() -> None:
    from ax.utils.common.logger import set_stderr_log_level

    set_stderr_log_level(logging.ERROR)  # its per-trial INFO and "model fit is poor" WARNINGs


class AxMethod(Method):
    """Ax's ``Client`` with its default generation strategy, minimizing ``y``."""

    name = "ax"

    def unavailable(self) -> str | None:
        return _missing("ax")

    def session(self, instance: Instance, seed: int) -> Session:
        quiet_ax()
        return _AxSession(instance.space, seed)


# --- registry ------------------------------------------------------------------------------------
def _missing(module: str) -> str | None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed (pip install -c constraints.txt -e '.[bench]')"
    return None


PEERS: dict[str, Callable[[], Method]] = {
    "random": RandomMethod,
    "optuna-tpe": optuna_tpe,
    "optuna-gp": optuna_gp,
    "skopt-gp": SkoptMethod,
    "botorch": BoTorchTutorialMethod,
    "ax": AxMethod,
}
METHOD_NAMES = ["asktell", *PEERS]


def get_method(name: str) -> Method:
    """The method called ``name`` (``asktell`` or a key of :data:`PEERS`)."""
    if name == "asktell":
        return asktell_method()[0]
    if name not in PEERS:
        raise KeyError(f"unknown method {name!r}; methods are {METHOD_NAMES}.")
    return PEERS[name]()


def quiet() -> None:
    """Silence the peers' per-trial logging and the warnings that repeat every ask."""
    warnings.filterwarnings("ignore", message=".*objective has been evaluated at this point.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="skopt")
    try:
        from botorch.exceptions.warnings import (
            BadInitialCandidatesWarning,
            InputDataWarning,
            OptimizationWarning,
        )

        for category in (BadInitialCandidatesWarning, InputDataWarning, OptimizationWarning):
            warnings.filterwarnings("ignore", category=category)
    except ImportError:
        pass
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="botorch")
    try:
        from linear_operator.utils.warnings import NumericalWarning

        warnings.filterwarnings("ignore", category=NumericalWarning)
    except ImportError:
        pass
    if _missing("optuna") is None:
        quiet_optuna()
    if _missing("ax") is None:
        quiet_ax()


def init_worker(threads: int) -> None:
    """Set up a benchmark process: ``threads`` torch threads, quiet peers."""
    torch.set_num_threads(threads)
    quiet()


def run_job(method: str, problem: str, seed: int, quick: bool) -> dict[str, Any]:
    """Run one (method, problem, seed) and return the record as a dict (for process pools)."""
    from benchmarks.problems import get_problem

    return get_method(method).run(get_problem(problem, quick=quick), seed).to_dict()
