"""Issue 14, the service: no input, however odd, can wedge a study or crash the server.

Each observation of the issue is a test here. Some were fixed by the data layer (its checks of
metadata, configurations and memos run inside the routes) and are held here as the service sees
them; the others (a 10k-deep body, the last-resort 500, the connection after a 500, the serve
banner on a taken port, commits of what cannot be read back) were fixed in the service.

Every refusal is checked for leaving the study exactly as it was: the same export, the same version.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from svc_helpers import ROOT, SPACE, ServerProcess, free_port

from asktell.errors import StateError
from asktell.loops import RandomSearch
from asktell.service.storage import Storage
from asktell.space import Space

RANDOM = {"name": "r", "loop": "random", "space": SPACE, "seed": 3}
SOBOL = {"name": "q", "loop": "sobol", "space": SPACE, "seed": 3}


def deep(levels: int, leaf: Any = 1) -> Any:
    """``leaf`` inside ``levels`` nested objects."""
    for _ in range(levels):
        leaf = {"a": leaf}
    return leaf


def deep_text(levels: int) -> str:
    return '{"a":' * levels + "1" + "}" * levels


def send(api, method: str, path: str, text: str) -> Any:
    """A request whose body is ``text`` as sent (JSON that json.dumps cannot write: 1e400, depth)."""
    return api.request(method, path, content=text, headers={"Content-Type": "application/json"})


def seen(api, name: str) -> tuple[str, int]:
    """What a refusal must leave unchanged: the export and the version."""
    return api.get(f"/studies/{name}/state").text, api.get(f"/studies/{name}").json()["version"]


def assert_readable(api, name: str) -> None:
    """Every read of the study answers: its trials (each one too), best, state, the study."""
    trials = api.get(f"/studies/{name}/trials")
    assert trials.status_code == 200, trials.text
    for trial in trials.json():
        assert api.get(f"/studies/{name}/trials/{trial['id']}").status_code == 200
    for path in ("best", "state", ""):
        answer = api.get(f"/studies/{name}/{path}".rstrip("/"))
        assert answer.status_code == 200, answer.text


@pytest.fixture
def study(api) -> str:
    """A RandomSearch study with a completed, a failed and a pending trial."""
    assert api.post("/studies", json=RANDOM).status_code == 201
    api.post("/studies/r/ask", json={"n": 3})
    api.post("/studies/r/tell", json={"trial_id": 0, "value": 1.0})
    api.post("/studies/r/tell", json={"trial_id": 1, "failed": True})
    return "r"


@pytest.fixture
def sobol(api) -> dict[str, Any]:
    """A Sobol study with three trials asked; its export, as a dict."""
    assert api.post("/studies", json=SOBOL).status_code == 201
    api.post("/studies/q/ask", json={"n": 3})
    api.post("/studies/q/tell", json={"trial_id": 0, "value": 1.0})
    return json.loads(api.get("/studies/q/state").text)


# --- 1. a 2 KB tell wedged a study for good -------------------------------------------------------


@pytest.mark.parametrize("route", ["tell", "add"])
def test_metadata_nested_300_deep_is_refused_and_commits_nothing(api, study: str, route: str) -> None:
    before = seen(api, study)
    body: dict[str, Any] = {"value": 0.5, "metadata": deep(300)}
    body.update({"trial_id": 2} if route == "tell" else {"params": {"x": 0.0, "k": 1, "c": "a"}})
    answer = api.post(f"/studies/{study}/{route}", json=body)
    assert answer.status_code == 422 and "nested deeper than 32 levels" in answer.json()["detail"]
    assert seen(api, study) == before
    assert_readable(api, study)
    # the trial is still pending: told now, it is told once, not refused as told already
    assert api.post(f"/studies/{study}/tell", json={"trial_id": 2, "value": 0.5}).status_code == 200


def test_an_import_with_metadata_400_deep_is_refused_and_stores_nothing(api, study: str) -> None:
    state = json.loads(api.get(f"/studies/{study}/state").text)
    state["trials"][0]["metadata"] = deep(400)
    before = seen(api, study)
    for name in (study, "fresh"):  # replacing a study, creating one
        answer = api.put(f"/studies/{name}/state", content=json.dumps(state))
        assert answer.status_code == 422 and "nested deeper than 32" in answer.json()["detail"]
    assert seen(api, study) == before
    assert api.get("/studies/fresh").status_code == 404
    assert_readable(api, study)


@pytest.mark.parametrize("levels", [513, 1000, 10_000])
@pytest.mark.parametrize("route", ["tell", "add", "ask", "state"])
def test_a_body_nested_too_deep_is_400_not_a_recursion_error(api, study, route: str, levels: int) -> None:
    before = seen(api, study)
    text = deep_text(levels)
    if route == "state":
        answer = send(api, "PUT", f"/studies/{study}/state", text)
    else:
        answer = send(api, "POST", f"/studies/{study}/{route}", text)
    assert answer.status_code == 400, answer.text
    assert "nested more than 512 levels" in answer.json()["detail"]
    assert seen(api, study) == before


def test_a_large_import_nested_too_deep_is_400_too(api, study: str) -> None:
    """A body over 1 MiB is parsed in a worker thread (not on the event loop): the same limit."""
    before = seen(api, study)
    text = '{"pad": "' + "x" * (2 << 20) + '", "deep": ' + deep_text(5000) + "}"
    answer = send(api, "PUT", f"/studies/{study}/state", text)
    assert answer.status_code == 400 and "nested more than 512 levels" in answer.json()["detail"]
    assert seen(api, study) == before


def test_a_body_within_the_nesting_limit_reaches_the_checks(api, study: str) -> None:
    """512 levels is the body's limit (deterministic, unlike Python's recursion limit); what is
    nested less reaches the route, whose checks refuse deep metadata with 422."""
    body = json.dumps({"trial_id": 2, "value": 0.5, "metadata": deep(510)})
    answer = send(api, "POST", f"/studies/{study}/tell", body)
    assert answer.status_code == 422 and "nested deeper than 32" in answer.json()["detail"]


# --- 2. bad configuration or state accepted, then every ask failed -------------------------------


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"min_noise": "x"}, "min_noise must be a finite number"),
        ({"beta": -1.0}, "beta must be a finite number >= 0"),
        ({"num_restarts": "4"}, "num_restarts must be a positive integer"),
        ({"acquisition": ["ucb"]}, "acquisition must be one of"),
        ({"min_noise": {"deep": deep(40)}}, "nested deeper than 32"),
    ],
)
def test_a_bad_bayesopt_config_is_refused_at_creation(api, config: dict, fragment: str) -> None:
    answer = api.post("/studies", json={**RANDOM, "name": "bo", "loop": "bayesopt", "config": config})
    assert answer.status_code == 422 and fragment in answer.json()["detail"], answer.text
    assert api.get("/studies/bo").status_code == 404


def test_a_bayesopt_config_of_infinity_is_refused_at_creation(api) -> None:
    body = json.dumps({**RANDOM, "name": "bo", "loop": "bayesopt", "config": {"beta": 1}})
    answer = send(api, "POST", "/studies", body.replace('"beta": 1', '"beta": 1e400'))
    assert answer.status_code == 422 and "1e400" in answer.json()["detail"], answer.text
    assert api.get("/studies/bo").status_code == 404


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda s: s.update(memo={}), "missing ['sobol_issued']"),
        (lambda s: s.update(memo={"sobol_issued": "abc"}), "sobol_issued must be an integer"),
        (lambda s: s.update(memo={"sobol_issued": 0}), "would repeat their points"),
        (lambda s: s.update(memo={"sobol_issued": -3}), "sobol_issued"),
        (lambda s: s.update(memo={"sobol_issued": 3, "extra": 1}), "unexpected ['extra']"),
        (lambda s: s.update(memo={"sobol_issued": True}), "sobol_issued must be an integer"),
        (lambda s: s.update(loop_name="random"), "memo"),  # a Sobol memo under RandomSearch
        (lambda s: s.update(schema_version=True), "schema version True"),
        (lambda s: s.update(seed=2**63), "below 2**63"),
    ],
)
def test_a_state_that_would_fail_every_ask_is_refused_at_import(api, sobol, change, fragment) -> None:
    before = seen(api, "q")
    state = json.loads(json.dumps(sobol))
    change(state)
    for name in ("q", "fresh"):
        answer = api.put(f"/studies/{name}/state", content=json.dumps(state))
        assert answer.status_code == 422 and fragment in answer.json()["detail"], answer.text
    assert seen(api, "q") == before
    assert api.get("/studies/fresh").status_code == 404


def test_an_import_whose_description_could_not_be_answered_is_refused(api, study: str) -> None:
    """Found by the fuzz suite: the state's space read a parameter's ``log`` as given (a 300-deep
    object); the import committed, then its answer, and every later GET of the study (and of the
    study list), failed with 500. The data layer now refuses such a flag (``log`` must be a boolean),
    and the service builds and serializes the description before the commit besides."""
    state = json.loads(api.get(f"/studies/{study}/state").text)
    state["space"]["k"]["log"] = deep(300)
    before = seen(api, study)
    for name in (study, "fresh"):
        answer = api.put(f"/studies/{name}/state", content=json.dumps(state))
        assert answer.status_code == 422, answer.text
        assert "`log` must be true or false" in answer.json()["detail"]
    assert seen(api, study) == before
    assert api.get("/studies/fresh").status_code == 404 and api.get("/studies").status_code == 200
    assert_readable(api, study)


def test_a_random_state_relabelled_sobol_is_refused_at_import(api, study: str) -> None:
    state = json.loads(api.get(f"/studies/{study}/state").text)
    state["loop_name"] = "sobol"
    answer = api.put("/studies/fresh/state", content=json.dumps(state))
    assert answer.status_code == 422 and "sobol_issued" in answer.json()["detail"]
    assert api.get("/studies/fresh").status_code == 404


def test_the_refused_imports_would_have_wedged_the_study(api, sobol) -> None:
    """What the import refuses is what made every ask fail: the accepted original still asks."""
    assert api.put("/studies/copy/state", content=json.dumps(sobol)).status_code == 201
    asked = api.post("/studies/copy/ask", json={"n": 2}).json()["trials"]
    assert [t["id"] for t in asked] == [3, 4]
    assert asked == api.post("/studies/q/ask", json={"n": 2}).json()["trials"]  # no repeats


# --- 1e400 and friends: numbers beyond a float ---------------------------------------------------


@pytest.mark.parametrize(
    "route, body",
    [
        ("tell", '{"trial_id": 2, "value": 1.0, "metadata": {"big": 1e400}}'),
        ("tell", '{"trial_id": 2, "value": 1.0, "metadata": {"big": [-1e400]}}'),
        ("add", '{"params": {"x": 0.0, "k": 1, "c": "a"}, "value": 1.0, "metadata": {"big": 1e400}}'),
        ("tell", '{"trial_id": 2, "value": 1e400}'),
        ("add", '{"params": {"x": 1e400, "k": 1, "c": "a"}, "value": 1.0}'),
    ],
)
def test_numbers_beyond_a_float_are_422_not_500(api, study: str, route: str, body: str) -> None:
    before = seen(api, study)
    answer = send(api, "POST", f"/studies/{study}/{route}", body)
    assert answer.status_code == 422, answer.text
    assert "1e400" in answer.json()["detail"], answer.text  # says why a number became infinite
    assert seen(api, study) == before


def test_a_memo_holding_1e400_is_refused_at_import(api, sobol) -> None:
    text = json.dumps(sobol).replace('"sobol_issued": 3', '"sobol_issued": 1e400')
    assert "1e400" in text
    answer = send(api, "PUT", "/studies/q/state", text)
    assert answer.status_code == 422 and "finite" in answer.json()["detail"]


def test_an_integer_of_5000_digits_is_400_with_a_clear_message(api, study: str) -> None:
    answer = send(api, "POST", f"/studies/{study}/tell", '{"trial_id": 2, "value": 1' + "0" * 5000 + "}")
    detail = answer.json()["detail"]
    assert answer.status_code == 400 and "more than 4300 digits" in detail
    assert "set_int_max_str_digits" not in detail  # Python's advice is not the client's fix


# --- the last resort: a bug is a clean 500, with nothing committed --------------------------------


def test_an_unexpected_exception_is_a_500_that_leaks_nothing_and_changes_nothing(
    api, study: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self, state, n=1):
        raise KeyError("secret-internal-detail")

    before = seen(api, study)
    monkeypatch.setattr(RandomSearch, "ask", broken)
    answer = api.post(f"/studies/{study}/ask")
    assert answer.status_code == 500
    detail = answer.json()["detail"]
    assert "KeyError" in detail and "nothing was changed" in detail
    assert "secret-internal-detail" not in detail and "Traceback" not in detail and ".py" not in detail
    monkeypatch.undo()
    assert seen(api, study) == before
    assert api.post(f"/studies/{study}/ask").status_code == 200  # the next request is served


def test_an_answer_that_cannot_be_serialized_is_never_committed(
    api, study: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change builds (validates and serializes) its answer before it commits."""
    tell = RandomSearch.tell

    def sneaky(self, state, trial_id, value, **kwargs):  # a loop bug: metadata that is not JSON
        new = tell(self, state, trial_id, value, **kwargs)
        trial = dataclasses.replace(new.trials[trial_id], metadata={"oops": object()})
        return new.replace_trial(trial)

    before = seen(api, study)
    monkeypatch.setattr(RandomSearch, "tell", sneaky)
    answer = api.post(f"/studies/{study}/tell", json={"trial_id": 2, "value": 0.5})
    assert answer.status_code == 500 and "nothing was changed" in answer.json()["detail"]
    monkeypatch.undo()
    assert seen(api, study) == before
    assert_readable(api, study)


