"""Hyperparameter tuning of scikit-learn models: asktell against Optuna, scikit-optimize, random search.

Run ``make bench-hpo`` (or ``python benchmarks/hpo.py``); ``--quick`` is a short version (2 seeds,
budgets of 10 and 20 evaluations, the cheaper tasks' data subsampled).

Tasks, built only from data sets that ship with scikit-learn; the loss is the 5-fold
cross-validated error (``1 - accuracy``, or the mean squared error for ElasticNet), on folds that
are shuffled with the run's seed and shared by every method of that seed:

============================  ===================================================================
task                          parameters
============================  ===================================================================
``svc-digits``                SVC: ``C`` in [1e-2, 1e3] and ``gamma`` in [1e-5, 1e-1], log scales
``hgb-breast-cancer``         HistGradientBoosting (50 iterations): learning rate (log), max leaf
                              nodes 4-32 (log), min samples per leaf 2-64 (log), l2 (log)
``rf-wine``                   random forest (50 trees): criterion (gini, entropy, log_loss),
                              max depth 1-12, max features (fraction 0.05-1)
``mlp-digits``                one-hidden-layer MLP (20 epochs of Adam): width 8-64 (log), initial
                              learning rate (log), L2 penalty alpha (log)
``elasticnet-diabetes``       ElasticNet: alpha in [1e-5, 10] (log), l1 ratio in [0, 1]
============================  ===================================================================

Methods, each through its public API with its documented defaults, seeded with the run's seed:

- ``asktell``: ``AskTellSearchCV(estimator, space, loop=BayesOpt())`` (the recommended loop);
- ``optuna-tpe`` and ``optuna-gp``: Optuna's ``TPESampler`` and ``GPSampler`` through
  ``study.ask(distributions)`` / ``study.tell``, the objective being ``cross_val_score`` on the same
  folds;
- ``skopt``: scikit-optimize's ``BayesSearchCV`` (a GP with ``gp_hedge``);
- ``random``: ``AskTellSearchCV`` with the ``RandomSearch`` loop (uniform on the same spaces, log
  scales included).

Each run makes the larger budget's evaluations (60); the best loss after the first 30 is the
30-evaluation result. That is exactly what a 30-evaluation run would have done, because no method
here plans with its budget (initial designs and startup trials are fixed sizes). Every evaluation is
a real cross-validation: nothing is cached between methods or runs. A failed fit counts as no value.

Printed: per budget a markdown table of the median (over seeds) best CV loss per task and method,
with the rank of each method on each task (1 = lowest median loss; medians equal to the 4
significant digits printed tie) and the mean rank over tasks,
then each method's median optimizer overhead per evaluation (run time minus cross-validation time),
then the goal: asktell has the best mean rank at both budgets.

Written: ``benchmarks/results/hpo.json`` (every run's losses per evaluation, timings, versions;
``--quick``: ``hpo_quick.json``). Every process uses one thread (``OMP_NUM_THREADS=1`` is set
before numpy and torch load); ``--jobs`` runs side by side (default 2).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.partial import PartialRuns, add_partial_options, complete_seeds  # noqa: E402

METHODS = ("asktell", "optuna-tpe", "optuna-gp", "skopt", "random")
TASKS = ("svc-digits", "hgb-breast-cancer", "rf-wine", "mlp-digits", "elasticnet-diabetes")
BUDGETS = (30, 60)
QUICK_BUDGETS = (10, 20)


def set_threads(threads: int) -> None:
    """One thread per process for every math library; call before numpy or torch load."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


# --- tasks ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """A model, a data set and a search space; ``loss = sign * mean CV score``."""

    name: str
    data: Callable[[bool], tuple[Any, Any]]  # quick -> (X, y)
    estimator: Callable[[], Any]
    space: Any  # asktell Space
    scoring: str
    classification: bool

    def loss(self, score: float) -> float:
        """The loss of a mean CV score: 1 - accuracy, or the MSE."""
        if not math.isfinite(score):
            return math.nan
        return 1.0 - score if self.scoring == "accuracy" else -score

    def cv(self, seed: int) -> Any:
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = StratifiedKFold if self.classification else KFold
        return folds(n_splits=5, shuffle=True, random_state=seed)


