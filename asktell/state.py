"""Trials and the State of a run: immutable, JSON-serializable, versioned.

The JSON of a state is its whole truth: the loop's name and configuration, the space, the seed, the
ask counter (randomness is derived from seed and counter), every trial, and the loop's memo (warm
starts, iterates, optimizer moments) as plain JSON numbers. ``State.from_json(s.to_json()) == s`` for
every state, floats included (Python's JSON writes floats with ``repr``, which round-trips exactly).

Determinism: the same state and call give the same new state, except for timings: metadata keys
ending in ``_seconds`` (a loop's ``fit_seconds``, say) are wall-clock measurements.
:meth:`State.without_timings` gives the comparable rest.

Values are minimized. A completed trial's value is a finite float, or for a problem with several
objectives a list of finite floats; NaN and infinity are refused: report a failed evaluation with
``status="failed"`` instead.

The *problem definition* (:class:`Problem`: the number of objectives, and what later issues add to
it) lives in the state, not in a loop's configuration; a loop that cannot serve it refuses it at
``init``. Schema version 1 (before the problem had its own place) is read and migrated: a
``n_objectives`` option of its ``loop_config`` moves into the problem.

This module is the data layer: it imports no model, no torch and no loop. :func:`finish_trial` and
:func:`append_trial` are the pure transitions of a tell and an add; a loop's ``tell`` is one of them
followed by the loop's own hook.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from asktell import registry
from asktell.checks import MAX_METADATA_BYTES, check_json, check_positive, json_error
from asktell.constraints import (
    Constraint,
    check_outcomes,
    constraints_from_json,
    is_feasible,
    parse_constraints,
)
from asktell.errors import AskTellError, ConfigError, ShapeError, StateError, TrialError
from asktell.pareto import (
    hypervolume,
    hypervolume_history,
    infer_reference_point,
    non_dominated,
    reference_trials,
)
from asktell.space import Space

SCHEMA_VERSION = 2
MAX_OBJECTIVES = 1000  # more would not be a problem anyone can look at
READABLE_VERSIONS = (1, 2)  # older versions are migrated by _migrate
FORMAT = "asktell.state"
PENDING, COMPLETED, FAILED = "pending", "completed", "failed"
STATUSES = (PENDING, COMPLETED, FAILED)
Value = float | tuple[float, ...] | None


def check_value(value: Any, n_objectives: int, trial_id: int | None = None) -> float | tuple[float, ...]:
    """Validate an objective value: a finite float, or ``n_objectives`` finite floats.

    Raises:
        TrialError: naming the trial, the rule and the value.
    """
    where = "" if trial_id is None else f" for trial {trial_id}"
    if n_objectives == 1:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TrialError(f"value must be a finite float, got {value!r}{where}.")
        try:
            number = float(value)
        except OverflowError:  # an integer past a float's range (2**1024)
            raise TrialError(
                f"value must be a finite float, got an integer past a float's range{where}."
            ) from None
        if not math.isfinite(number):
            raise TrialError(
                f"value must be a finite float, got {number!r}{where}; "
                "report a failed evaluation with status='failed' instead."
            )
        return number
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TrialError(f"value must be a list of {n_objectives} finite floats, got {value!r}{where}.")
    if len(value) != n_objectives:
        raise TrialError(
            f"value must have {n_objectives} objectives, got {len(value)}: {list(value)!r}{where}."
        )
    return tuple(check_value(v, 1, trial_id) for v in value)  # type: ignore[misc]


def _json_metadata(
    metadata: Any, what: str, error: type[AskTellError] = TrialError, *, parsed: bool = False
) -> dict[str, Any]:
    """``metadata`` as plain JSON, or ``error``: a JSON object of finite numbers, nested at most
    ``MAX_JSON_DEPTH`` levels and at most ``MAX_METADATA_BYTES`` long (checked before it is stored:
    a trial that cannot be served back would wedge its study). A copy, unless it was ``parsed`` from
    JSON already."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise error(f"{what} must be a JSON object (a dict), got {metadata!r}.")
    check_json(dict(metadata), what, error=error)
    try:
        text = json.dumps(dict(metadata), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise error(f"{what} must be JSON-serializable with finite numbers: {exc}.") from None
    if len(text) > MAX_METADATA_BYTES:
        raise error(
            f"{what} is {len(text)} bytes of JSON; the limit is {MAX_METADATA_BYTES}: keep large "
            "results in files and store their paths."
        )
    return dict(metadata) if parsed else json.loads(text)


@dataclass(frozen=True)
class Problem:
    """What a run optimizes, beyond its space: stored in the state, given at ``loop.init``.

    Attributes:
        n_objectives: how many values a completed trial carries (1: a float; more: a list of
            floats), all minimized.
        constraints: the outcome constraints (:mod:`asktell.constraints`) every completed trial
            reports a value for; given as strings (``"mem <= 4"``), objects or Constraints.
        ref_point: for several objectives, the reference point of the run's hypervolumes
            (``n_objectives`` finite numbers, minimized like the values: a point counts where it
            is below it in every objective). Given at ``init``, or None until the first tell
            after which ``reference_trials(dim)`` trials have completed and one of them is
            feasible stores one inferred from the feasible values (:func:`reference_point_for`),
            so every hypervolume of a run is measured against the same point.
        ref_point_inferred: whether ``ref_point`` was inferred (not given).
    """

    n_objectives: int = 1
    constraints: tuple[Constraint, ...] = ()
    ref_point: tuple[float, ...] | None = None
    ref_point_inferred: bool = False

    def __post_init__(self) -> None:
        check_positive("n_objectives", self.n_objectives, integer=True)
        if self.n_objectives > MAX_OBJECTIVES:
            raise ConfigError(f"n_objectives must be at most {MAX_OBJECTIVES}, got {self.n_objectives}.")
        object.__setattr__(self, "constraints", parse_constraints(self.constraints))
        if not isinstance(self.ref_point_inferred, bool):
            raise ConfigError(f"ref_point_inferred must be a boolean, got {self.ref_point_inferred!r}.")
        if self.ref_point is None:
            if self.ref_point_inferred:
                raise ConfigError("ref_point_inferred is true, but there is no ref_point.")
            return
        if self.n_objectives == 1:
            raise ConfigError(
                "a reference point is for several objectives (hypervolumes); this problem has one."
            )
        point = self.ref_point
        if isinstance(point, (str, bytes, Mapping)) or not isinstance(point, (Sequence, np.ndarray)):
            raise ConfigError(f"ref_point must be a list of {self.n_objectives} numbers, got {point!r:.200}.")
        numbers = []
        for x in point:
            if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
                raise ConfigError(f"ref_point must hold numbers, got {x!r:.100} in {list(point)!r:.200}.")
            try:
                number = float(x)
            except OverflowError:  # an integer past a float's range
                number = math.inf
            if not math.isfinite(number):
                raise ConfigError(
                    f"ref_point must hold finite numbers, got {x!r:.100} in {list(point)!r:.200}."
                )
            numbers.append(number)
        if len(numbers) != self.n_objectives:
            raise ConfigError(
                f"ref_point must have {self.n_objectives} numbers (one per objective), got {len(numbers)}."
            )
        object.__setattr__(self, "ref_point", tuple(numbers))

    @property
    def constrained(self) -> bool:
        return bool(self.constraints)

    @property
    def outcome_names(self) -> list[str]:
        """The constrained outcomes' names, in declaration order."""
        return [c.name for c in self.constraints]

    def feasible(self, outcomes: Mapping[str, float] | None) -> bool:
        """Whether a completed trial's outcomes keep every bound (True without constraints)."""
        return not self.constraints or (outcomes is not None and is_feasible(outcomes, self.constraints))

    def to_dict(self) -> dict[str, Any]:
        # an unconstrained problem's JSON is what it was before constraints existed
        data: dict[str, Any] = {"n_objectives": self.n_objectives}
        if self.constraints:
            data["constraints"] = [c.to_dict() for c in self.constraints]
        if self.ref_point is not None:
            data["ref_point"] = list(self.ref_point)
        if self.ref_point_inferred:
            data["ref_point_inferred"] = True
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Problem:
        """Read a problem definition; keys it lacks take their defaults, unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise StateError(f"the problem definition must be a JSON object, got {data!r}.")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise StateError(
                f"the problem definition has unknown keys {sorted(unknown)}; known: {sorted(known)}."
            )
        fields = dict(data)
        if "constraints" in fields:
            fields["constraints"] = constraints_from_json(fields["constraints"])
        try:
            return cls(**fields)
        except ConfigError as exc:
            raise StateError(f"the problem definition is invalid: {exc}") from None


@dataclass(frozen=True)
class Trial:
    """One point of a run: asked (``pending``), then ``completed`` with a value or ``failed``.

    ``params`` are the decoded values as the user sees them; ``metadata`` is a JSON object (the loop
    records fit and acquisition times there, the user may add their own at tell).

    In a constrained problem a completed trial also carries ``constraints``, the raw value of each
    declared outcome (None otherwise), and ``feasible`` says whether they keep their bounds. The
    state sets ``feasible`` when the trial is told or read (it is not stored: the problem's bounds
    decide it); it is True for a completed trial of an unconstrained problem, None until completed.
    """

    id: int
    params: dict[str, Any]
    status: str = PENDING
    value: Value = None
    metadata: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, float] | None = None
    feasible: bool | None = None

    def __post_init__(self) -> None:
        # a completed trial without outcome values keeps every (no) constraint: one built by hand
        # (a client reading a served trial, an integration) is feasible unless told otherwise
        if self.feasible is None and self.status == COMPLETED and self.constraints is None:
            object.__setattr__(self, "feasible", True)

    @property
    def done(self) -> bool:
        return self.status != PENDING

    def to_dict(self) -> dict[str, Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        data = {
            "id": self.id,
            "params": dict(self.params),
            "status": self.status,
            "value": value,
            "metadata": self.metadata,
        }
        if self.constraints is not None:  # only completed trials of a constrained problem
            data["constraints"] = dict(self.constraints)
        return data

    @classmethod
    def from_dict(cls, data: Any, space: Space, problem: Problem | int) -> Trial:
        """Read a stored trial of a run with this ``problem`` (or just its number of objectives)."""
        if not isinstance(problem, Problem):
            problem = Problem(n_objectives=problem)
        n_objectives = problem.n_objectives
        if not isinstance(data, Mapping):
            raise StateError(f"a trial must be a JSON object, got {data!r}.")
        expected = {"id", "params", "status", "value", "metadata"}
        if problem.constrained and data.get("status") == COMPLETED:
            expected.add("constraints")
        if set(data) != expected:
            raise StateError(f"a trial must have exactly the keys {sorted(expected)}, got {sorted(data)}.")
        tid = data["id"]
        if isinstance(tid, bool) or not isinstance(tid, int) or tid < 0:
            raise StateError(f"trial ids must be non-negative integers, got {tid!r}.")
        status = data["status"]
        if status not in STATUSES:
            raise StateError(f"trial {tid}: status must be one of {list(STATUSES)}, got {status!r}.")
        try:
            params = space.check(data["params"])
            if status == COMPLETED:
                value: Value = check_value(data["value"], n_objectives, tid)
            elif data["value"] is not None:
                raise StateError(f"trial {tid} is {status} and must have value null, got {data['value']!r}.")
            else:
                value = None
            metadata = _json_metadata(data["metadata"], f"trial {tid} metadata", StateError, parsed=True)
            outcomes = (
                check_outcomes(data["constraints"], problem.constraints, tid)
                if "constraints" in expected
                else None
            )
        except AskTellError as exc:
            raise StateError(f"trial {tid} is invalid: {exc}") from None
        feasible = problem.feasible(outcomes) if status == COMPLETED else None
        return cls(
            id=tid,
            params=params,
            status=status,
            value=value,
            metadata=metadata,
            constraints=outcomes,
            feasible=feasible,
        )


@dataclass(frozen=True)
class State:
    """The whole state of an ask/tell run. Immutable: loops return new states.

    Attributes:
        schema_version: version of this JSON layout (``SCHEMA_VERSION``).
        loop_name: registry name of the loop that owns the state.
        loop_config: the loop's configuration as a JSON object.
        space: the search space.
        seed: the run's seed; all randomness derives from (seed, counter).
        counter: number of asks made so far.
        trials: every trial, in id order (``trials[i].id == i``).
        memo: the loop's own memory as plain JSON (warm starts, iterates, ...).
        problem: the problem definition (:class:`Problem`).
    """

    schema_version: int
    loop_name: str
    loop_config: dict[str, Any]
    space: Space
    seed: int
    counter: int = 0
    trials: tuple[Trial, ...] = ()
    memo: dict[str, Any] = field(default_factory=dict)
    problem: Problem = Problem()

    @property
    def n_objectives(self) -> int:
        """Number of objectives of the problem (1: values are floats)."""
        return self.problem.n_objectives

    # --- queries ----------------------------------------------------------------------------
    def trial(self, trial_id: Any) -> Trial:
        """The trial with this id. Raises TrialError for an unknown id."""
        if isinstance(trial_id, bool) or not isinstance(trial_id, (int, np.integer)):
            raise TrialError(f"trial id must be an integer, got {trial_id!r}.")
        if not 0 <= int(trial_id) < len(self.trials):
            raise TrialError(
                f"unknown trial id {trial_id!r}; this run has trials 0..{len(self.trials) - 1}."
                if self.trials
                else f"unknown trial id {trial_id!r}; this run has no trials yet."
            )
        return self.trials[int(trial_id)]

    def with_status(self, *statuses: str) -> list[Trial]:
        return [t for t in self.trials if t.status in statuses]

    @property
    def pending(self) -> list[Trial]:
        return self.with_status(PENDING)

    @property
    def completed(self) -> list[Trial]:
        return self.with_status(COMPLETED)

    @property
    def constraints(self) -> tuple[Constraint, ...]:
        """The problem's outcome constraints (empty: unconstrained)."""
        return self.problem.constraints

    @property
    def feasible(self) -> list[Trial]:
        """The completed trials that keep every constraint (all completed ones, unconstrained)."""
        return [t for t in self.completed if t.feasible]

    def best(self) -> Trial | None:
        """The *feasible* completed trial with the lowest value, or None: in a constrained problem,
        None until a trial keeps every bound.

        Raises StateError for several objectives, which have no single best trial: use
        :meth:`pareto_front`.
        """
        if self.n_objectives > 1:
            raise StateError(
                f"this problem has {self.n_objectives} objectives: no single trial is best; "
                "use state.pareto_front() (the non-dominated trials) or state.hypervolume()."
            )
        done = [t for t in self.feasible if isinstance(t.value, float)]
        return min(done, key=lambda t: (t.value, t.id)) if done else None

    @property
    def ref_point(self) -> tuple[float, ...] | None:
        """The problem's reference point for hypervolumes (given or inferred), or None yet."""
        return self.problem.ref_point

    def pareto_front(self) -> list[Trial]:
        """The completed, feasible trials no other such trial dominates, in id order (of trials
        with equal values only the first). One objective: the best trial, as a list."""
        done = self.feasible
        if not done:
            return []
        mask = non_dominated(_values(done, self.n_objectives))
        return [t for t, keep in zip(done, mask, strict=True) if keep]

    def hypervolume(self, ref_point: Sequence[float] | None = None) -> float:
        """The hypervolume the feasible completed trials dominate, bounded by ``ref_point`` (default:
        the problem's, given at ``init`` or inferred; :mod:`asktell.pareto`).

        Raises StateError while there is no reference point, ShapeError for one of the wrong size.
        """
        ref = self._reference(ref_point)
        return hypervolume(_values(self.feasible, self.n_objectives), ref)

    def hypervolume_history(self, ref_point: Sequence[float] | None = None) -> list[float]:
        """For each trial (in id order), the hypervolume of the feasible completed trials up to
        and including it: the run's progress against one reference point (``ref_point`` or the
        problem's). Raises as :meth:`hypervolume`."""
        ref = self._reference(ref_point)
        counted = self.feasible
        volumes = hypervolume_history(_values(counted, self.n_objectives), ref)
        after = dict(zip((t.id for t in counted), volumes.tolist(), strict=True))
        history, volume = [], 0.0
        for trial in self.trials:
            volume = after.get(trial.id, volume)
            history.append(volume)
        return history

    def _reference(self, ref_point: Sequence[float] | None) -> np.ndarray:
        if ref_point is None:
            if self.ref_point is None:
                raise StateError(
                    f"no reference point yet: give ref_point at init; otherwise it is "
                    f"{reference_point_wait(self)} ({len(self.completed)} so far)."
                )
            ref_point = self.ref_point
        ref = np.asarray(ref_point, dtype=np.float64).reshape(-1)
        if ref.size != self.n_objectives:
            raise ShapeError(f"ref_point must have {self.n_objectives} numbers, got {ref.size}.")
        return ref

    # --- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "schema_version": self.schema_version,
            "loop_name": self.loop_name,
            "loop_config": self.loop_config,
            "space": self.space.to_dict(),
            "seed": self.seed,
            "counter": self.counter,
            "trials": [t.to_dict() for t in self.trials],
            "memo": self.memo,
            "problem": self.problem.to_dict(),
        }

    def without_timings(self) -> dict[str, Any]:
        """``to_dict()`` without the timing metadata (keys ending in ``_seconds``)."""
        data = self.to_dict()
        for trial in data["trials"]:
            trial["metadata"] = {k: v for k, v in trial["metadata"].items() if not k.endswith("_seconds")}
        return data

    def to_json(self, indent: int | None = None) -> str:
        """The state as strict JSON (no NaN): a str."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> State:
        """Read a state; refuses malformed JSON, another schema version or an unknown loop."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise StateError(f"State.from_json takes the JSON text (a str), got {type(text).__name__}.")

        def refuse_constant(name: str) -> Any:
            raise StateError(f"not a valid asktell state: it contains {name}, which JSON forbids.")

        try:
            data = json.loads(text, parse_constant=refuse_constant)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer of 4300+ digits
            raise StateError(
                f"not an asktell state: the text is not valid JSON ({json_error(exc)})."
            ) from None
        except RecursionError:
            raise StateError("not an asktell state: the JSON is nested too deeply to read.") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> State:
        """Read a state from its JSON object (any readable schema version; older ones migrated)."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise StateError(f'not an asktell state: expected a JSON object with "format": "{FORMAT}".')
        version = data.get("schema_version")
        if type(version) is not int or version not in READABLE_VERSIONS:  # not True, not 2.0
            raise StateError(
                f"state schema version {version!r} cannot be read by this asktell, which reads "
                f"versions {list(READABLE_VERSIONS)}; use the asktell version that wrote it."
            )
        data = _migrate(data)
        expected = set(cls.__dataclass_fields__) | {"format"}
        if set(data) != expected:
            raise StateError(
                f"a state must have exactly the keys {sorted(expected)}; "
                f"missing {sorted(expected - set(data))}, unexpected {sorted(set(data) - expected)}."
            )
        loop_name = data["loop_name"]
        if not isinstance(loop_name, str) or not registry.is_known(loop_name):
            raise StateError(
                f"the state names a loop this asktell does not know: {loop_name!r}; "
                f"known loops are {registry.registered_loops()}."
            )
        for key in ("seed", "counter"):
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise StateError(f"{key} must be a non-negative integer below 2**63, got {value!r}.")
        if not isinstance(data["loop_config"], Mapping) or not isinstance(data["memo"], Mapping):
            raise StateError("loop_config and memo must be JSON objects.")
        for key in ("loop_config", "memo"):
            check_json(dict(data[key]), f"the state's {key}", error=StateError)
        if not isinstance(data["trials"], list):
            raise StateError(f"trials must be a list, got {type(data['trials']).__name__}.")
        try:
            space = Space.from_dict(data["space"])
        except AskTellError as exc:
            raise StateError(f"the state's space is invalid: {exc}") from None
        problem = Problem.from_dict(data["problem"])
        trials = tuple(Trial.from_dict(t, space, problem) for t in data["trials"])
        for index, trial in enumerate(trials):
            if trial.id != index:
                raise StateError(
                    f"trial ids must be 0, 1, 2, ... in order; position {index} has id {trial.id}."
                )
        return cls(
            schema_version=SCHEMA_VERSION,
            loop_name=loop_name,
            loop_config=dict(data["loop_config"]),
            space=space,
            seed=data["seed"],
            counter=data["counter"],
            trials=trials,
            memo=dict(data["memo"]),
            problem=problem,
        )

    # --- pure updates -----------------------------------------------------------------------
    def replace_trial(self, trial: Trial) -> State:
        """A new state with ``trials[trial.id]`` replaced."""
        trials = list(self.trials)
        trials[trial.id] = trial
        return replace(self, trials=tuple(trials))


def _values(trials: Sequence[Trial], n_objectives: int) -> np.ndarray:
    """The completed ``trials``' values as an ``n x n_objectives`` array."""
    return np.asarray([t.value for t in trials], dtype=np.float64).reshape(len(trials), n_objectives)


