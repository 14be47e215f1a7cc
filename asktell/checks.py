"""Validation helpers shared by the data layer and the loops (no model, no torch)."""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterable
from typing import Any

from asktell.errors import AskTellError, ConfigError


def check_positive(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    allow_zero: bool = False,
    allow_none: bool = False,
    at_most: float | None = None,
    error: type[AskTellError] = ConfigError,
) -> None:
    """Raise ``error`` unless ``value`` is a finite number (an int with ``integer``) > 0 (>= 0 with
    ``allow_zero``; None passes with ``allow_none``), and at most ``at_most`` when given (sizes: a
    count of points or features that no machine could hold is refused, not allocated). Booleans,
    NaN, infinity and integers from 2**63 on are refused."""
    if allow_none and value is None:
        return
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    # integers below 2**63: what databases and JSON readers other than Python's take
    ok = ok and (abs(value) < 2**63 if isinstance(value, int) else math.isfinite(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise error(f"{name} must be below 2**63, got an integer of {len(str(abs(value)))} digits.")
    if not ok or not (value >= 0 if allow_zero else value > 0):
        if integer:
            kind = "a non-negative integer" if allow_zero else "a positive integer"
        else:
            kind = f"a finite number {'>=' if allow_zero else '>'} 0"
        none = " or None" if allow_none else ""
        raise error(f"{name} must be {kind}{none}, got {value!r}.")
    if at_most is not None and value > at_most:
        raise error(f"{name} must be at most {at_most:g}, got {value!r}.")


# --- limits on what enters ------------------------------------------------------------------------
MAX_JSON_DEPTH = 32  # nesting of a trial's metadata, a memo, a configuration
MAX_METADATA_BYTES = 64 * 1024  # one trial's metadata, as compact JSON
MAX_ASK = 10_000  # points one ask may ask for
MAX_INT_BITS = 1024  # JSON integers must fit a float's range (|v| < 2**1024)
MAX_SIZE = 1_000_000  # a loop option that counts points, restarts, iterations or features
# a GP squares the noise level: past about 1e154 the variance is no float (an OverflowError)
MAX_NOISE_STD = 1e150
MAX_SOBOL_POINTS = 2**30  # torch's Sobol engine has 30 bits; fast-forwarding is linear in the count


def json_error(exc: ValueError) -> str:
    """``json.loads``'s complaint, in a user's words (Python's advice for long integers is about
    its own settings, not the input)."""
    if "integer string conversion" in str(exc):
        return "it holds an integer of more than 4300 digits"
    return str(exc)


def check_choice(
    name: str, value: Any, choices: Iterable[Any], *, error: type[AskTellError] = ConfigError
) -> None:
    """Raise ``error`` unless ``value`` is one of ``choices`` (strings, compared by type too)."""
    options = list(choices)
    if not any(type(value) is type(c) and value == c for c in options):
        raise error(f"{name} must be one of {options}, got {value!r}.")


def check_json(value: Any, what: str, *, error: type[AskTellError], max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise ``error`` unless ``value`` is JSON asktell can store and serve: objects with string
    keys, lists, strings, booleans, null, finite floats and integers within a float's range,
    nested at most ``max_depth`` levels (a scalar is level 0).

    Iterative, so a structure nested 10 000 deep is refused, not a ``RecursionError``.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth >= max_depth:
                raise error(f"{what} is nested deeper than {max_depth} levels; flatten it.")
            if isinstance(item, dict):
                bad = [k for k in item if not isinstance(k, str)]
                if bad:
                    raise error(f"{what} must have string keys, got {bad[0]!r}.")
                stack.extend((v, depth + 1) for v in item.values())
            else:
                stack.extend((v, depth + 1) for v in item)
        elif item is None or isinstance(item, bool):
            continue
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: no UTF-8 reader could take it back
                raise error(f"{what} holds a string that is not valid Unicode: {item!r}.") from None
        elif isinstance(item, int):
            if abs(item) >= 2**MAX_INT_BITS:
                raise error(f"{what} holds an integer beyond a float's range ({len(str(item))} digits).")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise error(f"{what} must be JSON with finite numbers, got {item!r}.")
        else:
            raise error(f"{what} must be JSON (objects, lists, strings, numbers), got {item!r}.")


def check_typed(value: Any, schema: Any, what: str, *, error: type[AskTellError]) -> None:
    """Raise ``error`` unless ``value`` (parsed JSON) has the type ``schema`` describes.

    ``schema`` is a type annotation: ``int``, ``float`` (an int is a float too), ``bool``, ``str``,
    ``None``, ``Any``, ``list[T]``, ``dict[str, T]``, unions (``T | None``), ``Literal[...]`` and
    ``TypedDict`` classes (their keys exactly: required keys present, no others; ``NotRequired``
    keys may be absent). Booleans are not numbers here. Used to describe each loop's memo, so a
    state read from outside either works or is refused before anything runs on it.
    """
    stack: list[tuple[Any, Any, str]] = [(value, schema, what)]
    while stack:
        item, kind, where = stack.pop()
        problem = _type_problem(item, kind, where, stack)
        if problem:
            raise error(problem)


def _type_problem(item: Any, kind: Any, where: str, stack: list) -> str | None:
    """Why ``item`` is not a ``kind`` (or None), pushing what its parts must be onto ``stack``."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return None
    if kind is None or kind is type(None):
        return None if item is None else f"{where} must be null, got {_brief(item)}."
    if origin in (typing.Union, types.UnionType):
        for option in args:  # the first option whose shallow type fits decides
            if _type_problem(item, option, where, []) is None:
                _type_problem(item, option, where, stack)
                return None
        return f"{where} must be {_name(kind)}, got {_brief(item)}."
    if origin is typing.Literal:
        ok = any(type(item) is type(a) and item == a for a in args)
        return None if ok else f"{where} must be one of {list(args)}, got {_brief(item)}."
    if kind is bool:
        return None if isinstance(item, bool) else f"{where} must be true or false, got {_brief(item)}."
    if kind is int:
        ok = isinstance(item, int) and not isinstance(item, bool)
        return None if ok else f"{where} must be an integer, got {_brief(item)}."
    if kind is float:
        ok = isinstance(item, (int, float)) and not isinstance(item, bool)
        return None if ok else f"{where} must be a number, got {_brief(item)}."
    if kind is str:
        return None if isinstance(item, str) else f"{where} must be a string, got {_brief(item)}."
    if origin is list:
        if not isinstance(item, list):
            return f"{where} must be a list, got {_brief(item)}."
        stack.extend((v, args[0], f"{where}[{i}]") for i, v in enumerate(item))
        return None
    if origin is dict:
        if not isinstance(item, dict):
            return f"{where} must be an object, got {_brief(item)}."
        stack.extend((v, args[1], f"{where}.{k}") for k, v in item.items())
        return None
    if typing.is_typeddict(kind):
        if not isinstance(item, dict):
            return f"{where} must be an object, got {_brief(item)}."
        hints = typing.get_type_hints(kind, include_extras=True)
        required = set(kind.__required_keys__)
        missing, unknown = sorted(required - set(item)), sorted(set(item) - set(hints))
        if missing or unknown:
            return f"{where} must have the keys {sorted(hints)}; missing {missing}, unexpected {unknown}."
        for key, value in item.items():
            hint = hints[key]
            if typing.get_origin(hint) in (typing.NotRequired, typing.Required):
                hint = typing.get_args(hint)[0]
            stack.append((value, hint, f"{where}.{key}"))
        return None
    raise TypeError(f"check_typed cannot check {kind!r}")  # a schema bug, not bad input


def _name(kind: Any) -> str:
    return " or ".join(
        "null" if a is type(None) else getattr(a, "__name__", str(a)) for a in typing.get_args(kind)
    )


def _brief(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 60 else text[:57] + "..."
