"""The service's side of the ``asktell`` command: ``serve``, and ``ask``/``tell``/``add`` with ``--url``.

::

    asktell serve --db sqlite:///runs.db --host 127.0.0.1 --port 8080 --token s3cret [--workers 2]
    asktell ask  --url http://127.0.0.1:8080 --study branin --n 2      # token: --token or $ASKTELL_TOKEN
    asktell tell --url http://127.0.0.1:8080 --study branin --trial 0 --value 0.42 [--constraint mem=3.2]
    asktell add  --url http://127.0.0.1:8080 --study branin --params '{"x1": 3.1, "x2": 2.3}' --value 0.4
    asktell tell --url http://127.0.0.1:8080 --study two --trial 3 --value 0.3,1.2   # several objectives
    asktell show --url http://127.0.0.1:8080 --study two    # the trials, the Pareto front, the hypervolume

``ask``, ``tell``, ``add`` and ``show`` print what their file-based forms print (one ``{"id", "params"}``
line per trial; the told or added trial), so a shell evaluator switches from a state file to a
server by changing its options. An ``add`` whose answer was lost is not retried (see
:class:`~asktell.service.client.Client`): the command fails, saying so, rather than add the point
twice. ``serve`` checks that it can listen on ``--host:--port`` before it prints anything or opens
the database: a port in use is ``asktell: error: cannot listen on ...`` (exit 2), not a banner and
then uvicorn's failure. This module imports no FastAPI: ``serve`` loads uvicorn and the app when it
runs.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import socket
import sys
from typing import Any

from asktell.checks import check_positive
from asktell.cli_options import Outcome, trial_line
from asktell.errors import CommandError, ServiceUnavailable


def _need(module: str) -> None:
    try:
        __import__(module)
    except ImportError as exc:
        raise ServiceUnavailable(
            f"this command needs the service extra: pip install 'asktell[service]' ({exc})."
        ) from None


def _client(args: argparse.Namespace) -> Any:
    if not args.study:
        raise CommandError("--url needs --study NAME: the study on the server to use.")
    _need("httpx")
    from asktell.service.client import Client

    return Client(args.url, token=args.token, retry_s=10.0)


def remote_ask(args: argparse.Namespace) -> int:
    """``asktell ask --url ... --study ...``: prints one JSON line per new trial."""
    with _client(args) as client:
        trials = client.ask(args.study, n=args.n)
    for trial in trials:
        print(json.dumps({"id": trial.id, "params": trial.params}, allow_nan=False))
    return 0


def remote_tell(args: argparse.Namespace, told: Outcome) -> int:
    """``asktell tell --url ... --study ...``: prints the told trial (``told``: the options'
    :class:`~asktell.cli_options.Outcome`)."""
    with _client(args) as client:
        trial = client.tell(
            args.study,
            args.trial,
            told.value,
            failed=told.status == "failed",
            metadata=told.metadata,
            constraints=told.constraints,
        )
    _print_trial(trial)
    return 0


def remote_add(args: argparse.Namespace, params: dict[str, Any], told: Outcome) -> int:
    """``asktell add --url ... --study ...``: prints the added trial."""
    with _client(args) as client:
        trial = client.add(
            args.study,
            params,
            told.value,
            failed=told.status == "failed",
            metadata=told.metadata,
            constraints=told.constraints,
        )
    _print_trial(trial)
    return 0


def remote_state(args: argparse.Namespace) -> Any:
    """``asktell show --url ... --study ...``: the study's whole state (``GET .../state``), which
    ``show`` prints as it prints a state file's."""
    with _client(args) as client:
        return client.state(args.study)


def _print_trial(trial: Any) -> None:
    print(trial_line(trial), end="")  # what the file-based tell and add print


def define_serve(parser: argparse.ArgumentParser) -> Any:
    """The options of ``asktell serve``; returns its run function."""
    parser.add_argument(
        "--db",
        default=os.environ.get("ASKTELL_DB", "sqlite:///asktell.db"),
        metavar="URL",
        help="a SQLAlchemy URL or a SQLite file path (default: $ASKTELL_DB or sqlite:///asktell.db); "
        "PostgreSQL: postgresql://user:password@host/db",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    parser.add_argument(
        "--token",
        default=None,
        metavar="TOKEN",
        help="the bearer token every request needs (default: $ASKTELL_TOKEN; "
        "without either, a random one is made and printed)",
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the database (default: 1)"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=1 << 20, help="request size limit (default: 1 MiB)"
    )
    parser.add_argument(
        "--max-state-bytes",
        type=int,
        default=64 << 20,
        help="size limit of a state import, PUT /studies/NAME/state (default: 64 MiB)",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn's log level (default: warning)")
    return serve


def serve(args: argparse.Namespace) -> int:
    """Run the app under uvicorn until interrupted."""
    for module in ("fastapi", "uvicorn", "sqlalchemy"):
        _need(module)
    import uvicorn

    from asktell.service.storage import Storage, normalize_url

    check_positive("--workers", args.workers, integer=True, error=CommandError)
    check_port(args.host, args.port)  # before anything is printed or created
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    url = normalize_url(args.db)
    try:  # create the tables once, and refuse a bad URL before starting workers
        Storage(url).close()
    except (ArgumentError, NoSuchModuleError, OperationalError, ValueError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise CommandError(f"cannot open the database {_redact(url)!r}: {reason}") from None
    token = args.token or os.environ.get("ASKTELL_TOKEN")
    if not token:
        token = secrets.token_urlsafe(24)
        print(
            f"asktell serve: no --token or ASKTELL_TOKEN given; this run's token is {token}",
            file=sys.stderr,
            flush=True,
        )
    os.environ.update(
        ASKTELL_DB=url,
        ASKTELL_TOKEN=token,
        ASKTELL_MAX_BODY_BYTES=str(args.max_body_bytes),
        ASKTELL_MAX_STATE_BYTES=str(args.max_state_bytes),
    )
    print(
        f"asktell serve: http://{args.host}:{args.port} on {_redact(url)}, {args.workers} worker(s)",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        "asktell.service.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    return 0


def check_port(host: str, port: int) -> None:
    """Raise CommandError unless ``host:port`` can be listened on now (bound as uvicorn binds it,
    with SO_REUSEADDR, then released), so ``serve`` fails before it prints its address."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise CommandError(f"--port must be an integer from 0 to 65535, got {port!r}.")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "the address is already in use (is another server running there?); choose another --port"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges); choose another --port"
        else:
            why = f"{exc.strerror or exc}; check --host and --port"
        raise CommandError(f"cannot listen on {host}:{port}: {why}.") from None


def _redact(url: str) -> str:
    """The URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"
