"""The HTTP API through FastAPI's test client, on every storage backend.

Each refusal is checked for its status, for a message that says what to fix, and for leaving the
study exactly as it was.
"""

from __future__ import annotations

import time

import pytest
from svc_helpers import SPACE, as_served, objective

import asktell
from asktell.state import SCHEMA_VERSION

STUDY = {"name": "s1", "loop": "random", "space": SPACE, "seed": 3}


@pytest.fixture
def study(api) -> str:
    assert api.post("/studies", json=STUDY).status_code == 201
    return "s1"


def _version(api, name: str) -> int:
    return api.get(f"/studies/{name}").json()["version"]


def test_health_needs_no_token(api) -> None:
    answer = api.get("/health", headers={"Authorization": ""})
    assert answer.status_code == 200 and answer.json() == {
        "status": "ok",
        "version": asktell.__version__,
    }


def test_a_full_run(api, study: str) -> None:
    info = api.get(f"/studies/{study}").json()
    assert info["loop"] == "random" and info["seed"] == 3 and info["space"]["k"]["high"] == 5
    assert info["counts"] == {"pending": 0, "completed": 0, "failed": 0}
    asked = api.post(f"/studies/{study}/ask", json={"n": 3}).json()
    assert [t["id"] for t in asked["trials"]] == [0, 1, 2] and asked["expired"] == []
    assert all(t["status"] == "pending" and t["value"] is None for t in asked["trials"])
    for trial in asked["trials"][:2]:
        answer = api.post(
            f"/studies/{study}/tell",
            json={"trial_id": trial["id"], "value": objective(trial["params"]), "metadata": {"host": "n1"}},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "completed" and answer.json()["metadata"] == {"host": "n1"}
    failed = api.post(f"/studies/{study}/tell", json={"trial_id": 2, "failed": True})
    assert failed.json()["status"] == "failed" and failed.json()["value"] is None
    (one,) = api.post(f"/studies/{study}/ask").json()["trials"]  # no body: n = 1
    assert one["id"] == 3

    trials = api.get(f"/studies/{study}/trials").json()
    assert [t["status"] for t in trials] == ["completed", "completed", "failed", "pending"]
    assert [t["id"] for t in api.get(f"/studies/{study}/trials?status=pending").json()] == [3]
    assert [t["id"] for t in api.get(f"/studies/{study}/trials?offset=1&limit=2").json()] == [1, 2]
    assert api.get(f"/studies/{study}/trials/2").json() == trials[2]
    best = api.get(f"/studies/{study}/best").json()["trial"]
    assert best["value"] == min(t["value"] for t in trials[:2])

    # the exported state is the loop's state: resume it anywhere
    text = api.get(f"/studies/{study}/state").text
    loop, state = asktell.load(text)
    assert loop.name == "random" and [as_served(t) for t in state.trials] == trials
    assert as_served(state.best()) == best
    counts = api.get(f"/studies/{study}").json()["counts"]
    assert counts == {"pending": 1, "completed": 2, "failed": 1}


def test_same_seed_same_asks_as_the_library(api, study: str) -> None:
    loop = asktell.loops.RandomSearch()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=3)
    state, expected = loop.ask(state, 2)
    got = api.post(f"/studies/{study}/ask", json={"n": 2}).json()["trials"]
    assert [t["params"] for t in got] == [t.params for t in expected]