def _subsample(X: Any, y: Any, n: int, quick: bool) -> tuple[Any, Any]:
    if not quick or len(X) <= n:
        return X, y
    import numpy as np

    index = np.random.default_rng(0).permutation(len(X))[:n]
    return X[index], y[index]


def _digits(quick: bool) -> tuple[Any, Any]:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return _subsample(X, y, 600, quick)


def _digits_scaled(quick: bool) -> tuple[Any, Any]:
    X, y = _digits(quick)
    return X / 16.0, y


def _breast_cancer(quick: bool) -> tuple[Any, Any]:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(return_X_y=True)


def _wine(quick: bool) -> tuple[Any, Any]:
    from sklearn.datasets import load_wine

    return load_wine(return_X_y=True)


def _diabetes(quick: bool) -> tuple[Any, Any]:
    from sklearn.datasets import load_diabetes

    return load_diabetes(return_X_y=True)


def _svc() -> Any:
    from sklearn.svm import SVC

    return SVC()


def _hgb() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=50, early_stopping=False, random_state=0)


def _rf() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=50, random_state=0)


def _mlp() -> Any:
    return _width_mlp_class()()


def _enet() -> Any:
    from sklearn.linear_model import ElasticNet

    return ElasticNet(max_iter=2000)


@functools.cache
def _width_mlp_class() -> type:
    # built on first use: scikit-learn (and numpy) load only after the thread count is set
    from sklearn.neural_network import MLPClassifier

    class WidthMLP(MLPClassifier):
        """An MLP with one hidden layer whose ``width`` is a plain integer parameter (a search
        space holds numbers, not the ``hidden_layer_sizes`` tuple)."""

        def __init__(self, width=32, learning_rate_init=1e-3, alpha=1e-4, max_iter=20, random_state=0):
            super().__init__(
                hidden_layer_sizes=(width,),
                learning_rate_init=learning_rate_init,
                alpha=alpha,
                max_iter=max_iter,
                random_state=random_state,
            )
            self.width = width

        def fit(self, X, y):
            self.hidden_layer_sizes = (self.width,)
            return super().fit(X, y)

    return WidthMLP


def get_task(name: str) -> Task:
    from asktell import Categorical, Integer, Real, Space

    tasks = {
        "svc-digits": Task(
            "svc-digits",
            _digits,
            _svc,
            Space({"C": Real(1e-2, 1e3, log=True), "gamma": Real(1e-5, 1e-1, log=True)}),
            "accuracy",
            True,
        ),
        "hgb-breast-cancer": Task(
            "hgb-breast-cancer",
            _breast_cancer,
            _hgb,
            Space(
                {
                    "learning_rate": Real(1e-3, 1.0, log=True),
                    "max_leaf_nodes": Integer(4, 32, log=True),
                    "min_samples_leaf": Integer(2, 64, log=True),
                    "l2_regularization": Real(1e-4, 10.0, log=True),
                }
            ),
            "accuracy",
            True,
        ),
        "rf-wine": Task(
            "rf-wine",
            _wine,
            _rf,
            Space(
                {
                    "criterion": Categorical(["gini", "entropy", "log_loss"]),
                    "max_depth": Integer(1, 12),
                    "max_features": Real(0.05, 1.0),
                }
            ),
            "accuracy",
            True,
        ),
        "mlp-digits": Task(
            "mlp-digits",
            _digits_scaled,
            _mlp,
            Space(
                {
                    "width": Integer(8, 64, log=True),
                    "learning_rate_init": Real(1e-4, 0.3, log=True),
                    "alpha": Real(1e-6, 1.0, log=True),
                }
            ),
            "accuracy",
            True,
        ),
        "elasticnet-diabetes": Task(
            "elasticnet-diabetes",
            _diabetes,
            _enet,
            Space({"alpha": Real(1e-5, 10.0, log=True), "l1_ratio": Real(0.0, 1.0)}),
            "neg_mean_squared_error",
            False,
        ),
    }
    return tasks[name]


