"""``asktell.Client``, ``asktell ask/tell --url`` and the README's examples, against a real
``asktell serve`` process on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from svc_helpers import ROOT, SPACE, ServerProcess, free_port, objective

import asktell
from asktell.cli import main
from asktell.errors import (
    BadRequest,
    ServiceError,
    StudyExists,
    StudyNotFound,
    TrialFinished,
    TrialNotFound,
    Unauthorized,
)
from asktell.loops import RandomSearch

TOKEN = "s3cret"
README = ROOT / "README.md"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("server")
    with ServerProcess(f"sqlite:///{tmp / 'runs.db'}", TOKEN, tmp / "server.log") as srv:
        yield srv


@pytest.fixture
def client(server: ServerProcess):
    with asktell.Client(server.url, TOKEN) as c:
        yield c


def test_the_client_runs_a_study(client, request) -> None:
    name = request.node.name[:60]
    info = client.create_study(name, RandomSearch(), asktell.Space.from_dict(SPACE), seed=5)
    assert info["loop"] == "random" and info["seed"] == 5 and info["version"] == 1
    trials = client.ask(name, n=3)
    assert [t.id for t in trials] == [0, 1, 2] and all(t.status == "pending" for t in trials)
    assert isinstance(trials[0], asktell.Trial)
    for trial in trials[:2]:
        told = client.tell(name, trial.id, objective(trial.params), metadata={"worker": 1})
        assert told.status == "completed" and told.metadata == {"worker": 1}
    assert client.tell(name, 2, failed=True).status == "failed"
    best = client.best(name)
    assert best.value == min(objective(t.params) for t in trials[:2])
    assert [t.status for t in client.trials(name)] == ["completed", "completed", "failed"]
    assert [t.id for t in client.trials(name, status="failed")] == [2]
    state = client.state(name)
    assert state.best() == best and len(state.trials) == 3
    # the same asks as the library's loop with the same seed
    loop = RandomSearch()
    expected = loop.ask(loop.init(asktell.Space.from_dict(SPACE), seed=5), 3)[1]
    assert [t.params for t in trials] == [t.params for t in expected]


def test_client_errors_are_typed_and_worded(client, server, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "sobol", SPACE)
    with pytest.raises(StudyExists, match="already exists"):
        client.create_study(name, "sobol", SPACE)
    assert client.create_study(name, "sobol", SPACE, exist_ok=True)["name"] == name
    with pytest.raises(StudyNotFound, match="does not exist"):
        client.ask("no-such-study")
    (trial,) = client.ask(name)
    with pytest.raises(TrialNotFound, match="no trial 5"):
        client.tell(name, 5, 1.0)
    with pytest.raises(BadRequest, match="finite"):
        client.tell(name, trial.id, float("nan"))
    client.tell(name, trial.id, 1.0)
    with pytest.raises(TrialFinished, match="already completed"):
        client.tell(name, trial.id, 2.0)
    with asktell.Client(server.url, "wrong") as intruder, pytest.raises(Unauthorized, match="token"):
        intruder.ask(name)
    assert issubclass(TrialFinished, asktell.errors.AskTellError)


def test_import_export_and_delete_through_the_client(client, request) -> None:
    name = request.node.name[:60]
    loop = RandomSearch()
    state = loop.init(asktell.Space.from_dict(SPACE), seed=1)
    state, (trial,) = loop.ask(state)
    state = loop.tell(state, trial.id, 0.25)
    assert client.put_state(name, state)["created"] is True
    assert client.state(name) == state
    assert client.best(name).value == 0.25
    client.delete_study(name)
    with pytest.raises(StudyNotFound):
        client.study(name)


def test_the_client_says_when_no_server_answers() -> None:
    nobody = asktell.Client(f"http://127.0.0.1:{free_port()}", "t", retry_s=0.3)
    with nobody, pytest.raises(ServiceError, match="is `asktell serve` running"):
        nobody.health()


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_add_with_url(server, client, capsys, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "random", SPACE, n_objectives=1)
    target = ["--url", server.url, "--study", name, "--token", TOKEN]
    point = '{"x": 0.5, "k": 3, "c": null}'
    code, out, _ = _cli(capsys, "add", *target, "--params", point, "--value", "0.75",
                        "--metadata", '{"source": "lab"}')  # fmt: skip
    assert code == 0 and json.loads(out) == {"id": 0, "status": "completed", "value": 0.75}
    code, out, _ = _cli(capsys, "add", *target, "--params", point, "--failed")
    assert code == 0 and json.loads(out) == {"id": 1, "status": "failed", "value": None}
    trials = client.trials(name)
    assert trials[0].params == {"x": 0.5, "k": 3, "c": None}
    assert [t.metadata for t in trials] == [{"added": True, "source": "lab"}, {"added": True}]
    version = client.study(name)["version"]
    for argv, message in [
        (["--params", '{"x": 5.0, "k": 3, "c": null}', "--value", "1"], "parameter 'x' must lie in"),
        (["--params", '{"x": 0.5, "k": 3, "c": null, "z": 0}', "--value", "1"], "unexpected ['z']"),
        (["--params", '{"x": 0.5, "k": 3.5, "c": null}', "--value", "1"], "must be an integer"),
        (["--params", point, "--value", "[1, 2]"], "must be a finite float"),
        (["--params", point, "--value", "nan"], "--failed instead"),
    ]:
        code, out, err = _cli(capsys, "add", *target, *argv)
        assert code == 2 and err.startswith("asktell: error: ") and message in err, (argv, err)
        assert out == ""
    code, _, err = _cli(capsys, "add", "--url", server.url, "--study", name, "--token", "bad",
                        "--params", point, "--value", "1")  # fmt: skip
    assert code == 2 and "token" in err
    code, _, err = _cli(capsys, "add", "--url", server.url, "--study", "nope", "--token", TOKEN,
                        "--params", point, "--value", "1")  # fmt: skip
    assert code == 2 and "does not exist" in err
    assert client.study(name)["version"] == version and len(client.trials(name)) == 2


def test_cli_ask_and_tell_with_url(server, client, capsys, monkeypatch, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "random", SPACE)
    target = ["--url", server.url, "--study", name, "--token", TOKEN]
    code, out, _ = _cli(capsys, "ask", *target, "--n", "2")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [t["id"] for t in lines] == [0, 1] and set(lines[0]) == {"id", "params"}
    code, out, _ = _cli(capsys, "tell", *target, "--trial", "0", "--value", "0.42")
    assert code == 0 and json.loads(out) == {"id": 0, "status": "completed", "value": 0.42}
    monkeypatch.setenv("ASKTELL_TOKEN", TOKEN)  # the token from the environment
    code, out, _ = _cli(
        capsys,
        "tell",
        "--url",
        server.url,
        "--study",
        name,
        "--trial",
        "1",
        "--failed",
        "--metadata",
        '{"why": "oom"}',
    )
    assert code == 0 and json.loads(out)["status"] == "failed"
    assert client.trials(name)[1].metadata == {"why": "oom"}
    for argv, message in [
        (["tell", *target, "--trial", "0", "--value", "1"], "already completed"),
        (["tell", *target, "--trial", "1", "--value", "nan"], "--failed instead"),
        (["tell", *target, "--trial", "9", "--value", "1"], "no trial 9"),
        (["tell", *target, "--trial", "1", "--value", "1", "--metadata", "[1]"], "JSON object"),
        (["ask", "--url", server.url, "--study", "nope", "--token", TOKEN], "does not exist"),
        (["ask", "--url", server.url], "--url needs --study"),
        (["ask", "--url", server.url, "--study", name, "--token", "bad"], "token"),
    ]:
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and err.startswith("asktell: error: ") and message in err, (argv, err)
    code, _, err = _cli(capsys, "ask", "--state", "x.json", "--url", server.url)
    assert code == 2 and "not allowed with" in err
    assert [t.status for t in client.trials(name)] == ["completed", "failed"]


def test_the_client_adds_points(client, request) -> None:
    name = request.node.name[:60]
    client.create_study(name, "random", SPACE, seed=2)
    (asked,) = client.ask(name)
    point = {"x": np.float64(0.5), "k": np.int64(3), "c": "b"}  # numpy scalars are sent as numbers
    added = client.add(name, point, np.float32(1.25), metadata={"source": "earlier run"})
    assert isinstance(added, asktell.Trial)
    assert (added.id, added.status, added.value) == (1, "completed", 1.25)
    assert added.params == {"x": 0.5, "k": 3, "c": "b"} and type(added.params["k"]) is int
    assert added.metadata == {"added": True, "source": "earlier run"}
    failed = client.add(name, {"x": -1.0, "k": 1, "c": None}, failed=True)
    assert (failed.id, failed.status, failed.value) == (2, "failed", None)
    assert client.trials(name)[1] == added and client.best(name) == added
    assert client.study(name)["version"] == 4
    for call, error, message in [
        (lambda: client.add(name, {"x": 9.0, "k": 1, "c": "a"}, 1.0), BadRequest, "must lie in"),
        (lambda: client.add(name, {"x": 0.0, "k": 1, "c": "a"}), BadRequest, "send its value"),
        (lambda: client.add(name, {"x": 0.0, "k": 1, "c": "a"}, float("inf")), BadRequest, "finite"),
        (lambda: client.add(name, {"x": float("nan"), "k": 1, "c": "a"}, 1.0), BadRequest, "finite"),
        (lambda: client.add(name, {"x": 0.0, "k": 1, "c": "a"}, 1.0, metadata={"s": {1}}), BadRequest,
         "JSON"),
        (lambda: client.add(name, [0.0, 1, "a"], 1.0), BadRequest, "mapping"),
        (lambda: client.add(name, point, 1.0, metadata=[1]), BadRequest, "JSON object"),
        (lambda: client.tell(name, asked.id, 1.0, metadata=[1]), BadRequest, "JSON object"),
        (lambda: client.add("no-such-study", point, 1.0), StudyNotFound, "does not exist"),
    ]:  # fmt: skip
        with pytest.raises(error, match=message):
            call()
    assert client.study(name)["version"] == 4 and len(client.trials(name)) == 3
    assert client.trials(name)[0] == asked


class _FlakyTransport(httpx.BaseTransport):
    """A real transport that fails the first add: before sending it (``refuse``: connection
    refused) or after the server answered (``lose``: the answer is lost on the way back)."""

    def __init__(self, mode: str):
        self.mode, self.adds, self.inner = mode, 0, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        is_add = request.url.path.endswith("/add")
        self.adds += is_add
        if is_add and self.adds == 1 and self.mode == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        response = self.inner.handle_request(request)
        if is_add and self.adds == 1 and self.mode == "lose":
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


@pytest.mark.parametrize("mode", ["refuse", "lose"])
def test_an_add_is_retried_only_when_it_never_reached_the_server(server, mode) -> None:
    name = f"add-retry-{mode}"
    transport = _FlakyTransport(mode)
    with asktell.Client(server.url, TOKEN, retry_s=30.0) as flaky:
        flaky.create_study(name, "random", SPACE)
        flaky._http = httpx.Client(  # the client's own session, on the flaky transport
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, transport=transport
        )
        point = {"x": 0.5, "k": 3, "c": "b"}
        if mode == "refuse":  # never sent: retried, added once
            assert flaky.add(name, point, 1.0).id == 0
            assert transport.adds == 2
        else:  # applied, answer lost: not retried, and the error says so
            with pytest.raises(ServiceError, match="may or may not have been applied.*Client.trials"):
                flaky.add(name, point, 1.0)
            assert transport.adds == 1
        trials = flaky.trials(name)
    assert [(t.id, t.params, t.value) for t in trials] == [(0, point, 1.0)]


def _readme_block(language: str, after: str) -> str:
    section = README.read_text().split("## The HTTP service", 1)[1]
    section = section.split(after, 1)[1]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block after {after!r} in the README's service section"
    return match.group(1)


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_the_readme_curl_example(server) -> None:
    script = _readme_block("bash", "plain shell")
    assert "http://127.0.0.1:8080" in script and "s3cret" in script
    script = script.replace("http://127.0.0.1:8080", server.url)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    best = json.loads(done.stdout.strip().splitlines()[-1])
    with asktell.Client(server.url, TOKEN) as c:
        trials = c.trials("demo")
    assert len(trials) == 6 and all(t.status == "completed" for t in trials)
    assert best["value"] == min(t.value for t in trials)
    assert best["value"] == pytest.approx((best["params"]["x"] - 2) ** 2, rel=1e-5)


def test_the_readme_python_example(server, capsys) -> None:
    code = _readme_block("python", "in Python")
    assert 'Client("http://127.0.0.1:8080", token="s3cret")' in code
    code = code.replace("http://127.0.0.1:8080", server.url)
    code = code.replace('"bayesopt"', '"sobol"')  # the same calls, without fitting GPs here
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "Trial(id=" in out and "status='completed'" in out
    with asktell.Client(server.url, TOKEN) as c:
        assert len(c.trials("quad")) == 10


def test_serve_refuses_a_bad_database(capsys) -> None:
    code, _, err = _cli(capsys, "serve", "--db", "nope://x", "--token", "t")
    assert code == 2 and "cannot open the database" in err


def test_import_asktell_does_not_load_the_server() -> None:
    code = (
        "import sys, asktell; assert 'fastapi' not in sys.modules and 'httpx' not in sys.modules; "
        "asktell.Client; assert 'httpx' in sys.modules and 'fastapi' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(ROOT)).returncode == 0
