"""Two studies asked at once give exactly what they give one after the other.

The server runs the requests of different studies in its thread pool at the same time, and a
model-based loop draws from torch's global generator (BoTorch's restarts and raw samples); asktell
seeds it from the state under one process-wide lock, so concurrency must not change a single ask.
Two studies with identical states (BayesOpt, small settings) are asked and told for several rounds,
first one after the other, then two more from two client threads at once: every ask's params are
the same, exactly, and so are the final states (timings aside).

How the test knows the asks really overlapped in the server: the app's storage is a
:class:`~asktell.service.storage.Storage` whose ``update`` meets the other request at a barrier of
two *inside* the request (after the study's lock, before the loop's ask): neither study's ask is
computed until the other study's request is being served too. A server, or a test client, that
ran the requests one after the other would break the barrier (its timeout) and fail the test. A
logical clock (a shared counter, no wall time) around each change then shows that the two model
asks of every round interleaved: each started before the other had finished.
"""

from __future__ import annotations

import itertools
import threading
import warnings
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from conftest import TOKEN
from svc_helpers import SPACE, objective

from asktell.service.app import create_app
from asktell.service.storage import Snapshot, Storage
from asktell.state import State

T = TypeVar("T")
CONFIG = {"n_init": 3, "num_restarts": 2, "raw_samples": 32, "max_fit_iter": 20, "acq_maxiter": 20}
ROUNDS = 7  # 3 design points, then 4 asks of the model
BARRIER_TIMEOUT_S = 120.0  # only a broken test waits this long: a serialized server, a failed request


class _Rendezvous(Storage):
    """A Storage whose updates, while ``barrier`` is set, meet another request's at it first and
    record their span on a logical clock (``spans[study]``: one (start, end) per update)."""

    def __init__(self, url: str):
        super().__init__(url)
        self.barrier: threading.Barrier | None = None
        self.clock = itertools.count()
        self.spans: dict[str, list[tuple[int, int]]] = defaultdict(list)

    def update(self, name: str, change: Callable[[Snapshot], tuple[State, T]]) -> T:
        barrier = self.barrier
        if barrier is None:
            return super().update(name, change)

        def met(snap: Snapshot) -> tuple[State, T]:
            barrier.wait()
            start = next(self.clock)
            try:
                return change(snap)
            finally:
                self.spans[name].append((start, next(self.clock)))

        return super().update(name, met)


def _client(app: Any):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette deprecates its testclient on httpx
        from fastapi.testclient import TestClient
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def _run(app: Any, name: str, barrier: threading.Barrier | None) -> list[dict[str, Any]]:
    """``ROUNDS`` ask/tell cycles on one study through a client of its own; the asked trials."""
    asked = []
    try:
        with _client(app) as client:
            for _ in range(ROUNDS):
                answer = client.post(f"/studies/{name}/ask")
                assert answer.status_code == 200, answer.text
                (trial,) = answer.json()["trials"]
                asked.append(trial)
                body = {"trial_id": trial["id"], "value": objective(trial["params"])}
                told = client.post(f"/studies/{name}/tell", json=body)
                assert told.status_code == 200, told.text
    except BaseException:
        if barrier is not None:
            barrier.abort()  # release the other thread at once
        raise
    return asked


def _state(app: Any, name: str) -> dict[str, Any]:
    with _client(app) as client:
        return State.from_json(client.get(f"/studies/{name}/state").text).without_timings()


def test_two_studies_asked_at_once_ask_what_they_ask_one_after_the_other(db_url: str) -> None:
    storage = _Rendezvous(db_url)
    app = create_app(storage, TOKEN)
    names = ["seq-a", "seq-b", "par-a", "par-b"]
    with _client(app) as client:
        for name in names:  # identical states: the same loop, config, space and seed
            body = {"name": name, "loop": "bayesopt", "config": CONFIG, "space": SPACE, "seed": 11}
            assert client.post("/studies", json=body).status_code == 201

    sequential = {name: _run(app, name, None) for name in names[:2]}

    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)
    storage.barrier = barrier
    with ThreadPoolExecutor(2) as pool:
        futures = {name: pool.submit(_run, app, name, barrier) for name in names[2:]}
        concurrent = {name: future.result() for name, future in futures.items()}
    storage.barrier = None
    assert not barrier.broken

    models = [t["metadata"].get("model") for t in concurrent["par-a"]]
    assert models == ["sobol"] * 3 + ["gp"] * (ROUNDS - 3)  # the model asks are the point
    params = {name: [t["params"] for t in trials] for name, trials in {**sequential, **concurrent}.items()}
    assert params["par-a"] == params["seq-a"]  # exactly: the same floats
    assert params["par-b"] == params["seq-b"]
    assert params["seq-a"] == params["seq-b"]  # identical states ask identical points
    assert len({repr(p) for p in params["seq-a"]}) == ROUNDS  # and the run did move
    assert _state(app, "par-a") == _state(app, "seq-a") == _state(app, "par-b")

    # the proof of overlap: every update of one study met the other's at the barrier (else it
    # would have broken), and in every model round the two asks' changes interleaved
    spans = storage.spans
    assert len(spans["par-a"]) == len(spans["par-b"]) == 2 * ROUNDS  # an ask and a tell per round
    for round_ in range(3, ROUNDS):
        (a_start, a_end), (b_start, b_end) = spans["par-a"][2 * round_], spans["par-b"][2 * round_]
        assert a_start < b_end and b_start < a_end, (round_, spans)
    storage.close()


def test_the_rendezvous_breaks_when_requests_are_served_one_after_the_other(tmp_path) -> None:
    """The barrier is a real test of overlap: a lone request (the other never comes) breaks it."""
    storage = _Rendezvous(f"sqlite:///{tmp_path / 'alone.db'}")
    app = create_app(storage, TOKEN)
    with _client(app) as client:
        body = {"name": "alone", "loop": "random", "space": SPACE, "seed": 0}
        assert client.post("/studies", json=body).status_code == 201
        storage.barrier = threading.Barrier(2, timeout=0.5)
        alone = client.post("/studies/alone/ask")  # the last resort answers the BrokenBarrierError
        assert alone.status_code == 500 and "BrokenBarrierError" in alone.json()["detail"]
        storage.barrier = None
        assert client.get("/studies/alone").json()["n_trials"] == 0  # nothing was committed
    storage.close()
