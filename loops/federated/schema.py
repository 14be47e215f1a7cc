"""The JSON a federated client keeps in its memo and a server in its state, typed and checked.

A client's memo (:class:`ClientMemo`, extended by each algorithm) and a server state's JSON
(:class:`ServerJSON`) are described by TypedDicts, as :mod:`asktell.loops.base` types every loop's
memo; :func:`asktell.checks.check_typed` holds a state read from outside to them. What types cannot
say (vectors of the space's dimension inside the unit cube, unit ids of real trials, a phase from
the known ones, arrays of the sizes the algorithm sends) is checked here, so a corrupted state is a
:class:`~asktell.errors.StateError` when it is loaded, never an IndexError at the next ask.

No model here: plain JSON in, a refusal or nothing out. (No ``from __future__ import
annotations`` in this module: a TypedDict sees ``NotRequired`` only in evaluated annotations.)
"""

import math
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from asktell.checks import check_json, check_typed
from asktell.errors import StateError
from asktell.loops.adam import AdamMemo
from asktell.loops.base import Hyperparameters, check_hyperparameters

ITERATE, POST, START = "iterate", "post", "start"  # message kinds (and the server's phases)

# a client's phases (state.memo["phase"]); the values are what stored states hold
PHASE_LOCAL = "local"  # local steps: ask and tell until the iterate is ready
PHASE_REPORT = "report"  # the iterate is ready: client_report sends it
PHASE_AWAIT = "await"  # the iterate is sent: waiting for the post request or the next start
PHASE_POST = "post"  # the post exchange: queries around the new global point x_r
PHASE_REPORT_POST = "report_post"  # the post report is ready: client_report sends it
PHASE_AWAIT_POST = "await_post"  # the post report is sent (or a new client): waiting for a start
CLIENT_PHASES = (PHASE_LOCAL, PHASE_REPORT, PHASE_AWAIT, PHASE_POST, PHASE_REPORT_POST, PHASE_AWAIT_POST)
WORKING = (PHASE_LOCAL, PHASE_POST)  # phases in which the client asks
READY = (PHASE_REPORT, PHASE_REPORT_POST)  # phases in which the client has a message to send
# the client phases of the post exchange: x_global is set, a standalone server awaits post messages
POST_SIDE = (PHASE_POST, PHASE_REPORT_POST, PHASE_AWAIT_POST)
SERVER_FORMAT = "asktell.federated.server"
SERVER_SCHEMA_VERSION = 1  # the server state's own layout (client states are asktell States)
RFF_SEED_LIMIT = 2**64  # derive_seed's range
# a weighted mean of points of the cube may land a rounding error outside it (the server's x)
CUBE_SLACK = 1e-9


class UnitMemo(TypedDict):
    """The client's current unit: points queried without waiting for each other's values."""

    points: list[list[float]]  # planned points (unit cube, ``d`` each); extra ones appended
    ids: list[int]  # the trials asked for the first ``len(ids)`` points, in order
    center: list[float]  # where extra points are drawn around


class ClientMemo(TypedDict):
    """A federated client's memo (every algorithm's; each adds its own keys)."""

    client: int  # this client's index, 0 <= client < n_clients
    n_clients: int  # the federation's size
    standalone: bool  # a federation of one whose exchanges happen inside ask
    round: int  # the round the client is in (1-based once it joined)
    phase: str  # one of CLIENT_PHASES
    unit: UnitMemo
    gp: Hyperparameters | None  # the local GP's hyperparameters, reused between fits
    fits: int  # local GP fits so far
    own: dict[str, list[float]]  # what this client sent in the last round (besides its iterate)
    rff_seed: int  # the random features every client of the federation shares
    x_start: list[float]  # the round's start point (the global iterate received)
    x: list[float]  # the local iterate
    received: dict[str, list[float]]  # the global quantities of the last start message
    t: int  # local steps taken this round, 0 <= t <= local_steps
    adam: AdamMemo  # Adam's moments (reset every round)
    outbox: dict[str, list[float]]  # the message being prepared or sent
    server: NotRequired[dict[str, Any]]  # a standalone client's server state (ServerState JSON)
    x_global: NotRequired[list[float]]  # the new global point of the post exchange


