"""The ``asktell`` command: a run kept in a JSON state file, for evaluators written in any language.

::

    asktell init --loop sobol --space space.json --state run.json --seed 0
    asktell ask  --state run.json --n 4       # one JSON line per trial: {"id": 0, "params": {...}}
    asktell init --loop random --objectives 2 ...             # values are then JSON lists
    asktell tell --state run.json --trial 0 --value 0.42     # or --failed
    asktell add  --state run.json --params '{"x": 0.5}' --value 0.37   # a point not asked for
    asktell show --state run.json [--json]
    asktell demo [--budget 25] [--seed 0]
    asktell serve --db sqlite:///runs.db --port 8080 --token T   # the HTTP service (asktell.service)
    asktell ask  --url http://127.0.0.1:8080 --study NAME        # ask/tell/add a server's study
    asktell federate --algorithm fzoos --dim 20 --clients 3 --rounds 3   # a federation, in process

A command that changes a state file reads it under an exclusive lock (so concurrent ``ask`` and
``tell`` commands on one file never lose each other's trials), validates everything, and only then
replaces the file atomically: a temporary file in the same directory, flushed and fsynced, renamed
over the old one, then the directory fsynced. A refused command prints ``asktell: error: <message>``
on stderr, exits with status 2 and leaves the state file byte-for-byte as it was.

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
import math
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from asktell.api import load
from asktell.checks import check_positive
from asktell.errors import AskTellError, CommandError, ConfigError, ParamError, StateError, TrialError
from asktell.registry import (
    DEFAULT_LOOP,
    FEDERATED,
    loop_class,
    registered_loops,
    tells_with_data_only,
)
from asktell.space import Real, Space
from asktell.state import COMPLETED, FAILED, State, append_trial, finish_trial

try:  # POSIX advisory locks; elsewhere commands run unlocked.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

PROG = "asktell"
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
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stateless ask/tell optimization of expensive black boxes.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, define) in _SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=define(sub))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asktell`` command line; returns the exit status (0 ok, 2 refused)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2); argparse has printed it
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.run(args)
    except AskTellError as exc:
        return _refuse(exc)
    except OSError as exc:  # an I/O failure not already worded by a helper
        return _refuse(exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _refuse(exc: BaseException) -> int:
    print(f"{PROG}: error: {exc}", file=sys.stderr)
    return 2


# --- files --------------------------------------------------------------------------------------


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        hint = "; create it with `asktell init`" if what == "state file" else ""
        raise CommandError(f"{what} {str(path)!r} does not exist{hint}.") from None
    except OSError as exc:
        raise CommandError(f"cannot read {what} {str(path)!r}: {exc.strerror or exc}.") from None


def _read_text(path: Path, what: str) -> str:
    data = _read_bytes(path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{what} {str(path)!r} is not UTF-8 text: {exc}.") from None


@contextlib.contextmanager
def _locked_state_file(path: Path) -> Iterator[bytes]:
    """Hold an exclusive lock on the state file at ``path`` and yield its bytes.

    The lock belongs to the file's inode, and a writer replaces the inode; so once the lock is
    held, check that ``path`` still names the locked file, and start again when another process
    replaced it meanwhile. Write the new state before leaving the ``with`` block.
    """
    while True:
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below, after the caller's write
        except FileNotFoundError:
            raise CommandError(
                f"state file {str(path)!r} does not exist; create it with `asktell init`."
            ) from None
        except OSError as exc:
            raise _io_error("read", path, exc) from None
        try:
            if _lock(handle.fileno()) and not _same_file(handle.fileno(), path):
                handle.close()
                continue
            data = handle.read()
        except OSError as exc:
            handle.close()
            raise _io_error("read", path, exc) from None
        except BaseException:
            handle.close()
            raise
        break
    try:
        yield data
    finally:
        handle.close()  # releases the lock


def _io_error(verb: str, path: Path, exc: OSError) -> CommandError:
    return CommandError(f"cannot {verb} state file {str(path)!r}: {exc.strerror or exc}.")


def _lock(fd: int) -> bool:
    """Take an exclusive lock on ``fd``; False where the platform or file system has none."""
    if fcntl is None:  # pragma: no cover - Windows
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # e.g. a file system without locks: go on unlocked rather than refuse
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file, never a mix.

    Writes a temporary file in the same directory, flushes and fsyncs it, renames it over ``path``
    and fsyncs the directory so the rename survives a crash. The file keeps its permissions (a new
    file gets the umask's). On any failure the temporary file is removed and ``path`` is unchanged.
    """
    path = Path(path)
    directory = path.absolute().parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _io_error("write", path, exc) from None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                if mode is not None:
                    os.fchmod(handle.fileno(), mode)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise _io_error("write", path, exc) from None
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open a directory (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on a directory
        pass
    finally:
        os.close(fd)


def _state_bytes(state: State) -> bytes:
    try:
        text = state.to_json(indent=2)
    except ValueError as exc:  # NaN or infinity read from a hand-edited file (memo, config)
        raise StateError(f"the state cannot be saved as strict JSON: {exc}.") from None
    return (text + "\n").encode("utf-8")


# --- JSON options -------------------------------------------------------------------------------


def _non_finite(option: str, got: str, error: type[AskTellError]) -> AskTellError:
    hint = "; report a failed evaluation with --failed instead" if option == "--value" else ""
    return error(f"{option} must hold finite numbers, got {got}{hint}.")


def _json_option(text: str, option: str, error: type[AskTellError], example: str) -> Any:
    """Parse an option's JSON text; NaN and Infinity are refused (they are not JSON)."""

    def refuse(name: str) -> Any:
        raise _non_finite(option, name, error)

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise error(f"{option} must be JSON ({example}), got {text!r}: {exc.msg}.") from None


def parse_value(text: str) -> Any:
    """The value of ``--value``: a number (a float) or a JSON list of numbers.

    NaN and infinity (``nan``, ``NaN``, ``inf``, ``1e999``, ...) are refused here, pointing to
    ``--failed``; the loop's ``tell`` checks the type and the number of objectives.

    Raises:
        TrialError: the text is not a number nor JSON, or holds a non-finite number.
    """
    try:
        number = float(text)
    except ValueError:
        example = "a number like 0.42, or a list like [1.0, 2.0]"
        return _json_option(text, "--value", TrialError, example)
    if not math.isfinite(number):
        raise _non_finite("--value", text, TrialError)
    return number


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", required=True, type=Path, metavar="FILE", help="the run's JSON state file"
    )


