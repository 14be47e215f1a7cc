"""The ``asktell`` command refuses odd input (issue 14): each test is one observation of the issue,
or one found by trying the command as a hostile user would. A refusal is ``asktell: error: ...``
on stderr, exit 2, and the state file byte-for-byte as it was, with no file left beside it."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import asktell
from asktell import cli, statefile
from asktell.cli import main

SPACE = {
    "x": {"type": "real", "low": -1.0, "high": 1.0},
    "k": {"type": "integer", "low": 1, "high": 5},
}
POINT = '{"x": 0.5, "k": 2}'
DIGITS_400 = "1" + "0" * 400  # beyond a float's range
DIGITS_5000 = "1" + "0" * 5000  # beyond what Python's int() reads from text (4300 digits)


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.json"
    path.write_text(json.dumps(SPACE))
    return path


@pytest.fixture
def run(tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A Sobol run with trials 0 (completed) and 1 (pending)."""
    state = tmp_path / "run.json"
    assert main(["init", "--loop", "sobol", "--space", str(space_file), "--state", str(state)]) == 0
    assert main(["ask", "--state", str(state), "--n", "2"]) == 0
    assert main(["tell", "--state", str(state), "--trial", "0", "--value", "0.5"]) == 0
    capsys.readouterr()
    return state


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], message: str) -> str:
    """Run ``argv``; assert it is refused (exit 2, asktell's error line with ``message``)."""
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert last.startswith("asktell: error: "), captured.err
    assert message in last, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    return last


def refused_unchanged(argv: list[str], state: Path, capsys: pytest.CaptureFixture[str], message: str) -> str:
    before, listing = state.read_bytes(), files(state.parent)
    last = refused(argv, capsys, message)
    assert state.read_bytes() == before and files(state.parent) == listing
    return last


