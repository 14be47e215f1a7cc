"""Global Bayesian optimization: asktell's BayesOpt against its peers, same problems, same seeds.

Run ``make bench-bo`` (or ``python benchmarks/global_bo.py``); ``--quick`` is a short version (3
seeds, budgets of 15-28 evaluations, 2 runs side by side, no scale test). Problems are in
:mod:`benchmarks.problems` (Branin, Hartmann6, shifted Ackley-10 and Rosenbrock-4, a mixed space,
noisy Hartmann6) and the peers in :mod:`benchmarks.peers` (random search, Optuna TPE and GP
samplers, scikit-optimize's GP, a plain BoTorch loop, Ax's Client).

Printed: one markdown table per problem (median and interquartile range of the final simple regret
over seeds, median optimizer overhead per ask, mean overhead of the last 10 asks), a summary table,
then the goals, each PASS or MISS with its numbers:

- asktell has the lowest median final regret on at least 4 of the 6 problems;
- asktell's median final regret is never above 1.5x the best peer's (regrets below 1e-6 count as
  1e-6: both have solved the problem);
- asktell's median overhead per ask (all asks of all problems) is at most Optuna GPSampler's and at
  most a third of the plain BoTorch loop's;
- scale: with 500 completed trials of Hartmann6 (the same random points for both), one asktell ask
  takes at most half of one Optuna GPSampler ask, both cold (first ask) and warm (median of the
  following asks, after a warm start from the previous one).

Written: ``benchmarks/results/global_bo.json`` (every run's per-evaluation regret and overhead, the
summary, the goals, versions and threads) and ``global_bo.png`` (median and IQR of the regret at the
recommended point against evaluations); ``--quick`` writes ``global_bo_quick.*``.

Every process uses ``--threads`` threads (default 1; ``OMP_NUM_THREADS`` is set before torch is
imported). ``--jobs N`` runs N single-threaded runs side by side; overheads are measured inside each
run, but runs sharing a machine can slow each other a little, so publish tables made with
``--jobs`` no larger than the number of physical cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402  (imports no torch: threads are set first, in main)
from benchmarks.partial import PartialRuns, add_partial_options, complete_seeds  # noqa: E402


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Global-BO benchmark: asktell vs Optuna, scikit-optimize, BoTorch, Ax.",
    )
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0..n-1)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed of the list")
    parser.add_argument("--problems", default="all", help="comma-separated names, or all")
    parser.add_argument("--methods", default="all", help="comma-separated names, or all")
    parser.add_argument("--quick", action="store_true", help="3 seeds, small budgets, no scale")
    parser.add_argument(
        "--scale",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the 500-trial scale test (default: on, off with --quick)",
    )
    parser.add_argument("--scale-only", action="store_true", help="only the scale test")
    parser.add_argument("--scale-repeats", type=int, default=3, help="asks timed per method")
    parser.add_argument("--threads", type=int, default=1, help="threads per process")
    parser.add_argument("--jobs", type=int, default=None, help="runs side by side (default 1; --quick: 2)")
    add_partial_options(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    if args.report_only:
        args.resume = True
    if args.quick and args.seeds == parser.get_default("seeds"):
        args.seeds = 3
    if args.jobs is None:
        args.jobs = min(2, os.cpu_count() or 1) if args.quick else 1
    if args.scale is None:
        args.scale = not args.quick
    return args


def set_threads(threads: int) -> None:
    """Fix the thread count of every math library; call before torch is imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def _select(spec: str, known: Sequence[str], what: str) -> list[str]:
    if spec == "all":
        return list(known)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {list(known)} or 'all'.")
    return names


# --- running -------------------------------------------------------------------------------------
def _run_key(rec: dict[str, Any]) -> tuple[str, str, int]:
    return rec["method"], rec["problem"], rec["seed"]


