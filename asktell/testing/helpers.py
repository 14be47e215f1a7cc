"""What the conformance checks are made of: the black box, runs, the spaces a loop takes, the
assertions and the refused tells.

Public for tests that build on the suite (a check of their own, a broken loop to show a check
fails); :class:`asktell.testing.LoopConformance` uses them all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytest

from asktell.errors import AskTellError, ParamError
from asktell.priors import Beta, Normal
from asktell.space import Categorical, Integer, Real, Space
from asktell.state import State, Trial

# The space of the fixed checks: a linear real, a log-scaled real, an integer and a categorical.
MIXED_SPACE = Space(
    {
        "x": Real(-2.0, 3.0),
        "lr": Real(1e-3, 1.0, log=True),
        "k": Integer(1, 6),
        "c": Categorical(("a", "b", "c")),
    }
)
# The same space with a prior on every parameter (asktell.priors): a loop that reads priors must keep
# the whole contract on it.
PRIOR_SPACE = Space(
    {
        "x": Real(-2.0, 3.0, prior=Normal(1.0, 0.8)),
        "lr": Real(1e-3, 1.0, log=True, prior=Normal(0.03, 0.5)),
        "k": Integer(1, 6, prior=Beta(2.0, 4.0)),
        "c": Categorical(("a", "b", "c"), weights=(1.0, 3.0, 1.0)),
    }
)


def objective(params: Mapping[str, Any], index: int = 0) -> float:
    """A deterministic test function of any point (the black box of the checks); ``index``
    picks one of several objectives. Categorical values count by the length of their text."""
    total = 0.0
    for i, (_, v) in enumerate(sorted(params.items())):
        num = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else len(str(v))
        total += (i + 1 + index) * math.sin(num + index) + 0.1 * num * num / (1.0 + abs(num))
    return total


def _value(state: State, params: Mapping[str, Any]) -> float | list[float]:
    """The objective value(s) of a point for the state's problem: a float, or a list of floats."""
    if state.n_objectives == 1:
        return objective(params)
    return [objective(params, j) for j in range(state.n_objectives)]


# the constraints of the constrained checks: about half of the points keep both
CONSTRAINTS = ("g1 <= 0.5", "g2 >= -1")


def outcomes(state: State, params: Mapping[str, Any]) -> dict[str, float] | None:
    """The outcome values of a point for the state's constraints (None when it has none): the
    outcome ``i``-th declared is :func:`objective` with index ``i + 1``."""
    if not state.constraints:
        return None
    return {c.name: objective(params, i + 1) for i, c in enumerate(state.constraints)}


def run(loop: Any, state: State, steps: int, batch: int = 1) -> State:
    """``steps`` rounds of ask ``batch`` points, tell each its :func:`objective` value (and, in a
    constrained problem, its :func:`outcomes`)."""
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            if state.constraints:
                state = loop.tell(state, t.id, _value(state, t.params), constraints=outcomes(state, t.params))
            else:
                state = loop.tell(state, t.id, _value(state, t.params))
    return state


def without_categoricals(space: Space) -> Space:
    """The numeric part of ``space`` (a single real in [0, 1] when nothing numeric is left)."""
    numeric = {n: p for n, p in space.params.items() if not isinstance(p, Categorical)}
    return Space(numeric or {"x": Real(0.0, 1.0)})


def init(
    loop: Any, space: Space, seed: int = 0, n_objectives: int = 1, constraints: Sequence[str] = ()
) -> State:
    """``loop.init`` on ``space``, or on its numeric part when the loop refuses the categoricals
    (a ParamError at ``init``, as gradient loops do). A loop that refuses the numeric part too
    fails the check: it needs a ``space`` (and ``space_strategy``) fixture of the spaces it takes.
    ``constraints`` are passed on only when given (a user's loop need not take the argument)."""
    problem: dict[str, Any] = {"n_objectives": n_objectives}
    if constraints:
        problem["constraints"] = list(constraints)
    try:
        return loop.init(space, seed=seed, **problem)
    except ParamError as refused:
        numeric = without_categoricals(space)
        if numeric == space:
            pytest.fail(
                f"{loop!r} refused the numeric space {space} ({refused}); give the suite the "
                "spaces it takes with the `space` and `space_strategy` fixtures."
            )
        try:
            return loop.init(numeric, seed=seed, **problem)
        except ParamError as exc:
            pytest.fail(
                f"{loop!r} refused {space} and its numeric part {numeric} ({exc}); give the suite "
                "the spaces it takes with the `space` and `space_strategy` fixtures."
            )


def assert_in_space(space: Space, trial: Trial) -> None:
    """The trial's parameters are a point of ``space`` exactly as :meth:`Space.check` normalizes
    it: every name, nothing else, in range, and of the plain Python type (int for integers, float
    for reals, the choice itself for categoricals) that JSON writes back unchanged."""
    try:
        checked = space.check(trial.params)
    except ParamError as exc:
        raise AssertionError(f"trial {trial.id} was asked outside the space: {exc}") from None
    for name, value in checked.items():
        got = trial.params[name]
        assert type(got) is type(value) and got == value, (
            f"trial {trial.id}: parameter {name!r} is {got!r} ({type(got).__name__}); the space "
            f"normalizes it to {value!r} ({type(value).__name__})."
        )


