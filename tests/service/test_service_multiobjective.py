"""Several objectives over HTTP (issue 16): ``n_objectives`` and ``ref_point`` in ``POST /studies``,
list values in tell and add, ``GET /studies/{name}/pareto`` (the front, the hypervolume, the
reference point given or inferred), ``/best`` pointing to it, the storage's rows and catch-up (the
inferred reference point travels in the study row), ``asktell.Client`` and ``asktell tell/add/show
--url`` against a real server.

Every refusal is checked for its status, for a message that says what to fix, and for leaving the
study exactly as it was (version and export). The API tests run on SQLite and, with
ASKTELL_TEST_PG_URL, on PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from svc_helpers import SPACE, ServerProcess, as_served

import asktell
from asktell.errors import BadRequest, StudyNotFound
from asktell.loops import RandomSearch, Sobol
from asktell.pareto import infer_reference_point, reference_trials
from asktell.service import tables as tb
from asktell.service.storage import Storage

STUDY = {"name": "mo", "loop": "sobol", "space": SPACE, "seed": 3, "n_objectives": 2}
NEEDED = reference_trials(len(SPACE))  # the completed trials after which the point is inferred
POINT = {"x": 0.25, "k": 2, "c": None}
RAW = {"Content-Type": "application/json"}
# the values told to trials 0, 1, ...: (0.5, 3), (1, 2), (1.5, 1.5) and (2, 1) are the front
VALUES = [[1.0, 2.0], [2.0, 1.0], [0.5, 3.0], [3.0, 3.0], [1.5, 1.5], [2.5, 2.5]]


@pytest.fixture
def study(api) -> str:
    answer = api.post("/studies", json=STUDY)
    assert answer.status_code == 201, answer.text
    assert answer.json()["ref_point"] is None and answer.json()["ref_point_inferred"] is False
    return "mo"


def _observe(api, name: str) -> tuple[int, str]:
    return api.get(f"/studies/{name}").json()["version"], api.get(f"/studies/{name}/state").text


def _library_state(n_told: int) -> asktell.State:
    """What the same calls give through the library: Sobol with the study's problem."""
    loop = Sobol()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=3, n_objectives=2)
    state, _ = loop.ask(state, len(VALUES))
    for trial_id, value in enumerate(VALUES[:n_told]):
        state = loop.tell(state, trial_id, value)
    return state


def test_a_two_objective_study_end_to_end(api, study: str) -> None:
    pareto = api.get(f"/studies/{study}/pareto").json()
    assert pareto == {
        "trials": [],
        "n_objectives": 2,
        "hypervolume": None,
        "ref_point": None,
        "ref_point_inferred": False,
        "detail": f"no reference point yet: inferred after {NEEDED} completed trials (0 so far), or "
        "given at creation (ref_point)",
    }
    assert len(api.post(f"/studies/{study}/ask", json={"n": len(VALUES)}).json()["trials"]) == len(VALUES)
    for trial_id, value in enumerate(VALUES[: NEEDED - 1]):
        told = api.post(f"/studies/{study}/tell", json={"trial_id": trial_id, "value": value})
        assert told.status_code == 200, told.text
        assert told.json()["value"] == value and told.json()["feasible"] is True
    pareto = api.get(f"/studies/{study}/pareto").json()
    assert [t["id"] for t in pareto["trials"]] == [0, 1, 2]
    assert pareto["hypervolume"] is None and f"({NEEDED - 1} so far)" in pareto["detail"]

    # the tell that completes the design infers the reference point, and the study keeps it
    last = NEEDED - 1
    assert (
        api.post(f"/studies/{study}/tell", json={"trial_id": last, "value": VALUES[last]}).status_code == 200
    )
    expected_point = infer_reference_point(VALUES[:NEEDED]).tolist()
    info = api.get(f"/studies/{study}").json()
    assert info["ref_point"] == expected_point and info["ref_point_inferred"] is True
    added = api.post(f"/studies/{study}/add", json={"params": POINT, "value": [0.25, 4.0]})
    assert added.status_code == 200 and added.json()["value"] == [0.25, 4.0]
    assert added.json()["metadata"] == {"added": True}

    # the export is the library's state for the same calls; /pareto is its front and hypervolume
    state = asktell.load(api.get(f"/studies/{study}/state").text)[1]
    expected = Sobol().add(_library_state(NEEDED), POINT, [0.25, 4.0])
    assert state == expected and state.ref_point == tuple(expected_point)
    pareto = api.get(f"/studies/{study}/pareto").json()
    assert pareto["trials"] == [as_served(t) for t in state.pareto_front()]
    assert [t["id"] for t in pareto["trials"]] == [0, 1, 2, 4, 6]  # (0.25, 4): beyond the point, yet on it
    assert pareto["hypervolume"] == state.hypervolume() > 0
    assert pareto["ref_point"] == expected_point and pareto["ref_point_inferred"] is True
    assert pareto["detail"] is None
    # later tells never move the point
    api.post(f"/studies/{study}/tell", json={"trial_id": NEEDED, "value": [-10.0, -10.0]})
    assert api.get(f"/studies/{study}").json()["ref_point"] == expected_point
    assert [t["id"] for t in api.get(f"/studies/{study}/pareto").json()["trials"]] == [NEEDED]

    best = api.get(f"/studies/{study}/best")
    assert best.status_code == 422
    assert "2 objectives, so no single best trial" in best.json()["detail"]
    assert f"GET /studies/{study}/pareto" in best.json()["detail"]

    # ... and the state imports back as it was, its inferred point with it
    exported = api.get(f"/studies/{study}/state").text
    imported = api.put("/studies/copy/state", content=exported, headers=RAW)
    assert imported.status_code == 201, imported.text
    assert imported.json()["study"]["ref_point"] == expected_point
    assert imported.json()["study"]["ref_point_inferred"] is True
    assert api.get("/studies/copy/pareto").json() == api.get(f"/studies/{study}/pareto").json()


