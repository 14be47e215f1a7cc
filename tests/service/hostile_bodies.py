"""Hypothesis strategies of hostile request bodies for the HTTP API, and the JSON text they send.

A body is drawn as Python data with three markers for what ``json.dumps`` cannot write: :class:`Raw`
(a number written as is: ``1e400``, a 400-digit integer, ``NaN``), :class:`Deep` (a value nested
hundreds or thousands of levels) and :class:`Pairs` (an object whose keys may repeat). :func:`dump`
writes the text. The leaves mix this module's values with the fuzz suites' shared ones
(``fuzz.strategies``: numbers past a float's range as text, other scripts' digits, strings with
control characters and lone surrogates, disordered ids). Everything is bounded: a few leaves per
value, one deep nesting at a time.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass
from typing import Any

from fuzz.strategies import (
    constraint_texts,
    disordered_ids,
    edge_floats,
    huge_integers,
    huge_number_texts,
    odd_strings,
    outcome_names,
    python_only_number_texts,
)
from hypothesis import strategies as st


class Raw(str):
    """JSON text written as is (a number Python's json module would not write)."""


@dataclass(frozen=True)
class Deep:
    """``leaf`` nested ``levels`` deep, in objects (or lists, alternately)."""

    levels: int
    leaf: Any
    lists: bool = False


@dataclass(frozen=True)
class Pairs:
    """An object written key by key: duplicate keys are kept in the text (the last one wins)."""

    items: tuple[tuple[str, Any], ...]


def dump(value: Any) -> str:
    """The JSON text of a drawn body."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Deep):
        opening, closing = ("[", "]") if value.lists else ('{"a":', "}")
        return opening * value.levels + dump(value.leaf) + closing * value.levels
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value, allow_nan=False)


# --- leaves ---------------------------------------------------------------------------------------
RAW_NUMBERS = [
    "1e400", "-1e400", "1e-400", "-0", "0e0", "1E308", "1.7976931348623157e308", "2e308",
    "5e-324", "1" + "0" * 400, "-" + "9" * 400, "1" + "0" * 4400, "NaN", "Infinity", "-Infinity",
]  # fmt: skip
STRINGS = [
    "", "x", "12", "1.5", "\u0661\u0662", "\uff11\uff12", "\u00b2", "\u0663.\u0665", "1e400", "NaN",
    "inf", "-Infinity", "0x10", " 1", "\u202e", "\x00", "null", "true", "a" * 300,
]  # fmt: skip
SCALARS = [
    None, True, False, 0, 1, -1, 2, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30,
    0.0, -0.0, 0.5, -1.5, 5e-324, 1e-300, 1.7976931348623157e308, -1.7976931348623157e308,
]  # fmt: skip
DEPTHS = [31, 32, 33, 64, 300, 511, 513, 2000, 10_000, 50_000]  # Hypothesis raises the recursion limit

scalars = st.one_of(
    st.sampled_from(SCALARS),
    st.sampled_from(RAW_NUMBERS).map(Raw),
    huge_number_texts.map(Raw),
    st.sampled_from(STRINGS),
    python_only_number_texts,
    odd_strings,
    huge_integers,
    edge_floats,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
)
keys = st.one_of(st.sampled_from(["", "a", "id", "value", "\u0661", "trial_id", "n"]), st.text(max_size=4))
shallow = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(keys, inner, max_size=3)
        | st.lists(st.tuples(keys, inner), max_size=3).map(lambda kv: Pairs(tuple(kv)))
    ),
    max_leaves=6,
)
deep = st.builds(Deep, st.sampled_from(DEPTHS), scalars, st.booleans())
hostile = st.one_of(shallow, shallow, shallow, deep)  # any JSON value, seldom a deep one
hostile_objects = st.one_of(st.dictionaries(keys, hostile, max_size=3), hostile)


@st.composite
def mutated(draw: st.DrawFn, valid: dict[str, Any], options: dict[str, st.SearchStrategy[Any]]) -> Any:
    """``valid`` (a body that works) changed in zero to two places: a field given one of its
    ``options`` (field-specific odd values) or any hostile value, deleted, or an unknown field
    added; seldom the whole body replaced by a hostile value."""
    if draw(st.integers(0, 9)) == 0:
        return draw(hostile)
    out = dict(valid)
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from(sorted(set(valid) | set(options))))
        how = draw(st.sampled_from(["option", "option", "hostile", "delete", "extra"]))
        if how == "option" and field in options:
            out[field] = draw(options[field])
        elif how == "delete":
            out.pop(field, None)
        elif how == "extra":
            out[draw(keys)] = draw(hostile)
        else:
            out[field] = draw(hostile)
    return out


def maybe(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, sometimes anything."""
    return st.one_of(valid, valid, valid, hostile)


# --- bodies of the routes ------------------------------------------------------------------------
ASK_N = [0, -1, 1, 2, 3, 1000, 1001, 10_000, 10**12, 2**63, 2.0, 1e-300, True, None, "2",
         "\u0661\u0662", [], {}, Raw("1e400"), Raw("1" + "0" * 400)]  # fmt: skip
VALUES = [0.0, -0.0, 5e-324, 1e-300, 1e300, 1.7976931348623157e308, -1.7976931348623157e308, 2**53 + 1,
          10**30, True, "1.5", "\u0661\u0662", [1.0], [1.0, 2.0], [], None, Raw("1e400"),
          Raw("-1e400"), Raw("1e-400"), Raw("1" + "0" * 400), Raw("NaN")]  # fmt: skip
metadata_values = st.one_of(
    st.none(),
    st.dictionaries(st.text(max_size=3), scalars, max_size=3),
    st.dictionaries(keys, hostile, max_size=2),
    st.builds(lambda d, leaf: {"deep": Deep(d, leaf)}, st.sampled_from(DEPTHS), scalars),
    hostile,
)


def ask_bodies() -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), mutated({"n": 1}, {"n": st.sampled_from(ASK_N)}))


