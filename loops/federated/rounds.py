"""One federated round, whatever carries the messages: the round logic and its accounting.

:func:`run_round` drives a round of a :class:`~asktell.loops.federated.protocol.Federated`
algorithm through a caller's ``exchange(broadcast, clients) -> Replies``: send ``broadcast`` to
each of ``clients`` (a client syncs with it, asks and tells until it is ready, and reports), and
bring back the reports that arrived. The in-process runner implements it with plain calls
(:func:`asktell.loops.federated.simulate`), Flower with ``grid.send_and_receive``
(:mod:`asktell.integrations.flower`); the round itself, and what is counted, lives here once:

1. the chosen clients get the round's start message, ``fed.start_message(server)``; it counts as
   downloaded by those that do not hold it yet (they missed the broadcast that closed the last
   round: not chosen, dropped, or gone), the others already have it;
2. the server aggregates the iterates that arrived; with a post exchange (FZooS, SCAFFOLD-I) the
   post request goes to the clients whose iterate arrived, and the server aggregates their post
   reports;
3. the broadcast that closes the round, the start of the next, counts as downloaded by the clients
   whose last report arrived (the ``reported``): deliver it now (in-process) or as the next round's
   opening message (Flower): either way it is paid for once.

Bytes are the messages' payload (:attr:`Message.nbytes`); queries are what the transport reports
of each client's trials so far. The accounting is a :class:`Tally`, plain data carried from round
to round: ``run_round`` returns a new one and changes nothing it is given.

Example (three clients in one process; ``simulate`` is this loop with records)::

    server = fed.server_init(space, 3, seed)
    start = fed.start_message(server)
    states = [fed.client_init(space, start, i, n_clients=3, seed=seed) for i in range(3)]

    def exchange(broadcast, clients):
        messages = []
        for i in clients:
            states[i] = evaluate(fed, fed.client_sync(states[i], broadcast), fs[i])
            message, states[i] = fed.client_report(states[i])
            messages.append(message)
        return Replies(messages, {i: len(states[i].trials) for i in clients})

    tally = Tally.initial(3)
    for _ in range(rounds):
        result = run_round(fed, server, fed.select_clients(server), exchange, tally)
        server, tally = result.server, result.tally
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asktell.errors import ConfigError, FederationError
from asktell.loops.federated.protocol import ITERATE, POST, Federated, Message, ServerState


@dataclass(frozen=True)
class Replies:
    """What one exchange brought back.

    Attributes:
        messages: the reports that reached the server, at most one per client asked.
        queries: ``client -> number of its trials so far``, for the clients whose count the
            transport has (in-process: every client that worked, even when its report was lost;
            Flower: those that replied). Counts of other clients stay as they were.
    """

    messages: list[Message]
    queries: Mapping[int, int] = field(default_factory=dict)


Exchange = Callable[[Message, list[int]], Replies]
Blackbox = Callable[[dict[str, Any]], float]


@dataclass(frozen=True)
class Tally:
    """A federation's cumulative accounting, carried from round to round (plain data, JSON).

    Attributes:
        bytes_up, bytes_down: payload bytes sent to and from the server so far.
        queries: ``client -> number of its trials``, as last reported.
        synced: the clients that hold the start message of the server's next round (all of them
            at first: ``client_init`` gives round 1's, and that first sync is not counted).
    """

    bytes_up: int = 0
    bytes_down: int = 0
    queries: Mapping[int, int] = field(default_factory=dict)
    synced: frozenset[int] = frozenset()

    @classmethod
    def initial(cls, n_clients: int) -> Tally:
        """Nothing sent yet; every client holds round 1's start message."""
        return cls(synced=frozenset(range(n_clients)))

    @property
    def total_queries(self) -> int:
        """Every client's trials, summed."""
        return int(sum(self.queries.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "queries": {str(k): v for k, v in sorted(self.queries.items())},
            "synced": sorted(self.synced),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        try:
            return cls(
                bytes_up=int(data["bytes_up"]),
                bytes_down=int(data["bytes_down"]),
                queries={int(k): int(v) for k, v in data["queries"].items()},
                synced=frozenset(int(c) for c in data["synced"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FederationError(f"not a federated tally: {exc!r}.") from None


@dataclass(frozen=True)
class RoundResult:
    """What :func:`run_round` returns.

    Attributes:
        server: the server state after the round (``server.round`` is the round just completed).
        broadcast: the round's closing broadcast, the start message of the next round; the
            ``reported`` clients are counted as having downloaded it.
        reported: the clients whose last report of the round reached the server, sorted.
        tally: the accounting after the round.
    """

    server: ServerState
    broadcast: Message
    reported: list[int]
    tally: Tally


def run_round(
    fed: Federated, server: ServerState, chosen: Sequence[int], exchange: Exchange, tally: Tally
) -> RoundResult:
    """Run round ``server.round + 1`` with the ``chosen`` clients, through ``exchange``.

    Args:
        fed: the algorithm (its configuration is the server's).
        server: the server state at the start of a round (phase ``"iterate"``).
        chosen: the clients taking part (``fed.select_clients(server, fraction)``, less any that
            the transport knows to be absent); may be empty: the round then completes with the
            iterate unchanged.
        exchange: ``exchange(broadcast, clients) -> Replies``; called with the start message and
            the chosen clients, then (algorithms with a post exchange) with the post request and
            the clients whose iterate arrived; never with an empty list of clients.
        tally: the accounting so far (``Tally.initial(n_clients)`` before round 1).

    Raises:
        FederationError: the server is in the middle of a round, or a reply did not come from
            a client that was asked (or breaks the protocol: ``fed.aggregate`` says how).
        ConfigError: ``chosen`` repeats a client or names one outside the federation.
    """
    fed._check_server(server)
    if server.phase != ITERATE:
        raise FederationError(
            f"a round starts with the server awaiting iterates (phase {ITERATE!r}), got phase "
            f"{server.phase!r}: finish the round in progress with fed.aggregate first."
        )
    clients = _check_chosen(chosen, server.n_clients)
    opening = fed.start_message(server)
    up, down = tally.bytes_up, tally.bytes_down
    down += opening.nbytes * len(set(clients) - tally.synced)
    queries = dict(tally.queries)
    server, broadcast, reported, sent = _exchange(fed, server, opening, clients, exchange, queries)
    up += sent
    down += broadcast.nbytes * len(reported)
    if broadcast.kind == POST:
        server, broadcast, reported, sent = _exchange(fed, server, broadcast, reported, exchange, queries)
        up += sent
        down += broadcast.nbytes * len(reported)
    new_tally = Tally(bytes_up=up, bytes_down=down, queries=queries, synced=frozenset(reported))
    return RoundResult(server=server, broadcast=broadcast, reported=reported, tally=new_tally)


def round_record(result: RoundResult, *, seconds: float, evaluate: Blackbox | None = None) -> dict[str, Any]:
    """The record of a round, as ``simulate`` and Flower's server write them.

    Keys: ``round``, ``params`` (the global iterate, decoded), ``x`` (its unit-cube coordinates),
    ``F`` (``evaluate(params)``; only when ``evaluate`` is given: reporting, not counted as
    queries), ``queries`` (all clients' trials), ``bytes_up``, ``bytes_down`` (cumulative),
    ``seconds`` (as measured by the caller) and ``reported``.
    """
    server, tally = result.server, result.tally
    params = server.space.decode(list(server.x))
    record: dict[str, Any] = {"round": server.round, "params": params, "x": list(server.x)}
    if evaluate is not None:
        record["F"] = float(evaluate(dict(params)))
    record.update(
        queries=tally.total_queries,
        bytes_up=tally.bytes_up,
        bytes_down=tally.bytes_down,
        seconds=seconds,
        reported=list(result.reported),
    )
    return record


def mean_function(functions: Sequence[Blackbox]) -> Blackbox:
    """``F(params)``, the mean of the clients' functions, for reporting (a failing one gives nan)."""
    fns = tuple(functions)

    def F(params: dict[str, Any]) -> float:
        values = []
        for f in fns:
            try:
                values.append(float(f(dict(params))))
            except Exception:  # noqa: BLE001 - reporting only
                values.append(float("nan"))
        return sum(values) / len(values)

    return F


def _check_chosen(chosen: Sequence[int], n_clients: int) -> list[int]:
    clients = list(chosen)
    bad = [c for c in clients if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < n_clients]
    if bad or len(set(clients)) != len(clients):
        raise ConfigError(f"chosen must list distinct client indices in 0..{n_clients - 1}, got {clients!r}.")
    return sorted(clients)


def _exchange(
    fed: Federated,
    server: ServerState,
    broadcast: Message,
    clients: list[int],
    exchange: Exchange,
    queries: dict[int, int],
) -> tuple[ServerState, Message, list[int], int]:
    """One exchange: ``(server, its broadcast, clients whose report arrived, bytes up)``.

    Updates ``queries`` (the caller's own fresh dict) with the replies' counts.
    """
    replies = exchange(broadcast, list(clients)) if clients else Replies([])
    if not isinstance(replies, Replies):
        raise FederationError(
            f"exchange must return a Replies(messages, queries), got {type(replies).__name__}."
        )
    strangers = sorted({m.client for m in replies.messages} - set(clients))
    if strangers:
        raise FederationError(
            f"round {broadcast.round}: the exchange returned reports of clients {strangers}, which "
            f"were not asked (asked: {clients}); a transport returns only the replies of those it sent to."
        )
    queries.update({int(c): int(q) for c, q in replies.queries.items()})
    messages = sorted(replies.messages, key=lambda m: m.client)
    server, out = fed.aggregate(server, messages)
    return server, out, [m.client for m in messages], sum(m.nbytes for m in messages)
