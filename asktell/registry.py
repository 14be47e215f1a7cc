"""The registry of loops: a state names its loop, and ``asktell.load`` finds the class here.

Loops register themselves with :func:`register_loop` when their module is imported (``import
asktell`` imports them all). A name registered twice by two different classes is refused.
"""

from __future__ import annotations

from typing import Any, TypeVar

from asktell.errors import RegistryError

T = TypeVar("T")
_LOOPS: dict[str, Any] = {}


def register_loop(cls: T) -> T:
    """Class decorator: register a loop class under its ``name`` attribute."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise RegistryError(
            f"a loop class needs a non-empty string `name`, got {name!r} on {cls!r}."
        )
    existing = _LOOPS.get(name)
    # the same class re-imported (a module reload) may register again; another class may not
    same = existing is not None and (existing.__module__, existing.__qualname__) == (
        cls.__module__,
        cls.__qualname__,  # type: ignore[attr-defined]
    )
    if existing is not None and not same:
        raise RegistryError(f"loop name {name!r} is already registered by {existing!r}.")
    _LOOPS[name] = cls
    return cls


def loop_class(name: str) -> Any:
    """The loop class registered under ``name``."""
    try:
        return _LOOPS[name]
    except (KeyError, TypeError):
        raise RegistryError(
            f"unknown loop {name!r}; registered loops are {sorted(_LOOPS)}."
        ) from None


def registered_loops() -> list[str]:
    """Names of all registered loops, sorted."""
    return sorted(_LOOPS)
