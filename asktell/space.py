"""Search spaces: parameter types and their encoding to the unit cube.

A :class:`Space` is an ordered mapping from names to parameters (:class:`Real`, :class:`Integer`,
:class:`Categorical`). Models see points encoded to ``[0, 1]^d``, one coordinate per parameter; users
see decoded dicts.

Encoding (one coordinate per parameter, so ``d == len(space)``):

- ``Real``: affine map of ``[low, high]`` (or of ``[log low, log high]`` with ``log=True``) onto
  ``[0, 1]``.
- ``Integer`` and ``Categorical``: *bin-centre index encoding*. The ``k`` allowed values split
  ``[0, 1]`` into ``k`` equal bins; a value is encoded at its bin's centre ``(i + 0.5) / k`` and any
  ``u`` decodes to the value of the bin it falls in. Uniform sampling of the cube is therefore uniform
  over the values, every coordinate of the cube decodes to a valid point, and the allowed encoded
  values are what BoTorch's mixed optimizer takes as ``discrete_dims`` / ``cat_dims``. Categoricals use
  an index rather than one-hot coordinates so that the dimension stays small; their GP kernel treats
  the coordinate as categorical (equal or not), so the order of the choices carries no meaning.
  A log-scale ``Integer`` places its bins ``[v - 0.5, v + 0.5]`` on the log axis.

Round trips: ``decode(encode(p)) == p`` exactly for integers and choices. For reals, ``decode``
returns a float whose encoding is exactly the given ``u`` (it searches the floats near the closed-form
inverse), so ``encode(decode(encode(p))) == encode(p)``; ``decode(encode(p))`` is ``p`` itself except
where the encoding maps several adjacent floats to one ``u`` (log scales compress, spans below 1
expand), and then it is one of those floats, within ~1e-15 relative.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from asktell.checks import json_error
from asktell.errors import ConfigError, ParamError, SpaceError
from asktell.priors import (
    Beta,
    EncodedPrior,
    Normal,
    Prior,
    Uniform,
    check_weights,
    encoded_bins,
    encoded_normal,
    encoded_uniform,
    prior_from_dict,
)

Choice = str | int | float | bool | None
_JSON_SCALARS = (str, int, float, bool, type(None))


def _as_array(x: Any) -> np.ndarray:
    """``x`` as a float64 NumPy array. Tensors are read through ``detach().cpu()`` (duck-typed: the
    data layer imports no torch), so one that requires grad decodes like any other."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


# Integer parameters are encoded in float64: bounds and the number of values stay exact below 2**53.
MAX_INTEGER = 2**53
# Integer parameters with more values than this are optimized as reals and rounded, not enumerated
# (BoTorch's mixed optimizer takes the list of every allowed value; 1e7 values cost 4.6 s and 0.7 GB).
MAX_ENUMERATED_VALUES = 10_000


def _finite_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SpaceError(f"{what} must be a number, got {value!r}.")
    try:
        value = float(value)
    except OverflowError:  # an int beyond a float's range
        raise SpaceError(f"{what} must be finite, got an integer of {len(str(value))} digits.") from None
    if not math.isfinite(value):
        raise SpaceError(f"{what} must be finite, got {value!r}.")
    return value


def _check_log(param: Any) -> None:
    """Refuse a ``log`` flag that is not a boolean (``"yes"`` or ``0.5`` would be stored as given)."""
    if not isinstance(param.log, (bool, np.bool_)):
        raise SpaceError(f"`log` must be true or false, got {param.log!r}.")
    object.__setattr__(param, "log", bool(param.log))


def _short_int(value: int) -> str:
    text = str(value)
    return text if len(text) <= 24 else f"{text[:8]}...({len(text)} digits)"


def _ordinal(v: float) -> int:
    """Map floats to integers in the same order (adjacent floats -> adjacent integers)."""
    bits = struct.unpack("<q", struct.pack("<d", v))[0]
    return bits if bits >= 0 else -(bits & 0x7FFFFFFFFFFFFFFF)


def _from_ordinal(k: int) -> float:
    bits = k if k >= 0 else (-k) | -0x8000000000000000
    return struct.unpack("<d", struct.pack("<q", bits))[0]


# Half-width, in ulps, of the window searched around the affine guess by Real.decode_array.
_ULP_WINDOW = 4