class FZooSMemo(ClientMemo):
    """A FZooS client's memo: the protocol's, and with ``correction="theory"`` the gradient
    uncertainty at the new global point (``U`` of Corollary 1, None without a model yet)."""

    unc: NotRequired[float | None]


class FiniteDifferenceMemo(ClientMemo):
    """A finite-difference client's memo: the protocol's and this round's gradient estimates."""

    grads: list[list[float]]  # one ``d`` estimate per local step with a usable stencil


class ServerJSON(TypedDict):
    """:meth:`ServerState.to_dict`'s JSON."""

    format: str
    schema_version: int
    algorithm: str
    config: dict[str, Any]
    space: dict[str, Any]
    n_clients: int
    weights: list[float]
    seed: int
    round: int
    phase: str
    x: list[float]
    globals: dict[str, list[float]]
    pending_x: list[float] | None


# --- the server state ------------------------------------------------------------------------------
def check_server_json(data: Any) -> None:
    """Raise StateError unless ``data`` is a server state's JSON that reads back as it was written
    (types, finite numbers, one weight per client summing to 1, a known phase, a pending iterate
    exactly in the post phase). Lengths against the space are checked once it is read
    (:func:`check_server_vectors`)."""
    if not isinstance(data, Mapping) or data.get("format") != SERVER_FORMAT:
        raise StateError(f'not a federated server state: expected "format": "{SERVER_FORMAT}".')
    version = data.get("schema_version")
    if isinstance(version, bool) or version != SERVER_SCHEMA_VERSION:
        raise StateError(
            f"server state schema version {version!r} is not {SERVER_SCHEMA_VERSION}; use the "
            "asktell version that wrote it."
        )
    check_json(dict(data), "the server state", error=StateError)
    check_typed(dict(data), ServerJSON, "the server state", error=StateError)
    n, weights = data["n_clients"], data["weights"]
    if n < 1:
        raise StateError(f"the server state's n_clients must be >= 1, got {n}.")
    if len(weights) != n or any(not w > 0 for w in weights) or not math.isclose(sum(weights), 1.0):
        raise StateError(
            f"the server state's weights must be {n} positive numbers summing to 1 (one per "
            f"client), got {_brief(weights)}."
        )
    if not 0 <= data["seed"] < 2**63:
        raise StateError(f"the server state's seed must be in [0, 2**63), got {data['seed']}.")
    if data["round"] < 0:
        raise StateError(f"the server state's round must be >= 0, got {data['round']}.")
    if data["phase"] not in (ITERATE, POST):
        raise StateError(f"the server state's phase must be {ITERATE!r} or {POST!r}, got {data['phase']!r}.")
    if (data["pending_x"] is not None) != (data["phase"] == POST):
        raise StateError(
            "the server state's pending_x is the new iterate of the post phase: set in phase "
            f"{POST!r}, null in phase {ITERATE!r}; got phase {data['phase']!r} with pending_x "
            f"{_brief(data['pending_x'])}."
        )


def check_server_vectors(
    x: Any, pending_x: Any, globals_: Mapping[str, Any], dim: int, sizes: Mapping[str, int]
) -> None:
    """The server's iterates are points of the unit cube of ``dim``; its globals are arrays the
    algorithm sends (``sizes``: name -> length)."""
    check_point(list(x), dim, "the server state's x")
    if pending_x is not None:
        check_point(list(pending_x), dim, "the server state's pending_x")
    check_arrays(globals_, sizes, "the server state's globals")


