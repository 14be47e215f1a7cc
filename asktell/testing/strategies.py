"""Hypothesis strategies of spaces, points and objective values, for the conformance suite.

:class:`~asktell.testing.LoopConformance` draws its random spaces from :func:`spaces`; a loop that
takes only some spaces gives the suite a narrower strategy (``spaces(numeric_only=True)``, or one of
its own) through the ``space_strategy`` fixture.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from asktell.space import Categorical, Integer, Real, Space

# Objective values: finite floats of a moderate range (a loop must take any finite float; these
# keep a model's fit well conditioned enough to finish).
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6)


@st.composite
def reals(draw: st.DrawFn) -> Real:
    """A real parameter, linear or on a log scale, with bounds from 1e-6 to about 1e7."""
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=1e-6, max_value=1e3))
        high = low * draw(st.floats(min_value=1.5, max_value=1e4))
    else:
        low = draw(st.floats(min_value=-1e3, max_value=1e3))
        high = low + draw(st.floats(min_value=1e-3, max_value=1e4))
    return Real(low, high, log=log)


@st.composite
def integers(draw: st.DrawFn) -> Integer:
    """An integer parameter of 2 to 201 values, linear or on a log scale."""
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
# choices of every JSON scalar type; 1, 1.0 and True are distinct choices
categoricals = st.lists(choice_values, min_size=1, max_size=5, unique_by=lambda v: (type(v), v)).map(
    lambda c: Categorical(tuple(c))
)
params = st.one_of(reals(), integers(), categoricals)


@st.composite
def spaces(draw: st.DrawFn, max_params: int = 4, numeric_only: bool = False) -> Space:
    """A space of 1 to ``max_params`` parameters (reals, integers and, unless ``numeric_only``,
    categoricals) with short random names."""
    n = draw(st.integers(min_value=1, max_value=max_params))
    kinds = st.one_of(reals(), integers()) if numeric_only else params
    names = draw(st.lists(st.text("abcdefgh_", min_size=1, max_size=6), min_size=n, max_size=n, unique=True))
    return Space({name: draw(kinds) for name in names})


@st.composite
def points(draw: st.DrawFn, space: Space) -> dict:
    """A valid point of ``space`` drawn from each parameter's allowed values."""
    out: dict = {}
    for name, p in space.params.items():
        if isinstance(p, Real):
            values = st.floats(min_value=p.low, max_value=p.high)
            out[name] = draw(values.filter(math.isfinite) if p.log else values)
        elif isinstance(p, Integer):
            out[name] = draw(st.integers(min_value=p.low, max_value=p.high))
        else:
            out[name] = draw(st.sampled_from(p.choices))
    return out
