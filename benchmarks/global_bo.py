"""Global Bayesian optimization: asktell's BayesOpt against its peers, same problems, same seeds.

Run ``make bench-bo`` (or ``python benchmarks/global_bo.py``); ``--quick`` is a short version (3
seeds, budgets of 15-28 evaluations, 2 runs side by side, no scale test). Problems: the registry's
global-BO problems (Branin, Hartmann6, shifted Ackley-10 and Rosenbrock-4, a mixed space, noisy
Hartmann6; :mod:`benchmarks.harness.problems`); peers: random search, Optuna TPE and GP samplers,
scikit-optimize's GP, a plain BoTorch loop, Ax's Client (:mod:`benchmarks.harness.peers`).

Printed: one markdown table per problem (median and interquartile range of the final simple regret
over seeds, median optimizer overhead per ask, mean overhead of the last 10 asks), a summary table,
then the goals:

- asktell has the lowest median final regret on at least 4 of the 6 problems;
- asktell's median final regret is never above 1.5x the best peer's (regrets below 1e-6 count as
  1e-6: both have solved the problem);
- asktell's median overhead per ask (all asks of all problems) is at most Optuna GPSampler's and at
  most a third of the plain BoTorch loop's;
- scale: with 500 completed trials of Hartmann6 (the same random points for both), one asktell ask
  takes at most half of one Optuna GPSampler ask, both cold (first ask) and warm (median of the
  following asks, after a warm start from the previous one).

Written: ``benchmarks/results/global_bo.json`` (every run's per-evaluation regret and overhead, the
summary, the goals, versions and threads) and ``global_bo.png``; ``--quick`` writes
``global_bo_quick.*``. Runs are recorded as they finish (``--resume``; ``--report-only [FILE ...]``
reports on recorded runs, e.g. ``benchmarks/results/bo/all/global_bo.json``, without running).

Every process uses ``--threads`` threads (default 1, set before torch is imported). ``--jobs N``
runs N single-threaded runs side by side; overheads are measured inside each run, but runs sharing
a machine can slow each other a little, so publish tables made with ``--jobs`` no larger than the
number of physical cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import report  # noqa: E402  (no torch before the threads are set)
from benchmarks.harness.report import Goal  # noqa: E402
from benchmarks.harness.suite import Suite  # noqa: E402

REGRET_FLOOR = 1e-6  # regrets below this count as solved in the ratio goals
WINS_NEEDED = 4
WORST_RATIO = 1.5
SCALE_TRIALS = 500


def _methods() -> dict[str, Any]:
    from benchmarks.harness import peers

    return {
        "asktell": peers.asktell_bayesopt,
        **{m: peers.PEERS[m] for m in ("random", "optuna-tpe", "optuna-gp", "skopt-gp", "botorch", "ax")},
    }


class GlobalBO(Suite):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--scale",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"run the {SCALE_TRIALS}-trial scale test (default: on, off with --quick and --report-only)",
        )
        parser.add_argument("--scale-only", action="store_true", help="only the scale test")
        parser.add_argument("--scale-repeats", type=int, default=3, help="asks timed per method")

    def select_problems(self, args: argparse.Namespace) -> list[str]:
        return [] if args.scale_only else super().select_problems(args)

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        scale = saved.get("scale")
        default = not args.quick and args.report_only is None
        if scale is None and (args.scale_only or (default if args.scale is None else args.scale)):
            scale = scale_test(args.scale_repeats)
        return {"scale": (scale_text(scale), scale)} if scale else {}

    def goals(
        self, summary: dict, methods: list[str], problems: list[str], extra: dict[str, Any]
    ) -> list[Goal]:
        return evaluate_goals(
            summary, methods, problems, extra.get("scale"), set(problems) == set(self.problems)
        )


def _problems() -> dict[str, Any]:
    from benchmarks.harness.problems import GLOBAL_BO

    return GLOBAL_BO


SUITE = GlobalBO(
    "global_bo",
    "benchmarks.global_bo",
    _problems,
    _methods,
    "Global-BO benchmark: asktell vs Optuna, scikit-optimize, BoTorch, Ax.",
)


# --- goals -----------------------------------------------------------------------------------------
def evaluate_goals(
    summary: dict, methods: list[str], problems: list[str], scale: dict | None, all_problems: bool
) -> list[Goal]:
    """The issue's goals; the win count is judged only when every problem ran."""
    goals: list[Goal] = []
    peers = [m for m in methods if m != "asktell"]
    if "asktell" in methods and peers and problems:
        ratios = {}
        for p in problems:
            cells = summary["cells"][p]
            theirs = [x for m in peers if not math.isnan(x := cells[m]["median_regret"])]
            if not math.isnan(mine := cells["asktell"]["median_regret"]) and theirs:
                ratios[p] = max(mine, REGRET_FLOOR) / max(min(theirs), REGRET_FLOOR)
        wins = [p for p, r in ratios.items() if r <= 1.0]
        measured = f"wins on {len(wins)} of {len(ratios)}: {', '.join(wins) or 'none'}"
        goal = f"lowest median regret on >= {WINS_NEEDED} of the 6 problems"
        if all_problems and len(ratios) == len(problems):
            goals.append(Goal.at_least(goal, measured, len(wins), WINS_NEEDED, "problem", wins=wins))
        else:
            goals.append(Goal(goal, measured, None))
        worst = max(ratios.values(), default=math.nan)
        goals.append(
            Goal.at_most(
                f"median regret <= {WORST_RATIO}x the best peer's on every problem",
                "ratio to the best peer: " + ", ".join(f"{p} {r:.2f}" for p, r in ratios.items()),
                worst,
                WORST_RATIO,
                ratios=ratios,
            )
        )
    overall = summary["overall"]
    mine, mine10 = (
        overall.get("asktell", {}).get(k, math.nan) for k in ("median_overhead_s", "last10_overhead_s")
    )
    for peer, factor, goal in (
        ("optuna-gp", 1.0, "overhead per ask <= Optuna GPSampler's"),
        ("botorch", 1 / 3, "overhead per ask <= 1/3 of the plain BoTorch loop's"),
    ):
        if not problems:
            continue
        theirs, theirs10 = (
            overall.get(peer, {}).get(k, math.nan) for k in ("median_overhead_s", "last10_overhead_s")
        )
        ratio = mine / theirs if theirs > 0 else math.nan
        measured = (
            f"asktell {report.seconds(mine)} s, {peer} {report.seconds(theirs)} s"
            + ("" if math.isnan(ratio) else f" (ratio {ratio:.2f})")
            + f"; last 10 asks of a run: asktell {report.seconds(mine10)} s, "
            + f"{peer} {report.seconds(theirs10)} s"
        )
        goals.append(Goal.at_most(goal, measured, ratio, factor))
    for phase in ("cold", "warm") if scale else ():
        goal = f"scale ({SCALE_TRIALS} trials, 6-d), {phase} ask: asktell <= 0.5x Optuna GPSampler"
        if "error" in scale["asktell"] or "error" in scale["optuna-gp"]:
            goals.append(Goal(goal, "a method failed; see the scale table", None))
            continue
        a, o = scale["asktell"][phase], scale["optuna-gp"][phase]
        goals.append(
            Goal.at_most(goal, f"asktell {a:.3f} s, optuna-gp {o:.3f} s (ratio {a / o:.2f})", a / o, 0.5)
        )
    return goals


