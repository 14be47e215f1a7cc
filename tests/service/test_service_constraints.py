"""Outcome constraints over HTTP (issue 15): ``constraints`` in ``POST /studies``, in the tell and
add bodies, ``constraints``/``feasible`` on every served trial, a feasible-only ``/best`` that says
"no feasible trial yet", the storage's rows (and a database of the layout before constraints,
migrated), ``asktell.Client`` and ``asktell tell/add --url --constraint`` against a real server.

Every refusal is checked for its status, for a message that says what to fix, and for leaving the
study exactly as it was (version and export).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    text,
)
from svc_helpers import SPACE, ServerProcess, as_served, objective

import asktell
from asktell.constraints import Constraint
from asktell.errors import BadRequest, StateError, TrialFinished
from asktell.loops import Sobol
from asktell.service import tables as tb
from asktell.service.storage import Storage

DECLARED = ["mem <= 4", {"name": "recall", "op": ">=", "bound": 0.9}]
STUDY = {"name": "c1", "loop": "sobol", "space": SPACE, "seed": 3, "constraints": DECLARED}
GOOD = {"mem": 3.0, "recall": 0.95}
POINT = {"x": 0.25, "k": 2, "c": None}
DATA = Path(__file__).parent / "data"


@pytest.fixture
def study(api) -> str:
    answer = api.post("/studies", json=STUDY)
    assert answer.status_code == 201, answer.text
    return "c1"


def _observe(api, name: str) -> tuple[int, str]:
    return api.get(f"/studies/{name}").json()["version"], api.get(f"/studies/{name}/state").text


def _library_state(tells: list[tuple[int, Any, dict | None, str]]) -> asktell.State:
    """What the same calls give through the library: Sobol with the study's problem."""
    loop = Sobol()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=3, constraints=["mem <= 4", "recall >= 0.9"])
    state, _ = loop.ask(state, 3)
    for trial_id, value, outcomes, status in tells:
        state = loop.tell(state, trial_id, value, status=status, constraints=outcomes)
    return state