def _storage_study(storage: Storage) -> None:
    """Study "s" (RandomSearch) with two pending trials."""
    storage.create_study("s", RandomSearch().init(Space.from_dict(SPACE), seed=0))
    storage.update("s", lambda snap: snap.loop.ask(snap.state, 2))


@pytest.mark.parametrize(
    "metadata, fragment",
    [
        ({"oops": object()}, "not JSON serializable"),  # cannot be serialized
        (deep(40), "nested deeper than 32"),  # serialized, but would not read back
        ({"big": float("inf")}, "Out of range float"),
    ],
)
def test_storage_never_commits_a_state_that_cannot_be_read_back(
    storage: Storage, metadata: Any, fragment: str
) -> None:
    _storage_study(storage)
    before = storage.study("s")

    def change(snap):
        trial = dataclasses.replace(snap.state.trials[0], status="failed", metadata=metadata)
        return snap.state.replace_trial(trial), None

    with pytest.raises(StateError, match="would not read back") as refused:
        storage.update("s", change)
    assert fragment in str(refused.value) and "nothing was changed" in str(refused.value)
    after = storage.study("s")
    assert (after.version, after.revision, after.core) == (before.version, before.revision, before.core)
    assert storage.trial("s", 0)["status"] == "pending"
    fresh = Storage(storage.url)  # what another process reads
    try:
        assert fresh.state("s") == storage.state("s")
    finally:
        fresh.close()


