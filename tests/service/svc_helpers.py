"""Helpers of the service tests: real server processes, worker processes, PostgreSQL schemas.

Everything here talks to 127.0.0.1 only, and every process it starts is stopped by its own PID.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("ASKTELL_TEST_PG_URL", "")
ROOT = Path(__file__).resolve().parents[2]
SPACE = {
    "x": {"type": "real", "low": -2.0, "high": 2.0},
    "k": {"type": "integer", "low": 1, "high": 5},
    "c": {"type": "categorical", "choices": ["a", "b", None]},
}


def objective(params: dict[str, Any]) -> float:
    """A cheap deterministic function of a trial's parameters."""
    bonus = {"a": 0.0, "b": 0.5, None: 1.0}[params["c"]]
    return (params["x"] - 0.3) ** 2 + 0.1 * params["k"] + bonus


def as_served(trial: Any) -> dict[str, Any]:
    """A trial as the HTTP API serves it: ``Trial.to_dict()`` with ``constraints`` (null when it
    has none) and ``feasible``."""
    return {**trial.to_dict(), "constraints": trial.constraints, "feasible": trial.feasible}


@contextlib.contextmanager
def pg_schema_url(schema: str) -> Iterator[str]:
    """ASKTELL_TEST_PG_URL with a new schema as its search path; the schema is dropped afterwards."""
    import psycopg

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


_STARTED: list[ServerProcess] = []


@atexit.register
def _stop_all() -> None:  # a safety net: a test that died still leaves no server behind
    for server in _STARTED:
        server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``asktell serve`` in a subprocess on 127.0.0.1 (one uvicorn process)."""

    def __init__(self, db: str, token: str, log: Path, port: int | None = None, workers: int = 1):
        self.db, self.token, self.log = db, token, log
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90.0) -> ServerProcess:
        return self.launch().wait_ready(timeout)

    def launch(self) -> ServerProcess:
        """Start the process; :meth:`wait_ready` waits for it to answer."""
        command = [
            sys.executable, "-m", "asktell.cli", "serve", "--db", self.db,
            "--host", "127.0.0.1", "--port", str(self.port), "--token", self.token,
            "--workers", str(self.workers), "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _STARTED.append(self)
        return self

    def wait_ready(self, timeout: float = 90.0) -> ServerProcess:
        self._wait(timeout)
        return self

    def _wait(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"asktell serve exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"asktell serve did not answer in {timeout} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as a crash."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def worker(url: str, token: str, study: str, cycles: int, out: str) -> None:
    """One evaluator: ``cycles`` ask/tell cycles through asktell.Client; every event is appended
    to the JSON-lines file ``out`` as it happens (so a record survives whatever comes next)."""
    from asktell.errors import AskTellError
    from asktell.service.client import Client

    client = Client(url, token, retry_s=90.0, timeout=120.0)
    with open(out, "a") as log:

        def record(**event: Any) -> None:
            log.write(json.dumps(event) + "\n")
            log.flush()

        for _ in range(cycles):
            try:
                (trial,) = client.ask(study)
            except AskTellError as exc:  # e.g. the connection broke: the ask may have happened
                record(event="ask_error", error=str(exc))
                continue
            record(event="asked", id=trial.id, params=trial.params)
            value = objective(trial.params)
            try:
                told = client.tell(study, trial.id, value)
            except AskTellError as exc:
                record(event="tell_error", id=trial.id, error=str(exc))
                continue
            record(event="told", id=told.id, value=told.value)
    client.close()


def run_workers(targets: list[tuple[str, str, str, int]], tmp: Path) -> list[list[dict]]:
    """Run one worker process per (url, token, study, cycles); returns each one's events."""
    import multiprocessing as mp

    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["asktell.service.client", "svc_helpers"])
    files = [tmp / f"worker-{i}.jsonl" for i in range(len(targets))]
    processes = [
        context.Process(target=worker, args=(*target, str(path)))
        for target, path in zip(targets, files, strict=True)
    ]
    for process in processes:
        process.start()
    deadline = time.monotonic() + 240
    for process in processes:
        process.join(timeout=max(1.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    assert all(p.exitcode == 0 for p in processes), [p.exitcode for p in processes]
    return [
        [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        for path in files
    ]


def check_accounting(events: list[list[dict]], trials: list[Any], *, crashed: bool = False) -> dict:
    """The invariants: no trial handed out twice; every acknowledged tell stored as told; every
    stored trial handed out (or, after a crash, pending: an ask whose answer was lost)."""
    asked = [e["id"] for stream in events for e in stream if e["event"] == "asked"]
    told = {e["id"]: e["value"] for stream in events for e in stream if e["event"] == "told"}
    assert len(asked) == len(set(asked)), "a trial was handed out twice"
    by_id = {t.id: t for t in trials}
    assert sorted(by_id) == list(range(len(trials))), "trial ids are not 0..n-1"
    for trial_id, value in told.items():
        stored = by_id[trial_id]
        assert stored.status == "completed" and stored.value == value, (trial_id, value, stored)
    for trial in trials:
        if trial.id not in set(asked):
            assert crashed and trial.status == "pending", f"trial {trial.id} is unaccounted for"
        elif trial.id in told:
            assert math.isfinite(trial.value)
    errors = [e for stream in events for e in stream if e["event"].endswith("_error")]
    return {"asked": len(asked), "told": len(told), "errors": errors}
