"""asktell: stateless ask/tell optimization of expensive black boxes.

State in, state out: every loop's ``ask`` and ``tell`` are pure functions of a JSON-serializable
:class:`State`, so a run can be saved, moved, served over HTTP or split across workers.
"""

from asktell import (
    errors,
    loops,  # noqa: E402,I001  (registers every loop)
)
from asktell.api import Result, load, minimize
from asktell.space import Categorical, Integer, Real, Space
from asktell.state import State, Trial

__all__ = [
    "Categorical",
    "Integer",
    "Real",
    "Result",
    "Space",
    "State",
    "Trial",
    "errors",
    "load",
    "loops",
    "minimize",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``asktell.Client`` loads on first use (it needs httpx, from the ``service`` extra)."""
    if name == "Client":
        try:
            from asktell.service.client import Client
        except ImportError as exc:
            raise ImportError(
                f"asktell.Client needs the service extra: pip install 'asktell[service]' ({exc})."
            ) from exc
        return Client
    raise AttributeError(f"module 'asktell' has no attribute {name!r}")
