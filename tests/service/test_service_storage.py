"""The storage conformance suite: SQLite always, PostgreSQL when ASKTELL_TEST_PG_URL is set.

Every backend must: keep a study's state exactly (state JSON in, the same JSON out), keep the trial
rows consistent with the state, refuse a commit made from a stale read (optimistic concurrency),
recompute a lost race instead of losing a change, catch up on what another process committed, and
keep everything when many threads change one study at once.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from svc_helpers import SPACE, objective

from asktell import Space
from asktell.errors import Conflict, StudyExists, StudyNotFound, TrialNotFound
from asktell.loops import RandomSearch, Sobol
from asktell.service.storage import Storage
from asktell.service.tables import served
from asktell.state import FAILED, State


def _ask(snap, n=1):
    state, trials = snap.loop.ask(snap.state, n)
    return state, trials


def _tell(trial_id, value=None, status="completed"):
    def change(snap):
        state = snap.loop.tell(snap.state, trial_id, value, status=status)
        return state, state.trials[trial_id]

    return change


@pytest.fixture
def study(storage: Storage) -> str:
    storage.create_study("s", Sobol().init(Space.from_dict(SPACE), seed=4))
    return "s"


def test_create_read_list_delete(storage: Storage) -> None:
    state = RandomSearch().init(Space.from_dict(SPACE), seed=1)
    created = storage.create_study("one", state, token="tok-123456", pending_timeout_s=5.0)
    assert (created.name, created.version, created.n_trials) == ("one", 1, 0)
    assert created.pending_timeout_s == 5.0 and created.token_hash is not None
    storage.create_study("two", state)
    assert [s.name for s in storage.studies()] == ["one", "two"]
    assert storage.state("one") == state
    with pytest.raises(StudyExists, match="already exists"):
        storage.create_study("one", state)
    storage.delete_study("one")
    with pytest.raises(StudyNotFound, match="does not exist"):
        storage.state("one")
    with pytest.raises(StudyNotFound):
        storage.delete_study("one")
    recreated = storage.create_study("one", state)  # a new study: new uid, nothing cached reused
    assert recreated.uid != created.uid and storage.state("one").trials == ()


def test_state_round_trips_exactly_through_rows(storage: Storage, study: str) -> None:
    storage.update(study, lambda s: _ask(s, 4))
    storage.update(study, _tell(0, 1.25))
    storage.update(study, _tell(2, None, FAILED))
    cached = storage.state(study)
    fresh = Storage(storage.url)  # another process: nothing cached
    try:
        assert fresh.state(study).to_json() == cached.to_json()
    finally:
        fresh.close()
    assert [t.status for t in cached.trials] == ["completed", "pending", "failed", "pending"]
    assert cached.counter == 1 and cached.memo == {"sobol_issued": 4}


def test_trial_rows_match_the_state(storage: Storage, study: str) -> None:
    storage.update(study, lambda s: _ask(s, 5))
    for trial_id, value in [(0, 3.0), (1, -1.0), (3, -1.0)]:
        storage.update(study, _tell(trial_id, value))
    storage.update(study, _tell(4, None, FAILED))
    state = storage.state(study)
    assert storage.trials(study) == [served(t) for t in state.trials]
    assert [t["id"] for t in storage.trials(study, status="completed")] == [0, 1, 3]
    assert [t["id"] for t in storage.trials(study, status="pending")] == [2]
    assert [t["id"] for t in storage.trials(study, offset=1, limit=2)] == [1, 2]
    assert storage.trial(study, 4)["status"] == "failed"
    assert storage.best(study)["id"] == 1  # -1.0 twice: the lower id wins, as State.best()
    assert storage.best(study) == served(state.best())
    assert storage.counts(storage.study(study)) == {"pending": 1, "completed": 3, "failed": 1}
    with pytest.raises(TrialNotFound, match="no trial 9"):
        storage.trial(study, 9)


def test_a_failed_change_writes_nothing(storage: Storage, study: str) -> None:
    storage.update(study, lambda s: _ask(s, 1))
    before = storage.study(study)
    with pytest.raises(ValueError, match="finite"):
        storage.update(study, _tell(0, float("nan")))
    after = storage.study(study)
    assert (after.version, after.revision) == (before.version, before.revision)
    assert storage.trial(study, 0)["status"] == "pending"


def test_a_commit_from_a_stale_read_is_refused(storage: Storage, study: str) -> None:
    snap = storage.snapshot(study)
    storage.update(study, lambda s: _ask(s, 1))  # someone else commits first
    state, _ = _ask(snap, 1)
    assert storage._commit(snap, state) is False  # the version moved: nothing written
    assert storage.study(study).n_trials == 1
    assert storage._commit(storage.snapshot(study), _ask(storage.snapshot(study), 1)[0])
    assert storage.study(study).n_trials == 2


def test_a_lost_race_is_recomputed_not_lost(storage: Storage, study: str) -> None:
    other = Storage(storage.url)
    calls = []

    def change(snap):
        calls.append(snap.study.version)
        if len(calls) == 1:  # another process commits while this change is computed
            other.update(study, lambda s: _ask(s, 2))
        return _ask(snap, 1)

    try:
        (trial,) = storage.update(study, change)
    finally:
        other.close()
    assert len(calls) == 2 and calls[1] > calls[0]
    assert trial.id == 2  # computed on the state that has the other process's two trials
    assert storage.study(study).n_trials == 3


def test_conflicts_are_bounded(db_url: str, study: str) -> None:
    stubborn, other = Storage(db_url, max_attempts=3), Storage(db_url)

    def change(snap):
        other.update(study, lambda s: _ask(s, 1))  # always loses the race
        return _ask(snap, 1)

    try:
        with pytest.raises(Conflict, match="3 concurrent requests"):
            stubborn.update(study, change)
    finally:
        stubborn.close()
        other.close()


def test_another_process_catches_up_from_the_rows(storage: Storage, study: str) -> None:
    other = Storage(storage.url)
    try:
        other.update(study, lambda s: _ask(s, 3))
        assert len(storage.state(study).trials) == 3  # a full read
        other.update(study, _tell(1, 0.5))
        other.update(study, lambda s: _ask(s, 1))
        caught_up = storage.snapshot(study).state  # rows written since the cached version
        assert caught_up.to_json() == other.state(study).to_json()
        assert caught_up == storage.snapshot_full(study).state
    finally:
        other.close()


def test_import_replaces_everything(storage: Storage, study: str) -> None:
    storage.update(study, lambda s: _ask(s, 6))
    loop = RandomSearch()
    state = loop.init(Space.from_dict(SPACE), seed=9)
    state, (t0, t1) = loop.ask(state, 2)
    state = loop.tell(state, t0.id, objective(t0.params))
    other = Storage(storage.url)
    try:
        other.state(study)  # cached at the old version
        imported, created = storage.put_state(study, state)
        assert not created and imported.n_trials == 2 and imported.loop_name == "random"
        assert other.state(study).to_json() == state.to_json()  # a full reload, not a catch-up
        assert storage.trials(study) == [served(t) for t in state.trials]
        fresh, created = storage.put_state("new", state, token="abcdefgh")
        assert created and fresh.token_hash is not None
    finally:
        other.close()


def test_pending_since_finds_old_pending_trials(storage: Storage, study: str) -> None:
    import time

    storage.update(study, lambda s: _ask(s, 3))
    storage.update(study, _tell(1, 2.0))
    row = storage.study(study)
    assert storage.pending_since(row, time.time() + 1) == [0, 2]
    assert storage.pending_since(row, time.time() - 3600) == []


def test_threads_hammering_one_study_lose_nothing(storage: Storage, study: str) -> None:
    other = Storage(storage.url)  # two "processes": in-process lock per Storage, races between
    errors: list[BaseException] = []
    handed: list[int] = []

    def work(store: Storage) -> None:
        try:
            for _ in range(8):
                (trial,) = store.update(study, lambda s: _ask(s, 1))
                handed.append(trial.id)
                store.update(study, _tell(trial.id, float(trial.id)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in [storage, other] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    other.close()
    assert not errors, errors
    assert sorted(handed) == list(range(48))
    state = storage.snapshot_full(study).state
    assert [t.value for t in state.trials] == [float(i) for i in range(48)]
    assert all(t.status == "completed" for t in state.trials)


def test_refuses_memory_sqlite_and_foreign_schema(tmp_path) -> None:
    from asktell.errors import StateError

    with pytest.raises(StateError, match="in-memory"):
        Storage("sqlite://")
    path = tmp_path / "x.db"
    Storage(f"sqlite:///{path}").close()
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE asktell_meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(StateError, match="schema '99'"):
        Storage(f"sqlite:///{path}")


def test_a_state_round_trips_with_multi_objective_values(storage: Storage) -> None:
    loop = RandomSearch()
    state = loop.init(Space.from_dict(SPACE), seed=0, n_objectives=2)
    storage.create_study("mo", state)
    (trial,) = storage.update("mo", lambda s: _ask(s, 1))
    storage.update("mo", _tell(trial.id, [1.0, 2.0]))
    assert storage.trial("mo", trial.id)["value"] == [1.0, 2.0]
    assert storage.best("mo") is None  # no single best, as State.best()
    assert storage.state("mo").trials[0].value == (1.0, 2.0)


def test_sqlite_url_options(tmp_path) -> None:
    store = Storage(f"sqlite:///{tmp_path / 'f.db'}?synchronous=full&busy_timeout=1000")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1000
    store.close()
    from asktell.errors import StateError

    with pytest.raises(StateError, match="synchronous"):
        Storage(f"sqlite:///{tmp_path / 'g.db'}?synchronous=sometimes")


def test_a_state_with_trials_is_created_with_rows(storage: Storage) -> None:
    loop = Sobol()
    state = loop.init(Space.from_dict(SPACE), seed=0)
    state, trials = loop.ask(state, 3)
    state = replace(state)  # any state, not only a fresh one
    storage.create_study("pre", state)
    assert len(storage.trials("pre")) == 3
    assert storage.state("pre") == state
    assert isinstance(storage.state("pre"), State)


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf"])
def test_a_bad_busy_timeout_is_refused(tmp_path, value: str) -> None:
    from asktell.errors import StateError

    message = f"busy_timeout must be a number of milliseconds >= 0, got '{value}'"
    with pytest.raises(StateError, match=message):
        Storage(f"sqlite:///{tmp_path / 'b.db'}?busy_timeout={value}")
    assert not (tmp_path / "b.db").exists()


def test_a_busy_study_holds_up_no_other_study(storage: Storage, study: str) -> None:
    """Each study has its own in-process lock: while one request holds study ``s`` (its change
    waits for an event), updates of a hundred other studies go through. (With locks shared by
    stripes of names, some of them would wait for ``s``, and this test would time out.)"""
    others = [f"o{i}" for i in range(100)]
    for name in others:
        storage.create_study(name, Sobol().init(Space.from_dict(SPACE), seed=0))
    inside, release = threading.Event(), threading.Event()

    def held(snap):
        inside.set()
        assert release.wait(120)
        return _ask(snap, 1)

    holder = threading.Thread(target=lambda: storage.update(study, held))
    holder.start()
    try:
        assert inside.wait(60)
        done: list[int] = []
        worker = threading.Thread(
            target=lambda: done.extend(storage.update(name, lambda s: _ask(s, 1))[0].id for name in others)
        )
        worker.start()
        worker.join(timeout=120)
        assert not worker.is_alive() and done == [0] * len(others)
        assert storage.study(study).version == 1  # still held, not yet committed
    finally:
        release.set()
        holder.join(timeout=60)
    assert storage.study(study).n_trials == 1