def test_a_given_reference_point_is_stored_and_used(api) -> None:
    body = {**STUDY, "name": "given", "loop": "random", "ref_point": [2.0, 3]}
    created = api.post("/studies", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["ref_point"] == [2.0, 3.0] and created.json()["ref_point_inferred"] is False
    empty = api.get("/studies/given/pareto").json()
    assert empty["trials"] == [] and empty["hypervolume"] == 0.0 and empty["detail"] is None
    for value in ([1.0, 2.0], [1.5, 1.0], [3.0, 0.0], [0.0, 0.0]):
        assert api.post("/studies/given/add", json={"params": POINT, "value": value}).status_code == 200
    pareto = api.get("/studies/given/pareto").json()
    # (0, 0) dominates every other point: the front is trial 3, its box 2 x 3
    assert [t["id"] for t in pareto["trials"]] == [3]
    assert pareto["hypervolume"] == pytest.approx(6.0, abs=1e-12)
    assert pareto["ref_point"] == [2.0, 3.0] and pareto["ref_point_inferred"] is False
    assert api.get("/studies/given").json()["ref_point"] == [2.0, 3.0]  # given: never inferred


def test_a_one_objective_study_serves_its_best_trial_as_the_front(api) -> None:
    assert api.post("/studies", json={"name": "one", "loop": "random", "space": SPACE}).status_code == 201
    for value in (2.0, 1.0, 3.0):
        assert api.post("/studies/one/add", json={"params": POINT, "value": value}).status_code == 200
    pareto = api.get("/studies/one/pareto").json()
    assert [t["id"] for t in pareto["trials"]] == [1] == [api.get("/studies/one/best").json()["trial"]["id"]]
    assert pareto["hypervolume"] is None and pareto["n_objectives"] == 1
    assert pareto["detail"].startswith("one objective: no hypervolume")
    assert api.get("/studies/one").json()["ref_point"] is None


REFUSED = {
    "one number": (1.0, 422, "value must be a list of 2 finite floats, got 1.0"),
    "one item": ([1.0], 422, "value must have 2 objectives, got 1"),
    "three items": ([1.0, 2.0, 3.0], 422, "value must have 2 objectives, got 3"),
    "empty list": ([], 422, "value must have 2 objectives, got 0"),
    "a string item": ([1.0, "2"], 422, "body field 'value'"),
    "a boolean item": ([1.0, True], 422, "body field 'value'"),
    "a nested list": ([[1.0], 2.0], 422, "body field 'value'"),
    "an object": ({"a": 1.0, "b": 2.0}, 422, "body field 'value'"),
}
RAW_REFUSED = {  # bodies Python's json would not write
    "nan": ("[1.0, NaN]", 400, "NaN"),
    "infinity": ("[-Infinity, 1.0]", 400, "Infinity"),
    "1e400": ("[1e400, 1.0]", 422, "1e400"),
    "5000 digits": ("[1" + "0" * 5000 + ", 1.0]", 400, "digits"),
}


@pytest.mark.parametrize("route", ["tell", "add"])
@pytest.mark.parametrize("case", list(REFUSED) + list(RAW_REFUSED))
def test_refused_values_change_nothing(api, study: str, route: str, case: str) -> None:
    api.post(f"/studies/{study}/ask")
    before = _observe(api, study)
    target = '"trial_id": 0' if route == "tell" else f'"params": {json.dumps(POINT)}'
    if case in REFUSED:
        value, status, fragment = REFUSED[case]
        raw = json.dumps(value)
    else:
        raw, status, fragment = RAW_REFUSED[case]
    answer = api.post(
        f"/studies/{study}/{route}", content="{" + target + ', "value": ' + raw + "}", headers=RAW
    )
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["detail"], answer.json()["detail"]
    assert _observe(api, study) == before


@pytest.mark.parametrize("route", ["tell", "add"])
def test_a_list_to_a_one_objective_study_is_refused(api, route: str) -> None:
    assert api.post("/studies", json={"name": "one", "loop": "sobol", "space": SPACE}).status_code == 201
    api.post("/studies/one/ask")
    before = _observe(api, "one")
    body: dict[str, Any] = {"trial_id": 0} if route == "tell" else {"params": POINT}
    answer = api.post(f"/studies/one/{route}", json={**body, "value": [1.0, 2.0]})
    assert answer.status_code == 422 and "value must be a finite float" in answer.json()["detail"]
    assert _observe(api, "one") == before


CREATE_REFUSED = {
    "too short": ({"ref_point": [1.0]}, "ref_point must have 2 numbers (one per objective), got 1"),
    "too long": ({"ref_point": [1.0, 2.0, 3.0]}, "ref_point must have 2 numbers"),
    "empty": ({"ref_point": []}, "got 0"),
    "one objective": ({"n_objectives": 1, "ref_point": [1.0]}, "a reference point is for several"),
    "no n_objectives": ({"n_objectives": None, "ref_point": [1.0, 2.0]}, "this problem has one"),
    "a string": ({"ref_point": "1,2"}, "body field 'ref_point'"),
    "a string item": ({"ref_point": [1.0, "2"]}, "body field 'ref_point.1'"),
    "a boolean item": ({"ref_point": [True, 2.0]}, "body field 'ref_point.0'"),
    "an object": ({"ref_point": {"a": 1}}, "body field 'ref_point'"),
    "past the limit": ({"n_objectives": 2, "ref_point": [1.0] * 1001}, "at most 1000"),
    "zord": ({"loop": "zord", "ref_point": [1.0, 2.0]}, "ZoRD optimizes one objective"),
}


@pytest.mark.parametrize("case", list(CREATE_REFUSED))
def test_refused_creations_create_nothing(api, case: str) -> None:
    fields, fragment = CREATE_REFUSED[case]
    body = {k: v for k, v in {**STUDY, "name": "new", **fields}.items() if v is not None}
    answer = api.post("/studies", json=body)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.json()["detail"], answer.json()["detail"]
    assert api.get("/studies").json() == []


def test_raw_hostile_reference_points_are_refused(api) -> None:
    head = json.dumps(STUDY)[:-1]
    for raw, status, fragment in [
        ("[NaN, 1.0]", 400, "NaN"),
        ("[1.0, Infinity]", 400, "Infinity"),
        ("[1e400, 1.0]", 422, "1e400"),
        ("[1" + "0" * 5000 + ", 1.0]", 400, "digits"),
    ]:
        answer = api.post("/studies", content=head + ', "ref_point": ' + raw + "}", headers=RAW)
        assert answer.status_code == status and fragment in answer.json()["detail"], (raw, answer.text)
    assert api.get("/studies").json() == []


# --- storage: rows, the reference point in the study row, catch-up ----------------------------


def test_rows_keep_lists_and_another_process_catches_up_with_the_point(storage: Storage) -> None:
    loop = RandomSearch()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=1, n_objectives=3)
    storage.create_study("s", state)
    other = Storage(storage.url)
    try:
        assert other.state("s") == state  # cached now: the next read catches up from the rows
        storage.update("s", lambda snap: snap.loop.ask(snap.state, NEEDED + 1))
        values = [[float(i), float(NEEDED - i), 0.5 * i] for i in range(NEEDED)]
        for trial_id, value in enumerate(values):
            storage.update("s", lambda snap, t=trial_id, v=value: (snap.loop.tell(snap.state, t, v), None))
        caught_up = other.state("s")
        assert caught_up == storage.snapshot_full("s").state == storage.state("s")
        assert caught_up.ref_point == tuple(infer_reference_point(values).tolist())
        assert caught_up.problem.ref_point_inferred
        assert [t.value for t in caught_up.completed] == [tuple(v) for v in values]
        with storage.engine.connect() as conn:
            rows = conn.execute(
                select(tb.trials.c.value, tb.trials.c.objective).order_by(tb.trials.c.trial_id)
            ).all()
        assert [json.loads(r[0]) for r in rows[:NEEDED]] == values
        assert all(r[1] is None for r in rows)  # no single objective to order by
        assert storage.trials("s")[0] == {**caught_up.trials[0].to_dict(), "feasible": True}
        fresh = Storage(storage.url)  # a process that never read it: a full read gives the same
        try:
            assert fresh.state("s") == caught_up
        finally:
            fresh.close()
    finally:
        other.close()


