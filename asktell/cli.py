"""The ``asktell`` command: a run kept in a JSON state file, for evaluators written in any language.

::

    asktell init --loop sobol --space space.json --state run.json --seed 0
    asktell ask  --state run.json --n 4       # one JSON line per trial: {"id": 0, "params": {...}}
    asktell init --loop sobol --objectives 2 [--ref-point 1.0,2.0] ...   # several objectives
    asktell init --loop sobol --constraint "mem <= 4" ...    # outcome constraints (repeatable)
    asktell tell --state run.json --trial 0 --value 0.42     # or --failed
    asktell tell --state run.json --trial 1 --value 0.4 --constraint mem=3.2   # each outcome's value
    asktell tell --state run.json --trial 2 --value 0.3,1.2  # one number per objective (or [0.3, 1.2])
    asktell add  --state run.json --params '{"x": 0.5}' --value 0.37   # a point not asked for
    asktell show --state run.json [--json]     # several objectives: the Pareto front, the hypervolume
    asktell demo [--budget 25] [--seed 0]
    asktell serve --db sqlite:///runs.db --port 8080 --token T   # the HTTP service (asktell.service)
    asktell ask  --url http://127.0.0.1:8080 --study NAME        # ask/tell/add/show a server's study
    asktell federate --algorithm fzoos --dim 20 --clients 3 --rounds 3   # a federation, in process

This module holds :func:`main`, its handlers (the exit statuses below) and the subcommands. A
command that changes a state file reads it under a lock and replaces it atomically before it
prints: :mod:`asktell.statefile` (the state and space files, their limits, the lock and the
write). What options accept, ASCII numbers and strict JSON: :mod:`asktell.cli_options`.

Exit status:

- ``0``: done.
- ``2``: refused (bad input, a missing or unreadable file, a usage error): ``asktell: error:
  <message>`` on stderr, and the state file is byte-for-byte as it was.
- ``1``: done and saved, but the output could not be written (stdout closed): the message says so.
- ``70`` (``EX_SOFTWARE``): an internal error, a bug in asktell: one line on stderr saying so and
  whether anything was written (nothing, unless the failure came after the save; set
  ``ASKTELL_DEBUG=1`` for the traceback), to be reported with the command line.
- ``130``: interrupted.

Adding a subcommand is one function: decorate ``define(parser) -> run`` with :func:`subcommand`;
``define`` adds the options to the parser it is given and returns ``run(args) -> int``. Raise an
:class:`~asktell.errors.AskTellError` (or :class:`~asktell.errors.CommandError`) to refuse with a
message.

Speed: a shell evaluator runs ``tell`` once per trial, so ``tell``, ``add`` and ``show`` import no
torch and no loop: they read, check and write the state with the data layer alone. Two exceptions
load the loop: a loop with a tell hook of its own (a federated client), and a problem the loop
cannot serve (to refuse it with the loop's words). The loop's configuration is checked by the
next ``ask``, which loads the loop; ``ask`` imports the one loop it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from asktell import __version__
from asktell.api import load
from asktell.checks import check_positive
from asktell.cli_options import (
    EXIT_REFUSED,
    PROG,
    OptionParser,
    Outcome,
    brief_repr,
    check_value_count,
    file_path,
    join_negative_numbers,
    json_limits,
    json_option,
    one_line,
    outcome,
    outcome_options,
    parse_numbers,
    state_option,
    state_or_url_options,
    trial_line,
    truncate,
)
from asktell.errors import (
    AskTellError,
    CommandError,
    ConfigError,
    ParamError,
    SpaceError,
    StateError,
    TrialError,
)
from asktell.pareto import reference_trials
from asktell.registry import (
    DEFAULT_LOOP,
    FEDERATED,
    loop_class,
    registered_loops,
    tells_with_data_only,
)
from asktell.space import Real, Space
from asktell.state import COMPLETED, FAILED, State, append_trial, finish_trial, reference_point_wait
from asktell.statefile import (
    locked_state_file,
    read_state_file,
    read_text,
    saved_state_file,
    state_bytes,
    write_atomic,
)

EXIT_OK, EXIT_OUTPUT_LOST, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 70, 130  # EXIT_REFUSED, 2: cli_options
MAX_FEDERATE_DIM = 1_000  # `federate --dim`: the demo's problem holds clients x dim numbers
MAX_FEDERATE_CLIENTS = 1_000

EPILOG = """\
exit status: 0 done; 2 refused (asktell: error: ..., the state file unchanged);
1 done and saved, but the output could not be written; 70 internal error (a bug in
asktell: please report it with the command line; ASKTELL_DEBUG=1 shows the traceback);
130 interrupted. Numbers in options are ASCII digits; a state file is a regular file of
at most 256 MiB; a symlinked state file is replaced through its link."""

Run = Callable[[argparse.Namespace], int]
Define = Callable[[argparse.ArgumentParser], Run]
_SUBCOMMANDS: dict[str, tuple[str, Define]] = {}


def subcommand(name: str, help: str) -> Callable[[Define], Define]:
    """Register a subcommand: ``define(parser)`` adds its options, returns ``run(args) -> int``."""

    def decorate(define: Define) -> Define:
        if name in _SUBCOMMANDS:
            raise ConfigError(f"subcommand {name!r} is already defined.")
        _SUBCOMMANDS[name] = (help, define)
        return define

    return decorate


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = OptionParser(
        prog=PROG,
        description="Stateless ask/tell optimization of expensive black boxes.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, define) in _SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=define(sub))
    return parser


# --- main and its handlers ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asktell`` command line; returns the exit status (see the module docstring: 0
    done, 2 refused, 1 saved but the output lost, 70 internal error, 130 interrupted)."""
    token = saved_state_file.set(None)
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        saved_state_file.reset(token)


