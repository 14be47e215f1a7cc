"""The loop protocol: ``init``, ``ask`` and ``tell`` as pure functions of a state.

A loop is a frozen dataclass of configuration; everything that changes lives in the
:class:`~asktell.state.State` it is given and returns. Subclasses implement :meth:`Loop._propose`
(and, when they keep memory, :meth:`Loop._init_memo` and :meth:`Loop._after_tell`); the base class
does all validation, so every loop refuses bad input the same way and leaves the state untouched.

Example:
    >>> from asktell import Space, Real
    >>> from asktell.loops import Sobol
    >>> loop = Sobol()
    >>> state = loop.init(Space({"x": Real(-1.0, 1.0)}), seed=0)
    >>> state, (trial,) = loop.ask(state)
    >>> state = loop.tell(state, trial.id, trial.params["x"] ** 2)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

from asktell.checks import MAX_ASK, MAX_SOBOL_POINTS, check_positive, check_typed
from asktell.constraints import Constraint
from asktell.errors import ConfigError, ParamError, StateError
from asktell.space import Categorical, Space
from asktell.state import (
    COMPLETED,
    SCHEMA_VERSION,
    Problem,
    State,
    Trial,
    append_trial,
    finish_trial,
)

L = TypeVar("L", bound="Loop")

# A model's stored hyperparameters: a name to a number or a (nested) list of numbers, as tolist()
# writes them (a lengthscale is 1 x d, a noise 1, a constant a scalar). A memo is typed with this
# so that a stored state whose hyperparameters are not numbers is refused at load, not at an ask.
Hyperparameters = dict[str, float | list[float | list[float | list[float]]]]


def check_hyperparameters(values: Hyperparameters | None) -> None:
    """StateError unless each stored hyperparameter (already typed :data:`Hyperparameters`) is a
    rectangular array: a ragged one fails in ``torch.as_tensor`` at the next fit."""
    bad = sorted(name for name, v in (values or {}).items() if not _is_array(v))
    if bad:
        raise StateError(f"the memo's gp holds ragged arrays: {bad}.")


def _is_array(value: Any) -> bool:
    """A number, or a (nested) list of numbers with a rectangular shape."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if not isinstance(value, list) or not value:
        return isinstance(value, list)
    if all(isinstance(v, list) for v in value):
        return len({len(v) for v in value}) == 1 and all(_is_array(v) for v in value)
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)


@runtime_checkable
class LoopProtocol(Protocol):
    """What every loop offers (structural type, for users who write their own)."""

    name: ClassVar[str]

    def init(
        self, space: Space, *, seed: int = 0, n_objectives: int = 1, ref_point: Sequence[float] | None = None
    ) -> State: ...

    def ask(self, state: State, n: int = 1) -> tuple[State, list[Trial]]: ...

    def tell(
        self,
        state: State,
        trial_id: int,
        value: Any,
        *,
        status: str = COMPLETED,
        metadata: Mapping[str, Any] | None = None,
    ) -> State: ...


