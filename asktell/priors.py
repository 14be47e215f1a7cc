"""Priors over where the optimum lies: what the user already knows, one distribution per parameter.

A prior is given on the parameter's own scale and truncated to its bounds::

    Real(1e-5, 1.0, log=True, prior=Normal(1e-3, 1.0))   # 1e-3, give or take a factor of 10
    Integer(1, 12, prior=Normal(6, 2))                   # depth about 6
    Real(0.0, 1.0, prior=Beta(2, 5))                      # low, rarely near 0
    Categorical(["adam", "sgd", "rmsprop"], weights=[3, 1, 1])

- :class:`Normal` ``(loc, scale)``: on a linear parameter, a normal of mean ``loc`` and standard
  deviation ``scale`` in the parameter's units. On a log parameter it is normal in ``log10`` of the
  value: ``loc`` is the value at its centre (in the parameter's units) and ``scale`` its standard
  deviation in *decades*.
- :class:`Uniform` ``(low, high)``: flat on a sub-range of the bounds (log-flat on a log parameter).
- :class:`Beta` ``(a, b)``: a Beta distribution over the parameter's range mapped to ``[0, 1]``
  (its log range on a log parameter).
- A categorical's ``weights`` (non-negative, not all zero) are its choices' relative probabilities.

An integer's prior is that of its continuous relaxation: the probability of a value is the mass of
its bin ``[v - 1/2, v + 1/2]`` (on the log axis for a log integer), as the space encodes it.

Every prior becomes an :class:`EncodedPrior`: a density on the parameter's coordinate ``u`` of the
unit cube (``asktell.space``), which is where the loops use it: its log density (piBO weights the
acquisition with it), its mode (the first point of BayesOpt's design) and its quantile function
(design points and RandomSearch drawn from the prior). This module is part of the data layer: NumPy
and the standard library only (SciPy for Beta's quantiles, imported when drawn).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from asktell.errors import SpaceError

# A prior with less of its mass than this inside the parameter's bounds is refused: truncated to the
# bounds it would be a different belief than the one written (a normal centred far outside them).
MIN_MASS = 0.01
# Density floor of a prior (SMAC3's ``prior_floor``): a point the prior rules out keeps a tiny
# weight, so a misleading prior slows the search there instead of forbidding it for good.
PRIOR_FLOOR = 1e-12
_STANDARD = NormalDist()


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpaceError(f"{what} must be a number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise SpaceError(f"{what} must be finite, got {value!r}.")
    return value


@dataclass(frozen=True)
class Normal:
    """A normal belief: ``loc`` (the most likely value) and ``scale`` (std; decades on a log
    parameter), truncated to the parameter's bounds."""

    loc: float
    scale: float
    kind: ClassVar[str] = "normal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "loc", _number(self.loc, "Normal's `loc`"))
        object.__setattr__(self, "scale", _number(self.scale, "Normal's `scale`"))
        if self.scale <= 0:
            raise SpaceError(f"Normal's `scale` (its standard deviation) must be > 0, got {self.scale!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "loc": self.loc, "scale": self.scale}


@dataclass(frozen=True)
class Uniform:
    """A flat belief on ``[low, high]``, a sub-range of the parameter's bounds (log-flat on a log
    parameter)."""

    low: float
    high: float
    kind: ClassVar[str] = "uniform"

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", _number(self.low, "Uniform's `low`"))
        object.__setattr__(self, "high", _number(self.high, "Uniform's `high`"))
        if not self.low < self.high:
            raise SpaceError(f"Uniform needs `low < high`, got low={self.low!r}, high={self.high!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class Beta:
    """A Beta(``a``, ``b``) belief over the parameter's range mapped onto ``[0, 1]`` (its log range
    on a log parameter): ``Beta(2, 5)`` leans to the low end, ``Beta(5, 5)`` to the middle."""

    a: float
    b: float
    kind: ClassVar[str] = "beta"

    def __post_init__(self) -> None:
        for field in ("a", "b"):
            value = _number(getattr(self, field), f"Beta's `{field}`")
            if value <= 0:
                raise SpaceError(f"Beta's `{field}` must be > 0, got {value!r}.")
            object.__setattr__(self, field, value)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "a": self.a, "b": self.b}


Prior = Normal | Uniform | Beta
_PRIOR_TYPES: dict[str, type] = {"normal": Normal, "uniform": Uniform, "beta": Beta}
_FIELDS = {"normal": ("loc", "scale"), "uniform": ("low", "high"), "beta": ("a", "b")}


def prior_from_dict(data: Any) -> Prior:
    """A prior from its ``to_dict()`` form (``{"type": "normal", "loc": 1e-3, "scale": 1.0}``)."""
    if isinstance(data, (Normal, Uniform, Beta)):
        return data
    if not isinstance(data, Mapping) or data.get("type") not in _PRIOR_TYPES:
        raise SpaceError(f"a prior must be an object with a 'type' in {sorted(_PRIOR_TYPES)}, got {data!r}.")
    kind = data["type"]
    fields = {k: v for k, v in data.items() if k != "type"}
    if sorted(fields) != sorted(_FIELDS[kind]):
        raise SpaceError(f"a {kind} prior has exactly the keys {list(_FIELDS[kind])}, got {sorted(fields)}.")
    return _PRIOR_TYPES[kind](**fields)


def check_weights(weights: Any, n_choices: int) -> tuple[float, ...]:
    """A categorical's weights, checked: ``n_choices`` finite numbers ``>= 0``, not all zero."""
    if isinstance(weights, (str, bytes)) or not isinstance(weights, Sequence | np.ndarray):
        raise SpaceError(f"`weights` must be a list of numbers, one per choice, got {weights!r}.")
    values = tuple(_number(w, "a weight") for w in weights)
    if len(values) != n_choices:
        raise SpaceError(f"`weights` needs one number per choice ({n_choices}), got {len(values)}.")
    if any(w < 0 for w in values):
        raise SpaceError(f"`weights` must be >= 0, got {list(values)}.")
    if sum(values) <= 0:
        raise SpaceError("`weights` must not all be zero.")
    return values


# --- the prior on the unit cube ------------------------------------------------------------------
@dataclass(frozen=True)
class EncodedPrior:
    """A prior as a density on one coordinate ``u`` of the unit cube.

    ``kind`` and ``args``:

    - ``"normal"``, ``(m, s)``: a normal of mean ``m`` and std ``s`` (in ``u``) truncated to ``[0, 1]``;
    - ``"uniform"``, ``(a, b)``: flat on ``[a, b]``, ``0 <= a < b <= 1``;
    - ``"beta"``, ``(a, b)``: Beta(a, b) on ``[0, 1]``;
    - ``"bins"``, ``(p_0, ..., p_{k-1})``: probability ``p_i`` spread evenly over the ``i``-th of
      ``k`` equal bins (a categorical's weights, normalized).
    """

    kind: str
    args: tuple[float, ...]

    def _normal_cdf_span(self) -> tuple[float, float]:
        m, s = self.args
        return _STANDARD.cdf((0.0 - m) / s), _STANDARD.cdf((1.0 - m) / s)

    @property
    def mass(self) -> float:
        """The untruncated prior's mass inside ``[0, 1]`` (1 except for a normal)."""
        if self.kind != "normal":
            return 1.0
        lo, hi = self._normal_cdf_span()
        return hi - lo

    def log_pdf(self, u: np.ndarray) -> np.ndarray:
        """Log density at ``u`` (any shape, inside ``[0, 1]``); ``-inf`` where it is zero."""
        u = np.asarray(u, dtype=np.float64)
        with np.errstate(divide="ignore"):
            if self.kind == "normal":
                m, s = self.args
                z = (u - m) / s
                return -0.5 * z * z - math.log(s * math.sqrt(2 * math.pi)) - math.log(self.mass)
            if self.kind == "uniform":
                a, b = self.args
                return np.where((u >= a) & (u <= b), -math.log(b - a), -np.inf)
            if self.kind == "beta":
                a, b = self.args
                log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
                inner = np.clip(u, 1e-300, 1.0 - 1e-16)
                return (a - 1) * np.log(inner) + (b - 1) * np.log1p(-inner) - log_beta
            k = len(self.args)
            index = np.clip(np.floor(u * k), 0, k - 1).astype(int)
            return np.log(np.asarray(self.args) * k)[index]

    def mode(self) -> float:
        """The most likely ``u`` (a bin's centre for ``"bins"``)."""
        if self.kind == "normal":
            return min(max(self.args[0], 0.0), 1.0)
        if self.kind == "uniform":
            return 0.5 * (self.args[0] + self.args[1])
        if self.kind == "beta":
            a, b = self.args
            if a > 1 and b > 1:
                return (a - 1) / (a + b - 2)
            if a == b == 1:  # flat: the middle
                return 0.5
            return 1.0 if a > b else 0.0  # the end it piles up at (both, a = b < 1: the lower)
        return (int(np.argmax(self.args)) + 0.5) / len(self.args)

    def quantile(self, v: np.ndarray) -> np.ndarray:
        """The prior's quantile function at ``v`` in ``[0, 1]`` (any shape): uniform draws in,
        draws from the prior out (a Sobol point stays evenly spread in the prior's measure)."""
        v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
        if self.kind == "uniform":
            a, b = self.args
            return a + v * (b - a)
        if self.kind == "normal":
            m, s = self.args
            lo, hi = self._normal_cdf_span()
            p = np.clip(lo + v * (hi - lo), 1e-300, 1.0 - 1e-16)
            out = np.array([m + s * _STANDARD.inv_cdf(float(x)) for x in p.reshape(-1)]).reshape(v.shape)
            return np.clip(out, 0.0, 1.0)
        if self.kind == "beta":
            from scipy.special import betaincinv  # only here: a shell's tell never draws

            return np.asarray(betaincinv(self.args[0], self.args[1], v), dtype=np.float64)
        p = np.asarray(self.args)
        edges = np.concatenate([[0.0], np.cumsum(p)])
        edges[-1] = 1.0
        index = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(p) - 1)
        index = np.where(p[index] > 0, index, np.argmax(p))  # an empty bin is never drawn
        within = np.where(p[index] > 0, (v - edges[index]) / np.where(p[index] > 0, p[index], 1.0), 0.5)
        return (index + np.clip(within, 0.0, 1.0)) / len(p)


def encoded_normal(loc_u: float, scale_u: float, what: str) -> EncodedPrior:
    """A normal prior on ``u`` (mean ``loc_u``, std ``scale_u``), refused when less than
    :data:`MIN_MASS` of it lies inside the bounds."""
    encoded = EncodedPrior("normal", (loc_u, scale_u))
    if not encoded.mass >= MIN_MASS:
        raise SpaceError(
            f"the prior of {what} has {encoded.mass:.2g} of its mass inside the bounds (at least "
            f"{MIN_MASS} is needed): centre it nearer the range, or widen it."
        )
    return encoded


def encoded_uniform(low_u: float, high_u: float, what: str) -> EncodedPrior:
    """A flat prior on ``[low_u, high_u]``, refused unless it lies inside ``[0, 1]``."""
    if not (0.0 <= low_u < high_u <= 1.0):
        raise SpaceError(f"the Uniform prior of {what} must lie inside the parameter's bounds.")
    return EncodedPrior("uniform", (low_u, high_u))


def encoded_bins(weights: Sequence[float]) -> EncodedPrior:
    total = float(sum(weights))
    return EncodedPrior("bins", tuple(float(w) / total for w in weights))