# --- asktell.Client and the command line against a real server ---------------------------------

TOKEN = "multiobjective-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("server")
    with ServerProcess(f"sqlite:///{tmp / 'runs.db'}", TOKEN, tmp / "server.log") as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess):
    with asktell.Client(server.url, TOKEN) as c:
        yield c


def test_the_client_runs_a_two_objective_study(client, request) -> None:
    name = request.node.name[:60]
    info = client.create_study(
        name, Sobol(), asktell.Space.from_dict(SPACE), n_objectives=2, ref_point=np.array([3.0, 3.5])
    )
    assert info["n_objectives"] == 2 and info["ref_point"] == [3.0, 3.5]
    empty = client.pareto(name)
    assert empty == asktell.service.Pareto(
        trials=[], hypervolume=0.0, ref_point=(3.0, 3.5), ref_point_inferred=False, n_objectives=2
    )
    trials = client.ask(name, n=3)
    assert client.tell(name, trials[0].id, (1.0, 2.0)).value == (1.0, 2.0)  # a tuple
    assert client.tell(name, trials[1].id, np.array([2.0, 1.0])).value == (2.0, 1.0)  # an array
    assert client.tell(name, trials[2].id, failed=True).status == "failed"
    added = client.add(name, POINT, [np.float64(2.5), 2.5])
    assert added.value == (2.5, 2.5) and added.metadata == {"added": True}

    pareto = client.pareto(name)
    state = client.state(name)
    assert pareto.trials == state.pareto_front() == client.pareto_front(name)
    assert [t.id for t in pareto.trials] == [0, 1]  # (2.5, 2.5) is dominated by (2, 1)
    # strips under (3, 3.5): (1, 2) from x = 1 to 2, (2, 1) from x = 2 to 3
    assert pareto.hypervolume == pytest.approx(state.hypervolume()) == pytest.approx(1 * 1.5 + 1 * 2.5)
    assert pareto.ref_point == (3.0, 3.5) and pareto.ref_point_inferred is False and pareto.detail is None
    with pytest.raises(BadRequest, match=f"GET /studies/{name}/pareto"):
        client.best(name)

    version = client.study(name)["version"]
    for value, error in [
        ([1.0], "must have 2 objectives, got 1"),
        ([1.0, 2.0, 3.0], "must have 2 objectives, got 3"),
        (1.0, "must be a list of 2 finite floats"),
        ([1.0, float("nan")], "must be a finite float"),
        (np.array([np.inf, 1.0]), "must be a finite float"),
    ]:
        with pytest.raises(BadRequest, match=error):
            client.add(name, POINT, value)
    for point, error in [
        ([1.0, float("nan")], "finite numbers"),
        ("1,2", "must be a list"),
        (3.0, "must be a list"),
        ([1.0], "ref_point must have 2 numbers"),
    ]:
        with pytest.raises(BadRequest, match=error):
            client.create_study(name + "-x", "sobol", SPACE, n_objectives=2, ref_point=point)
    assert client.study(name)["version"] == version and len(client.trials(name)) == 4
    with pytest.raises(StudyNotFound):
        client.study(name + "-x")


