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
``tell`` commands on one file never lose each other's trials), validates everything, serializes
the new state and what it will print, and only then replaces the file atomically: a temporary
file in the same directory, flushed and fsynced, renamed over the old one, then the directory
fsynced. Its output is printed after that, so a trial an evaluator sees is always on file.

Exit status:

- ``0``: done.
- ``2``: refused (bad input, a missing or unreadable file, a usage error): ``asktell: error:
  <message>`` on stderr, and the state file is byte-for-byte as it was.
- ``1``: done and saved, but the output could not be written (stdout closed): the message says so.
- ``70`` (``EX_SOFTWARE``): an internal error, a bug in asktell: one line on stderr saying so and
  whether anything was written (nothing, unless the failure came after the save; set
  ``ASKTELL_DEBUG=1`` for the traceback), to be reported with the command line.
- ``130``: interrupted.

Input rules (each refused with exit 2):

- Numbers in options are ASCII: ``--value``, ``--trial``, ``--n``, ``--seed`` and every other
  integer option take the digits 0-9 only (``--value=١٢`` is refused, not read as 12), integers
  at most 20 digits; a negative number in exponent form may follow its option (``--value -1e-05``).
- JSON options (``--params``, ``--metadata``, ``--config``, a ``--value`` list) are strict: no
  NaN or Infinity, no key twice, integers within Python's 4300 digits, nesting Python can read;
  the data layer then holds metadata to 32 levels and 64 KiB (:mod:`asktell.checks`).
- A state file is a regular file (not a directory, device, FIFO or socket) of at most
  :data:`MAX_STATE_BYTES` (256 MiB), checked before a byte is read; a space file is at most
  :data:`MAX_SPACE_BYTES` (16 MiB) and may be a pipe (``--space <(...)``).
- ``--state`` naming a symbolic link works on the file it points to: the link stays, its target
  is locked and replaced (the temporary file is written next to the target), so workers using
  either path share one run.
- A writer killed mid-write leaves a ``.NAME.<12 hex>.tmp`` file next to the state file; the next
  write of that state file removes it. A writer holds a lock on its own temporary file until it
  is renamed, so only files no live writer owns are removed (where the file system has locks).

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
import contextvars
import json
import math
import os
import re
import secrets
import stat
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from asktell import __version__
from asktell.api import load
from asktell.checks import MAX_JSON_DEPTH, check_positive
from asktell.errors import (
    AskTellError,
    CommandError,
    ConfigError,
    ParamError,
    SpaceError,
    StateError,
    TrialError,
)
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
EXIT_OK, EXIT_OUTPUT_LOST, EXIT_REFUSED, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
MAX_STATE_BYTES = 256 * 1024 * 1024  # a state file larger than this is refused unread
MAX_SPACE_BYTES = 16 * 1024 * 1024  # a space file (or pipe) is read up to this
MAX_INT_DIGITS = 20  # integer options: seeds below 2**63 and every count fit
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
# The state file this command has replaced, if any: what an error after the save must say.
_SAVED: contextvars.ContextVar[str | None] = contextvars.ContextVar("asktell_cli_saved", default=None)


def subcommand(name: str, help: str) -> Callable[[Define], Define]:
    """Register a subcommand: ``define(parser)`` adds its options, returns ``run(args) -> int``."""

    def decorate(define: Define) -> Define:
        if name in _SUBCOMMANDS:
            raise ConfigError(f"subcommand {name!r} is already defined.")
        _SUBCOMMANDS[name] = (help, define)
        return define

    return decorate


# --- the parser: asktell's error line, ASCII numbers --------------------------------------------


