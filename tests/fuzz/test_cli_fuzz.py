"""Fuzzing the ``asktell`` command in process (issue 14): hostile option values into ``main([...])``.

The properties, whatever the input:

- the exit status is 0 or 2 (never a traceback, never the internal error 70);
- a refusal (2) says ``asktell: error: ...`` on stderr, prints nothing on stdout, and leaves the
  state file byte-for-byte as it was, with no file added or removed beside it;
- after an accepted command (0) the run is still readable (``show``, ``show --json``, and
  ``asktell.load``) and askable.

One of the runs is constrained (``mem <= 4``, ``recall >= 0.9``; issue 15): ``tell`` and ``add``
get ``--constraint NAME=VALUE`` options, well-formed or hostile, on every run.

Each property runs a bounded number of examples in ``make test`` (the ``default`` case, about a
second each) and many more in ``make test-all`` (the ``long`` case, marked ``slow``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz.strategies import (
    ascii_number_texts,
    constraint_texts,
    deep_json_texts,
    huge_integers,
    huge_number_texts,
    json_texts,
    non_ascii_digits,
    number_texts,
    odd_strings,
    outcome_names,
    plain_json,
    python_only_number_texts,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asktell
from asktell.cli import main

SPACE = {
    "x": {"type": "real", "low": -1.0, "high": 1.0},
    "k": {"type": "integer", "low": 1, "high": 5},
    "c": {"type": "categorical", "choices": ["a", "b", None]},
}
# (loop, objectives): the loops whose ask is cheap (no model), one and two objectives, and a
# constrained Sobol run ("sobol-constrained")
RUNS = [("sobol", 1), ("random", 2), ("sobol-constrained", 1)]
DECLARED = ["--constraint", "mem <= 4", "--constraint", "recall >= 0.9"]
OUTCOMES = ["--constraint", "mem=3", "--constraint", "recall=0.95"]
BUDGETS = [
    pytest.param(40, id="default"),
    pytest.param(1_000, id="long", marks=pytest.mark.slow),
]


def _settings(budget: int) -> settings:
    return settings(
        max_examples=budget,
        deadline=None,  # a shared machine: no timing
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize=budget <= 40,  # the bounded run is the same every time; the long one explores
    )


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, int], bytes]:
    """A state file per run in ``RUNS``: five trials asked, trial 0 completed, 1 failed, 2-4
    pending."""
    directory = tmp_path_factory.mktemp("templates")
    (directory / "space.json").write_text(json.dumps(SPACE))
    made = {}
    for loop, objectives in RUNS:
        state = directory / f"{loop}.json"
        value = "0.5" if objectives == 1 else "[0.5, 1.5]"
        constrained = loop.endswith("-constrained")
        for argv in (
            [
                "init",
                *(DECLARED if constrained else []),
                "--loop",
                loop.removesuffix("-constrained"),
                "--space",
                str(directory / "space.json"),
                "--state",
                str(state),
                "--objectives",
                str(objectives),
                "--seed",
                "7",
            ],
            ["ask", "--state", str(state), "--n", "5"],
            [
                "tell",
                "--state",
                str(state),
                "--trial",
                "0",
                "--value",
                value,
                *(OUTCOMES if constrained else []),
            ],
            ["tell", "--state", str(state), "--trial", "1", "--failed"],
        ):
            assert run_cli(argv)[0] == 0, argv
        made[(loop, objectives)] = state.read_bytes()
    return made


@contextlib.contextmanager
def workdir(base: Path) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(dir=base) as name:
        path = Path(name)
        (path / "space.json").write_text(json.dumps(SPACE))
        yield path


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def check_outcome(argv: list[str], state: Path, before: bytes | None) -> int:
    """Run ``argv`` and hold it to the properties of the module docstring; returns the status."""
    names = listing(state.parent)
    code, out, err = run_cli(argv)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("asktell: error: "), (argv, err)
        assert out == "", (argv, out)
        if before is None:
            assert not state.exists(), argv
        else:
            assert state.read_bytes() == before, argv
        assert listing(state.parent) == names, argv
        return code
    if "--help" in argv or "-h" in argv:
        return code
    assert_usable(state)
    return code


def assert_usable(state: Path) -> None:
    """The run can be shown, read, asked and shown again."""
    code, out, err = run_cli(["show", "--state", str(state)])
    assert code == 0 and out.startswith(f"{state}: loop "), err
    code, out, err = run_cli(["show", "--state", str(state), "--json"])
    assert code == 0, err
    trials = json.loads(out)
    _, loaded = asktell.load(state.read_bytes())
    assert [t["id"] for t in trials] == [t.id for t in loaded.trials]
    code, out, err = run_cli(["ask", "--state", str(state)])
    assert code == 0, err
    (line,) = out.splitlines()
    assert json.loads(line)["id"] == len(trials)
    assert run_cli(["show", "--state", str(state), "--json"])[0] == 0
    assert not [n for n in listing(state.parent) if n.endswith(".tmp")]


# --- what the options are given ------------------------------------------------------------------


def mostly(good: st.SearchStrategy, odd: st.SearchStrategy, share: int = 6) -> st.SearchStrategy:
    """``good`` ``share`` times in 10, else ``odd``: enough accepted commands to test what follows
    one, enough hostile ones to test the refusals."""
    return st.integers(0, 9).flatmap(lambda i: good if i < share else odd)


trial_ids = mostly(
    st.sampled_from(["2", "3", "4"]),  # the pending trials
    st.one_of(
        st.integers(-3, 8).map(str),
        number_texts,
        python_only_number_texts,
        st.sampled_from(["1" + "0" * 19, "1" + "0" * 25, "9223372036854775808", "-0", "+2", "0x1"]),
    ),
)
values = mostly(
    st.one_of(ascii_number_texts, st.just("[1.5, -2]")),
    st.one_of(
        number_texts,
        st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=3).map(json.dumps),
        json_texts,
        odd_strings,
        st.lists(number_texts, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    ),
    share=4,
)
metadata = st.one_of(
    st.dictionaries(st.text(max_size=5), plain_json, max_size=3).map(json.dumps),
    json_texts,
    deep_json_texts().map(lambda text: '{"a": ' + text + "}"),
    odd_strings,
)
param_values = st.one_of(
    st.floats(min_value=-1, max_value=1).map(repr),
    st.integers(0, 6).map(str),
    st.sampled_from(['"a"', '"b"', "null", "true", '"x"', "[]", "{}", "1.0", "2.5"]),
    number_texts,
    huge_number_texts,
    json_texts,
)


@st.composite
def params_texts(draw: st.DrawFn) -> str:
    """``--params``: the space's names (sometimes one missing, extra or twice) with odd values."""
    if draw(st.integers(0, 9)) < 7:
        good = {
            "x": st.floats(-1, 1).map(repr),
            "k": st.integers(1, 5).map(str),
            "c": st.sampled_from(['"a"', '"b"', "null"]),
        }
        body = ", ".join(f'"{n}": {draw(mostly(v, param_values))}' for n, v in good.items())
    else:
        names = draw(st.lists(st.sampled_from(["x", "k", "c", "z", ""]), max_size=5))
        body = ", ".join(f"{json.dumps(n)}: {draw(param_values)}" for n in names)
    return draw(mostly(st.just("{" + body + "}"), st.one_of(json_texts, odd_strings), share=8))


