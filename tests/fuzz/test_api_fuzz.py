"""Fuzzing the Python API (issue 14): hostile values into ``Space.from_dict``, ``State.from_json``,
``asktell.load`` and ``loop.init / ask / tell / add`` and loop configurations.

The properties, whatever the input:

- a refusal is an :class:`~asktell.errors.AskTellError` (never a KeyError, TypeError,
  OverflowError, RecursionError or a plain ValueError), and leaves what it was given unchanged
  (the state's exact JSON, the caller's metadata and parameters);
- what is accepted stays usable: a space or a state round-trips through JSON and a loop asks and
  tells on it;
- generated states (random spaces, trials of every status with values and metadata, memos)
  round-trip exactly: ``State.from_json(s.to_json()) == s``.

Each property runs a bounded number of derandomized examples in ``make test`` (the ``default``
case) and many more random ones in ``make test-all`` (the ``long`` case, marked ``slow``). The
hostile values come from ``tests/fuzz/strategies.py`` (shared with the CLI and HTTP suites), the
spaces from :mod:`asktell.testing.strategies`. Loops are the cheap ones (no model fit per ask):
BayesOpt and ZoRD run inside their initial design.
"""

from __future__ import annotations

import json
import math
import os
import traceback
from typing import Any

import numpy as np
import pytest
from fuzz.strategies import (
    deep_json_texts,
    disordered_ids,
    dumps_loosely,
    edge_floats,
    hostile_json,
    huge_integers,
    json_texts,
    non_ascii_digits,
    non_finite_floats,
    not_json,
    odd_strings,
    plain_json,
    python_only_number_texts,
    wrong_types,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import asktell
from asktell import Categorical, Integer, Real, Space, State
from asktell.errors import AskTellError, TrialError
from asktell.loops import ZOSGD, BayesOpt, RandomSearch, Sobol, ZoRD
from asktell.loops.federated import FedZO, Message, ServerState, load_server, simulate
from asktell.problems import federated_quadratic
from asktell.registry import loop_class
from asktell.state import COMPLETED, FAILED, PENDING, SCHEMA_VERSION, Problem, Trial
from asktell.testing import objective
from asktell.testing import strategies as spaces_strategies

# examples per property: ``default`` in make test, ``long`` (random, not derandomized) in make
# test-all; ASKTELL_FUZZ_EXAMPLES sets the long run's count
BUDGETS = [
    pytest.param(30, id="default"),
    pytest.param(int(os.environ.get("ASKTELL_FUZZ_EXAMPLES", "1000")), id="long", marks=pytest.mark.slow),
]
SPACE = Space({"x": Real(-1.0, 1.0), "lr": Real(1e-3, 1.0, log=True), "k": Integer(1, 5)})
MIXED = Space({**SPACE.params, "c": Categorical(("a", "b", None))})
# cheap loops: no model fit per ask (BayesOpt and ZoRD stay in their initial design)
LOOPS = [
    (RandomSearch(), MIXED, 2),
    (Sobol(), MIXED, 1),
    (BayesOpt(n_init=50), MIXED, 1),
    (ZoRD(n_init=50), SPACE, 1),
    (ZOSGD(q=2), SPACE, 1),
    (FedZO(local_steps=2, q=2), SPACE, 1),
]
LOOP_IDS = ["random", "sobol", "bayesopt", "zord", "zosgd", "fedzo"]


def _settings(budget: int) -> settings:
    return settings(
        max_examples=budget,
        deadline=None,  # a shared machine: no timing
        derandomize=budget <= 100,  # the default run is the same every time
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def _value(state: State, params: dict) -> Any:
    return (
        objective(params)
        if state.n_objectives == 1
        else [objective(params, j) for j in range(state.n_objectives)]
    )


def _run(loop, space: Space, n_objectives: int, steps: int = 4) -> State:
    """A short run ending with one pending trial and one failed one."""
    state = loop.init(space, seed=3, n_objectives=n_objectives)
    for _ in range(steps):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, _value(state, t.params))
    state, (t,) = loop.ask(state)
    state = loop.tell(state, t.id, None, status=FAILED)
    state, _ = loop.ask(state)
    return state


STATES = [_run(loop, space, k) for loop, space, k in LOOPS]


def _usable(loop, state: State) -> None:
    """An accepted state round-trips through JSON, and the loop asks and tells on it."""
    assert State.from_json(state.to_json()) == state
    state, (trial,) = loop.ask(state)
    state = loop.tell(state, trial.id, _value(state, trial.params))
    assert asktell.load(state.to_json())[1] == state


# Findings outside this suite's files, each an xfail(strict=True) test in tests/test_refusals.py:
# (exception type, the file and function that raise it). The fuzz treats them as refusals so that
# it goes on finding others; remove an entry when its xfail test starts to pass.
KNOWN_FINDINGS: list[tuple[type[BaseException], str, str]] = []  # none today


def _known(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    where = (frames[-1].filename, frames[-1].name) if frames else ("", "")
    return any(
        isinstance(exc, kind) and where[0].endswith(path) and where[1] == name
        for kind, path, name in KNOWN_FINDINGS
    )


def _fingerprint(value: Any) -> list:
    """What ``value`` holds, as a flat list (built without recursion: metadata may be 10 000
    deep); scalars by repr, so NaN equals itself and an object is known by its identity."""
    out: list = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.append(("dict", id(item), len(item)))
            for key, inner in item.items():
                out.append(repr(key))
                stack.append(inner)
        elif isinstance(item, (list, tuple)):
            out.append((type(item).__name__, id(item), len(item)))
            stack.extend(item)
        else:
            out.append(repr(item) if isinstance(item, (str, int, float, bool, type(None))) else id(item))
    return out


def _refused_or_usable(call, *given: Any, loop=None) -> Any:
    """``call()``: an AskTellError leaving ``given`` as it was, or a result; a State result must
    be usable by ``loop``."""
    before = [_fingerprint(g) for g in given]
    try:
        result = call()
    except AskTellError:
        assert [_fingerprint(g) for g in given] == before, "a refused call changed its input"
        return None
    except Exception as exc:
        if _known(exc):
            return None
        raise
    if isinstance(result, State) and loop is not None:
        _usable(loop, result)
    return result


# --- hostile leaves ---------------------------------------------------------------------------------
numbers_as_text = st.one_of(
    python_only_number_texts, st.lists(non_ascii_digits, min_size=1, max_size=3).map("".join)
)
hostile = st.one_of(
    wrong_types,
    huge_integers,
    edge_floats,
    non_finite_floats,
    numbers_as_text,
    odd_strings,
    not_json,
    hostile_json,
)


def _deep(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


metadata = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=4), plain_json, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=4), odd_strings), hostile, max_size=3),
    st.sampled_from([31, 32, 33, 300, 10_000]).map(_deep),
    st.just({"big": "x" * 70_000}),
    hostile,
)