def _one_line(message: str) -> str:
    """``message`` with what is not printable escaped (``\\n``, ``\\x1b``): an option's value
    quoted in an error may hold newlines or terminal escapes, and the error stays one line."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def _cut(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters (an option may hold megabytes)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _brief(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NON_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _ascii_int(text: str) -> int:
    """An integer option: ASCII digits with an optional sign, at most ``MAX_INT_DIGITS`` digits.

    Python's ``int`` (argparse's ``type=int``) also reads ``'١٢'``, ``'1_000'`` and ``' 7 '``; an
    evaluator's number should mean what it shows, so those are refused.
    """
    if not _INTEGER.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be an integer written with the ASCII digits 0-9, got {_brief(text)}"
        )
    digits = len(text.lstrip("+-"))
    if digits > MAX_INT_DIGITS:
        raise argparse.ArgumentTypeError(
            f"must be an integer of at most {MAX_INT_DIGITS} digits, got one of {digits} digits"
        )
    return int(text)


def _ascii_float(text: str) -> float:
    """A number option: a finite decimal number in ASCII (``0.5``, ``-1e-3``)."""
    number = float(text) if _NUMBER.fullmatch(text) else math.nan
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(
            f"must be a finite number written in ASCII (like 0.5 or -1e-3), got {_brief(text)}"
        )
    return number


class _Parser(argparse.ArgumentParser):
    """argparse with asktell's error line (``asktell: error: ...``, exit 2), and ``type=int`` /
    ``type=float`` read as :func:`_ascii_int` / :func:`_ascii_float` in every subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("type", int, _ascii_int)
        self.register("type", float, _ascii_float)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_REFUSED, f"{PROG}: error: {_one_line(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    parser = _Parser(
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


_NEGATIVE = re.compile(
    r"-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-(?:nan|inf|infinity)", re.IGNORECASE
)


def _join_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--value -1e-05`` as ``--value=-1e-05``: argparse takes ``-1e-05`` (what Python prints
    for -0.00001) for an option. No asktell option starts with a digit and no command has
    positional arguments, so a negative number after an option can only be its value."""
    out: list[str] = []
    for token in argv:
        previous = out[-1] if out else ""
        if (
            _NEGATIVE.fullmatch(token)
            and previous.startswith("--")
            and "=" not in previous
            and previous != "--"
        ):
            out[-1] = f"{previous}={token}"
        else:
            out.append(token)
    return out


# --- main and its handlers ----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``asktell`` command line; returns the exit status (see the module docstring: 0
    done, 2 refused, 1 saved but the output lost, 70 internal error, 130 interrupted)."""
    token = _SAVED.set(None)
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    finally:
        _SAVED.reset(token)


def _main(argv: list[str]) -> int:
    try:
        try:
            args = build_parser().parse_args(_join_negative_numbers(argv))
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
    saved = _SAVED.get()
    return "" if saved is None else f" (the state file {saved!r} was saved before this happened)"


def _refuse(exc: BaseException) -> int:
    print(f"{PROG}: error: {_one_line(str(exc))}{_saved_note()}", file=sys.stderr)
    return EXIT_REFUSED