def reference_point_for(values: Any, feasible: Sequence[bool], dim: int) -> np.ndarray | None:
    """The reference point a run of ``dim`` parameters infers from its completed trials (``values``
    ``n x m``, ``feasible`` ``n`` booleans), or None while it infers none: fewer than
    ``reference_trials(dim)`` completed, or none feasible. It is inferred from the *feasible*
    values (:func:`asktell.pareto.infer_reference_point`), which the front and the hypervolume
    count: infeasible values better than every feasible one would put the point inside the
    feasible region, where nothing feasible dominates anything."""
    mask = np.asarray(feasible, dtype=bool)
    if mask.size < reference_trials(dim) or not mask.any():
        return None
    return infer_reference_point(np.asarray(values, dtype=np.float64)[mask])


def reference_point_wait(state: State) -> str:
    """When a multi-objective state without a reference point infers one, in words:
    ``"inferred after 5 completed trials"`` (``", one of them feasible"`` when constrained)."""
    text = f"inferred after {reference_trials(state.space.dim)} completed trials"
    return text + (", one of them feasible" if state.problem.constrained else "")


def with_reference_point(state: State) -> State:
    """``state`` with its inferred reference point (:func:`reference_point_for`), when a
    multi-objective problem has none yet and the completed trials now give one (else ``state``
    itself): called at every tell, so the point is set once, at the first tell that allows it."""
    problem = state.problem
    if problem.n_objectives == 1 or problem.ref_point is not None:
        return state
    done = state.completed
    point = reference_point_for(
        _values(done, problem.n_objectives), [bool(t.feasible) for t in done], state.space.dim
    )
    if point is None:
        return state
    return replace(state, problem=replace(problem, ref_point=tuple(point.tolist()), ref_point_inferred=True))