def run_all(
    methods: list[str],
    problems: list[str],
    seeds: list[int],
    quick: bool,
    jobs: int,
    threads: int,
    partial: PartialRuns,
) -> list[dict[str, Any]]:
    """Every (method, problem, seed) run, as record dicts; progress goes to stderr.

    Runs already in ``partial`` are reused; each new one is added to it as soon as it finishes.
    """
    from benchmarks import peers

    cells = [(m, p, s) for s in seeds for p in problems for m in methods]
    todo = [cell for cell in cells if cell not in partial.done]
    records: list[dict[str, Any]] = [partial.done[cell] for cell in cells if cell in partial.done]
    start = time.perf_counter()

    def progress(rec: dict[str, Any]) -> None:
        rec = _finite(rec)
        partial.add(rec)
        records.append(rec)
        regret = rec["regret"][-1] if rec["regret"] else math.nan
        ovh = report.median(rec["overhead_s"])
        status = "ok" if rec["error"] is None else "FAILED: " + rec["error"].splitlines()[0]
        print(
            f"[{len(records)}/{len(cells)} {time.perf_counter() - start:7.1f} s] "
            f"{rec['method']:>10} {rec['problem']:<15} seed {rec['seed']}: "
            f"regret {regret:.3g}, {ovh:.3f} s/ask, run {rec['wall_s']:.1f} s, {status}",
            file=sys.stderr,
            flush=True,
        )

    if jobs <= 1:
        peers.init_worker(threads)
        for m, p, s in todo:
            progress(peers.run_job(m, p, s, quick))
        return records

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        jobs, mp_context=context, initializer=peers.init_worker, initargs=(threads,)
    ) as pool:
        futures = [pool.submit(peers.run_job, m, p, s, quick) for m, p, s in todo]
        for future in as_completed(futures):
            progress(future.result())
    return records


# --- scale test ----------------------------------------------------------------------------------
def _scale_data(seed: int) -> tuple[Any, list[dict[str, Any]], list[float]]:
    """The space of Hartmann6 and 500 random points in it with their values."""
    import numpy as np

    from benchmarks.problems import get_problem

    problem = get_problem("hartmann6")
    instance, space = problem.instance(seed), problem.space
    rng = np.random.default_rng([seed, report.SCALE_TRIALS])
    points = [
        space.check(dict(zip(space.names, row, strict=True)))
        for row in rng.random((report.SCALE_TRIALS, space.dim)).tolist()
    ]
    return space, points, [instance(p) for p in points]


def _timings(times: list[float]) -> dict[str, Any]:
    return {"times_s": times, "cold": times[0], "warm": report.median(times[1:] or times)}


def _scale_asktell(space: Any, points: list, values: list, repeats: int, seed: int) -> dict:
    import dataclasses

    from asktell import loops
    from asktell.state import COMPLETED, FAILED, Trial

    if not hasattr(loops, "BayesOpt"):
        return {"error": "asktell.loops.BayesOpt does not exist yet"}
    loop = loops.BayesOpt()
    state = loop.init(space, seed=seed)
    if hasattr(loop, "add"):
        for p, v in zip(points, values, strict=True):
            state = loop.add(state, p, v)
    else:  # the trajectory as if asked and told one by one, without 500 model fits
        trials = tuple(
            Trial(id=i, params=p, status=COMPLETED, value=float(v))
            for i, (p, v) in enumerate(zip(points, values, strict=True))
        )
        memo = dict(state.memo)
        if "sobol_issued" in memo and hasattr(loop, "initial_design_size"):
            # as in a real run, whose first trials came from the Sobol design
            memo["sobol_issued"] = loop.initial_design_size(space.dim)
        state = dataclasses.replace(state, trials=trials, counter=len(trials), memo=memo)
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

    from benchmarks.peers import optuna_distributions

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
    import traceback

    from benchmarks.peers import quiet

    quiet()
    space, points, values = _scale_data(seed)
    out: dict[str, Any] = {"n_trials": report.SCALE_TRIALS, "dim": space.dim, "repeats": repeats}
    for name, run in (("asktell", _scale_asktell), ("optuna-gp", _scale_optuna)):
        print(f"scale test: {name} ...", file=sys.stderr, flush=True)
        try:
            out[name] = run(space, points, values, repeats, seed)
        except Exception as exc:  # report it, keep the other method's timing
            where = traceback.extract_tb(exc.__traceback__)[-1]
            out[name] = {"error": f"{type(exc).__name__}: {exc} ({where.filename}:{where.lineno})"}
    return out


