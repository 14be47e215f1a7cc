"""The round driver and the client pieces it strings together: what a round does and what it counts.

``run_round`` is the one place a federated round is driven (``simulate`` and Flower's server both
use it), so its accounting is checked here against hand counts, with a scripted transport (no
client code: the counts follow from the messages alone) and with real clients.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from asktell import Real, Space, State
from asktell.errors import ConfigError, FederationError, StateError
from asktell.loops.federated import (
    FedProx,
    FedZO,
    FZooS,
    Message,
    Replies,
    ScaffoldI,
    ScaffoldII,
    Tally,
    evaluate,
    round_record,
    run_round,
    simulate,
)
from asktell.loops.federated.protocol import (
    CLIENT_PHASES,
    PHASE_AWAIT,
    PHASE_AWAIT_POST,
    PHASE_LOCAL,
    PHASE_POST,
    PHASE_REPORT,
    PHASE_REPORT_POST,
    ServerState,
)
from asktell.problems import federated_quadratic
from asktell.rng import derive_seed

D, N, M = 5, 3, 7
SPACE = Space({f"x{j}": Real(-2.0, 2.0) for j in range(D)})
CLIENTS = federated_quadratic(N, D)
SMALL_FZOOS = dict(
    n_features=M,
    local_steps=3,
    local_active=2,
    local_candidates=20,
    post_active=4,
    post_candidates=20,
    init_queries=3,
    n_local=40,
    n_rff=60,
    lr=0.05,
)
X, W = 8 * D, 8 * M  # bytes of an iterate and of FZooS's RFF weights (float64)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "main_097271f.json"


def _scripted(lost=()):
    """A transport that answers for the clients without running them: iterates of ``D`` floats,
    post reports of ``M`` floats, ``10 * round`` queries each; ``lost`` holds (round, kind, client)
    whose report does not arrive. Records every call as (kind, round, clients)."""
    calls = []

    def exchange(broadcast, clients):
        calls.append((broadcast.kind, broadcast.round, clients))
        kind = "iterate" if broadcast.kind == "start" else "post"
        arrays = {"x": np.full(D, 0.25 * broadcast.round)} if kind == "iterate" else {"w": np.ones(M)}
        messages = [
            Message(kind, broadcast.round, c, arrays)
            for c in clients
            if (broadcast.round, kind, c) not in lost
        ]
        return Replies(messages, {c: 10 * broadcast.round for c in clients})

    return exchange, calls


def test_the_accounting_is_the_hand_count():
    fed = FZooS(**SMALL_FZOOS)
    server = fed.server_init(SPACE, N, 0)
    exchange, calls = _scripted(lost={(2, "post", 2)})
    tally = Tally.initial(N)
    results = []
    for chosen in ([0, 1, 2], [0, 2], [0, 1, 2]):
        result = run_round(fed, server, chosen, exchange, tally)
        server, tally = result.server, result.tally
        results.append(result)
    assert calls == [
        ("start", 1, [0, 1, 2]),
        ("post", 1, [0, 1, 2]),
        ("start", 2, [0, 2]),
        ("post", 2, [0, 2]),  # the post request goes to the clients whose iterate arrived
        ("start", 3, [0, 1, 2]),
        ("post", 3, [0, 1, 2]),
    ]
    start = X + W  # a start message after round 1: the iterate and the averaged weights
    up = [3 * X + 3 * W, 2 * X + 1 * W, 3 * X + 3 * W]
    down = [
        3 * X + 3 * start,  # post requests, then the start of round 2 (round 1's start: client_init's)
        2 * X + 1 * start,  # clients 0 and 2 hold round 2's start; client 2's post report is lost
        2 * start + 3 * X + 3 * start,  # clients 1 (not chosen) and 2 (lost) download round 3's start first
    ]
    assert [r.tally.bytes_up for r in results] == np.cumsum(up).tolist()
    assert [r.tally.bytes_down for r in results] == np.cumsum(down).tolist()
    assert [r.reported for r in results] == [[0, 1, 2], [0], [0, 1, 2]]
    assert [r.tally.synced for r in results] == [{0, 1, 2}, {0}, {0, 1, 2}]
    assert [r.tally.total_queries for r in results] == [30, 20 + 10 + 20, 90]
    assert [r.server.round for r in results] == [1, 2, 3]
    assert results[1].server.x == tuple([0.5] * D)  # the average of the iterates that arrived
    assert results[-1].broadcast.kind == "start" and results[-1].broadcast.round == 4


@pytest.mark.parametrize(
    "fed, up, down",
    [
        (FZooS(**SMALL_FZOOS), N * (X + W), N * X + N * (X + W)),
        (FedZO(local_steps=2, q=3), N * X, N * X),
        (FedProx(local_steps=2, q=3), N * X, N * X),
        (ScaffoldI(local_steps=2, q=3), N * X + N * X, N * X + N * 2 * X),  # delta at x_r, both ways
        (ScaffoldII(local_steps=2, q=3), N * 2 * X, N * 2 * X),  # the iterate and gbar, both ways
    ],
    ids=["fzoos", "fedzo", "fedprox", "scaffold1", "scaffold2"],
)
def test_simulate_counts_each_algorithms_messages(fed, up, down):
    sim = simulate(fed, SPACE, CLIENTS, rounds=2, seed=0)
    assert [r["bytes_up"] for r in sim.records] == [up, 2 * up]
    assert [r["bytes_down"] for r in sim.records] == [down, 2 * down]
    assert sim.records[-1]["queries"] == sum(len(s.trials) for s in sim.clients)


def _in_process(fed, states, drop=()):
    """simulate's transport: each asked client syncs, works and reports; ``drop`` holds
    (round, client) whose reports are lost (the client still did its queries)."""

    def exchange(broadcast, clients):
        messages = []
        for i in clients:
            states[i] = evaluate(fed, fed.client_sync(states[i], broadcast), CLIENTS[i])
            message, states[i] = fed.client_report(states[i])
            if (broadcast.round, i) not in drop:
                messages.append(message)
        return Replies(messages, {i: len(states[i].trials) for i in clients})

    return exchange


def _federation(fed, seed=0):
    server = fed.server_init(SPACE, N, seed)
    start = fed.start_message(server)
    return server, [fed.client_init(SPACE, start, i, n_clients=N, seed=seed) for i in range(N)]


def test_a_client_that_missed_rounds_rejoins_at_the_current_start():
    fed = FedZO(local_steps=2, q=3)
    server, states = _federation(fed)
    exchange = _in_process(fed, states)  # closing broadcasts are not delivered: openings sync
    tally = Tally.initial(N)
    for chosen in ([0, 1, 2], [0, 2], [0, 2], [0, 1, 2]):
        before, earlier = server, tally
        result = run_round(fed, server, chosen, exchange, tally)
        server, tally = result.server, result.tally
    # client 1 sat out rounds 2 and 3 and rejoined at round 4's start: the server's iterate then
    per_round = 2 * (3 + 1)
    assert [t.metadata["round"] for t in states[1].trials] == [1] * per_round + [4] * per_round
    assert states[1].memo["round"] == 4 and states[1].memo["x_start"] == list(before.x)
    assert result.reported == [0, 1, 2]
    assert tally.bytes_down - earlier.bytes_down == X + 3 * X  # its catch-up, then 3 closing starts
    assert tally.bytes_up - earlier.bytes_up == 3 * X
    assert tally.total_queries == sum(len(s.trials) for s in states) == (3 + 2 + 2 + 3) * per_round


def test_a_dropped_report_is_left_out_and_its_client_catches_up():
    fed = FZooS(**SMALL_FZOOS)
    server, states = _federation(fed)
    exchange = _in_process(fed, states, drop={(2, 1)})
    tally = Tally.initial(N)
    results = []
    for _ in range(3):
        result = run_round(fed, server, [0, 1, 2], exchange, tally)
        server, tally = result.server, result.tally
        for i in result.reported:
            states[i] = fed.client_sync(states[i], result.broadcast)
        results.append(result)
        if len(results) == 2:
            assert states[1].memo["phase"] == PHASE_AWAIT and states[1].memo["round"] == 2
    assert [r.reported for r in results] == [[0, 1, 2], [0, 2], [0, 1, 2]]
    assert results[1].tally.synced == {0, 2}
    assert results[-1].tally.total_queries == sum(len(s.trials) for s in states)  # lost work counts
    per_round = [[sum(1 for t in s.trials if t.metadata["round"] == r) for s in states] for r in (1, 2, 3)]
    post = 1 + SMALL_FZOOS["post_active"]
    assert per_round[1][1] == per_round[1][0] - post  # its iterate was lost: no post request
    start = X + W
    bytes_down = np.diff([0] + [r.tally.bytes_down for r in results]).tolist()
    assert bytes_down == [3 * X + 3 * start, 2 * X + 2 * start, start + 3 * X + 3 * start]


def test_run_round_changes_nothing_it_is_given_and_its_tally_is_json():
    fed = FZooS(**SMALL_FZOOS)
    server = fed.server_init(SPACE, N, 0)
    tally = Tally(bytes_up=5, bytes_down=7, queries={0: 3}, synced=frozenset({0, 2}))
    server_json, tally_dict = server.to_json(), tally.to_dict()
    result = run_round(fed, server, [0, 1], _scripted()[0], tally)
    assert server.to_json() == server_json and tally.to_dict() == tally_dict
    again = Tally.from_dict(json.loads(json.dumps(result.tally.to_dict())))
    assert again == result.tally and again.queries == {0: 10, 1: 10}
    assert ServerState.from_json(result.server.to_json()) == result.server


def test_a_round_without_clients_completes_without_exchanging():
    fed = FZooS(**SMALL_FZOOS)
    server = fed.server_init(SPACE, N, 0)
    exchange, calls = _scripted()
    result = run_round(fed, server, [], exchange, Tally.initial(N))
    assert calls == [] and result.reported == []
    assert result.server.round == 1 and result.server.x == server.x
    assert result.tally == Tally()  # nothing sent, and nobody holds round 2's start


def test_run_round_refuses_what_breaks_the_protocol():
    fed = FZooS(**SMALL_FZOOS)
    server = fed.server_init(SPACE, N, 0)
    tally = Tally.initial(N)
    exchange = _scripted()[0]
    with pytest.raises(ConfigError, match="distinct client indices"):
        run_round(fed, server, [0, 0], exchange, tally)
    with pytest.raises(ConfigError, match="0..2"):
        run_round(fed, server, [3], exchange, tally)
    mid_round, _ = fed.aggregate(server, [])
    with pytest.raises(FederationError, match="phase 'post'"):
        run_round(fed, mid_round, [0], exchange, tally)

    def stranger(broadcast, clients):
        return Replies([Message("iterate", broadcast.round, 2, {"x": np.zeros(D)})])

    with pytest.raises(FederationError, match="not asked"):
        run_round(fed, server, [0, 1], stranger, tally)
    with pytest.raises(FederationError, match="Replies"):
        run_round(fed, server, [0], lambda b, c: [], tally)
    with pytest.raises(StateError, match="belongs to"):
        run_round(FedZO(), server, [0], exchange, tally)


def test_round_record_has_simulate_keys_in_order():
    fed = FedZO(local_steps=2, q=3)
    result = run_round(fed, fed.server_init(SPACE, N, 0), [0, 1, 2], _scripted()[0], Tally.initial(N))
    record = round_record(result, seconds=1.5, evaluate=lambda p: sum(p.values()))
    keys = ["round", "params", "x", "F", "queries", "bytes_up", "bytes_down", "seconds", "reported"]
    assert list(record) == keys
    assert record["x"] == [0.25] * D and record["params"] == SPACE.decode([0.25] * D)
    assert record["F"] == pytest.approx(D * -1.0) and record["seconds"] == 1.5
    assert "F" not in round_record(result, seconds=0.0)
    assert list(simulate(fed, SPACE, CLIENTS, rounds=1).records[0]) == list(record)


# ------------------------------------------------------------------------------- the client pieces
def test_client_report_returns_the_message_and_the_state_that_sent_it():
    fed = FZooS(**SMALL_FZOOS)
    server, states = _federation(fed)
    ready = evaluate(fed, states[0], CLIENTS[0])
    snapshot = ready.to_json()
    message, sent = fed.client_report(ready)
    assert ready.to_json() == snapshot  # pure: the state passed in still has its report
    again, _ = fed.client_report(ready)
    assert again.to_json() == message.to_json()
    assert (message.kind, message.round, message.client) == ("iterate", 1, 0)
    assert message.arrays["x"].tolist() == ready.memo["outbox"]["x"]
    assert ready.memo["phase"] == PHASE_REPORT and sent.memo["phase"] == PHASE_AWAIT
    assert {k: v for k, v in sent.memo.items() if k != "phase"} == {
        k: v for k, v in ready.memo.items() if k != "phase"
    }
    assert sent.trials == ready.trials
    with pytest.raises(FederationError, match="nothing to report"):
        fed.client_report(sent)
    server, post = fed.aggregate(server, [message])
    post_ready = evaluate(fed, fed.client_sync(sent, post), CLIENTS[0])
    post_message, post_sent = fed.client_report(post_ready)
    assert post_message.kind == "post" and set(post_message.arrays) == {"w"}
    assert post_ready.memo["phase"] == PHASE_REPORT_POST and post_sent.memo["phase"] == PHASE_AWAIT_POST


def test_a_round_goes_through_the_named_phases_and_stored_states_use_them():
    fed = FZooS(**SMALL_FZOOS)
    server, states = _federation(fed)
    state = states[0]
    phases = [state.memo["phase"]]

    def note(s):
        if s.memo["phase"] != phases[-1]:
            phases.append(s.memo["phase"])
        return s

    for _ in range(2):  # the iterate exchange, then the post exchange
        while not fed.client_ready(state):
            state, (trial,) = fed.ask(state)
            state = note(fed.tell(state, trial.id, CLIENTS[0](trial.params)))
        message, state = fed.client_report(state)
        note(state)
        server, broadcast = fed.aggregate(server, [message])
        state = note(fed.client_sync(state, broadcast))
    one_round = [PHASE_LOCAL, PHASE_REPORT, PHASE_AWAIT, PHASE_POST, PHASE_REPORT_POST, PHASE_AWAIT_POST]
    assert phases == [*one_round, PHASE_LOCAL]
    assert set(phases) == set(CLIENT_PHASES)
    cases = json.loads(FIXTURE.read_text())["cases"]
    stored = [c["state"]["memo"]["phase"] for c in cases if c["loop"] in ("fzoos", "fedzo")]
    assert stored and set(stored) <= set(CLIENT_PHASES)  # the constants are the stored strings


def test_client_init_joins_at_any_start_message():
    fed = FZooS(**SMALL_FZOOS)
    server, states = _federation(fed, seed=4)
    sim = simulate(fed, SPACE, CLIENTS, rounds=2, seed=4)
    later = fed.start_message(sim.server)  # round 3's start: the global iterate and weights
    assert later.round == 3 and set(later.arrays) == {"x", "w"}
    late = fed.client_init(SPACE, later, 1, n_clients=N, seed=4)
    # the same state as joining at round 1 and syncing with the later start (how Flower joined)
    assert late == fed.client_sync(states[1], later)
    assert late.memo["round"] == 3 and late.memo["received"]["w"] == later.arrays["w"].tolist()
    assert late.seed == states[1].seed == sim.clients[1].seed  # from (seed, client) only
    assert late.memo["rff_seed"] == derive_seed(4, "rff") == states[0].memo["rff_seed"]
    # a standalone client is client 0 of a federation of one
    start = fed.start_message(fed.server_init(SPACE, 1, 4))
    alone = fed.client_init(SPACE, start, 0, n_clients=1, seed=4)
    standalone = fed.init(SPACE, seed=4)
    assert {k: v for k, v in standalone.memo.items() if k not in ("standalone", "server")} == {
        k: v for k, v in alone.memo.items() if k != "standalone"
    }
    assert standalone.seed == alone.seed


def test_client_init_refuses_what_is_not_a_start():
    fed = FedZO(local_steps=2, q=3)
    server = fed.server_init(SPACE, N, 0)
    start = fed.start_message(server)
    with pytest.raises(FederationError, match="'start' message"):
        fed.client_init(SPACE, Message("post", 1, -1, {"x": np.zeros(D)}), 0, n_clients=N, seed=0)
    with pytest.raises(FederationError, match="5 coordinates"):
        fed.client_init(SPACE, Message("start", 1, -1, {"x": np.zeros(D + 1)}), 0, n_clients=N, seed=0)
    with pytest.raises(ConfigError, match="0..2"):
        fed.client_init(SPACE, start, 3, n_clients=N, seed=0)
    with pytest.raises(ConfigError, match="seed"):
        fed.client_init(SPACE, start, 0, n_clients=N, seed=-1)
    with pytest.raises(ConfigError, match="n_clients"):
        fed.client_init(SPACE, start, 0, n_clients=0, seed=0)
    with pytest.raises(ConfigError, match="non-negative"):  # refused at once, as Loop.init does
        fed.server_init(SPACE, N, seed=-1)


def test_a_start_sent_again_changes_nothing():
    fed = FedZO(local_steps=2, q=3)
    server, states = _federation(fed)
    start = fed.start_message(server)
    state = states[0]
    for _ in range(5):  # midway through round 1
        state, (trial,) = fed.ask(state)
        state = fed.tell(state, trial.id, CLIENTS[0](trial.params))
    assert fed.client_sync(state, start) is state
    assert State.from_json(fed.client_sync(state, Message.from_json(start.to_json())).to_json()) == state


def test_clients_working_in_threads_give_simulate_s_rounds():
    """A transport may run its clients at once (threads here): the rounds do not change.

    FZooS fits its local GPs under ``torch_global_seed``; every other draw of the federated
    loops takes an explicit generator, so concurrent clients give the sequential iterates.
    """
    fed = FZooS(**{**SMALL_FZOOS, "n_features": 50})
    reference = simulate(fed, SPACE, CLIENTS, rounds=2, seed=1)
    server, states = _federation(fed, seed=1)

    def work(i, broadcast):
        states[i] = evaluate(fed, fed.client_sync(states[i], broadcast), CLIENTS[i])
        message, states[i] = fed.client_report(states[i])
        return message

    def exchange(broadcast, clients):
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            messages = list(pool.map(lambda i: work(i, broadcast), clients))
        return Replies(messages, {i: len(states[i].trials) for i in clients})

    tally = Tally.initial(N)
    for theirs in reference.records:
        result = run_round(fed, server, [0, 1, 2], exchange, tally)
        server, tally = result.server, result.tally
        ours = round_record(result, seconds=0.0)
        assert ours["x"] == theirs["x"]  # bit for bit
        assert [ours[k] for k in ("queries", "bytes_up", "bytes_down", "reported")] == [
            theirs[k] for k in ("queries", "bytes_up", "bytes_down", "reported")
        ]