def _migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """A state's JSON object in the current layout. Version 1 had no problem definition: the
    number of objectives was an option of the loops that took several (RandomSearch, Sobol)."""
    out = dict(data)
    if out["schema_version"] == 1:
        if "problem" in out:
            raise StateError("a version 1 state has no problem definition, but this one has a 'problem' key.")
        config = out.get("loop_config")
        problem: dict[str, Any] = {}
        if isinstance(config, Mapping) and "n_objectives" in config:
            config = dict(config)
            problem["n_objectives"] = config.pop("n_objectives")
            out["loop_config"] = config
        out["problem"] = problem
        out["schema_version"] = SCHEMA_VERSION
    return out


def finish_trial(
    state: State,
    trial_id: Any,
    value: Any,
    *,
    status: str = COMPLETED,
    metadata: Mapping[str, Any] | None = None,
    constraints: Mapping[str, Any] | None = None,
) -> State:
    """Validate a tell and return the state with that trial finished. The input is unchanged.

    The value is checked against the state's problem (one float, or ``n_objectives`` floats), and
    so are ``constraints``: a completed trial of a constrained problem gives a finite value for
    every declared outcome (no other); a failed trial gives none.

    Raises:
        TrialError: unknown id, a trial already finished, a bad status, a bad value, bad constraint
            values or metadata.
    """
    trial = state.trial(trial_id)
    if status not in (COMPLETED, FAILED):
        raise TrialError(f"status must be 'completed' or 'failed', got {status!r} for trial {trial.id}.")
    if trial.done:
        raise TrialError(
            f"trial {trial.id} is already {trial.status}; a finished trial cannot be told again."
        )
    outcomes: dict[str, float] | None = None
    if status == COMPLETED:
        checked: Value = check_value(value, state.n_objectives, trial.id)
        outcomes = check_outcomes(constraints, state.constraints, trial.id) or None  # {}: none declared
    elif value is not None:
        raise TrialError(f"a failed trial takes no value, got {value!r} for trial {trial.id}.")
    elif constraints:
        raise TrialError(
            f"a failed trial takes no constraint values, got {constraints!r:.200} for trial {trial.id}."
        )
    else:
        checked = None
    extra = _json_metadata(metadata, f"metadata for trial {trial.id}")
    finished = replace(
        trial,
        status=status,
        value=checked,
        metadata={**trial.metadata, **extra},
        constraints=outcomes,
        feasible=state.problem.feasible(outcomes) if status == COMPLETED else None,
    )
    return with_reference_point(state.replace_trial(finished))


def append_trial(
    state: State,
    params: Mapping[str, Any],
    value: Any,
    *,
    status: str = COMPLETED,
    metadata: Mapping[str, Any] | None = None,
    constraints: Mapping[str, Any] | None = None,
) -> State:
    """Record an evaluation the loop did not ask for: a new finished trial with the next id and
    ``metadata["added"] = True``. The input is unchanged.

    Raises:
        ParamError: the point is not in the space.
        TrialError: a bad value, status or metadata (as :func:`finish_trial`).
    """
    trial = Trial(id=len(state.trials), params=state.space.check(params))
    done = finish_trial(
        replace(state, trials=state.trials + (trial,)),
        trial.id,
        value,
        status=status,
        metadata=metadata,
        constraints=constraints,
    )
    # the marker records where the trial came from: user metadata cannot unset it
    told = {k: v for k, v in done.trials[-1].metadata.items() if k != "added"}
    return done.replace_trial(replace(done.trials[-1], metadata={"added": True, **told}))
