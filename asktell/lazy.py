"""Package attributes that load on first use, as NumPy and SciPy load their submodules.

A package's ``__init__`` names what it exports and where it lives; nothing is imported until a name
is used, so ``import asktell`` (or ``asktell.surrogates``) costs only what is used::

    __getattr__, __dir__ = lazy_exports(__name__, {"fit_gp": "asktell.surrogates.gp"}, __all__)

Type checkers and readers see the same names in an ``if TYPE_CHECKING:`` block of imports.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``exports`` maps an attribute to the module that
    defines it (a module itself when the attribute is that module's last name); ``names`` is the
    package's ``__all__``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        imported = importlib.import_module(module)
        return imported if module == f"{package}.{name}" else getattr(imported, name)

    def __dir__() -> list[str]:
        return sorted(names)

    return __getattr__, __dir__
