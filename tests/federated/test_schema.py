"""The federated loops' memo and server state, typed and checked (issue 14): every state a run
produces loads; a corrupted one is a StateError at ``asktell.load`` (never an IndexError or KeyError
at the next ask); server states and messages read from JSON refuse wrong types and lengths; options,
messages and broadcasts that could not work are refused where they enter."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

import asktell
from asktell import Real, Space, State
from asktell.checks import MAX_ASK
from asktell.errors import ConfigError, FederationError, StateError
from asktell.loops.federated import (
    FedProx,
    FedZO,
    FZooS,
    Message,
    ScaffoldI,
    ScaffoldII,
    ServerState,
    load_server,
    simulate,
)
from asktell.loops.federated.protocol import PHASE_POST, PHASE_REPORT_POST
from asktell.problems import federated_quadratic
from asktell.testing.hostile import memo_corruptions

D = 3
SPACE = Space({f"x{j}": Real(-2.0, 2.0) for j in range(D)})
SMALL = dict(
    n_features=20,
    local_steps=2,
    local_active=1,
    local_candidates=5,
    post_active=2,
    post_candidates=5,
    init_queries=2,
    n_local=20,
    n_rff=30,
)
ALGORITHMS = [
    FZooS(**SMALL),
    FZooS(**SMALL, correction="theory"),
    FedZO(local_steps=2, q=2),
    FedProx(local_steps=2, q=2),
    ScaffoldI(local_steps=2, q=2),
    ScaffoldII(local_steps=2, q=2),
]
IDS = ["fzoos", "fzoos-theory", "fedzo", "fedprox", "scaffold1", "scaffold2"]
F = federated_quadratic(1, D)[0]


def _standalone_run(fed, steps: int = 16):
    """Every state of a standalone run (after each ask and each tell), batches of 1 to 3."""
    state = fed.init(SPACE, seed=1)
    states = [state]
    for i in range(steps):
        state, trials = fed.ask(state, n=1 + i % 3)
        states.append(state)
        for t in trials:
            state = fed.tell(state, t.id, F(t.params))
        states.append(state)
    return states


@pytest.mark.parametrize("fed", ALGORITHMS, ids=IDS)
def test_every_state_of_a_run_loads_and_every_server_reads_back(fed):
    for state in _standalone_run(fed):
        loop, loaded = asktell.load(state.to_json())
        assert loaded == state and loop == fed
    sim = simulate(fed, SPACE, federated_quadratic(3, D), rounds=2, seed=0)
    for client in sim.clients:
        assert asktell.load(client.to_json())[1] == client
    assert ServerState.from_json(sim.server.to_json()) == sim.server


def _mid_run(fed, phase: str | None = None) -> dict:
    """The JSON object of a standalone state (the first in ``phase`` when given)."""
    for state in _standalone_run(fed):
        if phase is None and len(state.trials) >= 6 or state.memo["phase"] == phase:
            return json.loads(state.to_json())
    raise AssertionError(f"no state in phase {phase}")


def _set(path: str, value):
    def edit(memo: dict) -> None:
        *parents, last = path.split(".")
        node = memo
        for key in parents:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value(node[last]) if callable(value) else value

    return edit


_DELETE = object()
CORRUPTIONS = [  # (what, algorithm index, phase, edit, a fragment of the StateError)
    ("an unknown phase", 2, None, _set("phase", "resting"), "phase must be one of"),
    ("a negative round", 2, None, _set("round", -1), "round must be >= 0"),
    ("more local steps than local_steps", 2, None, _set("t", 3), "at most local_steps = 2"),
    ("a client index beyond the federation", 2, None, _set("client", 1), "client must be an index"),
    ("an iterate of the wrong dimension", 2, None, _set("x", lambda x: x[:-1]), "x has 2 coordinates"),
    ("an iterate outside the unit cube", 2, None, _set("x", lambda x: [1.5] + x[1:]), "unit cube"),
    (
        "a unit point of the wrong dimension",
        2,
        None,
        _set("unit.points", lambda p: [p[0] + [0.5]] + p[1:]),
        "unit.points[0]",
    ),
    ("a unit id of no trial", 2, None, _set("unit.ids", lambda ids: ids[:-1] + [999]), "unit.ids"),
    ("unit ids out of order", 2, None, _set("unit.ids", lambda ids: ids[::-1]), "unit.ids"),
    ("more ids than points", 2, None, _set("unit.points", lambda p: p[:1]), "one per asked point"),
    (
        "a working unit without points",
        2,
        "local",
        _set("unit", {"points": [], "ids": [], "center": [0.5] * D}),
        "has none",
    ),
    ("adam's moments of the wrong dimension", 2, None, _set("adam.m", [0.0]), "adam.m has 1"),
    ("a negative second moment", 2, None, _set("adam.v", [-1.0] * D), "adam.v"),
    ("a gradient estimate of the wrong dimension", 2, None, _set("grads", [[0.0]]), "grads"),
    ("an array this algorithm never sends", 2, None, _set("own", {"w": [0.0]}), "exchanges ['x']"),
    (
        "RFF weights of the wrong length",
        0,
        None,
        _set("received", {"w": [0.0] * 3}),
        "the algorithm sends 20",
    ),
    ("a negative uncertainty", 1, PHASE_POST, _set("unc", -1.0), "unc"),
    ("a post phase without x_global", 0, PHASE_POST, _set("x_global", _DELETE), "x_global"),
    ("GP hyperparameters that are not numbers", 0, PHASE_REPORT_POST, _set("gp", {"a": "x"}), "gp.a must be"),
    ("ragged GP hyperparameters", 0, PHASE_REPORT_POST, _set("gp", {"a": [[1.0], [1.0, 2.0]]}), "ragged"),
    ("a negative rff_seed", 0, None, _set("rff_seed", -1), "rff_seed must be >= 0"),
    ("a standalone client without its server", 2, None, _set("server", _DELETE), "standalone"),
    ("a server state in a federated client", 2, None, _set("standalone", False), "only a standalone client"),
    ("a server that is no server state", 2, None, _set("server", {"format": "x"}), "not a federated server"),
    ("a server of another round", 2, None, _set("server.round", lambda r: r + 1), "same exchange"),
    ("a server in the other exchange", 4, None, _set("server.phase", "post"), "pending_x"),
    (
        "a server iterate of the wrong dimension",
        2,
        None,
        _set("server.x", [0.5]),
        "the server state's x has 1",
    ),
    ("a server of another algorithm", 2, None, _set("server.algorithm", "fedprox"), "belongs to 'fedprox'"),
    (
        "a server of another space",
        2,
        None,
        _set("server.space", {"x0": {"type": "real", "low": 0.0, "high": 1.0}}),
        "space",
    ),
]


@pytest.mark.parametrize(
    "algorithm, phase, edit, fragment",
    [c[1:] for c in CORRUPTIONS],
    ids=[c[0] for c in CORRUPTIONS],
)
def test_a_corrupted_client_memo_is_a_state_error_at_load(algorithm, phase, edit, fragment):
    data = _mid_run(ALGORITHMS[algorithm], phase)
    edit(data["memo"])
    with pytest.raises(StateError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        asktell.load(json.dumps(data))


def test_every_corruption_of_a_federated_clients_memo_is_refused_or_works():
    """A client of a federation (not standalone), as the conformance suite corrupts standalone
    ones: every key deleted, of the wrong type or length, an extra key."""
    fed = ScaffoldI(local_steps=2, q=2)
    sim = simulate(fed, SPACE, federated_quadratic(2, D), rounds=1, seed=0)
    state = sim.clients[0]
    data = state.to_dict()
    accepted = 0
    for case in memo_corruptions(json.loads(json.dumps(state.memo))):
        try:
            corrupted = State.from_dict({**data, "memo": case.memo})
            fed.check_state(corrupted)
        except StateError:
            continue
        accepted += 1
        new, (trial,) = fed.ask(corrupted)  # a state that passed works
        fed.tell(new, trial.id, 1.0)
    assert accepted > 0  # gp, fits and the like take other values of their type


# --- the server state ------------------------------------------------------------------------------
def _server() -> dict:
    fed = ScaffoldI(local_steps=2, q=2)
    return simulate(fed, SPACE, federated_quadratic(2, D), rounds=1, seed=0).server.to_dict()


SERVER_CORRUPTIONS = [
    ("schema_version", True, "schema version True"),
    ("n_clients", "2", "n_clients must be an integer"),
    ("n_clients", 0, "n_clients must be >= 1"),
    ("weights", [1.0], "2 positive numbers summing to 1"),
    ("weights", [0.7, 0.7], "summing to 1"),
    ("weights", [1.5, -0.5], "positive"),
    ("weights", ["0.5", "0.5"], "must be a number"),
    ("seed", -1, "seed must be in"),
    ("seed", 2**63, "seed must be in"),
    ("round", -1, "round must be >= 0"),
    ("round", 1.0, "round must be an integer"),
    ("phase", "done", "phase must be"),
    ("x", [0.5] * (D + 1), "x has 4 coordinates"),
    ("x", [2.0] * D, "unit cube"),
    ("x", "0.5", "must be a list"),
    ("pending_x", [0.5] * D, "pending_x is the new iterate of the post phase"),
    ("globals", {"delta": 1.0}, "must be a list"),
    ("globals", [], "must be an object"),
    ("config", None, "must be an object"),
    ("space", {"x0": {"type": "real", "low": 1.0, "high": 0.0}}, "space is invalid"),
    ("extra", 1, "unexpected ['extra']"),
]


@pytest.mark.parametrize(
    "key, value, fragment", SERVER_CORRUPTIONS, ids=[f"{k}={v!r}" for k, v, _ in SERVER_CORRUPTIONS]
)
def test_a_malformed_server_state_is_a_state_error(key, value, fragment):
    data = _server()
    data[key] = value
    before = copy.deepcopy(data)
    with pytest.raises(StateError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        ServerState.from_dict(data)
    assert data == before  # the input is untouched


@pytest.mark.parametrize(
    "text",
    ['{"format": NaN}', "{", "[" * 10_000, b"\xff", '"a"'],
    ids=["nan", "truncated", "deep", "not utf-8", "a string"],
)
def test_server_and_message_json_that_is_not_one_is_a_state_error(text):
    with pytest.raises(StateError):
        ServerState.from_json(text)
    with pytest.raises(StateError):
        Message.from_json(text)


def test_a_server_state_with_globals_of_the_wrong_size_is_refused_by_its_algorithm():
    fed = ScaffoldI(local_steps=2, q=2)
    data = _server()
    data["globals"] = {"delta": [0.0]}
    server = ServerState.from_dict(data)  # the layout is right; the algorithm knows the sizes
    with pytest.raises(StateError, match=r"globals\['delta'\] has 1 numbers"):
        fed.aggregate(server, [])


def test_every_corruption_of_a_server_state_is_refused_or_aggregates():
    fed = ScaffoldI(local_steps=2, q=2)
    data = _server()
    for case in memo_corruptions(data, max_depth=1):
        try:
            server = ServerState.from_dict(case.memo)
            fed.aggregate(server, [])
        except StateError:
            continue
        assert ServerState.from_json(server.to_json()) == server


# --- messages ----------------------------------------------------------------------------------------
MESSAGES = [
    {"kind": "hello", "round": 1, "client": 0, "arrays": {}},
    {"kind": "start", "round": True, "client": 0, "arrays": {}},
    {"kind": "start", "round": 1.5, "client": 0, "arrays": {}},
    {"kind": "start", "round": 1, "client": -2, "arrays": {}},
    {"kind": "start", "round": 1, "client": 0, "arrays": {"x": "0.5"}},
    {"kind": "start", "round": 1, "client": 0, "arrays": {"x": [[0.5]]}},
    {"kind": "start", "round": 1, "client": 0, "arrays": {"x": [True]}},
    {"kind": "start", "round": 1, "client": 0, "arrays": {"x": [10**400]}},  # was an OverflowError
    {"kind": "start", "round": 1, "client": 0, "arrays": []},
    {"kind": "start", "round": 1, "client": 0},
    [],
]


@pytest.mark.parametrize("data", MESSAGES, ids=range(len(MESSAGES)))
def test_a_malformed_message_is_a_state_error(data):
    with pytest.raises(StateError, match="not a federated message"):
        Message.from_dict(data)


def test_a_message_with_nan_is_refused_on_reading():
    text = '{"kind": "start", "round": 1, "client": -1, "arrays": {"x": [NaN]}}'
    with pytest.raises(StateError, match="NaN"):
        Message.from_json(text)
    assert Message.from_json(Message("start", 1, -1, {"x": np.zeros(2)}).to_json()).arrays["x"].shape == (2,)


def _iterate_messages(fed):
    server = fed.server_init(SPACE, 2, seed=0)
    return server, [Message("iterate", 1, i, {"x": np.full(D, 0.5)}) for i in range(2)]


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ({"x": np.full(D + 1, 0.5)}, "shape"),
        ({"x": np.full(1, 0.5)}, "shape"),  # would broadcast silently
        ({"x": np.array([math.nan] * D)}, "finite"),
        ({"x": np.full(D, 0.5), "w": np.zeros(4)}, "one of ['delta', 'x']"),
    ],
    ids=["long", "short", "nan", "unknown"],
)
def test_aggregate_refuses_messages_with_arrays_the_algorithm_does_not_send(arrays, fragment):
    fed = ScaffoldI(local_steps=2, q=2)
    server, messages = _iterate_messages(fed)
    messages[1] = Message("iterate", 1, 1, arrays)
    with pytest.raises(FederationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        fed.aggregate(server, messages)
    with pytest.raises(FederationError, match="list of the clients' Messages"):
        fed.aggregate(server, [m.to_dict() for m in messages])


def test_a_client_refuses_a_broadcast_it_could_not_use():
    fed = FZooS(**SMALL)
    state = fed.init(SPACE, seed=0)
    start = Message("start", 2, -1, {"x": np.full(D, 0.5), "w": np.zeros(3)})  # n_features is 20
    with pytest.raises(FederationError, match="'w' of shape"):
        fed.client_sync(state, start)
    outside = Message("start", 2, -1, {"x": np.full(D, 1.5)})
    with pytest.raises(FederationError, match="unit cube"):
        fed.client_sync(state, outside)
    with pytest.raises(FederationError, match="broadcast Message"):
        fed.client_sync(state, start.to_dict())


# --- options and server functions --------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda: FedProx(prox=math.nan),  # was accepted: the state could not be saved
        lambda: FedProx(prox=-1.0),
        lambda: FedZO(q=MAX_ASK + 1),  # a stencil is q + 1 queries
        lambda: FedZO(local_steps=10**7),
        lambda: FedZO(lr=10**400),  # beyond a float: the state would not load
        lambda: FZooS(n_features=10**7),
        lambda: FZooS(init_queries=2**62),  # was a TypeError from torch at the first ask
        lambda: FZooS(rff_lengthscale=1e-300),  # frequencies overflow
        lambda: FZooS(rff_lengthscale=1e300),
    ],
    ids=[
        "prox-nan",
        "prox-negative",
        "q",
        "local_steps",
        "lr-10**400",
        "n_features",
        "init_queries",
        "lengthscale-tiny",
        "lengthscale-huge",
    ],
)
def test_options_that_cannot_work_are_config_errors(make):
    with pytest.raises(ConfigError):
        make()


@pytest.mark.parametrize(
    "call",
    [
        lambda fed: fed.server_init(SPACE, 2, weights=["a", "b"]),
        lambda fed: fed.server_init(SPACE, 2, weights=[math.inf, 1.0]),
        lambda fed: fed.server_init(SPACE, 2, weights="ab"),
        lambda fed: fed.server_init(SPACE, 10**400),
        lambda fed: fed.server_init(SPACE, 10**7),
        lambda fed: fed.select_clients(fed.server_init(SPACE, 2), fraction="half"),
        lambda fed: fed.select_clients(fed.server_init(SPACE, 2), fraction=math.nan),
    ],
    ids=[
        "weights-strings",
        "weights-inf",
        "weights-text",
        "clients-10**400",
        "clients-10**7",
        "fraction-text",
        "fraction-nan",
    ],
)
def test_server_functions_refuse_arguments_that_cannot_work(call):
    with pytest.raises(ConfigError):
        call(FedZO(local_steps=2, q=2))


def test_server_init_takes_a_space_as_json():
    fed = FedZO(local_steps=2, q=2)
    assert fed.server_init(SPACE.to_dict(), 2, seed=0) == fed.server_init(SPACE, 2, seed=0)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("algorithm", "random", "not a federated algorithm"),
        ("algorithm", "nope", "algorithm or config is invalid"),
        ("config", {"q": "many"}, "algorithm or config is invalid"),
        ("globals", {"delta": [0.0]}, "has 1 numbers"),
    ],
    ids=["a loop", "unknown", "bad config", "globals"],
)
def test_load_server_refuses_what_no_federated_algorithm_could_resume(key, value, fragment):
    data = _server()
    data[key] = value
    with pytest.raises(StateError, match=fragment):
        load_server(json.dumps(data))
    fed, server = load_server(json.dumps(_server()))
    assert isinstance(fed, ScaffoldI) and server.to_dict() == _server()
