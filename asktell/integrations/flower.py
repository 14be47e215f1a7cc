"""asktell's federated algorithms on Flower (``flwr``): a ``ClientApp``, a ``ServerApp``, a simulation.

The adapter holds no federation logic of its own: the server main runs each round with the round
driver :func:`asktell.loops.federated.rounds.run_round`, its exchanges carried by
``grid.send_and_receive``; the client handler runs ``client_sync``,
:func:`asktell.loops.federated.evaluate` and ``client_report``, exactly as the in-process runner
:func:`asktell.loops.federated.simulate` does, so for equal seeds the global iterates and the
counts are the same (the payload crosses Flower as float64 ``Array``s, bit for bit).

::

    from asktell.integrations.flower import client_app, server_app, run_simulation
    records = run_simulation(FZooS(), space, [f_0, f_1, f_2], rounds=20, seed=0)

Wire format (Flower's Message API, message type ``"train"`` for both exchanges, ``"query"`` for the
roll call):

- server to client: ``content["arrays"]`` (an ``ArrayRecord``: the broadcast's arrays, ``x`` and the
  global quantities) and ``content["config"]`` (a ``ConfigRecord``: ``kind`` ``"start"`` or
  ``"post"``, ``round``, ``client`` -1, ``n_clients``, ``seed``);
- client to server: ``content["arrays"]`` (the report's arrays: the local iterate, FZooS's RFF
  weights, ...) and ``content["config"]`` (``kind``, ``round``, ``client``, and ``queries``: the
  client's trials so far).

Client ``i`` of the federation is the SuperNode whose ``node_config["partition-id"]`` is ``i``. Its
asktell client state lives in ``context.state["asktell"]`` (a ``ConfigRecord`` holding the state's
JSON), so a ClientApp process keeps nothing between messages. A client that raises, times out or is
gone is left out of that exchange (``aggregate`` renormalizes over those that answered) and rejoins at
the next round's start broadcast.

Install with ``pip install -e '.[federated]'`` (Flower with its Ray simulation runtime).
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asktell.checks import check_positive
from asktell.errors import ConfigError, FederationError
from asktell.loops.federated import Federated, Message, ServerState, evaluate
from asktell.loops.federated.protocol import ITERATE, POST, START
from asktell.loops.federated.rounds import Replies, Tally, mean_function, round_record, run_round
from asktell.space import Space
from asktell.state import State

try:
    from flwr.app import Array, ArrayRecord, ConfigRecord, Context, RecordDict
    from flwr.app import Message as FlowerMessage
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("asktell.integrations.flower needs Flower: pip install 'asktell[federated]'.") from exc

__all__ = ["FlowerRun", "client_app", "run_simulation", "server_app"]

STATE_KEY = "asktell"
TRAIN, QUERY = "train", "query"
# no telemetry, no update check, Ray on this machine only: set before Flower or Ray start anything
QUIET_ENV = {
    "FLWR_TELEMETRY_ENABLED": "0",
    "FLWR_DISABLE_UPDATE_CHECK": "1",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
}
Blackbox = Callable[[dict[str, Any]], float]

_log = logging.getLogger("flwr.asktell")  # through Flower's handlers: shown in `flwr run --stream`


# ---------------------------------------------------------------------------- wire format
def _to_content(message: Message, **extra: Any) -> RecordDict:
    arrays = ArrayRecord(
        {k: Array(np.ascontiguousarray(v, dtype=np.float64)) for k, v in message.arrays.items()}
    )
    config = ConfigRecord({"kind": message.kind, "round": message.round, "client": message.client, **extra})
    return RecordDict({"arrays": arrays, "config": config})


def _from_content(content: RecordDict) -> tuple[Message, dict[str, Any]]:
    """The asktell message in a Flower message's content, and its whole config record."""
    try:
        config: dict[str, Any] = dict(content.config_records["config"])
        array_record = content.array_records["arrays"]
        arrays = {k: np.asarray(a.numpy(), dtype=np.float64) for k, a in array_record.items()}
        message = Message(str(config["kind"]), int(config["round"]), int(config["client"]), arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise FederationError(f"not an asktell federated message: {exc!r}.") from None
    return message, config


# ---------------------------------------------------------------------------- client
def client_app(fed: Federated, space: Space, make_client: Callable[[int], Blackbox]) -> ClientApp:
    """A Flower ``ClientApp`` running one client of ``fed`` per SuperNode.

    Args:
        fed: the federated algorithm (its configuration must equal the server's).
        space: the search space.
        make_client: ``make_client(partition_id) -> f`` with ``f(params) -> float`` the node's own
            black box; called on each message, in the ClientApp's process.

    The node's client index is ``context.node_config["partition-id"]``. Exceptions of ``f`` become
    failed trials (as in ``simulate``); an exception of ``make_client`` or of the protocol makes the
    reply an error, which the server survives.
    """
    app = ClientApp()

    @app.query()
    def _roll_call(msg: FlowerMessage, context: Context) -> FlowerMessage:
        state = _load_client(context)
        config = {"client": _partition_id(context), "round": -1 if state is None else state.memo["round"]}
        return FlowerMessage(RecordDict({"config": ConfigRecord(config)}), reply_to=msg)

    @app.train()
    def _train(msg: FlowerMessage, context: Context) -> FlowerMessage:
        client = _partition_id(context)
        broadcast, config = _from_content(msg.content)
        state = _load_client(context)
        if state is None:  # the first message this node gets: it joins at this start
            if broadcast.kind != START:
                raise FederationError(f"client {client} got a {broadcast.kind!r} request before any start.")
            n, seed = int(config["n_clients"]), int(config["seed"])
            state = fed.client_init(space, broadcast, client, n_clients=n, seed=seed)
        else:  # a start of the round it is already in changes nothing
            state = fed.client_sync(state, broadcast)
        state = evaluate(fed, state, make_client(client))
        report, state = fed.client_report(state)
        context.state[STATE_KEY] = ConfigRecord({"state": state.to_json()})
        return FlowerMessage(_to_content(report, queries=len(state.trials)), reply_to=msg)

    return app


def _partition_id(context: Context) -> int:
    value = context.node_config.get("partition-id")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"the SuperNode's node config must set partition-id to the client's index (an integer >= 0), "
            f"got {value!r}; start it with --node-config 'partition-id=0 num-partitions=3'."
        )
    return value