def assert_timings_are_durations(state: State) -> None:
    """Metadata keys ending in ``_seconds`` are wall-clock durations: finite numbers >= 0. They
    are the only metadata that may differ between two identical calls
    (:meth:`State.without_timings` drops them)."""
    for trial in state.trials:
        for key, value in trial.metadata.items():
            if key.endswith("_seconds"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                assert ok and math.isfinite(value) and value >= 0, (
                    f"trial {trial.id}: metadata {key!r} = {value!r}; keys ending in _seconds are "
                    "durations (finite numbers >= 0), the only metadata allowed to vary by run."
                )


def another_loop(loop: Any) -> Any:
    """A built-in loop other than ``loop``: its states must be refused by ``loop``."""
    from asktell.loops.random import RandomSearch, Sobol

    return Sobol() if getattr(loop, "name", None) == RandomSearch.name else RandomSearch()


def with_other_config(loop: Any) -> Any | None:
    """The loop with one option changed (the first integer option plus one, else the first boolean
    option negated), or None when no such option builds a valid loop."""
    config = loop.config() if callable(getattr(loop, "config", None)) else None
    if not isinstance(config, dict):
        return None
    changes = [(k, v + 1) for k, v in config.items() if type(v) is int]
    changes += [(k, not v) for k, v in config.items() if type(v) is bool]
    for key, value in changes:
        try:
            other = type(loop).from_config({**config, key: value})
        except AskTellError:
            continue
        if other.config() != config:
            return other
    return None


def refuses(error: type[Exception], what: str, call: Callable[..., Any], *args: Any) -> None:
    """``call(*args)`` raises ``error``; anything else (acceptance, another exception: a loop that
    crashes on a state it should have refused) is an AssertionError naming ``what``."""
    try:
        call(*args)
    except error:
        return
    except Exception as exc:
        raise AssertionError(
            f"{what} must be refused with {error.__name__}, but raised {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what} must be refused with {error.__name__}, but was accepted.")


class BadTell(NamedTuple):
    """A refused tell: its arguments (from the state and a pending trial) and a fragment of the
    TrialError's message (the rule it states)."""

    name: str
    arguments: Callable[[State, Trial], dict[str, Any]]
    message: str


BAD_TELLS = [
    BadTell("unknown id", lambda s, t: dict(trial_id=999, value=1.0), "unknown trial id 999"),
    BadTell("negative id", lambda s, t: dict(trial_id=-1, value=1.0), "unknown trial id -1"),
    BadTell("id as text", lambda s, t: dict(trial_id=str(t.id), value=1.0), "integer"),
    BadTell("nan", lambda s, t: dict(trial_id=t.id, value=float("nan")), "finite float"),
    BadTell("numpy nan", lambda s, t: dict(trial_id=t.id, value=np.float64("nan")), "finite float"),
    BadTell("inf", lambda s, t: dict(trial_id=t.id, value=float("inf")), "finite float"),
    BadTell("bool", lambda s, t: dict(trial_id=t.id, value=True), "finite float"),
    BadTell("string", lambda s, t: dict(trial_id=t.id, value="0.5"), "finite float"),
    BadTell("list", lambda s, t: dict(trial_id=t.id, value=[1.0, 2.0]), "finite float"),
    BadTell(
        "failed with value",
        lambda s, t: dict(trial_id=t.id, value=1.0, status="failed"),
        "no value",
    ),
    BadTell("bad status", lambda s, t: dict(trial_id=t.id, value=1.0, status="done"), "status must be"),
    BadTell("already told", lambda s, t: dict(trial_id=0, value=1.0), "already completed"),
    BadTell(
        "metadata not an object",
        lambda s, t: dict(trial_id=t.id, value=1.0, metadata=[1]),
        "JSON object",
    ),
    BadTell(
        "metadata not JSON",
        lambda s, t: dict(trial_id=t.id, value=1.0, metadata={"seen": {1, 2}}),
        "JSON",
    ),
]


def bad_values(n_objectives: int) -> list[tuple[str, Any]]:
    """Values a state with ``n_objectives > 1`` refuses at a tell or an add, each with a label:
    not a list, the wrong length, and NaN, an infinity, a bool or a text in each objective."""
    ok = [1.0] * n_objectives
    cases: list[tuple[str, Any]] = [
        ("a number", 1.0),
        ("one short", ok[:-1]),
        ("one long", [*ok, 1.0]),
        ("empty", []),
        ("a string", "ab"),
        ("null", None),
        ("nested", [ok]),
        ("an object", dict.fromkeys("ab", 1.0)),
        ("numpy nan", np.array([*ok[:-1], np.nan])),
    ]
    for j in range(n_objectives):
        for label, bad in (
            ("nan", math.nan),
            ("inf", math.inf),
            ("-inf", -math.inf),
            ("bool", True),
            ("text", "1"),
        ):
            cases.append((f"{label} in objective {j}", [*ok[:j], bad, *ok[j + 1 :]]))
    return cases


def first_difference(a: Any, b: Any, path: str = "state") -> str | None:
    """Where two JSON-like values first differ (``state.trials[3].params.x: 0.1 != 0.2``), or
    None when they are equal: a failing comparison of two whole states names the place instead of
    a truncated diff."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}.{key}: present in one only"
            found = first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"


def assert_same_run(a: State | dict, b: State | dict, what: str) -> None:
    """Two states are the same but for timings (:meth:`State.without_timings`)."""
    found = first_difference(
        a.without_timings() if isinstance(a, State) else a,
        b.without_timings() if isinstance(b, State) else b,
    )
    assert found is None, f"{what}; they first differ at {found}"