def _main(argv: list[str]) -> int:
    try:
        try:
            args = build_parser().parse_args(join_negative_numbers(argv))
        except SystemExit as exc:  # --help (0) or a usage error (2); the parser has printed it
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        return int(args.run(args))
    except AskTellError as exc:
        return _refuse(exc)
    except _OutputLost as exc:
        return _output_lost(exc)
    except OSError as exc:  # an I/O failure not already worded by a helper
        return _refuse(exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted{_saved_note()}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last resort: a bug, said in one line
        return _internal_error(exc)


def _saved_note() -> str:
    saved = saved_state_file.get()
    return "" if saved is None else f" (the state file {saved!r} was saved before this happened)"


def _refuse(exc: BaseException) -> int:
    print(f"{PROG}: error: {one_line(str(exc))}{_saved_note()}", file=sys.stderr)
    return EXIT_REFUSED


def _internal_error(exc: Exception) -> int:
    if os.environ.get("ASKTELL_DEBUG"):
        traceback.print_exception(exc)
    saved = saved_state_file.get()
    written = "no file was written" if saved is None else f"the state file {saved!r} was saved before it"
    print(
        f"{PROG}: internal error: {type(exc).__name__}: {one_line(truncate(str(exc), 300))} -- an "
        f"unexpected failure in asktell {__version__}, {written}; please report it with the "
        "command line that caused it (ASKTELL_DEBUG=1 prints the traceback).",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


class _OutputLost(Exception):
    """Writing a command's output failed (after its state was saved)."""


def _output_lost(exc: _OutputLost) -> int:
    real = sys.__stdout__
    if real is not None and sys.stdout is real:  # so the interpreter's exit flush does not fail too
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), real.fileno())
    done = "the state file was saved" if saved_state_file.get() is not None else "the command was done"
    print(f"{PROG}: error: {done}, but its output could not be written: {exc}.", file=sys.stderr)
    return EXIT_OUTPUT_LOST


def _emit(text: str) -> None:
    """Print ``text`` (whole lines) on stdout and flush it; characters the stream cannot encode
    (a path's undecodable bytes) are written as backslash escapes rather than fail the command."""
    if not text:
        return
    stream = sys.stdout
    if stream is None:  # started with stdout closed (`asktell ask ... >&-`)
        raise _OutputLost("stdout is closed")
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeError, LookupError):
        with contextlib.suppress(UnicodeError, LookupError):
            text = text.encode(encoding, "backslashreplace").decode(encoding)
    try:
        stream.write(text)
        stream.flush()
    except OSError as exc:
        raise _OutputLost(exc.strerror or str(exc)) from None


# --- init, ask, tell, show ----------------------------------------------------------------------


