"""``AskTellSampler``: an Optuna sampler whose trials come from an asktell loop.

An existing Optuna study (its storage, dashboard, pruners and ``study.optimize`` included) draws its
parameters from any asktell loop::

    import optuna
    from asktell.integrations.optuna import AskTellSampler
    from asktell.loops import BayesOpt

    study = optuna.create_study(sampler=AskTellSampler(BayesOpt(), seed=0), storage="sqlite:///s.db")
    study.optimize(objective, n_trials=40)

How it works. The sampler is stateless, like Optuna's ``GPSampler``: the study's storage is the
source of truth. For every new trial it

1. infers the relative search space as the intersection of the distributions of the finished trials
   (Optuna's ``IntersectionSearchSpace``, without single-valued distributions), and maps it to an
   asktell :class:`~asktell.Space`: ``FloatDistribution`` to ``Real`` (``log=True`` to a log-scale
   ``Real``; with a ``step``, to an ``Integer`` index of the grid ``low + k * step``),
   ``IntDistribution`` to ``Integer`` (log scale kept; with a ``step``, an index of the grid),
   ``CategoricalDistribution`` to a ``Categorical`` of the choices' indices;
2. rebuilds the asktell state from the study's trials: completed trials become told values
   (negated for ``maximize`` directions, since asktell minimizes), failed and pruned trials (and
   completed ones with an infinite value) become failed trials, running trials become pending ones
   (their relative parameters are stored with the trial, so a worker that has not suggested all of
   them yet still counts). Trials whose parameters do not fit the current space (another range,
   a missing parameter) are left out;
3. asks the loop for one point, seeded by the sampler's ``seed`` and the trial number, so the same
   study gives the same answer in any process and concurrent workers draw different points.

The loop's memo (the GP hyperparameters to warm-start from, how many Sobol points were issued) is
stored with each trial as system attributes ``asktell:memo:<i>`` and read back from the latest
trial on the next ask; so is each trial's asked point (``asktell:params:<i>``). Parameters outside
the relative space (conditional ones) are sampled by an independent sampler (``RandomSampler``
with the same seed by default).

Several objectives. A study of several directions is a multi-objective problem of the loop::

    study = optuna.create_study(directions=["minimize", "maximize"], sampler=AskTellSampler(Sobol()))
    study.optimize(lambda t: (latency(t), accuracy(t)), n_trials=40)
    front = study.sampler.state(study).pareto_front()   # the same trials as study.best_trials

- *Values*: each completed trial is told its values as a list, a ``maximize`` direction's value
  negated (asktell minimizes): ``(0.2, 0.93)`` above is told ``[0.2, -0.93]``. The values the
  study, its dashboard and ``study.best_trials`` show stay Optuna's; to draw the state's front in
  the study's units, pass ``maximize=[d == StudyDirection.MAXIMIZE for d in study.directions]``
  to :func:`asktell.plot.plot_pareto_front`.
- *The front*: ``sampler.state(study).pareto_front()`` holds the trials of ``study.best_trials``
  (completed, feasible by Optuna's rule, non-dominated), ``metadata["optuna_trial"]`` naming each,
  with two differences: of trials with *equal* values asktell keeps the lowest number (Optuna
  keeps them all), and a trial the state leaves out (its parameters are not in the relative search
  space, or a value is infinite: a failed trial here) is not on asktell's front.
- *The reference point* of the hypervolumes: ``ref_point=`` in the study's units (a ``maximize``
  direction's entry is negated with the values), or, as asktell's states do, inferred from the
  feasible values once ``asktell.pareto.reference_trials(dim)`` trials have completed (in order of
  completion) and one of them is feasible, and then fixed. The rebuilt state has the same
  reference point on every ask as long as the trials it is rebuilt from stay the same (a relative
  search space that changes can change them: then so does the point).
- *The loop* must optimize that many objectives (``loop.max_objectives``: BayesOpt, whose
  qLogNEHVI models each objective, Sobol, RandomSearch); another is refused with a ConfigError
  at the first ask, naming those that do.

Constraints. The sampler reads Optuna's constraint values as Optuna's own constrained samplers do:
the values an objective sets with ``trial.set_constraint("mem", gb - 4)`` (Optuna 5) and those a
``constraints_func`` returns (a sequence of floats, stored after each completed or pruned trial
as Optuna's samplers store it). Optuna's convention is the feasible side ``c <= 0``; each key becomes
an asktell outcome constraint ``name <= 0`` of the rebuilt state, told with the trial's raw value::

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("mem", memory_gb(x) - 4.0)   # feasible when memory_gb(x) <= 4
        return loss(x)

    study = optuna.create_study(sampler=AskTellSampler(Sobol()))

- *Which constraints*: the keys reported by the completed trials of the rebuilt state, so the
  number of constraints needs no declaring: it is known from the first completed trial that
  reports one, and the problem is rebuilt with every ask (before any, the state is unconstrained).
  A key that is a valid outcome name keeps it (``mem``); ``constraints_func``'s positions ``0``,
  ``1``, ... become ``c0``, ``c1``, ...; other characters become ``_``. They are declared in
  natural order of the keys (``c2`` before ``c10``).
- *A completed trial without some key* (another branch of the objective set other constraints,
  or constraints were added mid-study) is left out of the state with a warning: Optuna counts a
  missing value as kept, but the loop's models need every outcome of a point and the sampler does
  not invent one.
- *Non-finite values*: a trial with an infinite constraint value (or objective) is told as a
  failed trial, as asktell's models take finite values only (Optuna's GPSampler clips them
  instead); a NaN is refused by Optuna itself.
- *Feasibility*: a trial is feasible when every value is ``<= 0``, the boundary included, exactly as
  Optuna decides it; the loop's notion of best (:meth:`AskTellSampler.state`'s ``best()``, the
  incumbent its acquisition improves on) counts feasible trials only.

The loop must serve constraints (``loop.supports_constraints``: Sobol, RandomSearch, and BayesOpt
where it does); one that does not is refused with a ConfigError at the first constrained ask (and
at construction when ``constraints_func`` is given).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.samplers._base import _process_constraints_after_trial
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from asktell.constraints import MAX_NAME_LENGTH, Constraint
from asktell.errors import AskTellError, ConfigError, ParamError, StateError
from asktell.pareto import reference_trials
from asktell.priors import Beta, Normal, Uniform
from asktell.space import Categorical, Integer, Param, Real, Space
from asktell.state import COMPLETED, FAILED, PENDING, State, Trial, check_value, reference_point_for

_MEMO_KEY = "asktell:memo"
_PARAMS_KEY = "asktell:params"
_ATTR_MAX_LENGTH = 2045  # RDB storage keeps system attributes below 2046 characters


class _Mapped:
    """One Optuna distribution as an asktell parameter, with the conversions both ways."""

    def __init__(self, distribution: BaseDistribution, prior: Any = None, name: str = ""):
        self.distribution = distribution
        d = distribution
        self.step: float | int | None = None
        if isinstance(d, CategoricalDistribution):
            if prior is not None and not isinstance(prior, (list, tuple)):
                raise ConfigError(
                    f"parameter {name!r} is categorical: its prior is a list of weights, one per choice."
                )
            weights = None if prior is None else tuple(prior)
            self.param: Param = Categorical(tuple(range(len(d.choices))), weights=weights)
        elif (
            isinstance(d, (FloatDistribution, IntDistribution))
            and d.step is not None
            and (isinstance(d, FloatDistribution) or d.step != 1)
        ):
            if prior is not None:
                raise ConfigError(f"parameter {name!r} has a step: AskTellSampler takes no prior for it.")
            self.step = d.step
            self.param = Integer(0, int(round((d.high - d.low) / d.step)))
        elif isinstance(prior, (list, tuple)):
            raise ConfigError(
                f"parameter {name!r} is not categorical: its prior is a Normal, Uniform or Beta."
            )
        elif isinstance(d, FloatDistribution):
            self.param = Real(d.low, d.high, log=d.log, prior=prior)
        elif isinstance(d, IntDistribution):
            self.param = Integer(d.low, d.high, log=d.log, prior=prior)
        else:
            raise ConfigError(f"AskTellSampler cannot map the distribution {d!r}.")

    def to_optuna(self, value: Any) -> Any:
        """The Optuna (external) value of an asktell value; plain Python types."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return d.choices[int(value)]
        if self.step is not None:
            grid = d.low + int(value) * self.step  # type: ignore[attr-defined]
            return int(grid) if isinstance(d, IntDistribution) else float(min(grid, d.high))  # type: ignore[attr-defined]
        return int(value) if isinstance(d, IntDistribution) else float(value)

    def to_asktell(self, value: Any) -> Any:
        """The asktell value of an Optuna value; raises ParamError when it is not in this space."""
        d = self.distribution
        if isinstance(d, CategoricalDistribution):
            return int(d.to_internal_repr(value))
        if self.step is not None:
            k = (float(value) - d.low) / self.step  # type: ignore[attr-defined]
            if abs(k - round(k)) > 1e-6:
                raise ParamError(f"{value!r} is not on the grid of {d!r}.")
            value = round(k)
        return self.param.check(value)


