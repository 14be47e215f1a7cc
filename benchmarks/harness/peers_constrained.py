"""The methods of the constrained benchmark: asktell's BayesOpt (constrained qLogNEI, CONFIG), Sobol,
Optuna's GP and TPE samplers, Ax, and a plain BoTorch constrained-qLogNEI loop.

Optuna, Ax and random search are :mod:`~benchmarks.harness.peers`' own sessions, which pass a
constrained problem's constraints through their public APIs. The asktell BayesOpt methods check
first that the loop serves constraints (``BayesOpt.supports_constraints``) and that it takes the
acquisition asked for: until it does, the benchmark skips them and says why, and a rerun (runs are
resumed) adds them once it does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from benchmarks.harness.peers import PEERS, Batch, Method, Params, Session, asktell
from benchmarks.harness.problems import Instance


# --- asktell -------------------------------------------------------------------------------------
def _bayesopt(acquisition: str | None) -> Any:
    from asktell.loops import BayesOpt

    return BayesOpt() if acquisition is None else BayesOpt(acquisition=acquisition)


def bayesopt_refusal(acquisition: str | None = None) -> str | None:
    """Why asktell's BayesOpt (with ``acquisition``, None: its default) cannot run a constrained
    problem here, or None when it can."""
    from asktell.errors import ConfigError
    from asktell.loops import BayesOpt

    if not BayesOpt.supports_constraints:
        return "asktell's BayesOpt does not serve outcome constraints yet (supports_constraints is False)"
    try:
        _bayesopt(acquisition)
    except ConfigError as exc:
        return f"BayesOpt(acquisition={acquisition!r}) is refused: {exc}"
    return None


def asktell_constrained(name: str, acquisition: str | None = None) -> Method:
    """asktell's BayesOpt on a constrained problem (``acquisition``: e.g. ``"config"``; None: the
    default, constrained qLogNEI), skipped with the reason while the loop cannot serve it."""
    return asktell(
        functools.partial(_bayesopt, acquisition),
        name,
        constraints=True,
        check=functools.partial(bayesopt_refusal, acquisition),
    )


def sobol() -> Method:
    """asktell's scrambled Sobol sequence (it takes constraints and ignores them when sampling)."""
    from asktell.loops import Sobol

    return asktell(Sobol, "sobol", constraints=True)


