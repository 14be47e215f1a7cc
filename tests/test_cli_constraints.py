"""Outcome constraints through the ``asktell`` command: ``init --constraint 'mem <= 4'``, ``tell``/``add
--constraint mem=3.2``, ``show`` marking infeasible trials; every refusal exits 2 and leaves the state
file byte for byte as it was, and a constrained tell stays torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import asktell
from asktell.cli import main
from asktell.state import State

SPACE = {"x": {"type": "real", "low": 0.0, "high": 1.0}, "k": {"type": "integer", "low": 1, "high": 4}}
CONSTRAINTS = ["--constraint", "mem <= 4", "--constraint", "recall >= 0.9"]


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


@pytest.fixture
def run(tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A constrained Sobol run (mem <= 4, recall >= 0.9) with three pending trials."""
    state = tmp_path / "run.json"
    argv = ["init", "--loop", "sobol", "--space", str(space_file), "--state", str(state), *CONSTRAINTS]
    assert main(argv) == 0
    assert "constraints mem <= 4, recall >= 0.9" in capsys.readouterr().out
    assert main(["ask", "--state", str(state), "--n", "3"]) == 0
    capsys.readouterr()
    return state


def load(state: Path) -> State:
    return asktell.load(state.read_text())[1]


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_constrained_run_end_to_end(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = load(run)
    assert [str(c) for c in state.constraints] == ["mem <= 4", "recall >= 0.9"]

    code, out, _ = cli(
        capsys, "tell", "--state", str(run), "--trial", "0", "--value", "0.5",
        "--constraint", "mem=3.2", "--constraint", "recall=0.95",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == {
        "id": 0,
        "status": "completed",
        "value": 0.5,
        "constraints": {"mem": 3.2, "recall": 0.95},
        "feasible": True,
    }
    # lower value, but mem breaks its bound: infeasible, never the best
    code, out, _ = cli(
        capsys, "tell", "--state", str(run), "--trial", "1", "--value", "-1e-05",
        "--constraint", "recall = 0.99", "--constraint", "mem=4.5",
    )  # fmt: skip
    assert code == 0 and json.loads(out)["feasible"] is False
    assert cli(capsys, "tell", "--state", str(run), "--trial", "2", "--failed")[0] == 0
    code, out, _ = cli(
        capsys, "add", "--state", str(run), "--params", '{"x": 0.5, "k": 2}', "--value", "0.25",
        "--constraint", "mem=4", "--constraint", "recall=0.9", "--metadata", '{"source": "notebook"}',
    )  # fmt: skip
    assert code == 0 and json.loads(out) == {
        "id": 3,
        "status": "completed",
        "value": 0.25,
        "constraints": {"mem": 4.0, "recall": 0.9},
        "feasible": True,  # the boundary keeps the bound
    }

    state = load(run)
    assert [t.feasible for t in state.trials] == [True, False, None, True]
    assert state.trials[1].constraints == {"mem": 4.5, "recall": 0.99}
    assert state.trials[2].constraints is None
    assert state.best().id == 3  # the infeasible trial 1 has the lowest value

    # the same calls through the library give the same state
    loop = asktell.loops.Sobol()
    expected = loop.init(asktell.Space.from_dict(SPACE), seed=0, constraints=["mem <= 4", "recall >= 0.9"])
    expected, _ = loop.ask(expected, 3)
    expected = loop.tell(expected, 0, 0.5, constraints={"mem": 3.2, "recall": 0.95})
    expected = loop.tell(expected, 1, -1e-05, constraints={"mem": 4.5, "recall": 0.99})
    expected = loop.tell(expected, 2, None, status="failed")
    expected = loop.add(
        expected,
        {"x": 0.5, "k": 2},
        0.25,
        constraints={"mem": 4, "recall": 0.9},
        metadata={"source": "notebook"},
    )
    assert state == expected

    code, out, _ = cli(capsys, "show", "--state", str(run))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "constraints: mem <= 4, recall >= 0.9; 2 of 3 completed feasible"
    header = lines[2].split()
    assert header == ["id", "status", "value", "feasible", "mem", "recall", "params"]
    rows = {line.split()[0]: line.split() for line in lines[3:7]}
    assert rows["0"][:6] == ["0", "completed", "0.5", "yes", "3.2", "0.95"]
    assert rows["1"][:6] == ["1", "completed", "-1e-05", "no", "4.5", "0.99"]
    assert rows["2"][:6] == ["2", "failed", "-", "-", "-", "-"]
    assert lines[-1].startswith('best: trial 3, value 0.25, outcomes {"mem": 4.0, "recall": 0.9}')

    code, out, _ = cli(capsys, "show", "--state", str(run), "--json")
    shown = json.loads(out)
    assert [t["feasible"] for t in shown] == [True, False, None, True]
    assert shown[1]["constraints"] == {"mem": 4.5, "recall": 0.99} and "constraints" not in shown[2]


def test_show_says_no_feasible_trial_yet(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "show", "--state", str(run))
    assert code == 0 and out.splitlines()[-1] == "best: no feasible trial yet (no completed trial)"
    tell = [
        "tell",
        "--state",
        str(run),
        "--value",
        "0.1",
        "--constraint",
        "mem=9",
        "--constraint",
        "recall=1",
    ]
    assert cli(capsys, *tell, "--trial", "0")[0] == 0
    assert cli(capsys, *tell, "--trial", "1")[0] == 0
    code, out, _ = cli(capsys, "show", "--state", str(run))
    assert "0 of 2 completed feasible" in out
    assert out.splitlines()[-1] == "best: no feasible trial yet (2 completed, none keeps every constraint)"
    assert load(run).best() is None


def test_an_unconstrained_show_is_unchanged(tmp_path: Path, space_file: Path, capsys) -> None:
    state = tmp_path / "plain.json"
    assert main(["init", "--loop", "sobol", "--space", str(space_file), "--state", str(state)]) == 0
    assert cli(capsys, "ask", "--state", str(state))[0] == 0
    code, out, _ = cli(capsys, "tell", "--state", str(state), "--trial", "0", "--value", "1")
    assert json.loads(out) == {"id": 0, "status": "completed", "value": 1.0}  # no outcome keys
    code, out, _ = cli(capsys, "show", "--state", str(state))
    lines = out.splitlines()
    assert lines[1].split() == ["id", "status", "value", "params"] and "constraints" not in out
    code, out, _ = cli(capsys, "show", "--state", str(state), "--json")
    assert set(json.loads(out)[0]) == {"id", "params", "status", "value", "metadata"}


GOOD = ["--constraint", "mem=3", "--constraint", "recall=0.95"]
REFUSED_TELLS = {
    "no --constraint": (["--value", "0.5"], "--constraint mem=VALUE --constraint recall=VALUE"),
    "one missing": (["--value", "0.5", "--constraint", "mem=3"], "missing ['recall']"),
    "unknown name": (["--value", "0.5", *GOOD, "--constraint", "latency=1"], "unknown ['latency']"),
    "name twice": (["--value", "0.5", *GOOD, "--constraint", "mem=2"], "'mem' twice"),
    "bound syntax": (["--value", "0.5", "--constraint", "mem <= 4", *GOOD[2:]], "NAME=VALUE"),
    "no value": (["--value", "0.5", "--constraint", "mem=", *GOOD[2:]], "must be a number"),
    "no name": (["--value", "0.5", "--constraint", "=3", *GOOD[2:]], "NAME=VALUE"),
    "no equals": (["--value", "0.5", "--constraint", "mem", *GOOD[2:]], "NAME=VALUE"),
    "nan": (["--value", "0.5", "--constraint", "mem=nan", *GOOD[2:]], "--failed"),
    "inf": (["--value", "0.5", "--constraint", "mem=-Infinity", *GOOD[2:]], "finite"),
    "past a float": (["--value", "0.5", "--constraint", "mem=1e999", *GOOD[2:]], "finite"),
    "arabic digits": (["--value", "0.5", "--constraint", "mem=\u0663", *GOOD[2:]], "ASCII"),
    "underscore": (["--value", "0.5", "--constraint", "mem=1_000", *GOOD[2:]], "ASCII"),
    "json": (["--value", "0.5", "--constraint", "mem=[1]", *GOOD[2:]], "must be a number"),
    "failed with outcomes": (["--failed", *GOOD], "takes no constraint values"),
    "escape in name": (["--value", "0.5", *GOOD, "--constraint", "\x1b[31m=1"], "unknown"),
}


@pytest.mark.parametrize("options", list(REFUSED_TELLS.values()), ids=list(REFUSED_TELLS))
@pytest.mark.parametrize("command", ["tell", "add"])
def test_refused_outcomes_exit_2_and_leave_the_file_alone(
    run: Path, capsys: pytest.CaptureFixture[str], command: str, options: tuple[list[str], str]
) -> None:
    argv, fragment = options
    target = ["--trial", "0"] if command == "tell" else ["--params", '{"x": 0.5, "k": 2}']
    before = run.read_bytes()
    code, out, err = cli(capsys, command, "--state", str(run), *target, *argv)
    assert code == 2 and out == ""
    assert err.startswith("asktell: error: ") and fragment in err, err
    assert len(err.splitlines()) == 1  # an escape in a name stays on one line
    assert run.read_bytes() == before


def test_outcomes_for_an_unconstrained_run_are_refused(tmp_path: Path, space_file: Path, capsys) -> None:
    state = tmp_path / "plain.json"
    assert main(["init", "--loop", "random", "--space", str(space_file), "--state", str(state)]) == 0
    assert cli(capsys, "ask", "--state", str(state))[0] == 0
    before = state.read_bytes()
    code, _, err = cli(capsys, "tell", "--state", str(state), "--trial", "0", "--value", "1", *GOOD)
    assert code == 2 and "declares no constraints" in err and "asktell init --constraint" in err
    assert state.read_bytes() == before


REFUSED_INITS = {
    "unreadable": (["--constraint", "mem < 4"], "cannot read the constraint"),
    "tell syntax": (["--constraint", "mem=4"], "cannot read the constraint"),
    "twice": (["--constraint", "mem <= 4", "--constraint", "mem >= 1"], "appear twice"),
    "nan bound": (["--constraint", "mem <= nan"], "must be a number"),
    "past a float": (["--constraint", "mem <= 1e400"], "finite"),
    "arabic digits": (["--constraint", "mem <= \u0664"], "must be a number"),
    "bad name": (["--constraint", "9lives <= 4"], "outcome name"),
    "zord refuses constraints": (
        ["--loop", "zord", "--constraint", "mem <= 4"],
        "cannot use outcome constraints",
    ),
}


@pytest.mark.parametrize("options", list(REFUSED_INITS.values()), ids=list(REFUSED_INITS))
def test_refused_inits_write_nothing(
    tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str], options: tuple[list[str], str]
) -> None:
    argv, fragment = options
    if "--loop" not in argv:
        argv = ["--loop", "sobol", *argv]
    state = tmp_path / "new.json"
    code, out, err = cli(capsys, "init", "--space", str(space_file), "--state", str(state), *argv)
    assert code == 2 and out == "" and fragment in err, err
    assert not state.exists()
    assert list(tmp_path.iterdir()) == [space_file]  # no temporary file left either


def test_a_refused_init_force_keeps_the_old_file(run: Path, space_file: Path, capsys) -> None:
    before = run.read_bytes()
    argv = ["init", "--force", "--loop", "zord", "--space", str(space_file), "--state", str(run)]
    code, _, err = cli(capsys, *argv, "--constraint", "mem <= 4")
    assert code == 2 and "ZoRD cannot use outcome constraints" in err
    assert run.read_bytes() == before


def test_a_constrained_tell_in_a_shell_loads_no_torch(run: Path) -> None:
    """``tell``, ``add`` and ``show`` of a constrained Sobol run are the data layer's alone."""
    probe = (
        "import json, sys\nfrom asktell.cli import main\n"
        "codes = [main(a) for a in json.loads(sys.argv[1])]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'botorch', 'gpytorch'))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))"
    )
    argvs = [
        ["tell", "--state", str(run), "--trial", "0", "--value", "0.5", *GOOD],
        ["tell", "--state", str(run), "--trial", "1", "--failed"],
        ["tell", "--state", str(run), "--trial", "2", "--value", "0.5"],  # refused: no outcomes
        ["add", "--state", str(run), "--params", '{"x": 0.1, "k": 1}', "--value", "0.2", *GOOD],
        ["show", "--state", str(run)],
    ]
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argvs)], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout.splitlines()[-1])
    assert got == {"codes": [0, 0, 2, 0, 0], "heavy": []}
    assert [t.feasible for t in load(run).trials] == [True, None, None, True]
