"""How the ``asktell`` command reads its options: ASCII numbers, strict JSON, one-line errors.

Input rules (each refused with exit 2, ``asktell: error: <message>``):

- Numbers in options are ASCII: ``--value``, ``--trial``, ``--n``, ``--seed`` and every other
  integer option take the digits 0-9 only (``--value=١٢`` is refused, not read as 12), integers
  at most 20 digits; a negative number in exponent form may follow its option (``--value -1e-05``).
- ``--value`` (and ``init --ref-point``) of a run with several objectives takes one number per
  objective, separated by commas (``--value 0.3,1.2``) or as a JSON list (``[0.3, 1.2]``); a
  count other than the run's number of objectives is refused in the shell's words
  (:func:`check_value_count`), and so is a list for a run of one objective.
- JSON options (``--params``, ``--metadata``, ``--config``, a ``--value`` list) are strict: no
  NaN or Infinity, no key twice, integers within Python's 4300 digits, nesting Python can read;
  the data layer then holds metadata to 32 levels and 64 KiB (:mod:`asktell.checks`).
- ``--constraint NAME=VALUE`` (``tell``, ``add``; repeatable) gives one outcome's measured value:
  the name as declared at ``init --constraint "NAME <= BOUND"``, the value a finite ASCII number
  as for ``--value``; a name given twice is refused here, a missing or unknown one by the data
  layer (:func:`asktell.constraints.check_outcomes`).
- A ``--state`` or ``--space`` path names a file: not empty, no NUL byte.

:class:`OptionParser` is argparse with asktell's error line and these number types for
``type=int`` and ``type=float``; :func:`join_negative_numbers` prepares ``argv`` for it. An error
message quoting an option stays one line (:func:`one_line`) and short (:func:`brief_repr`). The
options several subcommands share (``--state``, ``--url``, ``--value``/``--failed``,
``--constraint``) are defined here too, and so is the line ``tell`` and ``add`` print (with a file
or a server alike): :func:`trial_line`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

from asktell.checks import MAX_JSON_DEPTH
from asktell.errors import AskTellError, TrialError
from asktell.state import COMPLETED, FAILED

PROG = "asktell"
EXIT_REFUSED = 2  # a usage error (argparse's status); asktell.cli refuses bad input with it too
MAX_INT_DIGITS = 20  # integer options: seeds below 2**63 and every count fit


# --- one-line, short messages -------------------------------------------------------------------


def one_line(message: str) -> str:
    """``message`` with what is not printable escaped (``\\n``, ``\\x1b``): an option's value
    quoted in an error may hold newlines or terminal escapes, and the error stays one line."""
    if message.isprintable():
        return message
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)


def truncate(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters (an option may hold megabytes)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def brief_repr(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


# --- the parser: asktell's error line, ASCII numbers --------------------------------------------

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
            f"must be an integer written with the ASCII digits 0-9, got {brief_repr(text)}"
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
            f"must be a finite number written in ASCII (like 0.5 or -1e-3), got {brief_repr(text)}"
        )
    return number


def file_path(text: str) -> Path:
    """A ``--state``/``--space`` path: not empty (that would be the current directory)."""
    if not text:
        raise argparse.ArgumentTypeError("must name a file, got an empty path")
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"must be a file path without NUL bytes, got {brief_repr(text)}")
    return Path(text)


class OptionParser(argparse.ArgumentParser):
    """argparse with asktell's error line (``asktell: error: ...``, exit 2), and ``type=int`` /
    ``type=float`` read as :func:`_ascii_int` / :func:`_ascii_float` in every subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register("type", int, _ascii_int)
        self.register("type", float, _ascii_float)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_REFUSED, f"{PROG}: error: {one_line(message)}\n")


_NEGATIVE_ITEM = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?:nan|inf|infinity)"
# a negative number, or a comma-separated list of numbers that starts with one (--value -0.3,1.2)
_NEGATIVE = re.compile(rf"-(?:{_NEGATIVE_ITEM})(?:[ \t]*,[ \t]*[+-]?(?:{_NEGATIVE_ITEM}))*", re.IGNORECASE)