def _internal_error(exc: Exception) -> int:
    if os.environ.get("ASKTELL_DEBUG"):
        traceback.print_exception(exc)
    saved = _SAVED.get()
    written = (
        "no file was written" if saved is None else f"the state file {saved!r} was saved before it"
    )
    print(
        f"{PROG}: internal error: {type(exc).__name__}: {_one_line(_cut(str(exc), 300))} -- an "
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
    done = "the state file was saved" if _SAVED.get() is not None else "the command was done"
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


# --- files --------------------------------------------------------------------------------------
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")


def _file_path(text: str) -> Path:
    """A ``--state``/``--space`` path: not empty (that would be the current directory)."""
    if not text:
        raise argparse.ArgumentTypeError("must name a file, got an empty path")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a file path without NUL bytes, got {_brief(text)}")
    return Path(text)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _missing(path: Path, what: str) -> CommandError:
    hint = "; create it with `asktell init`" if what == "state file" else ""
    return CommandError(f"{what} {str(path)!r} does not exist{hint}.")


def _io_error(verb: str, path: Path, exc: OSError, what: str = "state file") -> CommandError:
    return CommandError(f"cannot {verb} {what} {str(path)!r}: {exc.strerror or exc}.")


def _open_state(path: Path) -> int:
    """Open the state file at ``path`` for reading: a regular file of at most ``MAX_STATE_BYTES``,
    checked on the opened file before a byte is read (``O_NONBLOCK``: a FIFO does not block)."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
    except FileNotFoundError:
        raise _missing(path, "state file") from None
    except OSError as exc:
        raise _io_error("read", path, exc) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CommandError(
                f"state file {str(path)!r} is {_kind(info.st_mode)}, not a regular file; a state "
                "file is a JSON file that asktell replaces as a whole: name a file."
            )
        _check_size(path, info.st_size)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_size(path: Path, size: int) -> None:
    if size > MAX_STATE_BYTES:
        raise CommandError(
            f"state file {str(path)!r} is {size} bytes, over the limit of {MAX_STATE_BYTES} "
            f"({MAX_STATE_BYTES >> 20} MiB); is it a state file? Keep large results in files "
            "of their own and their paths in the trials' metadata."
        )


def _read_fd(fd: int, path: Path) -> bytes:
    """The bytes of the state file open at ``fd`` (at most ``MAX_STATE_BYTES``; a file that grew
    past it since it was opened is refused too)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= MAX_STATE_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_STATE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise _io_error("read", path, exc) from None
    _check_size(path, size)
    return b"".join(chunks)


def _read_state_file(path: Path) -> bytes:
    """The bytes of a state file, unlocked (``show``: the atomic replace keeps a read whole)."""
    fd = _open_state(path)
    try:
        return _read_fd(fd, path)
    finally:
        os.close(fd)


def _read_text(path: Path, what: str, limit: int = MAX_SPACE_BYTES) -> str:
    """A small input file's text (a space file): a regular file or a pipe, up to ``limit`` bytes."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise _missing(path, what) from None
    except OSError as exc:
        raise _io_error("read", path, exc, what) from None
    if len(data) > limit:
        raise CommandError(
            f"{what} {str(path)!r} is larger than the limit of {limit} bytes ({limit >> 20} MiB)."
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommandError(f"{what} {str(path)!r} is not UTF-8 text: {exc}.") from None


@contextlib.contextmanager
def _locked_state_file(path: Path, *, read: bool = True) -> Iterator[bytes]:
    """Hold an exclusive lock on the state file at ``path`` and yield its bytes (``b""`` without
    ``read``: ``init --force`` overwrites what is there, readable or not).

    The lock belongs to the file's inode (a symlink's target), and a writer replaces the inode;
    so once the lock is held, check that ``path`` still names the locked file, and start again
    when another process replaced it meanwhile. Write the new state before leaving the block.
    """
    while True:
        fd = _open_state(path)
        try:
            if _lock(fd) and not _same_file(fd, path):
                os.close(fd)
                continue
            data = _read_fd(fd, path) if read else b""
        except BaseException:
            os.close(fd)
            raise
        break
    try:
        yield data
    finally:
        os.close(fd)  # releases the lock


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


def _target(path: Path) -> Path:
    """The file a write of ``path`` replaces: ``path`` itself, or the end of its symlinks."""
    return Path(os.path.realpath(path))


def write_atomic(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file, never a mix.

    A symbolic link is followed: its target is replaced and the link stays. Writes a temporary
    file next to the target (removing the stale ones killed writers left, see
    :func:`_remove_stale_temps`), flushes and fsyncs it, renames it over the target and fsyncs
    the directory so the rename survives a crash. The file keeps its permissions (a new file
    gets the umask's). With ``replace=False`` the file is created and an existing one refused
    (a hard link, so two ``init`` commands cannot both create it). On any failure the temporary
    file is removed and ``path`` is unchanged.
    """
    path = Path(path)
    target = _target(path)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise _io_error("write", path, exc) from None
    _remove_stale_temps(target)
    try:
        tmp, fd = _create_temp(target)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
            if replace:
                os.replace(tmp, target)
            else:
                _link_new(tmp, target, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            os.close(fd)  # after the rename: the temporary file stays locked while it has its name
    except OSError as exc:
        raise _io_error("write", path, exc) from None
    _SAVED.set(str(path))
    _fsync_directory(target.parent)


def _link_new(tmp: Path, target: Path, path: Path) -> None:
    """Give the written ``tmp`` the name ``target``, refusing if that exists by now."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise CommandError(
            f"state file {str(path)!r} was created meanwhile by another command; pass --force "
            "to overwrite it, or choose another --state."
        ) from None
    except OSError:  # a file system without hard links: the check-then-rename race remains
        if os.path.lexists(target):
            raise
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _create_temp(target: Path) -> tuple[Path, int]:
    """Create and lock ``.NAME.<12 hex>.tmp`` next to ``target``; returns its path and fd.

    The lock tells :func:`_remove_stale_temps` of other commands that a live writer owns the
    file. A cleaner may lock (and remove) the file between its creation and the lock: the name
    is then gone or another file's, so take a new one.
    """
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_NOFOLLOW, 0o666)
        if not _lock(fd):
            return tmp, fd  # no locks here: cleaners cannot tell live files, and remove none
        try:
            named, opened = os.lstat(tmp), os.fstat(fd)
        except FileNotFoundError:  # a cleaner removed it before our lock
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino):
            return tmp, fd
        os.close(fd)


def _remove_stale_temps(target: Path) -> None:
    """Remove the temporary files of ``target`` that killed writers left behind.

    Only ``.NAME.<12 hex>.tmp`` files of this very state file, and only those whose lock can be
    taken at once: a live writer holds its temporary file's lock until the rename. Best effort:
    anything that cannot be checked is left alone.
    """
    if fcntl is None:  # pragma: no cover - Windows: no way to tell a live writer's file
        return
    directory = target.parent
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = _TEMP.fullmatch(name)
        if match is None or match["name"] != target.name:
            continue
        candidate = directory / name
        try:
            fd = os.open(candidate, os.O_RDONLY | _O_NONBLOCK | _O_NOFOLLOW | _O_CLOEXEC)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live writer's (or no locks)
            named = os.lstat(candidate)
            if (named.st_dev, named.st_ino) == (info.st_dev, info.st_ino):
                os.unlink(candidate)
        except OSError:
            continue
        finally:
            os.close(fd)


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


# --- JSON: options and files --------------------------------------------------------------------


@contextlib.contextmanager
def _json_limits(what: str, error: type[AskTellError]) -> Iterator[None]:
    """Turn the two ways Python's JSON reader fails on hostile text into ``error``: nesting deeper
    than the interpreter's stack (``RecursionError``) and integers of more than 4300 digits (a
    plain ``ValueError``: ``sys.get_int_max_str_digits``)."""
    try:
        yield
    except AskTellError:
        raise
    except RecursionError:
        raise error(
            f"{what} is nested too deeply to read; asktell keeps JSON nested at most "
            f"{MAX_JSON_DEPTH} levels."
        ) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
        raise error(
            f"{what} holds an integer of more than {sys.get_int_max_str_digits()} digits; "
            "numbers must fit a float."
        ) from None


def _non_finite(option: str, got: str, error: type[AskTellError]) -> AskTellError:
    hint = "; report a failed evaluation with --failed instead" if option == "--value" else ""
    return error(f"{option} must hold finite numbers, got {got}{hint}.")


def _json_option(text: str, option: str, error: type[AskTellError], example: str) -> Any:
    """Parse an option's JSON text strictly: NaN and Infinity (not JSON) and a key given twice
    are refused, and so is text nested too deeply or with too long integers to read."""

    def refuse(name: str) -> Any:
        raise _non_finite(option, name, error)

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise error(
                    f"{option} has the key {_brief(key)} twice; JSON object keys must be unique."
                )
            result[key] = value
        return result

    try:
        with _json_limits(option, error):
            return json.loads(text, parse_constant=refuse, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise error(f"{option} must be JSON ({example}), got {_brief(text)}: {exc.msg}.") from None


def parse_value(text: str) -> Any:
    """The value of ``--value``: a number (a float) or a JSON list of numbers, in ASCII.

    NaN and infinity (``nan``, ``NaN``, ``inf``, ``1e999``, ...) are refused here, pointing to
    ``--failed``; so are non-ASCII digits (``'١٢'``, which Python's ``float`` reads as 12) and
    Python-only forms (``1_000``); the loop's ``tell`` checks the type and the number of
    objectives.

    Raises:
        TrialError: the text is not a number nor JSON, or holds a non-finite number.
    """
    if not text.isascii():
        raise TrialError(
            f"--value must be a number written in ASCII (digits 0-9, like 0.42 or -1e-3), "
            f"got {_brief(text)}."
        )
    stripped = text.strip(" \t\r\n")
    if _NON_FINITE.fullmatch(stripped):
        raise _non_finite("--value", text, TrialError)
    if _NUMBER.fullmatch(stripped):
        number = float(stripped)
        if not math.isfinite(number):
            raise _non_finite("--value", _cut(text), TrialError)
        return number
    example = "a number like 0.42, or a list like [1.0, 2.0]"
    return _json_option(text, "--value", TrialError, example)


def _state_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", required=True, type=_file_path, metavar="FILE", help="the run's JSON state file"
    )


def _state_or_url_options(parser: argparse.ArgumentParser) -> None:
    """``--state FILE``, or ``--url URL --study NAME [--token T]`` for a server (``asktell serve``)."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--state", type=_file_path, metavar="FILE", help="the run's JSON state file")
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
        "--space", required=True, type=_file_path, metavar="FILE",
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


