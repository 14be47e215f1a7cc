"""Concurrency against real ``asktell serve`` processes on 127.0.0.1.

8 worker processes x 25 ask/tell cycles on one study, through one server and through two server
processes sharing one database; and a server killed with SIGKILL in the middle of a run, then
restarted: no trial handed out twice, no acknowledged tell lost, every trial accounted for.
RandomSearch keeps the loop's own cost out of the way.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import BACKENDS
from svc_helpers import SPACE, ServerProcess, check_accounting, pg_schema_url, run_workers

import asktell

TOKEN = "concurrency-token"
WORKERS, CYCLES = 8, 25


def _create(url: str, name: str = "race") -> None:
    with asktell.Client(url, TOKEN) as client:
        client.create_study(name, "random", SPACE, seed=0)


def _trials(url: str, name: str = "race") -> list[asktell.Trial]:
    with asktell.Client(url, TOKEN) as client:
        return client.trials(name)


@pytest.fixture(params=BACKENDS)
def two_servers(request: pytest.FixtureRequest, tmp_path: Path):
    """Two ``asktell serve`` processes on one database (started side by side)."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'shared.db'}"
        else:
            url = stack.enter_context(pg_schema_url(f"c_{secrets.token_hex(6)}"))
        from asktell.service.storage import Storage

        Storage(url).close()  # the tables, before two servers race to create them
        servers = [ServerProcess(url, TOKEN, tmp_path / f"server-{i}.log") for i in range(2)]
        for server in servers:
            stack.callback(server.stop)
            server.launch()
        for server in servers:
            server.wait_ready()
        yield servers


def test_eight_workers_on_one_server_then_on_two_sharing_one_database(
    two_servers: list[ServerProcess], tmp_path: Path
) -> None:
    first, second = two_servers
    runs = {
        "one": [(first.url, TOKEN, "one", CYCLES)] * WORKERS,
        "two": [(s.url, TOKEN, "two", CYCLES) for s in two_servers * (WORKERS // 2)],
    }
    for study, targets in runs.items():
        _create(first.url, study)
        folder = tmp_path / study
        folder.mkdir()
        events = run_workers(targets, folder)
        trials = _trials(second.url, study)
        summary = check_accounting(events, trials)
        assert summary["errors"] == [], study
        assert summary["asked"] == summary["told"] == WORKERS * CYCLES == len(trials), study
        assert all(t.status == "completed" for t in trials), study


def test_a_server_killed_mid_run_loses_no_committed_tell(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    server = ServerProcess(f"sqlite:///{db}", TOKEN, tmp_path / "server.log").start()
    n_workers, cycles = 4, 25
    result: dict = {}
    try:
        _create(server.url)
        runner = threading.Thread(
            target=lambda: result.update(
                events=run_workers([(server.url, TOKEN, "race", cycles)] * n_workers, tmp_path)
            )
        )
        runner.start()
        completed_at_kill = _wait_for_completed(server.url, at_least=15, timeout=120)
        server.kill()  # SIGKILL: no shutdown, whatever was in flight is cut off
        time.sleep(0.5)
        server.start()  # the same database and port; the workers' clients retry meanwhile
        runner.join(timeout=240)
        assert not runner.is_alive(), "the workers did not finish"
        trials = _trials(server.url)
    finally:
        server.stop()
    events = result["events"]
    summary = check_accounting(events, trials, crashed=True)
    assert summary["told"] > completed_at_kill, "the run did not go on after the restart"
    ask_errors = [e for e in summary["errors"] if "may or may not" in e["error"]]
    # Only asks cut off in flight fail, at most two per worker: the one the kill interrupted and,
    # rarely, the worker's next one, accepted by the dying server's listening socket before the
    # kernel closed it (seen once in CI: 5 errors with 4 workers).
    assert len(summary["errors"]) == len(ask_errors) <= 2 * n_workers
    assert summary["asked"] + len(ask_errors) == n_workers * cycles
    orphans = [t for t in trials if t.status == "pending"]
    assert len(orphans) <= len(ask_errors)  # asks committed whose answer the kill cut off
    assert len(trials) == summary["asked"] + len(orphans)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def _wait_for_completed(url: str, at_least: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{url}/studies/race", headers=headers, timeout=5)
            if answer.status_code == 200:
                done = answer.json()["counts"]["completed"]
                if done >= at_least:
                    return done
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} trials completed in {timeout} s")