# --- methods -------------------------------------------------------------------------------------
def _search_cv_losses(task: Task, search: Any, budget: int) -> tuple[list[float], float]:
    """Losses in evaluation order (NaN for a failed candidate) and the CV seconds of a search."""
    import numpy as np

    results = search.cv_results_
    losses = [task.loss(float(s)) for s in results["mean_test_score"]]
    if "trial_id" in results:  # AskTellSearchCV leaves out batches whose fits all failed
        by_id = dict(zip((int(i) for i in results["trial_id"]), losses, strict=True))
        losses = [by_id.get(i, math.nan) for i in range(budget)]
    n_splits = search.n_splits_
    cv_seconds = float(np.sum(results["mean_fit_time"] + results["mean_score_time"]) * n_splits)
    return losses, cv_seconds


def _run_asktell(task: Task, X: Any, y: Any, seed: int, budget: int, loop: Any) -> tuple[list, float]:
    from asktell.integrations.sklearn import AskTellSearchCV

    search = AskTellSearchCV(
        task.estimator(),
        task.space,
        loop=loop,
        n_iter=budget,
        cv=task.cv(seed),
        scoring=task.scoring,
        refit=False,
        random_state=seed,
    )
    search.fit(X, y)
    return _search_cv_losses(task, search, budget)


def _run_skopt(task: Task, X: Any, y: Any, seed: int, budget: int) -> tuple[list, float]:
    from skopt import BayesSearchCV

    from benchmarks.peers import skopt_dimensions

    dims = {d.name: d for d in skopt_dimensions(task.space)}
    search = BayesSearchCV(
        task.estimator(),
        dims,
        n_iter=budget,
        cv=task.cv(seed),
        scoring=task.scoring,
        refit=False,
        random_state=seed,
    )
    search.fit(X, y)
    return _search_cv_losses(task, search, budget)


def _run_optuna(task: Task, X: Any, y: Any, seed: int, budget: int, sampler: Any) -> tuple[list, float]:
    import optuna
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    from benchmarks.peers import optuna_distributions

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    distributions = optuna_distributions(task.space)
    cv = task.cv(seed)
    losses, cv_seconds = [], 0.0
    for _ in range(budget):
        trial = study.ask(distributions)
        start = time.perf_counter()
        estimator = clone(task.estimator()).set_params(**trial.params)
        scores = cross_val_score(estimator, X, y, cv=cv, scoring=task.scoring, error_score=math.nan)
        cv_seconds += time.perf_counter() - start
        loss = task.loss(float(scores.mean()))
        losses.append(loss)
        if math.isfinite(loss):
            study.tell(trial, loss)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return losses, cv_seconds


def run_job(method: str, task_name: str, seed: int, budget: int, quick: bool) -> dict[str, Any]:
    """One (method, task, seed) run of ``budget`` evaluations, as a JSON-able record."""
    warnings.filterwarnings("ignore")  # convergence warnings of the models, experimental samplers
    import torch

    torch.set_num_threads(1)
    task = get_task(task_name)
    X, y = task.data(quick)
    start = time.perf_counter()
    error = None
    losses: list[float] = []
    cv_seconds = 0.0
    try:
        if method == "asktell":
            from asktell.loops import BayesOpt

            losses, cv_seconds = _run_asktell(task, X, y, seed, budget, BayesOpt())
        elif method == "random":
            from asktell.loops import RandomSearch

            losses, cv_seconds = _run_asktell(task, X, y, seed, budget, RandomSearch())
        elif method == "skopt":
            losses, cv_seconds = _run_skopt(task, X, y, seed, budget)
        elif method == "optuna-tpe":
            from optuna.samplers import TPESampler

            losses, cv_seconds = _run_optuna(task, X, y, seed, budget, TPESampler(seed=seed))
        elif method == "optuna-gp":
            from optuna.samplers import GPSampler

            losses, cv_seconds = _run_optuna(task, X, y, seed, budget, GPSampler(seed=seed))
        else:
            raise ValueError(f"unknown method {method!r}")
    except Exception as exc:  # noqa: BLE001 - a failed run is reported, not fatal
        import traceback

        error = "".join(traceback.format_exception(exc))
    wall = time.perf_counter() - start
    return {
        "method": method,
        "task": task_name,
        "seed": seed,
        "losses": [None if not math.isfinite(v) else v for v in losses],
        "wall_s": wall,
        "cv_s": cv_seconds,
        "error": error,
    }


def _init_worker(threads: int) -> None:
    set_threads(threads)


def _run_key(rec: dict[str, Any]) -> tuple[str, str, int]:
    return rec["method"], rec["task"], rec["seed"]