def _load_client(context: Context) -> State | None:
    record = context.state.config_records.get(STATE_KEY)
    return None if record is None else State.from_json(str(record["state"]))


# ---------------------------------------------------------------------------- server
@dataclass
class FlowerRun:
    """What the server app leaves behind: the per-round records and the final server state."""

    records: list[dict[str, Any]]
    server: ServerState | None = None


def server_app(
    fed: Federated,
    space: Space,
    rounds: int | None,
    seed: int = 0,
    *,
    n_clients: int | None = None,
    participation: float = 1.0,
    weights: list[float] | None = None,
    evaluate_global: Blackbox | None = None,
    timeout: float | None = 3600.0,
    wait: float = 120.0,
    run: FlowerRun | None = None,
) -> ServerApp:
    """A Flower ``ServerApp`` running ``rounds`` rounds of ``fed`` with ``grid.send_and_receive``.

    Args:
        rounds: number of rounds; None reads ``context.run_config["num-server-rounds"]``.
        n_clients: the federation's size; None reads ``context.run_config["num-clients"]``.
        participation, weights: as in :func:`asktell.loops.federated.simulate`.
        evaluate_global: ``F(params)``, recorded as ``"F"`` at every round's iterate when given (the
            server has no black box of its own).
        timeout: seconds to wait for the replies of one exchange; those missing then are left out.
        wait: seconds to wait at the start for the ``n_clients`` SuperNodes (the run goes on with
            those present after it, and fails with none).
        run: a :class:`FlowerRun` to append the records to (same process: the simulation runtime).

    Records are shaped like ``simulate``'s (``round``, ``params``, ``x``, ``F`` when
    ``evaluate_global`` is given, ``queries``, ``bytes_up``, ``bytes_down``, ``seconds``,
    ``reported``); they are also logged, and written as JSON lines to
    ``context.run_config["records-path"]`` when set (deployment: the ServerApp has its own process).
    """
    if rounds is not None:
        _check_count("rounds", rounds)
    app = ServerApp()
    out = run if run is not None else FlowerRun([])

    @app.main()
    def _main(grid: Grid, context: Context) -> None:
        n = _check_count(
            "n_clients", n_clients if n_clients is not None else context.run_config.get("num-clients")
        )
        n_rounds = _check_count(
            "rounds", rounds if rounds is not None else context.run_config.get("num-server-rounds")
        )
        path = context.run_config.get("records-path")
        sink = None if not path else Path(str(path))
        server = fed.server_init(space, n, seed, weights)
        nodes = _roll_call(grid, n, wait, timeout)
        extra = {"n_clients": n, "seed": seed}

        def exchange(broadcast: Message, clients: list[int]) -> Replies:
            return _exchange(grid, nodes, clients, broadcast, extra, timeout)

        tally = Tally.initial(n)
        for _ in range(n_rounds):
            began = time.perf_counter()
            nodes = _roll_call(grid, n, 0.0, timeout) if len(nodes) < n else nodes
            chosen = [i for i in fed.select_clients(server, participation) if i in nodes]
            # the closing broadcast is not sent now: the next round opens with it
            result = run_round(fed, server, chosen, exchange, tally)
            server, tally = result.server, result.tally
            record = round_record(result, seconds=time.perf_counter() - began, evaluate=evaluate_global)
            out.records.append(record)
            _log.info("asktell round %d: %s", server.round, json.dumps(_brief(record)))
            if sink is not None:
                with sink.open("a") as handle:
                    handle.write(json.dumps(record, allow_nan=True) + "\n")
        out.server = server

    return app


