"""Odd input refused at the door of the Python API (issue 14): each case once wedged a study,
crashed an ask or made a state unsavable on main. Every refusal is an AskTellError and changes
nothing."""

from __future__ import annotations

import json

import pytest

import asktell
from asktell import Integer, Real, Space
from asktell.checks import MAX_ASK, MAX_JSON_DEPTH, MAX_METADATA_BYTES
from asktell.errors import ConfigError, ParamError, SpaceError, StateError, TrialError
from asktell.loops import ZOSGD, BayesOpt, RandomSearch, Sobol, ZoRD
from asktell.space import MAX_ENUMERATED_VALUES

SPACE = Space({"x": Real(-1.0, 1.0), "k": Integer(0, 4)})
FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def _run(loop, steps: int = 4):
    state = loop.init(SPACE, seed=0)
    for _ in range(steps):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, t.params["x"] ** 2 + t.params["k"])
    return state


def test_deep_or_large_metadata_is_refused_at_tell_and_changes_nothing():
    loop = RandomSearch()
    state, (t,) = loop.ask(loop.init(SPACE, seed=0))
    before = state.to_json()
    for metadata, fragment in [
        (_nested(300), f"nested deeper than {MAX_JSON_DEPTH} levels"),
        ({"pad": "y" * MAX_METADATA_BYTES}, "bytes of JSON; the limit is"),
        ({"big": 10**400}, "beyond a float's range"),
        ({1: "non-string key"}, "string keys"),
    ]:
        with pytest.raises(TrialError, match=fragment):
            loop.tell(state, t.id, 1.0, metadata=metadata)
    assert state.to_json() == before
    ok = loop.tell(state, t.id, 1.0, metadata=_nested(MAX_JSON_DEPTH - 1))  # at the limit: accepted
    assert asktell.State.from_json(ok.to_json()) == ok


def test_json_nested_ten_thousand_deep_is_a_state_error_not_a_recursion_error():
    with pytest.raises(StateError, match="nested too deeply"):
        asktell.State.from_json("[" * 10_000 + "]" * 10_000)


def _tampered(state, path: list, value) -> str:
    data = json.loads(state.to_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    "loop, path, value, fragment",
    [
        (FAST_BO, ["memo"], {}, "missing \\['fits', 'gp', 'sobol_issued', 'warped'\\]"),
        (FAST_BO, ["memo", "sobol_issued"], "abc", "sobol_issued must be an integer"),
        (FAST_BO, ["memo", "sobol_issued"], 0, "came from the Sobol sequence"),
        (FAST_BO, ["memo", "warped"], 1, "warped must be true or false"),
        (FAST_BO, ["memo", "gp"], [1.0], "gp must be dict or null"),
        (Sobol(), ["memo", "sobol_issued"], 0, "would repeat their points"),
        (Sobol(), ["memo", "extra"], 1, "unexpected \\['extra'\\]"),
        (ZoRD(n_init=3), ["memo", "adam", "m"], [0.0], "adam.m has 1 coordinates; the space has 2"),
        (ZoRD(n_init=3), ["memo", "reset_for"], 99, "reset_for names no trial"),
        (ZOSGD(q=2), ["memo", "x"], [0.5, 7.0], "unit cube"),
        (ZOSGD(q=2), ["memo", "probes"], [0, 0], "distinct ids"),
        (RandomSearch(), ["loop_name"], "sobol", "missing \\['sobol_issued'\\]"),
        (RandomSearch(), ["memo", "note"], "1e400", "finite numbers"),  # read back as inf
        (RandomSearch(), ["schema_version"], True, "schema version True"),
        (RandomSearch(), ["seed"], 2**64, "below 2\\*\\*63"),
    ],
    ids=lambda v: v.name if hasattr(v, "name") else None,
)
def test_a_state_that_would_fail_its_asks_is_refused_when_loaded(loop, path, value, fragment):
    text = _tampered(_run(loop), path, value)
    if value == "1e400":  # a JSON number too large for a float: json reads it as infinity
        text = text.replace('"1e400"', "1e400")
    with pytest.raises(StateError, match=fragment):
        asktell.load(text)


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"beta": float("inf")}, "beta must be a finite number >= 0"),
        ({"beta": float("nan")}, "beta must be a finite number >= 0"),
        ({"min_noise": float("nan")}, "min_noise must be a finite number >= 0 or None"),
        ({"min_noise": -1.0}, "min_noise must be a finite number >= 0 or None"),
        ({"min_noise": "x"}, "min_noise must be a finite number >= 0 or None"),
        ({"acquisition": ["qlognei"]}, "acquisition must be one of"),
        ({"warp": True}, "warp must be one of"),
    ],
)
def test_bad_bayesopt_options_are_refused_at_construction_and_from_json(config, fragment):
    with pytest.raises(ConfigError, match=fragment):
        BayesOpt(**config)
    with pytest.raises(ConfigError, match=fragment):
        BayesOpt.from_config(config)


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Integer(0, 2**62), "within \\+-2\\*\\*53"),
        (lambda: Integer(-(2**63), 0), "within \\+-2\\*\\*53"),
        (lambda: Integer(0, 10**400), "401 digits"),
        (lambda: Real(-1e308, 1e308), "width `high - low` must be a finite float"),
        (lambda: Real(0.0, 10**400), "401 digits"),
        (
            lambda: Space.from_json('{"x": {"type": "integer", "low": 0, "high": 1' + "0" * 400 + "}}"),
            "digits",
        ),
    ],
)
def test_spaces_that_cannot_work_are_refused(make, fragment):
    with pytest.raises(SpaceError, match=fragment):
        make()