# --- outcome constraints (issue 15): the constrained studies declare mem <= 4 and recall >= 0.9 ---
OUTCOMES = {"mem": 3.0, "recall": 0.95}  # a feasible trial's outcome values
OUTCOME_VALUES = [0.0, -0.0, 4.0, 4.000000000000001, 0.9, 5e-324, 1.7976931348623157e308, 2**53 + 1,
                  10**30, True, None, "3.2", "\u0663", [3.0], {}, Raw("1e400"), Raw("-1e400"),
                  Raw("1" + "0" * 400), Raw("NaN"), Raw("-Infinity")]  # fmt: skip
outcome_objects = st.one_of(
    # both names, each value good or odd
    st.fixed_dictionaries(
        {n: st.one_of(st.floats(-10, 10), st.sampled_from(OUTCOME_VALUES)) for n in OUTCOMES}
    ),
    # a name missing, unknown or given twice (the last one wins in the text)
    st.just({"mem": 3.0}),
    st.just({**OUTCOMES, "latency": 0.1}),
    st.builds(lambda name, v: {**OUTCOMES, name: v}, outcome_names, st.sampled_from(OUTCOME_VALUES)),
    st.just(Pairs((("mem", 3.0), ("recall", 0.95), ("mem", 9.0)))),
    st.builds(lambda d, leaf: {"mem": Deep(d, leaf), "recall": 0.95}, st.sampled_from(DEPTHS), scalars),
    st.dictionaries(st.one_of(outcome_names, keys), scalars, max_size=3),
    st.sampled_from([None, [], [3.0, 0.95], "mem=3", 3.0, True]),
    hostile,
)


def _outcome_options() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "value": st.one_of(st.floats(-10, 10), st.sampled_from(VALUES)),
        "failed": st.one_of(st.booleans(), st.sampled_from([0, 1, "true", None])),
        "metadata": metadata_values,
        "constraints": outcome_objects,
    }


def _outcome(constrained: bool) -> dict[str, Any]:
    """A valid outcome of a tell or an add: a value, and the outcomes of a constrained study."""
    return {"value": 0.25, **({"constraints": dict(OUTCOMES)} if constrained else {})}


def tell_bodies(pending: int, n_trials: int, constrained: bool = False) -> st.SearchStrategy[Any]:
    """Tells of the trial ``pending`` (any of ``n_trials``, or none) with odd values (and odd
    outcome values: of a constrained study or not)."""
    ids = st.one_of(st.integers(0, n_trials + 1), st.sampled_from([-1, 2**63, 10**400, 1.0, "2", True]))
    valid = {"trial_id": pending, **_outcome(constrained)}
    return mutated(valid, {"trial_id": ids, **_outcome_options()})


