"""State and Trial: exact JSON round trips, refusal of foreign or malformed states, tells."""

from __future__ import annotations

import json

import pytest

import asktell
from asktell import Categorical, Integer, Real, Space, State
from asktell.errors import ConfigError, StateError, TrialError
from asktell.loops import BayesOpt, RandomSearch, Sobol

SPACE = Space({"x": Real(-1.0, 1.0), "k": Integer(0, 5), "c": Categorical(["a", "b"])})


def _run(loop=None, n=6):
    loop = loop or Sobol()
    state = loop.init(SPACE, seed=7)
    state, trials = loop.ask(state, n=n)
    for t in trials[:-2]:
        state = loop.tell(state, t.id, t.params["x"] * 0.1 + 1 / 3, metadata={"note": "ok"})
    state = loop.tell(state, trials[-2].id, None, status="failed")
    return loop, state


def test_json_round_trip_is_exact():
    _, state = _run()
    again = State.from_json(state.to_json())
    assert again == state
    assert again.to_json() == state.to_json()
    assert [t.value for t in again.trials] == [t.value for t in state.trials]  # floats bit-exact


def test_load_returns_the_loop_that_wrote_the_state():
    loop, state = _run(RandomSearch())
    loaded_loop, loaded = asktell.load(state.to_json())
    assert loaded_loop == loop and loaded == state


def test_multi_objective_values_round_trip():
    loop = RandomSearch()
    state = loop.init(SPACE, seed=0, n_objectives=2)
    state, (t,) = loop.ask(state)
    state = loop.tell(state, t.id, [0.1, 2.0])
    assert State.from_json(state.to_json()).trials[0].value == (0.1, 2.0)
    with pytest.raises(TrialError, match="2 objectives"):
        loop.tell(loop.ask(state)[0], 1, [1.0])


def _tamper(state: State, **changes) -> str:
    data = json.loads(state.to_json())
    data.update(changes)
    return json.dumps(data)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"hello": 1}', "not an asktell state"),
        ("[1, 2, 3]", "not an asktell state"),
    ],
)
def test_foreign_or_corrupt_text_is_refused(text, fragment):
    with pytest.raises(StateError, match=fragment):
        State.from_json(text)


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"schema_version": 99}, "schema version 99"),
        ({"loop_name": "no-such-loop"}, "does not know: 'no-such-loop'"),
        ({"problem": {"n_objectives": 0}}, "problem definition is invalid: n_objectives"),
        ({"problem": {"n_objectives": 1, "bogus": 1}}, "unknown keys \\['bogus'\\]"),
        ({"problem": [1]}, "must be a JSON object"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"trials": "x"}, "trials must be a list"),
        ({"space": {"x": {"type": "real", "low": 1, "high": 0}}}, "space is invalid"),
        ({"extra": 1}, "unexpected \\['extra'\\]"),
    ],
)
def test_malformed_states_are_refused_with_a_clear_message(changes, fragment):
    _, state = _run()
    with pytest.raises(StateError, match=fragment):
        State.from_json(_tamper(state, **changes))


def test_a_bad_loop_config_is_refused_when_the_loop_is_loaded():
    _, state = _run()
    text = _tamper(state, loop_config={"bogus": 1})
    State.from_json(text)  # the data layer does not know the loop's options...
    with pytest.raises(StateError, match="loop_config is invalid: .*no options \\['bogus'\\]"):
        asktell.load(text)  # ...the loop does


def test_trial_with_nan_or_out_of_range_params_is_refused():
    _, state = _run()
    data = json.loads(state.to_json())
    data["trials"][0]["params"]["x"] = 5.0
    with pytest.raises(StateError, match="trial 0 is invalid: parameter 'x'"):
        State.from_json(json.dumps(data))
    data = json.loads(state.to_json())
    data["trials"][0]["value"] = float("nan")
    with pytest.raises(StateError, match="contains NaN"):
        State.from_json(json.dumps(data))
    data["trials"][0]["value"] = "0.5"
    with pytest.raises(StateError, match="finite float"):
        State.from_json(json.dumps(data))
    data = json.loads(state.to_json())
    data["trials"][1]["id"] = 0
    with pytest.raises(StateError, match="in order"):
        State.from_json(json.dumps(data))


