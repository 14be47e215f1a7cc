"""The federated protocol: one stateless loop per client plus pure server functions.

A federated algorithm object holds configuration only. Its pieces, all pure:

    server = fed.server_init(space, n_clients, seed)       # ServerState, JSON-serializable
    start = fed.start_message(server)                      # the broadcast that opens a round
    state = fed.client_init(space, start, i, n_clients=n_clients, seed=seed)  # a State per client
    state, trials = fed.ask(state); state = fed.tell(...)  # the client's own queries
    if fed.client_ready(state):
        message, state = fed.client_report(state)          # Message: small numpy payload
    server, broadcast = fed.aggregate(server, messages)    # messages of the clients that reported
    state = fed.client_sync(state, broadcast)

:func:`asktell.loops.federated.rounds.run_round` strings them into one round for any transport
(the in-process runner and Flower both use it).

A round has one or two exchanges. **Iterate exchange**: after ``T`` local steps each client sends its
local iterate ``x_i``; the server averages them (weighted by client weights, over the clients that
reported) into ``x_r``. Algorithms with a **post exchange** (FZooS: active queries and the RFF
surrogate; SCAFFOLD-I: a finite-difference gradient at ``x_r``) then send ``x_r`` back, each client
queries around it and sends a second message; the server averages that too. The last broadcast of a
round is a ``"start"`` message (``x_r`` and the global quantities the next round needs); the server
keeps it, so a client that missed rounds (partial participation, a dropout) rejoins by syncing with
``fed.start_message(server)``.

A client goes through the phases below (``state.memo["phase"]``, plain strings in the JSON):
:data:`PHASE_LOCAL` (asking and telling its local steps) -> :data:`PHASE_REPORT` (the iterate is
ready) -> :data:`PHASE_AWAIT` (sent; waiting for the post request or the next start), and with a
post exchange :data:`PHASE_POST` (queries around ``x_r``) -> :data:`PHASE_REPORT_POST` ->
:data:`PHASE_AWAIT_POST`; a ``"start"`` broadcast puts it back in :data:`PHASE_LOCAL`.

Client work is organised in *units*: a list of points that can be queried without waiting for
each other's values (a finite-difference stencil, a descent point and its active queries). A unit is
done when every point was asked and told (completed or failed); the next ask computes the next unit
from the values. Asking for more points than the unit plans adds *extra* points to it (more
directions or more local points), so ``ask(n)`` always returns ``n`` trials.

``fed.init(space, seed=...)`` makes a standalone client: a federation of one whose exchanges happen
inside ``ask``. It is how the conformance suite runs the algorithms, and with N = 1 and no
correction FZooS is exactly the single-client surrogate descent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from asktell.checks import MAX_ASK, MAX_SIZE, check_choice, check_positive
from asktell.errors import AskTellError, ConfigError, FederationError, StateError
from asktell.loops.adam import AdamState
from asktell.loops.base import Loop, Proposal, check_seed, require_numeric
from asktell.loops.federated.schema import (  # noqa: F401 (kinds and phases: imported from here too)
    CLIENT_PHASES,
    CUBE_SLACK,
    ITERATE,
    PHASE_AWAIT,
    PHASE_AWAIT_POST,
    PHASE_LOCAL,
    PHASE_POST,
    PHASE_REPORT,
    PHASE_REPORT_POST,
    POST,
    READY,
    SERVER_FORMAT,
    SERVER_SCHEMA_VERSION,
    START,
    WORKING,
    ClientMemo,
    check_client_memo,
    check_point,
    check_server_json,
    check_server_vectors,
    check_standalone_server,
)
from asktell.registry import loop_class
from asktell.rng import derive_seed
from asktell.space import Space
from asktell.state import SCHEMA_VERSION, Problem, State
from asktell.surrogates.seeding import torch_rng

MAX_COUNT = MAX_SIZE  # the most clients, local steps, features, nearest points or candidates
MAX_QUERIES = MAX_ASK  # the most queries of one kind in a unit (directions, active queries)


def check_option(
    name: str, value: Any, *, integer: bool = False, allow_zero: bool = False, high: float | None = None
) -> None:
    """ConfigError unless ``value`` is a positive finite number (an integer with ``integer``), at most
    ``high`` (an integer at most :data:`MAX_COUNT` by default): an option accepted here serializes,
    resumes and runs (:func:`asktell.checks.check_positive`)."""
    limit = high if high is not None else (MAX_COUNT if integer else None)
    check_positive(name, value, integer=integer, allow_zero=allow_zero, at_most=limit)


@dataclass(frozen=True)
class Message:
    """What crosses the network: named float64 arrays plus a small JSON dict.

    Attributes:
        kind: ``"iterate"`` or ``"post"`` (client to server), ``"post"`` or ``"start"`` (server
            to clients).
        round: the round it belongs to (1-based).
        client: the sender's index, or -1 for the server.
        arrays: ``name -> 1-d float64 numpy array`` (the iterate ``x``, RFF weights ``w``, ...).
    """

    kind: str
    round: int
    client: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Payload size: the arrays' bytes (the few header numbers are not counted)."""
        return int(sum(a.nbytes for a in self.arrays.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "round": self.round,
            "client": self.client,
            "arrays": {k: v.tolist() for k, v in self.arrays.items()},
        }

    @classmethod
    def from_dict(cls, data: Any) -> Message:
        """Read a message from its JSON object; StateError unless it is one (a known kind, integer
        round and client, arrays of finite numbers)."""
        if not isinstance(data, dict) or set(data) != {"kind", "round", "client", "arrays"}:
            got = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise StateError(
                f"not a federated message: expected an object with the keys arrays, client, kind "
                f"and round, got {got}."
            )
        kind, round_, client, arrays = data["kind"], data["round"], data["client"], data["arrays"]
        if kind not in (ITERATE, POST, START) or not isinstance(kind, str):
            raise StateError(
                f"not a federated message: kind must be one of {[ITERATE, POST, START]}, got {kind!r}."
            )
        for name, value, low in (("round", round_, 0), ("client", client, -1)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**63:
                raise StateError(
                    f"not a federated message: {name} must be an integer >= {low}, got {value!r}."
                )
        if not isinstance(arrays, dict):
            raise StateError(
                f"not a federated message: arrays must be an object, got {type(arrays).__name__}."
            )
        out = {}
        for name, values in arrays.items():
            ok = isinstance(values, list) and all(_finite_number(v) for v in values)
            if not ok:
                raise StateError(
                    f"not a federated message: arrays[{name!r}] must be a list of finite numbers."
                )
            out[str(name)] = np.asarray(values, dtype=np.float64)
        return cls(kind=kind, round=round_, client=client, arrays=out)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Message:
        """Read a message from :meth:`to_json`'s text; StateError for anything else."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise StateError(f"Message.from_json takes the JSON text (a str), got {type(text).__name__}.")
        return cls.from_dict(_strict_json(text, "a federated message"))


def _finite_number(value: Any) -> bool:
    """A JSON number a float holds: a finite float, or an integer within a float's range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) < 2**1024 if isinstance(value, int) else math.isfinite(value)


def _strict_json(text: str | bytes | bytearray, what: str) -> Any:
    """Parse strict JSON (no NaN or infinity); StateError naming ``what`` when it is not."""

    def refuse_constant(name: str) -> Any:
        raise StateError(f"not {what}: it contains {name}, which JSON forbids.")

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StateError(f"not {what}: the text is not valid JSON ({exc}).") from None
    except RecursionError:
        raise StateError(f"not {what}: the JSON is nested too deeply to read.") from None


@dataclass(frozen=True)
class ServerState:
    """The server's whole state: JSON-serializable, immutable.

    Attributes:
        algorithm, config: the federated algorithm's registry name and configuration.
        space: the search space (iterates live in its unit cube).
        n_clients, weights: number of clients and their aggregation weights (summing to 1).
        seed: the federation's seed (shared RFF features, client seeds, participation draws).
        round: rounds completed so far.
        phase: ``"iterate"`` (awaiting iterates) or ``"post"`` (awaiting post messages).
        x: the global iterate (``d`` floats).
        globals: global quantities of the last completed round (``name -> list of floats``).
        pending_x: during the post exchange, the new iterate ``x_r`` (else None).
    """

    algorithm: str
    config: dict[str, Any]
    space: Space
    n_clients: int
    weights: tuple[float, ...]
    seed: int
    round: int = 0
    phase: str = ITERATE
    x: tuple[float, ...] = ()
    globals: dict[str, list[float]] = field(default_factory=dict)
    pending_x: tuple[float, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SERVER_FORMAT,
            "schema_version": SERVER_SCHEMA_VERSION,
            "algorithm": self.algorithm,
            "config": self.config,
            "space": self.space.to_dict(),
            "n_clients": self.n_clients,
            "weights": list(self.weights),
            "seed": self.seed,
            "round": self.round,
            "phase": self.phase,
            "x": list(self.x),
            "globals": self.globals,
            "pending_x": None if self.pending_x is None else list(self.pending_x),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Any) -> ServerState:
        """Read a server state from :meth:`to_dict`'s JSON; StateError for wrong types, lengths or
        values (:func:`asktell.loops.federated.schema.check_server_json`)."""
        check_server_json(data)
        try:
            space = Space.from_dict(data["space"])
        except AskTellError as exc:
            raise StateError(f"the server state's space is invalid: {exc}") from None
        check_point(data["x"], space.dim, "the server state's x")
        if data["pending_x"] is not None:
            check_point(data["pending_x"], space.dim, "the server state's pending_x")
        return cls(
            algorithm=data["algorithm"],
            config=dict(data["config"]),
            space=space,
            n_clients=data["n_clients"],
            weights=tuple(float(w) for w in data["weights"]),
            seed=data["seed"],
            round=data["round"],
            phase=data["phase"],
            x=tuple(float(v) for v in data["x"]),
            globals={k: [float(v) for v in vs] for k, vs in data["globals"].items()},
            pending_x=None if data["pending_x"] is None else tuple(float(v) for v in data["pending_x"]),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ServerState:
        if not isinstance(text, (str, bytes, bytearray)):
            raise StateError(f"ServerState.from_json takes the JSON text (a str), got {type(text).__name__}.")
        return cls.from_dict(_strict_json(text, "a federated server state"))


@dataclass(frozen=True)
class Federated(Loop):
    """Base class of the federated algorithms: the protocol engine. Subclasses define the units.

    Args:
        local_steps: ``T``, local steps per round.
        lr: Adam's learning rate (unit-cube coordinates); Adam is reset every round.
        start: ``"random"`` (a uniform point from the seed) or ``"center"`` for ``x_0``.
    """

    local_steps: int = 10
    lr: float = 0.01
    start: str = "random"
    has_post_exchange = False
    memo_schema = ClientMemo

    def _validate_config(self) -> None:
        check_option("local_steps", self.local_steps, integer=True)
        check_option("lr", self.lr)
        check_choice("start", self.start, ("random", "center"))

    def array_sizes(self, dim: int) -> dict[str, int]:
        """The arrays this algorithm's messages carry in ``dim`` dimensions: name -> length (the
        iterate ``x``; each algorithm adds its own). Messages, a server's globals and a client's
        memo hold these and no others."""
        return {"x": dim}

    def _check_memo(self, state: State) -> None:
        memo = state.memo
        check_client_memo(
            memo, state.space.dim, len(state.trials), self.local_steps, self.array_sizes(state.space.dim)
        )
        if memo["standalone"]:
            server = ServerState.from_dict(memo["server"])
            self._check_server(server)
            if server.space != state.space or server.n_clients != 1:
                raise StateError(
                    "a standalone client's server has the client's space and one client; this one "
                    f"has {server.n_clients} clients and the space {server.space.to_dict()}."
                )
            check_standalone_server(memo, server.round, server.phase)

    def _check_space(self, space: Space) -> None:
        require_numeric(space, type(self).__name__)

    # ---------------------------------------------------------------- server functions
    def server_init(
        self,
        space: Space | dict,
        n_clients: int,
        seed: int = 0,
        weights: Sequence[float] | None = None,
    ) -> ServerState:
        """The server's initial state: ``x_0`` from the seed, equal or given client weights.

        ``seed`` is a non-negative integer, as for :meth:`init` (it also derives the clients');
        ``n_clients`` at most :data:`MAX_COUNT`; ``weights`` one positive number per client.
        """
        space = space if isinstance(space, Space) else Space.from_dict(space)
        self._check_space(space)
        check_option("n_clients", n_clients, integer=True)
        check_seed(seed)
        if weights is None:
            weights = [1.0] * n_clients
        if (
            isinstance(weights, (str, bytes, Mapping))
            or not isinstance(weights, Sequence)
            or len(weights) != n_clients
        ):
            raise ConfigError(f"weights must be a list of {n_clients} positive numbers, got {weights!r}.")
        for w in weights:
            check_option("each client weight", w)
        total = float(sum(float(w) for w in weights))
        if self.start == "center":
            x0 = [0.5] * space.dim
        else:
            x0 = torch.rand(space.dim, generator=torch_rng(seed, "x0"), dtype=torch.float64).tolist()
        return ServerState(
            algorithm=self.name,
            config=self.config(),
            space=space,
            n_clients=n_clients,
            weights=tuple(float(w) / total for w in weights),
            seed=seed,
            x=tuple(x0),
        )

    def start_message(self, server: ServerState) -> Message:
        """The broadcast that starts round ``server.round + 1``: ``x`` and the global quantities."""
        arrays = {"x": np.asarray(server.x, dtype=np.float64)}
        arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in server.globals.items()})
        return Message(START, server.round + 1, -1, arrays)

    def aggregate(self, server: ServerState, messages: list[Message]) -> tuple[ServerState, Message]:
        """Average the messages of the clients that reported; returns the new server and broadcast.

        Clients that did not report (dropped out, not selected) are simply left out: their weights
        are renormalized over those that did. With no message at all the round still completes,
        with the iterate unchanged.
        """
        self._check_server(server)
        kind = ITERATE if server.phase == ITERATE else POST
        expected_round = server.round + 1
        if isinstance(messages, (str, bytes)) or not all(isinstance(m, Message) for m in messages):
            raise FederationError("aggregate takes a list of the clients' Messages (client_report's).")
        for m in messages:
            self._check_arrays(m, server.space.dim, "a client's message")
            if m.kind != kind or m.round != expected_round or not 0 <= m.client < server.n_clients:
                raise FederationError(
                    f"the server expects {kind!r} messages of round {expected_round} from clients "
                    f"0..{server.n_clients - 1}, got {m.kind!r} of round {m.round} from client {m.client}."
                )
        if len({m.client for m in messages}) != len(messages):
            raise FederationError("two messages from the same client in one exchange.")
        averages = _weighted_means(messages, server.weights)
        if kind == ITERATE:
            x_new = tuple(averages.pop("x").tolist()) if "x" in averages else server.x
            iterate_globals = {k: v.tolist() for k, v in averages.items()}
            if self.has_post_exchange:
                post = replace(
                    server, phase=POST, pending_x=x_new, globals={**server.globals, **iterate_globals}
                )
                return post, Message(POST, expected_round, -1, {"x": np.asarray(x_new)})
            done = replace(
                server, round=expected_round, x=x_new, globals={**server.globals, **iterate_globals}
            )
            return done, self.start_message(done)
        x_new = server.pending_x if server.pending_x is not None else server.x
        new_globals = dict(server.globals)
        new_globals.update({k: v.tolist() for k, v in averages.items()})
        new_globals.update(self._post_globals(server, messages, averages))
        done = replace(
            server, round=expected_round, phase=ITERATE, x=x_new, globals=new_globals, pending_x=None
        )
        return done, self.start_message(done)

    def select_clients(self, server: ServerState, fraction: float = 1.0) -> list[int]:
        """The clients that take part in the next round: a seeded draw of ``fraction`` of them."""
        ok = isinstance(fraction, (int, float)) and not isinstance(fraction, bool)
        if not ok or not 0 < fraction <= 1:
            raise ConfigError(f"fraction must be in (0, 1], got {fraction!r}.")
        self._check_server(server)
        k = max(1, round(fraction * server.n_clients))
        if k == server.n_clients:
            return list(range(server.n_clients))
        perm = torch.randperm(server.n_clients, generator=torch_rng(server.seed, "select", server.round))
        return sorted(perm[:k].tolist())

    # ---------------------------------------------------------------- client functions
    def client_init(
        self, space: Space | dict, start: Message, client: int, *, n_clients: int, seed: int
    ) -> State:
        """Client ``client``'s initial state, synced with the ``start`` broadcast it joins at.

        Args:
            space: the federation's search space.
            start: a ``"start"`` message, ``fed.start_message(server)``: round 1's for a client
                there from the beginning, or a later round's for one that joins late.
            client: the client's index, ``0 <= client < n_clients``.
            n_clients: the federation's size (FZooS's theory correction needs it).
            seed: the federation's seed, as given to ``server_init``: it derives the client's own
                seed and the random features every client shares.
        """
        space = space if isinstance(space, Space) else Space.from_dict(space)
        self._check_space(space)
        check_option("n_clients", n_clients, integer=True)
        check_seed(seed)
        if isinstance(client, bool) or not isinstance(client, int) or not 0 <= client < n_clients:
            raise ConfigError(f"client must be an index in 0..{n_clients - 1}, got {client!r}.")
        self._check_start(start, space)
        state = State(
            schema_version=SCHEMA_VERSION,
            loop_name=self.name,
            loop_config=self.config(),
            space=space,
            seed=int(torch.randint(0, 2**62, (1,), generator=torch_rng(seed, "client", client))),
            memo=self._client_memo(start, client, n_clients, seed, standalone=False),
        )
        return self.client_sync(state, start)

    def client_ready(self, state: State) -> bool:
        """Whether the client has a message to send (its iterate, or its post report)."""
        return state.memo["phase"] in READY

    def client_report(self, state: State) -> tuple[Message, State]:
        """The client's message for the current exchange, and its state once the message is sent.

        The new state waits for the server's broadcast (:meth:`client_sync`); the state passed in
        is unchanged, so a transport that fails to deliver the message may keep it and retry.
        """
        self._check_state(state)
        memo = state.memo
        if not self.client_ready(state):
            raise FederationError(
                f"client {memo['client']} has nothing to report in phase {memo['phase']!r}: ask and "
                "tell until client_ready(state) is True."
            )
        iterate = memo["phase"] == PHASE_REPORT
        arrays = {k: np.asarray(v, dtype=np.float64) for k, v in memo["outbox"].items()}
        message = Message(ITERATE if iterate else POST, memo["round"], memo["client"], arrays)
        waiting = PHASE_AWAIT if iterate else PHASE_AWAIT_POST
        return message, replace(state, memo={**memo, "phase": waiting})

    def client_sync(self, state: State, broadcast: Message) -> State:
        """Apply a server broadcast: a ``"post"`` request or the ``"start"`` of a round.

        A ``"start"`` message is accepted in any phase (a client that missed rounds rejoins);
        the start of the round the client is already in changes nothing (a broadcast sent again
        does not undo the round's work). A ``"post"`` request is taken only in the round the
        client reported its iterate in.
        """
        self._check_state(state)
        if not isinstance(broadcast, Message):
            raise FederationError(
                f"client_sync takes the server's broadcast Message, got {type(broadcast).__name__}."
            )
        self._check_arrays(broadcast, state.space.dim, "the server's broadcast", point="x")
        memo = dict(state.memo)
        if broadcast.kind == START:
            self._check_start(broadcast, state.space)
            if broadcast.round == memo["round"]:
                return state
            # what this client sent in the round just closed (besides its iterate) is its "own"
            # part of the averages just received: corrections compare the two
            sent = {k: v for k, v in memo.get("outbox", {}).items() if k != "x"}
            memo["own"] = {**memo.get("own", {}), **sent}
            memo.update(
                round=broadcast.round,
                x_start=broadcast.arrays["x"].tolist(),
                x=broadcast.arrays["x"].tolist(),
                received={k: v.tolist() for k, v in broadcast.arrays.items() if k != "x"},
                t=0,
                adam=AdamState.zeros(state.space.dim).to_dict(),
                phase=PHASE_LOCAL,
                outbox={},
            )
            memo = self._start_local(state, memo)
        elif broadcast.kind == POST:
            if memo["round"] != broadcast.round or memo["phase"] not in (PHASE_REPORT, PHASE_AWAIT):
                raise FederationError(
                    f"client {memo['client']} cannot take the post request of round {broadcast.round} "
                    f"in round {memo['round']}, phase {memo['phase']!r}: a post request follows the "
                    "client's iterate report of the same round."
                )
            memo.update(phase=PHASE_POST, x_global=broadcast.arrays["x"].tolist(), outbox={})
            memo = self._start_post(state, memo)
        else:
            raise FederationError(f"a client takes 'start' or 'post' broadcasts, got {broadcast.kind!r}.")
        return replace(state, memo=memo)

    def _check_arrays(self, message: Message, dim: int, what: str, point: str | None = None) -> None:
        """Refuse a message whose arrays are not this algorithm's (:meth:`array_sizes`): unknown
        names, wrong shapes, non-finite numbers; ``point`` names an array that is a point of the
        unit cube (a broadcast's ``x``)."""
        sizes = self.array_sizes(dim)
        for name, values in message.arrays.items():
            values = np.asarray(values)
            if name not in sizes or values.shape != (sizes[name],) or not np.isfinite(values).all():
                expected = f"{sizes[name]} finite numbers" if name in sizes else f"one of {sorted(sizes)}"
                raise FederationError(
                    f"{what} carries an array {name!r} of shape {values.shape}; {type(self).__name__} "
                    f"messages carry {expected} there."
                )
            if name == point and not ((values >= -CUBE_SLACK) & (values <= 1 + CUBE_SLACK)).all():
                raise FederationError(f"{what}'s {name!r} must be a point of the unit cube [0, 1]^{dim}.")

    def _check_start(self, start: Message, space: Space) -> None:
        if not isinstance(start, Message) or start.kind != START:
            got = start.kind if isinstance(start, Message) else type(start).__name__
            raise FederationError(
                f"a client joins at a 'start' message (fed.start_message(server)), got {got!r}."
            )
        x = start.arrays.get("x")
        if x is None or x.shape != (space.dim,) or start.round < 1:
            shape = None if x is None else x.shape
            raise FederationError(
                f"a start message carries round >= 1 and the global iterate 'x' of {space.dim} "
                f"coordinates, got round {start.round} and x of shape {shape}."
            )

    # ---------------------------------------------------------------- the loop protocol
    def init(  # type: ignore[override]
        self,
        space: Space | dict,
        *,
        seed: int = 0,
        n_objectives: int = 1,
        ref_point: Sequence[float] | None = None,
        constraints: Sequence[Any] | None = None,
    ) -> State:
        """A standalone client: a federation of one whose exchanges happen inside ``ask``.

        It is client 0 of ``server_init(space, 1, seed)`` (so its state's seed is that client's
        derived seed), which makes a standalone run identical to ``simulate`` with one client.
        """
        space = space if isinstance(space, Space) else Space.from_dict(space)
        check_seed(seed)
        problem = Problem(
            n_objectives=n_objectives,
            constraints=tuple(constraints or ()),
            ref_point=ref_point,  # type: ignore[arg-type]  # Problem checks it
        )
        self._check_problem(problem)
        server = self.server_init(space, 1, seed)
        state = self.client_init(space, self.start_message(server), 0, n_clients=1, seed=seed)
        return replace(state, memo={**state.memo, "standalone": True, "server": server.to_dict()})

    def _client_memo(
        self, start: Message, client: int, n_clients: int, seed: int, standalone: bool
    ) -> dict[str, Any]:
        return {
            "client": client,
            "n_clients": n_clients,
            "standalone": standalone,
            "round": 0,
            "phase": PHASE_AWAIT_POST,
            "unit": {"points": [], "ids": [], "center": start.arrays["x"].tolist()},
            "gp": None,
            "fits": 0,
            "own": {},
            "rff_seed": derive_seed(seed, "rff"),  # shared by every client of the federation
        }

    def _propose(self, state: State, n: int) -> Proposal:
        state = self._run_standalone_exchanges(state)
        memo = dict(state.memo)
        if memo["phase"] in WORKING and self._unit_done(state, memo):
            memo = self._next_unit(state, memo)
        if memo["phase"] not in WORKING:
            raise FederationError(
                f"client {memo['client']} is in phase {memo['phase']!r}: send client_report to the "
                "server and client_sync its broadcast before asking again."
            )
        unit = dict(memo["unit"])
        issued = len(unit["ids"])
        planned = unit["points"][issued : issued + n]
        extra = n - len(planned)
        points = list(planned)
        if extra > 0:
            more = self._extra_points(state, memo, extra).tolist()
            unit["points"] = unit["points"] + more
            points += more
        first = len(state.trials)
        unit["ids"] = unit["ids"] + list(range(first, first + n))
        memo["unit"] = unit
        params = state.space.decode_many(torch.tensor(points, dtype=torch.float64))
        meta = [{"round": memo["round"], "phase": memo["phase"], "step": memo.get("t", 0)} for _ in range(n)]
        return Proposal(params, memo, meta)

    def _after_tell(self, state: State, trial) -> State:
        """When the phase's last unit is complete, close the phase: the report is ready."""
        memo = state.memo
        if memo["phase"] in WORKING and self._is_last_unit(memo) and self._unit_done(state, memo):
            return replace(state, memo=self._next_unit(state, dict(memo)))
        return state

    def _run_standalone_exchanges(self, state: State) -> State:
        """For a standalone client, perform the exchanges with its own one-client server."""
        while state.memo["standalone"] and self.client_ready(state):
            server = ServerState.from_dict(state.memo["server"])
            message, state = self.client_report(state)
            server, broadcast = self.aggregate(server, [message])
            state = self.client_sync(state, broadcast)
            state = replace(state, memo={**state.memo, "server": server.to_dict()})
        return state

    def _is_last_unit(self, memo: dict[str, Any]) -> bool:
        """Whether the current unit is the phase's last (its completion makes the report)."""
        raise NotImplementedError

    def _unit_done(self, state: State, memo: dict[str, Any]) -> bool:
        unit = memo["unit"]
        ids = unit["ids"]
        return len(ids) >= len(unit["points"]) and all(state.trials[i].done for i in ids)

    def _unit_results(
        self, state: State, memo: dict[str, Any]
    ) -> tuple[torch.Tensor, torch.Tensor, list[bool]]:
        """The unit's points (``k x d``), values (``k``, 0 where failed) and which completed."""
        unit = memo["unit"]
        trials = [state.trials[i] for i in unit["ids"]]
        X = torch.tensor(unit["points"][: len(trials)], dtype=torch.float64)
        ok = [t.status == "completed" for t in trials]
        y = torch.tensor(
            [float(t.value) if o else 0.0 for t, o in zip(trials, ok, strict=True)], dtype=torch.float64
        )  # type: ignore[arg-type]
        return X, y, ok

    def _check_server(self, server: ServerState) -> None:
        if not isinstance(server, ServerState):
            raise StateError(f"expected a ServerState, got {type(server).__name__}.")
        if server.algorithm != self.name or not self._same_config(server.config):
            raise StateError(
                f"this server state belongs to {server.algorithm!r} with config {server.config}, "
                f"not to {self!r}."
            )
        if len(server.weights) != server.n_clients:
            raise StateError(
                f"the server state has {len(server.weights)} weights for {server.n_clients} clients."
            )
        dim = server.space.dim
        check_server_vectors(server.x, server.pending_x, server.globals, dim, self.array_sizes(dim))

    # ---------------------------------------------------------------- hooks
    def _start_local(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        """Set the first unit of the local phase (``memo['x']`` is the round's start point)."""
        raise NotImplementedError

    def _start_post(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        """Set the first unit of the post phase (``memo['x_global']`` is ``x_r``)."""
        raise NotImplementedError

    def _next_unit(self, state: State, memo: dict[str, Any]) -> dict[str, Any]:
        """The unit is done: compute the next one, or end the phase (set ``phase`` and ``outbox``)."""
        raise NotImplementedError

    def _extra_points(self, state: State, memo: dict[str, Any], k: int) -> torch.Tensor:
        """``k x d`` more points for the current unit, beyond its plan."""
        raise NotImplementedError

    def _post_globals(
        self, server: ServerState, messages: list[Message], averages: dict[str, np.ndarray]
    ) -> dict[str, list[float]]:
        """Global quantities the server derives from the post messages beyond their averages."""
        return {}


def _weighted_means(messages: list[Message], weights: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Per array name, the weighted mean over the messages that carry it."""
    names = sorted({k for m in messages for k in m.arrays})
    out = {}
    for name in names:
        carriers = [m for m in messages if name in m.arrays]
        total = sum(weights[m.client] for m in carriers)
        out[name] = np.sum([weights[m.client] / total * m.arrays[name] for m in carriers], axis=0)
    return out


def load_server(text: str | bytes) -> tuple[Federated, ServerState]:
    """Resume a server from its JSON: returns ``(algorithm, server_state)``.

    Raises StateError for anything but a server state of a federated algorithm this asktell knows,
    with its configuration, iterates and global quantities of the sizes that algorithm uses.
    """
    server = ServerState.from_json(text)
    try:
        cls = loop_class(server.algorithm)
        fed = cls.from_config(server.config) if issubclass(cls, Federated) else None
    except AskTellError as exc:
        raise StateError(f"the server state's algorithm or config is invalid: {exc}") from None
    if fed is None:
        raise StateError(f"the server state names {server.algorithm!r}, which is not a federated algorithm.")
    fed._check_server(server)
    return fed, server
