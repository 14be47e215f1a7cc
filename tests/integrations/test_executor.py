"""``minimize(..., executor=...)``: asynchronous parallel evaluation on any concurrent.futures pool.

The black boxes live at module level so process pools and Dask workers can unpickle them.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

import asktell
from asktell import Real, Space, minimize
from asktell.errors import ConfigError
from asktell.loops import BayesOpt, RandomSearch, Sobol

SPACE = Space({"x": Real(-2.0, 2.0), "y": Real(-1.0, 3.0)})
FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)


def quadratic(p):
    return (p["x"] - 0.7) ** 2 + 0.5 * (p["y"] - 1.2) ** 2


def fails_for_negative_x(p):
    if p["x"] < 0:
        raise RuntimeError("negative x")
    return quadratic(p)


def check_valid(result, budget):
    state = result.state
    assert len(state.trials) == budget
    assert all(t.status in ("completed", "failed") for t in state.trials)
    _, resumed = asktell.load(state.to_json())  # the state is valid and round-trips
    assert resumed.to_json() == state.to_json()


class _Recorder:
    """Counts evaluations running at the same time (threads only)."""

    def __init__(self, delay):
        self.delay, self.now, self.peak, self.lock = delay, 0, 0, threading.Lock()

    def __call__(self, p):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return quadratic(p)


def test_thread_pool_keeps_batch_size_evaluations_running():
    f = _Recorder(delay=0.05)
    with ThreadPoolExecutor(max_workers=3) as pool:
        result = minimize(f, SPACE, loop=Sobol(), budget=9, executor=pool)
    check_valid(result, 9)
    assert f.peak == 3  # batch_size defaults to the pool's max_workers


def test_asks_are_made_with_the_running_trials_pending():
    seen_pending = []

    class Spy(RandomSearch):
        def _propose(self, state, n):
            seen_pending.append(len(state.pending))
            return super()._propose(state, n)

    with ThreadPoolExecutor(max_workers=2) as pool:
        minimize(quadratic, SPACE, loop=Spy(), budget=6, executor=pool)
    # the first ask fills both workers; every later ask happens while the other one still runs
    # (or both finished together, then two are asked at once with none pending)
    assert seen_pending[0] == 0 and sum(seen_pending) >= 1


def test_process_pool_with_bayesopt_and_failures_stays_valid():
    with ProcessPoolExecutor(max_workers=2) as pool:
        result = minimize(fails_for_negative_x, SPACE, loop=FAST_BO, budget=8, executor=pool)
    check_valid(result, 8)
    failed = [t for t in result.trials if t.status == "failed"]
    assert all(t.params["x"] < 0 for t in failed)
    assert all("RuntimeError: negative x" in t.metadata["error"] for t in failed)
    assert any(t.metadata.get("model") == "gp" for t in result.trials)
    assert result.best.params["x"] >= 0


def test_an_executor_without_max_workers_needs_batch_size():
    class Bare:
        def submit(self, fn, *args):
            raise AssertionError("not reached")

    with pytest.raises(ConfigError, match="batch_size"):
        minimize(quadratic, SPACE, loop=Sobol(), budget=2, executor=Bare())


def test_dask_local_cluster_on_loopback():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,  # workers are threads; the scheduler still speaks TCP on loopback
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        addresses = [cluster.scheduler_address, *client.scheduler_info()["workers"]]
        assert all(a.startswith("tcp://127.0.0.1:") for a in addresses), addresses
        executor = client.get_executor(pure=False)
        result = minimize(
            fails_for_negative_x, SPACE, loop=Sobol(), budget=8, executor=executor, batch_size=2
        )
    check_valid(result, 8)
    assert any(t.status == "failed" for t in result.trials)
    assert result.best.value == min(t.value for t in result.trials if t.status == "completed")
