"""What the service refuses, as :class:`~asktell.errors.AskTellError` subclasses.

The HTTP app maps each class to a status code (see ``asktell.service.app``); the client raises the
same classes from the server's answers, so ``except StudyNotFound`` works on both sides.
"""

from __future__ import annotations

from asktell.errors import AskTellError


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
