"""Several objectives through the ``asktell`` command (issue 16): ``init --objectives 2 [--ref-point
1.0,2.0]``, ``tell``/``add --value 0.3,1.2`` (or a JSON list), ``show`` printing the Pareto front and
the hypervolume with its reference point; every refusal exits 2 and leaves the state file byte for
byte as it was, and ``tell``/``add``/``show`` stay torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import asktell
from asktell.cli import main
from asktell.pareto import reference_trials
from asktell.state import State

SPACE = {"x": {"type": "real", "low": 0.0, "high": 1.0}, "k": {"type": "integer", "low": 1, "high": 4}}
NEEDED = reference_trials(2)  # the completed trials after which a 2-parameter run infers its point


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def load(state: Path) -> State:
    return asktell.load(state.read_text())[1]


@pytest.fixture
def run(tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A two-objective Sobol run with six pending trials and no reference point."""
    state = tmp_path / "run.json"
    code, out, _ = cli(
        capsys, "init", "--loop", "sobol", "--space", str(space_file), "--state", str(state),
        "--objectives", "2",
    )  # fmt: skip
    assert code == 0
    assert out == (
        f"wrote {state}: loop 'sobol', 2 parameters, seed 0, 2 objectives, no reference point yet: "
        f"inferred after {NEEDED} completed trials (0 so far), or given at init with --ref-point\n"
    )
    assert cli(capsys, "ask", "--state", str(state), "--n", "6")[0] == 0
    return state


# trial id -> what --value says and the value stored
TELLS = [
    ("0.3,1.2", (0.3, 1.2)),
    ("[0.5, 0.7]", (0.5, 0.7)),  # the JSON list form still works
    ("-0.1,2", (-0.1, 2.0)),  # a negative first number after its option
    (" 1 , 1 ", (1.0, 1.0)),  # spaces around the numbers
]