@subcommand("init", "start a run: write a new state file for a loop and a search space")
def _define_init(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument(
        "--loop",
        metavar="NAME",
        help=f"the loop to run, one of {registered_loops()} (default: {DEFAULT_LOOP})",
    )
    parser.add_argument(
        "--space",
        required=True,
        type=file_path,
        metavar="FILE",
        help='JSON file of parameters, e.g. {"x": {"type": "real", "low": 0, "high": 1}}',
    )
    state_option(parser)
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: 0)")
    parser.add_argument(
        "--objectives",
        type=int,
        default=1,
        metavar="N",
        help="number of objectives, all minimized: --value then takes N numbers, e.g. --value "
        "0.3,1.2 (default: 1)",
    )
    parser.add_argument(
        "--ref-point",
        metavar="X,Y,...",
        help="with several objectives, the reference point of the run's hypervolumes: one number "
        "per objective, e.g. 1.0,2.0 (default: inferred from the first completed trials, then kept)",
    )
    parser.add_argument(
        "--constraint",
        action="append",
        metavar="'NAME <= BOUND'",
        help="an outcome constraint, e.g. 'mem <= 4' or 'recall >= 0.9' (repeatable): every "
        "completed tell then gives each outcome's value with --constraint NAME=VALUE, and the best "
        "trial is the best feasible one",
    )
    parser.add_argument("--config", metavar="JSON", help="the loop's options as a JSON object (default: {})")
    parser.add_argument("--force", action="store_true", help="overwrite an existing state file")
    return _init


def _exists_refusal(path: Path) -> CommandError:
    return CommandError(
        f"state file {str(path)!r} already exists; pass --force to overwrite it, or choose another --state."
    )


def _init(args: argparse.Namespace) -> int:
    path: Path = args.state
    if os.path.exists(path) and not args.force:
        raise _exists_refusal(path)
    config = (
        {}
        if args.config is None
        else json_option(args.config, "--config", ConfigError, 'an object like {"n_init": 8}')
    )
    ref_point = None if args.ref_point is None else parse_numbers(args.ref_point, "--ref-point", ConfigError)
    if isinstance(ref_point, float):
        ref_point = [ref_point]  # one number: the problem says how many it takes
    name = DEFAULT_LOOP if args.loop is None else args.loop
    loop = loop_class(name).from_config(config)
    space_text = read_text(args.space, "space file")
    with json_limits(f"space file {str(args.space)!r}", SpaceError):
        space = Space.from_json(space_text)
    # a reference point only when given: a loop's init need not take one (a federation's)
    reference = {} if ref_point is None else {"ref_point": ref_point}
    state = loop.init(
        space, seed=args.seed, n_objectives=args.objectives, constraints=args.constraint, **reference
    )
    data = state_bytes(state)
    constrained = f", constraints {', '.join(map(str, state.constraints))}" if state.constraints else ""
    objectives = ""
    if state.n_objectives > 1:
        objectives = f", {state.n_objectives} objectives, {_reference_text(state)}"
    out = (
        f"wrote {path}: loop {loop.name!r}, {space.dim} parameters, seed {state.seed}"
        f"{objectives}{constrained}\n"
    )
    if os.path.exists(path):  # --force: replace it under the lock every writer takes
        with locked_state_file(path, read=False):
            write_atomic(path, data)
    else:  # created, never replaced: unless --force, a file made meanwhile is refused
        write_atomic(path, data, replace=args.force)
    _emit(out)
    return 0


@subcommand("ask", 'ask for new trials: prints one JSON line {"id", "params"} per trial')
def _define_ask(parser: argparse.ArgumentParser) -> Run:
    state_or_url_options(parser)
    parser.add_argument("--n", type=int, default=1, help="number of trials to ask for (default: 1)")
    return _ask


def _load(text: bytes, path: Path) -> tuple[Any, State]:
    with json_limits(f"state file {str(path)!r}", StateError):
        return load(text)


def _read_state(text: bytes, path: Path) -> State:
    with json_limits(f"state file {str(path)!r}", StateError):
        return State.from_json(text)


def _ask(args: argparse.Namespace) -> int:
    if args.url is not None:
        from asktell.service.commands import remote_ask

        return remote_ask(args)
    with locked_state_file(args.state) as text:
        loop, state = _load(text, args.state)
        state, trials = loop.ask(state, n=args.n)
        out = "".join(json.dumps({"id": t.id, "params": t.params}, allow_nan=False) + "\n" for t in trials)
        write_atomic(args.state, state_bytes(state))
    _emit(out)  # only once the state is saved: a trial an evaluator sees is always on file
    return 0