def test_to_json_is_strict_json():
    _, state = _run()
    text = state.to_json()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard constant {c}"))


def test_best_ignores_failed_and_pending():
    _, state = _run()
    best = state.best()
    assert best is not None and best.status == "completed"
    assert best.value == min(t.value for t in state.completed)


def test_tell_merges_metadata_and_refuses_non_json_metadata():
    loop, state = _run()
    assert state.trials[0].metadata == {"note": "ok"}
    pending = state.pending[0]
    with pytest.raises(TrialError, match="JSON"):
        loop.tell(state, pending.id, 1.0, metadata={"f": object()})
    with pytest.raises(TrialError, match="JSON"):
        loop.tell(state, pending.id, 1.0, metadata={"f": float("nan")})


def test_a_loop_refuses_a_state_of_another_loop():
    _, state = _run(Sobol())
    with pytest.raises(StateError, match="asktell.load"):
        RandomSearch().ask(state)


def test_a_state_written_before_an_option_existed_still_resumes():
    from asktell.loops import BayesOpt

    loop = BayesOpt(n_init=2, num_restarts=2, raw_samples=16, max_fit_iter=10)
    state = loop.init(Space({"x": Real(0.0, 1.0)}), seed=0)
    for _ in range(3):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, (t.params["x"] - 0.3) ** 2)
    data = json.loads(state.to_json())
    del data["loop_config"]["fit_subset"]  # an option added in a later version
    old_loop, old_state = asktell.load(json.dumps(data))
    assert old_loop == loop
    _, (trial,) = old_loop.ask(old_state)
    assert trial.id == 3
    data["loop_config"]["fit_subset"] = 7  # a different value is another configuration
    with pytest.raises(StateError, match="asktell.load"):
        loop.ask(State.from_json(json.dumps(data)))


def test_an_added_trial_keeps_its_marker_whatever_the_metadata_says():
    loop, state = _run(RandomSearch())
    added = loop.add(state, state.trials[0].params, 1.0, metadata={"added": False, "source": "lab"})
    assert added.trials[-1].metadata == {"added": True, "source": "lab"}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('{"format": "asktell.state", "seed": 1' + "0" * 5000 + "}", "not valid JSON"),  # 4300+ digits
        ("[" * 10_000 + "]" * 10_000, "nested too deeply"),
    ],
    ids=["5000-digit integer", "10k deep"],
)
def test_texts_python_cannot_parse_are_state_errors(text, fragment):
    with pytest.raises(StateError, match=fragment):
        State.from_json(text)


def test_problems_nobody_can_serve_are_refused():
    with pytest.raises(ConfigError, match="at most 1000"):
        RandomSearch().init(SPACE, n_objectives=10**18)
    with pytest.raises(ConfigError, match="below 2\\*\\*63"):
        BayesOpt(n_init=10**400)


def test_metadata_strings_must_be_valid_unicode():
    loop, state = _run(RandomSearch())
    state, (t,) = loop.ask(state)
    with pytest.raises(TrialError, match="not valid Unicode"):
        loop.tell(state, t.id, 1.0, metadata={"note": "\ud800"})


def test_a_float_schema_version_is_refused():
    _, state = _run()
    with pytest.raises(StateError, match="schema version 2.0"):
        State.from_json(_tamper(state, schema_version=2.0))


def test_a_sobol_count_beyond_what_the_asks_can_have_issued_is_refused():
    loop, state = _run(Sobol())
    data = json.loads(state.to_json())
    data["memo"]["sobol_issued"] = 2**53 + 1  # fast-forwarding to it would take years
    with pytest.raises(StateError, match="more than .* asks can have handed out"):
        asktell.load(json.dumps(data))


def test_sizes_no_machine_could_hold_are_refused():
    from asktell.loops import ZOSGD, ZoRD

    with pytest.raises(ConfigError, match="q must be at most 1e\\+06"):
        ZOSGD(q=2**31)
    with pytest.raises(ConfigError, match="raw_samples must be at most"):
        BayesOpt(raw_samples=10**9)
    with pytest.raises(ConfigError, match="active_candidates must be at most"):
        ZoRD(active_candidates=10**9)
