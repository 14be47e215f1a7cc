"""Outcome constraints in the data layer: the definition, the tells that carry them, feasibility and
the best feasible trial, the stored form (asktell/constraints.py, asktell/state.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import asktell
from asktell.constraints import Constraint, parse_constraints
from asktell.errors import ConfigError, StateError, TrialError
from asktell.loops.random import RandomSearch, Sobol
from asktell.space import Real, Space
from asktell.state import FAILED, Problem, State

SPACE = Space({"x": Real(0.0, 1.0)})
CONSTRAINTS = ["mem <= 4", "recall >= 0.9"]


def _run(loop=None, outcomes=({"mem": 5.0, "recall": 0.95}, {"mem": 3.0, "recall": 0.95})) -> State:
    loop = loop or Sobol()
    state = loop.init(SPACE, seed=0, constraints=CONSTRAINTS)
    for k, values in enumerate(outcomes):
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, float(k), constraints=values)
    return state


# --- the definition --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, parsed",
    [
        ("mem <= 4", Constraint("mem", "<=", 4.0)),
        ("recall>=0.9", Constraint("recall", ">=", 0.9)),
        ("  c <= 0 ", Constraint("c", "<=", 0.0)),
        ("fit_time <= -1.5e-3", Constraint("fit_time", "<=", -1.5e-3)),
        ("stage.2-loss >= .5", Constraint("stage.2-loss", ">=", 0.5)),
    ],
)
def test_a_constraint_is_read_from_its_text(text, parsed):
    assert Constraint.parse(text) == parsed
    assert Constraint.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("mem < 4", "cannot read"),
        ("mem == 4", "cannot read"),
        ("mem <= four", "must be a number"),
        ("mem <= nan", "must be a number"),
        ("mem <= inf", "must be a number"),
        ("mem <= 1e400", "must be finite"),
        ("mem <= \u0664", "must be a number"),  # an Arabic-Indic digit
        ("4 <= mem", "must be a number"),
        ("<= 4", "cannot read"),
        ("m\u00e9m <= 4", "outcome name"),
        ("a" * 65 + " <= 1", "outcome name"),
    ],
)
def test_an_unreadable_constraint_is_a_config_error(text, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Constraint.parse(text)


@pytest.mark.parametrize(
    "items, fragment",
    [
        ("mem <= 4", "a list of strings"),
        ({"mem": 4}, "a list of strings"),
        (["mem <= 4", "mem >= 1"], "appear twice"),
        ([{"name": "mem", "op": "<=", "bound": 4, "x": 1}], "exactly the keys"),
        ([{"name": "mem", "op": "<", "bound": 4}], "operator"),
        ([{"name": "mem", "op": "<=", "bound": True}], "must be a number"),
        ([4], "a string like"),
        ([f"c{i} <= 0" for i in range(101)], "at most 100"),
    ],
)
def test_a_bad_constraint_list_is_a_config_error(items, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_constraints(items)


def test_init_stores_the_constraints_in_the_problem():
    state = Sobol().init(SPACE, constraints=CONSTRAINTS)
    assert state.constraints == (Constraint("mem", "<=", 4.0), Constraint("recall", ">=", 0.9))
    assert state.problem.outcome_names == ["mem", "recall"]
    assert state.problem.to_dict()["constraints"][0] == {"name": "mem", "op": "<=", "bound": 4.0}


def test_an_unconstrained_state_is_stored_as_before_constraints_existed():
    state = Sobol().init(SPACE)
    state, (trial,) = Sobol().ask(state)
    data = json.loads(Sobol().tell(state, trial.id, 1.0).to_json())
    assert data["problem"] == {"n_objectives": 1}
    assert "constraints" not in data["trials"][0]


@pytest.mark.parametrize("loop_name", ["zord", "zosgd", "fzoos", "fedzo"])
def test_a_loop_that_cannot_use_constraints_refuses_them_at_init(loop_name):
    loop = asktell.registry.loop_class(loop_name)()
    with pytest.raises(ConfigError, match="cannot use outcome constraints"):
        loop.init(SPACE, constraints=CONSTRAINTS)


# --- tells ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "outcomes, fragment",
    [
        (None, "this problem is constrained"),
        ({}, "missing \\['mem', 'recall'\\]"),
        ({"mem": 1.0}, "missing \\['recall'\\]"),
        ({"mem": 1.0, "recall": 1.0, "speed": 2.0}, "unknown \\['speed'\\]"),
        ({"mem": float("nan"), "recall": 1.0}, "must be finite"),
        ({"mem": float("inf"), "recall": 1.0}, "must be finite"),
        ({"mem": 10**400, "recall": 1.0}, "must be finite"),
        ({"mem": "1", "recall": 1.0}, "must be a finite number"),
        ({"mem": True, "recall": 1.0}, "must be a finite number"),
        ([1.0, 1.0], "an object of name to number"),
    ],
)
@pytest.mark.parametrize("how", ["tell", "add"])
def test_a_completed_tell_without_good_outcome_values_is_refused_and_changes_nothing(outcomes, fragment, how):
    loop = Sobol()
    state = _run(loop)
    state, (trial,) = loop.ask(state)
    before = state.to_json()
    with pytest.raises(TrialError, match=fragment):
        if how == "tell":
            loop.tell(state, trial.id, 1.0, constraints=outcomes)
        else:
            loop.add(state, {"x": 0.5}, 1.0, constraints=outcomes)
    assert state.to_json() == before


def test_outcome_values_for_an_unconstrained_problem_are_refused():
    loop = RandomSearch()
    state, (trial,) = loop.ask(loop.init(SPACE))
    with pytest.raises(TrialError, match="declares no constraints"):
        loop.tell(state, trial.id, 1.0, constraints={"mem": 1.0})


def test_a_failed_trial_needs_no_outcome_values_and_takes_none():
    loop = Sobol()
    state, (trial,) = loop.ask(_run(loop))
    failed = loop.tell(state, trial.id, None, status=FAILED)
    assert failed.trials[-1].constraints is None and failed.trials[-1].feasible is None
    with pytest.raises(TrialError, match="takes no constraint values"):
        loop.tell(state, trial.id, None, status=FAILED, constraints={"mem": 1.0, "recall": 1.0})


def test_numpy_outcome_values_are_plain_floats_in_the_state():
    loop = Sobol()
    state, (trial,) = loop.ask(loop.init(SPACE, constraints=CONSTRAINTS))
    told = loop.tell(
        state, trial.id, np.float32(1.0), constraints={"mem": np.float64(2.0), "recall": np.int64(1)}
    )
    assert told.trials[0].constraints == {"mem": 2.0, "recall": 1.0}
    assert all(type(v) is float for v in told.trials[0].constraints.values())


# --- feasibility and the best trial ----------------------------------------------------------------
def test_best_is_the_best_feasible_trial():
    state = _run()
    assert [t.feasible for t in state.trials] == [False, True]
    assert state.best().id == 1  # trial 0 has the lower value but breaks mem <= 4
    assert [t.id for t in state.feasible] == [1]


def test_best_is_none_until_a_trial_is_feasible():
    state = _run(outcomes=({"mem": 5.0, "recall": 0.95}, {"mem": 3.0, "recall": 0.5}))
    assert state.best() is None and state.feasible == []


def test_a_bound_is_feasible_on_its_boundary():
    state = _run(outcomes=({"mem": 4.0, "recall": 0.9},))
    assert state.trials[0].feasible is True


def test_add_records_outcomes_and_feasibility():
    loop = RandomSearch()
    state = loop.add(
        loop.init(SPACE, constraints=CONSTRAINTS), {"x": 0.2}, 0.5, constraints={"mem": 1, "recall": 1}
    )
    assert state.trials[0].feasible and state.trials[0].metadata["added"] is True
    assert state.best().id == 0


# --- the stored form -------------------------------------------------------------------------------
def test_a_constrained_state_round_trips_and_resumes():
    state = _run()
    text = state.to_json()
    loop, loaded = asktell.load(text)
    assert loaded == state and loaded.trials[0].feasible is False
    loaded, (trial,) = loop.ask(loaded)
    assert loop.tell(loaded, trial.id, -1.0, constraints={"mem": 0.0, "recall": 1.0}).best().id == 2


def _stored(change) -> str:
    data = json.loads(_run().to_json())
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda d: d["trials"][0].pop("constraints"), "exactly the keys"),
        (lambda d: d["trials"][0]["constraints"].pop("mem"), "missing \\['mem'\\]"),
        (lambda d: d["trials"][0]["constraints"].update(speed=1.0), "unknown \\['speed'\\]"),
        (lambda d: d["trials"][0]["constraints"].update(mem="x"), "finite number"),
        (lambda d: d["trials"][0].update(status="pending", value=None), "exactly the keys"),
        (lambda d: d["problem"].update(constraints="mem <= 4"), "must be a list"),
        (lambda d: d["problem"].update(constraints=["mem <= 4"]), "must be an object"),
        (lambda d: d["problem"]["constraints"][0].update(op="<"), "operator"),
        (lambda d: d["problem"]["constraints"][1].update(name="mem"), "twice"),
        (lambda d: d["problem"].pop("constraints"), "exactly the keys"),
    ],
)
def test_a_corrupted_constrained_state_is_a_state_error(change, fragment):
    with pytest.raises(StateError, match=fragment):
        asktell.load(_stored(change))


def test_problem_reads_a_definition_without_constraints():
    assert Problem.from_dict({"n_objectives": 1}) == Problem()
