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
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.samplers import BaseSampler, RandomSampler
from optuna.search_space import IntersectionSearchSpace
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from asktell.errors import AskTellError, ConfigError, ParamError
from asktell.space import Categorical, Integer, Param, Real, Space
from asktell.state import COMPLETED, FAILED, PENDING, State, Trial, check_value

_MEMO_KEY = "asktell:memo"
_PARAMS_KEY = "asktell:params"
_ATTR_MAX_LENGTH = 2045  # RDB storage keeps system attributes below 2046 characters


class _Mapped:
    """One Optuna distribution as an asktell parameter, with the conversions both ways."""

    def __init__(self, distribution: BaseDistribution):
        self.distribution = distribution
        d = distribution
        self.step: float | int | None = None
        if isinstance(d, CategoricalDistribution):
            self.param: Param = Categorical(tuple(range(len(d.choices))))
        elif (
            isinstance(d, (FloatDistribution, IntDistribution))
            and d.step is not None
            and (isinstance(d, FloatDistribution) or d.step != 1)
        ):
            self.step = d.step
            self.param = Integer(0, int(round((d.high - d.low) / d.step)))
        elif isinstance(d, FloatDistribution):
            self.param = Real(d.low, d.high, log=d.log)
        elif isinstance(d, IntDistribution):
            self.param = Integer(d.low, d.high, log=d.log)
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


class AskTellSampler(BaseSampler):
    """An Optuna sampler that asks an asktell loop for each trial's parameters.

    Args:
        loop: any asktell loop (``None``: ``BayesOpt()``, the recommended loop) that can optimize
            as many objectives as the study has directions.
        seed: the asktell seed; all of the loop's randomness derives from it and the trial number.
        independent_sampler: samples parameters outside the relative search space
            (default: ``RandomSampler(seed=seed)``).
    """

    def __init__(
        self,
        loop: Any = None,
        seed: int = 0,
        *,
        independent_sampler: BaseSampler | None = None,
    ) -> None:
        if loop is None:
            from asktell.loops import default_loop

            loop = default_loop()
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
        self._loop = loop
        self._seed = seed
        self._independent_sampler = independent_sampler or RandomSampler(seed=seed)
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
                f"{limit}; use a loop for several objectives (RandomSearch, Sobol)."
            )

    # --- the search space -----------------------------------------------------------------------
    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        return {
            name: distribution
            for name, distribution in self._intersection.calculate(study).items()
            if not distribution.single()
        }

    # --- relative sampling ----------------------------------------------------------------------
    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        self._check_directions(study)
        fixed = {n: _single_value(d) for n, d in search_space.items() if d.single()}
        mapped = {n: _Mapped(d) for n, d in search_space.items() if not d.single()}
        if not mapped:
            return fixed
        space = Space({name: m.param for name, m in mapped.items()})
        # the memo and the asked point are reused only by asks of the same loop over the same space
        identity = json.dumps([self._loop.name, self._loop.config(), space.to_dict()])
        space_key = hashlib.sha256(identity.encode()).hexdigest()[:16]
        state = self._rebuild_state(study, trial, space, space_key, mapped)
        state, (asked,) = self._loop.ask(state)
        _write_chunks(study, trial, _MEMO_KEY, {"space": space_key, "memo": state.memo})
        _write_chunks(study, trial, _PARAMS_KEY, {"space": space_key, "params": asked.params})
        return {**fixed, **{name: m.to_optuna(asked.params[name]) for name, m in mapped.items()}}

    def _rebuild_state(
        self,
        study: Study,
        current: FrozenTrial,
        space: Space,
        space_key: str,
        mapped: dict[str, _Mapped],
    ) -> State:
        signs = [-1.0 if d == StudyDirection.MAXIMIZE else 1.0 for d in study.directions]
        state = self._loop.init(space, seed=self._seed, n_objectives=len(study.directions))
        memo, memo_from = state.memo, -1
        trials: list[Trial] = []
        for frozen in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
            if frozen.number == current.number:
                continue
            stored = _read_chunks(frozen, _MEMO_KEY)
            if stored and stored["space"] == space_key and frozen.number > memo_from:
                memo, memo_from = stored["memo"], frozen.number
            params = self._params_of(frozen, space_key, mapped)
            if params is None:
                continue
            status, value = self._outcome(frozen, signs)
            if status is None:
                continue
            trials.append(
                Trial(
                    id=len(trials),
                    params=params,
                    status=status,
                    value=value,
                    metadata={"optuna_trial": frozen.number},
                )
            )
        if "sobol_issued" in memo:
            # Workers sampling at the same time read the same memo; the trial number (unique per
            # trial) keeps their Sobol points apart. Sequentially it equals the stored count or
            # skips a few points of the sequence, which keeps it a low-discrepancy design.
            memo = {**memo, "sobol_issued": max(int(memo["sobol_issued"]), current.number)}
        return replace(state, counter=current.number, trials=tuple(trials), memo=memo)

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

    def _outcome(self, frozen: FrozenTrial, signs: Sequence[float]) -> tuple[str | None, Any]:
        if frozen.state == TrialState.RUNNING:
            return PENDING, None
        if frozen.state in (TrialState.FAIL, TrialState.PRUNED):
            return FAILED, None
        if frozen.state != TrialState.COMPLETE or frozen.values is None:
            return None, None  # WAITING trials have not started
        values = [s * v for s, v in zip(signs, frozen.values, strict=True)]
        if not all(math.isfinite(v) for v in values):
            return FAILED, None
        return COMPLETED, check_value(values[0] if len(values) == 1 else values, len(values))

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
        self._independent_sampler.after_trial(study, trial, state, values)


__all__ = ["AskTellSampler"]