def _check_count(name: str, value: Any) -> int:
    """``value`` (an argument or the run config's), refused unless a positive integer."""
    check_positive(name, value, integer=True)
    return value


def _brief(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("params", "x")}


def _roll_call(grid: Grid, n: int, wait: float, timeout: float | None) -> dict[int, int]:
    """``client index -> node id`` of the SuperNodes present, waiting up to ``wait`` s for ``n`` of them."""
    deadline = time.monotonic() + wait
    while True:
        node_ids = list(grid.get_node_ids())
        if len(node_ids) >= n or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    messages = [FlowerMessage(RecordDict({}), dst_node_id=node, message_type=QUERY) for node in node_ids]
    nodes: dict[int, int] = {}
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if reply.has_error():
            _log.warning(
                "asktell: node %s did not answer the roll call: %s",
                reply.metadata.src_node_id,
                reply.error.reason,
            )
            continue
        client = reply.content.config_records["config"].get("client")
        if not isinstance(client, int):
            _log.warning(
                "asktell: node %s answered the roll call without a client index", reply.metadata.src_node_id
            )
            continue
        if not 0 <= client < n or client in nodes:
            _log.warning(
                "asktell: node %s claims client %d of %d (taken or out of range); ignored",
                reply.metadata.src_node_id,
                client,
                n,
            )
            continue
        nodes[client] = reply.metadata.src_node_id
    if not nodes:
        raise FederationError(f"no SuperNode answered the roll call within {wait:.0f} s (expected {n}).")
    if len(nodes) < n:
        _log.warning(
            "asktell: %d of %d clients present (%s); going on with them", len(nodes), n, sorted(nodes)
        )
    return nodes