# --- spaces -------------------------------------------------------------------------------------------
@st.composite
def param_specs(draw: st.DrawFn) -> Any:
    """A parameter's JSON with hostile fields: wrong types, huge or odd bounds, keys missing or extra."""
    kind = draw(st.sampled_from(["real", "integer", "categorical"]))
    spec: dict[str, Any] = {"type": kind}
    if kind == "categorical":
        spec["choices"] = draw(st.one_of(st.lists(hostile, max_size=4), hostile))
    else:
        number = st.one_of(st.integers(-10, 10), st.floats(-10, 10), hostile)
        spec["low"], spec["high"] = draw(number), draw(number)
        if draw(st.booleans()):
            spec["log"] = draw(st.one_of(st.booleans(), hostile))
    for key in draw(st.lists(st.sampled_from(sorted(spec)), max_size=1)):
        del spec[key]
    if draw(st.integers(0, 5)) == 0:
        spec[draw(st.text(max_size=4))] = draw(hostile)
    if draw(st.integers(0, 5)) == 0:
        spec["type"] = draw(hostile)
    return spec


space_dicts = st.one_of(
    st.dictionaries(
        st.one_of(st.text(min_size=1, max_size=4), odd_strings), param_specs(), min_size=1, max_size=3
    ),
    hostile,
)