# --- main ----------------------------------------------------------------------------------------
def environment(threads: int) -> dict[str, Any]:
    from benchmarks import machine

    dists = (
        "asktell", "torch", "botorch", "gpytorch", "numpy", "scipy", "optuna", "greenlet",
        "scikit-optimize", "scikit-learn", "ax-platform", "matplotlib",
    )  # fmt: skip
    return machine.environment(dists, threads=threads)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from benchmarks import peers
    from benchmarks.problems import PROBLEMS, get_problem

    peers.quiet()
    env = environment(args.threads)
    print(
        f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, torch.get_num_threads()={env['torch_threads']}"
        f", jobs={args.jobs}; {env['machine']}; {env['date']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))

    problems = [] if args.scale_only else _select(args.problems, list(PROBLEMS), "problems")
    methods = _select(args.methods, peers.METHOD_NAMES, "methods")
    _, warning = peers.asktell_method()
    if warning and "asktell" in methods:
        print(f"WARNING: {warning}")
    skipped = {m: why for m in methods if (why := peers.get_method(m).unavailable())}
    for m, why in skipped.items():
        print(f"skipping {m}: {why}")
    methods = [m for m in methods if m not in skipped]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"seeds {seeds}; methods {methods}; problems {problems}\n")

    stem = "global_bo_quick" if args.quick else "global_bo"
    partial = PartialRuns(args.out / f"{stem}.partial.jsonl", _run_key, args.resume)
    if args.report_only:
        cells = [(m, p) for m in methods for p in problems]
        seeds = complete_seeds(partial.done, seeds, cells, lambda m, p, s: (m, p, s))
        print(f"report only: seeds every method finished on every problem: {seeds}")
    start = time.perf_counter()
    records = run_all(methods, problems, seeds, args.quick, args.jobs, args.threads, partial)
    summary = report.summarize(records, methods, problems) if problems else {"cells": {}, "overall": {}}
    texts = []
    for p in problems:
        prob = get_problem(p, quick=args.quick)
        note = f", d={prob.dim}" + (f", noise sd {prob.noise_sd}" if prob.noise_sd else "")
        texts.append(report.problem_table(p, prob.budget, summary["cells"][p], note))
    if problems:
        texts.append(report.summary_table(summary, methods, problems))

    scale = None
    if args.scale:
        scale = scale_test(args.scale_repeats)
        texts.append(report.scale_text(scale))
    goals = report.evaluate_goals(summary, methods, problems, scale, set(problems) == set(PROBLEMS))
    if warning and "asktell" in methods:
        goals.insert(0, {"goal": "asktell is BayesOpt", "ok": False, "detail": warning})
    texts.append(report.goals_text(goals))
    print("\n\n".join(texts))
    elapsed = time.perf_counter() - start
    print(f"\n{len(records)} runs in {elapsed:.0f} s")

    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        "environment": env,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "seeds": seeds,
        "methods": methods,
        "skipped": skipped,
        "problems": {
            p: {"budget": get_problem(p, quick=args.quick).budget, "optimum": PROBLEMS[p].optimum}
            for p in problems
        },
        "summary": summary,
        "goals": goals,
        "scale": scale,
        "elapsed_s": elapsed,
        "records": records,
    }
    json_path = args.out / f"{stem}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(payload), indent=1, allow_nan=False))
    tmp.replace(json_path)
    written = [json_path]
    if problems and records:
        png = args.out / f"{stem}.png"
        report.plot(records, methods, problems, png)
        written.append(png)
    print(
        "wrote " + ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in written)
    )
    return 0


def _finite(obj: Any) -> Any:
    """``obj`` as strict JSON data: NaN and infinities become None, numpy scalars Python numbers."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


if __name__ == "__main__":
    sys.exit(main())
