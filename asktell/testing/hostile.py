"""Hostile inputs for the conformance suite: option values and memo corruptions, as bounded,
deterministic tables.

:class:`~asktell.testing.LoopConformance` gives every option of a loop each of
:data:`HOSTILE_OPTIONS` (the loop must take it and still work, or refuse it with a
:class:`~asktell.errors.ConfigError`), and corrupts every key of a mid-run memo in the ways
:func:`memo_corruptions` lists (the loop must refuse the state with a
:class:`~asktell.errors.StateError` at ``check_state``, or work on). The tables are plain data, so
a failing case is named by its label and reproduced without a random seed.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, NamedTuple

from asktell.api import load
from asktell.errors import ConfigError, StateError
from asktell.space import Space
from asktell.state import State
from asktell.testing.helpers import init, objective, run

# (label, value): wrong types, out-of-range numbers, non-finite floats, numbers past a float's
# range, booleans where numbers belong, and non-ASCII digits in a string
HOSTILE_OPTIONS: list[tuple[str, Any]] = [
    ("a string", "x"),
    ("digits as a string", "12"),
    ("Arabic-Indic digits", "\u0661\u0662"),
    ("an empty string", ""),
    ("a list", [1]),
    ("an object", {"a": 1}),
    ("null", None),
    ("nan", math.nan),
    ("inf", math.inf),
    ("-inf", -math.inf),
    ("-1", -1),
    ("0", 0),
    ("0.5", 0.5),
    ("1e-300", 1e-300),
    ("1e308", 1e308),
    ("True", True),
    ("False", False),
    ("2**63", 2**63),
    ("10**400", 10**400),
    ("-10**400", -(10**400)),
]


class Corruption(NamedTuple):
    """A memo changed in one place: ``label`` says where and how (``adam.m: one item short``)."""

    label: str
    memo: dict[str, Any]


_MISSING = object()


def _wrong_values(value: Any, deep: bool) -> Iterator[tuple[str, Any]]:
    """Values of the wrong type or shape in place of ``value`` (fewer when ``deep``)."""
    yield "null", None
    yield "a string", "x"
    yield "true", True
    if not deep:
        yield "an object", {"x": [1.0]}
        yield "-1", -1
        yield "1.5", 1.5
    if isinstance(value, list):
        if value:
            yield "one item short", value[:-1]
            yield "one item more", value + value[-1:]
            yield "strings in it", ["x"] * len(value)
        else:
            yield "an item more", [0]
        yield "an empty list", []
    elif isinstance(value, bool):
        yield "an integer", 1
    elif isinstance(value, int):
        yield "huge", 2**62 + value
        yield "negative", -1 - value
    elif isinstance(value, float):
        yield "negative", -1.0 - abs(value)
        yield "huge", 1e300
    elif isinstance(value, str):
        yield "an unknown string", value + "_unknown"
    elif isinstance(value, dict):
        yield "an empty object", {}
        yield "a list", [value]


def memo_corruptions(memo: Mapping[str, Any], max_depth: int = 2) -> list[Corruption]:
    """Every key of ``memo`` (and of objects in it, down to ``max_depth`` levels) deleted, given
    values of the wrong types and lengths, plus an extra key: a deterministic list, in key order."""
    out = [Corruption("an extra key", {**memo, "unexpected_key": 1})]

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key in sorted(node):
            here = (*path, key)
            name = ".".join(here)
            out.append(Corruption(f"{name}: deleted", _replaced(memo, here, _MISSING)))
            for how, bad in _wrong_values(node[key], deep=len(here) > 1):
                out.append(Corruption(f"{name}: {how}", _replaced(memo, here, bad)))
            if isinstance(node[key], dict) and len(here) < max_depth:
                walk(node[key], here)
            elif isinstance(node[key], list) and node[key] and len(here) < max_depth:
                for how, bad in _wrong_values(node[key][0], deep=True):
                    out.append(Corruption(f"{name}[0]: {how}", _replaced(memo, (*here, 0), bad)))

    walk(memo, ())
    return out


def _replaced(memo: Mapping[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of ``memo`` with the item at ``path`` replaced by ``value`` (deleted: _MISSING); the
    containers on the path are copied, the rest shared (``memo`` is never changed)."""
    head, rest = path[0], path[1:]
    if isinstance(memo, list):
        copy_list = list(memo)
        copy_list[head] = _replaced(memo[head], rest, value) if rest else value
        return copy_list  # type: ignore[return-value]
    copy = dict(memo)
    if rest:
        copy[head] = _replaced(memo[head], rest, value)
    elif value is _MISSING:
        del copy[head]
    else:
        copy[head] = value
    return copy


