"""asktell's federated loops on Flower: the engine must not change the mathematics.

Each Flower simulation starts a Ray cluster (about 30-40 s on 2 busy cores), so the default suite
runs three: FZooS and FedZO against the in-process runner, and a run with a failing and a missing
client. The loopback deployment (SuperLink + 3 SuperNodes, ``flwr run``) is marked slow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("flwr")
pytest.importorskip("ray")

from asktell import Real, Space  # noqa: E402
from asktell.integrations import flower  # noqa: E402
from asktell.loops.federated import FedZO, FZooS, simulate  # noqa: E402
from asktell.problems import federated_quadratic  # noqa: E402

for _key, _value in flower.QUIET_ENV.items():
    os.environ.setdefault(_key, _value)

D, N, ROUNDS = 20, 3, 3
SPACE = Space({f"x{j}": Real(-2.0, 2.0) for j in range(D)})
CLIENTS = federated_quadratic(N, D)
SMALL_FZOOS = dict(
    n_features=300,
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
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flower_app"


def _simulate_on_one_thread(fed, space, clients, rounds, seed):
    """The in-process reference with one torch thread, like the ClientApps (Ray gives each 1 CPU).

    FZooS fits GPs; BLAS sums in another order with another thread count, which moves the
    iterates by ~1e-9: the engines are compared at equal thread counts, where they agree exactly.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return simulate(fed, space, clients, rounds=rounds, seed=seed).records
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "fed", [FZooS(**SMALL_FZOOS), FedZO(local_steps=3, q=4, lr=0.05)], ids=["fzoos", "fedzo"]
)
def test_flower_simulation_gives_the_in_process_iterates(fed):
    reference = _simulate_on_one_thread(fed, SPACE, CLIENTS, ROUNDS, 0)
    records = flower.run_simulation(fed, SPACE, CLIENTS, rounds=ROUNDS, seed=0, client_cpus=1.0)
    assert [r["round"] for r in records] == [1, 2, 3]
    for ours, theirs in zip(records, reference, strict=True):
        # float64 arrays cross Flower bit for bit: equal to the last bit at equal thread counts
        np.testing.assert_allclose(ours["x"], theirs["x"], rtol=0, atol=1e-12)
        assert ours["F"] == pytest.approx(theirs["F"], abs=1e-12)
        for key in ("queries", "bytes_up", "bytes_down", "reported"):
            assert ours[key] == theirs[key], key
        assert ours["params"].keys() == theirs["params"].keys()


def test_flower_partial_participation_counts_as_the_in_process_runner():
    """Two of three clients a round: the one rejoining downloads the start message it missed."""
    fed = FedZO(local_steps=2, q=3, lr=0.05)
    reference = simulate(fed, SPACE, CLIENTS, rounds=ROUNDS, seed=0, participation=0.67).records
    records = flower.run_simulation(fed, SPACE, CLIENTS, rounds=ROUNDS, seed=0, participation=0.67)
    pairs = zip(reference, reference[1:], strict=False)
    rejoined = [set(b["reported"]) - set(a["reported"]) for a, b in pairs]
    assert any(rejoined)  # some client sat a round out and came back
    for ours, theirs in zip(records, reference, strict=True):
        np.testing.assert_allclose(ours["x"], theirs["x"], rtol=0, atol=1e-12)
        for key in ("queries", "bytes_up", "bytes_down", "reported"):
            assert ours[key] == theirs[key], key


def _driver_with_flower_transport(fed, n, present, failing, rounds):
    """The round driver with an in-process transport that behaves as Flower's: only ``present``
    clients are asked; a client in ``failing`` (round, client) raises before its state is saved,
    so it sends nothing, counts nothing, and joins afresh at its next start."""
    from asktell.loops.federated import Replies, Tally, evaluate, round_record, run_round

    states = {}

    def exchange(broadcast, clients):
        messages, queries = [], {}
        for i in clients:
            if (broadcast.round, i) in failing:
                continue
            state = states.get(i)
            if state is None:
                state = fed.client_init(SPACE, broadcast, i, n_clients=n, seed=0)
            else:
                state = fed.client_sync(state, broadcast)
            message, states[i] = fed.client_report(evaluate(fed, state, CLIENTS[i]))
            messages.append(message)
            queries[i] = len(states[i].trials)
        return Replies(messages, queries)

    server, tally, records = fed.server_init(SPACE, n, 0), Tally.initial(n), []
    for _ in range(rounds):
        chosen = [i for i in fed.select_clients(server) if i in present]
        result = run_round(fed, server, chosen, exchange, tally)
        server, tally = result.server, result.tally
        records.append(round_record(result, seconds=0.0))
    return records