def test_export_import_round_trip(api, study: str) -> None:
    api.post(f"/studies/{study}/ask", json={"n": 2})
    api.post(f"/studies/{study}/tell", json={"trial_id": 0, "value": 1.5})
    text = api.get(f"/studies/{study}/state").text
    created = api.put("/studies/copy/state", content=text)
    assert created.status_code == 201 and created.json()["created"] is True
    assert api.get("/studies/copy/state").text == text
    # replacing an existing study's state
    loop = asktell.loops.Sobol()
    other = loop.init(asktell.Space.from_dict(SPACE), seed=0)
    replaced = api.put(f"/studies/{study}/state", content=other.to_json())
    assert replaced.status_code == 200 and replaced.json()["study"]["loop"] == "sobol"
    assert api.get(f"/studies/{study}/trials").json() == []
    assert api.post(f"/studies/{study}/ask").json()["trials"][0]["id"] == 0


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        (b'{"trial_id": 0, "value": NaN}', 400, "NaN, which is not JSON"),
        (b'{"trial_id": 0, "value": Infinity}', 400, "failed=true"),
        (b'{"trial_id": 0, "value": 1e999}', 422, "finite number"),
        (b'{"trial_id": 0, "value": "NaN"}', 422, "failed=true"),
        (b'{"trial_id": 0, "value": "0.5"}', 422, "valid number"),
        (b'{"trial_id": 0, "value": true}', 422, "valid number"),
        (b'{"trial_id": 0, "value": [1.0, 2.0]}', 422, "must be a finite float"),
        (b'{"trial_id": 0}', 422, "send its value, or failed=true"),
        (b'{"trial_id": 0, "value": 1.0, "failed": true}', 422, "not both"),
        (b'{"trial_id": 0, "value": 1.0, "metadata": [1]}', 422, "metadata"),
        (b'{"trial_id": 0, "value": 1.0, "extra": 1}', 422, "Extra inputs"),
        (b'{"trial_id": -1, "value": 1.0}', 422, "trial_id"),
        (b'{"trial_id": "0", "value": 1.0}', 422, "trial_id"),
        (b'{"trial_id": 7, "value": 1.0}', 404, "no trial 7"),
        (b'{"trial_id": 0, "value": 1.0', 400, "not valid JSON"),
        (b"[]", 422, "body"),
        (b"", 422, "body"),
    ],
)
def test_bad_tells_are_refused_and_change_nothing(api, study, body, status, fragment) -> None:
    api.post(f"/studies/{study}/ask")
    before = api.get(f"/studies/{study}/state").text
    answer = api.post(f"/studies/{study}/tell", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["detail"]
    assert api.get(f"/studies/{study}/state").text == before


def test_a_second_tell_is_a_conflict(api, study: str) -> None:
    api.post(f"/studies/{study}/ask")
    assert api.post(f"/studies/{study}/tell", json={"trial_id": 0, "value": 1.0}).status_code == 200
    version = _version(api, study)
    again = api.post(f"/studies/{study}/tell", json={"trial_id": 0, "value": 2.0})
    assert again.status_code == 409 and "already completed" in again.json()["detail"]
    assert api.get(f"/studies/{study}/trials/0").json()["value"] == 1.0
    assert _version(api, study) == version


@pytest.mark.parametrize(
    "change, status, fragment",
    [
        ({"loop": "nope"}, 422, "unknown loop 'nope'; registered loops are"),
        ({"config": {"speed": 11}}, 422, "no options ['speed']"),
        ({"n_objectives": 0}, 422, "n_objectives"),
        ({"config": {"n_objectives": 2}}, 422, "part of the problem"),
        ({"loop": "zord", "n_objectives": 2}, 422, "ZoRD optimizes one objective"),
        ({"space": {}}, 422, "space"),
        ({"space": {"x": {"type": "real", "low": 1, "high": 0}}}, 422, "`low < high`"),
        ({"space": {"x": {"type": "real", "low": -1, "high": 1, "log": True}}}, 422, "low > 0"),
        ({"space": {"x": {"type": "float", "low": 0, "high": 1}}}, 422, "type"),
        ({"space": {"c": {"type": "categorical", "choices": [1, 1]}}}, 422, "distinct"),
        ({"name": "has space"}, 422, "pattern"),
        ({"name": "s1"}, 409, "already exists"),
        ({"seed": -1}, 422, "seed"),
        ({"pending_timeout_s": 0}, 422, "pending_timeout_s"),
        ({"loop": "zosgd"}, 422, "categorical"),  # a loop that cannot take this space
    ],
)
def test_bad_studies_are_refused(api, study, change, status, fragment) -> None:
    answer = api.post("/studies", json={**STUDY, **change})
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["detail"]
    assert [s["name"] for s in api.get("/studies").json()] == ["s1"]


def test_categorical_choices_keep_their_types(api) -> None:
    space = {"c": {"type": "categorical", "choices": ["a", 1, 1.5, True, None]}}
    assert api.post("/studies", json={"name": "c", "loop": "sobol", "space": space}).status_code == 201
    assert api.get("/studies/c").json()["space"]["c"]["choices"] == ["a", 1, 1.5, True, None]
    seen = {repr(t["params"]["c"]) for t in api.post("/studies/c/ask", json={"n": 20}).json()["trials"]}
    assert seen <= {"'a'", "1", "1.5", "True", "None"} and "True" in seen


def test_unknown_studies_and_trials_are_404(api, study: str) -> None:
    for method, path in [
        ("get", "/studies/nope"),
        ("post", "/studies/nope/ask"),
        ("get", "/studies/nope/trials"),
        ("get", "/studies/nope/best"),
        ("get", "/studies/nope/state"),
        ("delete", "/studies/nope"),
        ("get", f"/studies/{study}/trials/0"),
    ]:
        answer = getattr(api, method)(path)
        assert answer.status_code == 404, (path, answer.text)
        assert "does not exist" in answer.json()["detail"] or "no trial 0" in answer.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic c2VydmVyOnRva2Vu", "Bearer "])
def test_a_missing_or_wrong_token_is_401_and_changes_nothing(api, study, header) -> None:
    before = api.get(f"/studies/{study}/state").text
    headers = {"Authorization": header or ""}
    requests = [
        ("get", "/studies", {}),
        ("post", "/studies", {"json": {**STUDY, "name": "s2"}}),
        ("get", f"/studies/{study}", {}),
        ("post", f"/studies/{study}/ask", {"json": {"n": 1}}),
        ("post", f"/studies/{study}/tell", {"json": {"trial_id": 0, "value": 1.0}}),
        ("get", f"/studies/{study}/trials", {}),
        ("get", f"/studies/{study}/trials/0", {}),
        ("get", f"/studies/{study}/best", {}),
        ("get", f"/studies/{study}/state", {}),
        ("put", f"/studies/{study}/state", {"content": before}),
        ("put", "/studies/other/state", {"content": before}),
        ("put", f"/studies/{study}/state", {"content": "{}"}),  # the token first, then the body
        ("delete", f"/studies/{study}", {}),
        ("get", "/studies/unknown", {}),
    ]
    for method, path, kwargs in requests:
        answer = getattr(api, method)(path, headers=headers, **kwargs)
        assert answer.status_code == 401, (method, path, answer.text)
        assert "token" in answer.json()["detail"]
        assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert api.get(f"/studies/{study}/state").text == before
    assert [s["name"] for s in api.get("/studies").json()] == [study]


def test_a_study_token_opens_that_study_only(api) -> None:
    body = {**STUDY, "name": "private", "token": "study-secret-1"}
    assert api.post("/studies", json=body).json()["has_token"] is True
    api.post("/studies", json={**STUDY, "name": "other"})
    mine = {"Authorization": "Bearer study-secret-1"}
    assert api.post("/studies/private/ask", headers=mine).status_code == 200
    assert (
        api.post("/studies/private/tell", json={"trial_id": 0, "value": 1.0}, headers=mine).status_code == 200
    )
    assert api.get("/studies/private/state", headers=mine).status_code == 200
    assert api.post("/studies/other/ask", headers=mine).status_code == 401
    assert api.get("/studies", headers=mine).status_code == 401
    assert api.post("/studies", json={**STUDY, "name": "x"}, headers=mine).status_code == 401
    assert api.post("/studies/private/ask").status_code == 200  # the server token works too
    assert api.delete("/studies/private", headers=mine).status_code == 204


def test_oversized_bodies_are_413(api, study: str) -> None:
    big = {"trial_id": 0, "value": 1.0, "metadata": {"blob": "x" * (1 << 20)}}
    answer = api.post(f"/studies/{study}/tell", json=big)
    assert answer.status_code == 413 and "limit is 1048576 bytes" in answer.json()["detail"]

    def chunks():  # no Content-Length: counted as it streams
        yield b'{"trial_id": 0, "metadata": {"blob": "'
        for _ in range(20):
            yield b"x" * 65536
        yield b'"}}'

    streamed = api.post(f"/studies/{study}/tell", content=chunks())
    assert streamed.status_code == 413
    assert api.get(f"/studies/{study}").json()["n_trials"] == 0


def test_a_state_import_may_be_larger_but_is_checked(api, study: str) -> None:
    loop = asktell.loops.RandomSearch()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=0)
    state, trials = loop.ask(state, 20)  # metadata is at most 64 KiB a trial: many trials
    for trial in trials:
        state = loop.tell(state, trial.id, objective(trial.params), metadata={"pad": "y" * 60_000})
    text = state.to_json()
    assert len(text) > 1 << 20
    assert api.put(f"/studies/{study}/state", content=text).status_code == 200
    for bad, fragment in [
        ("{}", "not an asktell state"),
        (text.replace(f'"schema_version": {SCHEMA_VERSION}', '"schema_version": 7'), "schema version 7"),
        (text.replace('"loop_config": {}', '"loop_config": {"speed": 1}'), "no options ['speed']"),
        (text.replace('"loop_name": "random"', '"loop_name": "nope"'), "does not know"),
        ("[1, 2]", "not an asktell state"),
    ]:
        answer = api.put(f"/studies/{study}/state", content=bad)
        assert answer.status_code == 422 and fragment in answer.json()["detail"], answer.text
    assert api.get(f"/studies/{study}/state").text == text