# --- the checks ------------------------------------------------------------------------------------
def check_hostile_options(loop: Any, space: Space, n_warmup: int, runs: int, gaps: Collection[str]) -> None:
    """Every option of ``loop`` given each of :data:`HOSTILE_OPTIONS`, at construction and through
    ``from_config``: refused there with a ConfigError, or accepted, and then ``init`` works, the
    state resumes from its JSON, and (for ``runs`` of the accepted cases, spread over the options)
    ``n_warmup`` asks and tells go through. Cases matching a pattern of ``gaps`` (known faults)
    must still be accepted, and are not run. Raises AssertionError listing every problem."""
    config = loop.config()
    cls = type(loop)
    problems: list[str] = []
    accepted: list[tuple[str, str, Any]] = []  # (label, option, the loop)
    matched: set[str] = set()
    for option in sorted(config):
        for how, value in HOSTILE_OPTIONS:
            label = f"option {option} = {how}"
            changed = {**config, option: value}
            if _same_json(changed, config):
                continue
            gap = _gap(label, gaps, matched)
            built, error = _attempt(cls, **changed)
            read, read_error = _attempt(cls.from_config, changed)
            for where, exc in (("construction", error), ("from_config", read_error)):
                if exc is not None and not isinstance(exc, ConfigError):
                    problems.append(
                        f"{label}: {where} raised {type(exc).__name__}: {exc} (not a ConfigError)"
                    )
            if (built is None) != (read is None):
                problems.append(f"{label}: construction and from_config disagree ({error or read_error})")
            elif built is None:
                if gap:
                    problems.append(f"{label} is refused now: remove the known gap {gap!r}")
            elif not gap:
                accepted.append((label, option, built))
    for index, (label, _, other) in enumerate(accepted):
        chosen = index in _spread([option for _, option, _ in accepted], runs)
        problem = _works_with(other, space, n_warmup if chosen else 0)
        if problem:
            problems.append(f"{label} was accepted, but {problem}")
    problems += [
        f"the known gap {g!r} matches no case" for g in gaps if g not in matched and g.startswith("option")
    ]
    assert not problems, "hostile options:\n  " + "\n  ".join(problems)


def check_memo_corruptions(loop: Any, state: State, runs: int, gaps: Collection[str]) -> None:
    """Each corruption of ``state``'s memo (:func:`memo_corruptions`) is refused by
    ``loop.check_state`` with a StateError, or leaves a state that still asks and tells (for
    ``runs`` of the accepted corruptions, spread over the keys; the others are only checked).
    Cases matching a pattern of ``gaps`` must still be accepted, and are not run."""
    data = state.to_dict()
    problems: list[str] = []
    accepted: list[tuple[str, State]] = []
    matched: set[str] = set()
    for case in memo_corruptions(json.loads(json.dumps(state.memo))):
        label = f"memo {case.label}"
        gap = _gap(label, gaps, matched)
        try:
            corrupted = State.from_dict({**data, "memo": case.memo})
            loop.check_state(corrupted)
        except StateError:
            if gap:
                problems.append(f"{label} is refused now: remove the known gap {gap!r}")
            continue
        except Exception as exc:  # noqa: BLE001 - the check reports it
            problems.append(f"{label}: check_state raised {type(exc).__name__}: {exc} (not a StateError)")
            continue
        if not gap:
            accepted.append((label, corrupted))
    chosen = _spread([label.split(":")[0] for label, _ in accepted], runs)
    for index in sorted(chosen):
        label, corrupted = accepted[index]
        try:
            new, (trial,) = loop.ask(corrupted)
            loop.tell(
                new, trial.id, objective(trial.params) if new.n_objectives == 1 else [1.0] * new.n_objectives
            )
        except Exception as exc:  # noqa: BLE001 - the check reports it
            problems.append(
                f"{label} passed check_state, then {type(exc).__name__}: {exc} (refuse it in the "
                "loop's memo_schema or _check_memo)"
            )
    problems += [
        f"the known gap {g!r} matches no case" for g in gaps if g not in matched and g.startswith("memo")
    ]
    assert not problems, "corrupted memos:\n  " + "\n  ".join(problems)


def _works_with(loop: Any, space: Space, steps: int) -> str | None:
    """None when ``loop`` inits on ``space``, resumes from JSON and runs ``steps``; else what broke."""
    try:
        state = init(loop, space)
        resumed_loop, resumed = load(state.to_json())
        if resumed != state:
            return "its state does not resume from its JSON unchanged"
        run(loop, state, steps)
    except Exception as exc:  # noqa: BLE001 - the check reports it
        return f"then {type(exc).__name__}: {exc}"
    return None


def _attempt(build: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``build(*args, **kwargs)`` and None, or None and the exception it raised."""
    try:
        return build(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - the caller judges it
        return None, exc


def _gap(label: str, gaps: Collection[str], matched: set[str]) -> str | None:
    """The first known-gap pattern (fnmatch) that ``label`` matches, recorded in ``matched``."""
    for pattern in gaps:
        if fnmatch.fnmatchcase(label, pattern):
            matched.add(pattern)
            return pattern
    return None


def _spread(groups: list[str], k: int) -> set[int]:
    """Indices of ``k`` items, taken round-robin over their groups (the first of each group, then
    the second, ...): a deterministic sample that reaches every group before any gets two."""
    order: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        order.setdefault(group, []).append(index)
    picked: list[int] = []
    rank = 0
    while len(picked) < min(k, len(groups)):
        picked += [members[rank] for members in order.values() if rank < len(members)]
        rank += 1
    return set(picked[:k])


def _same_json(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
