"""The ask/tell service under concurrent clients, against Optuna's RDB storage on the same machine.

Run ``make bench-service`` (or ``python benchmarks/service.py``); ``--quick`` is a short version.

For each loop (RandomSearch, to measure the service rather than the model; BayesOpt, with few
cycles) and each number of client processes (1, 4, 16):

- **asktell**: a fresh ``asktell serve`` (one uvicorn process, a new SQLite file in WAL mode, the
  defaults) on 127.0.0.1; every client process runs ``asktell.Client.ask`` / ``tell`` cycles on
  one study.
- **Optuna**: the same number of processes, each with ``optuna.load_study(storage="sqlite:///...")``
  on a new SQLite file, running ``study.ask(distributions)`` / ``study.tell`` cycles: the
  ``RandomSampler`` against RandomSearch, the ``GPSampler`` against BayesOpt. Optuna's SQLite as
  users get it (rollback journal, ``synchronous=FULL``: an fsync per commit), and, with
  ``--optuna-wal`` (on by default), also with the durability asktell's default has (WAL,
  ``synchronous=NORMAL``: a commit survives a killed process, not a power cut).

The objective is a cheap function of the parameters (the point is the service's cost). Processes
import and connect first, then start together; the clock runs from the start to the last cycle.
Per call (ask, tell): p50 and p99 latency; per run: cycles per second, wall time, and the check
that no trial was handed out twice, no acknowledged tell is missing or different in storage, and
every trial is accounted for (``dup``, ``lost`` and ``errors`` must be 0).

Prints one markdown table and the goals: at 16 clients with RandomSearch, asktell's cycles/s at
least Optuna's (as users get it) and its p99 latency under 4x its p50 for both calls; no asktell run
duplicates, loses or fails a trial. Writes ``benchmarks/results/service.json`` and ``service.md``
(``--quick``: ``service_quick.*``); ``--report-only [FILE]`` prints the table of saved results again.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asktell.problems import BRANIN_SPACE, branin  # noqa: E402
from benchmarks.harness import machine, report  # noqa: E402
from benchmarks.harness.report import Goal  # noqa: E402
from benchmarks.harness.runner import RESULTS, ROOT  # noqa: E402

FULL_PLAN = {"random": {1: 300, 4: 100, 16: 100}, "bayesopt": {1: 20, 4: 6, 16: 2}}
QUICK_PLAN = {"random": {1: 60, 4: 25, 16: 8}, "bayesopt": {1: 8, 4: 3, 16: 1}}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few cycles (a smoke run)")
    parser.add_argument("--clients", default="1,4,16", help="comma-separated process counts")
    parser.add_argument("--loops", default="random,bayesopt", help="random, bayesopt or both")
    parser.add_argument("--cycles", type=int, default=None, help="cycles per client (default: by plan)")
    parser.add_argument(
        "--optuna-wal",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run Optuna on SQLite in WAL mode with synchronous=NORMAL",
    )
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn processes")
    parser.add_argument("--systems", default="asktell,optuna", help="asktell, optuna or both (default: both)")
    parser.add_argument("--out", type=Path, default=None, help="results file stem")
    parser.add_argument(
        "--report-only", "--render", nargs="?", const="", default=None, metavar="FILE",
        help="run nothing: print the table of saved results again (default: the results file)",
    )  # fmt: skip
    return parser.parse_args(argv)


# --- asktell -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``asktell serve`` in a subprocess on 127.0.0.1, stopped by its own PID."""

    def __init__(self, db: str, log: Path, workers: int = 1):
        self.port, self.token, self.log = _free_port(), secrets.token_hex(16), log
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable, "-m", "asktell.cli", "serve", "--db", db, "--host", "127.0.0.1",
            "--port", str(self.port), "--token", self.token, "--workers", str(workers),
        ]  # fmt: skip
        with open(log, "ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        self._wait()

    def _wait(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"asktell serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("asktell serve did not answer /health within 60 s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _cycles(ask: Any, tell: Any, cycles: int, barrier: Any, queue: Any) -> None:
    """Once every process is ready, ``cycles`` times: ``ask() -> (trial id, params, handle)``, the
    function, ``tell(handle, value)``; report the latencies, trials handed out and values told."""
    out: dict[str, Any] = {"ask": [], "tell": [], "told": {}, "asked": [], "errors": []}
    barrier.wait()
    out["start"] = time.time()
    for _ in range(cycles):
        try:
            t0 = time.perf_counter()
            trial_id, params, handle = ask()
            t1 = time.perf_counter()
            out["asked"].append(trial_id)
            value = branin(params)
            t2 = time.perf_counter()
            tell(handle, value)
            t3 = time.perf_counter()
        except Exception as exc:  # counted and shown, not hidden
            out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        out["ask"].append(t1 - t0)
        out["tell"].append(t3 - t2)
        out["told"][trial_id] = value
    out["end"] = time.time()
    queue.put(out)


def _asktell_worker(url, token, study, cycles, barrier, queue) -> None:
    import asktell

    client = asktell.Client(url, token, retry_s=120.0)
    client.health()

    def ask() -> tuple:
        (trial,) = client.ask(study)
        return trial.id, trial.params, trial.id

    _cycles(ask, lambda trial_id, value: client.tell(study, trial_id, value), cycles, barrier, queue)
    client.close()


def run_asktell(loop: str, clients: int, cycles: int, workers: int) -> dict[str, Any]:
    import asktell

    with tempfile.TemporaryDirectory(prefix="asktell-bench-") as tmp:
        server = Server(f"sqlite:///{tmp}/asktell.db", Path(tmp) / "server.log", workers)
        try:
            client = asktell.Client(server.url, server.token)
            client.create_study("bench", loop, BRANIN_SPACE, seed=0)
            results = _run_processes(_asktell_worker, (server.url, server.token, "bench", cycles), clients)
            trials = client.trials("bench")
            client.close()
        finally:
            server.stop()
        if any(r["errors"] for r in results):
            print(f"server log:\n{server.log.read_text()[-3000:]}", file=sys.stderr)
    stored = {t.id: (t.status, t.value) for t in trials}
    return _summarize("asktell", loop, clients, cycles, results, stored, len(trials))


# --- Optuna --------------------------------------------------------------------------------------


def _optuna_storage(url: str, wal: bool) -> Any:
    import optuna

    if not wal:
        return url
    storage = optuna.storages.RDBStorage(url)
    from sqlalchemy import event

    @event.listens_for(storage.engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    storage.engine.dispose()  # connections made before the listener get the pragmas too
    return storage


def _optuna_worker(url, wal, loop, cycles, barrier, queue) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.RandomSampler() if loop == "random" else optuna.samplers.GPSampler()
    study = optuna.load_study(study_name="bench", storage=_optuna_storage(url, wal), sampler=sampler)
    distributions = {
        n: optuna.distributions.FloatDistribution(p.low, p.high) for n, p in BRANIN_SPACE.params.items()
    }

    def ask() -> tuple:
        trial = study.ask(distributions)
        return trial._trial_id, trial.params, trial

    _cycles(ask, study.tell, cycles, barrier, queue)


def run_optuna(loop: str, clients: int, cycles: int, wal: bool) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="optuna-bench-") as tmp:
        url = f"sqlite:///{tmp}/optuna.db"
        optuna.create_study(study_name="bench", storage=_optuna_storage(url, wal))
        results = _run_processes(_optuna_worker, (url, wal, loop, cycles), clients)
        study = optuna.load_study(study_name="bench", storage=url)
        trials = study.get_trials(deepcopy=False)
    stored = {
        t._trial_id: ("completed" if t.state.name == "COMPLETE" else t.state.name.lower(), t.value)
        for t in trials
    }
    name = "Optuna (WAL)" if wal else "Optuna"
    return _summarize(name, loop, clients, cycles, results, stored, len(trials))


# --- shared --------------------------------------------------------------------------------------


def _run_processes(target: Any, args: tuple, clients: int) -> list[dict[str, Any]]:
    """Start ``clients`` processes, release them together, collect what each reports."""
    context = mp.get_context("fork")
    barrier, queue = context.Barrier(clients), context.Queue()
    processes = [context.Process(target=target, args=(*args, barrier, queue)) for _ in range(clients)]
    for process in processes:
        process.start()
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + 1800
    while len(results) < clients and time.monotonic() < deadline:
        try:
            results.append(queue.get(timeout=5))
        except Exception:  # queue.Empty: stop waiting once every process has exited
            if all(p.exitcode is not None for p in processes):
                break
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
            process.join()
    return results


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _summarize(system, loop, clients, cycles, results, stored, n_stored) -> dict[str, Any]:
    asks = [x for r in results for x in r["ask"]]
    tells = [x for r in results for x in r["tell"]]
    handed = [i for r in results for i in r["asked"]]
    told = {i: v for r in results for i, v in r["told"].items()}
    errors = [e for r in results for e in r["errors"]]
    errors += ["a client process reported nothing"] * (clients - len(results))
    duplicated = len(handed) - len(set(handed))
    lost = sum(
        1 for i, v in told.items() if stored.get(i) != ("completed", v)
    )  # an acknowledged tell not in storage as told
    unaccounted = n_stored - len(set(handed))  # trials in storage that no client was handed
    wall = (max(r["end"] for r in results) - min(r["start"] for r in results)) if results else 0
    done = len(told)
    return {
        "system": system,
        "loop": loop,
        "clients": clients,
        "cycles": done,
        "planned": clients * cycles,
        "wall_s": wall,
        "cycles_per_s": done / wall if wall > 0 else float("nan"),
        "ask_p50_ms": 1e3 * _percentile(asks, 50),
        "ask_p99_ms": 1e3 * _percentile(asks, 99),
        "tell_p50_ms": 1e3 * _percentile(tells, 50),
        "tell_p99_ms": 1e3 * _percentile(tells, 99),
        "duplicated": duplicated,
        "lost": lost,
        "unaccounted": unaccounted,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = [
        "loop", "clients", "system", "cycles", "cycles/s", "ask p50 / p99 ms", "tell p50 / p99 ms", "wall s",
        "dup / lost / errors",
    ]  # fmt: skip
    cells = [
        [
            r["loop"], r["clients"], r["system"], r["cycles"], f"{r['cycles_per_s']:.1f}",
            "{ask_p50_ms:.1f} / {ask_p99_ms:.1f}".format(**r),
            "{tell_p50_ms:.1f} / {tell_p99_ms:.1f}".format(**r),
            f"{r['wall_s']:.1f}", "{duplicated} / {lost} / {errors}".format(**r),
        ]
        for r in rows
    ]  # fmt: skip
    return report.table(
        head, cells, align=["---", "---:", "---", "---:", "---:", "---:", "---:", "---:", "---"]
    )


def goals(rows: list[dict[str, Any]]) -> list[Goal]:
    out = []
    pick = {(r["system"], r["loop"], r["clients"]): r for r in rows}
    ours, theirs = pick.get(("asktell", "random", 16)), pick.get(("Optuna", "random", 16))
    if ours and theirs:
        a, o = ours["cycles_per_s"], theirs["cycles_per_s"]
        measured = f"asktell {a:.1f} cycles/s, Optuna {o:.1f} ({a / o:.2f}x)"
        out.append(
            Goal.at_most("16 clients, RandomSearch: asktell's cycles/s >= Optuna's", measured, o / a, 1.0)
        )
    for call in ("ask", "tell") if ours else ():
        p50, p99 = ours[f"{call}_p50_ms"], ours[f"{call}_p99_ms"]
        measured = f"p99 {p99:.1f} ms = {p99 / p50:.2f}x p50 {p50:.1f} ms"
        out.append(
            Goal.at_most(f"16 clients, RandomSearch: asktell {call} p99 < 4x p50", measured, p99 / p50, 4.0)
        )
    bad = [r for r in rows if r["system"] == "asktell" and _faults(r)]
    measured = (
        "; ".join(f"{r['loop']} {r['clients']}: {_faults(r)} {r['error_samples']}" for r in bad) or "none"
    )
    runs = sum(r["system"] == "asktell" for r in rows)
    goal = "asktell: no duplicated, lost or unaccounted trials, no errors, in every run"
    out.append(Goal(goal, measured, not bad, f"{len(bad)} of {runs} runs" if bad else ""))
    return out


def notes(rows: list[dict[str, Any]]) -> list[str]:
    """The peers' faults (not goals, but worth saying)."""
    return [
        f"note: {r['system']} {r['loop']} {r['clients']} clients: {_faults(r)}; e.g. {r['error_samples'][:1]}"
        for r in rows
        if r["system"] != "asktell" and _faults(r)
    ]


def _faults(row: dict[str, Any]) -> str:
    names = ("duplicated", "lost", "unaccounted", "errors")
    return ", ".join(f"{row[k]} {k}" for k in names if row[k])


def render(header: str, rows: list[dict[str, Any]]) -> str:
    return "\n".join([header, "", table(rows), "", report.goals_text(goals(rows)), *notes(rows)])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    stem = args.out or RESULTS / ("service_quick" if args.quick else "service")
    if args.report_only is not None:
        saved = json.loads(Path(args.report_only or stem.with_suffix(".json")).read_text())
        print(render(saved["header"], saved["rows"]))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import optuna

    import asktell

    plan = QUICK_PLAN if args.quick else FULL_PLAN
    wanted = {x.strip().lower() for x in args.systems.split(",")}
    rows = []
    for loop in [x.strip() for x in args.loops.split(",") if x.strip()]:
        for clients in [int(x) for x in args.clients.split(",")]:
            cycles = args.cycles or plan[loop].get(clients, max(1, 200 // clients))
            systems = [("asktell", None)] if "asktell" in wanted else []
            if "optuna" in wanted:
                systems += [("Optuna", False)] + (
                    [("Optuna (WAL)", True)] if args.optuna_wal and loop == "random" else []
                )
            for system, wal in systems:
                print(f"... {loop}, {clients} clients x {cycles} cycles: {system}", file=sys.stderr)
                if system == "asktell":
                    rows.append(run_asktell(loop, clients, cycles, args.server_workers))
                else:
                    rows.append(run_optuna(loop, clients, cycles, bool(wal)))
    env = machine.environment(("asktell", "optuna", "sqlalchemy", "httpx", "uvicorn"))
    header = (
        f"asktell {asktell.__version__} vs Optuna {optuna.__version__}, SQLite; {env['machine']}, "
        f"Python {env['python']}; {env['date']}{' (--quick)' if args.quick else ''}"
    )
    text = render(header, rows)
    print(text)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text + "\n")
    payload = {
        "header": header,
        "environment": env,
        "rows": rows,
        "goals": [g.to_dict() for g in goals(rows)],
    }
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