def test_a_two_objective_run_end_to_end(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for trial_id, (text, value) in enumerate(TELLS):
        code, out, err = cli(capsys, "tell", "--state", str(run), "--trial", str(trial_id), "--value", text)
        assert code == 0, err
        assert json.loads(out) == {"id": trial_id, "status": "completed", "value": list(value)}
    assert load(run).ref_point is None  # 4 completed: not yet

    code, out, _ = cli(capsys, "show", "--state", str(run))
    assert code == 0 and "best:" not in out
    lines = out.splitlines()
    assert lines[1] == (
        f"objectives: 2, all minimized; no reference point yet: inferred after {NEEDED} completed "
        "trials (4 so far), or given at init with --ref-point"
    )
    assert "pareto front: 3 of 4 completed trials are non-dominated" in lines
    assert lines[-1] == (
        f"hypervolume: none yet; no reference point yet: inferred after {NEEDED} completed trials "
        "(4 so far), or given at init with --ref-point"
    )

    assert cli(capsys, "tell", "--state", str(run), "--trial", "4", "--value", "0.2,0.2")[0] == 0
    assert cli(capsys, "tell", "--state", str(run), "--trial", "5", "--failed")[0] == 0
    code, out, _ = cli(
        capsys, "add", "--state", str(run), "--params", '{"x": 0.5, "k": 2}', "--value", "0.1,0.25"
    )
    assert code == 0 and json.loads(out) == {"id": 6, "status": "completed", "value": [0.1, 0.25]}

    state = load(run)
    # the same calls through the library give the same state, the inferred point included
    loop = asktell.loops.Sobol()
    expected = loop.init(asktell.Space.from_dict(SPACE), seed=0, n_objectives=2)
    expected, _ = loop.ask(expected, 6)
    for trial_id, (_, value) in enumerate([*TELLS, ("", (0.2, 0.2))]):
        expected = loop.tell(expected, trial_id, list(value))
    expected = loop.tell(expected, 5, None, status="failed")
    expected = loop.add(expected, {"x": 0.5, "k": 2}, [0.1, 0.25])
    assert state == expected
    values = [t.value for t in state.trials[:NEEDED]]
    assert state.problem.ref_point_inferred
    assert state.ref_point == pytest.approx(tuple(asktell.pareto.infer_reference_point(values)), abs=0)

    code, out, _ = cli(capsys, "show", "--state", str(run))
    lines = out.splitlines()
    point = "[" + ", ".join(f"{x:.6g}" for x in state.ref_point) + "]"
    reference = f"reference point {point}, inferred from the first {NEEDED} completed trials"
    assert lines[1] == f"objectives: 2, all minimized; {reference}"
    front = [t.id for t in state.pareto_front()]
    assert front == [2, 4, 6]  # (-0.1, 2), (0.2, 0.2), (0.1, 0.25)
    start = lines.index("pareto front: 3 of 6 completed trials are non-dominated")
    assert lines[start + 1].split() == ["id", "objective", "1", "objective", "2", "params"]
    rows = [line.split() for line in lines[start + 2 : start + 5]]
    assert [r[:3] for r in rows] == [["2", "-0.1", "2"], ["4", "0.2", "0.2"], ["6", "0.1", "0.25"]]
    assert rows[2][3:] == ["x=0.5,", "k=2"]
    assert lines[-1] == f"hypervolume: {state.hypervolume():.6g}, {reference}"
    assert state.hypervolume() > 0

    code, out, _ = cli(capsys, "show", "--state", str(run), "--json")
    shown = json.loads(out)
    assert [t["pareto"] for t in shown] == [False, False, True, False, True, None, True]
    assert shown[0]["value"] == [0.3, 1.2] and "feasible" not in shown[0]


def test_a_given_reference_point(tmp_path: Path, space_file: Path, capsys) -> None:
    state = tmp_path / "ref.json"
    code, out, _ = cli(
        capsys, "init", "--loop", "random", "--space", str(space_file), "--state", str(state),
        "--objectives", "2", "--ref-point", "1.5,-0.5",
    )  # fmt: skip
    assert code == 0 and out.endswith("2 objectives, reference point [1.5, -0.5], given at init\n")
    assert load(state).ref_point == (1.5, -0.5) and not load(state).problem.ref_point_inferred
    code, out, _ = cli(capsys, "show", "--state", str(state))
    assert out.splitlines()[-2:] == [
        "pareto front: none yet (no completed trial)",
        "hypervolume: 0, reference point [1.5, -0.5], given at init",
    ]
    for x, value in [(0.1, "1,-1"), (0.2, "[0.5, -0.75]"), (0.3, "2,-2")]:
        params = json.dumps({"x": x, "k": 1})
        assert cli(capsys, "add", "--state", str(state), "--params", params, "--value", value)[0] == 0
    run = load(state)
    assert run.ref_point == (1.5, -0.5)  # given: never replaced by an inferred one
    # (1, -1) and (0.5, -0.75) are inside the reference point, (2, -2) is not
    assert run.hypervolume() == pytest.approx(0.5 * 0.5 + 0.5 * 0.25, abs=1e-12)
    assert run.hypervolume() == asktell.hypervolume([t.value for t in run.trials], [1.5, -0.5])
    code, out, _ = cli(capsys, "show", "--state", str(state))
    assert out.splitlines()[-1] == "hypervolume: 0.375, reference point [1.5, -0.5], given at init"
    # the JSON list form of --ref-point gives the same point
    again = tmp_path / "again.json"
    argv = ["init", "--loop", "random", "--space", str(space_file), "--state", str(again)]
    assert cli(capsys, *argv, "--objectives", "2", "--ref-point", "[1.5, -0.5]")[0] == 0
    assert load(again).ref_point == (1.5, -0.5)


REFUSED_VALUES = {
    "one number": ("0.5", "takes 2 numbers separated by commas (like --value 0.5,0.5), got one number"),
    "three numbers": ("0.1,0.2,0.3", "takes 2 numbers (like --value 0.5,0.5), got 3 (0.1,0.2,0.3)"),
    "a JSON list of three": ("[1, 2, 3]", "got 3 (1,2,3)"),
    "a JSON list of one": ("[1]", "got 1 (1)"),
    "nan": ("0.1,nan", "finite numbers, got '0.1,nan'; report a failed evaluation with --failed"),
    "NaN first": ("-NaN,1", "finite numbers"),
    "nan in a JSON list": ("[0.1, NaN]", "finite numbers"),
    "past a float": ("1e999,1", "finite numbers"),
    "an empty item": ("0.1,", "an empty item in '0.1,'"),
    "two commas": ("0.1,,0.2", "an empty item"),
    "a word": ("0.1,abc", "got 'abc' in '0.1,abc'"),
    "arabic digits": ("0.1,\u0661", "ASCII"),
    "underscore": ("0.1,1_000", "'1_000'"),
    "a string item": ('[0.1, "a"]', "finite float"),
    "an object": ('{"a": 1}', "takes 2 numbers separated by commas"),
}


@pytest.mark.parametrize("case", list(REFUSED_VALUES))
@pytest.mark.parametrize("command", ["tell", "add"])
def test_refused_values_exit_2_and_leave_the_file_alone(
    run: Path, capsys: pytest.CaptureFixture[str], command: str, case: str
) -> None:
    text, fragment = REFUSED_VALUES[case]
    target = ["--trial", "0"] if command == "tell" else ["--params", '{"x": 0.5, "k": 2}']
    before = run.read_bytes()
    code, out, err = cli(capsys, command, "--state", str(run), *target, "--value", text)
    assert code == 2 and out == ""
    assert err.startswith("asktell: error: ") and fragment in err, err
    assert len(err.splitlines()) == 1
    assert run.read_bytes() == before


@pytest.mark.parametrize("text", ["0.3,1.2", "[0.3, 1.2]", "-1,2"])
def test_a_list_for_one_objective_is_refused(tmp_path: Path, space_file: Path, capsys, text: str) -> None:
    state = tmp_path / "one.json"
    assert cli(capsys, "init", "--loop", "sobol", "--space", str(space_file), "--state", str(state))[0] == 0
    assert cli(capsys, "ask", "--state", str(state))[0] == 0
    before = state.read_bytes()
    for argv in (["tell", "--trial", "0"], ["add", "--params", '{"x": 0.5, "k": 2}']):
        code, out, err = cli(capsys, argv[0], "--state", str(state), *argv[1:], "--value", text)
        assert code == 2 and out == "", err
        assert "this run has one objective: --value takes one number" in err
        assert "asktell init --objectives N" in err
        assert state.read_bytes() == before
    # and a one-objective show is as it was: the best trial, no front
    assert cli(capsys, "tell", "--state", str(state), "--trial", "0", "--value", "0.5")[0] == 0
    code, out, _ = cli(capsys, "show", "--state", str(state))
    assert out.splitlines()[-1].startswith("best: trial 0, value 0.5") and "pareto" not in out


REFUSED_INITS = {
    "one number for two": (["--objectives", "2", "--ref-point", "1"], "ref_point must have 2 numbers"),
    "three for two": (["--objectives", "2", "--ref-point", "1,2,3"], "ref_point must have 2 numbers"),
    "nan": (["--objectives", "2", "--ref-point", "1,nan"], "--ref-point must hold finite numbers"),
    "past a float": (["--objectives", "2", "--ref-point", "1e999,1"], "finite"),
    "a word": (["--objectives", "2", "--ref-point", "1,abc"], "numbers separated by commas"),
    "a JSON string": (["--objectives", "2", "--ref-point", '[1, "a"]'], "must be numbers like 1.0,2.0"),
    "one objective": (["--ref-point", "1,2"], "a reference point is for several objectives"),
    "zord": (["--loop", "zord", "--objectives", "2"], "ZoRD optimizes one objective"),
}


@pytest.mark.parametrize("case", list(REFUSED_INITS))
def test_refused_inits_write_nothing(tmp_path: Path, space_file: Path, capsys, case: str) -> None:
    argv, fragment = REFUSED_INITS[case]
    if "--loop" not in argv:
        argv = ["--loop", "sobol", *argv]
    state = tmp_path / "new.json"
    code, out, err = cli(capsys, "init", "--space", str(space_file), "--state", str(state), *argv)
    assert code == 2 and out == "" and fragment in err, err
    assert list(tmp_path.iterdir()) == [space_file]


def test_a_constrained_front_is_the_feasible_one(tmp_path: Path, space_file: Path, capsys) -> None:
    state = tmp_path / "c.json"
    argv = ["init", "--loop", "sobol", "--space", str(space_file), "--state", str(state)]
    assert cli(capsys, *argv, "--objectives", "2", "--constraint", "mem <= 4")[0] == 0
    assert cli(capsys, "ask", "--state", str(state), "--n", "3")[0] == 0
    tell = ["tell", "--state", str(state), "--trial"]
    assert cli(capsys, *tell, "0", "--value", "0,0", "--constraint", "mem=5")[0] == 0  # dominates all
    code, out, _ = cli(capsys, "show", "--state", str(state))
    assert "pareto front: none yet (no feasible trial: 1 completed, none keeps every constraint)" in out
    assert cli(capsys, *tell, "1", "--value", "1,2", "--constraint", "mem=3")[0] == 0
    assert cli(capsys, *tell, "2", "--value", "2,1", "--constraint", "mem=4")[0] == 0
    code, out, _ = cli(capsys, "show", "--state", str(state))
    assert "pareto front: 2 of 2 feasible completed trials are non-dominated" in out
    assert [t.id for t in load(state).pareto_front()] == [1, 2]
    code, out, _ = cli(capsys, "show", "--state", str(state), "--json")
    shown = [(t["feasible"], t["pareto"]) for t in json.loads(out)]
    assert shown == [(False, False), (True, True), (True, True)]


@pytest.fixture(params=["sobol", "bayesopt"])
def any_run(request, tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A two-objective run of each loop that serves several objectives, six trials pending."""
    if request.param == "bayesopt" and asktell.loops.BayesOpt.max_objectives == 1:
        pytest.skip("BayesOpt serves one objective")
    state = tmp_path / "run.json"
    argv = ["init", "--loop", request.param, "--space", str(space_file), "--state", str(state)]
    assert cli(capsys, *argv, "--objectives", "2")[0] == 0
    assert cli(capsys, "ask", "--state", str(state), "--n", "6")[0] == 0  # the initial design
    return state


def test_a_two_objective_tell_in_a_shell_loads_no_torch(any_run: Path) -> None:
    """``tell``, ``add`` and ``show`` of a two-objective run are the data layer's alone."""
    run = any_run
    probe = (
        "import json, sys\nfrom asktell.cli import main\n"
        "codes = [main(a) for a in json.loads(sys.argv[1])]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'botorch', 'gpytorch'))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))"
    )
    tells = [
        ["tell", "--state", str(run), "--trial", str(i), "--value", f"{i},{5 - i}"] for i in range(NEEDED)
    ]
    argvs = [
        *tells,  # the last one infers the reference point
        ["tell", "--state", str(run), "--trial", str(NEEDED), "--value", "0.5"],  # refused: one number
        ["add", "--state", str(run), "--params", '{"x": 0.1, "k": 1}', "--value", "-1,-1"],
        ["show", "--state", str(run)],
        ["show", "--state", str(run), "--json"],
    ]
    done = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argvs)], capture_output=True, text=True, check=True
    )
    got = json.loads(done.stdout.splitlines()[-1])
    assert got == {"codes": [0] * NEEDED + [2, 0, 0, 0], "heavy": []}
    state = load(run)
    assert state.ref_point is not None and [t.id for t in state.pareto_front()] == [NEEDED + 1]