def test_pending_trials_expire_at_the_next_ask(api, storage) -> None:
    api.post("/studies", json={**STUDY, "name": "exp", "pending_timeout_s": 60})
    api.post("/studies/exp/ask", json={"n": 2})
    api.post("/studies/exp/tell", json={"trial_id": 1, "value": 0.5})
    assert api.post("/studies/exp/ask").json()["expired"] == []  # not old yet
    # a minute passes: age the asked_at of the study's rows instead of sleeping
    from sqlalchemy import update

    from asktell.service import tables

    with storage.engine.begin() as conn:
        conn.execute(update(tables.trials).values(asked_at=tables.trials.c.asked_at - 61))
    answer = api.post("/studies/exp/ask").json()
    assert answer["expired"] == [0, 2] and answer["trials"][0]["id"] == 3
    expired = api.get("/studies/exp/trials/0").json()
    assert expired["status"] == "failed" and expired["metadata"]["reason"] == "expired"
    late = api.post("/studies/exp/tell", json={"trial_id": 0, "value": 1.0})
    assert late.status_code == 409 and "expired" in late.json()["detail"]
    assert api.post("/studies/exp/tell", json={"trial_id": 3, "value": 1.0}).status_code == 200


def test_multi_objective_best_is_refused_with_a_hint(api) -> None:
    created = api.post("/studies", json={**STUDY, "name": "mo", "n_objectives": 2})
    assert created.status_code == 201 and created.json()["n_objectives"] == 2
    api.post("/studies/mo/ask")
    ok = api.post("/studies/mo/tell", json={"trial_id": 0, "value": [1.0, 2.0]})
    assert ok.json()["value"] == [1.0, 2.0]
    answer = api.get("/studies/mo/best")
    assert answer.status_code == 422 and "2 objectives" in answer.json()["detail"]


