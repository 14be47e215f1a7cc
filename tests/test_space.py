"""Search spaces: validation, encoding round trips, sampling, JSON."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asktell import Categorical, Integer, Real, Space
from asktell.errors import AskTellError, ConfigError, ParamError, SpaceError
from asktell.testing.strategies import points, spaces


@pytest.mark.parametrize(
    "make, rule",
    [
        (lambda: Real(1.0, 1.0), "low < high"),
        (lambda: Real(2.0, 1.0), "low < high"),
        (lambda: Real(0.0, 1.0, log=True), "low > 0"),
        (lambda: Real(-1.0, float("inf")), "finite"),
        (lambda: Real(float("nan"), 1.0), "finite"),
        (lambda: Integer(0, 0), "low < high"),
        (lambda: Integer(0, 10, log=True), "low > 0"),
        (lambda: Integer(0.5, 3), "integer"),
        (lambda: Categorical([]), "empty"),
        (lambda: Categorical(["a", "a"]), "distinct"),
        (lambda: Categorical("abc"), "list"),
        (lambda: Categorical([[1, 2]]), "JSON scalars"),
        (lambda: Space({}), "at least one"),
        (lambda: Space([("x", Real(0, 1)), ("x", Real(0, 2))]), "unique"),
        (lambda: Space({"x": (0, 1)}), "Real, Integer or Categorical"),
    ],
)
def test_invalid_definitions_are_refused_with_the_rule(make, rule):
    with pytest.raises(SpaceError, match=rule) as info:
        make()
    assert isinstance(info.value, AskTellError) and isinstance(info.value, ValueError)


def test_duplicate_names_in_json_are_refused():
    text = '{"x": {"type": "real", "low": 0, "high": 1}, "x": {"type": "real", "low": 0, "high": 2}}'
    with pytest.raises(SpaceError, match="unique"):
        Space.from_json(text)


SPACE = Space(
    {
        "lr": Real(1e-4, 1e-1, log=True),
        "x": Real(-5.0, 10.0),
        "layers": Integer(1, 8),
        "width": Integer(16, 1024, log=True),
        "act": Categorical(["relu", "tanh", 3, True]),
    }
)
VALID = {"lr": 0.01, "x": 0.5, "layers": 3, "width": 64, "act": "tanh"}


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"lr": 1.0}, "'lr' must lie in"),
        ({"x": float("nan")}, "'x' must lie in"),
        ({"x": "1.0"}, "'x' must be a real number"),
        ({"layers": 2.5}, "'layers' must be an integer"),
        ({"layers": True}, "'layers' must be an integer"),
        ({"layers": 9}, "'layers' must lie in"),
        ({"act": "gelu"}, "'act' must be one of"),
        ({"act": 1}, "'act' must be one of"),  # True is a choice; 1 is not
        ({"extra": 1}, "unexpected \\['extra'\\]"),
    ],
)
def test_invalid_points_name_the_parameter_value_and_rule(change, fragment):
    with pytest.raises(ParamError, match=fragment):
        SPACE.check({**VALID, **change})


def test_missing_parameter_is_named():
    point = dict(VALID)
    del point["x"]
    with pytest.raises(ParamError, match="missing \\['x'\\]"):
        SPACE.encode(point)


def test_encode_is_in_unit_cube_and_decodes_back():
    x = SPACE.encode(VALID)
    assert x.shape == (5,) and x.dtype == np.float64
    assert bool(((x >= 0) & (x <= 1)).all())
    assert SPACE.encode(SPACE.decode(x)).tolist() == x.tolist()
    decoded = SPACE.decode(x)
    assert {k: decoded[k] for k in ("layers", "width", "act")} == {
        "layers": 3,
        "width": 64,
        "act": "tanh",
    }
    assert (decoded["lr"], decoded["x"]) == pytest.approx((0.01, 0.5), rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_round_trip_is_exact_for_every_valid_point(data):
    space = data.draw(spaces())
    point = data.draw(points(space))
    decoded = space.decode(space.encode(point))
    for name, param in space.params.items():
        if isinstance(param, Real):
            # decode finds a float with exactly the same encoding; it is the point itself unless
            # the encoding maps several adjacent floats to one value (see space.py)
            assert param.encode(decoded[name]) == param.encode(point[name])
            # ...and then within a few ulps of the axis the encoding works on:
            if param.log:  # log(v) carries an absolute error of a few ulps of |log v|
                rel = 8 * 2.2e-16 * max(1.0, abs(math.log(param.low)), abs(math.log(param.high)))
                assert decoded[name] == pytest.approx(point[name], rel=rel)
            else:  # (v - low) / span carries an error of a few ulps of the span
                tol = 8 * 2.2e-16 * max(abs(param.low), abs(param.high))
                assert decoded[name] == pytest.approx(point[name], rel=1e-15, abs=tol)
        else:
            assert decoded[name] == point[name] and type(decoded[name]) is type(point[name])


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_cube_point_decodes_to_a_valid_point(data):
    space = data.draw(spaces())
    u = data.draw(st.lists(st.floats(0, 1), min_size=space.dim, max_size=space.dim))
    space.check(space.decode(np.array(u)))  # raises if invalid


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_decode_many_gives_the_points_decode_gives(data):
    space = data.draw(spaces())
    rows = data.draw(st.integers(1, 6))
    u = data.draw(st.lists(st.floats(0, 1), min_size=rows * space.dim, max_size=rows * space.dim))
    X = np.array(u, dtype=np.float64).reshape(rows, space.dim)
    assert space.decode_many(X) == [space.decode(row) for row in X]


def test_decode_many_takes_tensors_that_require_grad():
    torch = pytest.importorskip("torch")  # the space reads tensors without importing torch
    space = Space({"x": Real(-1.0, 1.0), "k": Integer(0, 3)})
    X = torch.full((2, 2), 0.5, dtype=torch.float64, requires_grad=True)
    assert space.decode_many(X) == [space.decode(X[0].detach())] * 2


@pytest.mark.parametrize(
    "low, high",
    [
        (-10.0, 10.0),
        (0.0, 1.0),
        (-32.768, 32.768),
        (1e-3, 7.5),
        (-1e6, 3.0),
        (0.1, 0.1000001),
        (-5e-300, 1e-300),
    ],
)
def test_vectorized_real_decode_is_the_scalar_decode(low, high):
    param = Real(low, high)
    rng = np.random.default_rng(0)
    u = np.concatenate([rng.random(5000), [0.0, 1.0, 1e-17, 1 - 1e-16, 0.5], rng.random(200) ** 30])
    assert param.decode_array(u).tolist() == [param.decode(float(v)) for v in u]


def test_integer_bins_are_uniform_under_uniform_sampling():
    space = Space({"k": Integer(0, 3), "c": Categorical(["a", "b", "c"])})
    sample = space.sample(6000, np.random.default_rng(0))
    counts = [sum(p["k"] == k for p in sample) for k in range(4)]
    # each value has probability 1/4; 6000 draws: sd ~ 34, so +-200 is a > 5 sigma band
    assert all(abs(c - 1500) < 200 for c in counts)
    assert {p["c"] for p in sample} == {"a", "b", "c"}


def test_sampling_uses_only_the_given_generator():
    a = SPACE.sample(5, np.random.default_rng(3))
    np.random.seed(123)  # the global RNG must not matter
    b = SPACE.sample(5, np.random.default_rng(3))
    assert a == b
    with pytest.raises(ConfigError, match="numpy.random.Generator"):
        SPACE.sample(5, 3)


def test_json_round_trip_keeps_order_and_types():
    again = Space.from_json(SPACE.to_json())
    assert again == SPACE and again.names == SPACE.names
    assert again["act"].choices == ("relu", "tanh", 3, True)


def test_mixed_dims_for_botorch():
    assert SPACE.discrete_dims()[2] == pytest.approx([(k + 0.5) / 8 for k in range(8)])
    assert SPACE.categorical_dims() == {4: [0.125, 0.375, 0.625, 0.875]}


def test_log_integer_decodes_every_value():
    p = Integer(1, 1000, log=True)
    assert all(p.decode(p.encode(v)) == v for v in range(1, 1001))
    assert math.isclose(p.encode(1000), 1 - (math.log(1000.5) - math.log(1000)) / math.log(1000.5 / 0.5))


def test_space_texts_python_cannot_parse_are_space_errors():
    with pytest.raises(SpaceError, match="must be JSON"):
        Space.from_json('{"x": {"type": "integer", "low": 0, "high": 1' + "0" * 5000 + "}}")
    with pytest.raises(SpaceError, match="nested a few levels deep"):
        Space.from_json("[" * 10_000 + "]" * 10_000)


def test_sobol_based_loops_refuse_more_dimensions_than_sobol_has():
    from asktell.loops import BayesOpt, Sobol, ZoRD

    wide = Space({f"x{i}": Real(0.0, 1.0) for i in range(21_202)})
    for loop in (Sobol(), BayesOpt(), ZoRD()):
        with pytest.raises(ParamError, match="at most 21201 parameters"):
            loop.init(wide)


@pytest.mark.parametrize("log", ["yes", 0.5, {"a": 1}, None, 1])
def test_a_log_flag_must_be_a_boolean(log):
    with pytest.raises(SpaceError, match="`log` must be true or false"):
        Space.from_dict({"x": {"type": "real", "low": 1.0, "high": 2.0, "log": log}})
    with pytest.raises(SpaceError, match="`log` must be true or false"):
        Integer(1, 5, log=log)
