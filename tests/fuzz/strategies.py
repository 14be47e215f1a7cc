"""Hypothesis strategies of hostile input, shared by the fuzz suites (issue 14).

The CLI suite (``test_cli_fuzz.py``) feeds them to ``main([...])`` as option text; the Python API
and HTTP suites use the same values as objects or request bodies. Import them as
``from fuzz.strategies import ...`` (``tests`` is on pytest's ``pythonpath``).

Two kinds of strategy: *values* (Python objects: what ``json.loads`` would give, and what it
never gives, such as NaN, tuples or 10**400) and *texts* (what a user types: JSON that is too
deep or too long to read, numbers in other scripts, Python-only number forms). Deep structures
are built as text, never as nested objects, so drawing one costs no recursion.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st

# --- numbers -------------------------------------------------------------------------------------

# Unicode decimal digits that are not ASCII: Python's int() and float() read them ('١٢' is 12).
non_ascii_digits = st.characters(categories=["Nd"], exclude_characters="0123456789")

# Integers around every limit asktell has: a float's exact integers (2**53), a seed (2**63),
# a float's range (about 10**308) and what int() reads from text (4300 digits).
huge_integers = st.one_of(
    st.sampled_from([2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 2**1023, 2**1024, 10**308, 10**400]),
    st.integers(min_value=2**53, max_value=2**1100),
).flatmap(lambda n: st.sampled_from([n, -n]))

# Floats at the edges: the largest and smallest, subnormals, negative zero.
edge_floats = st.one_of(
    st.sampled_from(
        [
            0.0,
            -0.0,
            5e-324,
            -5e-324,
            2.2250738585072014e-308,
            1.7976931348623157e308,
            -1.7976931348623157e308,
            1e-300,
            9007199254740993.0,
        ]
    ),
    st.floats(min_value=-1e-300, max_value=1e-300),  # tiny numbers, subnormals included
    st.floats(allow_nan=False, allow_infinity=False, min_value=1e300),
)
non_finite_floats = st.sampled_from([math.nan, math.inf, -math.inf, -math.nan])

# Number *texts* outside the usual: beyond a float's range, beyond int()'s 4300 digits, tiny.
huge_number_texts = st.one_of(
    st.sampled_from([308, 309, 400, 4300, 4301, 5000]).map(lambda k: "1" + "0" * k),
    st.sampled_from(
        [
            "1e308",
            "1.8e308",
            "1e309",
            "1e400",
            "-1e400",
            "1e-400",
            "5e-324",
            "4.9e-325",
            "9" * 4301,
            "-" + "9" * 400,
            "0." + "0" * 400 + "1",
        ]
    ),
)
non_finite_texts = st.sampled_from(
    ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "-Infinity", "infinity", "INF", "1e999", "-1e999"]
)
# What Python reads as a number and JSON does not: other scripts' digits, underscores, spaces of
# other kinds, signs and dots in odd places.
python_only_number_texts = st.one_of(
    st.lists(non_ascii_digits, min_size=1, max_size=4).map("".join),
    st.tuples(st.integers(0, 99), non_ascii_digits).map(lambda p: f"{p[0]}{p[1]}"),
    st.sampled_from(
        [
            "1_000",
            "1__0",
            "0x10",
            "0o7",
            "0b1",
            "1e",
            ".",
            "+.5",
            "5.",
            "-",
            "+",
            "\u20071",
            "1\u00a0",
            "\u2212" + "1",
            "１２",
            "²",
            "½",
            "1,5",
            "1.5.5",
            "٫٥",
        ]
    ),
)
ascii_number_texts = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),  # repr: '1e-05', '-1.5e+300'
    st.sampled_from(["0", "-0", "+1", "007", "1.", ".5", "-.5", "1E5", "1e+5", "-1e-05"]),
)
number_texts = st.one_of(ascii_number_texts, huge_number_texts, non_finite_texts, python_only_number_texts)

# --- strings -------------------------------------------------------------------------------------

odd_characters = st.one_of(
    st.sampled_from(
        [
            "\0",
            "\n",
            "\r",
            "\t",
            "\x1b",
            "\x7f",
            "\u200b",
            "\u202e",
            "\ufeff",
            "\u2028",
            "\udc80",
            "\ud800",
            "\U0001f600",
            "'",
            '"',
            "\\",
            "{",
            "[",
        ]
    ),
    st.characters(categories=["Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Co"]),
)
# Strings with control characters, lone surrogates (what a POSIX argv gives for bytes that are
# not UTF-8), bidi marks and quotes; sometimes empty, sometimes long.
odd_strings = st.one_of(
    st.text(alphabet=st.one_of(odd_characters, st.characters()), max_size=12),
    st.sampled_from(["", " ", "-", "--", "--help", "-h", "null", "true", "{}", "[]", "%s", "x" * 10_000]),
)

# --- JSON ----------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**31), 2**31),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
# JSON values asktell should store as given (shallow, finite).
plain_json = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
hostile_scalars = st.one_of(huge_integers, edge_floats, non_finite_floats, odd_strings)
# Values with hostile leaves (what json.loads gives for 1e400, NaN, 10**400, lone surrogates)
# and some things JSON cannot hold at all (tuples, sets, bytes, non-string keys).
hostile_json = st.recursive(
    st.one_of(json_scalars, hostile_scalars),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=5), odd_strings), inner, max_size=3),
    ),
    max_leaves=8,
)
not_json = st.one_of(
    st.tuples(json_scalars),
    st.frozensets(st.integers(0, 3), max_size=2),
    st.binary(max_size=4),
    st.dictionaries(st.integers(0, 3), json_scalars, min_size=1, max_size=2),
    st.just(object()),
)
# A value of the wrong type, wherever a number, string or object is expected.
wrong_types = st.one_of(
    json_scalars,
    hostile_scalars,
    st.lists(json_scalars, max_size=2),
    st.dictionaries(st.text(max_size=3), json_scalars, max_size=2),
)

depths = st.one_of(st.integers(0, 40), st.sampled_from([31, 32, 33, 64, 300, 1000, 10_000, 100_000]))


@st.composite
def deep_json_texts(draw: st.DrawFn, depth: st.SearchStrategy[int] = depths) -> str:
    """JSON text nested ``depth`` levels (lists, objects or both), built as text."""
    d = draw(depth)
    kind = draw(st.sampled_from(["list", "object", "mixed"]))
    leaf = draw(st.sampled_from(["1", "[]", "{}", '"x"', "null"]))
    if kind == "list":
        return "[" * d + leaf + "]" * d
    if kind == "object":
        return '{"a": ' * d + leaf + "}" * d
    opens = ['{"a": ' if i % 2 else "[" for i in range(d)]
    closes = ["}" if i % 2 else "]" for i in reversed(range(d))]
    return "".join(opens) + leaf + "".join(closes)


def dumps_loosely(value: Any) -> str:
    """JSON text of ``value`` as Python's json writes it when asked nicely: NaN and Infinity
    allowed, and what it cannot write as its ``repr`` (the text is then not JSON at all)."""
    try:
        return json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


# JSON *texts* a user may type: valid, hostile, malformed, deep, with duplicate keys.
json_texts = st.one_of(
    plain_json.map(json.dumps),
    hostile_json.map(dumps_loosely),
    deep_json_texts(),
    st.tuples(st.text(max_size=3), plain_json, plain_json).map(
        lambda t: f"{{{json.dumps(t[0])}: {json.dumps(t[1])}, {json.dumps(t[0])}: {json.dumps(t[2])}}}"
    ),
    st.sampled_from(
        [
            "",
            "{",
            "}",
            "[1,]",
            "{'a': 1}",
            '{"a": 1} {}',
            '{"a": 01}',
            '"\\ud800"',
            '{"a": "\\u0000"}',
            "[" + "1," * 1000 + "1]",
            "\ufeff{}",
            "/* */ {}",
        ]
    ),
    huge_number_texts.map(lambda n: f'{{"a": {n}}}'),
    non_finite_texts.map(lambda n: f'{{"a": {n}}}'),
)

# --- outcome constraints (issue 15) --------------------------------------------------------------

# Outcome names at and past the rules (a word of letters, digits, '_', '.', '-', not starting with
# a digit, at most 64 characters): the ones the suites declare, near misses and odd strings.
outcome_names = st.one_of(
    st.sampled_from(["mem", "recall", "latency", "Mem", "mem ", "9mem", "mem<", "a" * 64, "a" * 65, "_", ""]),
    odd_strings,
)
operators = st.sampled_from(["<=", ">=", "<", ">", "==", "=", "=<", "≤", ""])
# What ``init --constraint`` or a creation body's constraints may be given: 'NAME OP BOUND' texts,
# mostly well-formed with hostile parts, and strings that are no constraint at all.
constraint_texts = st.one_of(
    st.tuples(outcome_names, operators, number_texts).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
    st.tuples(st.sampled_from(["mem", "recall"]), st.sampled_from(["<=", ">="]), number_texts).map(
        lambda t: f"{t[0]}{t[1]}{t[2]}"
    ),
    odd_strings,
    json_texts,
)


# --- ids -----------------------------------------------------------------------------------------


@st.composite
def disordered_ids(draw: st.DrawFn, max_size: int = 6) -> list[int]:
    """Trial ids that break the rules: duplicates, gaps, negatives, out of order."""
    ids = draw(st.lists(st.integers(-3, 2 * max_size), min_size=1, max_size=max_size))
    if draw(st.booleans()) and ids:
        ids.append(draw(st.sampled_from(ids)))  # a duplicate
    return draw(st.permutations(ids))