def test_storage_never_imports_or_creates_a_state_that_cannot_be_read_back(storage: Storage) -> None:
    _storage_study(storage)
    state = storage.state("s")
    bad = state.replace_trial(dataclasses.replace(state.trials[1], metadata=deep(40)))
    before = storage.study("s")
    for name in ("s", "new"):
        with pytest.raises(StateError, match="would not read back"):
            storage.put_state(name, bad)
    assert storage.study("s").version == before.version
    assert [s.name for s in storage.studies()] == ["s"]
    bad_memo = dataclasses.replace(state, memo={"x": deep(40)})
    with pytest.raises(StateError, match="would not read back"):
        storage.create_study("new", bad_memo)
    assert [s.name for s in storage.studies()] == ["s"]


# --- a real server: the connection after an error, the port ---------------------------------------


def _peer(answer) -> Any:
    """The local address of the connection an answer came on (the same: the same connection)."""
    return answer.extensions["network_stream"].get_extra_info("client_addr")


def test_after_a_500_the_same_keep_alive_connection_serves_the_next_request(tmp_path: Path) -> None:
    """Starlette's error middleware re-raises after its 500, and uvicorn then closed the
    connection under a client that had no ``Connection: close`` and so reused it: a reset. The
    last resort stops the exception, so the connection lives on."""
    import httpx

    db = tmp_path / "server.db"
    with ServerProcess(f"sqlite:///{db}", "tok-hostile", tmp_path / "server.log") as server:
        headers = {"Authorization": "Bearer tok-hostile"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            assert client.post("/studies", json=RANDOM).status_code == 201
            first = client.get("/health")
            with sqlite3.connect(db) as conn:  # a damaged database: reading the study is a bug now
                conn.execute("UPDATE asktell_studies SET core = 'not json'")
            broken = client.get("/studies/r")
            after = client.get("/health")  # a reset (httpx.ReadError) before the fix
            assert broken.status_code == 500 and "JSONDecodeError" in broken.json()["detail"]
            assert after.status_code == 200 and _peer(after) == _peer(broken) == _peer(first)
            refused = client.post("/studies/r/ask", content=deep_text(10_000))  # a 400 keeps it too
            assert refused.status_code == 400 and "connection" not in refused.headers
            again = client.get("/health")
            assert again.status_code == 200 and _peer(again) == _peer(first)
        assert "JSONDecodeError" in (tmp_path / "server.log").read_text()  # the traceback is logged


def test_an_add_after_a_500_is_not_lost_to_a_reset(tmp_path: Path) -> None:
    """What the reset cost a user: the Client does not retry an add whose connection broke (it
    might add the point twice), so an add sent after any 500 failed, saying it may or may not
    have been applied."""
    from asktell.errors import ServiceError
    from asktell.service.client import Client

    db = tmp_path / "server.db"
    log = tmp_path / "server.log"
    with (
        ServerProcess(f"sqlite:///{db}", "tok-hostile", log) as server,
        Client(server.url, "tok-hostile", retry_s=0) as client,
    ):
        client.create_study("r", "random", SPACE)
        client.create_study("ok", "random", SPACE)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE asktell_studies SET core = 'not json' WHERE name = 'r'")
        with pytest.raises(ServiceError, match="HTTP 500"):
            client.study("r")
        added = client.add("ok", {"x": 0.5, "k": 2, "c": "a"}, 1.0)
        assert added.id == 0 and [t.id for t in client.trials("ok")] == [0]


def test_serve_on_an_occupied_port_fails_before_printing_its_banner(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "never.db"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        command = [sys.executable, "-m", "asktell.cli", "serve", "--db", f"sqlite:///{db}",
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in done.stderr
    assert "http://" not in done.stderr + done.stdout  # no banner
    assert "token" not in done.stderr  # nor a generated token for a server that never ran
    assert not db.exists()  # nor a database created


def test_serve_refuses_a_port_out_of_range_and_an_unknown_host() -> None:
    from asktell.errors import CommandError
    from asktell.service.commands import check_port

    with pytest.raises(CommandError, match="from 0 to 65535, got 70000"):
        check_port("127.0.0.1", 70000)
    with pytest.raises(CommandError, match="cannot listen on no-such-host.invalid:8080"):
        check_port("no-such-host.invalid", 8080)