@pytest.mark.parametrize("budget", BUDGETS)
def test_space_from_dict_refuses_or_gives_a_usable_space(budget):
    @_settings(budget)
    @given(data=space_dicts)
    @example(data={"n": {"type": "integer", "low": 0, "high": 10**400}})
    @example(data={"x": {"type": "real", "low": -1e308, "high": 1e308}})
    @example(data={"x": {"type": "real", "low": "\u0661", "high": 2.0}})
    def check(data):
        space = _refused_or_usable(lambda: Space.from_dict(data), data)
        if space is None:
            return
        assert Space.from_dict(json.loads(json.dumps(space.to_dict(), allow_nan=False))) == space
        for loop in (RandomSearch(), Sobol()):
            state, trials = loop.ask(loop.init(space, seed=0), n=2)
            for t in trials:
                assert space.check(t.params) == t.params

    check()


# --- states from outside ----------------------------------------------------------------------------
def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    """Every path into a JSON tree (object keys and list indices), the root excluded."""
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        out.append((*path, key))
        out += _paths(value, (*path, key))
    return out


def _edited(data: Any, path: tuple, action: str, value: Any) -> Any:
    """A copy of ``data`` with the item at ``path`` replaced, deleted or duplicated."""
    head, rest = path[0], path[1:]
    copy: Any = dict(data) if isinstance(data, dict) else list(data)
    if rest:
        copy[head] = _edited(data[head], rest, action, value)
    elif action == "delete" and isinstance(copy, dict):
        del copy[head]
    elif action == "duplicate" and isinstance(copy, list):
        copy.insert(head, copy[head])
    else:
        copy[head] = value
    return copy


@st.composite
def state_texts(draw: st.DrawFn) -> str:
    """A valid state's JSON changed in one place (a hostile value, a key deleted, an item of a list
    twice, trial ids shuffled), or hostile JSON text."""
    if draw(st.integers(0, 6)) == 0:
        return draw(st.one_of(json_texts, deep_json_texts()))
    data = json.loads(draw(st.sampled_from(STATES)).to_json())
    if draw(st.integers(0, 4)) == 0:  # duplicate, missing, negative, out-of-order trial ids
        ids = draw(disordered_ids(max_size=len(data["trials"])))
        data["trials"] = [{**data["trials"][i % len(data["trials"])], "id": tid} for i, tid in enumerate(ids)]
        return json.dumps(data)
    path = draw(st.sampled_from(_paths(data)))
    action = draw(st.sampled_from(["replace", "replace", "delete", "duplicate"]))
    return dumps_loosely(_edited(data, path, action, draw(hostile)))


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_state_from_outside_is_refused_or_usable(budget):
    @_settings(budget)
    @given(text=state_texts())
    @example(text=STATES[1].to_json().replace('"sobol_issued": ', '"sobol_issued": -'))
    @example(text=STATES[0].to_json().replace('"loop_name": "random"', '"loop_name": "sobol"'))
    @example(text=STATES[0].to_json().replace('"schema_version": 2', '"schema_version": true'))
    def check(text):
        state = _refused_or_usable(lambda: State.from_json(text))
        if state is None:
            return
        assert State.from_json(state.to_json()) == state
        loaded = _refused_or_usable(lambda: asktell.load(text))
        if loaded is not None:
            loop, resumed = loaded
            _usable(loop, resumed)

    check()