counts = st.one_of(
    st.integers(-2, 4).map(str),
    number_texts,
    python_only_number_texts,
    st.sampled_from(["10000", "10001", "1000000000000", "1" + "0" * 21]),
)


outcome_values = mostly(ascii_number_texts, st.one_of(number_texts, json_texts, odd_strings), share=7)


@st.composite
def constraint_options(draw: st.DrawFn) -> list[str]:
    """``--constraint NAME=VALUE`` options: none (half the time), the constrained run's two with
    good or hostile values, or names and forms drawn at random (unknown, twice, no '=')."""
    kind = draw(st.integers(0, 9))
    if kind < 5:
        return []
    if kind < 8:
        pairs = [("mem", draw(outcome_values)), ("recall", draw(outcome_values))]
        items = [f"{n}={v}" for n, v in draw(st.permutations(pairs))]
    else:
        items = draw(
            st.lists(
                st.one_of(
                    st.tuples(outcome_names, outcome_values).map(lambda t: f"{t[0]}={t[1]}"),
                    constraint_texts,
                ),
                max_size=4,
            )
        )
    return [token for item in items for token in ("--constraint", item)]


@st.composite
def tell_argv(draw: st.DrawFn) -> list[str]:
    argv = ["tell", "--trial", draw(trial_ids)]
    argv += ["--failed"] if draw(st.integers(0, 4)) == 0 else ["--value", draw(values)]
    argv += draw(constraint_options())
    if draw(st.booleans()):
        argv += ["--metadata", draw(metadata)]
    return argv


@st.composite
def add_argv(draw: st.DrawFn) -> list[str]:
    argv = ["add", "--params", draw(params_texts())]
    argv += ["--failed"] if draw(st.integers(0, 4)) == 0 else ["--value", draw(values)]
    argv += draw(constraint_options())
    if draw(st.booleans()):
        argv += ["--metadata", draw(metadata)]
    return argv


# Options that do not belong, in odd forms: argparse's side of the door.
stray = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "--n",
                "--trial",
                "--value",
                "--failed",
                "--metadata",
                "--params",
                "--json",
                "--constraint",
                "--constraint=",
                "--state",
                "--url",
                "--study",
                "--seed",
                "--",
                "-",
                "-n",
                "--val",
                "--valu=1",
                "--n=",
                "--state=",
            ]
        ),
        odd_strings,
        number_texts,
    ),
    max_size=3,
)


@st.composite
def any_argv(draw: st.DrawFn) -> list[str]:
    """One command of the state file, its options hostile, sometimes with stray tokens."""
    kind = draw(st.sampled_from(["tell", "add", "ask", "show"]))
    if kind == "tell":
        argv = draw(tell_argv())
    elif kind == "add":
        argv = draw(add_argv())
    elif kind == "ask":
        argv = ["ask", "--n", draw(counts)]
    else:
        argv = ["show", *draw(st.sampled_from([[], ["--json"]]))]
    if draw(st.integers(0, 9)) == 0:
        argv += draw(stray)
    return argv


