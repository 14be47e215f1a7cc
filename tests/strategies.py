"""Hypothesis strategies shared by the tests: spaces, points and objective values."""

from __future__ import annotations

import math

from hypothesis import strategies as st

from asktell.space import Categorical, Integer, Real, Space

finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@st.composite
def reals(draw):
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=1e-6, max_value=1e3))
        high = low * draw(st.floats(min_value=1.5, max_value=1e4))
    else:
        low = draw(st.floats(min_value=-1e3, max_value=1e3))
        high = low + draw(st.floats(min_value=1e-3, max_value=1e4))
    return Real(low, high, log=log)


@st.composite
def integers(draw):
    log = draw(st.booleans())
    low = draw(st.integers(min_value=1 if log else -50, max_value=50))
    high = low + draw(st.integers(min_value=1, max_value=200))
    return Integer(low, high, log=log)


choice_values = st.one_of(
    st.text(min_size=1, max_size=5),
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)
categoricals = st.lists(
    choice_values, min_size=1, max_size=5, unique_by=lambda v: (type(v), v)
).map(lambda c: Categorical(tuple(c)))
params = st.one_of(reals(), integers(), categoricals)


@st.composite
def spaces(draw, max_params: int = 4, numeric_only: bool = False):
    n = draw(st.integers(min_value=1, max_value=max_params))
    kinds = st.one_of(reals(), integers()) if numeric_only else params
    names = draw(
        st.lists(st.text("abcdefgh_", min_size=1, max_size=6), min_size=n, max_size=n, unique=True)
    )
    return Space({name: draw(kinds) for name in names})


@st.composite
def points(draw, space: Space):
    """A valid point of ``space`` drawn from each parameter's allowed values."""
    out = {}
    for name, p in space.params.items():
        if isinstance(p, Real):
            if p.log:
                out[name] = draw(
                    st.floats(min_value=p.low, max_value=p.high).filter(lambda v: math.isfinite(v))
                )
            else:
                out[name] = draw(st.floats(min_value=p.low, max_value=p.high))
        elif isinstance(p, Integer):
            out[name] = draw(st.integers(min_value=p.low, max_value=p.high))
        else:
            out[name] = draw(st.sampled_from(p.choices))
    return out