# --- scale test ------------------------------------------------------------------------------------
def _scale_data(seed: int) -> tuple[Any, list[dict[str, Any]], list[float]]:
    """The space of Hartmann6 and 500 random points in it with their values."""
    import numpy as np

    problem = SUITE.problems["hartmann6"]
    instance, space = problem.instance(seed), problem.space
    rng = np.random.default_rng([seed, SCALE_TRIALS])
    points = [
        space.check(dict(zip(space.names, row, strict=True)))
        for row in rng.random((SCALE_TRIALS, space.dim)).tolist()
    ]
    return space, points, [instance(p) for p in points]


def _timings(times: list[float]) -> dict[str, Any]:
    return {"times_s": times, "cold": times[0], "warm": report.median(times[1:] or times)}


def _scale_asktell(space: Any, points: list, values: list, repeats: int, seed: int) -> dict:
    from asktell.loops import BayesOpt
    from asktell.state import FAILED

    loop = BayesOpt()
    state = loop.init(space, seed=seed)
    for p, v in zip(points, values, strict=True):
        state = loop.add(state, p, v)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, (trial,) = loop.ask(state, 1)
        times.append(time.perf_counter() - t0)
        state = loop.tell(state, trial.id, None, status=FAILED)
    return _timings(times)


def _scale_optuna(space: Any, points: list, values: list, repeats: int, seed: int) -> dict:
    import optuna
    from optuna.samplers import GPSampler

    from benchmarks.harness.peers import optuna_distributions

    distributions = optuna_distributions(space)
    study = optuna.create_study(direction="minimize", sampler=GPSampler(seed=seed))
    study.add_trials(
        [
            optuna.trial.create_trial(params=p, distributions=distributions, value=v)
            for p, v in zip(points, values, strict=True)
        ]
    )
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        trial = study.ask(distributions)
        times.append(time.perf_counter() - t0)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return _timings(times)


def scale_test(repeats: int, seed: int = 0) -> dict[str, Any]:
    """Time asks of asktell's BayesOpt and Optuna's GPSampler with 500 completed Hartmann6 trials.

    Both see the same random points. Each method asks, the trial is told failed (so the data stay
    the 500 completed trials), and it asks again: the first ask is cold, the later ones warm-start
    from the previous ask's hyperparameters as they would in a running study. A method that raises
    is reported with its error; the other is still timed.
    """
    space, points, values = _scale_data(seed)
    out: dict[str, Any] = {"n_trials": SCALE_TRIALS, "dim": space.dim, "repeats": repeats}
    for name, run in (("asktell", _scale_asktell), ("optuna-gp", _scale_optuna)):
        print(f"scale test: {name} ...", file=sys.stderr, flush=True)
        try:
            out[name] = run(space, points, values, repeats, seed)
        except Exception as exc:  # report it, keep the other method's timing
            where = traceback.extract_tb(exc.__traceback__)[-1]
            out[name] = {"error": f"{type(exc).__name__}: {exc} ({where.filename}:{where.lineno})"}
    return out


def scale_text(scale: dict[str, Any]) -> str:
    rows = []
    for m in ("asktell", "optuna-gp"):
        t = scale[m]
        if "error" in t:
            rows.append([m, f"failed: {t['error']}", "", ""])
        else:
            rows.append(
                [m, f"{t['cold']:.3f}", f"{t['warm']:.3f}", ", ".join(f"{x:.3f}" for x in t["times_s"])]
            )
    title = f"### Scale: one ask with {SCALE_TRIALS} completed Hartmann6 trials (6-d)"
    return report.table(["method", "cold ask (s)", "warm ask, median (s)", "all asks (s)"], rows, title=title)


if __name__ == "__main__":
    sys.exit(SUITE.main())
