"""The in-process runner: a federation's clients and server in one process, for tests and studies.

``simulate`` runs exactly the pure pieces a real deployment runs, through the same round driver
(:func:`asktell.loops.federated.rounds.run_round`; ``asktell.integrations.flower`` runs it on
Flower), so its iterates and counts are the reference for every engine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from asktell.loops.federated.protocol import Federated, Message, ServerState
from asktell.loops.federated.rounds import Replies, Tally, mean_function, round_record, run_round
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
            counted), ``seconds`` (wall time of the round), ``reported`` (clients whose last report
            of the round reached the server). See :func:`asktell.loops.federated.rounds.round_record`.
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

    Each round is :func:`asktell.loops.federated.rounds.run_round` with an in-process exchange;
    the closing broadcast of a round is delivered to the clients that reported at once.

    Args:
        clients: ``f_i(params) -> float`` for each client.
        participation: fraction of the clients taking part in each round (a seeded draw).
        weights: aggregation weights of the clients (default equal).
        drop: ``drop(round, client) -> True`` loses that client's messages in that round (it did
            its queries; the server aggregates the others). For tests of dropouts.
    """
    n = len(clients)
    server = fed.server_init(space, n, seed, weights)
    start = fed.start_message(server)
    states = [fed.client_init(space, start, i, n_clients=n, seed=seed) for i in range(n)]
    F = mean_function(clients)

    def exchange(broadcast: Message, chosen: list[int]) -> Replies:
        """Each client syncs, works until ready and reports; ``drop`` loses some reports."""
        messages = []
        for i in chosen:
            states[i] = evaluate(fed, fed.client_sync(states[i], broadcast), clients[i])
            message, states[i] = fed.client_report(states[i])
            if drop is None or not drop(broadcast.round, i):
                messages.append(message)
        return Replies(messages, {i: len(states[i].trials) for i in chosen})

    records: list[dict[str, Any]] = []
    tally = Tally.initial(n)
    for _ in range(rounds):
        began = time.perf_counter()
        result = run_round(fed, server, fed.select_clients(server, participation), exchange, tally)
        server, tally = result.server, result.tally
        for i in result.reported:
            states[i] = fed.client_sync(states[i], result.broadcast)
        records.append(round_record(result, seconds=time.perf_counter() - began, evaluate=F))
    return Simulation(records, server, states)
