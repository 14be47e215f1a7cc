"""The ``asktell`` command's files: reading a state or space file, locking it, replacing it atomically.

A command that changes a state file reads it under an exclusive lock (:func:`locked_state_file`,
so concurrent ``ask`` and ``tell`` commands on one file never lose each other's trials),
validates everything, serializes the new state and what it will print, and only then replaces
the file atomically (:func:`write_atomic`): a temporary file in the same directory, flushed and
fsynced, renamed over the old one, then the directory fsynced. Its output is printed after
that, so a trial an evaluator sees is always on file.

File rules (each refused with a :class:`~asktell.errors.CommandError`, exit 2):

- A state file is a regular file (not a directory, device, FIFO or socket) of at most
  :data:`MAX_STATE_BYTES` (256 MiB), checked before a byte is read; a space file is at most
  :data:`MAX_SPACE_BYTES` (16 MiB) and may be a pipe (``--space <(...)``).
- ``--state`` naming a symbolic link works on the file it points to: the link stays, its target
  is locked and replaced (the temporary file is written next to the target), so workers using
  either path share one run.
- A writer killed mid-write leaves a ``.NAME.<12 hex>.tmp`` file next to the state file; the next
  write of that state file removes it. A writer holds a lock on its own temporary file until it
  is renamed, so only files no live writer owns are removed (where the file system has locks).

:data:`saved_state_file` holds the state file a command has replaced, if any: what an error
after the save must say.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from asktell.errors import CommandError, StateError
from asktell.state import State

try:  # POSIX advisory locks; elsewhere commands run unlocked.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MAX_STATE_BYTES = 256 * 1024 * 1024  # a state file larger than this is refused unread
MAX_SPACE_BYTES = 16 * 1024 * 1024  # a space file (or pipe) is read up to this

# The state file this command has replaced, if any: what an error after the save must say.
saved_state_file: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "asktell_cli_saved", default=None
)

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")


# --- reading ------------------------------------------------------------------------------------


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


def read_state_file(path: Path) -> bytes:
    """The bytes of a state file, unlocked (``show``: the atomic replace keeps a read whole)."""
    fd = _open_state(path)
    try:
        return _read_fd(fd, path)
    finally:
        os.close(fd)


def read_text(path: Path, what: str, limit: int = MAX_SPACE_BYTES) -> str:
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


# --- the lock -----------------------------------------------------------------------------------


@contextlib.contextmanager
def locked_state_file(path: Path, *, read: bool = True) -> Iterator[bytes]:
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


# --- writing ------------------------------------------------------------------------------------


def _target(path: Path) -> Path:
    """The file a write of ``path`` replaces: ``path`` itself, or the end of its symlinks."""
    return Path(os.path.realpath(path))


def state_bytes(state: State) -> bytes:
    """What a state file holds for ``state``: its strict JSON, indented, and a newline."""
    try:
        text = state.to_json(indent=2)
    except ValueError as exc:  # NaN or infinity read from a hand-edited file (memo, config)
        raise StateError(f"the state cannot be saved as strict JSON: {exc}.") from None
    return (text + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old or the new file, never a mix.

    A symbolic link is followed: its target is replaced and the link stays. Writes a temporary
    file next to the target (removing the stale ones killed writers left, see
    :func:`_remove_stale_temps`), flushes and fsyncs it, renames it over the target and fsyncs
    the directory so the rename survives a crash. The file keeps its permissions (a new file
    gets the umask's). With ``replace=False`` the file is created and an existing one refused
    (a hard link, so two ``init`` commands cannot both create it). On any failure the temporary
    file is removed and ``path`` is unchanged. Once the file is replaced, :data:`saved_state_file`
    names it.
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
    saved_state_file.set(str(path))
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
