"""Studies and their trials in a SQL database, changed only by version-checked transactions.

Any SQLAlchemy database: SQLite by default, PostgreSQL by URL; the tables are in
:mod:`asktell.service.tables`. The state of a study is the study row's ``core`` (the state without
its trials) plus its trial rows, so listing trials or finding the best one reads
rows and never parses a state, and a tell writes one row. Every change goes through
:meth:`Storage.update`: read a consistent snapshot, compute the new state with the loop's pure
``ask``/``tell``, then in one transaction ``UPDATE ... WHERE version = :read_version`` and write the
changed trial rows. When another request committed in between, the update matches no row, nothing is
written, and the change is recomputed from a fresh snapshot (a bounded number of times, then
:class:`~asktell.errors.Conflict`). So any number of server processes can share a database,
and no request can lose a committed tell or hand out a pending trial twice. What a write stores (the
core and the trial rows) is serialized and read back, as the next read will read it, before its
transaction begins: a state that could not be read again is refused with StateError and nothing
written, so no request can wedge a study.

Parsing a large state on every request would dominate the cost of an ask, so each process keeps the
snapshots it read or wrote in a small LRU cache, checked against the study's ``revision``. It is only a
memo of ``parse(database rows)``: a request always reads the study row first, uses the cached state
only when the revision matches, catches up from the trial rows written since the cached version
when it does not (a reload in full after an import), and never commits without the version check.
Requests of one process on one study are serialized by an in-process lock that serves them in
arrival order, so they do not waste work on conflicts and none waits much longer than the others;
each study has a lock of its own, so requests of different studies never wait for each other (they
run side by side in the server's thread pool). Processes still conflict with each other, and that
is what the check is for.

SQLite runs in WAL mode (readers never block the writer) with a busy timeout and
``synchronous=NORMAL``: a commit survives the server process being killed; add
``?synchronous=full`` to the URL to make it survive a power cut too (an fsync per commit). See
:mod:`asktell.service.engine`.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from asktell.checks import check_json
from asktell.errors import (
    AskTellError,
    ConfigError,
    Conflict,
    StateError,
    StudyExists,
    StudyNotFound,
    TrialNotFound,
)
from asktell.registry import loop_class
from asktell.service import tables as tb
from asktell.service.engine import FifoLock, SnapshotCache, create_engine, normalize_url
from asktell.service.tables import (
    Study,
    row_trial_dict,
    served_trial,
    state_core,
    trial_dict,
    trial_row,
    trial_update,
)
from asktell.state import COMPLETED, State, Trial

T = TypeVar("T")
__all__ = ["Snapshot", "Storage", "Study", "hash_token", "normalize_url"]


@dataclass(frozen=True)
class Snapshot:
    """A study at one version: its row, its loop and its whole state."""

    study: Study
    loop: Any
    state: State


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a study's token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class _Lost(Exception):
    """Another commit changed the study since it was read."""


class Storage:
    """Studies in a SQL database. Thread-safe; one per process, shared by all requests.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql://user:pw@host/db``) or a file
            path (SQLite).
        max_attempts: how often a change is recomputed when concurrent commits keep winning,
            before :class:`Conflict` is raised.
        cache_size: how many studies' parsed states this process keeps (0: none).
        busy_timeout_s: how long SQLite waits for another process's write lock.
    """

    def __init__(
        self,
        url: str,
        *,
        max_attempts: int = 20,
        cache_size: int = 32,
        busy_timeout_s: float = 30.0,
    ):
        self.url = normalize_url(url)
        self.max_attempts = max_attempts
        self._cache: SnapshotCache[Snapshot] = SnapshotCache(cache_size)
        self._locks: weakref.WeakValueDictionary[str, FifoLock] = weakref.WeakValueDictionary()
        self._locks_mutex = threading.Lock()
        self.engine = create_engine(self.url, busy_timeout_s)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._create_schema()

    # --- set-up -----------------------------------------------------------------------------
    def _create_schema(self) -> None:
        for attempt in range(5):  # two servers starting at once may race to create the tables
            try:
                tb.metadata_obj.create_all(self.engine, checkfirst=True)
                with self._write() as conn:
                    found = self._schema_version(conn)
                    if found is None:
                        conn.execute(insert(tb.meta).values(key="schema", value=tb.SCHEMA))
                    while found in tb.MIGRATIONS:  # an older layout: brought up to date, in place
                        found, statements = tb.MIGRATIONS[found]
                        for statement in statements:
                            conn.exec_driver_sql(statement)
                        conn.execute(update(tb.meta).where(tb.meta.c.key == "schema").values(value=found))
                    if found is not None and found != tb.SCHEMA:
                        raise StateError(
                            f"the database holds asktell schema {found!r}; this asktell reads "
                            f"schema {tb.SCHEMA!r}. Use the asktell version that created it."
                        )
                return
            except (OperationalError, ProgrammingError, IntegrityError):
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def _schema_version(self, conn: Connection) -> str | None:
        """The layout version the database records; locked until the transaction ends (two
        servers starting on an old database migrate it once: the second then reads the new one)."""
        query = select(tb.meta.c.value).where(tb.meta.c.key == "schema")
        if not self.is_sqlite:  # SQLite's BEGIN IMMEDIATE already holds the write lock
            query = query.with_for_update()
        found = conn.execute(query).scalar()
        return None if found is None else str(found)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(asktell_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction that sees one snapshot of the database."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # --- studies ----------------------------------------------------------------------------
    def create_study(
        self,
        name: str,
        state: State,
        *,
        token: str | None = None,
        pending_timeout_s: float | None = None,
    ) -> Study:
        """Create a study from a loop's initial (or any) state. Raises StudyExists."""
        now = time.time()
        core, rows = _stored(name, state, state.trials, version=1, now=now)
        with self._write() as conn:
            if conn.execute(select(tb.studies.c.id).where(tb.studies.c.name == name)).first():
                raise StudyExists(f"study {name!r} already exists; choose another name or delete it first.")
            try:
                result = conn.execute(
                    insert(tb.studies).values(
                        uid=secrets.token_hex(16),
                        name=name,
                        loop_name=state.loop_name,
                        core=core,
                        version=1,
                        base_version=1,
                        revision=secrets.token_hex(16),
                        n_trials=len(state.trials),
                        token_hash=None if token is None else hash_token(token),
                        pending_timeout_s=pending_timeout_s,
                        created_at=now,
                        updated_at=now,
                    )
                )
            except IntegrityError:
                raise StudyExists(
                    f"study {name!r} already exists; choose another name or delete it first."
                ) from None
            study_id = result.inserted_primary_key[0]  # type: ignore[index]
            if rows:
                conn.execute(insert(tb.trials), [{**r, "study_id": study_id} for r in rows])
        return self.study(name)

    def study(self, name: str) -> Study:
        """The study's row. Raises StudyNotFound."""
        with self.engine.connect() as conn:
            return self._study(conn, name)

    def _study(self, conn: Connection, name: str, *, lock: bool = False) -> Study:
        """The study's row; ``lock``: hold it until the transaction ends (PostgreSQL's FOR UPDATE;
        a SQLite writer holds the whole database already)."""
        query = tb.SELECT_STUDY_FOR_UPDATE if lock and not self.is_sqlite else tb.SELECT_STUDY
        row = conn.execute(query, {"b_name": name}).first()
        if row is None:
            raise StudyNotFound(
                f"study {name!r} does not exist; create it first (POST /studies), "
                "or list the studies (GET /studies)."
            )
        return Study.from_row(row)

    def studies(self) -> list[Study]:
        """All studies, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(tb.studies).order_by(tb.studies.c.name)).all()
        return [Study.from_row(r) for r in rows]

    def counts(self, study: Study) -> dict[str, int]:
        """Number of trials per status."""
        query = (
            select(tb.trials.c.status, func.count())
            .where(tb.trials.c.study_id == study.id)
            .group_by(tb.trials.c.status)
        )
        with self.engine.connect() as conn:
            found: dict[str, int] = {row[0]: row[1] for row in conn.execute(query)}
        return {status: int(found.get(status, 0)) for status in ("pending", "completed", "failed")}

    def delete_study(self, name: str) -> None:
        """Delete a study and its trials. Raises StudyNotFound."""
        with self._write() as conn:
            study = self._study(conn, name, lock=True)
            conn.execute(delete(tb.trials).where(tb.trials.c.study_id == study.id))
            conn.execute(delete(tb.studies).where(tb.studies.c.id == study.id))
        self._cache.drop(study.uid)

    # --- states -----------------------------------------------------------------------------
    def snapshot(self, name: str) -> Snapshot:
        """The study's loop and state at its current version (from this process's cache when
        the revision matches, caught up from the rows written since otherwise)."""
        with self._read() as conn:
            study = self._study(conn, name)
            cached = self._cache.get(study.uid)
            if cached is not None and cached.study.revision == study.revision:
                return cached
            if cached is not None and study.base_version <= cached.study.version < study.version:
                rows = conn.execute(
                    tb.SELECT_TRIALS_SINCE, {"b_sid": study.id, "b_since": cached.study.version}
                ).all()
                snap = self._catch_up(study, cached, rows)
            else:
                rows = conn.execute(
                    select(tb.trials).where(tb.trials.c.study_id == study.id).order_by(tb.trials.c.trial_id)
                ).all()
                snap = self._parse(study, rows)
        self._cache.put(snap)
        return snap

    def _parse(self, study: Study, rows: Sequence[Any]) -> Snapshot:
        data = study.core_dict()
        data["trials"] = [trial_dict(r) for r in rows]
        state = State.from_dict(data)
        return self._snapshot(study, state)

    def _catch_up(self, study: Study, cached: Snapshot, rows: Sequence[Any]) -> Snapshot:
        data = study.core_dict()
        data["trials"] = []
        core = State.from_dict(data)
        trials = list(cached.state.trials)
        for row in rows:
            trial = Trial.from_dict(trial_dict(row), core.space, core.problem)
            if trial.id < len(trials):
                trials[trial.id] = trial
            elif trial.id == len(trials):
                trials.append(trial)
            else:  # a gap: should not happen, but a full read is always right
                return self.snapshot_full(study.name)
        return self._snapshot(study, replace(core, trials=tuple(trials)))

    def snapshot_full(self, name: str) -> Snapshot:
        """The study's state read in full from the database, bypassing the cache."""
        with self._read() as conn:
            study = self._study(conn, name)
            rows = conn.execute(
                select(tb.trials).where(tb.trials.c.study_id == study.id).order_by(tb.trials.c.trial_id)
            ).all()
            return self._parse(study, rows)

    def _snapshot(self, study: Study, state: State) -> Snapshot:
        if len(state.trials) != study.n_trials:
            raise StateError(
                f"study {study.name!r} is inconsistent: its row counts {study.n_trials} trials "
                f"but {len(state.trials)} were read; export it and import it again."
            )
        loop = loop_class(state.loop_name).from_config(state.loop_config)
        return Snapshot(study=study, loop=loop, state=state)

    def state(self, name: str) -> State:
        """The study's whole state (export)."""
        return self.snapshot(name).state

    def update(self, name: str, change: Callable[[Snapshot], tuple[State, T]]) -> T:
        """Apply ``change(snapshot) -> (new_state, result)`` with optimistic concurrency.

        ``change`` must be a pure function of the snapshot (it may run more than once, and its
        result is kept only from the run that committed). Raises what ``change`` raises (nothing is
        written then), StudyNotFound, or Conflict after ``max_attempts`` lost races.
        """
        lock = self._lock(name)  # held by this frame (and so kept) until the change is committed
        with lock:
            for attempt in range(self.max_attempts):
                snap = self.snapshot(name)
                new_state, result = change(snap)
                if self._commit(snap, new_state):
                    return result
                time.sleep(random.uniform(0, min(0.1, 0.002 * 2**attempt)))
        raise Conflict(
            f"study {name!r} was changed by {self.max_attempts} concurrent requests while this one "
            "was computed; nothing was changed. Retry the request."
        )

    def _lock(self, name: str) -> FifoLock:
        """The study's own in-process lock: one per name while a request holds it (a lock no
        request holds is dropped, so the table grows with the studies in use, not all studies)."""
        with self._locks_mutex:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = FifoLock()
            return lock

    def _commit(self, snap: Snapshot, new: State) -> bool:
        """Write ``new`` if the study is still at ``snap``'s version; False when it is not."""
        old, study = snap.state, snap.study
        if len(new.trials) < len(old.trials):
            raise StateError("a loop removed trials; that is a bug in the loop.")
        changed = [b for a, b in zip(old.trials, new.trials, strict=False) if a is not b and a != b]
        added = new.trials[len(old.trials) :]
        now, version = time.time(), study.version + 1
        core, rows = _stored(study.name, new, [*added, *changed], version, now, study.id, known=snap)
        new_study = replace(
            study,
            version=version,
            revision=secrets.token_hex(16),
            n_trials=len(new.trials),
            loop_name=new.loop_name,
            core=core,
            updated_at=now,
        )
        try:
            self._write_changes(study.version, new_study, rows[: len(added)], rows[len(added) :])
        except _Lost:
            return False
        self._cache.put(Snapshot(study=new_study, loop=snap.loop, state=new))
        return True

    def _write_changes(
        self,
        read_version: int,
        study: Study,
        added: Sequence[dict[str, Any]],
        changed: Sequence[dict[str, Any]],
    ) -> None:
        """Write the study row and the rows of its added and changed trials (``trial_row``s)."""
        now, version = study.updated_at, study.version
        with self._write() as conn:
            result = conn.execute(
                tb.UPDATE_STUDY,
                {
                    "b_sid": study.id,
                    "b_read_version": read_version,
                    "b_core": study.core,
                    "b_version": version,
                    "b_revision": study.revision,
                    "b_n_trials": study.n_trials,
                    "b_loop_name": study.loop_name,
                    "b_now": now,
                },
            )
            if result.rowcount != 1:
                raise _Lost  # leaving the block rolls the transaction back
            if added:
                conn.execute(tb.INSERT_TRIAL, list(added))
            if changed:
                conn.execute(tb.UPDATE_TRIAL, [trial_update(row) for row in changed])

    def put_state(
        self,
        name: str,
        state: State,
        *,
        token: str | None = None,
        pending_timeout_s: float | None = None,
    ) -> tuple[Study, bool]:
        """Import: replace the study's whole state (or create the study). Returns (study, created).

        Pending trials of the imported state count as asked now (for the pending timeout).
        ``token`` and ``pending_timeout_s`` apply only when the study is created.
        """
        with self.engine.connect() as conn:
            row = conn.execute(tb.SELECT_STUDY, {"b_name": name}).first()
        if row is None:
            try:
                return (
                    self.create_study(name, state, token=token, pending_timeout_s=pending_timeout_s),
                    True,
                )
            except StudyExists:
                pass  # created meanwhile: replace it
        now = time.time()
        core, rows = _stored(name, state, state.trials, version=0, now=now)
        with self._write() as conn:
            study = self._study(conn, name, lock=True)
            version = study.version + 1
            conn.execute(
                update(tb.studies)
                .where(tb.studies.c.id == study.id)
                .values(
                    core=core,
                    version=version,
                    base_version=version,
                    revision=secrets.token_hex(16),
                    n_trials=len(state.trials),
                    loop_name=state.loop_name,
                    updated_at=now,
                )
            )
            conn.execute(delete(tb.trials).where(tb.trials.c.study_id == study.id))
            if rows:
                conn.execute(
                    insert(tb.trials), [{**r, "study_id": study.id, "version": version} for r in rows]
                )
        self._cache.drop(study.uid)
        return self.study(name), False

    # --- trials -----------------------------------------------------------------------------
    def trials(
        self,
        name: str,
        *,
        status: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Trials as served (:func:`~asktell.service.tables.served_trial`: ``Trial.to_dict()`` and
        ``feasible``), by id; optionally of one status, one page."""
        with self._read() as conn:
            study = self._study(conn, name)
            query = select(tb.trials).where(tb.trials.c.study_id == study.id)
            if status is not None:
                query = query.where(tb.trials.c.status == status)
            query = query.order_by(tb.trials.c.trial_id).offset(offset)
            if limit is not None:
                query = query.limit(limit)
            return [served_trial(r) for r in conn.execute(query).all()]

    def trial(self, name: str, trial_id: int) -> dict[str, Any]:
        """One trial as served (``Trial.to_dict()`` and ``feasible``). Raises StudyNotFound,
        TrialNotFound."""
        with self._read() as conn:
            study = self._study(conn, name)
            row = conn.execute(
                select(tb.trials)
                .where(tb.trials.c.study_id == study.id)
                .where(tb.trials.c.trial_id == trial_id)
            ).first()
        if row is None:
            raise trial_not_found(study, trial_id)
        return served_trial(row)

    def best(self, name: str) -> dict[str, Any] | None:
        """The feasible completed trial with the lowest single-objective value (lowest id on
        ties), as served; None while there is none (``State.best()``, from the rows)."""
        with self._read() as conn:
            study = self._study(conn, name)
            feasible = tb.trials.c.feasible
            row = conn.execute(
                select(tb.trials)
                .where(tb.trials.c.study_id == study.id)
                .where(tb.trials.c.status == COMPLETED)
                .where(tb.trials.c.objective.is_not(None))
                .where(or_(feasible.is_(None), feasible.is_(True)))  # null: written before constraints
                .order_by(tb.trials.c.objective, tb.trials.c.trial_id)
                .limit(1)
            ).first()
        return None if row is None else served_trial(row)

    def pending_since(self, study: Study, before: float) -> list[int]:
        """Ids of the study's pending trials asked before the time ``before`` (seconds)."""
        with self.engine.connect() as conn:
            rows = conn.execute(tb.SELECT_PENDING_BEFORE, {"b_sid": study.id, "b_before": before}).all()
        return [r[0] for r in rows]


def _stored(
    name: str,
    state: State,
    trials: Sequence[Trial],
    version: int,
    now: float,
    study_id: int = 0,
    *,
    known: Snapshot | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """What a write stores: the state's core and the rows of ``trials``, serialized and read back as
    the next read of the study will read them, before any transaction begins.

    A state that could not be read back would wedge its study (every later request failing), so it
    is refused here, with nothing written. A core equal to the ``known`` snapshot's (which was read
    from the database) is not read again. Raises StateError.
    """
    try:
        core = state_core(state)
        rows = [trial_row(study_id, t, version, now) for t in trials]
        if known is not None and core == known.study.core:
            read = known.state
        else:
            read = State.from_dict({**json.loads(core), "trials": []})
        for row in rows:
            Trial.from_dict(row_trial_dict(row), read.space, read.problem)
    except (AskTellError, TypeError, ValueError, RecursionError) as exc:
        raise StateError(
            f"study {name!r}: the new state cannot be stored, it would not read back ({exc}); "
            f"nothing was changed. The request (or the loop {state.loop_name!r}) produced "
            "something the state format cannot hold: change the request, or report it."
        ) from None
    return core, rows


def trial_not_found(study: Study, trial_id: Any) -> TrialNotFound:
    known = f"its trials are 0..{study.n_trials - 1}" if study.n_trials else "it has none yet"
    return TrialNotFound(f"study {study.name!r} has no trial {trial_id!r}; {known}.")


OVERFLOW_HINT = "a JSON number beyond a float's range (such as 1e400) reads as infinity"


def check_strict_json(value: Any, what: str) -> Any:
    """``value`` (parsed JSON) if asktell can store and serve it (finite numbers, nested at most
    ``MAX_JSON_DEPTH`` levels; see :func:`asktell.checks.check_json`), else StateError."""
    try:
        check_json(value, what, error=StateError)
    except StateError as exc:
        if "finite" not in str(exc):
            raise
        raise StateError(f"{exc} ({OVERFLOW_HINT}; send numbers within about 1.8e308)") from None
    return value


def load_state_dict(data: Any) -> State:
    """A State from its JSON object, AskTellError for anything malformed (the loop's options
    included: a study whose loop cannot be built would fail every ask)."""
    try:
        state = State.from_dict(data)
    except AskTellError:
        raise
    except (TypeError, ValueError, KeyError) as exc:  # a state.py gap, worded for the user
        raise StateError(f"not a valid asktell state: {exc}") from None
    try:
        loop = loop_class(state.loop_name).from_config(state.loop_config)
    except ConfigError as exc:
        raise StateError(f"the state's loop_config is invalid: {exc}") from None
    state = replace(state, loop_config=loop.config())
    loop.check_state(state)  # an imported state either works or is refused with nothing stored
    return state
