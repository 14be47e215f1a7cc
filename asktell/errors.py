"""One exception hierarchy for everything asktell refuses.

Every message states the rule that was broken, the offending value and, where it helps, the fix:
``value must be a finite float, got nan for trial 7``. Bad input never changes a state: callers
validate first and build the new state only when everything passed.
"""

from __future__ import annotations


class AskTellError(Exception):
    """Base class of every error asktell raises for bad input or a bad state."""


class SpaceError(AskTellError, ValueError):
    """A search space definition is invalid (bounds, log scale, choices, names)."""


class ParamError(AskTellError, ValueError):
    """A point does not belong to its space (missing or extra names, out of range, wrong type)."""


class StateError(AskTellError, ValueError):
    """A state cannot be read: malformed JSON, another schema version, an unknown loop."""


class TrialError(AskTellError, ValueError):
    """A tell cannot be applied: unknown trial id, a trial already finished, a bad value."""


class ConfigError(AskTellError, ValueError):
    """A loop configuration is invalid."""


class RegistryError(AskTellError, KeyError):
    """A name is not registered, or is registered twice."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class FederationError(AskTellError, ValueError):
    """A federated exchange is out of order: a report before the work is done, a stale broadcast."""


class ShapeError(AskTellError, ValueError):
    """An array handed to a model or a plot does not have the shape it needs."""


class CommandError(AskTellError):
    """A command cannot run: a file is missing or unreadable, or would be overwritten."""


class ServiceUnavailable(AskTellError):
    """The service extra (FastAPI, uvicorn, SQLAlchemy, httpx) is not installed."""


# --- what the HTTP service refuses -------------------------------------------------------------
# The app maps each class to its ``status`` (see ``asktell.service.app``); the client raises the
# same classes from the server's answers, so ``except StudyNotFound`` works on both sides.


class ServiceError(AskTellError):
    """A request to the ask/tell service was refused. ``status`` is the HTTP status, if any."""

    status: int | None = None

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class StudyNotFound(ServiceError, LookupError):
    """No study of that name exists."""

    status = 404


class TrialNotFound(ServiceError, LookupError):
    """The study has no trial of that id."""

    status = 404


class StudyExists(ServiceError):
    """A study of that name already exists."""

    status = 409


class TrialFinished(ServiceError):
    """The trial was already told (completed, failed or expired); a finished trial is immutable."""

    status = 409


class Conflict(ServiceError):
    """Concurrent requests kept changing the study; nothing was changed. Retry later."""

    status = 503


class Unauthorized(ServiceError):
    """The bearer token is missing or wrong."""

    status = 401


class BadRequest(ServiceError, ValueError):
    """The request cannot be applied as sent (its message says what to fix)."""

    status = 422