def _exists_refusal(path: Path) -> CommandError:
    return CommandError(
        f"state file {str(path)!r} already exists; pass --force to overwrite it, "
        "or choose another --state."
    )


def _init(args: argparse.Namespace) -> int:
    path: Path = args.state
    if os.path.exists(path) and not args.force:
        raise _exists_refusal(path)
    config = {} if args.config is None else _json_option(
        args.config, "--config", ConfigError, 'an object like {"n_init": 8}'
    )
    name = DEFAULT_LOOP if args.loop is None else args.loop
    loop = loop_class(name).from_config(config)
    space_text = _read_text(args.space, "space file")
    with _json_limits(f"space file {str(args.space)!r}", SpaceError):
        space = Space.from_json(space_text)
    state = loop.init(space, seed=args.seed, n_objectives=args.objectives)
    data = _state_bytes(state)
    out = f"wrote {path}: loop {loop.name!r}, {space.dim} parameters, seed {state.seed}\n"
    if os.path.exists(path):  # --force: replace it under the lock every writer takes
        with _locked_state_file(path, read=False):
            write_atomic(path, data)
    else:  # created, never replaced: unless --force, a file made meanwhile is refused
        write_atomic(path, data, replace=args.force)
    _emit(out)
    return 0


@subcommand("ask", "ask for new trials: prints one JSON line {\"id\", \"params\"} per trial")
def _define_ask(parser: argparse.ArgumentParser) -> Run:
    _state_or_url_options(parser)
    parser.add_argument("--n", type=int, default=1, help="number of trials to ask for (default: 1)")
    return _ask


