"""Outcome constraints: named outcomes of an evaluation, each with a bound it must keep.

A constraint is written as an inequality between an outcome's name and a number::

    "mem <= 4"        feasible when the outcome mem is at most 4
    "recall >= 0.9"   feasible when recall is at least 0.9
    "c <= 0"          Optuna's convention (``constraints_func``) as a special case

They are declared once, at ``loop.init(space, constraints=[...])``, and stored in the state's problem
definition (:class:`asktell.state.Problem`). Every completed tell then carries the raw value of each
declared outcome (``tell(..., constraints={"mem": 3.2, ...})``); a trial is *feasible* when every
outcome keeps its bound, boundary included. ``State.best()`` is the best feasible trial.

The *slack* of an outcome ``y`` is how far inside its bound it is: ``bound - y`` for ``<=`` and
``y - bound`` for ``>=``; feasible means every slack ``>= 0``. (BoTorch's acquisition functions take
constraints as ``c(x) <= 0``: ``c = -slack``. BoTorch's test problems' ``evaluate_slack`` uses the
same sign as here.)

This module is the data layer: plain Python, no model, no torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from asktell.errors import ConfigError, StateError, TrialError

OPERATORS = ("<=", ">=")
MAX_CONSTRAINTS = 100  # outcomes one problem may constrain (each is a GP in BayesOpt)
MAX_NAME_LENGTH = 64
# an outcome's name: what a shell flag (``--constraint mem=3.2``), a JSON key and a column take
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
# "name <= number" or "name >= number"; the number in Python's float syntax (ASCII only)
_TEXT = re.compile(r"\s*([^\s<>=]+)\s*(<=|>=)\s*([^\s]+)\s*\Z", re.ASCII)
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z", re.ASCII)


@dataclass(frozen=True)
class Constraint:
    """One outcome constraint: ``name op bound``.

    Attributes:
        name: the outcome's name (letters, digits, ``_``, ``.``, ``-``; not starting with a digit).
        op: ``"<="`` (the outcome must be at most ``bound``) or ``">="`` (at least ``bound``).
        bound: a finite float.
    """

    name: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name) or len(self.name) > MAX_NAME_LENGTH:
            raise ConfigError(
                f"a constraint's outcome name must be a word of letters, digits, '_', '.' or '-' "
                f"(at most {MAX_NAME_LENGTH} characters, not starting with a digit), got {self.name!r}."
            )
        if self.op not in OPERATORS:
            raise ConfigError(
                f"a constraint's operator must be '<=' or '>=', got {self.op!r} for {self.name}."
            )
        bound = self.bound
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise ConfigError(f"the bound of constraint {self.name!r} must be a number, got {bound!r}.")
        try:
            number = float(bound)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ConfigError(f"the bound of constraint {self.name!r} must be finite, got {bound!r}.")
        object.__setattr__(self, "bound", number)

    @classmethod
    def parse(cls, text: str) -> Constraint:
        """Read ``"mem <= 4"`` or ``"recall >= 0.9"``. Raises ConfigError saying what is wrong."""
        if not isinstance(text, str):
            raise ConfigError(f"a constraint is a string like 'mem <= 4', got {text!r}.")
        match = _TEXT.match(text)
        if not match:
            raise ConfigError(
                f"cannot read the constraint {text[:200]!r}: write 'NAME <= BOUND' or 'NAME >= BOUND', "
                "e.g. 'mem <= 4'."
            )
        name, op, number = match.groups()
        if not _NUMBER.match(number):
            raise ConfigError(
                f"the bound of constraint {text[:200]!r} must be a number, got {number[:50]!r}."
            )
        return cls(name, op, float(number))

    def slack(self, value: float) -> float:
        """How far inside its bound ``value`` is (>= 0: kept)."""
        return self.bound - value if self.op == "<=" else value - self.bound

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "bound": self.bound}


def constraint_of(item: Any) -> Constraint:
    """A :class:`Constraint` from its text (``"mem <= 4"``), its ``to_dict()`` form or itself."""
    if isinstance(item, Constraint):
        return item
    if isinstance(item, str):
        return Constraint.parse(item)
    if isinstance(item, Mapping):
        if set(item) != {"name", "op", "bound"}:
            keys = sorted(map(str, item))
            raise ConfigError(
                f"a constraint object has exactly the keys ['bound', 'name', 'op'], got {keys}."
            )
        return Constraint(item["name"], item["op"], item["bound"])
    raise ConfigError(f"a constraint is a string like 'mem <= 4' or an object, got {item!r}.")


def parse_constraints(items: Iterable[Any] | None) -> tuple[Constraint, ...]:
    """The problem's constraints from what a user passes (strings, objects or Constraints).

    Raises:
        ConfigError: an unreadable constraint, a name constrained twice, more than
            :data:`MAX_CONSTRAINTS`.
    """
    if items is None:
        return ()
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise ConfigError(f"constraints must be a list of strings like ['mem <= 4'], got {items!r:.200}.")
    parsed = []
    for item in items:
        parsed.append(constraint_of(item))
        if len(parsed) > MAX_CONSTRAINTS:
            raise ConfigError(f"at most {MAX_CONSTRAINTS} constraints, got more.")
    names = [c.name for c in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"each outcome is constrained once, but {twice} appear twice; a range is two "
            "outcomes (report the value under two names) or one bound."
        )
    return tuple(parsed)


def check_outcomes(
    outcomes: Any, constraints: tuple[Constraint, ...], trial_id: int | None = None
) -> dict[str, float]:
    """The outcome values of a completed tell, checked: exactly the declared names, finite floats.

    Raises:
        TrialError: a missing or unknown name, a value that is not a finite number, or outcomes
            given to a problem that declares none.
    """
    where = "" if trial_id is None else f" for trial {trial_id}"
    declared = [c.name for c in constraints]
    if not constraints:
        if outcomes:
            raise TrialError(
                f"this problem declares no constraints, but the tell gives {_names(outcomes)}{where}; "
                "declare them at init (loop.init(space, constraints=['mem <= 4']))."
            )
        return {}
    if outcomes is None:
        raise TrialError(
            f"this problem is constrained: a completed tell gives the value of each of {declared} "
            f"(constraints={{{declared[0]!r}: ...}}){where}."
        )
    if not isinstance(outcomes, Mapping):
        raise TrialError(
            f"constraint values must be an object of name to number, got {outcomes!r:.200}{where}."
        )
    unknown = sorted(str(k)[:MAX_NAME_LENGTH] for k in outcomes if k not in declared)
    missing = [n for n in declared if n not in outcomes]
    if unknown or missing:
        raise TrialError(
            f"a completed tell gives the value of each declared outcome {declared}{where}; "
            f"missing {missing}, unknown {unknown}."
        )
    checked = {}
    for name in declared:
        value = outcomes[name]
        if isinstance(value, bool) or not _is_number(value):
            raise TrialError(f"constraint value {name!r} must be a finite number, got {value!r:.200}{where}.")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise TrialError(
                f"constraint value {name!r} must be finite, got {value!r:.50}{where}; report a "
                "failed evaluation with status='failed' instead."
            )
        checked[name] = number
    return checked


def is_feasible(outcomes: Mapping[str, float], constraints: tuple[Constraint, ...]) -> bool:
    """Whether every outcome keeps its bound (boundary included)."""
    return all(c.slack(outcomes[c.name]) >= 0 for c in constraints)


def constraints_from_json(data: Any) -> tuple[Constraint, ...]:
    """A stored problem's constraints (a list of ``to_dict()`` objects). Raises StateError."""
    if not isinstance(data, list):
        raise StateError(f"the problem's constraints must be a list, got {data!r:.200}.")
    if any(not isinstance(item, Mapping) for item in data):
        raise StateError("each stored constraint must be an object with name, op and bound.")
    try:
        return parse_constraints(data)
    except ConfigError as exc:
        raise StateError(f"the problem's constraints are invalid: {exc}") from None


def _is_number(value: Any) -> bool:
    # numpy scalars are numbers too: a user's evaluator often returns them
    return isinstance(value, (int, float, np.integer, np.floating))


def _names(outcomes: Any) -> str:
    if isinstance(outcomes, Mapping):
        return f"values for {sorted(str(k)[:MAX_NAME_LENGTH] for k in outcomes)[:10]}"
    return repr(outcomes)[:200]