def _exchange(
    grid: Grid,
    nodes: dict[int, int],
    clients: Sequence[int],
    broadcast: Message,
    extra: dict[str, Any],
    timeout: float | None,
) -> Replies:
    """Send ``broadcast`` to ``clients``; the valid replies, by client, with their query counts."""
    messages = []
    for client in clients:
        content = _to_content(broadcast, **extra)
        messages.append(FlowerMessage(content, dst_node_id=nodes[client], message_type=TRAIN))
    expected = {nodes[c]: c for c in clients}
    kind = ITERATE if broadcast.kind == START else POST
    replies: dict[int, tuple[Message, int]] = {}
    for reply in grid.send_and_receive(messages, timeout=timeout):
        node = reply.metadata.src_node_id
        if reply.has_error():
            _log.warning(
                "asktell round %d: client %s failed: %s",
                broadcast.round,
                expected.get(node),
                reply.error.reason,
            )
            continue
        try:
            message, config = _from_content(reply.content)
        except FederationError as exc:
            _log.warning("asktell round %d: node %s sent a bad reply: %s", broadcast.round, node, exc)
            continue
        if expected.get(node) != message.client or message.kind != kind or message.round != broadcast.round:
            _log.warning(
                "asktell round %d: node %s sent an unexpected %r of round %d from client %d; ignored",
                broadcast.round,
                node,
                message.kind,
                message.round,
                message.client,
            )
            continue
        replies[message.client] = (message, int(config.get("queries", 0)))
    missing = sorted(set(clients) - set(replies))
    if missing:
        _log.warning(
            "asktell round %d: no %s from clients %s; aggregating the others", broadcast.round, kind, missing
        )
    return Replies([replies[c][0] for c in sorted(replies)], {c: q for c, (_, q) in replies.items()})


# ---------------------------------------------------------------------------- simulation
def run_simulation(
    fed: Federated,
    space: Space,
    clients: Sequence[Blackbox],
    rounds: int,
    seed: int = 0,
    *,
    participation: float = 1.0,
    weights: list[float] | None = None,
    num_cpus: int = 2,
    client_cpus: float = 1.0,
    report_F: bool = True,
    timeout: float | None = 3600.0,
) -> list[dict[str, Any]]:
    """Run a federation on Flower's simulation runtime (Ray, on this machine only).

    Client ``i`` is ``clients[i]``, on the virtual SuperNode of partition-id ``i``. Returns the
    per-round records, shaped like :func:`asktell.loops.federated.simulate`'s (``F``, the mean of
    the clients' functions at the global iterate, is computed by the server from ``clients`` when
    ``report_F``; it is not counted as queries).

    Args:
        num_cpus: CPUs Ray may use; ``client_cpus``: CPUs per ClientApp (so at most
            ``num_cpus / client_cpus`` clients run at once).
    """
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    from flwr.simulation import run_simulation as flwr_run_simulation

    fns = tuple(clients)

    def make_client(partition_id: int) -> Blackbox:
        return fns[partition_id]

    out = FlowerRun([])
    server = server_app(
        fed,
        space,
        rounds,
        seed,
        n_clients=len(fns),
        participation=participation,
        weights=weights,
        evaluate_global=mean_function(fns) if report_F else None,
        timeout=timeout,
        wait=60.0,
        run=out,
    )
    backend_config = {
        "client_resources": {"num_cpus": client_cpus, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": num_cpus,
            "num_gpus": 0,
            "include_dashboard": False,
            "_node_ip_address": "127.0.0.1",
            "logging_level": "warning",
            "log_to_driver": False,
        },
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        flwr_run_simulation(
            server_app=server,
            client_app=client_app(fed, space, make_client),
            num_supernodes=len(fns),
            backend_config=backend_config,  # type: ignore[arg-type]
        )
    if len(out.records) != rounds:
        raise FederationError(
            f"the Flower simulation ended after {len(out.records)} of {rounds} rounds; see Flower's log."
        )
    return out.records
