"""Determinism under threads: asks made at once in several threads equal the sequential asks.

BoTorch draws restarts, raw samples and sample paths from torch's global generator; every loop
seeds it only inside ``asktell.surrogates.seeding.torch_global_seed``, which holds one process-wide
lock. Without the lock, 4 threads asking at once gave 16 of 16 answers different from the
sequential ones, and the caller's own generator was sometimes not restored.
"""

from __future__ import annotations

import threading

import pytest
import torch

from asktell import Integer, Real, Space
from asktell.loops import BayesOpt, ZoRD
from asktell.loops.federated import FZooS

SPACE = Space({"x": Real(-2.0, 2.0), "y": Real(-1.0, 3.0), "k": Integer(0, 4)})
LOOPS = {
    "bayesopt": BayesOpt(n_init=4, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20),
    "zord": ZoRD(n_init=4),
    "fzoos": FZooS(
        n_features=100,
        local_steps=2,
        local_active=1,
        local_candidates=10,
        post_active=2,
        post_candidates=10,
        init_queries=2,
        n_local=20,
        n_rff=30,
    ),
}
THREADS, ROUNDS = 4, 3


def f(p) -> float:
    return (p["x"] - 0.5) ** 2 + 0.3 * (p["y"] - 1.0) ** 2 + 0.1 * (p["k"] - 2) ** 2


def warm_states(loop) -> list:
    """One state per thread, each past its initial design (different seeds)."""
    states = []
    for seed in range(THREADS):
        state = loop.init(SPACE, seed=seed)
        for _ in range(6):
            state, (trial,) = loop.ask(state)
            state = loop.tell(state, trial.id, f(trial.params))
        states.append(state)
    return states


def rounds(loop, state) -> list:
    """ROUNDS asks and tells from ``state``: the asked points and the final state (comparable)."""
    asked = []
    for _ in range(ROUNDS):
        state, (trial,) = loop.ask(state)
        asked.append(trial.params)
        state = loop.tell(state, trial.id, f(trial.params))
    return [asked, state.without_timings()]


@pytest.mark.parametrize("name", sorted(LOOPS))
def test_threads_asking_at_once_give_the_sequential_asks(name):
    loop = LOOPS[name]
    states = warm_states(loop)
    sequential = [rounds(loop, s) for s in states]
    torch.manual_seed(20261201)
    caller = torch.get_rng_state()  # the caller's own generator, which no ask may change
    start = threading.Barrier(THREADS)
    results: list = [None] * THREADS
    errors: list = []

    def work(i: int) -> None:
        try:
            start.wait()  # all threads ask at once
            results[i] = rounds(loop, states[i])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == sequential
    assert torch.equal(torch.get_rng_state(), caller)