# --- loop calls ---------------------------------------------------------------------------------------
def _points(state: State) -> st.SearchStrategy:
    """Parameters for add: a point of the space with one value hostile, a key extra or missing."""
    point = dict(state.trials[0].params)
    names = sorted(point)
    return st.one_of(
        st.tuples(st.sampled_from(names), hostile).map(lambda p: {**point, p[0]: p[1]}),
        st.sampled_from(names).map(lambda n: {k: v for k, v in point.items() if k != n}),
        st.tuples(odd_strings, hostile).map(lambda p: {**point, p[0]: p[1]}),
        hostile,
    )


values = st.one_of(st.floats(-10, 10), hostile, st.lists(st.one_of(st.floats(-10, 10), hostile), max_size=3))
statuses = st.one_of(st.sampled_from([COMPLETED, FAILED, PENDING]), odd_strings, wrong_types)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("index", range(len(LOOPS)), ids=LOOP_IDS)
def test_loop_calls_with_hostile_arguments_are_refused_or_usable(budget, index):
    loop, space, _ = LOOPS[index]
    state = STATES[index]
    pending = state.pending[-1].id

    @_settings(budget)
    @given(data=st.data())
    def check(data):
        call = data.draw(st.sampled_from(["init", "ask", "tell", "add"]))
        before = state.to_json()
        if call == "init":
            seed = data.draw(st.one_of(st.integers(0, 2**31), hostile))
            k = data.draw(st.one_of(st.integers(1, 3), hostile))
            given_space = data.draw(st.one_of(st.just(space), st.just(space.to_dict()), space_dicts))
            _refused_or_usable(
                lambda: loop.init(given_space, seed=seed, n_objectives=k), given_space, loop=loop
            )
            return
        if call == "ask":
            n = data.draw(st.one_of(st.integers(-2, 3), hostile))
            _refused_or_usable(lambda: loop.ask(state, n=n))
        elif call == "tell":
            trial_id = data.draw(st.one_of(st.just(pending), st.integers(-2, len(state.trials) + 1), hostile))
            value = data.draw(values)
            status = data.draw(statuses)
            meta = data.draw(metadata)
            _refused_or_usable(
                lambda: loop.tell(state, trial_id, value, status=status, metadata=meta),
                meta,
                value,
                loop=loop,
            )
        else:
            params = data.draw(_points(state))
            value = data.draw(values)
            status = data.draw(st.one_of(st.sampled_from([COMPLETED, FAILED]), statuses))
            meta = data.draw(metadata)
            _refused_or_usable(
                lambda: loop.add(state, params, value, status=status, metadata=meta),
                params,
                meta,
                value,
                loop=loop,
            )
        assert state.to_json() == before  # the state passed in never changes

    check()


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("index", range(len(LOOPS)), ids=LOOP_IDS)
def test_hostile_configurations_are_config_errors_or_loops_that_work(budget, index):
    loop, space, _ = LOOPS[index]
    names = sorted(loop.config()) or ["unknown_option"]

    @_settings(budget)
    @given(
        changes=st.dictionaries(
            st.one_of(st.sampled_from(names), st.text(max_size=4)),
            st.one_of(hostile, st.integers(1, 5)),
            max_size=3,
        )
    )
    def check(changes):
        config = {**loop.config(), **changes}
        built = _refused_or_usable(lambda: loop_class(loop.name).from_config(config), config)
        if built is None:
            return
        state = built.init(space, seed=1)
        assert asktell.load(state.to_json())[1] == state
        state, (trial,) = built.ask(state)
        built.tell(state, trial.id, objective(trial.params))

    check()


# --- federated servers and messages -------------------------------------------------------------
SERVER = simulate(
    FedZO(local_steps=2, q=2), SPACE, federated_quadratic(2, SPACE.dim), rounds=1, seed=0
).server
MESSAGE = Message("iterate", 1, 0, {"x": np.full(SPACE.dim, 0.5)})