def test_the_client_sees_the_point_inferred(client, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "random", SPACE, n_objectives=2)
    pareto = client.pareto(name)
    assert pareto.hypervolume is None and pareto.ref_point is None
    assert pareto.detail is not None and f"inferred after {NEEDED} completed trials" in pareto.detail
    for value in VALUES[:NEEDED]:
        client.add(name, POINT, value)
    pareto = client.pareto(name)
    assert pareto.ref_point == tuple(infer_reference_point(VALUES[:NEEDED]).tolist())
    assert pareto.ref_point_inferred is True and pareto.hypervolume == client.state(name).hypervolume()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from asktell.cli import main

    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_tell_add_and_show_with_url_take_several_objectives(server, client, capsys, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "sobol", SPACE, n_objectives=2, ref_point=[3.0, 3.0])
    target = ["--url", server.url, "--study", name, "--token", TOKEN]
    assert _cli(capsys, "ask", *target, "--n", "2")[0] == 0
    code, out, err = _cli(capsys, "tell", *target, "--trial", "0", "--value", "1,2")
    assert code == 0, err
    assert json.loads(out) == {"id": 0, "status": "completed", "value": [1.0, 2.0]}  # as the file's tell
    code, out, err = _cli(
        capsys, "add", *target, "--params", '{"x": 0.5, "k": 3, "c": null}', "--value", "-0.5,2.5"
    )
    assert code == 0, err
    assert json.loads(out)["value"] == [-0.5, 2.5] and json.loads(out)["id"] == 2
    version = client.study(name)["version"]
    for value, message in [
        ("1,2,3", "must have 2 objectives, got 3"),
        ("1", "must be a list of 2 finite floats"),
        ("1,nan", "--failed instead"),
        ("1,", "an empty item"),
    ]:
        code, out, err = _cli(capsys, "tell", *target, "--trial", "1", "--value", value)
        assert code == 2 and err.startswith("asktell: error: ") and message in err, (value, err)
        assert out == ""
    assert client.study(name)["version"] == version

    code, out, err = _cli(capsys, "show", *target)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{server.url} study {name!r}: loop 'sobol'")
    assert lines[1] == "objectives: 2, all minimized; reference point [3, 3], given at init"
    assert "pareto front: 2 of 2 completed trials are non-dominated" in lines
    hypervolume = client.pareto(name).hypervolume
    assert hypervolume == pytest.approx(1.5 * 0.5 + 2 * 1.0)  # (-0.5, 2.5) and (1, 2) under (3, 3)
    assert lines[-1] == f"hypervolume: {hypervolume:.6g}, reference point [3, 3], given at init"
    code, out, _ = _cli(capsys, "show", *target, "--json")
    assert [t["pareto"] for t in json.loads(out)] == [True, None, True]
    code, out, err = _cli(capsys, "show", "--url", server.url, "--study", "nope", "--token", TOKEN)
    assert code == 2 and out == "" and "study 'nope' does not exist" in err
    code, _, err = _cli(capsys, "show", "--url", server.url, "--token", TOKEN)
    assert code == 2 and "--url needs --study NAME" in err


def test_pareto_needs_a_token_and_a_study(api, study: str) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
        answer = api.get(f"/studies/{study}/pareto", headers=headers)
        assert answer.status_code == 401 and "token" in answer.json()["detail"]
    missing = api.get("/studies/nope/pareto")
    assert missing.status_code == 404 and "study 'nope' does not exist" in missing.json()["detail"]
    token = {**STUDY, "name": "own", "token": "study-token-1"}
    assert api.post("/studies", json=token).status_code == 201
    own = api.get("/studies/own/pareto", headers={"Authorization": "Bearer study-token-1"})
    assert own.status_code == 200 and own.json()["trials"] == []
    assert (
        api.get(f"/studies/{study}/pareto", headers={"Authorization": "Bearer study-token-1"}).status_code
        == 401
    )