def test_a_constrained_study_end_to_end(api, study: str) -> None:
    info = api.get(f"/studies/{study}").json()
    assert info["constraints"] == [
        {"name": "mem", "op": "<=", "bound": 4.0},
        {"name": "recall", "op": ">=", "bound": 0.9},
    ]
    asked = api.post(f"/studies/{study}/ask", json={"n": 3}).json()["trials"]
    assert all(t["constraints"] is None and t["feasible"] is None for t in asked)

    told = api.post(f"/studies/{study}/tell", json={"trial_id": 0, "value": 0.5, "constraints": GOOD})
    assert told.status_code == 200, told.text
    assert told.json()["constraints"] == GOOD and told.json()["feasible"] is True
    # the lowest value, but mem breaks its bound: never the best
    worse = {"trial_id": 1, "value": -3.0, "constraints": {"recall": 0.99, "mem": 4.5}}
    told = api.post(f"/studies/{study}/tell", json=worse)
    assert told.status_code == 200 and told.json()["feasible"] is False
    failed = api.post(f"/studies/{study}/tell", json={"trial_id": 2, "failed": True})
    assert failed.json()["feasible"] is None and failed.json()["constraints"] is None
    added = api.post(
        f"/studies/{study}/add",
        json={"params": POINT, "value": 0.25, "constraints": {"mem": 4, "recall": 0.9}},
    )
    assert added.status_code == 200, added.text
    assert added.json()["feasible"] is True and added.json()["metadata"] == {"added": True}

    trials = api.get(f"/studies/{study}/trials").json()
    assert [t["feasible"] for t in trials] == [True, False, None, True]
    assert api.get(f"/studies/{study}/trials/1").json() == trials[1]
    assert [t["id"] for t in api.get(f"/studies/{study}/trials?status=completed").json()] == [0, 1, 3]
    best = api.get(f"/studies/{study}/best").json()
    assert best["trial"]["id"] == 3 and best["detail"] is None

    # the export is the library's state for the same calls, and the served trials are its trials
    state = asktell.load(api.get(f"/studies/{study}/state").text)[1]
    expected = _library_state(
        [(0, 0.5, GOOD, "completed"), (1, -3.0, worse["constraints"], "completed"), (2, None, None, "failed")]
    )
    expected = Sobol().add(expected, POINT, 0.25, constraints={"mem": 4, "recall": 0.9})
    assert state == expected
    assert [as_served(t) for t in state.trials] == trials
    assert as_served(state.best()) == best["trial"]
    # ... and it imports back as it was (a constrained state through PUT)
    version = api.get(f"/studies/{study}").json()["version"]
    imported = api.put(
        f"/studies/{study}/state", content=state.to_json(), headers={"Content-Type": "application/json"}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["study"]["constraints"] == info["constraints"]
    assert imported.json()["study"]["version"] == version + 1
    assert api.get(f"/studies/{study}/trials").json() == trials


def test_best_says_no_feasible_trial_yet(api, study: str) -> None:
    best = api.get(f"/studies/{study}/best")
    assert best.status_code == 200
    assert best.json() == {"trial": None, "detail": best.json()["detail"]}
    assert best.json()["detail"].startswith("no feasible trial yet (no completed trial")
    api.post(f"/studies/{study}/ask", json={"n": 2})
    for trial_id in (0, 1):
        body = {"trial_id": trial_id, "value": 0.1, "constraints": {"mem": 9.0, "recall": 1.0}}
        assert api.post(f"/studies/{study}/tell", json=body).status_code == 200
    best = api.get(f"/studies/{study}/best").json()
    assert best["trial"] is None
    assert best["detail"] == (
        "no feasible trial yet (2 completed, none keeps every constraint; "
        "constraints: mem <= 4, recall >= 0.9)"
    )
    # an unconstrained study says what it always said: nothing has completed
    assert api.post("/studies", json={"name": "plain", "loop": "random", "space": SPACE}).status_code == 201
    assert api.get("/studies/plain/best").json() == {"trial": None, "detail": "no completed trial yet"}
    assert api.get("/studies/plain").json()["constraints"] == []


RAW = {"Content-Type": "application/json"}
REFUSED = {
    "no constraints": ({"value": 0.5}, 422, "gives the value of each of ['mem', 'recall']"),
    "one missing": ({"value": 0.5, "constraints": {"mem": 3}}, 422, "missing ['recall']"),
    "unknown name": ({"value": 0.5, "constraints": {**GOOD, "latency": 1}}, 422, "unknown ['latency']"),
    "not an object": ({"value": 0.5, "constraints": [3, 0.95]}, 422, "body field 'constraints'"),
    "a string": ({"value": 0.5, "constraints": "mem=3"}, 422, "valid dictionary"),
    "string value": ({"value": 0.5, "constraints": {"mem": "3", "recall": 1}}, 422, "constraints.mem"),
    "boolean value": ({"value": 0.5, "constraints": {"mem": True, "recall": 1}}, 422, "constraints.mem"),
    "failed with outcomes": ({"failed": True, "constraints": GOOD}, 422, "takes no constraint values"),
    "nested value": ({"value": 0.5, "constraints": {"mem": {"a": 1}, "recall": 1}}, 422, "constraints.mem"),
}
RAW_REFUSED = {  # bodies Python's json would not write
    "nan": ('"constraints": {"mem": NaN, "recall": 1}', 400, "NaN"),
    "1e400": ('"constraints": {"mem": 1e400, "recall": 1}', 422, "1e400"),
    "400 digits": ('"constraints": {"mem": 1' + "0" * 400 + ', "recall": 1}', 422, "constraints.mem"),
    "5000 digits": ('"constraints": {"mem": 1' + "0" * 5000 + ', "recall": 1}', 400, "digits"),
    "deep": ('"constraints": {"mem": ' + "[" * 600 + "1" + "]" * 600 + ', "recall": 1}', 400, "nested"),
}


@pytest.mark.parametrize("route", ["tell", "add"])
@pytest.mark.parametrize("case", list(REFUSED) + list(RAW_REFUSED))
def test_refused_outcomes_change_nothing(api, study: str, route: str, case: str) -> None:
    api.post(f"/studies/{study}/ask")
    before = _observe(api, study)
    target = '"trial_id": 0' if route == "tell" else f'"params": {json.dumps(POINT)}'
    if case in REFUSED:
        fields, status, fragment = REFUSED[case]
        content = "{" + target + ", " + json.dumps(fields)[1:]
    else:
        raw, status, fragment = RAW_REFUSED[case]
        content = "{" + target + ', "value": 0.5, ' + raw + "}"
    answer = api.post(f"/studies/{study}/{route}", content=content, headers=RAW)
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["detail"], answer.json()["detail"]
    assert _observe(api, study) == before


def test_outcomes_for_an_unconstrained_study_are_refused(api) -> None:
    assert api.post("/studies", json={"name": "plain", "loop": "random", "space": SPACE}).status_code == 201
    api.post("/studies/plain/ask")
    before = _observe(api, "plain")
    answer = api.post("/studies/plain/tell", json={"trial_id": 0, "value": 1.0, "constraints": GOOD})
    assert answer.status_code == 422 and "declares no constraints" in answer.json()["detail"]
    assert _observe(api, "plain") == before


CREATE_REFUSED = {
    "not a list": ("mem <= 4", "valid list"),
    "an object": ({"name": "mem", "op": "<=", "bound": 4}, "valid list"),
    "unreadable": (["mem < 4"], "cannot read the constraint"),
    "twice": (["mem <= 4", "mem >= 1"], "appear twice"),
    "bound past a float": (["mem <= 1e400"], "finite"),
    "bad name": (["9mem <= 1"], "outcome name"),
    "bad operator": ([{"name": "mem", "op": "<", "bound": 4}], "constraints.0"),
    "extra key": ([{"name": "mem", "op": "<=", "bound": 4, "unit": "GB"}], "constraints.0"),
    "string bound": ([{"name": "mem", "op": "<=", "bound": "4"}], "constraints.0"),
    "too many": ([f"c{i} <= 0" for i in range(101)], "at most 100"),
    "zord cannot use them": (["mem <= 4"], "cannot use outcome constraints"),
}


@pytest.mark.parametrize("case", list(CREATE_REFUSED))
def test_refused_creations_create_nothing(api, case: str) -> None:
    constraints, fragment = CREATE_REFUSED[case]
    body = {**STUDY, "name": "new", "constraints": constraints}
    if case.startswith("zord"):
        body = {**body, "loop": "zord", "space": {"x": {"type": "real", "low": 0.0, "high": 1.0}}}
    answer = api.post("/studies", json=body)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.json()["detail"], answer.json()["detail"]
    assert api.get("/studies").json() == []


def test_raw_hostile_bounds_are_refused(api) -> None:
    head = json.dumps({k: v for k, v in STUDY.items() if k != "constraints"})[:-1]
    for raw, status, fragment in [
        ("NaN", 400, "NaN"),
        ("1e400", 422, "1e400"),
        ("1" + "0" * 5000, 400, "digits"),
    ]:
        content = head + ', "constraints": [{"name": "m", "op": "<=", "bound": ' + raw + "}]}"
        answer = api.post("/studies", content=content, headers=RAW)
        assert answer.status_code == status and fragment in answer.json()["detail"], (raw, answer.text)
    assert api.get("/studies").json() == []


# --- storage: rows, catch-up, the layout before constraints ------------------------------------


def test_rows_keep_outcomes_and_another_process_catches_up(storage: Storage) -> None:
    loop = Sobol()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=1, constraints=["mem <= 4"])
    storage.create_study("s", state)
    other = Storage(storage.url)
    try:
        assert other.state("s") == state  # cached now: the next read catches up from the rows
        storage.update("s", lambda snap: snap.loop.ask(snap.state, 3))
        for trial_id, mem in [(0, 5.0), (1, 1.0)]:
            storage.update(
                "s",
                lambda snap, t=trial_id, m=mem: (
                    snap.loop.tell(snap.state, t, float(t), constraints={"mem": m}),
                    None,
                ),
            )
        caught_up = other.state("s")
        assert caught_up == storage.snapshot_full("s").state == storage.state("s")
        assert [t.feasible for t in caught_up.trials] == [False, True, None]
        assert storage.best("s")["id"] == 1  # trial 0 has the lower value, but is infeasible
        assert storage.trials("s")[0] == {**caught_up.trials[0].to_dict(), "feasible": False}
    finally:
        other.close()