def _check_outcome_options(state: State, told: Outcome) -> None:
    """Refuse, in the shell's words, the two slips a shell evaluator makes: no ``--constraint`` for
    a constrained run's completed trial, and ``--constraint`` for a run that declares none. (Which
    names are missing or unknown is the data layer's to say.)"""
    if told.status != COMPLETED:
        return
    names = state.problem.outcome_names
    if names and told.constraints is None:
        options = " ".join(f"--constraint {n}=VALUE" for n in names[:5]) + (" ..." if len(names) > 5 else "")
        listed = ", ".join(map(str, state.constraints))
        raise TrialError(
            f"this run is constrained ({truncate(listed, 300)}): a completed trial gives each "
            f"outcome's measured value, {options}."
        )
    if not names and told.constraints:
        given = truncate(", ".join(told.constraints), 200)
        raise TrialError(
            f"this run declares no constraints, but --constraint gives {given}; "
            "declare them when the run starts (asktell init --constraint 'NAME <= BOUND')."
        )


@subcommand("tell", "report a trial's value (or that its evaluation failed)")
def _define_tell(parser: argparse.ArgumentParser) -> Run:
    state_or_url_options(parser)
    parser.add_argument("--trial", required=True, type=int, metavar="ID", help="the trial's id")
    outcome_options(parser)
    return _tell


def _tell(args: argparse.Namespace) -> int:
    told = outcome(args)
    if args.url is not None:
        from asktell.service.commands import remote_tell

        return remote_tell(args, told)
    options: dict[str, Any] = {
        "status": told.status,
        "metadata": told.metadata,
        "constraints": told.constraints,
    }
    with locked_state_file(args.state) as text:
        state = _read_state(text, args.state)
        _check_outcome_options(state, told)
        if told.status == COMPLETED:
            check_value_count(told.value, state.n_objectives)
        if tells_with_data_only(
            state.loop_name, state.n_objectives, state.problem.constrained
        ):  # the data layer's tell
            state = finish_trial(state, args.trial, told.value, **options)
        else:
            loop, state = _load(text, args.state)
            state = loop.tell(state, args.trial, told.value, **options)
        out = trial_line(state.trial(args.trial))
        write_atomic(args.state, state_bytes(state))
    _emit(out)
    return 0


@subcommand("add", "record an evaluation the loop did not ask for (a known point, an earlier run's)")
def _define_add(parser: argparse.ArgumentParser) -> Run:
    state_or_url_options(parser)
    parser.add_argument(
        "--params", required=True, metavar="JSON", help='the point, e.g. \'{"x": 0.5, "kernel": "rbf"}\''
    )
    outcome_options(parser)
    return _add


def _add(args: argparse.Namespace) -> int:
    params = json_option(args.params, "--params", ParamError, 'an object like {"x": 0.5}')
    if not isinstance(params, dict):
        raise ParamError(f'--params must be a JSON object like {{"x": 0.5}}, got {brief_repr(args.params)}.')
    told = outcome(args)
    if args.url is not None:
        from asktell.service.commands import remote_add

        return remote_add(args, params, told)
    options: dict[str, Any] = {
        "status": told.status,
        "metadata": told.metadata,
        "constraints": told.constraints,
    }
    with locked_state_file(args.state) as text:
        state = _read_state(text, args.state)
        _check_outcome_options(state, told)
        if told.status == COMPLETED:
            check_value_count(told.value, state.n_objectives)
        if tells_with_data_only(state.loop_name, state.n_objectives, state.problem.constrained):
            state = append_trial(state, params, told.value, **options)
        else:
            loop, state = _load(text, args.state)
            state = loop.add(state, params, told.value, **options)
        out = trial_line(state.trials[-1])
        write_atomic(args.state, state_bytes(state))
    _emit(out)
    return 0


@subcommand("show", "print a run's trials as a table (or as JSON) and its best trial or Pareto front")
def _define_show(parser: argparse.ArgumentParser) -> Run:
    state_or_url_options(parser)
    parser.add_argument("--json", action="store_true", help="print the trials as JSON")
    return _show