def add_bodies(point: dict[str, Any], constrained: bool = False) -> st.SearchStrategy[Any]:
    """Adds of ``point`` (valid for the study's space), with any parameter replaced by an odd value,
    one dropped or added, or the whole point replaced."""

    @st.composite
    def params(draw: st.DrawFn) -> Any:
        out: dict[str, Any] = dict(point)
        how = draw(st.sampled_from(["replace", "replace", "drop", "add", "anything"]))
        name = draw(st.sampled_from(sorted(point)))
        if how == "replace":
            out[name] = draw(st.one_of(st.sampled_from(VALUES), hostile))
        elif how == "drop":
            del out[name]
        elif how == "add":
            out[draw(keys)] = draw(hostile)
        else:
            return draw(hostile)
        return out

    return mutated({"params": point, **_outcome(constrained)}, {"params": params(), **_outcome_options()})


def config_values(default: Any) -> st.SearchStrategy[Any]:
    """A value for a config field whose default is ``default``: the default, or anything."""
    return st.one_of(st.just(default), st.sampled_from(VALUES), st.sampled_from(SCALARS),
                     st.sampled_from(STRINGS), hostile)  # fmt: skip


def hostile_params() -> st.SearchStrategy[Any]:
    """A parameter definition: valid, or wrong in its type, bounds or choices."""
    bounds = st.one_of(st.integers(-10, 10), st.sampled_from(VALUES), scalars)
    return st.one_of(
        st.just({"type": "real", "low": -1.0, "high": 1.0}),
        mutated({"type": "real", "low": -1.0, "high": 1.0},
                {"type": st.sampled_from(["real", "integer", "categorical", "Real", ""]), "low": bounds,
                 "high": bounds, "log": st.one_of(st.booleans(), scalars)}),
        mutated({"type": "integer", "low": 0, "high": 9}, {"low": bounds, "high": bounds}),
        mutated({"type": "categorical", "choices": ["a", 1, None]},
                {"choices": st.one_of(st.lists(scalars, max_size=4), st.lists(hostile, max_size=2))}),
    )  # fmt: skip


NUMERIC = {"x": {"type": "real", "low": -2.0, "high": 2.0}, "k": {"type": "integer", "low": 1, "high": 5}}
BOUNDS = [4, 0.9, -0.0, 5e-324, 1.7976931348623157e308, 2**63, 10**30, True, None, "4", "\u0664",
          Raw("1e400"), Raw("NaN"), Raw("1" + "0" * 400)]  # fmt: skip
constraint_objects = st.one_of(
    st.fixed_dictionaries(
        {
            "name": st.one_of(st.sampled_from(["mem", "recall"]), outcome_names),
            "op": st.sampled_from(["<=", ">=", "<", "==", "", None, 1]),
            "bound": st.one_of(st.floats(-10, 10), st.sampled_from(BOUNDS)),
        }
    ),
    mutated({"name": "mem", "op": "<=", "bound": 4}, {"bound": st.sampled_from(BOUNDS)}),
)
constraint_lists = st.one_of(
    st.just(["mem <= 4", "recall >= 0.9"]),
    st.just([{"name": "mem", "op": "<=", "bound": 4}, "recall >= 0.9"]),
    st.just(["mem <= 4", "mem >= 1"]),  # one name twice
    st.just([f"c{i} <= 0" for i in range(101)]),  # more than the 100 a problem may have
    st.lists(st.one_of(constraint_texts, constraint_objects, scalars), max_size=3),
    st.sampled_from([None, [], "mem <= 4", {"name": "mem", "op": "<=", "bound": 4}, 4]),
    hostile,
)


def create_bodies(name: str, defaults: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    """``POST /studies`` bodies: a registered loop with wrong types in any of its config fields
    (or an unknown loop), hostile spaces, seeds, objective counts, timeouts and names.
    ``defaults``: each loop's default config."""

    @st.composite
    def config(draw: st.DrawFn, loop: str) -> Any:
        fields = defaults.get(loop, {})
        if not fields or draw(st.integers(0, 5)) == 0:
            return draw(st.one_of(st.just({"no_such_option": 1}), hostile))
        chosen = draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=3, unique=True))
        return {key: draw(config_values(fields[key])) for key in chosen}

    @st.composite
    def body(draw: st.DrawFn) -> Any:
        loop = draw(st.sampled_from(sorted(defaults)))
        valid = {"name": name, "loop": loop, "config": {}, "space": NUMERIC}
        options = {
            "config": config(loop),
            "loop": st.one_of(st.sampled_from(sorted(defaults)), st.sampled_from(["", "Random", "nope"])),
            "space": st.one_of(st.dictionaries(keys, hostile_params(), min_size=1, max_size=3),
                               st.builds(lambda p: {**NUMERIC, "y": p}, hostile_params())),
            "seed": st.one_of(st.integers(0, 10), st.sampled_from(SCALARS)),
            "n_objectives": st.sampled_from([1, 2, 0, -1, 1001, True, 1.0, "2"]),
            "constraints": constraint_lists,
            "pending_timeout_s": st.sampled_from([None, 60.0, 0, -1.0, 1e-300, 1e300, "60", Raw("1e400")]),
            "token": st.sampled_from(["a-study-token", "short", "", "x" * 300, None]),
            "name": st.sampled_from([name, "", "-x", "a" * 129, "r", "n\u0661", "a/b", "a b"]),
        }  # fmt: skip
        return draw(mutated(valid, options))

    return body()