def test_asks_are_bounded_and_validated(api, study: str) -> None:
    assert api.post(f"/studies/{study}/ask", json={"n": 0}).status_code == 422
    assert api.post(f"/studies/{study}/ask", json={"n": 1001}).status_code == 422
    assert api.post(f"/studies/{study}/ask", json={"n": "2"}).status_code == 422
    assert api.get(f"/studies/{study}/trials?limit=0").status_code == 422
    assert api.get(f"/studies/{study}/trials?status=done").status_code == 422


def test_delete_removes_the_study_and_its_trials(api, study: str) -> None:
    api.post(f"/studies/{study}/ask", json={"n": 2})
    assert api.delete(f"/studies/{study}").status_code == 204
    assert api.get(f"/studies/{study}").status_code == 404
    assert api.post("/studies", json=STUDY).status_code == 201
    assert api.get(f"/studies/{study}/trials").json() == []


def test_openapi_schema_names_the_models(api) -> None:
    schema = api.get("/openapi.json").json()
    names = set(schema["components"]["schemas"])
    assert {"StudyCreate", "TellIn", "AddIn", "AskOut", "TrialOut", "StateDoc", "ErrorOut"} <= names
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    tell = schema["paths"]["/studies/{name}/tell"]["post"]
    assert "409" in tell["responses"] and "401" in tell["responses"]
    add = schema["paths"]["/studies/{name}/add"]["post"]
    assert add["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AddIn")
    assert {"200", "401", "404", "422"} <= set(add["responses"])
    assert set(schema["components"]["schemas"]["AddIn"]["required"]) == {"params"}


