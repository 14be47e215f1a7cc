"""Validation helpers shared by the data layer and the loops (no model, no torch)."""

from __future__ import annotations

import math
from typing import Any

from asktell.errors import AskTellError, ConfigError


def check_positive(
    name: str,
    value: Any,
    *,
    integer: bool = False,
    allow_zero: bool = False,
    allow_none: bool = False,
    error: type[AskTellError] = ConfigError,
) -> None:
    """Raise ``error`` unless ``value`` is a finite number (an int with ``integer``) > 0 (>= 0 with
    ``allow_zero``; None passes with ``allow_none``). Booleans, NaN and infinity are refused."""
    if allow_none and value is None:
        return
    kinds = (int,) if integer else (int, float)
    ok = not isinstance(value, bool) and isinstance(value, kinds)
    ok = ok and (isinstance(value, int) or math.isfinite(value))
    if not ok or not (value >= 0 if allow_zero else value > 0):
        if integer:
            kind = "a non-negative integer" if allow_zero else "a positive integer"
        else:
            kind = f"a finite number {'>=' if allow_zero else '>'} 0"
        none = " or None" if allow_none else ""
        raise error(f"{name} must be {kind}{none}, got {value!r}.")
