"""The ``asktell`` command: init/ask/tell/show/demo, refusals, atomic writes, the entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import asktell
from asktell import problems, statefile
from asktell.cli import main
from asktell.state import State

SPACE = {
    "x": {"type": "real", "low": -1.0, "high": 1.0},
    "k": {"type": "integer", "low": 1, "high": 5},
    "c": {"type": "categorical", "choices": ["a", "b", None]},
}


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


@pytest.fixture
def run(tmp_path: Path, space_file: Path) -> Path:
    """A fresh Sobol run with seed 3."""
    state = tmp_path / "run.json"
    code = main(["init", "--loop", "sobol", "--space", str(space_file), "--state", str(state), "--seed", "3"])
    assert code == 0
    return state


def ask(capsys: pytest.CaptureFixture[str], state: Path, n: int = 1) -> list[dict]:
    capsys.readouterr()
    assert main(["ask", "--state", str(state), "--n", str(n)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def load(state: Path) -> State:
    return asktell.load(state.read_text())[1]


def test_round_trip_init_ask_tell_show(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    initial = load(run)
    assert initial.loop_name == "sobol" and initial.seed == 3 and initial.trials == ()

    trials = ask(capsys, run, n=3)
    assert [t["id"] for t in trials] == [0, 1, 2]
    assert all(set(t) == {"id", "params"} for t in trials)
    state = load(run)
    for line, trial in zip(trials, state.trials, strict=True):
        assert state.space.check(line["params"]) == line["params"] == trial.params
        assert trial.status == "pending"

    assert (
        main(
            ["tell", "--state", str(run), "--trial", "1", "--value", "0.25", "--metadata", '{"seconds": 1.5}']
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"id": 1, "status": "completed", "value": 0.25}
    assert main(["tell", "--state", str(run), "--trial", "0", "--value", "3"]) == 0
    state = load(run)
    assert state.trials[1].value == 0.25 and state.trials[1].metadata == {"seconds": 1.5}
    assert state.trials[0].value == 3.0 and isinstance(state.trials[0].value, float)
    assert state.trials[2].status == "pending"
    capsys.readouterr()

    assert main(["show", "--state", str(run)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "3 trials (2 completed, 0 failed, 1 pending)" in out[0]
    assert out[1].split() == ["id", "status", "value", "params"]
    assert out[2].split()[:3] == ["0", "completed", "3"]
    assert out[3].split()[:3] == ["1", "completed", "0.25"]
    assert out[4].split()[:3] == ["2", "pending", "-"]
    assert out[-1].startswith("best: trial 1, value 0.25, params ")
    assert json.loads(out[-1].split("params ", 1)[1]) == trials[1]["params"]

    assert main(["show", "--state", str(run), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == [t.to_dict() for t in load(run).trials]


def test_add_records_a_point_that_was_not_asked(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ask(capsys, run, n=1)
    point = {"x": 0.25, "k": 2, "c": None}
    assert (
        main(
            [
                "add",
                "--state",
                str(run),
                "--params",
                json.dumps(point),
                "--value",
                "1.5",
                "--metadata",
                '{"source": "lab notebook"}',
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"id": 1, "status": "completed", "value": 1.5}
    trial = load(run).trials[1]
    assert trial.params == point and trial.value == 1.5
    assert trial.metadata == {"added": True, "source": "lab notebook"}
    assert [t["id"] for t in ask(capsys, run, n=1)] == [2]


def test_failed_trial(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ask(capsys, run, n=2)
    assert (
        main(["tell", "--state", str(run), "--trial", "0", "--failed", "--metadata", '{"error": "diverged"}'])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"id": 0, "status": "failed", "value": None}
    trial = load(run).trials[0]
    assert (trial.status, trial.value, trial.metadata) == ("failed", None, {"error": "diverged"})
    assert main(["show", "--state", str(run)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and out.splitlines()[-1] == "best: none yet (no completed trial)"


def test_multi_objective_value_list(
    tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "mo.json"
    assert (
        main(
            [
                "init",
                "--loop",
                "random",
                "--space",
                str(space_file),
                "--state",
                str(state),
                "--objectives",
                "2",
            ]
        )
        == 0
    )
    ask(capsys, state, n=1)
    assert main(["tell", "--state", str(state), "--trial", "0", "--value", "[1.0, 2]"]) == 0
    assert load(state).trials[0].value == (1.0, 2.0)
    capsys.readouterr()
    assert main(["show", "--state", str(state)]) == 0
    out = capsys.readouterr().out
    assert "[1, 2]" in out and "pareto front: 1 of 1 completed trials are non-dominated" in out
    assert "best:" not in out  # several objectives have no single best trial


def test_init_without_loop_uses_the_default_loop(
    tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    assert main(["init", "--space", str(space_file), "--state", str(state)]) == 0
    assert load(state).loop_name == asktell.loops.default_loop().name
    assert load(state).loop_config == asktell.loops.default_loop().config()
    (trial,) = ask(capsys, state)
    assert trial["id"] == 0 and set(trial["params"]) == set(SPACE)


def test_copied_state_file_resumes_identically(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ask(capsys, run, n=2)
    assert main(["tell", "--state", str(run), "--trial", "0", "--value", "1.0"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / "copy.json"
    shutil.copyfile(run, copy)
    here, there = ask(capsys, run, n=2), ask(capsys, copy, n=2)
    assert here == there and [t["id"] for t in here] == [2, 3]
    assert run.read_bytes() == copy.read_bytes()


def test_init_refuses_to_overwrite_without_force(
    run: Path, space_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ask(capsys, run, n=1)
    before = run.read_bytes()
    args = ["init", "--loop", "random", "--space", str(space_file), "--state", str(run)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: ") and "--force" in err
    assert run.read_bytes() == before
    assert main([*args, "--force"]) == 0
    assert load(run).loop_name == "random" and load(run).trials == ()


def _with_pending(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ask(capsys, run, n=2)
    assert main(["tell", "--state", str(run), "--trial", "0", "--value", "0.5"]) == 0


# Each case: (argument list after the command, substring of the message). "{state}" is the file.
REFUSALS = {
    "unknown trial": (["tell", "--trial", "7", "--value", "1"], "unknown trial id 7"),
    "negative trial": (["tell", "--trial", "-1", "--value", "1"], "unknown trial id -1"),
    "second tell": (["tell", "--trial", "0", "--value", "1"], "already completed"),
    "told failed after completed": (["tell", "--trial", "0", "--failed"], "already completed"),
    "nan": (["tell", "--trial", "1", "--value", "nan"], "--failed"),
    "NaN": (["tell", "--trial", "1", "--value", "NaN"], "finite"),
    "inf": (["tell", "--trial", "1", "--value", "1e999"], "finite"),
    "nan in a list": (["tell", "--trial", "1", "--value", "[NaN]"], "finite"),
    "string value": (["tell", "--trial", "1", "--value", '"abc"'], "finite float"),
    "bool value": (["tell", "--trial", "1", "--value", "true"], "finite float"),
    "list for one objective": (["tell", "--trial", "1", "--value", "[1, 2]"], "finite float"),
    "not JSON value": (["tell", "--trial", "1", "--value", "abc"], "--value must be JSON"),
    "bad metadata JSON": (
        ["tell", "--trial", "1", "--value", "1", "--metadata", "{x"],
        "--metadata must be JSON",
    ),
    "metadata not an object": (["tell", "--trial", "1", "--value", "1", "--metadata", "[1]"], "JSON object"),
    "ask n=0": (["ask", "--n", "0"], "n must be a positive integer"),
    "add out of range": (
        ["add", "--params", '{"x": 5.0, "k": 1, "c": "a"}', "--value", "1"],
        "parameter 'x' must lie in",
    ),
    "add unknown parameter": (
        ["add", "--params", '{"x": 0.0, "k": 1, "c": "a", "z": 1}', "--value", "1"],
        "unexpected ['z']",
    ),
    "add params not JSON": (["add", "--params", "{x", "--value", "1"], "--params must be JSON"),
    "add params not an object": (["add", "--params", "[1]", "--value", "1"], "JSON object"),
    "add nan": (["add", "--params", '{"x": 0.0, "k": 1, "c": "a"}', "--value", "NaN"], "finite"),
    "init over it": (["init", "--space", "{space}"], "already exists"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_exit_2_and_leave_the_file_alone(
    case: str, run: Path, space_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_pending(run, capsys)
    before = run.read_bytes()
    args, message = REFUSALS[case]
    rest = [a.replace("{space}", str(space_file)) for a in args[1:]]
    argv = [args[0], "--state", str(run), *rest]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("asktell: error: ") and message in captured.err
    assert captured.out == ""
    assert run.read_bytes() == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.json", "space.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"format": "asktell.state", "schema_', "not valid JSON"),
        (b"\xff\xfe garbage", "not valid JSON"),
        (b'{"hello": "world"}', "not an asktell state"),
        (b"[1, 2, 3]", "not an asktell state"),
    ],
    ids=["truncated", "binary", "other JSON object", "JSON list"],
)
@pytest.mark.parametrize("command", [["ask"], ["tell", "--trial", "0", "--value", "1"], ["show"]])
def test_unreadable_state_file(
    tmp_path: Path, content: bytes, message: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    state.write_bytes(content)
    assert main([command[0], "--state", str(state), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: ") and message in err
    assert state.read_bytes() == content


def test_state_naming_an_unknown_loop(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(run.read_text())
    data["loop_name"] = "no-such-loop"
    run.write_text(json.dumps(data))
    before = run.read_bytes()
    assert main(["ask", "--state", str(run)]) == 2
    err = capsys.readouterr().err
    assert "does not know: 'no-such-loop'" in err and "sobol" in err
    assert run.read_bytes() == before


def test_state_with_a_non_finite_number(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Python's json reads NaN; such a hand-edited state is refused, not crashed on."""
    data = json.loads(run.read_text())
    data["memo"]["edited"] = float("nan")
    run.write_text(json.dumps(data))
    before = run.read_bytes()
    assert main(["ask", "--state", str(run)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("asktell: error: ") and "nan" in captured.err.lower()
    assert captured.out == ""
    assert run.read_bytes() == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.json", "space.json"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--loop", "no-such-loop"], "unknown loop 'no-such-loop'"),
        (["--config", "{bad json"], "--config must be JSON"),
        (["--config", '{"n_init": NaN}'], "finite"),
        (["--config", '{"n_objectives": 2}'], "part of the problem"),
        (["--objectives", "0"], "n_objectives must be a positive integer"),
        (["--loop", "zord", "--objectives", "2"], "ZoRD optimizes one objective"),
        (["--config", '{"bogus": 1}'], "no options ['bogus']"),
        (["--config", "[1]"], "must be a JSON object"),
        (["--seed", "-1"], "seed must be a non-negative integer"),
    ],
    ids=[
        "unknown loop",
        "bad config JSON",
        "NaN config",
        "objectives in config",
        "zero objectives",
        "too many objectives",
        "unknown option",
        "config list",
        "negative seed",
    ],
)
def test_init_refusals_write_nothing(
    tmp_path: Path, space_file: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    assert main(["init", "--space", str(space_file), "--state", str(state), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: ") and message in err
    assert not state.exists()


@pytest.mark.parametrize(
    "space_text, message",
    [
        (None, "space file"),
        ("{not json", "a space file must be JSON"),
        ('{"x": {"type": "real", "low": 1, "high": 0}}', "`low < high` must hold"),
    ],
    ids=["missing", "bad JSON", "invalid space"],
)
def test_bad_space_file(
    tmp_path: Path, space_text: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.json"
    if space_text is not None:
        space.write_text(space_text)
    state = tmp_path / "run.json"
    assert main(["init", "--space", str(space), "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: ") and message in err
    assert not state.exists()


@pytest.mark.parametrize("command", [["ask"], ["tell", "--trial", "0", "--failed"], ["show"]])
def test_missing_state_file(tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "missing.json"
    assert main([command[0], "--state", str(state), *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: ") and "does not exist" in err and "asktell init" in err
    assert not state.exists()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["tell", "--state", "run.json", "--trial", "0"],
        ["tell", "--state", "run.json", "--trial", "0", "--value", "1", "--failed"],
        ["tell", "--state", "run.json", "--trial", "zero", "--value", "1"],
        ["ask"],
    ],
    ids=["no command", "unknown command", "no outcome", "value and failed", "trial not int", "no state"],
)
def test_usage_errors_exit_2(
    tmp_path: Path, argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # "run.json" above is relative: make sure it is not a real file
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: asktell" in err
    assert err.splitlines()[-1].startswith("asktell: error: ")  # one error line for every refusal
    assert list(tmp_path.iterdir()) == []


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("init", "ask", "tell", "show", "demo"):
        assert command in out


def test_atomic_write_leaves_no_temporary_files(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mode = 0o640
    run.chmod(mode)
    for i in range(3):
        ask(capsys, run, n=2)
        assert main(["tell", "--state", str(run), "--trial", str(2 * i), "--value", str(i)]) == 0
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.json", "space.json"]
    assert len(load(run).trials) == 6
    assert run.stat().st_mode & 0o777 == mode  # the replaced file keeps its permissions


def test_failed_write_keeps_the_old_file_and_cleans_up(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        assert Path(src).exists() and Path(src).parent == Path(dst).absolute().parent
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(statefile.os, "replace", broken_replace)
    assert main(["ask", "--state", str(run)]) == 2
    captured = capsys.readouterr()
    assert "cannot write state file" in captured.err and "No space left" in captured.err
    assert captured.out == ""  # no trial is handed out that is not on file
    assert run.read_bytes() == before
    assert sorted(p.name for p in run.parent.iterdir()) == ["run.json", "space.json"]


def test_concurrent_asks_lose_no_trials(run: Path) -> None:
    n_workers = 8
    codes: list[int] = []

    def worker() -> None:
        codes.append(main(["ask", "--state", str(run)]))

    threads = [threading.Thread(target=worker) for _ in range(n_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0] * n_workers
    state = load(run)
    assert [t.id for t in state.trials] == list(range(n_workers))
    assert state.counter == n_workers
    points = {json.dumps(t.params) for t in state.trials}
    assert len(points) == n_workers  # every worker got its own point


def test_branin_minimum() -> None:
    for x1, x2 in [(-3.141592653589793, 12.275), (3.141592653589793, 2.275), (9.42478, 2.475)]:
        assert problems.branin({"x1": x1, "x2": x2}) == pytest.approx(problems.BRANIN_MINIMUM, abs=1e-5)
    assert problems.branin({"x1": 0.0, "x2": 0.0}) > 50


def test_demo_prints_a_result(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--budget", "6", "--seed", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(":", 1) for line in out.splitlines()[1:])
    best = float(lines["best value"])
    params = json.loads(lines["best params"])
    assert -5 <= params["x1"] <= 10 and 0 <= params["x2"] <= 15
    assert best == pytest.approx(problems.branin(params), abs=1e-6)  # printed with 6 decimals
    assert float(lines["regret"]) == pytest.approx(best - 0.397887, abs=2e-6)
    assert float(lines["regret"]) >= 0
    assert lines["trials"].split()[0] == "6"


def test_demo_refuses_a_negative_budget(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--budget", "-1"]) == 2
    assert "budget must be a non-negative integer" in capsys.readouterr().err


def test_console_script(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The installed entry point ``asktell`` (next to the interpreter) runs ``main``."""
    script = Path(sys.executable).parent / "asktell"
    assert script.exists(), f"console script not installed at {script}; pip install -e ."
    done = subprocess.run(
        [str(script), "ask", "--state", str(run), "--n", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [t["id"] for t in lines] == [0, 1]
    assert [t.params for t in load(run).trials] == [t["params"] for t in lines]
    refused = subprocess.run(
        [str(script), "tell", "--state", str(run), "--trial", "9", "--value", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("asktell: error: unknown trial id 9")


# --- add --url: the options are checked here, before anything is sent (the server's side is in
# tests/service/test_service_client.py::test_cli_add_with_url) ----------------------------------

ADD_URL_REFUSALS = {
    "no study": (["--params", '{"x": 0.0}', "--value", "1"], "--url needs --study"),
    "params not JSON": (["--study", "s", "--params", "{x", "--value", "1"], "--params must be JSON"),
    "params not an object": (["--study", "s", "--params", "[0.0]", "--value", "1"], "JSON object"),
    "value not a number": (
        ["--study", "s", "--params", '{"x": 0}', "--value", "abc"],
        "--value must be JSON",
    ),
    "nan value": (["--study", "s", "--params", '{"x": 0}', "--value", "nan"], "--failed instead"),
    "bad metadata": (
        ["--study", "s", "--params", '{"x": 0}', "--value", "1", "--metadata", "[1]"],
        "JSON object",
    ),
}


@pytest.mark.parametrize("case", list(ADD_URL_REFUSALS))
def test_add_with_url_refuses_bad_options_before_sending(
    case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args, message = ADD_URL_REFUSALS[case]
    # nothing listens on port 9 (discard): had the command sent anything, it would fail on that
    assert main(["add", "--url", "http://127.0.0.1:9", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("asktell: error: ") and message in captured.err
    assert "running" not in captured.err and captured.out == ""


def test_add_takes_a_state_file_or_a_url_not_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "add",
        "--state",
        str(tmp_path / "run.json"),
        "--url",
        "http://127.0.0.1:9",
        "--params",
        '{"x": 0}',
        "--value",
        "1",
    ]
    assert main(argv) == 2
    assert "not allowed with" in capsys.readouterr().err
    assert main(["add", "--params", '{"x": 0}', "--value", "1"]) == 2
    assert "one of the arguments --state --url is required" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