def _single_value(distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[0]
    return distribution.low  # type: ignore[attr-defined]


def _write_chunks(study: Study, trial: FrozenTrial, key: str, data: Any) -> None:
    """Store JSON in system attributes ``key:0``, ``key:1``, ... and an empty one after the last
    (so a shorter rewrite of the same trial never reads stale chunks)."""
    text = json.dumps(data, allow_nan=False)
    chunks = [text[i : i + _ATTR_MAX_LENGTH] for i in range(0, len(text), _ATTR_MAX_LENGTH)]
    for i, chunk in enumerate([*chunks, ""]):
        study._storage.set_trial_system_attr(trial._trial_id, f"{key}:{i}", chunk)


def _read_chunks(trial: FrozenTrial, key: str) -> Any:
    parts, i = [], 0
    while part := trial.system_attrs.get(f"{key}:{i}"):
        parts.append(part)
        i += 1
    return json.loads("".join(parts)) if parts else None


def _constraints_of(frozen: FrozenTrial) -> dict[str, float]:
    """The trial's constraint values by Optuna key, as Optuna reads them: ``set_constraint``'s keys
    and ``constraints_func``'s positions ``"0"``, ``"1"``, ... (Optuna 4 stores only the latter)."""
    values = getattr(frozen, "constraints", None)
    if isinstance(values, Mapping):
        return {str(key): value for key, value in values.items()}
    stored = frozen.system_attrs.get("constraints")
    return {} if stored is None else {str(i): value for i, value in enumerate(stored)}


def _key_order(key: str) -> tuple[int, int, str]:
    # natural order: constraints_func's positions by number (2 before 10), then named keys
    return (0, int(key), key) if key.isascii() and key.isdecimal() else (1, 0, key)


def _outcome_name(key: str) -> str:
    """The asktell outcome name of an Optuna constraint key: the key itself when it is a valid name,
    ``c<i>`` for a position ``i``, else the key with other characters as ``_``."""
    candidate = f"c{key}" if key.isascii() and key.isdecimal() else key
    try:
        return Constraint(candidate, "<=", 0.0).name
    except ConfigError:
        pass
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", key)
    if not re.match(r"[A-Za-z_]", cleaned):
        cleaned = f"c{cleaned}"
    return cleaned[:MAX_NAME_LENGTH]


def _outcome_names(keys: Iterable[str]) -> dict[str, str]:
    """Optuna constraint keys to asktell outcome names, in natural order of the keys.

    Raises:
        ConfigError: two keys that map to the same name.
    """
    names: dict[str, str] = {}
    for key in sorted(set(keys), key=_key_order):
        name = _outcome_name(key)
        clash = [k for k, n in names.items() if n == name]
        if clash:
            raise ConfigError(
                f"the constraint keys {clash[0]!r} and {key!r} both map to the outcome name {name!r}; "
                "rename one (a key that is a word of letters, digits, '_', '.' and '-' is kept as it is)."
            )
        names[key] = name
    return names


def _loops_for(n_objectives: int) -> list[str]:
    """The names of asktell's own loops that optimize ``n_objectives`` objectives (their classes'
    ``max_objectives``, read when the message is written, so it follows the loops)."""
    from asktell.registry import BUILTIN, LOOP, loop_class

    names = set()
    for name, builtin in BUILTIN.items():
        if builtin.kind != LOOP:
            continue
        try:
            cls = loop_class(name)
        except Exception:  # noqa: BLE001 - a loop that cannot be imported here serves nothing
            continue
        limit = getattr(cls, "max_objectives", 1)
        if limit is None or limit >= n_objectives:
            names.add(cls.__name__)
    return sorted(names)


class AskTellSampler(BaseSampler):
    """An Optuna sampler that asks an asktell loop for each trial's parameters.

    Args:
        loop: any asktell loop (``None``: ``BayesOpt()``, the recommended loop) that can optimize
            as many objectives as the study has directions (and serve its constraints, if any).
        seed: the asktell seed; all of the loop's randomness derives from it and the trial number.
        independent_sampler: samples parameters outside the relative search space
            (default: ``RandomSampler(seed=seed)``).
        constraints_func: Optuna's constraints function: takes a :class:`~optuna.trial.FrozenTrial`
            and returns a sequence of floats, each feasible when ``<= 0``; called after each
            completed or pruned trial and stored as Optuna's samplers store it (NaN is refused).
            Optuna 5 deprecates it for ``trial.set_constraint``, which needs no argument here:
            the sampler reads both (see the module's docstring).
        ref_point: for a study of several directions, the reference point of the hypervolumes in
            the study's own units (one finite number per direction; a ``maximize`` direction's
            entry is negated with its values). Default: inferred from the first completed trials
            (see the module's docstring). Its length is checked against the study at the first ask.
        priors: what you know about where the best values lie (Optuna's distributions carry no
            priors): parameter name -> an :mod:`asktell.priors` distribution on the parameter's
            own scale (``{"lr": Normal(1e-3, 1.0)}``: 1e-3 give or take a decade, for
            ``suggest_float("lr", 1e-5, 1, log=True)``), or a categorical's weights, one per
            choice in the order given to ``suggest_categorical``. They join the mapped space,
            so BayesOpt follows them (piBO) and RandomSearch draws from them; a prior that does
            not fit its distribution (mass outside the range) is refused at the ask that meets
            it, and a stepped distribution takes none. Optuna samples the first trial before a
            relative search space exists: ``study.enqueue_trial`` the prior's centre to start there.
    """

    def __init__(
        self,
        loop: Any = None,
        seed: int = 0,
        *,
        independent_sampler: BaseSampler | None = None,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
        ref_point: Sequence[float] | None = None,
        priors: Mapping[str, Any] | None = None,
    ) -> None:
        if priors is not None and (
            not isinstance(priors, Mapping)
            or not all(isinstance(p, (Normal, Uniform, Beta, list, tuple)) for p in priors.values())
        ):
            raise ConfigError(
                "priors must map parameter names to asktell.priors distributions (Normal, Uniform, Beta) "
                f"or a categorical's list of weights, got {priors!r}."
            )
        self._priors = dict(priors or {})
        if loop is None:
            from asktell.loops import default_loop

            loop = default_loop()
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
        if constraints_func is not None:
            if not callable(constraints_func):
                raise ConfigError(
                    f"constraints_func must be a function of a FrozenTrial, got {constraints_func!r}."
                )
            if not getattr(loop, "supports_constraints", False):
                raise ConfigError(
                    f"constraints_func needs a loop that serves outcome constraints, but "
                    f"{type(loop).__name__} does not (its asks would ignore them); use Sobol or "
                    "RandomSearch, or a loop whose supports_constraints is True."
                )
        if ref_point is not None:
            try:
                ref_point = tuple(float(v) for v in ref_point)
            except (TypeError, ValueError):
                raise ConfigError(f"ref_point must be a list of numbers, got {ref_point!r:.200}.") from None
            if not ref_point or not all(math.isfinite(v) for v in ref_point):
                raise ConfigError(
                    f"ref_point must be finite numbers, one per direction, got {list(ref_point)}."
                )
        self._loop = loop
        self._seed = seed
        self._ref_point = ref_point
        self._independent_sampler = independent_sampler or RandomSampler(seed=seed)
        self._constraints_func = constraints_func
        self._intersection = IntersectionSearchSpace()

    @property
    def loop(self) -> Any:
        return self._loop

    def reseed_rng(self) -> None:
        # The loop's randomness derives from (seed, trial number): nothing to reseed there.
        self._independent_sampler.reseed_rng()

    def _check_directions(self, study: Study) -> None:
        n = len(study.directions)
        limit = self._loop.max_objectives
        if limit is not None and n > limit:
            raise ConfigError(
                f"the study has {n} objectives but the loop {self._loop!r} optimizes at most "
                f"{limit}; use a loop that serves {n} objectives: {', '.join(_loops_for(n))}."
            )

    # --- the search space -----------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {
            name: distribution
            for name, distribution in self._intersection.calculate(study).items()
            if not distribution.single()
        }

    def _space_key(self, space: Space) -> str:
        # the memo and the asked point are reused only by asks of the same loop over the same space
        identity = json.dumps([self._loop.name, self._loop.config(), space.to_dict()])
        return hashlib.sha256(identity.encode()).hexdigest()[:16]

    # --- relative sampling ----------------------------------------------------------------------
    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_directions(study)
        fixed = {n: _single_value(d) for n, d in search_space.items() if d.single()}
        mapped = {n: _Mapped(d, self._priors.get(n), n) for n, d in search_space.items() if not d.single()}
        if not mapped:
            return fixed
        space = Space({name: m.param for name, m in mapped.items()})
        space_key = self._space_key(space)
        state, memo_key = self._rebuild_state(study, trial, space, space_key, mapped)
        state, (asked,) = self._loop.ask(state)
        _write_chunks(study, trial, _MEMO_KEY, {"space": memo_key, "memo": state.memo})
        _write_chunks(study, trial, _PARAMS_KEY, {"space": space_key, "params": asked.params})
        return {**fixed, **{name: m.to_optuna(asked.params[name]) for name, m in mapped.items()}}

    def state(self, study: Study) -> State:
        """The asktell state this sampler rebuilds from ``study`` for its next ask.

        Over the relative search space of the finished trials (the asktell parameters of an
        Optuna step or categorical distribution are grid and choice indices), with the study's
        constraints: ``state(study).best()`` is the sampler's best *feasible* trial (its
        ``metadata["optuna_trial"]`` is the Optuna trial number), and the state plots with
        :mod:`asktell.plot` and saves with ``to_json()``. Values are minimized: a ``maximize``
        direction's values are negated. With several directions ``state(study).pareto_front()``
        is the front of ``study.best_trials`` (see the module's docstring), and
        ``state(study).hypervolume()`` is measured against the sampler's reference point.

        Raises:
            StateError: no finished trial defines a relative search space yet.
        """
        search_space = self.infer_relative_search_space(study, None)  # type: ignore[arg-type]
        if not search_space:
            raise StateError("no relative search space yet: no finished trial of this study has parameters.")
        mapped = {n: _Mapped(d, self._priors.get(n), n) for n, d in search_space.items()}
        space = Space({name: m.param for name, m in mapped.items()})
        state, _ = self._rebuild_state(study, None, space, self._space_key(space), mapped)
        return state

    def _rebuild_state(
        self,
        study: Study,
        current: FrozenTrial | None,
        space: Space,
        space_key: str,
        mapped: dict[str, _Mapped],
    ) -> tuple[State, str]:
        """The asktell state of the study's trials (all but ``current``, the trial being sampled),
        and the key its memo is stored under (the space's, and the constraints')."""
        signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
        everything = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        number = len(everything) if current is None else current.number
        others = [frozen for frozen in everything if frozen.number != number]
        rows = [(frozen, self._params_of(frozen, space_key, mapped)) for frozen in others]
        fitting = [(frozen, params) for frozen, params in rows if params is not None]
        # the problem: every constraint key a completed trial of this state reports
        names = _outcome_names(
            key
            for frozen, _ in fitting
            if frozen.state == TrialState.COMPLETE
            for key in _constraints_of(frozen)
        )
        memo_key = space_key
        if names:  # a memo of another problem (other constraints, other models) is not reused
            identity = json.dumps([space_key, list(names.values())])
            memo_key = hashlib.sha256(identity.encode()).hexdigest()[:16]
        ref_point = None
        if self._ref_point is not None:
            if len(signs) == 1:
                raise ConfigError(
                    "ref_point is the reference point of a study of several directions; this study "
                    "has one (its hypervolume is not defined): leave ref_point out."
                )
            if len(self._ref_point) != len(signs):
                raise ConfigError(
                    f"ref_point must have one number per direction of the study ({len(signs)}), "
                    f"got {len(self._ref_point)}: {list(self._ref_point)}."
                )
            ref_point = [s * v for s, v in zip(signs, self._ref_point, strict=True)]
        state = self._loop.init(
            space,
            seed=self._seed,
            n_objectives=len(study.directions),
            ref_point=ref_point,
            constraints=[Constraint(name, "<=", 0.0) for name in names.values()],
        )
        memo = state.memo
        for frozen in others:  # the latest stored memo of this loop, space and problem
            stored = _read_chunks(frozen, _MEMO_KEY)
            if stored and stored["space"] == memo_key:
                memo = stored["memo"]
        trials: list[Trial] = []
        completion: list[tuple[Any, int, int]] = []  # (when, number, id) of the completed trials
        for frozen, params in fitting:
            status, value, outcomes, note = self._outcome(frozen, signs, names)
            if status is None:
                continue
            if status == COMPLETED:
                completion.append((frozen.datetime_complete, frozen.number, len(trials)))
            trials.append(
                Trial(
                    id=len(trials),
                    params=params,  # type: ignore[arg-type]
                    status=status,
                    value=value,
                    metadata={"optuna_trial": frozen.number, **note},
                    constraints=outcomes,
                    feasible=state.problem.feasible(outcomes) if status == COMPLETED else None,
                )
            )
        state = replace(state, problem=self._with_reference(state, trials, completion))
        if "sobol_issued" in memo:
            # Workers sampling at the same time read the same memo; the trial number (unique per
            # trial) keeps their Sobol points apart. Sequentially it equals the stored count or
            # skips a few points of the sequence, which keeps it a low-discrepancy design.
            memo = {**memo, "sobol_issued": max(int(memo["sobol_issued"]), number)}
        return replace(state, counter=number, trials=tuple(trials), memo=memo), memo_key

    @staticmethod
    def _with_reference(state: State, trials: Sequence[Trial], completion: list[tuple[Any, int, int]]) -> Any:
        """The problem with the reference point a live state would hold: the given one, or the one
        inferred at the first tell (here: in order of completion) after which the completed trials
        give one (:func:`asktell.state.reference_point_for`: ``reference_trials(dim)`` completed,
        one of them feasible; from the feasible values)."""
        problem = state.problem
        k = reference_trials(state.space.dim)
        if problem.n_objectives == 1 or problem.ref_point is not None or len(completion) < k:
            return problem
        completion.sort(key=lambda row: (row[0] is None, row[0] or 0, row[1]))
        ordered = [trials[i] for _, _, i in completion]
        values = [t.value for t in ordered]
        feasible = [bool(t.feasible) for t in ordered]
        for size in range(k, len(ordered) + 1):
            point = reference_point_for(values[:size], feasible[:size], state.space.dim)
            if point is not None:
                return replace(problem, ref_point=tuple(point.tolist()), ref_point_inferred=True)
        return problem

    @staticmethod
    def _params_of(frozen: FrozenTrial, space_key: str, mapped: dict[str, _Mapped]) -> dict[str, Any] | None:
        """The trial's point in the asktell space, or None when it does not fit the space."""
        if frozen.state == TrialState.RUNNING:
            stored = _read_chunks(frozen, _PARAMS_KEY)
            if stored and stored["space"] == space_key:
                return stored["params"]
        if not set(mapped) <= set(frozen.params):
            return None
        try:
            return {name: m.to_asktell(frozen.params[name]) for name, m in mapped.items()}
        except (AskTellError, ValueError):  # off the grid, or not a number
            return None

    @staticmethod
    def _outcome(
        frozen: FrozenTrial, signs: Sequence[float], names: Mapping[str, str]
    ) -> tuple[str | None, Any, dict[str, float] | None, dict[str, str]]:
        """How the trial is told: (status or None to leave it out, value, outcomes, metadata)."""
        if frozen.state == TrialState.RUNNING:
            return PENDING, None, None, {}
        if frozen.state in (TrialState.FAIL, TrialState.PRUNED):
            return FAILED, None, None, {}
        if frozen.state != TrialState.COMPLETE or frozen.values is None:
            return None, None, None, {}  # WAITING trials have not started
        values = [s * v for s, v in zip(signs, frozen.values, strict=True)]
        if not all(math.isfinite(v) for v in values):
            return FAILED, None, None, {"error": "the objective value is not finite"}
        value = check_value(values[0] if len(values) == 1 else values, len(values))
        if not names:
            return COMPLETED, value, None, {}
        reported = _constraints_of(frozen)
        missing = [key for key in names if key not in reported]
        if missing:
            warnings.warn(
                f"trial {frozen.number} is complete but has no value for the constraints {missing} "
                "that other trials report; AskTellSampler leaves it out (the loop's models need every "
                "outcome of a point): set every constraint in every completed trial.",
                UserWarning,
                stacklevel=2,
            )
            return None, None, None, {}
        outcomes = {name: float(reported[key]) for key, name in names.items()}
        infinite = sorted(name for name, v in outcomes.items() if not math.isfinite(v))
        if infinite:
            return FAILED, None, None, {"error": f"the constraint values of {infinite} are not finite"}
        return COMPLETED, value, outcomes, {}

    # --- independent sampling -------------------------------------------------------------------
    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        self._check_directions(study)
        return self._independent_sampler.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._independent_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._constraints_func is not None:
            # Optuna's own step, as its constrained samplers take it: the values are stored under
            # the trial's "constraints" system attribute (NaN raises ValueError, nothing stored)
            _process_constraints_after_trial(self._constraints_func, study, trial, state)
        self._independent_sampler.after_trial(study, trial, state, values)


__all__ = ["AskTellSampler"]