def test_a_long_run_stays_consistent(api, study: str) -> None:
    start = time.perf_counter()
    for _ in range(30):
        (trial,) = api.post(f"/studies/{study}/ask").json()["trials"]
        api.post(f"/studies/{study}/tell", json={"trial_id": trial["id"], "value": 1.0})
    assert time.perf_counter() - start < 60  # a bound against hangs, not a timing assertion
    info = api.get(f"/studies/{study}").json()
    assert info["counts"]["completed"] == 30 and info["version"] == 61


def test_a_body_that_is_not_json_is_refused(api, study: str) -> None:
    answer = api.post(f"/studies/{study}/ask", content=b"n=2", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 422 and "body" in answer.json()["detail"]
    digits = b'{"trial_id": 0, "value": ' + b"9" * 5000 + b"}"
    huge = api.post(f"/studies/{study}/tell", content=digits)
    assert huge.status_code == 400 and "not valid JSON" in huge.json()["detail"]


# --- add: an evaluation the loop did not ask for ------------------------------------------------

POINT = {"x": 0.25, "k": 2, "c": None}


def test_add_records_a_point_exactly_as_the_library_does(api, study: str) -> None:
    api.post(f"/studies/{study}/ask")  # trial 0, pending
    version = _version(api, study)
    answer = api.post(
        f"/studies/{study}/add", json={"params": POINT, "value": 1.5, "metadata": {"source": "notebook"}}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "id": 1,
        "params": POINT,
        "status": "completed",
        "value": 1.5,
        "metadata": {"added": True, "source": "notebook"},
        "constraints": None,
        "feasible": True,
    }
    failed = api.post(f"/studies/{study}/add", json={"params": {**POINT, "c": "b"}, "failed": True})
    assert failed.json()["status"] == "failed" and failed.json()["value"] is None
    assert failed.json()["metadata"] == {"added": True}
    assert _version(api, study) == version + 2  # one commit per add
    assert api.get(f"/studies/{study}/trials/1").json() == answer.json()
    assert api.get(f"/studies/{study}").json()["counts"] == {"pending": 1, "completed": 1, "failed": 1}
    assert api.get(f"/studies/{study}/best").json()["trial"]["id"] == 1
    (next_trial,) = api.post(f"/studies/{study}/ask").json()["trials"]
    assert next_trial["id"] == 3

    # the same transitions through the library give the same state
    loop = asktell.loops.RandomSearch()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=3)
    state, _ = loop.ask(state)
    state = loop.add(state, POINT, 1.5, metadata={"source": "notebook"})
    state = loop.add(state, {**POINT, "c": "b"}, None, status="failed")
    state, _ = loop.ask(state)
    assert asktell.State.from_json(api.get(f"/studies/{study}/state").text) == state


def test_a_model_based_loop_fits_on_added_points(api) -> None:
    """BayesOpt with a design of 3: three added points complete it, so the first ask is the
    model's, fitted on them (the library with the same adds asks the same point, without them a
    design point)."""
    config = {"n_init": 3, "num_restarts": 2, "raw_samples": 32, "max_fit_iter": 20, "acq_maxiter": 20}
    body = {**STUDY, "name": "bo", "loop": "bayesopt", "config": config}
    assert api.post("/studies", json=body).status_code == 201
    points = [{"x": x, "k": k, "c": c} for x, k, c in [(-1.5, 1, "a"), (0.3, 3, "b"), (1.8, 5, None)]]
    for point in points:
        added = api.post("/studies/bo/add", json={"params": point, "value": objective(point)})
        assert added.status_code == 200, added.text
    (asked,) = api.post("/studies/bo/ask").json()["trials"]
    assert asked["id"] == 3 and asked["metadata"]["model"] == "gp" and asked["metadata"]["n_train"] == 3

    loop = asktell.loops.BayesOpt(**config)
    state = loop.init(asktell.Space.from_dict(SPACE), seed=3)
    _, (design,) = loop.ask(state)
    for point in points:
        state = loop.add(state, point, objective(point))
    state, (expected,) = loop.ask(state)
    assert asked["params"] == expected.params
    assert design.metadata["model"] == "sobol" and design.params != expected.params


