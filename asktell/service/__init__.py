"""asktell.service: the ask/tell HTTP service, its storage and its Python client.

Needs the ``service`` extra (``pip install 'asktell[service]'``). Nothing here is imported by
``import asktell``; the names below load their modules on first use, so the client works with httpx
alone and the server modules load FastAPI, SQLAlchemy and uvicorn only when used.

- :class:`Client` (``asktell.Client``): create studies, ask, tell, add, read trials, over HTTP;
  :class:`Pareto`, what ``Client.pareto`` returns (a study's front, hypervolume, reference point).
- :func:`create_app`: the FastAPI app over a database; ``asktell serve`` runs it with uvicorn.
- :class:`Storage`: studies and trials in SQLite or PostgreSQL with version-checked commits.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "Client": "asktell.service.client",
    "Pareto": "asktell.service.client",
    "create_app": "asktell.service.app",
    "Storage": "asktell.service.storage",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'asktell.service' has no attribute {name!r}")