def test_a_failing_client_and_a_missing_one_are_survived(tmp_path):
    """Client 1 raises in its first round; client 3 of 4 never connects (3 SuperNodes).

    Flower's records are the round driver's with a transport that fails the same way: the
    failing client's catch-up download and its fresh start are counted as the driver counts them.
    """
    from flwr.simulation import run_simulation

    fed = FedZO(local_steps=2, q=3, lr=0.05)
    flag = str(tmp_path / "failed-once")

    def make_client(partition_id):
        if partition_id == 1 and not os.path.exists(flag):
            open(flag, "w").close()
            raise RuntimeError("client 1 is down this round")
        return CLIENTS[partition_id]

    run = flower.FlowerRun([])
    server = flower.server_app(fed, SPACE, rounds=2, seed=0, n_clients=4, wait=2.0, run=run)
    run_simulation(
        server_app=server,
        client_app=flower.client_app(fed, SPACE, make_client),
        num_supernodes=3,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 2, "_node_ip_address": "127.0.0.1", "logging_level": "warning"},
        },
    )
    assert os.path.exists(flag)
    assert [r["round"] for r in run.records] == [1, 2]
    assert run.records[0]["reported"] == [0, 2]
    assert run.records[1]["reported"] == [0, 1, 2]  # it rejoins at the next round
    assert run.server is not None and run.server.round == 2
    assert np.all(np.isfinite(run.records[-1]["x"]))
    reference = _driver_with_flower_transport(fed, 4, {0, 1, 2}, {(1, 1)}, rounds=2)
    for ours, theirs in zip(run.records, reference, strict=True):
        np.testing.assert_allclose(ours["x"], theirs["x"], rtol=0, atol=1e-12)
        for key in ("round", "queries", "bytes_up", "bytes_down", "reported"):
            assert ours[key] == theirs[key], key
    assert run.records[1]["bytes_down"] - run.records[0]["bytes_down"] == 8 * D * (1 + 3)  # its catch-up


@pytest.mark.slow
def test_loopback_deployment_runs_the_example_app(tmp_path):
    """SuperLink + 3 SuperNodes on 127.0.0.1 and ``flwr run`` (examples/flower_app/run_local.sh)."""
    if shutil.which("flower-superlink", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("flower-superlink is not installed next to this Python")
    records = tmp_path / "records.jsonl"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "ROUNDS": "2",
        "NODES": "3",
        "RECORDS": str(records),
        "WORKDIR": str(tmp_path / "flwr"),
        "OMP_NUM_THREADS": "1",  # the ClientApp processes, like the reference below
    }
    done = subprocess.run(
        ["bash", str(EXAMPLE / "run_local.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["round"] for r in rows] == [1, 2]
    assert all(r["reported"] == [0, 1, 2] for r in rows)
    sys.path.insert(0, str(EXAMPLE))
    try:
        import quadratic_app as example
    finally:
        sys.path.remove(str(EXAMPLE))
    reference = _simulate_on_one_thread(example.FED, example.SPACE, example.CLIENTS, 2, example.SEED)
    for ours, theirs in zip(rows, reference, strict=True):  # the network does not change the iterates
        np.testing.assert_allclose(ours["x"], theirs["x"], rtol=0, atol=1e-12)
        assert ours["queries"] == theirs["queries"]


def test_federate_command_prints_one_row_per_round(capsys):
    from asktell.cli import main

    args = ["federate", "--engine", "inprocess", "--algorithm", "fedzo", "--dim", "4", "--clients", "2"]
    assert main([*args, "--rounds", "2", "--config", '{"local_steps": 2, "q": 2}']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fedzo on the federated quadratic") and lines[1].split()[0] == "round"
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    assert main(["federate", "--rounds", "0"]) == 2  # refused with a message
