"""The in-process runner: a federation's clients and server in one process, for tests and studies.

``simulate`` runs exactly the pure pieces a real deployment runs (``asktell.integrations.flower``
runs the same ones on Flower), so its iterates are the reference for every engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asktell.loops.federated.protocol import POST, Federated, Message, ServerState
from asktell.space import Space
from asktell.state import FAILED, State


@dataclass(frozen=True)
class Simulation:
    """What :func:`simulate` returns.

    Attributes:
        records: one dict per round: ``round``, ``params`` (the global iterate, decoded), ``x`` (its
            unit-cube coordinates), ``F`` (mean of the clients' functions there, for reporting
            only: not counted as queries), ``queries`` (cumulative over all clients), ``bytes_up``
            and ``bytes_down`` (cumulative payload bytes; a client rejoining after missed rounds
            downloads the start message once more, the initial sync of ``client_init`` is not
            counted), ``seconds`` (wall time of the round),
            ``reported`` (clients whose iterate reached the server).
        server: the final server state.
        clients: the final client states.
    """

    records: list[dict[str, Any]]
    server: ServerState
    clients: list[State]


def evaluate(fed: Federated, state: State, f: Callable[[dict[str, Any]], float]) -> State:
    """Ask and tell one client until it has a report to send. Exceptions of ``f`` become failures."""
    while not fed.client_ready(state):
        state, (trial,) = fed.ask(state)
        try:
            value = float(f(dict(trial.params)))
            if not math.isfinite(value):
                raise ValueError(f"non-finite value {value}")
        except Exception as exc:  # noqa: BLE001 - a failing evaluation is a failed trial
            state = fed.tell(state, trial.id, None, status=FAILED, metadata={"error": repr(exc)})
        else:
            state = fed.tell(state, trial.id, value)
    return state


def simulate(
    fed: Federated,
    space: Space,
    clients: Sequence[Callable[[dict[str, Any]], float]],
    rounds: int,
    seed: int = 0,
    *,
    participation: float = 1.0,
    weights: list[float] | None = None,
    drop: Callable[[int, int], bool] | None = None,
) -> Simulation:
    """Run ``rounds`` rounds of ``fed`` with one black box per client.

    Args:
        clients: ``f_i(params) -> float`` for each client.
        participation: fraction of the clients taking part in each round (a seeded draw).
        weights: aggregation weights of the clients (default equal).
        drop: ``drop(round, client) -> True`` loses that client's messages in that round (it did
            its queries; the server aggregates the others). For tests of dropouts.
    """
    server = fed.server_init(space, len(clients), seed, weights)
    states = [fed.client_init(server, i) for i in range(len(clients))]
    records: list[dict[str, Any]] = []
    up = down = 0
    for _ in range(rounds):
        start = time.perf_counter()
        r = server.round + 1
        chosen = fed.select_clients(server, participation)
        for i in chosen:
            if states[i].memo["round"] != r:  # missed rounds: rejoin at this one (one more download)
                rejoin = fed.start_message(server)
                states[i] = fed.client_sync(states[i], rejoin)
                down += rejoin.nbytes
        server, broadcast, reporters, bytes_up, bytes_down = _exchange(
            fed, server, states, clients, chosen, drop
        )
        up, down = up + bytes_up, down + bytes_down
        if broadcast.kind == POST:
            for i in reporters:
                states[i] = fed.client_sync(states[i], broadcast)
            server, broadcast, reporters, bytes_up, bytes_down = _exchange(
                fed, server, states, clients, reporters, drop
            )
            up, down = up + bytes_up, down + bytes_down
        for i in reporters:
            states[i] = fed.client_sync(states[i], broadcast)
        params = space.decode(list(server.x))
        records.append(
            {
                "round": server.round,
                "params": params,
                "x": list(server.x),
                "F": _mean_value(clients, params),
                "queries": sum(len(s.trials) for s in states),
                "bytes_up": up,
                "bytes_down": down,
                "seconds": time.perf_counter() - start,
                "reported": reporters,
            }
        )
    return Simulation(records, server, states)


def _exchange(fed, server, states, clients, chosen, drop):
    """One exchange: the chosen clients work until ready and report; the server aggregates."""
    messages: list[Message] = []
    for i in chosen:
        states[i] = evaluate(fed, states[i], clients[i])
        message = fed.client_report(states[i])
        states[i] = fed.client_reported(states[i])
        if drop is None or not drop(server.round + 1, i):
            messages.append(message)
    server, broadcast = fed.aggregate(server, messages)
    reporters = [m.client for m in messages]
    return server, broadcast, reporters, sum(m.nbytes for m in messages), broadcast.nbytes * len(reporters)


def _mean_value(clients, params) -> float:
    values = []
    for f in clients:
        try:
            values.append(float(f(dict(params))))
        except Exception:  # noqa: BLE001 - reporting only
            values.append(float("nan"))
    return sum(values) / len(values)