ADD_REFUSALS = [
    (b'{"params": {"x": 0.25, "k": 2, "c": "a", "z": 1}, "value": 1.0}', 422, "unexpected ['z']"),
    (b'{"params": {"x": 0.25, "k": 2}, "value": 1.0}', 422, "missing ['c']"),
    (b'{"params": {"x": 5.0, "k": 2, "c": "a"}, "value": 1.0}', 422, "parameter 'x' must lie in"),
    (b'{"params": {"x": 0.25, "k": 9, "c": "a"}, "value": 1.0}', 422, "parameter 'k' must lie in"),
    (b'{"params": {"x": 0.25, "k": 2.0, "c": "a"}, "value": 1.0}', 422, "must be an integer"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "d"}, "value": 1.0}', 422, "parameter 'c'"),
    (b'{"params": {"x": "0.25", "k": 2, "c": "a"}, "value": 1.0}', 422, "must be a real number"),
    (b'{"params": {"x": true, "k": 2, "c": "a"}, "value": 1.0}', 422, "must be a real number"),
    (b'{"params": {"x": [0.25], "k": 2, "c": "a"}, "value": 1.0}', 422, "params.x"),
    (b'{"params": {"x": 1e999, "k": 2, "c": "a"}, "value": 1.0}', 422, "finite number"),
    (b'{"params": [0.25, 2, "a"], "value": 1.0}', 422, "params"),
    (b'{"value": 1.0}', 422, "params"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": NaN}', 400, "NaN, which is not JSON"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": -Infinity}', 400, "failed=true"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1e999}', 422, "finite number"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": "NaN"}', 422, "failed=true"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": "0.5"}', 422, "valid number"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": [1.0, 2.0]}', 422, "must be a finite float"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}}', 422, "send its value, or failed=true"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1.0, "failed": true}', 422, "not both"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1.0, "metadata": {"a": 1e999}}', 422,
     "metadata must be JSON with finite numbers"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1.0, "metadata": [1]}', 422, "metadata"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1.0, "trial_id": 0}', 422, "Extra inputs"),
    (b'{"params": {"x": 0.25, "k": 2, "c": "a"}, "value": 1.0', 400, "not valid JSON"),
    (b"", 422, "body"),
]  # fmt: skip


@pytest.mark.parametrize("body, status, fragment", ADD_REFUSALS)
def test_bad_adds_are_refused_and_change_nothing(api, study, body, status, fragment) -> None:
    api.post(f"/studies/{study}/ask")
    api.post(f"/studies/{study}/add", json={"params": POINT, "value": 1.0})
    before, version = api.get(f"/studies/{study}/state").text, _version(api, study)
    answer = api.post(f"/studies/{study}/add", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    assert fragment in answer.json()["detail"]
    assert api.get(f"/studies/{study}/state").text == before
    assert _version(api, study) == version


def test_an_add_needs_as_many_values_as_objectives(api) -> None:
    assert api.post("/studies", json={**STUDY, "name": "mo", "n_objectives": 2}).status_code == 201
    before = api.get("/studies/mo/state").text
    for value, fragment in [
        (1.0, "must be a list of 2 finite floats, got 1.0"),
        ([1.0], "must have 2 objectives, got 1"),
        ([1.0, 2.0, 3.0], "must have 2 objectives, got 3"),
    ]:
        answer = api.post("/studies/mo/add", json={"params": POINT, "value": value})
        assert answer.status_code == 422 and fragment in answer.json()["detail"], answer.text
    assert api.get("/studies/mo/state").text == before
    ok = api.post("/studies/mo/add", json={"params": POINT, "value": [1.0, 2.0]})
    assert ok.status_code == 200 and ok.json()["value"] == [1.0, 2.0]


def test_an_add_needs_a_token_and_a_study(api, study: str) -> None:
    before, version = api.get(f"/studies/{study}/state").text, _version(api, study)
    body = {"params": POINT, "value": 1.0}
    for header in ["", "Bearer wrong"]:
        answer = api.post(f"/studies/{study}/add", json=body, headers={"Authorization": header})
        assert answer.status_code == 401 and "token" in answer.json()["detail"]
    unknown = api.post("/studies/nope/add", json=body)
    assert unknown.status_code == 404 and "does not exist" in unknown.json()["detail"]
    assert api.get(f"/studies/{study}/state").text == before
    assert _version(api, study) == version


@pytest.mark.parametrize("token", ["", None])
def test_the_server_needs_a_token(storage, token) -> None:
    from asktell.errors import ConfigError
    from asktell.service.app import create_app

    with pytest.raises(ConfigError, match="non-empty token"):
        create_app(storage, token)