# --- state imports: a valid export, then changed in a few places ---------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = (), depth: int = 3) -> list[tuple[Any, ...]]:
    """Every path into ``node`` (object keys, list indexes), ``depth`` levels down."""
    out = []
    if depth and isinstance(node, dict):
        for key in sorted(node):
            out.append((*prefix, key))
            out.extend(_paths(node[key], (*prefix, key), depth - 1))
    elif depth and isinstance(node, list):
        for index in range(min(len(node), 3)):
            out.append((*prefix, index))
            out.extend(_paths(node[index], (*prefix, index), depth - 1))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def state_changes(state: dict[str, Any], loops: list[str], configs: dict[str, dict[str, Any]]) -> Any:
    """Imports made from ``state`` (an export, parsed) by one or two changes: a memo key or a
    field anywhere in the state set to a hostile value or deleted, an extra key, the loop renamed,
    a config field of the wrong type, the trials reordered, duplicated, dropped or renumbered."""
    memo_paths = [("memo", *p) for p in _paths(state["memo"])]
    all_paths = _paths(state, depth=4)

    @st.composite
    def changed(draw: st.DrawFn) -> Any:
        out = json.loads(json.dumps(state))
        for _ in range(draw(st.integers(1, 2))):
            how = draw(st.sampled_from(
                ["memo", "memo", "memo", "memo-delete", "memo-extra", "anywhere", "anywhere",
                 "anywhere-delete", "loop", "config", "config", "shuffle", "duplicate", "drop",
                 "renumber", "ids", "metadata"]
            ))  # fmt: skip
            trials = out.get("trials") if isinstance(out.get("trials"), list) else None
            if how in ("memo", "memo-delete") and memo_paths:
                path = draw(st.sampled_from(memo_paths))
                value = draw(st.one_of(st.sampled_from(VALUES), hostile))
                with contextlib.suppress(KeyError, IndexError, TypeError):  # the place may be gone
                    _set(out, path, value, delete=how == "memo-delete")
            elif how == "memo-extra" and isinstance(out.get("memo"), dict):
                out["memo"][draw(keys)] = draw(hostile)
            elif how in ("anywhere", "anywhere-delete"):
                path = draw(st.sampled_from(all_paths))
                value = draw(hostile)
                with contextlib.suppress(KeyError, IndexError, TypeError):
                    _set(out, path, value, delete=how == "anywhere-delete")
            elif how == "loop":
                out["loop_name"] = draw(st.one_of(st.sampled_from(loops), hostile))
            elif how == "config":
                loop = out.get("loop_name")
                fields = configs.get(loop, {}) if isinstance(loop, str) else {}
                if fields and isinstance(out.get("loop_config"), dict):
                    key = draw(st.sampled_from(sorted(fields)))
                    out["loop_config"][key] = draw(config_values(fields[key]))
            elif trials:
                if how == "shuffle":
                    out["trials"] = draw(st.permutations(trials))
                elif how == "duplicate":
                    out["trials"].append(copy.deepcopy(draw(st.sampled_from(trials))))
                elif how == "drop":
                    del trials[draw(st.integers(0, len(trials) - 1))]
                elif how == "renumber" and isinstance(trials[0], dict):
                    trials[draw(st.integers(0, len(trials) - 1))]["id"] = draw(
                        st.one_of(st.integers(0, len(trials) + 1), hostile)
                    )
                elif how == "ids":
                    for trial, tid in zip(trials, draw(disordered_ids(len(trials))), strict=False):
                        if isinstance(trial, dict):
                            trial["id"] = tid
                elif how == "metadata" and isinstance(trials[-1], dict):
                    trials[-1]["metadata"] = draw(metadata_values)
        return out

    return changed()