# --- a plain BoTorch constrained loop, as BoTorch's closed-loop tutorial writes it ---------------
class _ConstrainedBoTorchSession(Session):
    """The constrained loop of BoTorch's tutorial ``closed_loop_botorch_only`` ("Closed-loop batch,
    constrained BO in BoTorch with qLogEI and qLogNEI"), one point per ask.

    A Sobol initial design of ``2 (d + 1)`` points (as the unconstrained BoTorch peer), then per
    ask: one ``SingleTaskGP`` per outcome (``-value`` first, BoTorch maximizes; then each
    constrained outcome) in a ``ModelListGP``, fitted by ``fit_gpytorch_mll`` on its
    ``SumMarginalLogLikelihood``; ``qLogNoisyExpectedImprovement(model, X_baseline,
    sampler=SobolQMCNormalSampler(256), objective=GenericMCObjective(Z[..., 0]), constraints=[...])``
    where constraint ``i`` maps samples ``Z`` (``... x q x m``) to ``bound - Z[..., i]`` for ``>=``
    and ``Z[..., i] - bound`` for ``<=`` (``<= 0`` feasible, BoTorch's convention);
    ``optimize_acqf(q=1, num_restarts=10, raw_samples=512, options={"batch_limit": 5, "maxiter":
    200})``, the tutorial's settings.

    Departures from the tutorial, and why: the tutorial knows its noise level and passes it
    (``train_Yvar``); our problems are noiseless and the loop infers the noise, like every other
    peer. The outcomes span very different scales (a volume slack of 1e6 next to a thickness
    slack of 0.01), so each GP standardizes its outcome (``Standardize(m=1)``, as the
    unconstrained BoTorch peer), and each constraint callable divides by that outcome's observed
    standard deviation: BoTorch smooths the feasibility indicator as ``sigmoid(-c / eta)`` with
    ``eta = 1e-3`` in the units of ``c`` (the tutorial's constraint is of order 1), and on a slack
    of order 1e6 that is a step, flat almost everywhere: ``optimize_acqf`` then took 20-40 s per ask
    on ``vessel-mixed`` against 2-4 s scaled (Ax standardizes its constraints the same way). The
    models are fitted afresh each ask rather than from the previous ``state_dict``, which would also
    load the previous ask's standardization buffers.
    Inputs are the unit-cube encodings of the asktell space, decoded through the space (the
    tutorials' relax-and-round for integers and categoricals).
    """

    def __init__(self, instance: Instance, seed: int):
        from torch.quasirandom import SobolEngine

        torch.manual_seed(seed)  # the tutorials' seeding: raw samples and MC samplers use it
        self.space, d = instance.space, instance.space.dim
        self.constraints = instance.problem.parsed_constraints
        self.initial = SobolEngine(d, scramble=True, seed=seed).draw(2 * (d + 1), dtype=torch.float64)
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

    def _constraint_callables(self, train_Y: torch.Tensor) -> list[Callable[[torch.Tensor], torch.Tensor]]:
        """Constraint ``k`` as BoTorch takes it: samples ``... x q x m`` to ``... x q``, ``<= 0``
        feasible, in units of the observed spread of outcome ``k`` (``train_Y``: ``n x m``)."""

        def violation(Z: torch.Tensor, i: int, bound: float, at_least: bool, scale: float) -> torch.Tensor:
            return (bound - Z[..., i] if at_least else Z[..., i] - bound) / scale

        spread = train_Y.std(dim=0)
        return [
            functools.partial(
                violation,
                i=1 + k,
                bound=c.bound,
                at_least=c.op == ">=",
                scale=float(spread[1 + k]) if spread[1 + k] > 0 else 1.0,
            )
            for k, c in enumerate(self.constraints)
        ]

    def ask(self) -> Batch:
        from botorch.acquisition.logei import qLogNoisyExpectedImprovement
        from botorch.acquisition.objective import GenericMCObjective
        from botorch.optim import optimize_acqf
        from botorch.sampling.normal import SobolQMCNormalSampler

        if len(self.X) < len(self.initial):
            x = self.initial[len(self.X)]
        else:
            train_X, train_Y = torch.stack(self.X), torch.tensor(self.Y, dtype=torch.float64)
            t0 = time.perf_counter()
            model = self._model(train_X, train_Y)
            t1 = time.perf_counter()
            acqf = qLogNoisyExpectedImprovement(
                model=model,
                X_baseline=train_X,
                sampler=SobolQMCNormalSampler(sample_shape=torch.Size([256])),
                objective=GenericMCObjective(lambda Z, X=None: Z[..., 0]),
                constraints=self._constraint_callables(train_Y),
            )
            bounds = torch.stack([torch.zeros(self.space.dim), torch.ones(self.space.dim)]).double()
            candidate, _ = optimize_acqf(
                acqf,
                bounds=bounds,
                q=1,
                num_restarts=10,
                raw_samples=512,
                options={"batch_limit": 5, "maxiter": 200},
            )
            x = candidate.detach()[0]
            self.fit_s.append(t1 - t0)
            self.acq_s.append(time.perf_counter() - t1)
        params = self.space.decode(x)
        return [(params, torch.as_tensor(self.space.encode(params)))]

    def tell(self, token: Any, value: float, outcomes: Mapping[str, float] | None = None) -> None:
        if outcomes is None:
            raise TypeError("the constrained BoTorch loop needs the outcomes of a constrained problem")
        self.X.append(token)
        self.Y.append([-float(value), *(float(outcomes[c.name]) for c in self.constraints)])

    def recommend(self) -> Params | None:
        return None  # noiseless problems: the best feasible observed point

    def extra(self) -> dict[str, Any]:
        return {"fit_s": self.fit_s, "acq_s": self.acq_s}


def botorch_constrained() -> Method:
    return Method("botorch", _ConstrainedBoTorchSession, constraints=True)


# --- the registry --------------------------------------------------------------------------------
CONSTRAINED_METHODS: dict[str, Callable[[], Method]] = {
    "asktell": lambda: asktell_constrained("asktell"),
    "asktell-config": lambda: asktell_constrained("asktell-config", "config"),
    "optuna-gp": PEERS["optuna-gp"],
    "optuna-tpe": PEERS["optuna-tpe"],
    "ax": PEERS["ax"],
    "botorch": botorch_constrained,
    "sobol": sobol,
}
ASKTELL_METHODS = ("asktell", "asktell-config")