# --- the properties -------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("run", RUNS, ids=[f"{loop}-{n}" for loop, n in RUNS])
def test_a_command_is_done_or_refused_cleanly(
    budget: int, run: tuple[str, int], templates: dict[tuple[str, int], bytes], tmp_path: Path
) -> None:
    @_settings(budget)
    @given(argv=any_argv())
    def check(argv: list[str]) -> None:
        with workdir(tmp_path) as directory:
            state = directory / "run.json"
            state.write_bytes(templates[run])
            check_outcome([argv[0], "--state", str(state), *argv[1:]], state, templates[run])

    check()


@pytest.mark.parametrize("budget", BUDGETS)
def test_a_sequence_of_commands_keeps_the_run_usable(
    budget: int, templates: dict[tuple[str, int], bytes], tmp_path: Path
) -> None:
    """Several hostile commands on one file: each is done or refused on the file as it is then."""

    @_settings(max(budget // 5, 5))
    @given(commands=st.lists(any_argv(), min_size=2, max_size=5))
    def check(commands: list[list[str]]) -> None:
        with workdir(tmp_path) as directory:
            state = directory / "run.json"
            state.write_bytes(templates[("sobol", 1)])
            for argv in commands:
                check_outcome([argv[0], "--state", str(state), *argv[1:]], state, state.read_bytes())

    check()


space_texts = st.one_of(
    st.just(json.dumps(SPACE)),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["real", "integer", "categorical", "REAL", "", "float"]),
            "low": st.one_of(st.integers(-5, 5), huge_integers, st.floats()),
            "high": st.one_of(st.integers(-5, 5), huge_integers, st.floats()),
        }
    ).map(lambda spec: json.dumps({"x": spec}, allow_nan=True)),
    huge_number_texts.map(lambda n: f'{{"x": {{"type": "integer", "low": 0, "high": {n}}}}}'),
    deep_json_texts().map(lambda text: '{"x": ' + text + "}"),
    json_texts,
)
seeds = st.one_of(
    st.integers(0, 3).map(str),
    number_texts,
    python_only_number_texts,
    st.sampled_from(["9223372036854775807", "9223372036854775808", "-1"]),
)


@st.composite
def init_argv(draw: st.DrawFn) -> tuple[list[str], str]:
    loop = draw(st.one_of(st.sampled_from(["sobol", "random"]), odd_strings))
    argv = ["init", "--loop", loop, "--seed", draw(seeds)]
    if draw(st.booleans()):
        argv += ["--objectives", draw(st.one_of(st.sampled_from(["1", "2"]), counts))]
    if draw(st.booleans()):
        argv += ["--config", draw(st.one_of(st.just("{}"), json_texts))]
    if draw(st.booleans()):
        declared = st.sampled_from(["mem <= 4", "recall >= 0.9", "mem >= -1e-05"])
        for text in draw(st.lists(mostly(declared, constraint_texts), min_size=1, max_size=3)):
            argv += ["--constraint", text]
    return argv, draw(space_texts)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("existing", [False, True], ids=["new file", "--force over a run"])
def test_init_is_done_or_refused_cleanly(
    budget: int, existing: bool, templates: dict[tuple[str, int], bytes], tmp_path: Path
) -> None:
    @_settings(budget)
    @given(command=init_argv())
    def check(command: tuple[list[str], str]) -> None:
        argv, space_text = command
        with workdir(tmp_path) as directory:
            space = directory / "space.json"
            space.write_text(space_text, errors="surrogatepass")
            state = directory / "run.json"
            before = None
            if existing:
                state.write_bytes(templates[("sobol", 1)])
                before = templates[("sobol", 1)]
                argv = [*argv, "--force"]
            check_outcome([*argv, "--space", str(space), "--state", str(state)], state, before)

    check()


@pytest.mark.parametrize("budget", BUDGETS)
def test_non_ascii_digits_are_never_numbers(
    budget: int, templates: dict[tuple[str, int], bytes], tmp_path: Path
) -> None:
    """Digits of any script but ASCII, in any number option, are refused (never read as digits)."""

    @_settings(budget)
    @given(
        digits=st.lists(non_ascii_digits, min_size=1, max_size=3).map("".join),
        where=st.sampled_from(["--value", "--trial", "--n", "--constraint"]),
    )
    def check(digits: str, where: str) -> None:
        run = ("sobol-constrained", 1)
        with workdir(tmp_path) as directory:
            state = directory / "run.json"
            state.write_bytes(templates[run])
            argv = {
                "--value": ["tell", "--trial", "2", "--value", digits, *OUTCOMES],
                "--trial": ["tell", "--trial", digits, "--value", "1", *OUTCOMES],
                "--n": ["ask", "--n", digits],
                "--constraint": ["tell", "--trial", "2", "--value", "1", "--constraint", f"mem={digits}"]
                + OUTCOMES[2:],
            }[where]
            code = check_outcome([argv[0], "--state", str(state), *argv[1:]], state, templates[run])
            assert code == 2

    check()