def _load(text: bytes, path: Path) -> tuple[Any, State]:
    with _json_limits(f"state file {str(path)!r}", StateError):
        return load(text)


def _read_state(text: bytes, path: Path) -> State:
    with _json_limits(f"state file {str(path)!r}", StateError):
        return State.from_json(text)


def _ask(args: argparse.Namespace) -> int:
    if args.url is not None:
        from asktell.service.commands import remote_ask

        return remote_ask(args)
    with _locked_state_file(args.state) as text:
        loop, state = _load(text, args.state)
        state, trials = loop.ask(state, n=args.n)
        out = "".join(
            json.dumps({"id": t.id, "params": t.params}, allow_nan=False) + "\n" for t in trials
        )
        write_atomic(args.state, _state_bytes(state))
    _emit(out)  # only once the state is saved: a trial an evaluator sees is always on file
    return 0


def _outcome_options(parser: argparse.ArgumentParser) -> None:
    """``--value VALUE`` or ``--failed``, and ``--metadata JSON``: what ``tell`` and ``add`` report."""
    outcome = parser.add_mutually_exclusive_group(required=True)
    outcome.add_argument(
        "--value", metavar="VALUE",
        help="the value to minimize: a number in ASCII digits (0.42, -1e-05), or a JSON list of "
        "numbers for several objectives",
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


def _trial_line(trial: Any) -> str:
    value_json = list(trial.value) if isinstance(trial.value, tuple) else trial.value
    return json.dumps({"id": trial.id, "status": trial.status, "value": value_json}) + "\n"


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
        state = _read_state(text, args.state)
        if tells_with_data_only(state.loop_name, state.n_objectives):  # the data layer's tell
            state = finish_trial(state, args.trial, value, status=status, metadata=metadata)
        else:
            loop, state = _load(text, args.state)
            state = loop.tell(state, args.trial, value, status=status, metadata=metadata)
        out = _trial_line(state.trial(args.trial))
        write_atomic(args.state, _state_bytes(state))
    _emit(out)
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
        raise ParamError(
            f'--params must be a JSON object like {{"x": 0.5}}, got {_brief(args.params)}.'
        )
    value, status, metadata = _outcome(args)
    if args.url is not None:
        from asktell.service.commands import remote_add

        return remote_add(args, params, value, status, metadata)
    with _locked_state_file(args.state) as text:
        state = _read_state(text, args.state)
        if tells_with_data_only(state.loop_name, state.n_objectives):
            state = append_trial(state, params, value, status=status, metadata=metadata)
        else:
            loop, state = _load(text, args.state)
            state = loop.add(state, params, value, status=status, metadata=metadata)
        out = _trial_line(state.trials[-1])
        write_atomic(args.state, _state_bytes(state))
    _emit(out)
    return 0


@subcommand("show", "print a run's trials as a table (or as JSON) and its best trial")
def _define_show(parser: argparse.ArgumentParser) -> Run:
    _state_option(parser)
    parser.add_argument("--json", action="store_true", help="print the trials as JSON")
    return _show


def _show(args: argparse.Namespace) -> int:
    state = _read_state(_read_state_file(args.state), args.state)
    if args.json:
        _emit(json.dumps([t.to_dict() for t in state.trials], indent=2, allow_nan=False) + "\n")
        return 0
    counts = {s: len(state.with_status(s)) for s in ("completed", "failed", "pending")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    lines = [
        f"{args.state}: loop {state.loop_name!r} {json.dumps(state.loop_config)}, "
        f"seed {state.seed}, {len(state.trials)} trials ({summary})"
    ]
    if state.trials:
        rows = [("id", "status", "value", "params")] + [
            (str(t.id), t.status, _format_value(t.value), _format_params(t.params))
            for t in state.trials
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
            lines.append("  ".join([*cells, row[3]]))
    best = state.best()
    if best is not None:
        params = json.dumps(best.params)
        lines.append(f"best: trial {best.id}, value {_format_value(best.value)}, params {params}")
    elif state.n_objectives > 1:
        lines.append(f"best: not defined for {state.n_objectives} objectives")
    else:
        lines.append("best: none yet (no completed trial)")
    _emit("\n".join(lines) + "\n")
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
    from asktell.loops.base import check_seed
    from asktell.problems import federated_quadratic

    for name in ("dim", "clients", "rounds"):
        check_positive(f"--{name}", getattr(args, name), integer=True)
    for name, most in (("dim", MAX_FEDERATE_DIM), ("clients", MAX_FEDERATE_CLIENTS)):
        if getattr(args, name) > most:  # the problem holds clients x dim numbers
            raise ConfigError(f"--{name} must be at most {most}, got {getattr(args, name)}.")
    check_seed(args.seed)  # before the problem draws its clients from it
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
