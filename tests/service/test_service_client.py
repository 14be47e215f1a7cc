"""``asktell.Client``, ``asktell ask/tell --url`` and the README's examples, against a real
``asktell serve`` process on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

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
        (["ask", "--url", server.url, "--study", "nope", "--token", TOKEN], "does not exist"),
        (["ask", "--url", server.url], "--url needs --study"),
        (["ask", "--url", server.url, "--study", name, "--token", "bad"], "token"),
    ]:
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and err.startswith("asktell: error: ") and message in err, (argv, err)
    code, _, err = _cli(capsys, "ask", "--state", "x.json", "--url", server.url)
    assert code == 2 and "not allowed with" in err
    assert [t.status for t in client.trials(name)] == ["completed", "failed"]


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
