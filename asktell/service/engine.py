"""The pieces of the storage that are not about studies: the engine, an in-process FIFO lock and
the snapshot cache.

- :func:`create_engine`: SQLite in WAL mode with a busy timeout, ``synchronous=NORMAL`` by default
  (``?synchronous=full`` and ``?busy_timeout=ms`` in the URL), and write transactions that take the
  write lock when they begin (``BEGIN IMMEDIATE``); other databases as SQLAlchemy makes them.
- :class:`FifoLock`: serves waiters in arrival order.
- :class:`SnapshotCache`: a small LRU keyed by study uid that never replaces a newer version by an
  older one.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from asktell.errors import StateError


class _Versioned(Protocol):
    @property
    def study(self) -> Any: ...


S = TypeVar("S", bound=_Versioned)


def normalize_url(url: str) -> str:
    """A SQLAlchemy URL from what a user typed: a file path means SQLite; ``postgresql://`` psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{url}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_options(url: str) -> tuple[str, dict[str, str]]:
    """Split asktell's own options (``synchronous``, ``busy_timeout``) off a SQLite URL."""
    base, _, query_text = url.partition("?")
    query = parse_qsl(query_text, keep_blank_values=True)
    ours = {k: v for k, v in query if k in ("synchronous", "busy_timeout")}
    rest = urlencode([(k, v) for k, v in query if k not in ours])
    return (f"{base}?{rest}" if rest else base), ours


def create_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """An engine for ``url`` (see :func:`normalize_url`); SQLite in WAL mode, writers BEGIN IMMEDIATE."""
    if not url.startswith("sqlite"):
        return sa_create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)
    url, options = _sqlite_options(url)
    if url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url:
        raise StateError(
            "an in-memory SQLite database cannot be shared between requests; "
            "give a file, e.g. sqlite:///asktell.db"
        )
    synchronous = options.get("synchronous", "normal").upper()
    if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise StateError(f"synchronous must be off, normal, full or extra, got {synchronous.lower()!r}.")
    busy_ms = _busy_timeout_ms(options.get("busy_timeout"), busy_timeout_s)
    engine = sa_create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_ms / 1000},
        pool_size=8,
        max_overflow=24,
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is ours (below), not pysqlite's
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # writers take the write lock up front: a deferred transaction that read first could
        # not wait for the lock (SQLite answers "busy" at once to a stale snapshot's upgrade)
        immediate = conn.get_execution_options().get("asktell_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _busy_timeout_ms(text: str | None, default_s: float) -> int:
    """The ``busy_timeout`` option of a SQLite URL (milliseconds), or ``default_s`` in ms."""
    if text is None:
        return int(default_s * 1000)
    try:
        busy_ms = float(text)
    except ValueError:
        busy_ms = math.nan
    if not (math.isfinite(busy_ms) and busy_ms >= 0):
        raise StateError(
            f"busy_timeout must be a number of milliseconds >= 0, got {text!r}; "
            "e.g. sqlite:///asktell.db?busy_timeout=30000."
        )
    return int(busy_ms)


class FifoLock:
    """A lock that serves waiters in arrival order, handing it over to the next one directly.

    ``threading.Lock`` lets a late arrival overtake threads that have waited longer, which shows
    as a long tail of latencies when many requests queue for one study.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def __enter__(self) -> None:
        with self._mutex:
            if not self._held:
                self._held = True
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder's __exit__: the lock is now ours

    def __exit__(self, *exc: object) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # still held, by the next in line
            else:
                self._held = False


class SnapshotCache(Generic[S]):
    """A small thread-safe LRU of snapshots, keyed by study uid."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, S] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, uid: str) -> S | None:
        with self._lock:
            snap = self._items.get(uid)
            if snap is not None:
                self._items.move_to_end(uid)
            return snap

    def put(self, snap: S) -> None:
        if self.size <= 0:
            return
        with self._lock:
            old = self._items.get(snap.study.uid)
            if old is not None and old.study.version > snap.study.version:
                return  # keep the newer one
            self._items[snap.study.uid] = snap
            self._items.move_to_end(snap.study.uid)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, uid: str) -> None:
        with self._lock:
            self._items.pop(uid, None)