def _show(args: argparse.Namespace) -> int:
    if args.url is not None:
        from asktell.service.commands import remote_state

        state, where = remote_state(args), f"{args.url} study {args.study!r}"
    else:
        state, where = _read_state(read_state_file(args.state), args.state), str(args.state)
    constrained, several = state.problem.constrained, state.n_objectives > 1
    if args.json:
        # derived, not stored: a constrained run's trials say whether they are feasible, and a run
        # of several objectives whether they are on the Pareto front
        front = {t.id for t in state.pareto_front()} if several else set()
        trials = []
        for t in state.trials:
            data = t.to_dict()
            if constrained:
                data["feasible"] = t.feasible
            if several:
                data["pareto"] = None if t.status != COMPLETED else t.id in front
            trials.append(data)
        _emit(json.dumps(trials, indent=2, allow_nan=False) + "\n")
        return 0
    counts = {s: len(state.with_status(s)) for s in ("completed", "failed", "pending")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [
        f"{where}: loop {state.loop_name!r} {json.dumps(state.loop_config)}, "
        f"seed {state.seed}, {len(state.trials)} trials ({summary})"
    ]
    if several:
        lines.append(f"objectives: {state.n_objectives}, all minimized; {_reference_text(state)}")
    if constrained:
        listed = ", ".join(map(str, state.constraints))
        lines.append(
            f"constraints: {listed}; {len(state.feasible)} of {counts['completed']} completed feasible"
        )
    if state.trials:
        lines.extend(_table(state))
    if several:
        lines.extend(_front_lines(state, counts["completed"]))
    else:
        lines.append(_best_line(state, counts["completed"]))
    _emit("\n".join(lines) + "\n")
    return 0


def _columns(rows: list[list[str]]) -> list[str]:
    """``rows`` (the header first) as aligned text; the last column is left as it is."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]]) for row in rows
    ]


def _table(state: State) -> list[str]:
    """The trials, one row each: id, status, value, (in a constrained run) feasible and each
    outcome's value, then the parameters."""
    names = state.problem.outcome_names
    header = ["id", "status", "value", *(["feasible", *names] if names else []), "params"]
    rows = [header]
    for t in state.trials:
        cells = [str(t.id), t.status, _format_value(t.value)]
        if names:
            feasible = {True: "yes", False: "no", None: "-"}[t.feasible]
            outcomes = t.constraints or {}
            cells += [feasible, *(_format_value(outcomes.get(n)) for n in names)]
        rows.append([*cells, _format_params(t.params)])
    return _columns(rows)


def _best_line(state: State, completed: int) -> str:
    best = state.best()
    if best is not None:
        outcomes = f", outcomes {json.dumps(best.constraints)}" if best.constraints is not None else ""
        params = json.dumps(best.params)
        return f"best: trial {best.id}, value {_format_value(best.value)}{outcomes}, params {params}"
    if state.problem.constrained:
        why = f"{completed} completed, none keeps every constraint" if completed else "no completed trial"
        return f"best: no feasible trial yet ({why})"
    return "best: none yet (no completed trial)"


def _reference_text(state: State) -> str:
    """Where a run of several objectives has its hypervolumes' reference point from, or when it
    will have one."""
    needed = reference_trials(state.space.dim)
    point = state.ref_point
    if point is None:
        so_far = len(state.completed)
        return (
            f"no reference point yet: {reference_point_wait(state)} ({so_far} so far), "
            "or given at init with --ref-point"
        )
    first = f"the first {needed} completed trials"
    how = (
        ("inferred from the feasible ones of " if state.problem.constrained else "inferred from ") + first
        if state.problem.ref_point_inferred
        else "given at init"
    )
    return f"reference point {_format_value(point)}, {how}"


def _front_lines(state: State, completed: int) -> list[str]:
    """A run of several objectives: its Pareto front (id, each objective's value, the
    parameters) and its hypervolume with the reference point."""
    front = state.pareto_front()
    if front:
        among = "feasible completed" if state.problem.constrained else "completed"
        lines = [f"pareto front: {len(front)} of {len(state.feasible)} {among} trials are non-dominated"]
        header = ["id", *(f"objective {i + 1}" for i in range(state.n_objectives)), "params"]
        rows = [header]
        for t in front:
            values = t.value if isinstance(t.value, tuple) else (t.value,)
            rows.append([str(t.id), *(_format_number(v) for v in values), _format_params(t.params)])
        lines.extend("  " + line for line in _columns(rows))
    elif state.problem.constrained and completed:
        lines = [
            f"pareto front: none yet (no feasible trial: {completed} completed, none keeps every constraint)"
        ]
    else:
        lines = ["pareto front: none yet (no completed trial)"]
    if state.ref_point is None:
        lines.append(f"hypervolume: none yet; {_reference_text(state)}")
    else:
        lines.append(f"hypervolume: {_format_number(state.hypervolume())}, {_reference_text(state)}")
    return lines


def _format_number(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, float) else json.dumps(x)


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_format_number(v) for v in value) + "]"
    return _format_number(value)


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_format_number(v)}" for name, v in params.items())


# --- demo ---------------------------------------------------------------------------------------