def _ulps_from(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` moved by ``k`` ulps (towards +inf for ``k > 0``)."""
    out = x
    for _ in range(abs(k)):
        out = np.nextafter(out, np.inf if k > 0 else -np.inf)
    return out


def _decode_linear(U: np.ndarray, params: Sequence[Real]) -> np.ndarray:
    """``Real.decode`` of every entry of ``U`` (``n x k``), column ``j`` by linear ``params[j]``.

    Vectorized, with the same results: a linear parameter's exact inverse is almost always within
    a few ulps of the affine guess, so the candidates ``guess +- k ulps`` are encoded with the same
    float operations as :meth:`Real.encode` and the scalar search's choice is made among them.
    Entries whose choice is not settled inside that window go through :meth:`Real.decode`.
    """
    U = np.clip(U, 0.0, 1.0)
    lo = np.array([p.low for p in params], dtype=np.float64)
    hi = np.array([p.high for p in params], dtype=np.float64)
    guess = np.clip(lo + U * (hi - lo), lo, hi)
    # ... x k x (2 window + 1) candidates in increasing order; encodings are monotone in them
    cand = np.stack([_ulps_from(guess, k) for k in range(-_ULP_WINDOW, _ULP_WINDOW + 1)], axis=-1)
    cand = np.clip(cand, lo[:, None], hi[:, None])
    enc = np.clip((cand - lo[:, None]) / (hi - lo)[:, None], 0.0, 1.0)
    target = U[..., None]
    exact, below, above = enc == target, enc < target, enc > target
    width = cand.shape[-1]
    # the scalar rule: the guess if it is exact, else a unique exact candidate (which of several
    # the bisection meets first is left to the scalar search), else the nearer of the largest
    # candidate below and the smallest above, ties going to the one below
    a_idx = np.where(below.any(-1), width - 1 - np.argmax(below[..., ::-1], axis=-1), 0)
    b_idx = np.where(above.any(-1), np.argmax(above, axis=-1), width - 1)
    take = np.take_along_axis
    va, vb = take(cand, a_idx[..., None], -1)[..., 0], take(cand, b_idx[..., None], -1)[..., 0]
    ea, eb = take(enc, a_idx[..., None], -1)[..., 0], take(enc, b_idx[..., None], -1)[..., 0]
    out = np.where(np.abs(ea - U) <= np.abs(eb - U), va, vb)
    n_exact = exact.sum(-1)
    settled = (n_exact == 0) & below.any(-1) & above.any(-1) & (b_idx == a_idx + 1)
    out = np.where(n_exact == 1, take(cand, np.argmax(exact, axis=-1)[..., None], -1)[..., 0], out)
    center = exact[..., _ULP_WINDOW]
    out = np.where(center, guess, out)
    settled |= (n_exact == 1) | center
    out = np.where(U == 0.0, lo, np.where(U == 1.0, hi, out))
    settled |= (U == 0.0) | (U == 1.0)
    for i, j in zip(*np.nonzero(~settled), strict=True):
        out[i, j] = params[j].decode(float(U[i, j]))
    return out


def _invert(u: float, guess: float, lo: float, hi: float, to_u) -> float:
    """The float ``v`` in ``[lo, hi]`` with ``to_u(v) == u``, searched near ``guess``.

    The closed-form inverse of an encoding (``exp`` of an affine map, say) can be hundreds of ulps
    off; ``to_u`` is monotone, so bracket ``u`` by doubling steps in ulps from the guess, then
    bisect on the floats themselves. When no float encodes exactly to ``u``, the result is the
    largest float whose encoding is below ``u`` or the smallest above it, whichever is closer.
    """
    k_lo, k_hi = _ordinal(lo), _ordinal(hi)
    k = min(max(_ordinal(min(max(guess, lo), hi)), k_lo), k_hi)
    if to_u(_from_ordinal(k)) == u:
        return _from_ordinal(k)
    # bracket: a <= answer <= b, with to_u(a) <= u <= to_u(b)
    direction = 1 if to_u(_from_ordinal(k)) < u else -1
    step, a = 1, k
    while True:
        b = min(max(a + direction * step, k_lo), k_hi)
        if (to_u(_from_ordinal(b)) - u) * direction >= 0 or b in (k_lo, k_hi):
            break
        a, step = b, step * 2
    a, b = min(a, b), max(a, b)
    while b - a > 1:
        mid = (a + b) // 2
        got = to_u(_from_ordinal(mid))
        if got == u:
            return _from_ordinal(mid)
        a, b = (mid, b) if got < u else (a, mid)
    va, vb = _from_ordinal(a), _from_ordinal(b)
    if to_u(vb) == u:
        return vb
    return va if abs(to_u(va) - u) <= abs(to_u(vb) - u) else vb


def _prior_axis(param: Real | Integer) -> tuple[Any, float, float]:
    """The axis a prior of ``param`` is written on (the value, or ``log10`` of it on a log
    parameter) and the ends of the coordinate ``u`` on it: ``u = (axis(v) - lo) / (hi - lo)``.
    An integer's ends are its outer bins' edges, ``low - 1/2`` and ``high + 1/2``."""
    low, high = (param.low - 0.5, param.high + 0.5) if isinstance(param, Integer) else (param.low, param.high)
    if param.log:
        return math.log10, math.log10(low), math.log10(high)
    return (lambda v: v), float(low), float(high)


def _encode_prior(param: Real | Integer) -> EncodedPrior | None:
    """``param``'s prior as a density on its coordinate, checked against its bounds (or None)."""
    prior = param.prior
    if prior is None:
        return None
    what = f"the {param.kind} parameter on [{param.low!r}, {param.high!r}]"
    axis, lo, hi = _prior_axis(param)
    span = hi - lo
    if isinstance(prior, Normal):
        if param.log and prior.loc <= 0:
            raise SpaceError(
                f"{what} is on a log scale: its Normal prior's `loc` must be > 0, got {prior.loc!r}."
            )
        return encoded_normal((axis(prior.loc) - lo) / span, prior.scale / span, what)
    if isinstance(prior, Uniform):
        if not param.low <= prior.low < prior.high <= param.high:
            raise SpaceError(
                f"the Uniform prior [{prior.low!r}, {prior.high!r}] of {what} must lie inside the bounds."
            )
        ends = (prior.low - 0.5, prior.high + 0.5) if isinstance(param, Integer) else (prior.low, prior.high)
        low_u, high_u = (min(max((axis(e) - lo) / span, 0.0), 1.0) for e in ends)
        return encoded_uniform(low_u, high_u, what)
    return EncodedPrior("beta", (prior.a, prior.b))


def _check_prior(param: Real | Integer) -> None:
    """Refuse a prior that is not one (or is refused for this parameter's bounds), and keep its
    encoded form on the parameter (not a field: equality and the JSON form are the prior's)."""
    if param.prior is not None:
        if isinstance(param.prior, Mapping):
            object.__setattr__(param, "prior", prior_from_dict(param.prior))
        elif not isinstance(param.prior, (Normal, Uniform, Beta)):
            raise SpaceError(
                f"`prior` must be an asktell.priors Normal, Uniform or Beta (or None), got {param.prior!r}."
            )
    object.__setattr__(param, "_encoded_prior", _encode_prior(param))


def _with_prior(data: dict[str, Any], param: Real | Integer) -> dict[str, Any]:
    # a space without priors keeps the JSON form it had before priors existed
    return data if param.prior is None else {**data, "prior": param.prior.to_dict()}


@dataclass(frozen=True)
class Real:
    """A real parameter in ``[low, high]``, optionally on a log scale (``low > 0``), with an
    optional ``prior`` over where its best value lies (:mod:`asktell.priors`)."""

    low: float
    high: float
    log: bool = False
    prior: Prior | None = None
    kind: ClassVar[str] = "real"

    def __post_init__(self) -> None:
        _check_log(self)
        object.__setattr__(self, "low", _finite_number(self.low, "`low`"))
        object.__setattr__(self, "high", _finite_number(self.high, "`high`"))
        if not self.low < self.high:
            raise SpaceError(f"`low < high` must hold, but got low={self.low!r}, high={self.high!r}.")
        if self.log and self.low <= 0:
            raise SpaceError(f"`log=True` needs `low > 0`, but got low={self.low!r}.")
        if not math.isfinite(self.high - self.low):
            raise SpaceError(
                f"the width `high - low` must be a finite float, but [{self.low!r}, {self.high!r}] "
                "overflows; rescale the parameter, or use log=True for a positive range."
            )
        _check_prior(self)

    @property
    def encoded_prior(self) -> EncodedPrior | None:
        """The prior as a density on this parameter's coordinate of the unit cube, or None."""
        return self._encoded_prior  # type: ignore[attr-defined]

    def _to_axis(self, value: float) -> float:
        return math.log(value) if self.log else value

    def _bounds(self) -> tuple[float, float]:
        return self._to_axis(self.low), self._to_axis(self.high)

    def check(self, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ParamError(f"must be a real number, got {value!r} of type {type(value).__name__}")
        try:
            value = float(value)
        except OverflowError:  # an int beyond a float's range
            raise ParamError(
                f"must lie in [{self.low!r}, {self.high!r}], got an integer of {len(str(value))} digits"
            ) from None
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ParamError(f"must lie in [{self.low!r}, {self.high!r}], got {value!r}")
        return value

    def encode(self, value: float) -> float:
        lo, hi = self._bounds()
        return min(max((self._to_axis(value) - lo) / (hi - lo), 0.0), 1.0)

    def decode(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if u == 1.0:  # the ends decode exactly, whatever the float arithmetic does in between
            return self.high
        if u == 0.0:
            return self.low
        lo, hi = self._bounds()
        guess = lo + u * (hi - lo)
        return _invert(u, math.exp(guess) if self.log else guess, self.low, self.high, self.encode)

    def decode_array(self, u: np.ndarray) -> np.ndarray:
        """:meth:`decode` of every entry of ``u`` (``n``): the same floats, vectorized."""
        u = np.asarray(u, dtype=np.float64).reshape(-1)
        if self.log:
            return np.array([self.decode(float(v)) for v in u], dtype=np.float64)
        return _decode_linear(u[:, None], [self])[:, 0]

    def to_dict(self) -> dict[str, Any]:
        return _with_prior({"type": self.kind, "low": self.low, "high": self.high, "log": self.log}, self)


@dataclass(frozen=True)
class Integer:
    """An integer parameter in ``[low, high]`` (both included), optionally on a log scale, with an
    optional ``prior`` (:mod:`asktell.priors`; on the values' continuous relaxation)."""

    low: int
    high: int
    log: bool = False
    prior: Prior | None = None
    kind: ClassVar[str] = "integer"

    def __post_init__(self) -> None:
        _check_log(self)
        for field in ("low", "high"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise SpaceError(f"`{field}` must be an integer, got {value!r}.")
            object.__setattr__(self, field, int(value))
        if not self.low < self.high:
            raise SpaceError(f"`low < high` must hold, but got low={self.low!r}, high={self.high!r}.")
        if self.log and self.low <= 0:
            raise SpaceError(f"`log=True` needs `low > 0`, but got low={self.low!r}.")
        if max(abs(self.low), abs(self.high)) > MAX_INTEGER or self.n_values > MAX_INTEGER:
            raise SpaceError(
                f"integer bounds must lie within +-2**53 and span at most 2**53 values (they are "
                f"encoded exactly in a float), got [{_short_int(self.low)}, {_short_int(self.high)}]; "
                "use a Real for wider ranges."
            )
        _check_prior(self)

    @property
    def encoded_prior(self) -> EncodedPrior | None:
        """The prior as a density on this parameter's coordinate of the unit cube, or None."""
        return self._encoded_prior  # type: ignore[attr-defined]

    @property
    def n_values(self) -> int:
        return self.high - self.low + 1

    def check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ParamError(f"must be an integer, got {value!r} of type {type(value).__name__}")
        value = int(value)
        if not self.low <= value <= self.high:
            raise ParamError(f"must lie in [{self.low}, {self.high}], got {value!r}")
        return value

    def encode(self, value: int) -> float:
        if not self.log:
            return (value - self.low + 0.5) / self.n_values
        lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
        return (math.log(value) - lo) / (hi - lo)

    def decode(self, u: float) -> int:
        u = min(max(float(u), 0.0), 1.0)
        if not self.log:
            value = self.low + math.floor(u * self.n_values)
        else:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = math.floor(math.exp(lo + u * (hi - lo)) + 0.5)
        return min(max(value, self.low), self.high)

    def encoded_values(self) -> list[float]:
        """The encodings of all allowed values, in increasing order."""
        return [self.encode(v) for v in range(self.low, self.high + 1)]

    def to_dict(self) -> dict[str, Any]:
        return _with_prior({"type": self.kind, "low": self.low, "high": self.high, "log": self.log}, self)


def _same_choice(a: Any, b: Any) -> bool:
    # True == 1 and 1 == 1.0 in Python; a choice list [1, True] must keep them apart.
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and a != a))


@dataclass(frozen=True)
class Categorical:
    """One of a fixed list of JSON scalars (str, int, float, bool or None); order carries no meaning.
    ``weights`` (optional, one per choice, ``>= 0``) are the prior's relative probabilities."""

    choices: tuple[Choice, ...]
    weights: tuple[float, ...] | None = None
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        if isinstance(self.choices, (str, bytes)) or not isinstance(self.choices, Iterable):
            raise SpaceError(f"`choices` must be a list of values, got {self.choices!r}.")
        choices = tuple(c.item() if isinstance(c, np.generic) else c for c in self.choices)
        if not choices:
            raise SpaceError("`choices` must not be empty.")
        for c in choices:
            if not isinstance(c, _JSON_SCALARS):
                raise SpaceError(f"choices must be str, int, float, bool or None (JSON scalars), got {c!r}.")
            if isinstance(c, float) and not math.isfinite(c):
                raise SpaceError(f"choices must be finite, got {c!r}.")
        for i, c in enumerate(choices):
            if any(_same_choice(c, other) for other in choices[:i]):
                raise SpaceError(f"choices must be distinct, but {c!r} appears twice.")
        object.__setattr__(self, "choices", choices)
        if self.weights is not None:
            object.__setattr__(self, "weights", check_weights(self.weights, len(choices)))

    @property
    def encoded_prior(self) -> EncodedPrior | None:
        """The weights as a density on this parameter's coordinate (equal bins), or None."""
        return None if self.weights is None else encoded_bins(self.weights)

    def index(self, value: Any) -> int:
        if isinstance(value, np.generic):
            value = value.item()
        for i, c in enumerate(self.choices):
            if _same_choice(c, value):
                return i
        raise ParamError(f"must be one of {list(self.choices)!r}, got {value!r}")

    def check(self, value: Any) -> Choice:
        return self.choices[self.index(value)]

    def encode(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.choices)

    def decode(self, u: float) -> Choice:
        u = min(max(float(u), 0.0), 1.0)
        return self.choices[min(math.floor(u * len(self.choices)), len(self.choices) - 1)]

    def encoded_values(self) -> list[float]:
        return [(i + 0.5) / len(self.choices) for i in range(len(self.choices))]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind, "choices": list(self.choices)}
        return data if self.weights is None else {**data, "weights": list(self.weights)}


Param = Real | Integer | Categorical
_PARAM_TYPES: dict[str, type] = {"real": Real, "integer": Integer, "categorical": Categorical}


def param_from_dict(data: Any) -> Param:
    """Build a parameter from its ``to_dict()`` form."""
    if not isinstance(data, Mapping) or "type" not in data:
        raise SpaceError(f"a parameter must be an object with a 'type' key, got {data!r}.")
    kind = data["type"]
    if not isinstance(kind, str) or kind not in _PARAM_TYPES:
        raise SpaceError(f"parameter type must be one of {sorted(_PARAM_TYPES)}, got {kind!r}.")
    fields = {k: v for k, v in data.items() if k != "type"}
    allowed = {"choices", "weights"} if kind == "categorical" else {"low", "high", "log", "prior"}
    unknown = set(fields) - allowed
    if unknown:
        raise SpaceError(
            f"unknown keys {sorted(unknown)} for a {kind} parameter; allowed: {sorted(allowed)}."
        )
    try:
        return _PARAM_TYPES[kind](**fields)
    except TypeError as exc:
        raise SpaceError(f"bad {kind} parameter {dict(data)!r}: {exc}") from None


class Space:
    """An ordered set of named parameters.

    Args:
        params: a mapping ``name -> Real | Integer | Categorical`` (insertion order is the coordinate
            order), or a sequence of ``(name, param)`` pairs (duplicate names are refused).

    Example:
        >>> space = Space({"lr": Real(1e-4, 1e-1, log=True), "layers": Integer(1, 4)})
        >>> space.decode(space.encode({"lr": 0.01, "layers": 3}))
        {'lr': 0.01, 'layers': 3}
    """

    def __init__(self, params: Mapping[str, Param] | Sequence[tuple[str, Param]]):
        items = list(params.items()) if isinstance(params, Mapping) else list(params)
        checked: dict[str, Param] = {}
        for item in items:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise SpaceError(f"a space is built from (name, parameter) pairs, got {item!r}.")
            name, param = item
            if not isinstance(name, str) or not name:
                raise SpaceError(f"parameter names must be non-empty strings, got {name!r}.")
            if name in checked:
                raise SpaceError(f"parameter names must be unique, but {name!r} appears twice.")
            if not isinstance(param, (Real, Integer, Categorical)):
                raise SpaceError(f"parameter {name!r} must be a Real, Integer or Categorical, got {param!r}.")
            checked[name] = param
        if not checked:
            raise SpaceError("a space needs at least one parameter.")
        self._params = MappingProxyType(checked)
        self.names: tuple[str, ...] = tuple(checked)
        self._priors = {
            i: p.encoded_prior for i, p in enumerate(checked.values()) if p.encoded_prior is not None
        }

    # --- mapping-like access ----------------------------------------------------------------
    @property
    def params(self) -> Mapping[str, Param]:
        return self._params

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def __iter__(self):
        return iter(self.names)

    @property
    def dim(self) -> int:
        """Number of coordinates of the encoded point (one per parameter)."""
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=False))

    def __reduce__(self):
        # The parameters live in a read-only MappingProxyType, which neither pickle nor deepcopy
        # handle; scikit-learn's clone deep-copies estimator arguments and joblib pickles them to
        # workers. A space is immutable and rebuilt exactly from its (name, parameter) pairs.
        return Space, (list(self._params.items()),)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {p!r}" for n, p in self._params.items())
        return f"Space({{{inner}}})"

    # --- validation and encoding ------------------------------------------------------------
    def check(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate a point and return it normalized (plain Python types, space order).

        Raises:
            ParamError: names missing or extra, a value of the wrong type or out of range.
        """
        if not isinstance(params, Mapping):
            raise ParamError(f"a point must be a dict of parameter values, got {params!r}.")
        missing = [n for n in self.names if n not in params]
        extra = [n for n in params if n not in self._params]
        if missing or extra:
            raise ParamError(
                f"a point must have exactly the parameters {list(self.names)}; "
                f"missing {missing}, unexpected {extra}."
            )
        out: dict[str, Any] = {}
        for name in self.names:
            try:
                out[name] = self._params[name].check(params[name])
            except ParamError as exc:
                raise ParamError(f"parameter {name!r} {exc}.") from None
        return out

    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """Encode one valid point: returns a ``d`` float64 array in ``[0, 1]^d``."""
        checked = self.check(params)
        return np.array([self._params[n].encode(checked[n]) for n in self.names], dtype=np.float64)

    def encode_many(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode ``n`` points: returns an ``n x d`` float64 array."""
        if not points:
            return np.zeros((0, self.dim), dtype=np.float64)
        return np.stack([self.encode(p) for p in points])

    def decode(self, x: Any) -> dict[str, Any]:
        """Decode a ``d`` vector of the unit cube (values outside are clipped) to a point.

        ``x`` is anything array-like: a list, a NumPy array, a CPU tensor (one that requires grad
        included; models hand those out).
        """
        values = _as_array(x).reshape(-1).tolist()
        if len(values) != self.dim:
            raise ParamError(f"expected an encoded point of {self.dim} coordinates, got {len(values)}.")
        return {n: self._params[n].decode(u) for n, u in zip(self.names, values, strict=False)}

    def decode_many(self, X: Any) -> list[dict[str, Any]]:
        """Decode an ``n x d`` array (or tensor) to ``n`` points (the points :meth:`decode` gives
        per row).

        Linear real parameters are decoded together (:func:`_decode_linear`): in hundreds of
        dimensions the per-value search would otherwise dominate an ask.
        """
        U = _as_array(X).reshape(-1, self.dim)
        params = list(self._params.values())
        reals = {j: p for j, p in enumerate(params) if isinstance(p, Real) and not p.log}
        linear = list(reals)
        columns: list[list[Any]] = [[] for _ in params]
        if linear:
            decoded = _decode_linear(U[:, linear], list(reals.values()))
            for k, j in enumerate(linear):
                columns[j] = decoded[:, k].tolist()
        others = set(range(len(params))).difference(linear)
        for j in others:
            columns[j] = [params[j].decode(float(v)) for v in U[:, j]]
        return [dict(zip(self.names, row, strict=True)) for row in zip(*columns, strict=True)]

    def snap(self, X: Any) -> np.ndarray:
        """Round an ``n x d`` array to encodings of valid points (integers and choices to bin centres)."""
        return self.encode_many(self.decode_many(X))

    def sample(self, n: int, rng: np.random.Generator) -> list[dict[str, Any]]:
        """``n`` points drawn uniformly (uniform over the values of integers and choices) from a
        NumPy generator. The loops draw from torch generators instead and decode the draws."""
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(
                f"Space.sample takes a numpy.random.Generator, got {type(rng).__name__}; "
                "for a torch generator decode its draws: space.decode_many(torch.rand(n, d, generator=g))."
            )
        return self.decode_many(rng.random((n, self.dim)))

    def discrete_dims(self) -> dict[int, list[float]]:
        """Encoded values of the ordinal (``Integer``) coordinates, for BoTorch's mixed optimizer.

        Integers with more than ``MAX_ENUMERATED_VALUES`` values are left out: an optimizer treats
        them as reals, and decoding rounds them to the nearest allowed value.
        """
        return {
            i: p.encoded_values()
            for i, p in enumerate(self._params.values())
            if isinstance(p, Integer) and p.n_values <= MAX_ENUMERATED_VALUES
        }

    def categorical_dims(self) -> dict[int, list[float]]:
        """Encoded values of the ``Categorical`` coordinates, for BoTorch's mixed optimizer."""
        return {
            i: p.encoded_values() for i, p in enumerate(self._params.values()) if isinstance(p, Categorical)
        }

    # --- priors (asktell.priors) ---------------------------------------------------------------
    @property
    def priors(self) -> Mapping[int, EncodedPrior]:
        """The coordinates that have a prior, each with its density on the unit cube."""
        return MappingProxyType(self._priors)

    @property
    def has_priors(self) -> bool:
        return bool(self._priors)

    def prior_log_density(self, X: Any) -> np.ndarray:
        """Log density of the prior at encoded points ``X`` (``n x d``): ``n``, the sum over the
        coordinates with a prior (the others are uniform on ``[0, 1]``, density 1)."""
        U = _as_array(X).reshape(-1, self.dim)
        out = np.zeros(U.shape[0], dtype=np.float64)
        for i, prior in self._priors.items():
            out = out + prior.log_pdf(U[:, i])
        return out

    def prior_mode(self, x: Any) -> np.ndarray:
        """The encoded point ``x`` (``d``) with each coordinate that has a prior moved to the
        prior's mode: ``d``."""
        out = _as_array(x).reshape(self.dim).copy()
        for i, prior in self._priors.items():
            out[i] = prior.mode()
        return out

    def from_prior(self, U: Any) -> np.ndarray:
        """Uniform draws ``U`` of the unit cube (``n x d``) turned into draws from the prior, by each
        prior's quantile function (coordinates without a prior are left as they are): ``n x d``."""
        out = _as_array(U).reshape(-1, self.dim).copy()
        for i, prior in self._priors.items():
            out[:, i] = prior.quantile(out[:, i])
        return out

    # --- serialization ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: param.to_dict() for name, param in self._params.items()}

    @classmethod
    def from_dict(cls, data: Any) -> Space:
        if isinstance(data, Space):
            return data
        if isinstance(data, Mapping):
            pairs = list(data.items())
        elif isinstance(data, list) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in data):
            pairs = [tuple(p) for p in data]
        else:
            raise SpaceError(f"a space must be a JSON object of parameters, got {data!r}.")
        return cls([(name, param_from_dict(spec)) for name, spec in pairs])

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Space:
        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [k for k, _ in pairs]
            dup = sorted({k for k in keys if keys.count(k) > 1})
            if dup:
                raise SpaceError(f"parameter names must be unique, but {dup} appear twice.")
            return dict(pairs)

        try:
            data = json.loads(text, object_pairs_hook=no_duplicates)
        except ValueError as exc:  # JSONDecodeError, an integer of 4300+ digits
            raise SpaceError(f"a space file must be JSON: {json_error(exc)}.") from None
        except RecursionError:
            raise SpaceError("a space file must be JSON nested a few levels deep, not thousands.") from None
        return cls.from_dict(data)