# --- numbers: huge, deep, and not ASCII ------------------------------------------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        (f'{{"x": {DIGITS_400}, "k": 2}}', "parameter 'x' must lie in"),
        (f'{{"x": 0.5, "k": {DIGITS_400}}}', "parameter 'k' must lie in"),
        (f'{{"x": 0.5, "k": {DIGITS_5000}}}', "more than 4300 digits"),
    ],
    ids=["400 digits real", "400 digits integer", "5000 digits"],
)
def test_a_huge_number_in_add_params(
    run: Path, params: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: a 400-digit number in ``add --params`` gave a traceback, exit 1."""
    refused_unchanged(["add", "--state", str(run), "--params", params, "--value", "1"], run, capsys, message)


@pytest.mark.parametrize(
    "text, message",
    [
        (f'{{"x": {{"type": "real", "low": 0, "high": {DIGITS_400}}}}}', "must be finite"),
        (f'{{"k": {{"type": "integer", "low": 0, "high": {DIGITS_400}}}}}', "401 digits"),
        (f'{{"x": {{"type": "real", "low": 0, "high": {DIGITS_5000}}}}}', "4300 digits"),
        ('{"x": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested"),
    ],
    ids=["400 digits real bound", "400 digits integer bound", "5000 digits", "10000 deep"],
)
def test_a_space_file_with_a_huge_bound(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: a space file with a 400-digit bound gave a traceback, exit 1."""
    space = tmp_path / "space.json"
    space.write_text(text)
    state = tmp_path / "run.json"
    refused(["init", "--space", str(space), "--state", str(state)], capsys, message)
    assert files(tmp_path) == ["space.json"]


@pytest.mark.parametrize(
    "n, message",
    [
        ("1000000000000", "at most 10000 points per ask"),
        ("1" + "0" * 19, "at most 10000 points per ask"),  # the bound on n, however large
        ("1" + "0" * 20, "at most 20 digits"),
        (DIGITS_5000, "at most 20 digits"),
    ],
    ids=["10**12", "10**19", "21 digits", "5001 digits"],
)
def test_ask_for_a_huge_n(run: Path, n: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue: ``ask --n 1000000000000`` raised a RuntimeError (an allocation)."""
    refused_unchanged(["ask", "--state", str(run), "--n", n], run, capsys, message)


@pytest.mark.parametrize(
    "metadata, message",
    [
        ('{"a": ' + "[" * 300 + "]" * 300 + "}", "nested deeper than 32 levels"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply to read"),
        ('{"a": ' + '{"b": ' * 10_000 + "1" + "}" * 10_001, "nested too deeply to read"),
        ('{"a": ' + DIGITS_5000 + "}", "more than 4300 digits"),
    ],
    ids=["300 deep", "10000 deep list", "10000 deep object", "5000 digits"],
)
def test_deep_metadata(run: Path, metadata: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue: deep ``--metadata``; 10 000 deep raised RecursionError from ``json.loads``."""
    for command in (["tell", "--trial", "1", "--value", "1"], ["add", "--params", POINT, "--value", "1"]):
        argv = [command[0], "--state", str(run), *command[1:], "--metadata", metadata]
        refused_unchanged(argv, run, capsys, message)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tell", "--trial", "1", "--value=١٢"], "--value must be a number written in ASCII"),
        (["tell", "--trial", "1", "--value", "１２"], "--value must be a number written in ASCII"),
        (["tell", "--trial", "1", "--value", "[١]"], "--value must be a number written in ASCII"),
        (["tell", "--trial", "1", "--value", "\u20071"], "--value must be a number written in ASCII"),
        (["tell", "--trial", "1", "--value", "1_000"], "--value must be JSON"),
        (["tell", "--trial", "١", "--value", "1"], "argument --trial: must be an integer written with"),
        (["tell", "--trial", " 1", "--value", "1"], "argument --trial: must be an integer written with"),
        (["ask", "--n", "٢"], "argument --n: must be an integer written with the ASCII digits"),
        (["ask", "--n", "1_0"], "argument --n: must be an integer written with the ASCII digits"),
    ],
    ids=[
        "arabic-indic value",
        "fullwidth value",
        "arabic-indic in a list",
        "figure space",
        "underscore value",
        "arabic-indic trial",
        "spaced trial",
        "arabic-indic n",
        "underscore n",
    ],
)
def test_non_ascii_digits(
    run: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: ``--value=١٢`` (Arabic-Indic digits) was accepted as 12; ``type=int`` options too."""
    refused_unchanged([argv[0], "--state", str(run), *argv[1:]], run, capsys, message)


@pytest.mark.parametrize("option", ["--seed", "--objectives"])
def test_non_ascii_digits_at_init(
    tmp_path: Path, space_file: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    refused(
        ["init", "--space", str(space_file), "--state", str(state), option, "٣"],
        capsys,
        f"argument {option}: must be an integer written with the ASCII digits 0-9",
    )
    assert not state.exists()


def test_every_subcommand_reads_integers_in_ascii(capsys: pytest.CaptureFixture[str]) -> None:
    """``type=int`` means ASCII digits in every subcommand, those of other modules too (serve)."""
    for argv in (["demo", "--budget", "٣"], ["federate", "--rounds", "٣"], ["serve", "--port", "٨٠٨٠"]):
        refused(argv, capsys, "must be an integer written with the ASCII digits 0-9")


def test_a_negative_number_in_exponent_form_is_a_value(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Python prints -0.00001 as ``-1e-05``, which argparse took for an option (a usage error)."""
    assert main(["tell", "--state", str(run), "--trial", "1", "--value", "-1e-05"]) == 0
    assert asktell.load(run.read_text())[1].trials[1].value == -1e-05
    refused_unchanged(
        ["add", "--state", str(run), "--params", POINT, "--value", "-inf"], run, capsys, "--failed instead"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["add", "--params", '{"x": 0.5, "k": 2, "x": -0.5}', "--value", "1"],
            "--params has the key 'x' twice",
        ),
        (
            ["tell", "--trial", "1", "--value", "1", "--metadata", '{"a": 1, "a": 2}'],
            "--metadata has the key 'a' twice",
        ),
    ],
    ids=["params", "metadata"],
)
def test_a_key_given_twice(
    run: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's json keeps the last of two equal keys, silently: which one the user meant is not
    known, so it is refused (as a space file's twice-named parameter is)."""
    refused_unchanged([argv[0], "--state", str(run), *argv[1:]], run, capsys, message)


def test_a_key_given_twice_in_config(
    tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    refused(
        [
            "init",
            "--loop",
            "bayesopt",
            "--space",
            str(space_file),
            "--state",
            str(state),
            "--config",
            '{"n_init": 3, "n_init": 4}',
        ],
        capsys,
        "--config has the key 'n_init' twice",
    )
    assert not state.exists()


@pytest.mark.parametrize(
    "path, message",
    [("", "must name a file, got an empty path"), ("run\0.json", "must be a file path without NUL bytes")],
    ids=["empty", "NUL"],
)
@pytest.mark.parametrize("command", ["init", "ask", "show"])
def test_a_state_path_that_names_no_file(
    tmp_path: Path,
    space_file: Path,
    path: str,
    message: str,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--state ''`` was the current directory ("'.' already exists"); a NUL byte a ValueError."""
    monkeypatch.chdir(tmp_path)
    extra = ["--space", str(space_file)] if command == "init" else []
    refused([command, "--state", path, *extra], capsys, f"argument --state: {message}")
    assert files(tmp_path) == ["space.json"]


def test_federate_refuses_what_it_cannot_build(capsys: pytest.CaptureFixture[str]) -> None:
    """``federate --dim 100000000000`` built a dict of 1e11 parameters; ``--seed -1`` raised
    numpy's ValueError from the problem's generator."""
    refused(["federate", "--dim", "100000000000"], capsys, "--dim must be at most 1000")
    refused(["federate", "--clients", "1001"], capsys, "--clients must be at most 1000")
    refused(["federate", "--seed", "-1"], capsys, "seed must be a non-negative integer")


# --- the last resort ---------------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_writes_nothing(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: errors that are not asktell's gave a traceback with exit 1. A bug now gives exit 70,
    one line that says so, and no file written (the write is the last step)."""
    from asktell.loops.random import Sobol

    def broken_ask(self: object, state: object, n: int = 1) -> None:
        raise RuntimeError("a bug in a loop")

    monkeypatch.setattr(Sobol, "ask", broken_ask)
    before, listing = run.read_bytes(), files(run.parent)
    monkeypatch.delenv("ASKTELL_DEBUG", raising=False)
    assert main(["ask", "--state", str(run)]) == cli.EXIT_INTERNAL == 70
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (line,) = captured.err.splitlines()
    assert line.startswith("asktell: internal error: RuntimeError: a bug in a loop")
    assert "no file was written" in line and "report it" in line and "ASKTELL_DEBUG=1" in line
    assert run.read_bytes() == before and files(run.parent) == listing

    monkeypatch.setenv("ASKTELL_DEBUG", "1")
    assert main(["ask", "--state", str(run)]) == 70
    assert "Traceback" in capsys.readouterr().err
    assert run.read_bytes() == before


def test_the_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status: 0 done; 2 refused" in out and "70 internal error" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"asktell {asktell.__version__}"


class _BrokenPipe:
    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_lost_output_after_the_save_is_not_called_a_refusal(
    run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A closed stdout after the state was saved gave exit 2 ("refused, nothing changed") though
    the trial was on file; now exit 1 and a message that says the state was saved."""
    monkeypatch.setattr(sys, "stdout", _BrokenPipe())
    assert main(["ask", "--state", str(run)]) == 1
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.startswith("asktell: error: the state file was saved, but its output could not be")
    assert "Broken pipe" in err
    assert len(asktell.load(run.read_text())[1].trials) == 3  # the asked trial is on file, pending


def test_a_closed_stdout(run: Path) -> None:
    """``asktell tell ... >&-``: Python's sys.stdout is None; that was an AttributeError."""
    done = subprocess.run(
        [sys.executable, "-m", "asktell.cli", "tell", "--state", str(run), "--trial", "1", "--value", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("asktell: error: the state file was saved")
    assert asktell.load(run.read_text())[1].trials[1].value == 2.0


# --- files ---------------------------------------------------------------------------------------------


def test_a_symlinked_state_file_is_replaced_through_its_link(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue: ``ask --state link.json`` replaced the link by a regular file; the target kept the old
    state and workers using the other path diverged."""
    elsewhere = tmp_path / "links"
    elsewhere.mkdir()
    link = elsewhere / "link.json"
    link.symlink_to(os.path.relpath(run, elsewhere))
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def watched(src: str, dst: str) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(statefile.os, "replace", watched)
    assert main(["ask", "--state", str(link)]) == 0
    assert main(["tell", "--state", str(link), "--trial", "2", "--value", "3"]) == 0
    monkeypatch.undo()
    assert link.is_symlink() and link.resolve() == run.resolve()
    assert [t.id for t in asktell.load(run.read_text())[1].trials] == [0, 1, 2]
    assert all(src.parent == run.parent and dst == run.resolve() for src, dst in renames)
    assert files(elsewhere) == ["link.json"]
    assert main(["ask", "--state", str(run)]) == 0  # the other path sees the same run
    capsys.readouterr()
    assert main(["show", "--state", str(link), "--json"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)] == [0, 1, 2, 3]


def test_init_through_a_dangling_link_creates_its_target(tmp_path: Path, space_file: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to("target.json")
    assert main(["init", "--loop", "sobol", "--space", str(space_file), "--state", str(link)]) == 0
    assert link.is_symlink() and (tmp_path / "target.json").is_file()
    assert (
        main(["init", "--loop", "random", "--space", str(space_file), "--state", str(link), "--force"]) == 0
    )
    assert link.is_symlink() and asktell.load(link.read_text())[1].loop_name == "random"


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from asktell import cli
    os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)  # killed before the rename
    cli.main(["ask", "--state", sys.argv[1]])
    """
)


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(run: Path) -> None:
    """Issue: a writer killed mid-write left a partial ``.tmp`` file that stayed forever."""
    before = run.read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(run)], capture_output=True, timeout=300, check=False
    )
    assert done.returncode == -signal.SIGKILL
    (stale,) = [name for name in files(run.parent) if name.endswith(".tmp")]
    assert stale.startswith(".run.json.") and run.read_bytes() == before
    other = run.parent / ".other.json.0123456789ab.tmp"  # another state file's: not ours to remove
    other.write_text("{")
    assert main(["tell", "--state", str(run), "--trial", "1", "--value", "1"]) == 0
    assert files(run.parent) == [other.name, "run.json", "space.json"]


@pytest.mark.skipif(statefile.fcntl is None, reason="no flock on this platform")
def test_a_live_writers_temporary_file_is_left_alone(run: Path) -> None:
    """A temporary file whose lock is held belongs to a writer still at work."""
    live = run.parent / ".run.json.00000000abcd.tmp"
    fd = os.open(live, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        statefile.fcntl.flock(fd, statefile.fcntl.LOCK_EX)
        assert main(["tell", "--state", str(run), "--trial", "1", "--value", "1"]) == 0
        assert live.exists()
    finally:
        os.close(fd)
    assert main(["ask", "--state", str(run)]) == 0  # unlocked now: a dead writer's
    assert files(run.parent) == ["run.json", "space.json"]


def _limit_memory() -> None:  # a child that reads /dev/zero runs out of memory soon, not the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "directory"])
@pytest.mark.parametrize("command", [["show"], ["tell", "--trial", "0", "--value", "1"]])
def test_a_state_path_that_is_not_a_regular_file(tmp_path: Path, kind: str, command: list[str]) -> None:
    """Issue: a state path that was ``/dev/zero`` was read until killed (a FIFO: waited forever)."""
    if kind == "/dev/zero":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "run.json"
        os.mkfifo(path) if kind == "fifo" else path.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "asktell.cli", command[0], "--state", str(path), *command[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        preexec_fn=_limit_memory,
    )  # the timeout only guards the suite against a regression that reads forever
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"asktell: error: state file {str(path)!r} is ")
    assert "not a regular file" in done.stderr
    assert files(tmp_path) == ([] if kind == "/dev/zero" else ["run.json"])


def test_a_state_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "run.json"
    with state.open("wb") as handle:
        handle.truncate(statefile.MAX_STATE_BYTES + 1)  # sparse: no disk used
    for argv in (["show"], ["ask"], ["tell", "--trial", "0", "--value", "1"]):
        refused([argv[0], "--state", str(state), *argv[1:]], capsys, "over the limit of 268435456")
    assert files(tmp_path) == ["run.json"] and state.stat().st_size == statefile.MAX_STATE_BYTES + 1


def test_init_never_replaces_a_file_another_command_created(
    tmp_path: Path, space_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two ``init`` commands both saw no file and the second replaced the first's run; now the
    file is created with a hard link, which fails when the name exists by then."""
    state = tmp_path / "run.json"
    real_remove = statefile._remove_stale_temps

    def meanwhile(target: Path) -> None:  # another init creates the file after our check
        if not state.exists():
            state.write_text("another run")
        real_remove(target)

    monkeypatch.setattr(statefile, "_remove_stale_temps", meanwhile)
    refused(
        ["init", "--space", str(space_file), "--state", str(state)],
        capsys,
        "was created meanwhile by another command",
    )
    assert state.read_text() == "another run" and files(tmp_path) == ["run.json", "space.json"]