def run_all(jobs_list: list[tuple], jobs: int, partial: PartialRuns) -> list[dict[str, Any]]:
    """Every job's record; jobs already in ``partial`` are reused, new ones added as they finish."""
    records = [partial.done[job[:3]] for job in jobs_list if job[:3] in partial.done]
    total = len(jobs_list)
    jobs_list = [job for job in jobs_list if job[:3] not in partial.done]
    start = time.perf_counter()

    def progress(rec: dict[str, Any]) -> None:
        partial.add(rec)
        records.append(rec)
        done = [v for v in rec["losses"] if v is not None]
        status = "ok" if rec["error"] is None else "FAILED: " + rec["error"].strip().splitlines()[-1]
        print(
            f"[{len(records)}/{total} {time.perf_counter() - start:7.1f} s] "
            f"{rec['method']:>10} {rec['task']:<20} seed {rec['seed']}: "
            f"best {min(done) if done else math.nan:.4g}, run {rec['wall_s']:.1f} s "
            f"(cv {rec['cv_s']:.1f} s), {status}",
            file=sys.stderr,
            flush=True,
        )

    if jobs <= 1:
        for job in jobs_list:
            progress(run_job(*job))
        return records
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(1,)) as pool:
        futures = [pool.submit(run_job, *job) for job in jobs_list]
        for future in as_completed(futures):
            progress(future.result())
    return records


# --- report --------------------------------------------------------------------------------------
def best_at(losses: Sequence[float | None], budget: int) -> float:
    done = [v for v in losses[:budget] if v is not None]
    return min(done) if done else math.nan


def summarize(
    records: list[dict[str, Any]], methods: list[str], tasks: list[str], budgets: Sequence[int]
) -> dict[str, Any]:
    """Per budget: median best loss per (task, method), ranks per task, mean rank per method."""
    import numpy as np
    from scipy.stats import rankdata

    out: dict[str, Any] = {}
    for budget in budgets:
        medians: dict[str, dict[str, float]] = {}
        ranks: dict[str, dict[str, float]] = {}
        for task in tasks:
            medians[task] = {}
            for method in methods:
                bests = [
                    best_at(r["losses"], budget)
                    for r in records
                    if r["task"] == task and r["method"] == method and r["error"] is None
                ]
                bests = [b for b in bests if math.isfinite(b)]
                medians[task][method] = float(np.median(bests)) if bests else math.nan
            # medians equal to 4 significant digits (as printed) tie
            values = [_round4(medians[task][m]) for m in methods]
            filled = [v if math.isfinite(v) else math.inf for v in values]
            ranks[task] = dict(zip(methods, (float(r) for r in rankdata(filled)), strict=True))
        mean_rank = {m: float(np.mean([ranks[t][m] for t in tasks])) for m in methods}
        out[str(budget)] = {"median_best_loss": medians, "rank": ranks, "mean_rank": mean_rank}
    overhead = {}
    for method in methods:
        per_eval = [
            (r["wall_s"] - r["cv_s"]) / max(1, len(r["losses"]))
            for r in records
            if r["method"] == method and r["error"] is None
        ]
        overhead[method] = float(np.median(per_eval)) if per_eval else math.nan
    out["overhead_s_per_eval"] = overhead
    return out


def _round4(x: float) -> float:
    return float(f"{x:.4g}") if math.isfinite(x) else x


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def tables(summary: dict[str, Any], methods: list[str], tasks: list[str], budgets: Sequence[int]) -> str:
    lines: list[str] = []
    for budget in budgets:
        s = summary[str(budget)]
        lines.append(f"### Median best 5-fold CV loss after {budget} evaluations (rank)\n")
        lines.append("| task | " + " | ".join(methods) + " |")
        lines.append("|---|" + "---|" * len(methods))
        for task in tasks:
            cells = [f"{_fmt(s['median_best_loss'][task][m])} ({s['rank'][task][m]:g})" for m in methods]
            lines.append(f"| {task} | " + " | ".join(cells) + " |")
        lines.append(
            "| **mean rank** | " + " | ".join(f"**{s['mean_rank'][m]:.2f}**" for m in methods) + " |"
        )
        lines.append("")
    over = summary["overhead_s_per_eval"]
    lines.append("Median optimizer overhead per evaluation (run time minus CV time), seconds: ")
    lines.append(", ".join(f"{m} {over[m]:.3f}" for m in methods) + ".\n")
    return "\n".join(lines)