def test_a_huge_number_as_a_parameter_value_is_a_param_error():
    with pytest.raises(ParamError, match="401 digits"):
        SPACE.check({"x": 10**400, "k": 1})


def test_ask_is_bounded():
    loop = Sobol()
    state = loop.init(SPACE, seed=0)
    with pytest.raises(ParamError, match=f"at most {MAX_ASK} points per ask"):
        loop.ask(state, n=10**12)
    assert len(loop.ask(state, n=MAX_ASK)[1]) == MAX_ASK


def test_wide_integer_ranges_are_optimized_as_reals_and_rounded():
    wide = Space({"x": Real(-1.0, 1.0), "n": Integer(0, 10**7)})
    assert wide.discrete_dims() == {}  # 1e7 values are not enumerated for the mixed optimizer
    narrow = Space({"n": Integer(0, MAX_ENUMERATED_VALUES - 1)})
    assert len(narrow.discrete_dims()[0]) == MAX_ENUMERATED_VALUES

    def f(p):
        return p["x"] ** 2 + ((p["n"] - 3_000_000) / 1e7) ** 2

    state = FAST_BO.init(wide, seed=0)
    for _ in range(5):
        state, (t,) = FAST_BO.ask(state)
        assert isinstance(t.params["n"], int) and 0 <= t.params["n"] <= 10**7
        state = FAST_BO.tell(state, t.id, f(t.params))
    assert state.trials[-1].metadata["model"] == "gp"


def test_options_main_accepted_still_load():
    """``min_noise=None`` (BoTorch's own floor) and ``0.0`` were valid on main: still are."""
    for value in (None, 0.0):
        assert BayesOpt.from_config({"min_noise": value}).min_noise == value


def test_a_version_1_state_with_a_problem_key_is_refused():
    data = json.loads(_run(RandomSearch()).to_json())
    data["schema_version"] = 1  # a v1 state had no problem definition
    with pytest.raises(StateError, match="version 1 state has no problem definition"):
        asktell.State.from_dict(data)


# --- found by the conformance suite's hostile cases (tests/conformance/test_loops.py) ------------
def _with_gp_value(loop, value):
    """A mid-run state whose stored GP hyperparameters hold ``value`` in place of one of them."""
    state = _run(loop, steps=5)
    data = json.loads(state.to_json())
    name = sorted(data["memo"]["gp"])[0]
    data["memo"]["gp"][name] = value
    return json.dumps(data)


@pytest.mark.parametrize("loop", [FAST_BO, ZoRD(n_init=3)], ids=["bayesopt", "zord"])
@pytest.mark.parametrize(
    "value", [None, "x", ["x"], [[1.0], [1.0, 2.0]]], ids=["null", "string", "strings", "ragged"]
)
def test_stored_gp_hyperparameters_that_are_not_numbers_are_refused_at_load(loop, value):
    with pytest.raises(StateError):
        asktell.load(_with_gp_value(loop, value))


@pytest.mark.parametrize("loop_type", [BayesOpt, ZoRD], ids=["bayesopt", "zord"])
def test_a_noise_std_whose_square_overflows_is_refused(loop_type):
    with pytest.raises(ConfigError):
        loop_type(noise_std=1e308)


def test_a_zord_memo_with_a_negative_adam_step_count_is_refused_at_load():
    data = json.loads(_run(ZoRD(n_init=3), steps=5).to_json())
    data["memo"]["adam"]["t"] = -1
    with pytest.raises(StateError):
        asktell.load(json.dumps(data))


def test_ask_of_2_to_the_63_points_is_a_param_error():
    loop = RandomSearch()
    with pytest.raises(ParamError):
        loop.ask(loop.init(SPACE), n=2**63)


# --- found by the API fuzz suite (tests/fuzz/test_api_fuzz.py) ------------------------------------
def test_a_value_past_a_floats_range_is_a_trial_error():
    loop = RandomSearch()
    state, (t,) = loop.ask(loop.init(SPACE, seed=0))
    with pytest.raises(TrialError):
        loop.tell(state, t.id, 10**400)


def test_a_stored_value_past_a_floats_range_is_a_state_error():
    data = json.loads(_run(RandomSearch(), steps=1).to_json())
    data["trials"][0]["value"] = 10**400
    with pytest.raises(StateError):
        asktell.State.from_json(json.dumps(data))


@pytest.mark.parametrize("kind", [[], {"a": 1}], ids=["list", "object"])
def test_a_parameter_type_that_is_not_a_string_is_a_space_error(kind):
    with pytest.raises(SpaceError):
        Space.from_dict({"x": {"type": kind, "low": 0, "high": 1}})