@dataclass(frozen=True)
class Proposal:
    """What a loop's ``_propose`` returns: ``n`` points, the new memo, per-point metadata."""

    params: list[dict[str, Any]]
    memo: dict[str, Any]
    metadata: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Loop:
    """Base class of asktell's loops. Subclasses are frozen dataclasses with a registry ``name``."""

    name: ClassVar[str] = ""
    # How many objectives the loop can optimize (None: any number); ``init`` refuses more.
    max_objectives: ClassVar[int | None] = 1
    # Whether the loop serves outcome constraints (``init(..., constraints=[...])``); one that does
    # not refuses them at ``init``, since its asks would ignore them.
    supports_constraints: ClassVar[bool] = False
    # Options renamed since a state could store them: old name -> new name. Stored states with
    # the old names still load (``from_config`` maps them); new code uses the new names.
    renamed_options: ClassVar[dict[str, str]] = {}
    # The memo's type (a TypedDict, as optax types its states): a state read from outside is
    # checked against it (``check_state``), so it either works or is refused before any ask.
    memo_schema: ClassVar[Any] = dict[str, Any]

    # --- configuration ----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The configuration as a JSON object (stored in the state)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls: type[L], config: Mapping[str, Any]) -> L:
        """Rebuild a loop from :meth:`config` (or a stored one with renamed options).

        Raises ConfigError for unknown or bad fields.
        """
        if not isinstance(config, Mapping):
            raise ConfigError(f"a loop configuration must be a JSON object, got {config!r}.")
        if "n_objectives" in config:
            raise ConfigError(
                "n_objectives is part of the problem, not of a loop's options: pass it to "
                "loop.init(space, n_objectives=...) (asktell init --objectives N)."
            )
        config = _renamed(config, cls.renamed_options)
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(config) - known
        if unknown:
            raise ConfigError(
                f"{cls.__name__} has no options {sorted(unknown)}; its options are {sorted(known)}."
            )
        try:
            return cls(**config)
        except TypeError as exc:
            raise ConfigError(f"bad configuration for {cls.__name__}: {exc}") from None

    def __post_init__(self) -> None:
        self._validate_config()

    def _validate_config(self) -> None:
        """Raise ConfigError for invalid options. Subclasses extend this."""

    # --- the protocol -----------------------------------------------------------------------
    def init(
        self,
        space: Space | Mapping[str, Any],
        *,
        seed: int = 0,
        n_objectives: int = 1,
        ref_point: Sequence[float] | None = None,
        constraints: Sequence[str | Constraint | Mapping[str, Any]] | None = None,
    ) -> State:
        """A fresh state for ``space`` whose randomness derives from ``seed`` (a non-negative int).

        ``n_objectives`` is the problem's number of objectives (values are then lists of that many
        floats, all minimized); ``ref_point`` the reference point of its hypervolumes (``None``:
        inferred from the first completed trials, see :class:`~asktell.state.Problem`);
        ``constraints`` its outcome constraints (``["mem <= 4", "recall >= 0.9"]``, see
        :mod:`asktell.constraints`): every completed tell then gives each outcome's value. A loop
        that cannot serve the problem refuses it here with a ConfigError.
        """
        space = space if isinstance(space, Space) else Space.from_dict(space)
        check_seed(seed)
        problem = Problem(
            n_objectives=n_objectives,
            constraints=constraints or (),  # type: ignore[arg-type]
            ref_point=ref_point,  # type: ignore[arg-type]
        )
        self._check_problem(problem)
        self._check_space(space)
        return State(
            schema_version=SCHEMA_VERSION,
            loop_name=self.name,
            loop_config=self.config(),
            space=space,
            seed=seed,
            memo=self._init_memo(space, seed),
            problem=problem,
        )

    def ask(self, state: State, n: int = 1) -> tuple[State, list[Trial]]:
        """Ask for ``n`` new points. Returns the new state and the ``n`` pending trials."""
        self._check_state(state)
        if isinstance(n, int) and not isinstance(n, bool) and n > MAX_ASK:
            raise ParamError(
                f"n must be at most {MAX_ASK} points per ask, got "
                f"{n if n < 2**63 else f'about 2**{n.bit_length() - 1}'}; "
                f"ask in batches of up to {MAX_ASK}."
            )
        check_positive("n", n, integer=True)
        proposal = self._propose(state, n)
        if len(proposal.params) != n:  # a loop bug, not a user error
            raise RuntimeError(f"{type(self).__name__} proposed {len(proposal.params)} points, not {n}.")
        metadata = proposal.metadata or [{} for _ in range(n)]
        first = len(state.trials)
        new = [
            Trial(id=first + k, params=state.space.check(p), metadata=dict(meta))
            for k, (p, meta) in enumerate(zip(proposal.params, metadata, strict=False))
        ]
        new_state = replace(
            state, counter=state.counter + 1, trials=state.trials + tuple(new), memo=proposal.memo
        )
        return new_state, new

    def tell(
        self,
        state: State,
        trial_id: int,
        value: Any,
        *,
        status: str = COMPLETED,
        metadata: Mapping[str, Any] | None = None,
        constraints: Mapping[str, float] | None = None,
    ) -> State:
        """Report a pending trial's value (or ``status="failed"`` with ``value=None``), and in a
        constrained problem the value of each declared outcome (``constraints={"mem": 3.2}``).

        Raises TrialError for an unknown id, a finished trial, a non-finite value or a value of the
        wrong shape, a missing, unknown or non-finite constraint value; the state passed in is never
        changed.
        """
        self._check_state(state)
        new_state = finish_trial(
            state, trial_id, value, status=status, metadata=metadata, constraints=constraints
        )
        return self._after_tell(new_state, new_state.trials[int(trial_id)])

    def add(
        self,
        state: State,
        params: Mapping[str, Any],
        value: Any,
        *,
        status: str = COMPLETED,
        metadata: Mapping[str, Any] | None = None,
        constraints: Mapping[str, float] | None = None,
    ) -> State:
        """Record an evaluation the loop did not ask for (Optuna's ``study.add_trial``).

        Use it to warm-start a run with points evaluated earlier or by hand. The trial gets the
        next id and ``metadata["added"] = True``. Loops that model the trajectory (BayesOpt, ZoRD,
        the federated clients' surrogates) use it like any completed trial; loops whose next
        points follow a schedule of their own (ZO-SGD's probes, a federated client's units) do not
        change that schedule for it.

        Raises ParamError for parameters outside the space and TrialError for a bad value or
        status, exactly as :meth:`tell`; the state passed in is never changed.
        """
        self._check_state(state)
        new_state = append_trial(
            state, params, value, status=status, metadata=metadata, constraints=constraints
        )
        return self._after_tell(new_state, new_state.trials[-1])

    def check_state(self, state: State) -> None:
        """Everything ``ask`` and ``tell`` rely on, for a state read from outside (a file, an HTTP
        import): this loop's state, its problem, its memo of the right type and consistent with
        the trials. ``asktell.load`` and the service's state import run it.

        Raises StateError naming what is wrong.
        """
        self._check_state(state)
        try:
            self._check_space(state.space)
        except ParamError as exc:
            raise StateError(f"this state's space cannot be served: {exc}") from None
        check_typed(state.memo, self.memo_schema, "the state's memo", error=StateError)
        self._check_memo(state)

    # --- hooks for subclasses ---------------------------------------------------------------
    def _check_memo(self, state: State) -> None:
        """Raise StateError when the memo (of the right type) contradicts the state: an iterate of
        the wrong dimension, an id of no trial, a count behind the trials it counts."""

    def _check_problem(self, problem: Problem) -> None:
        """Raise ConfigError when this loop cannot serve ``problem`` (by default: too many
        objectives for ``max_objectives``)."""
        limit = self.max_objectives
        if limit is not None and problem.n_objectives > limit:
            raise ConfigError(
                f"{type(self).__name__} optimizes {'one objective' if limit == 1 else f'up to {limit}'}"
                f", not {problem.n_objectives}; use BayesOpt (qLogNEHVI, ParEGO), Sobol or "
                "RandomSearch for several objectives."
            )
        if problem.constraints and not self.supports_constraints:
            listed = ", ".join(map(str, problem.constraints))
            raise ConfigError(
                f"{type(self).__name__} cannot use outcome constraints ({listed}): its asks would "
                "ignore them; use BayesOpt, Sobol or RandomSearch."
            )

    def _check_space(self, space: Space) -> None:
        """Raise ParamError when this loop cannot optimize ``space``."""

    def _init_memo(self, space: Space, seed: int) -> dict[str, Any]:
        return {}

    def _propose(self, state: State, n: int) -> Proposal:
        raise NotImplementedError

    def _after_tell(self, state: State, trial: Trial) -> State:
        return state

    # --- helpers ----------------------------------------------------------------------------
    def _same_config(self, stored: Mapping[str, Any]) -> bool:
        """Whether a state's stored configuration is this loop's. Options the stored one lacks
        take their defaults: a state written before an option existed still resumes."""
        return stored == self.config() or _config_with_defaults(type(self), stored) == self.config()

    def _check_state(self, state: State) -> None:
        if not isinstance(state, State):
            raise StateError(f"expected an asktell State, got {type(state).__name__}.")
        if state.loop_name != self.name or not self._same_config(state.loop_config):
            raise StateError(
                f"this state belongs to loop {state.loop_name!r} with config {state.loop_config}, "
                f"not to {self!r}; resume it with asktell.load(state.to_json())."
            )
        try:
            self._check_problem(state.problem)
        except ConfigError as exc:
            raise StateError(f"this state's problem cannot be served: {exc}") from None


