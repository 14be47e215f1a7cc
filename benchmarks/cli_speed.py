"""Wall time of each ``asktell`` command against a bare interpreter (``python -c pass``).

A shell evaluator runs ``asktell tell`` once per trial, so what the command costs beyond starting
Python is overhead on every trial. Goal: ``tell`` within 0.3 s of a bare interpreter (``tell``,
``add`` and ``show`` import no torch; ``ask`` imports the loop it runs). Optuna's import, for
scale, is timed too when Optuna is installed.

    .venv/bin/python benchmarks/cli_speed.py [--repeat 7] [--loop bayesopt]

Prints a markdown table of medians and interquartile ranges over ``--repeat`` runs each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.3  # tell's allowance over a bare interpreter


def _seconds(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def _quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default: 7)")
    parser.add_argument("--loop", default="bayesopt", help="the loop of the state (default: bayesopt)")
    args = parser.parse_args(argv)
    python = sys.executable
    asktell = [python, "-m", "asktell.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "space.json").write_text(json.dumps({"x": {"type": "real", "low": -5, "high": 10}}))
        subprocess.run([*asktell, "init", "--loop", args.loop, "--space", "space.json",
                        "--state", "run.json"], cwd=cwd, check=True, capture_output=True)
        n = args.repeat
        subprocess.run([*asktell, "ask", "--state", "run.json", "--n", str(2 * n)], cwd=cwd,
                       check=True, capture_output=True)
        commands: dict[str, list[list[str]]] = {
            "python -c pass": [[python, "-c", "pass"]] * n,
            "python -c 'import asktell'": [[python, "-c", "import asktell"]] * n,
            "asktell tell": [[*asktell, "tell", "--state", "run.json", "--trial", str(i),
                              "--value", str(0.1 * i)] for i in range(n)],
            "asktell add": [[*asktell, "add", "--state", "run.json", "--params", '{"x": 1.5}',
                             "--value", "2.0"]] * n,
            "asktell show": [[*asktell, "show", "--state", "run.json"]] * n,
            f"asktell ask ({args.loop})": [[*asktell, "ask", "--state", "run.json"]] * n,
        }
        try:
            import optuna  # noqa: F401

            commands["python -c 'import optuna'"] = [[python, "-c", "import optuna"]] * n
        except ImportError:
            pass
        times = {name: [_seconds(cmd, cwd) for cmd in runs] for name, runs in commands.items()}
    bare = statistics.median(times["python -c pass"])
    print(f"{n} runs each on {sys.platform}, Python {sys.version.split()[0]}; seconds:\n")
    print("| command | median | IQR | over a bare interpreter |")
    print("|---|---|---|---|")
    for name, xs in times.items():
        q1, med, q3 = _quartiles(xs)
        print(f"| `{name}` | {med:.3f} | {q1:.3f}-{q3:.3f} | {med - bare:+.3f} |")
    over = statistics.median(times["asktell tell"]) - bare
    verdict = "met" if over <= GOAL_S else f"missed by {over - GOAL_S:.3f} s"
    print(f"\ngoal: `asktell tell` within {GOAL_S} s of a bare interpreter; measured {over:.3f} s: {verdict}")


if __name__ == "__main__":
    main()
