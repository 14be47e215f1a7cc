"""Where one BayesOpt ask spends its time, before and after issue 17, beside Optuna's GPSampler.

Run ``python benchmarks/profile_ask.py`` (``--quick``: fewer steps). For each case (a problem and
a number of completed trials), the same completed trials (the first ``n`` points of a Sobol
sequence on the problem, so every method starts from identical data) seed three methods, which
then take ``--steps`` ask/tell steps each, telling the true values:

- ``asktell``: ``BayesOpt()`` with today's defaults (``refit="auto"``, ``fast_path=True``);
- ``asktell-main``: ``BayesOpt(refit="always", fast_path=False)``, which asks what main asked
  before issue 17 (the stored-run replays in ``tests/compat`` hold it to that);
- ``optuna-gp``: Optuna's ``GPSampler`` (seeded; the trials added with ``study.add_trial``).

Printed: per case and method the median wall time of an ask and, for asktell, its split into the
GP fit (``fit_seconds``, the marginal-likelihood fit or the conditioning), the acquisition
optimization (``acq_seconds``) and the rest (the staleness check, state bookkeeping, encoding,
deduplication); the ratio to GPSampler measured in the same run; and the first ask of each
method (asktell's fits from scratch there, GPSampler's fits too). Written:
``benchmarks/results/profile_ask.json``. One thread (``--threads``), one method at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = [("branin", 40), ("hartmann6", 40), ("mixed", 40), ("hartmann6", 500), ("hartmann6", 1000)]


def _sobol_trials(instance, n: int, seed: int) -> list[tuple[dict[str, Any], float]]:
    from asktell.loops import Sobol

    loop = Sobol()
    state = loop.init(instance.space, seed=seed)
    state, trials = loop.ask(state, n=n)
    return [(t.params, float(instance(t.params))) for t in trials]


def _asktell(instance, known, steps: int, seed: int, **options) -> list[dict[str, float]]:
    from asktell.loops import BayesOpt

    loop = BayesOpt(**options)
    state = loop.init(instance.space, seed=seed)
    for params, value in known:
        state = loop.add(state, params, value)
    out = []
    for _ in range(steps):
        start = time.perf_counter()
        state, (trial,) = loop.ask(state)
        total = time.perf_counter() - start
        meta = trial.metadata
        fit, acq = meta.get("fit_seconds", 0.0), meta.get("acq_seconds", 0.0)
        out.append(
            {"total": total, "fit": fit, "acq": acq, "rest": total - fit - acq, "plan": meta.get("fit")}
        )
        state = loop.tell(state, trial.id, float(instance(trial.params)))
    return out


def _optuna(instance, known, steps: int, seed: int) -> list[dict[str, float]]:
    import optuna

    from benchmarks.harness.peers import optuna_distributions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = optuna_distributions(instance.space)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=seed))
    for params, value in known:
        study.add_trial(optuna.trial.create_trial(params=params, distributions=distributions, value=value))
    out = []
    for _ in range(steps):
        start = time.perf_counter()
        trial = study.ask(distributions)
        total = time.perf_counter() - start
        out.append({"total": total})
        study.tell(trial, float(instance(trial.params)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="ask/tell steps per method and case")
    parser.add_argument("--quick", action="store_true", help="3 steps, the 40-trial cases only")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", help="comma-separated problem:trials (default: all), e.g. branin:40")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "profile_ask.json"))
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import torch

    torch.set_num_threads(args.threads)
    from benchmarks.harness.problems import global_bo

    steps = 3 if args.quick else args.steps
    cases = [c for c in CASES if not args.quick or c[1] <= 40]
    if args.cases:
        cases = [(name, int(n)) for name, n in (item.split(":") for item in args.cases.split(","))]
    results = []
    for name, n in cases:
        instance = global_bo(name).instance(args.seed)
        known = _sobol_trials(instance, n, args.seed)
        runs = {
            "asktell": _asktell(instance, known, steps, args.seed),
            "asktell-main": _asktell(instance, known, steps, args.seed, refit="always", fast_path=False),
            "optuna-gp": _optuna(instance, known, steps, args.seed),
        }
        row: dict[str, Any] = {"problem": name, "n": n, "steps": steps}
        for method, asks in runs.items():
            row[method] = {k: statistics.median(a[k] for a in asks) for k in asks[0] if k != "plan"}
            row[method]["first"] = asks[0]["total"]  # from trials alone: asktell's fit is cold
            if "plan" in asks[0]:
                row[method]["plans"] = [a["plan"] for a in asks]
        results.append(row)
        gp = row["optuna-gp"]["total"]
        print(f"{name} with {n} trials (median of {steps} asks; seconds):")
        for method in ("asktell", "asktell-main"):
            r = row[method]
            print(
                f"  {method:13s} {r['total']:.4f} = fit {r['fit']:.4f} + acquisition {r['acq']:.4f} "
                f"+ rest {r['rest']:.4f}  ({r['total'] / gp:.2f}x GPSampler)"
            )
        print(f"  {'optuna-gp':13s} {gp:.4f}", flush=True)
        first = {m: row[m]["first"] for m in runs}
        print(
            "  first ask (asktell: a cold fit): "
            + ", ".join(f"{m} {t:.3f}" for m, t in first.items())
            + f" ({first['asktell'] / first['optuna-gp']:.2f}x GPSampler)"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"threads": args.threads, "cases": results}, indent=1) + "\n")


if __name__ == "__main__":
    main()
