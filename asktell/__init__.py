"""asktell: stateless ask/tell optimization of expensive black boxes.

State in, state out: every loop's ``ask`` and ``tell`` are pure functions of a JSON-serializable
:class:`State`, so a run can be saved, moved, served over HTTP or split across workers.

``import asktell`` loads the data layer only (spaces, states, errors: no torch). Everything else
loads on first use, as NumPy and SciPy do it: ``asktell.minimize``, ``asktell.loops.BayesOpt``,
``asktell.Client`` (the ``service`` extra), ``asktell.problems``, ``asktell.testing``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from asktell import errors
from asktell.space import Categorical, Integer, Real, Space
from asktell.state import Problem, State, Trial

if TYPE_CHECKING:
    from asktell import loops, problems
    from asktell.api import Result, load, minimize
    from asktell.service.client import Client

__version__ = "0.1.0"
_LAZY = {
    "Result": "asktell.api",
    "load": "asktell.api",
    "minimize": "asktell.api",
    "Client": "asktell.service.client",
}
_SUBMODULES = ("loops", "problems", "testing", "plot", "surrogates", "acquisition", "integrations")
__all__ = [
    "Categorical",
    "Client",
    "Integer",
    "Problem",
    "Real",
    "Result",
    "Space",
    "State",
    "Trial",
    "errors",
    "load",
    "loops",
    "minimize",
    "problems",
    "testing",
]


def __getattr__(name: str) -> Any:
    if name == "Client":
        try:
            from asktell.service.client import Client
        except ImportError as exc:
            raise ImportError(
                f"asktell.Client needs the service extra: pip install 'asktell[service]' ({exc})."
            ) from exc
        return Client
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"asktell.{name}")
    raise AttributeError(f"module 'asktell' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