def join_negative_numbers(argv: Sequence[str]) -> list[str]:
    """``--value -1e-05`` as ``--value=-1e-05`` (and ``--value -0.3,1.2`` as
    ``--value=-0.3,1.2``): argparse takes ``-1e-05`` (what Python prints for -0.00001) for an
    option. No asktell option starts with a digit and no command has
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


# --- JSON: options and files --------------------------------------------------------------------


@contextlib.contextmanager
def json_limits(what: str, error: type[AskTellError]) -> Iterator[None]:
    """Turn the two ways Python's JSON reader fails on hostile text into ``error``: nesting deeper
    than the interpreter's stack (``RecursionError``) and integers of more than 4300 digits (a
    plain ``ValueError``: ``sys.get_int_max_str_digits``)."""
    try:
        yield
    except AskTellError:
        raise
    except RecursionError:
        raise error(
            f"{what} is nested too deeply to read; asktell keeps JSON nested at most {MAX_JSON_DEPTH} levels."
        ) from None
    except ValueError as exc:
        if "integer string conversion" not in str(exc):
            raise
        raise error(
            f"{what} holds an integer of more than {sys.get_int_max_str_digits()} digits; "
            "numbers must fit a float."
        ) from None


def _non_finite(option: str, got: str, error: type[AskTellError]) -> AskTellError:
    hint = (
        "; report a failed evaluation with --failed instead" if option in ("--value", "--constraint") else ""
    )
    return error(f"{option} must hold finite numbers, got {got}{hint}.")


def json_option(text: str, option: str, error: type[AskTellError], example: str) -> Any:
    """Parse an option's JSON text strictly: NaN and Infinity (not JSON) and a key given twice
    are refused, and so is text nested too deeply or with too long integers to read."""

    def refuse(name: str) -> Any:
        raise _non_finite(option, name, error)

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise error(f"{option} has the key {brief_repr(key)} twice; JSON object keys must be unique.")
            result[key] = value
        return result

    try:
        with json_limits(option, error):
            return json.loads(text, parse_constant=refuse, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise error(f"{option} must be JSON ({example}), got {brief_repr(text)}: {exc.msg}.") from None


def parse_value(text: str) -> Any:
    """The value of ``--value``: a number (a float), several separated by commas (``0.3,1.2``: a
    list of floats, one per objective) or a JSON list of numbers, in ASCII.

    NaN and infinity (``nan``, ``NaN``, ``inf``, ``1e999``, ...) are refused here, pointing to
    ``--failed``; so are non-ASCII digits (``'١٢'``, which Python's ``float`` reads as 12) and
    Python-only forms (``1_000``); the number of objectives is checked against the run's
    (:func:`check_value_count`) and the loop's ``tell`` checks the rest.

    Raises:
        TrialError: the text is not a number, a comma-separated list of numbers nor JSON, or
            holds a non-finite number.
    """
    return parse_numbers(text, "--value", TrialError, allow_json=True)


def parse_numbers(
    text: str, option: str, error: type[AskTellError], *, allow_json: bool = False
) -> float | list[float] | Any:
    """A number option that may hold several: ``0.42``, ``0.3,1.2`` (floats separated by commas,
    spaces around them ignored) or a JSON list ``[0.3, 1.2]``; finite ASCII numbers only.

    Returns a float for one number, a list of floats for a comma-separated list, and the parsed
    JSON for a JSON list (with ``allow_json``, any JSON: the caller checks its type; without it, a
    list of numbers). Raises ``error``.
    """
    if not text.isascii():
        raise error(
            f"{option} must be a number written in ASCII (digits 0-9, like 0.42 or -1e-3), "
            f"got {brief_repr(text)}."
        )
    stripped = text.strip(" \t\r\n")
    if "," in stripped and not stripped.startswith(("[", "{", '"')):
        return [_list_item(item, text, option, error) for item in stripped.split(",")]
    if _NON_FINITE.fullmatch(stripped):
        raise _non_finite(option, text, error)
    if _NUMBER.fullmatch(stripped):
        number = float(stripped)
        if not math.isfinite(number):
            raise _non_finite(option, truncate(text), error)
        return number
    example = "a number like 0.42, or several like 0.3,1.2 or [0.3, 1.2]"
    parsed = json_option(text, option, error, example)
    if allow_json:
        return parsed
    if not isinstance(parsed, list) or not all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in parsed
    ):
        raise error(f"{option} must be numbers like 1.0,2.0 or [1.0, 2.0], got {brief_repr(text)}.")
    return [float(x) for x in parsed]


def _list_item(item: str, text: str, option: str, error: type[AskTellError]) -> float:
    """One number of a comma-separated ``option`` (``text``: the whole option, for messages)."""
    item = item.strip(" \t\r\n")
    if _NON_FINITE.fullmatch(item):
        raise _non_finite(option, brief_repr(text), error)
    if not _NUMBER.fullmatch(item):
        got = f"{brief_repr(item)} in {brief_repr(text)}" if item else f"an empty item in {brief_repr(text)}"
        raise error(
            f"{option} must be numbers separated by commas, like 0.3,1.2 (one per objective), got {got}."
        )
    number = float(item)
    if not math.isfinite(number):  # 1e999
        raise _non_finite(option, brief_repr(text), error)
    return number


def check_value_count(value: Any, n_objectives: int) -> None:
    """Refuse, in the shell's words, a ``--value`` with another number of values than the run has
    objectives: a list for one objective, one number or a list of the wrong length for several.
    (What the values are is the data layer's to check.)

    Raises:
        TrialError: naming the run's number of objectives and the form ``--value`` takes.
    """
    several = isinstance(value, (list, tuple))
    if n_objectives == 1:
        if several:
            raise TrialError(
                f"this run has one objective: --value takes one number (a finite float), got a list of "
                f"{len(value)} "
                f"({truncate(_numbers_text(value), 100)}); a run of several objectives starts with "
                "asktell init --objectives N."
            )
        return
    example = ",".join(["0.5"] * min(n_objectives, 4)) + (",..." if n_objectives > 4 else "")
    if not several:
        got = "one number" if isinstance(value, float) else f"{brief_repr(json.dumps(value))}"
        raise TrialError(
            f"this run has {n_objectives} objectives: --value takes {n_objectives} numbers "
            f"separated by commas (like --value {example}), got {got}."
        )
    if len(value) != n_objectives:
        raise TrialError(
            f"this run has {n_objectives} objectives: --value takes {n_objectives} numbers "
            f"(like --value {example}), got {len(value)} ({truncate(_numbers_text(value), 100)})."
        )


def _numbers_text(values: Sequence[Any]) -> str:
    return ",".join(_format_item(v) for v in values)


def _format_item(v: Any) -> str:
    return repr(v) if isinstance(v, float) else json.dumps(v)[:40]


# --- options shared by subcommands --------------------------------------------------------------


def state_option(parser: argparse.ArgumentParser) -> None:
    """``--state FILE``, required."""
    parser.add_argument(
        "--state", required=True, type=file_path, metavar="FILE", help="the run's JSON state file"
    )


def state_or_url_options(parser: argparse.ArgumentParser) -> None:
    """``--state FILE``, or ``--url URL --study NAME [--token T]`` for a server (``asktell serve``)."""
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--state", type=file_path, metavar="FILE", help="the run's JSON state file")
    target.add_argument("--url", metavar="URL", help="an asktell server instead of a file (with --study)")
    parser.add_argument("--study", metavar="NAME", help="the study on the server (with --url)")
    parser.add_argument(
        "--token", metavar="TOKEN", help="the server's bearer token (default: $ASKTELL_TOKEN)"
    )


def outcome_options(parser: argparse.ArgumentParser) -> None:
    """``--value VALUE`` or ``--failed``, ``--constraint NAME=VALUE`` (repeatable) and ``--metadata
    JSON``: what ``tell`` and ``add`` report."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--value",
        metavar="VALUE",
        help="the value to minimize: a number in ASCII digits (0.42, -1e-05); for several "
        "objectives one number per objective, separated by commas (0.3,1.2) or as a JSON list "
        "([0.3, 1.2])",
    )
    group.add_argument("--failed", action="store_true", help="the evaluation failed")
    parser.add_argument(
        "--constraint",
        action="append",
        metavar="NAME=VALUE",
        help="a constrained outcome's measured value, e.g. mem=3.2 (repeat it for each outcome "
        "declared at init with --constraint 'NAME <= BOUND'; a completed trial gives every one)",
    )
    parser.add_argument("--metadata", metavar="JSON", help="a JSON object to store with the trial")


class Outcome(NamedTuple):
    """What ``tell`` and ``add`` report, read from the options of :func:`outcome_options`."""

    value: Any
    status: str
    metadata: dict[str, Any] | None
    constraints: dict[str, float] | None  # None: no --constraint given


def outcome(args: argparse.Namespace) -> Outcome:
    """The :class:`Outcome` the options of :func:`outcome_options` give."""
    value = None if args.failed else parse_value(args.value)
    metadata = (
        None
        if args.metadata is None
        else json_option(args.metadata, "--metadata", TrialError, 'an object like {"seconds": 12.5}')
    )
    constraints = None if args.constraint is None else parse_constraint_values(args.constraint)
    return Outcome(value, FAILED if args.failed else COMPLETED, metadata, constraints)


def parse_constraint_values(items: Sequence[str]) -> dict[str, float]:
    """The outcome values of ``--constraint NAME=VALUE`` options: ``{"mem": 3.2, ...}``, in order.

    The value follows the rules of a number ``--value`` (ASCII, finite); surrounding spaces are
    ignored. Which names a tell must give is the problem's to say (the data layer checks it).

    Raises:
        TrialError: an item not ``NAME=VALUE``, a value that is not a finite ASCII number, or a
            name given twice.
    """
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(" \t"), text.strip(" \t\r\n")
        if not sep or not name or name[-1] in "<>" or text.startswith("="):
            raise TrialError(
                f"--constraint takes NAME=VALUE, the outcome's measured value (like mem=3.2), got "
                f"{brief_repr(item)}; bounds such as 'mem <= 4' are declared at init."
            )
        if not text.isascii() or not _NUMBER.fullmatch(text):
            if text.isascii() and _NON_FINITE.fullmatch(text):
                raise _non_finite("--constraint", brief_repr(item), TrialError)
            raise TrialError(
                f"--constraint {brief_repr(name, 40)} must be a number written in ASCII (digits 0-9, "
                f"like 3.2 or -1e-3), got {brief_repr(text)}."
            )
        number = float(text)
        if not math.isfinite(number):  # 1e999
            raise _non_finite("--constraint", brief_repr(item), TrialError)
        if name in values:
            raise TrialError(
                f"--constraint gives the outcome {brief_repr(name, 40)} twice; give each outcome once."
            )
        values[name] = number
    return values


# --- what tell and add print -------------------------------------------------------------------


def trial_line(trial: Any) -> str:
    """The line ``tell`` and ``add`` print for the trial they finished: ``{"id", "status",
    "value"}``, with ``"constraints"`` (the outcome values) and ``"feasible"`` when it has them."""
    value_json = list(trial.value) if isinstance(trial.value, tuple) else trial.value
    line: dict[str, Any] = {"id": trial.id, "status": trial.status, "value": value_json}
    if trial.constraints is not None:
        line.update(constraints=dict(trial.constraints), feasible=trial.feasible)
    return json.dumps(line, allow_nan=False) + "\n"