def _state_or_url_options(parser: argparse.ArgumentParser) -> None:
    """``--state FILE``, or ``--url URL --study NAME [--token T]`` for a server (``asktell serve``)."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--state", type=Path, metavar="FILE", help="the run's JSON state file")
    target.add_argument(
        "--url", metavar="URL", help="an asktell server instead of a file (with --study)"
    )
    parser.add_argument("--study", metavar="NAME", help="the study on the server (with --url)")
    parser.add_argument(
        "--token", metavar="TOKEN", help="the server's bearer token (default: $ASKTELL_TOKEN)"
    )


# --- init, ask, tell, show ----------------------------------------------------------------------


@subcommand("init", "start a run: write a new state file for a loop and a search space")
def _define_init(parser: argparse.ArgumentParser) -> Run:
    parser.add_argument(
        "--loop",
        metavar="NAME",
        help=f"the loop to run, one of {registered_loops()} (default: {DEFAULT_LOOP})",
    )
    parser.add_argument(
        "--space", required=True, type=Path, metavar="FILE",
        help='JSON file of parameters, e.g. {"x": {"type": "real", "low": 0, "high": 1}}',
    )
    _state_option(parser)
    parser.add_argument("--seed", type=int, default=0, help="the run's seed (default: 0)")
    parser.add_argument(
        "--objectives", type=int, default=1, metavar="N",
        help="number of objectives: --value then takes a JSON list of N numbers (default: 1)",
    )
    parser.add_argument(
        "--config", metavar="JSON", help="the loop's options as a JSON object (default: {})"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing state file")
    return _init


def _init(args: argparse.Namespace) -> int:
    path: Path = args.state
    if path.exists() and not args.force:
        raise CommandError(
            f"state file {str(path)!r} already exists; pass --force to overwrite it, "
            "or choose another --state."
        )
    config = {} if args.config is None else _json_option(
        args.config, "--config", ConfigError, 'an object like {"n_init": 8}'
    )
    name = DEFAULT_LOOP if args.loop is None else args.loop
    loop = loop_class(name).from_config(config)
    space = Space.from_json(_read_text(args.space, "space file"))
    state = loop.init(space, seed=args.seed, n_objectives=args.objectives)
    write_atomic(path, _state_bytes(state))
    print(f"wrote {path}: loop {loop.name!r}, {space.dim} parameters, seed {state.seed}")
    return 0


@subcommand("ask", "ask for new trials: prints one JSON line {\"id\", \"params\"} per trial")
def _define_ask(parser: argparse.ArgumentParser) -> Run:
    _state_or_url_options(parser)
    parser.add_argument("--n", type=int, default=1, help="number of trials to ask for (default: 1)")
    return _ask


def _ask(args: argparse.Namespace) -> int:
    if args.url is not None:
        from asktell.service.commands import remote_ask

        return remote_ask(args)
    with _locked_state_file(args.state) as text:
        loop, state = load(text)
        state, trials = loop.ask(state, n=args.n)
        write_atomic(args.state, _state_bytes(state))
    # Printed only once the state is saved: a trial an evaluator sees is always on file.
    for trial in trials:
        print(json.dumps({"id": trial.id, "params": trial.params}, allow_nan=False))
    return 0


def _outcome_options(parser: argparse.ArgumentParser) -> None:
    """``--value VALUE`` or ``--failed``, and ``--metadata JSON``: what ``tell`` and ``add`` report."""
    outcome = parser.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--value", metavar="VALUE",
        help="the value to minimize: a number, or a JSON list of numbers for several objectives",
    )
    outcome.add_argument("--failed", action="store_true", help="the evaluation failed")
    parser.add_argument(
        "--metadata", metavar="JSON", help="a JSON object to store with the trial"
    )


def _outcome(args: argparse.Namespace) -> tuple[Any, str, dict[str, Any] | None]:
    """``(value, status, metadata)`` from the options of :func:`_outcome_options`."""
    value = None if args.failed else parse_value(args.value)
    metadata = None if args.metadata is None else _json_option(
        args.metadata, "--metadata", TrialError, 'an object like {"seconds": 12.5}'
    )
    return value, FAILED if args.failed else COMPLETED, metadata


def _print_trial(trial: Any) -> None:
    value_json = list(trial.value) if isinstance(trial.value, tuple) else trial.value
    print(json.dumps({"id": trial.id, "status": trial.status, "value": value_json}))


@subcommand("tell", "report a trial's value (or that its evaluation failed)")
def _define_tell(parser: argparse.ArgumentParser) -> Run:
    _state_or_url_options(parser)
    parser.add_argument("--trial", required=True, type=int, metavar="ID", help="the trial's id")
    _outcome_options(parser)
    return _tell


def _tell(args: argparse.Namespace) -> int:
    value, status, metadata = _outcome(args)
    if args.url is not None:
        from asktell.service.commands import remote_tell

        return remote_tell(args, value, status, metadata)
    with _locked_state_file(args.state) as text:
        state = State.from_json(text)
        if tells_with_data_only(state.loop_name, state.n_objectives):  # the data layer's tell
            state = finish_trial(state, args.trial, value, status=status, metadata=metadata)
        else:
            loop, state = load(text)
            state = loop.tell(state, args.trial, value, status=status, metadata=metadata)
        write_atomic(args.state, _state_bytes(state))
    _print_trial(state.trial(args.trial))
    return 0


@subcommand("add", "record an evaluation the loop did not ask for (a known point, an earlier run's)")
def _define_add(parser: argparse.ArgumentParser) -> Run:
    _state_or_url_options(parser)
    parser.add_argument(
        "--params", required=True, metavar="JSON", help='the point, e.g. \'{"x": 0.5, "kernel": "rbf"}\''
    )
    _outcome_options(parser)
    return _add


def _add(args: argparse.Namespace) -> int:
    params = _json_option(args.params, "--params", ParamError, 'an object like {"x": 0.5}')
    if not isinstance(params, dict):
        raise ParamError(f'--params must be a JSON object like {{"x": 0.5}}, got {args.params!r}.')
    value, status, metadata = _outcome(args)
    if args.url is not None:
        from asktell.service.commands import remote_add

        return remote_add(args, params, value, status, metadata)
    with _locked_state_file(args.state) as text:
        state = State.from_json(text)
        if tells_with_data_only(state.loop_name, state.n_objectives):
            state = append_trial(state, params, value, status=status, metadata=metadata)
        else:
            loop, state = load(text)
            state = loop.add(state, params, value, status=status, metadata=metadata)
        write_atomic(args.state, _state_bytes(state))
    _print_trial(state.trials[-1])
    return 0


@subcommand("show", "print a run's trials as a table (or as JSON) and its best trial")
def _define_show(parser: argparse.ArgumentParser) -> Run:
    _state_option(parser)
    parser.add_argument("--json", action="store_true", help="print the trials as JSON")
    return _show


def _show(args: argparse.Namespace) -> int:
    state = State.from_json(_read_bytes(args.state, "state file"))
    if args.json:
        print(json.dumps([t.to_dict() for t in state.trials], indent=2, allow_nan=False))
        return 0
    counts = {s: len(state.with_status(s)) for s in ("completed", "failed", "pending")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    print(
        f"{args.state}: loop {state.loop_name!r} {json.dumps(state.loop_config)}, "
        f"seed {state.seed}, {len(state.trials)} trials ({summary})"
    )
    if state.trials:
        rows = [("id", "status", "value", "params")] + [
            (str(t.id), t.status, _format_value(t.value), _format_params(t.params))
            for t in state.trials
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            print("  ".join([*cells, row[3]]))
    best = state.best()
    if best is not None:
        params = json.dumps(best.params)
        print(f"best: trial {best.id}, value {_format_value(best.value)}, params {params}")
    elif state.n_objectives > 1:
        print(f"best: not defined for {state.n_objectives} objectives")
    else:
        print("best: none yet (no completed trial)")
    return 0


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
        "--progress", action=argparse.BooleanOptionalAction, default=None,
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
    parser.add_argument("--engine", choices=("inprocess", "flower-sim"), default="inprocess",
                        help="in-process runner, or Flower's simulation runtime (needs the federated extra)")
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
    from asktell.problems import federated_quadratic

    for name in ("dim", "clients", "rounds"):
        check_positive(f"--{name}", getattr(args, name), integer=True)
    config = {} if args.config is None else _json_option(
        args.config, "--config", ConfigError, 'an object like {"n_features": 300}'
    )
    fed = loop_class(args.algorithm).from_config(config)
    space = Space({f"x{j}": Real(-2.0, 2.0) for j in range(args.dim)})
    clients = federated_quadratic(args.clients, args.dim, seed=args.seed)
    print(f"{fed.name} on the federated quadratic: d = {args.dim}, {args.clients} clients, "
          f"{args.rounds} rounds, seed {args.seed}, engine {args.engine}")
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
        print(f"{r['round']:>5}  {r['F']:>10.6f}  {r['queries']:>7}  {r['bytes_up']:>9}  "
              f"{r['bytes_down']:>10}  {r['seconds']:>7.2f}  {r['reported']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