def goal(summary: dict[str, Any], budgets: Sequence[int]) -> tuple[bool, str]:
    parts, ok = [], True
    for budget in budgets:
        ranks = summary[str(budget)]["mean_rank"]
        best = min(ranks.values())
        ok_here = "asktell" in ranks and ranks["asktell"] == best
        ok = ok and ok_here
        parts.append(f"{budget} evaluations: asktell {ranks.get('asktell', math.nan):.2f}, best {best:.2f}")
    verdict = "PASS" if ok else "MISS"
    return ok, f"Goal: asktell has the best mean rank at both budgets: {verdict} ({'; '.join(parts)})."


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("asktell", "scikit-learn", "optuna", "scikit-optimize", "torch", "botorch"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "threads_per_process": os.environ.get("OMP_NUM_THREADS"),
        "versions": versions,
    }


def _select(spec: str, known: Sequence[str], what: str) -> list[str]:
    if spec == "all":
        return list(known)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {list(known)} or 'all'.")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HPO benchmark: tuning scikit-learn models.")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; quick 2)")
    parser.add_argument("--tasks", default="all", help=f"comma-separated, or all: {', '.join(TASKS)}")
    parser.add_argument("--methods", default="all", help=f"comma-separated, or all: {', '.join(METHODS)}")
    parser.add_argument("--quick", action="store_true", help="2 seeds, budgets 10 and 20, less data")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs side by side")
    add_partial_options(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    set_threads(1)
    seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 5)))
    tasks = _select(args.tasks, TASKS, "tasks")
    methods = _select(args.methods, METHODS, "methods")
    budgets = QUICK_BUDGETS if args.quick else BUDGETS
    # seed by seed, so an interrupted run leaves whole seeds to report; within a seed the slow
    # tasks first, so the pool is not left waiting on one long run at the end
    order = {"mlp-digits": 0, "hgb-breast-cancer": 1, "svc-digits": 2, "rf-wine": 3}
    jobs_list = sorted(
        [(m, t, s, max(budgets), args.quick) for s in seeds for t in tasks for m in methods],
        key=lambda job: (job[2], order.get(job[1], 9)),
    )
    print(
        f"HPO benchmark: {len(tasks)} tasks x {len(methods)} methods x {len(seeds)} seeds, "
        f"{max(budgets)} evaluations each, {args.jobs} runs side by side, 1 thread each",
        file=sys.stderr,
    )
    stem = "hpo_quick" if args.quick else "hpo"
    partial = PartialRuns(args.out / f"{stem}.partial.jsonl", _run_key, args.resume or args.report_only)
    if args.report_only:
        seeds = complete_seeds(partial.done, seeds, [(m, t) for m in methods for t in tasks], lambda *k: k)
        jobs_list = [job for job in jobs_list if job[2] in seeds]
        print(f"report only: seeds every method finished on every task: {seeds}", file=sys.stderr)
    start = time.perf_counter()
    records = run_all(jobs_list, args.jobs, partial)
    elapsed = time.perf_counter() - start
    summary = summarize(records, methods, tasks, budgets)
    failed = [r for r in records if r["error"] is not None]
    env = environment()
    print(
        f"## HPO benchmark{' (--quick)' if args.quick else ''}: {len(seeds)} seeds, "
        f"{env['date'][:10]}, {env['processor']} ({env['cpus']} CPUs), {args.jobs} runs side by "
        f"side, 1 thread each, {elapsed / 60:.1f} min\n"
    )
    print(tables(summary, methods, tasks, budgets))
    if failed:
        print(
            f"{len(failed)} run(s) failed: "
            + ", ".join(f"{r['method']}/{r['task']}/{r['seed']}" for r in failed)
        )
    ok, text = goal(summary, budgets)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{stem}.json"
    payload = {
        "environment": env,
        "seeds": seeds,
        "budgets": list(budgets),
        "elapsed_s": elapsed,
        "summary": summary,
        "goal_met": ok,
        "records": records,
    }
    path.write_text(json.dumps(payload, indent=1, allow_nan=False, default=str))
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