def _config_with_defaults(loop_type: type[Loop], stored: Mapping[str, Any]) -> dict[str, Any] | None:
    """``stored`` with the options it lacks at their defaults; None if it is not a valid config."""
    try:
        return loop_type.from_config(stored).config()
    except ConfigError:
        return None


def _renamed(config: Mapping[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    """``config`` with old option names replaced by the new ones (refused when both are given)."""
    out = dict(config)
    for old, new in renamed.items():
        if old in out:
            if new in out:
                raise ConfigError(f"give {new!r} only; {old!r} is its old name.")
            out[new] = out.pop(old)
    return out


def check_seed(seed: Any) -> None:
    """Raise ConfigError unless ``seed`` is a non-negative integer below 2**63 (a database's and
    JSON readers' integer range)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ConfigError(f"seed must be a non-negative integer below 2**63, got {seed!r}.")


def check_sobol_count(state: State, issued: int, *, every_asked: bool = False) -> None:
    """Refuse a memo that counts fewer Sobol points than the trials drew from the sequence (it
    would hand the same points out again): the trials marked ``model: sobol`` or, with
    ``every_asked`` (the Sobol loop), every trial that was asked rather than added."""
    if every_asked:
        drawn = sum(1 for t in state.trials if not t.metadata.get("added"))
    else:
        drawn = sum(1 for t in state.trials if t.metadata.get("model") == "sobol")
    if issued < drawn:
        raise StateError(
            f"the memo's sobol_issued is {issued}, but {drawn} trials came from the Sobol sequence: "
            "the next asks would repeat their points; the state was edited or mixed up."
        )
    # each ask hands out at most MAX_ASK points; the engine skips to a point in time linear in it
    limit = min(MAX_SOBOL_POINTS, state.counter * MAX_ASK)
    if issued > limit:
        raise StateError(
            f"the memo's sobol_issued is {issued}, more than {state.counter} asks can have handed "
            f"out (at most {limit}); the state was edited or mixed up."
        )


def check_vector(values: list, dim: int, what: str) -> None:
    """Refuse a memo vector of the wrong length, or (for an iterate) outside the unit cube."""
    if len(values) != dim:
        raise StateError(f"{what} has {len(values)} coordinates; the space has {dim}.")


def check_unit_cube(values: list, what: str) -> None:
    if any(not 0.0 <= v <= 1.0 for v in values):
        raise StateError(f"{what} must lie in the unit cube [0, 1]^d.")


def require_numeric(space: Space, loop: str) -> None:
    """Refuse spaces with categorical parameters for loops that need an ordered domain."""
    cats = [n for n, p in space.params.items() if isinstance(p, Categorical)]
    if cats:
        raise ParamError(f"{loop} needs real or integer parameters; {cats} are categorical.")
