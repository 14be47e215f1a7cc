"""The registry of loops: a state names its loop, and ``asktell.load`` finds the class here.

Loops register themselves with :func:`register_loop` when their module is imported. asktell's own
loops are also listed in :data:`BUILTIN` by module, so that a name resolves without importing every
loop (and torch with them): :func:`loop_class` imports the one module it needs. A name registered
twice by two different classes is refused.

The registry is part of the data layer: it imports no loop at import time. Which of the built-in
loops finish a tell with the data layer alone (no hook of their own after a tell) is recorded here
too, so that ``asktell tell`` and ``asktell add`` never import a model; a test holds the table to
the classes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, TypeVar

from asktell.errors import RegistryError

T = TypeVar("T")
_LOOPS: dict[str, Any] = {}

LOOP, FEDERATED = "loop", "federated"


@dataclass(frozen=True)
class Builtin:
    """Where a built-in loop lives and what the ways in may know about it without importing it.

    Attributes:
        module: the module that defines (and registers) the class.
        kind: ``"loop"`` or ``"federated"`` (one loop per client of a federation).
        data_tell: whether a tell is the data layer's :func:`asktell.state.finish_trial` alone (the
            loop has no ``_after_tell`` hook), so a shell ``tell`` needs no model.
        max_objectives: the loop's ``max_objectives`` (None: any number), so such a tell can
            refuse a state whose problem the loop cannot serve.
        constraints: the loop's ``supports_constraints``, for the same reason.
    """

    module: str
    kind: str = LOOP
    data_tell: bool = True
    max_objectives: int | None = 1
    constraints: bool = False


BUILTIN: dict[str, Builtin] = {
    "random": Builtin("asktell.loops.random", max_objectives=None, constraints=True),
    "sobol": Builtin("asktell.loops.random", max_objectives=None, constraints=True),
    "bayesopt": Builtin("asktell.loops.bayesopt", max_objectives=None, constraints=True),
    "zosgd": Builtin("asktell.loops.zeroth"),
    "zord": Builtin("asktell.loops.zord"),
    "fzoos": Builtin("asktell.loops.federated.fzoos", FEDERATED, data_tell=False),
    "fedzo": Builtin("asktell.loops.federated.baselines", FEDERATED, data_tell=False),
    "fedprox": Builtin("asktell.loops.federated.baselines", FEDERATED, data_tell=False),
    "scaffold1": Builtin("asktell.loops.federated.baselines", FEDERATED, data_tell=False),
    "scaffold2": Builtin("asktell.loops.federated.baselines", FEDERATED, data_tell=False),
}
DEFAULT_LOOP = "bayesopt"  # what ``minimize`` and the CLI run when no loop is named


def register_loop(cls: T) -> T:
    """Class decorator: register a loop class under its ``name`` attribute."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise RegistryError(f"a loop class needs a non-empty string `name`, got {name!r} on {cls!r}.")
    existing = _LOOPS.get(name)
    # the same class re-imported (a module reload) may register again; another class may not
    same = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,  # type: ignore[attr-defined]
    )
    if existing is not None and not same:
        raise RegistryError(f"loop name {name!r} is already registered by {existing!r}.")
    builtin = BUILTIN.get(name)
    if builtin is not None and cls.__module__ != builtin.module:  # type: ignore[attr-defined]
        raise RegistryError(f"loop name {name!r} belongs to asktell's {builtin.module}.")
    _LOOPS[name] = cls
    return cls


def loop_class(name: str) -> Any:
    """The loop class registered under ``name`` (importing its module for a built-in loop)."""
    if isinstance(name, str) and name not in _LOOPS and name in BUILTIN:
        importlib.import_module(BUILTIN[name].module)
    try:
        return _LOOPS[name]
    except (KeyError, TypeError):
        raise RegistryError(f"unknown loop {name!r}; registered loops are {registered_loops()}.") from None


def is_known(name: str) -> bool:
    """Whether ``name`` is a built-in or registered loop (without importing anything)."""
    return name in BUILTIN or name in _LOOPS


def registered_loops(kind: str | None = None) -> list[str]:
    """Names of the built-in and registered loops, sorted; ``kind`` keeps one kind only."""
    names = set(BUILTIN) | set(_LOOPS)
    if kind is not None:
        names = {n for n in names if loop_kind(n) == kind}
    return sorted(names)


def loop_kind(name: str) -> str:
    """``"loop"`` or ``"federated"``; a loop registered by a user says so with ``kind``."""
    if name in BUILTIN:
        return BUILTIN[name].kind
    return str(getattr(loop_class(name), "kind", LOOP))


def tells_with_data_only(name: str, n_objectives: int = 1, constrained: bool = False) -> bool:
    """Whether a tell of loop ``name`` on a problem of ``n_objectives`` (with outcome constraints
    when ``constrained``) is the data layer's alone,
    known without importing the loop: a built-in loop without a tell hook that serves the problem.

    False for loops registered outside asktell (their hooks are unknown until imported) and for
    problems the loop cannot serve (importing it then refuses the state with the loop's message).
    """
    builtin = BUILTIN.get(name)
    if builtin is None or not builtin.data_tell:
        return False
    if constrained and not builtin.constraints:
        return False
    return builtin.max_objectives is None or n_objectives <= builtin.max_objectives
