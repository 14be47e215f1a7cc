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