@subcommand("demo", "minimize the Branin function with the recommended loop and print the result")
def _define_demo(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument("--budget", type=int, default=25, help="evaluations (default: 25)")
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: 0)")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    return _demo


def _demo(args: argparse.Namespace) -> int:
    from asktell.api import minimize
    from asktell.loops import default_loop
    from asktell.problems import BRANIN_MINIMUM, BRANIN_SPACE, branin

    loop = default_loop()
    print(
        f"Branin on x1 in [-5, 10], x2 in [0, 15] (global minimum {BRANIN_MINIMUM:.6f}): "
        f"loop {loop.name!r}, budget {args.budget}, seed {args.seed}"
    )
    start = time.perf_counter()
    result = minimize(
        branin, BRANIN_SPACE, loop=loop, budget=args.budget, seed=args.seed, progress=args.progress
    )
    seconds = time.perf_counter() - start
    failed = len(result.state.with_status(FAILED))
    if result.best is None:
        print("best value:  none (no completed trial)")
    else:
        print(f"best value:  {result.best_value:.6f}")
        print(f"best params: {json.dumps(result.best_params)}")
        print(f"regret:      {result.best_value - BRANIN_MINIMUM:.6f}")
    print(f"trials:      {len(result.trials)} ({failed} failed) in {seconds:.1f} s")
    return 0


# --- serve (asktell.service) --------------------------------------------------------------------


@subcommand("serve", "run the HTTP ask/tell service on a database (needs the service extra)")
def _define_serve(parser: argparse.ArgumentParser) -> Run:
    from asktell.service.commands import define_serve

    return define_serve(parser)


# --- federate (asktell.loops.federated; --engine flower-sim needs the federated extra) ----------


@subcommand("federate", "run a federation on a test problem, in process or on Flower's simulation runtime")
def _define_federate(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument(
        "--engine",
        choices=("inprocess", "flower-sim"),
        default="inprocess",
        help="in-process runner, or Flower's simulation runtime (needs the federated extra)",
    )
    parser.add_argument("--algorithm", choices=registered_loops(FEDERATED), default="fzoos")
    parser.add_argument("--problem", choices=("quadratic",), default="quadratic")
    parser.add_argument("--dim", type=int, default=20, help="parameters (default: 20)")
    parser.add_argument("--clients", type=int, default=3, help="clients (default: 3)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="the federation's seed (default: 0)")
    parser.add_argument("--config", metavar="JSON", help="the algorithm's options as a JSON object")
    return _federate


def _federate(args: argparse.Namespace) -> int:
    from asktell.loops import federated
    from asktell.loops.base import check_seed
    from asktell.problems import federated_quadratic

    for name in ("dim", "clients", "rounds"):
        check_positive(f"--{name}", getattr(args, name), integer=True)
    for name, most in (("dim", MAX_FEDERATE_DIM), ("clients", MAX_FEDERATE_CLIENTS)):
        if getattr(args, name) > most:  # the problem holds clients x dim numbers
            raise ConfigError(f"--{name} must be at most {most}, got {getattr(args, name)}.")
    check_seed(args.seed)  # before the problem draws its clients from it
    config = (
        {}
        if args.config is None
        else json_option(args.config, "--config", ConfigError, 'an object like {"n_features": 300}')
    )
    fed = loop_class(args.algorithm).from_config(config)
    space = Space({f"x{j}": Real(-2.0, 2.0) for j in range(args.dim)})
    clients = federated_quadratic(args.clients, args.dim, seed=args.seed)
    print(
        f"{fed.name} on the federated quadratic: d = {args.dim}, {args.clients} clients, "
        f"{args.rounds} rounds, seed {args.seed}, engine {args.engine}"
    )
    if args.engine == "flower-sim":
        try:
            from asktell.integrations.flower import run_simulation
        except ImportError as exc:
            raise CommandError(f"{exc} (--engine flower-sim)") from None
        records = run_simulation(fed, space, clients, args.rounds, seed=args.seed)
    else:
        records = federated.simulate(fed, space, clients, args.rounds, seed=args.seed).records
    header = ("round", "F", "queries", "bytes_up", "bytes_down", "seconds")
    print("  ".join(f"{h:>{w}}" for h, w in zip(header, (5, 10, 7, 9, 10, 7), strict=True)) + "  reported")
    for r in records:
        print(
            f"{r['round']:>5}  {r['F']:>10.6f}  {r['queries']:>7}  {r['bytes_up']:>9}  "
            f"{r['bytes_down']:>10}  {r['seconds']:>7.2f}  {r['reported']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