@st.composite
def federated_json(draw: st.DrawFn) -> Any:
    """A server state's or a message's JSON changed in one place, or hostile JSON."""
    if draw(st.integers(0, 5)) == 0:
        return draw(hostile_json)
    data = draw(st.sampled_from([SERVER.to_dict(), MESSAGE.to_dict()]))
    path = draw(st.sampled_from(_paths(data)))
    return _edited(data, path, draw(st.sampled_from(["replace", "delete", "duplicate"])), draw(hostile))


@pytest.mark.parametrize("budget", BUDGETS)
def test_federated_servers_and_messages_from_outside_are_refused_or_usable(budget):
    @_settings(budget)
    @given(data=federated_json())
    def check(data):
        server = _refused_or_usable(lambda: ServerState.from_dict(data), data)
        if server is not None:
            resumed = _refused_or_usable(lambda: load_server(server.to_json()))
            if resumed is not None:
                fed, again = resumed
                assert again == server
                fed.aggregate(again, [])
        message = _refused_or_usable(lambda: Message.from_dict(data), data)
        if message is not None:
            assert Message.from_json(message.to_json()).to_json() == message.to_json()

    check()


# --- round trips ------------------------------------------------------------------------------------
@st.composite
def states(draw: st.DrawFn) -> State:
    """A state of RandomSearch on a random space: trials of every status, with values of the
    problem's shape and JSON metadata, and a JSON memo."""
    space = draw(spaces_strategies.spaces())
    k = draw(st.integers(1, 3))
    trials = []
    for i in range(draw(st.integers(0, 6))):
        status = draw(st.sampled_from([PENDING, COMPLETED, FAILED]))
        finite = st.floats(allow_nan=False, allow_infinity=False)
        value: Any = None
        if status == COMPLETED:
            value = draw(finite) if k == 1 else tuple(draw(st.lists(finite, min_size=k, max_size=k)))
        meta = draw(st.dictionaries(st.text(max_size=5), plain_json, max_size=3))
        trials.append(
            Trial(
                id=i, params=draw(spaces_strategies.points(space)), status=status, value=value, metadata=meta
            )
        )
    return State(
        schema_version=SCHEMA_VERSION,
        loop_name=RandomSearch.name,
        loop_config={},
        space=space,
        seed=draw(st.integers(0, 2**63 - 1)),
        counter=draw(st.integers(0, 2**63 - 1)),
        trials=tuple(trials),
        memo=draw(st.dictionaries(st.text(max_size=5), plain_json, max_size=3)),
        problem=Problem(n_objectives=k),
    )


@pytest.mark.parametrize("budget", BUDGETS)
def test_generated_states_round_trip_exactly(budget):
    @_settings(budget)
    @given(state=states())
    def check(state):
        text = state.to_json()
        again = State.from_json(text)
        assert again == state and again.to_json() == text
        assert State.from_dict(json.loads(text)) == state

    check()


# --- explicit cases -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["\u0661\u0662", "\uff11\uff12", "1_0", "\u00b2"],
    ids=["arabic", "fullwidth", "underscore", "superscript"],
)
def test_numbers_in_other_scripts_are_not_values(text):
    loop = RandomSearch()
    state, (t,) = loop.ask(loop.init(SPACE, seed=0))
    with pytest.raises(TrialError):
        loop.tell(state, t.id, text)


def test_the_hostile_strategies_reach_what_they_promise():
    """The suite's own strategies make the values it claims (a fuzz suite that cannot draw a NaN
    proves nothing about NaN)."""
    drawn = []

    @settings(max_examples=300, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(value=hostile)
    def collect(value):
        drawn.append(value)

    collect()
    assert any(isinstance(v, float) and math.isnan(v) for v in drawn)
    assert any(isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63 for v in drawn)
    assert any(isinstance(v, str) and any(c.isdigit() and not c.isascii() for c in v) for v in drawn)
