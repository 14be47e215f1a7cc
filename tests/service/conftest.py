"""Fixtures of the service tests: databases (SQLite always, PostgreSQL when ASKTELL_TEST_PG_URL is
set), the app under FastAPI's test client, and real ``asktell serve`` processes on 127.0.0.1.

PostgreSQL tests each get a schema of their own (dropped afterwards), so they can run side by side.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_helpers import PG_URL, pg_schema_url

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
TOKEN = "server-token-for-tests"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'asktell.db'}"
        return
    with pg_schema_url(f"t_{secrets.token_hex(6)}") as url:
        yield url


@pytest.fixture
def storage(db_url: str):
    from asktell.service.storage import Storage

    store = Storage(db_url)
    yield store
    store.close()


@pytest.fixture
def api(storage):
    """FastAPI's test client on the app, with the server's token sent by default."""
    import warnings

    from asktell.service.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette deprecates its testclient on httpx
        from fastapi.testclient import TestClient

    with TestClient(create_app(storage, TOKEN)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client