def _old_layout(url: str) -> None:
    """The tables as the layout before constraints made them (schema "1": the trial table without
    ``outcomes`` and ``feasible``, as asktell/service/tables.py defined it then), holding one
    unconstrained study with completed, failed and pending trials, stored as that layout stored it."""
    from asktell.service.engine import create_engine

    metadata = MetaData()
    studies = tb.studies.to_metadata(metadata)
    meta = tb.meta.to_metadata(metadata)
    trials = Table(
        "asktell_trials",
        metadata,
        Column("study_id", Integer, ForeignKey("asktell_studies.id"), primary_key=True),
        Column("trial_id", Integer, primary_key=True, autoincrement=False),
        Column("status", String(16), nullable=False),
        Column("value", Text, nullable=False),
        Column("objective", Float, nullable=True),
        Column("params", Text, nullable=False),
        Column("metadata", Text, nullable=False),
        Column("asked_at", Float, nullable=False),
        Column("told_at", Float, nullable=True),
        Column("version", BigInteger, nullable=False),
        Index("asktell_trials_status", "study_id", "status", "asked_at"),
        Index("asktell_trials_objective", "study_id", "objective"),
        Index("asktell_trials_version", "study_id", "version"),
    )
    engine = create_engine(url)
    metadata.create_all(engine)
    state = json.loads((DATA / "schema1_export.json").read_text())
    core = {k: v for k, v in state.items() if k != "trials"}
    with engine.begin() as conn:
        conn.execute(insert(meta).values(key="schema", value="1"))
        study_id = conn.execute(
            insert(studies).values(
                uid="u" * 32, name="old", loop_name="sobol", core=json.dumps(core), version=6,
                base_version=1, revision="r" * 32, n_trials=len(state["trials"]), token_hash=None,
                pending_timeout_s=None, created_at=1.0, updated_at=2.0,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for t in state["trials"]:
            conn.execute(
                insert(trials).values(
                    study_id=study_id, trial_id=t["id"], status=t["status"], value=json.dumps(t["value"]),
                    objective=t["value"], params=json.dumps(t["params"]), metadata=json.dumps(t["metadata"]),
                    asked_at=1.0, told_at=None if t["status"] == "pending" else 2.0, version=t["id"] + 2,
                )
            )  # fmt: skip
    engine.dispose()


def _check_migrated(store: Storage) -> None:
    """A migrated database: the old study reads as it was, serves feasible trials, takes tells, and
    a constrained study lives beside it."""
    expected = asktell.State.from_json((DATA / "schema1_export.json").read_text())
    assert store.state("old") == expected
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM asktell_meta WHERE key = 'schema'")).scalar() == tb.SCHEMA
    served = store.trials("old")
    assert [t["feasible"] for t in served] == [True, True, None, None, True]
    assert store.best("old")["id"] == 1 and store.best("old")["feasible"] is True
    store.update("old", lambda snap: (snap.loop.tell(snap.state, 3, 0.0), None))
    assert store.best("old")["id"] == 1  # -0.5 is still the lowest
    assert store.trial("old", 3)["feasible"] is True
    constrained = Sobol().init(asktell.Space.from_dict(SPACE), seed=0, constraints=["mem <= 4"])
    store.create_study("new", constrained)
    store.update("new", lambda snap: snap.loop.ask(snap.state, 1))
    store.update("new", lambda snap: (snap.loop.tell(snap.state, 0, 1.0, constraints={"mem": 5.0}), None))
    assert store.best("new") is None and store.trial("new", 0)["feasible"] is False


def test_a_database_of_the_previous_layout_is_migrated(db_url: str) -> None:
    _old_layout(db_url)
    store = Storage(db_url)
    try:
        _check_migrated(store)
    finally:
        store.close()
    again = Storage(db_url)  # a second start finds the layout current: nothing to migrate
    again.close()


def test_a_sqlite_file_written_by_the_previous_version_is_migrated(tmp_path: Path) -> None:
    """``data/schema1.sql``: the ``.dump`` of a SQLite file that asktell's service wrote before
    constraints existed (one Sobol study: two completed trials, one failed, one pending, one added)."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((DATA / "schema1.sql").read_text())
    store = Storage(f"sqlite:///{path}")
    try:
        _check_migrated(store)
    finally:
        store.close()


def test_a_database_of_an_unknown_layout_is_still_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    Storage(url).close()
    with sqlite3.connect(tmp_path / "odd.db") as conn:
        conn.execute("UPDATE asktell_meta SET value = '3' WHERE key = 'schema'")
    with pytest.raises(StateError, match="schema '3'"):
        Storage(url)


# --- asktell.Client and the command line against a real server ---------------------------------

TOKEN = "constraints-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("server")
    with ServerProcess(f"sqlite:///{tmp / 'runs.db'}", TOKEN, tmp / "server.log") as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess):
    with asktell.Client(server.url, TOKEN) as c:
        yield c


def test_the_client_runs_a_constrained_study(client, request) -> None:
    name = request.node.name[:60]
    constraints = [Constraint("mem", "<=", 4.0), "recall >= 0.9"]
    info = client.create_study(name, Sobol(), asktell.Space.from_dict(SPACE), seed=3, constraints=constraints)
    assert [c["name"] for c in info["constraints"]] == ["mem", "recall"]
    assert client.best(name) is None
    trials = client.ask(name, n=3)
    told = client.tell(
        name, trials[0].id, objective(trials[0].params), constraints={"mem": 5.0, "recall": 1.0}
    )
    assert told.feasible is False and told.constraints == {"mem": 5.0, "recall": 1.0}
    assert client.best(name) is None  # completed, but infeasible: no best yet
    told = client.tell(name, trials[1].id, 2.5, constraints={"mem": 3.0, "recall": 0.95})
    assert told.feasible is True
    assert client.tell(name, trials[2].id, failed=True).feasible is None
    added = client.add(name, POINT, 9.0, constraints={"mem": 1.0, "recall": 0.99})
    assert added.feasible is True and added.metadata == {"added": True}
    assert client.best(name).id == trials[1].id
    listed = client.trials(name)
    assert [t.feasible for t in listed] == [False, True, None, True]
    assert listed == list(client.state(name).trials)  # the served trials are the state's
    version = client.study(name)["version"]
    for kwargs, error in [
        ({"constraints": {"mem": 1.0}}, "missing ['recall']"),
        ({"constraints": {"mem": 1.0, "recall": 1.0, "x": 2}}, "unknown ['x']"),
        ({"constraints": {"mem": float("nan"), "recall": 1.0}}, "must be finite"),
        ({"constraints": [1.0, 2.0]}, "must be a mapping"),
        ({}, "gives the value of each"),
    ]:
        with pytest.raises(BadRequest, match=error.replace("[", r"\[").replace("]", r"\]")):
            client.add(name, POINT, 1.0, **kwargs)
    with pytest.raises(BadRequest, match="must be a list"):
        client.create_study(name + "-x", "sobol", SPACE, constraints="mem <= 4")
    with pytest.raises(BadRequest, match="cannot use outcome constraints"):
        client.create_study(
            name + "-z", "zord", {"x": {"type": "real", "low": 0, "high": 1}}, constraints=["m <= 1"]
        )
    assert client.study(name)["version"] == version and len(client.trials(name)) == 4


def test_a_retried_tell_counts_only_with_the_same_outcomes(client, request, monkeypatch) -> None:
    """A tell whose answer was lost is retried; finding the trial told with the same value and
    outcomes counts as done, with other outcomes it is the conflict it is."""
    from asktell.service import client as client_module

    name = request.node.name[:60]
    client.create_study(name, "sobol", SPACE, constraints=["mem <= 4"])
    (trial,) = client.ask(name)
    client.tell(name, trial.id, 1.0, constraints={"mem": 2.0})
    original = client_module.Client._raw

    def lost_then_conflict(self, method, path, **kwargs):  # as if the first answer was lost
        if path.endswith("/tell"):
            raise client_module._ToldBefore(TrialFinished("already completed", status=409))
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(client_module.Client, "_raw", lost_then_conflict)
    assert client.tell(name, trial.id, 1.0, constraints={"mem": 2.0}).feasible is True
    with pytest.raises(TrialFinished):
        client.tell(name, trial.id, 1.0, constraints={"mem": 3.0})


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from asktell.cli import main

    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tell_and_add_with_url_take_constraints(server, client, capsys, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "random", SPACE, constraints=["mem <= 4", "recall >= 0.9"])
    target = ["--url", server.url, "--study", name, "--token", TOKEN]
    assert _cli(capsys, "ask", *target, "--n", "2")[0] == 0
    code, out, err = _cli(
        capsys, "tell", *target, "--trial", "0", "--value", "0.42",
        "--constraint", "mem=3.5", "--constraint", "recall=0.91",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {
        "id": 0,
        "status": "completed",
        "value": 0.42,
        "constraints": {"mem": 3.5, "recall": 0.91},
        "feasible": True,
    }  # what the file-based tell prints
    code, out, _ = _cli(
        capsys, "add", *target, "--params", '{"x": 0.5, "k": 3, "c": null}', "--value", "0.1",
        "--constraint", "mem=8", "--constraint", "recall=0.91",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["feasible"] is False and json.loads(out)["id"] == 2
    version = client.study(name)["version"]
    for argv, message in [
        (["--trial", "1", "--value", "1"], "gives the value of each"),
        (["--trial", "1", "--value", "1", "--constraint", "mem=1"], "missing ['recall']"),
        (["--trial", "1", "--value", "1", "--constraint", "mem=1", "--constraint", "mem=2"], "'mem' twice"),
        (["--trial", "1", "--value", "1", "--constraint", "mem=nan"], "--failed instead"),
        (["--trial", "1", "--value", "1", "--constraint", "mem=\u0661", "--constraint", "recall=1"], "ASCII"),
        (["--trial", "1", "--failed", "--constraint", "mem=1"], "takes no constraint values"),
    ]:
        code, out, err = _cli(capsys, "tell", *target, *argv)
        assert code == 2 and err.startswith("asktell: error: ") and message in err, (argv, err)
        assert out == ""
    assert client.study(name)["version"] == version
    assert client.best(name).id == 0