# --- a client's memo -------------------------------------------------------------------------------
def check_client_memo(
    memo: Mapping[str, Any], dim: int, n_trials: int, local_steps: int, sizes: Mapping[str, int]
) -> None:
    """Raise StateError when a client's memo (of the type :class:`ClientMemo`) contradicts itself
    or its state: ``dim`` is the space's dimension, ``n_trials`` the state's trials, ``sizes`` the
    arrays the algorithm exchanges (name -> length)."""
    phase = memo["phase"]
    if phase not in CLIENT_PHASES:
        raise StateError(f"the memo's phase must be one of {list(CLIENT_PHASES)}, got {phase!r}.")
    for key in ("round", "fits", "t", "rff_seed"):
        if memo[key] < 0:
            raise StateError(f"the memo's {key} must be >= 0, got {memo[key]}.")
    if memo["t"] > local_steps:
        raise StateError(
            f"the memo's t counts local steps: at most local_steps = {local_steps}, got {memo['t']}."
        )
    if memo["rff_seed"] >= RFF_SEED_LIMIT:
        raise StateError(f"the memo's rff_seed must be below 2**64, got {memo['rff_seed']}.")
    n = memo["n_clients"]
    if n < 1 or not 0 <= memo["client"] < n:
        raise StateError(
            f"the memo's client must be an index in 0..n_clients - 1, got {memo['client']} of {n}."
        )
    for key in ("x", "x_start"):
        check_point(memo[key], dim, f"the memo's {key}")
    if "x_global" in memo:
        check_point(memo["x_global"], dim, "the memo's x_global")
    elif phase in POST_SIDE:
        raise StateError(f"a client in phase {phase!r} has the post exchange's x_global; this memo has none.")
    adam = memo["adam"]
    for key in ("m", "v"):
        if len(adam[key]) != dim:
            raise StateError(f"the memo's adam.{key} has {len(adam[key])} coordinates; the space has {dim}.")
    if any(v < 0 for v in adam["v"]) or adam["t"] < 0:
        raise StateError("the memo's adam.v (second moments) and adam.t must be >= 0.")
    _check_unit(memo["unit"], dim, n_trials, phase)
    for key in ("own", "received", "outbox"):
        check_arrays(memo[key], sizes, f"the memo's {key}")
    check_hyperparameters(memo["gp"])
    if memo["standalone"]:
        if "server" not in memo or n != 1:
            raise StateError(
                "a standalone client is the one client of its own server: n_clients 1 and a memo 'server'."
            )
    elif "server" in memo:
        raise StateError("only a standalone client carries a server state in its memo.")


def check_standalone_server(memo: Mapping[str, Any], server_round: int, server_phase: str) -> None:
    """A standalone client and its server are in the same exchange of the same round."""
    expected = POST if memo["phase"] in POST_SIDE else ITERATE
    if server_round + 1 != memo["round"] or server_phase != expected:
        raise StateError(
            f"the standalone client is in round {memo['round']}, phase {memo['phase']!r}, its server "
            f"in round {server_round + 1}, phase {server_phase!r}: they must be in the same exchange."
        )


def _check_unit(unit: Mapping[str, Any], dim: int, n_trials: int, phase: str) -> None:
    points, ids = unit["points"], unit["ids"]
    for j, point in enumerate(points):
        check_point(point, dim, f"the memo's unit.points[{j}]")
    check_point(unit["center"], dim, "the memo's unit.center")
    if len(ids) > len(points) or any(not 0 <= i < n_trials for i in ids) or ids != sorted(set(ids)):
        raise StateError(
            f"the memo's unit.ids must be increasing ids of trials, one per asked point of the unit "
            f"({len(points)} points, {n_trials} trials), got {_brief(ids)}."
        )
    if phase in WORKING and not points:
        raise StateError(f"a client in phase {phase!r} works on a unit of points; this memo's unit has none.")


def check_point(values: list, dim: int, what: str) -> None:
    """Refuse a vector of the wrong length or outside the unit cube [0, 1]^d."""
    if len(values) != dim:
        raise StateError(f"{what} has {len(values)} coordinates; the space has {dim}.")
    if any(not -CUBE_SLACK <= v <= 1.0 + CUBE_SLACK for v in values):
        raise StateError(f"{what} must lie in the unit cube [0, 1]^{dim}, got {_brief(values)}.")


def check_arrays(arrays: Mapping[str, Any], sizes: Mapping[str, int], what: str) -> None:
    """Refuse arrays of names the algorithm does not exchange, or of the wrong length."""
    for name, values in arrays.items():
        if name not in sizes:
            raise StateError(f"{what} holds an array {name!r}; this algorithm exchanges {sorted(sizes)}.")
        if len(values) != sizes[name]:
            raise StateError(
                f"{what}[{name!r}] has {len(values)} numbers; the algorithm sends {sizes[name]}."
            )


def _brief(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 60 else text[:57] + "..."
