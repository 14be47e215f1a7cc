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

Prints one markdown table and the goal: at 16 clients with RandomSearch, asktell's cycles/s at
least Optuna's (as users get it) and its p99 latency under 4x its p50 for both calls. Writes
``benchmarks/results/service.json`` and ``service.md`` (``--quick``: ``service_quick.*``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing as mp
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPACE = {
    "x1": {"type": "real", "low": -5.0, "high": 10.0},
    "x2": {"type": "real", "low": 0.0, "high": 15.0},
}
FULL_PLAN = {"random": {1: 300, 4: 100, 16: 100}, "bayesopt": {1: 20, 4: 6, 16: 2}}
QUICK_PLAN = {"random": {1: 60, 4: 25, 16: 8}, "bayesopt": {1: 8, 4: 3, 16: 1}}


def branin(params: dict[str, float]) -> float:
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


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
    parser.add_argument("--render", type=Path, default=None, help="print the table of a results .json again")
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


def _asktell_worker(url, token, study, cycles, barrier, queue) -> None:
    import asktell

    client = asktell.Client(url, token, retry_s=120.0)
    client.health()
    out: dict[str, Any] = {"ask": [], "tell": [], "told": {}, "asked": [], "errors": []}
    barrier.wait()
    out["start"] = time.time()
    for _ in range(cycles):
        try:
            t0 = time.perf_counter()
            (trial,) = client.ask(study)
            t1 = time.perf_counter()
            out["asked"].append(trial.id)
            value = branin(trial.params)
            t2 = time.perf_counter()
            client.tell(study, trial.id, value)
            t3 = time.perf_counter()
        except Exception as exc:  # counted and shown, not hidden
            out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        out["ask"].append(t1 - t0)
        out["tell"].append(t3 - t2)
        out["told"][trial.id] = value
    out["end"] = time.time()
    client.close()
    queue.put(out)


def run_asktell(loop: str, clients: int, cycles: int, workers: int) -> dict[str, Any]:
    import asktell

    with tempfile.TemporaryDirectory(prefix="asktell-bench-") as tmp:
        server = Server(f"sqlite:///{tmp}/asktell.db", Path(tmp) / "server.log", workers)
        try:
            client = asktell.Client(server.url, server.token)
            client.create_study("bench", loop, SPACE, seed=0)
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


def _optuna_sampler(loop: str) -> Any:
    import optuna

    if loop == "random":
        return optuna.samplers.RandomSampler(seed=None)
    return optuna.samplers.GPSampler(seed=None)


def _optuna_worker(url, wal, loop, cycles, barrier, queue) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(
        study_name="bench", storage=_optuna_storage(url, wal), sampler=_optuna_sampler(loop)
    )
    distributions = {
        name: optuna.distributions.FloatDistribution(spec["low"], spec["high"])
        for name, spec in SPACE.items()
    }
    out: dict[str, Any] = {"ask": [], "tell": [], "told": {}, "asked": [], "errors": []}
    barrier.wait()
    out["start"] = time.time()
    for _ in range(cycles):
        try:
            t0 = time.perf_counter()
            trial = study.ask(distributions)
            t1 = time.perf_counter()
            out["asked"].append(trial._trial_id)
            value = branin(trial.params)
            t2 = time.perf_counter()
            study.tell(trial, value)
            t3 = time.perf_counter()
        except Exception as exc:
            out["errors"].append(f"{type(exc).__name__}: {exc}"[:300])
            continue
        out["ask"].append(t1 - t0)
        out["tell"].append(t3 - t2)
        out["told"][trial._trial_id] = value
    out["end"] = time.time()
    queue.put(out)


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
    head = (
        "| loop | clients | system | cycles | cycles/s | ask p50 / p99 ms | tell p50 / p99 ms "
        "| wall s | dup / lost / errors |\n|---|---:|---|---:|---:|---:|---:|---:|---|"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"| {r['loop']} | {r['clients']} | {r['system']} | {r['cycles']} "
            f"| {r['cycles_per_s']:.1f} | {r['ask_p50_ms']:.1f} / {r['ask_p99_ms']:.1f} "
            f"| {r['tell_p50_ms']:.1f} / {r['tell_p99_ms']:.1f} | {r['wall_s']:.1f} "
            f"| {r['duplicated']} / {r['lost']} / {r['errors']} |"
        )
    return "\n".join(lines)


def goals(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    pick = {(r["system"], r["loop"], r["clients"]): r for r in rows}
    ours, theirs = pick.get(("asktell", "random", 16)), pick.get(("Optuna", "random", 16))
    if ours and theirs:
        ratio = ours["cycles_per_s"] / theirs["cycles_per_s"]
        verdict = "PASS" if ratio >= 1 else "MISS"
        out.append(
            f"{verdict}: 16 clients, RandomSearch: asktell {ours['cycles_per_s']:.1f} cycles/s, "
            f"Optuna {theirs['cycles_per_s']:.1f} ({ratio:.2f}x)"
        )
    if ours:
        for call in ("ask", "tell"):
            p50, p99 = ours[f"{call}_p50_ms"], ours[f"{call}_p99_ms"]
            verdict = "PASS" if p99 < 4 * p50 else "MISS"
            out.append(
                f"{verdict}: 16 clients, RandomSearch: asktell {call} p99 {p99:.1f} ms "
                f"= {p99 / p50:.2f}x p50 {p50:.1f} ms (goal < 4x)"
            )
    ours_bad = [r for r in rows if r["system"] == "asktell" and _faults(r)]
    verdict = "MISS" if ours_bad else "PASS"
    out.append(f"{verdict}: asktell: no duplicated, lost or unaccounted trials, no errors, in every run")
    for r in ours_bad:
        out.append(f"  asktell {r['loop']} {r['clients']}: {_faults(r)} {r['error_samples']}")
    for r in rows:
        if r["system"] != "asktell" and _faults(r):
            out.append(
                f"note: {r['system']} {r['loop']} {r['clients']} clients: {_faults(r)}; "
                f"e.g. {r['error_samples'][:1]}"
            )
    return out


def _faults(row: dict[str, Any]) -> str:
    names = ("duplicated", "lost", "unaccounted", "errors")
    return ", ".join(f"{row[k]} {k}" for k in names if row[k])


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        saved = json.loads(args.render.read_text())
        print("\n".join([saved["header"], "", table(saved["rows"]), "", *goals(saved["rows"])]))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import optuna

    import asktell

    plan = QUICK_PLAN if args.quick else FULL_PLAN
    loops = [x.strip() for x in args.loops.split(",") if x.strip()]
    counts = [int(x) for x in args.clients.split(",")]
    rows = []
    for loop in loops:
        for clients in counts:
            cycles = args.cycles or plan[loop].get(clients, max(1, 200 // clients))
            wanted = {x.strip().lower() for x in args.systems.split(",")}
            systems = [("asktell", None)] if "asktell" in wanted else []
            if "optuna" in wanted:
                systems.append(("Optuna", False))
                if args.optuna_wal and loop == "random":
                    systems.append(("Optuna (WAL)", True))
            for system, wal in systems:
                print(f"... {loop}, {clients} clients x {cycles} cycles: {system}", file=sys.stderr)
                if system == "asktell":
                    row = run_asktell(loop, clients, cycles, args.server_workers)
                else:
                    row = run_optuna(loop, clients, cycles, bool(wal))
                rows.append(row)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    header = (
        f"asktell {asktell.__version__} vs Optuna {optuna.__version__}, SQLite; {machine()}; "
        f"{stamp}{' (--quick)' if args.quick else ''}"
    )
    text = "\n".join([header, "", table(rows), "", *goals(rows)])
    print(text)
    stem = args.out or RESULTS / ("service_quick" if args.quick else "service")
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".md").write_text(text + "\n")
    stem.with_suffix(".json").write_text(
        json.dumps({"header": header, "rows": rows, "goals": goals(rows)}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
