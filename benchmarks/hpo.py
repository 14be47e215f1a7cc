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
``--quick``: ``hpo_quick.json``). Runs are recorded as they finish (``--resume``;
``--report-only [FILE ...]`` reports on recorded runs, e.g. ``benchmarks/results/hpo/hpo.json``,
without running). Every process uses one thread (``OMP_NUM_THREADS=1`` is set before numpy and
torch load); ``--jobs`` runs side by side (default 2).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import machine, report, runner  # noqa: E402  (no numpy before the threads)

METHODS = ("asktell", "optuna-tpe", "optuna-gp", "skopt", "random")
TASKS = ("svc-digits", "hgb-breast-cancer", "rf-wine", "mlp-digits", "elasticnet-diabetes")
BUDGETS = (30, 60)
QUICK_BUDGETS = (10, 20)
FIELDS = ("method", "task", "seed")


# --- tasks ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    """A model, a data set and a search space; ``loss = sign * mean CV score``."""

    name: str
    data: Callable[[bool], tuple[Any, Any]]  # quick -> (X, y)
    estimator: Callable[[], Any]
    space: Any  # asktell Space
    scoring: str = "accuracy"
    classification: bool = True

    def loss(self, score: float) -> float:
        """The loss of a mean CV score: 1 - accuracy, or the MSE."""
        if not math.isfinite(score):
            return math.nan
        return 1.0 - score if self.scoring == "accuracy" else -score

    def cv(self, seed: int) -> Any:
        from sklearn.model_selection import KFold, StratifiedKFold

        folds = StratifiedKFold if self.classification else KFold
        return folds(n_splits=5, shuffle=True, random_state=seed)


def _data(name: str, quick: bool) -> tuple[Any, Any]:
    """A data set of scikit-learn; in a quick run digits subsampled to 600 images."""
    import numpy as np
    from sklearn import datasets

    X, y = getattr(datasets, f"load_{name.removesuffix('_scaled')}")(return_X_y=True)
    if name.startswith("digits"):
        if quick and len(X) > 600:
            index = np.random.default_rng(0).permutation(len(X))[:600]
            X, y = X[index], y[index]
        if name.endswith("_scaled"):
            X = X / 16.0
    return X, y


def _estimator(module: str, name: str, **params: Any) -> Callable[[], Any]:
    def make() -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(**params)

    return make


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
            functools.partial(_data, "digits"),
            _estimator("sklearn.svm", "SVC"),
            Space({"C": Real(1e-2, 1e3, log=True), "gamma": Real(1e-5, 1e-1, log=True)}),
        ),
        "hgb-breast-cancer": Task(
            "hgb-breast-cancer",
            functools.partial(_data, "breast_cancer"),
            _estimator(
                "sklearn.ensemble",
                "HistGradientBoostingClassifier",
                max_iter=50,
                early_stopping=False,
                random_state=0,
            ),
            Space(
                {
                    "learning_rate": Real(1e-3, 1.0, log=True),
                    "max_leaf_nodes": Integer(4, 32, log=True),
                    "min_samples_leaf": Integer(2, 64, log=True),
                    "l2_regularization": Real(1e-4, 10.0, log=True),
                }
            ),
        ),
        "rf-wine": Task(
            "rf-wine",
            functools.partial(_data, "wine"),
            _estimator("sklearn.ensemble", "RandomForestClassifier", n_estimators=50, random_state=0),
            Space(
                {
                    "criterion": Categorical(["gini", "entropy", "log_loss"]),
                    "max_depth": Integer(1, 12),
                    "max_features": Real(0.05, 1.0),
                }
            ),
        ),
        "mlp-digits": Task(
            "mlp-digits",
            functools.partial(_data, "digits_scaled"),
            lambda: _width_mlp_class()(),
            Space(
                {
                    "width": Integer(8, 64, log=True),
                    "learning_rate_init": Real(1e-4, 0.3, log=True),
                    "alpha": Real(1e-6, 1.0, log=True),
                }
            ),
        ),
        "elasticnet-diabetes": Task(
            "elasticnet-diabetes",
            functools.partial(_data, "diabetes"),
            _estimator("sklearn.linear_model", "ElasticNet", max_iter=2000),
            Space({"alpha": Real(1e-5, 10.0, log=True), "l1_ratio": Real(0.0, 1.0)}),
            "neg_mean_squared_error",
            False,
        ),
    }
    return tasks[name]


# --- methods: each through its own public search API ---------------------------------------------
def _search_cv_losses(task: Task, search: Any, budget: int) -> tuple[list[float], float]:
    """Losses in evaluation order (NaN for a failed candidate) and the CV seconds of a search."""
    import numpy as np

    results = search.cv_results_
    losses = [task.loss(float(s)) for s in results["mean_test_score"]]
    if "trial_id" in results:  # AskTellSearchCV leaves out batches whose fits all failed
        by_id = dict(zip((int(i) for i in results["trial_id"]), losses, strict=True))
        losses = [by_id.get(i, math.nan) for i in range(budget)]
    cv_seconds = float(np.sum(results["mean_fit_time"] + results["mean_score_time"]) * search.n_splits_)
    return losses, cv_seconds


def _run_search(task: Task, X: Any, y: Any, seed: int, budget: int, method: str) -> tuple[list, float]:
    """``AskTellSearchCV`` (asktell's BayesOpt, or RandomSearch) or scikit-optimize's ``BayesSearchCV``."""
    common = {
        "n_iter": budget,
        "cv": task.cv(seed),
        "scoring": task.scoring,
        "refit": False,
        "random_state": seed,
    }
    if method == "skopt":
        from skopt import BayesSearchCV

        from benchmarks.harness.peers import skopt_dimensions

        search = BayesSearchCV(task.estimator(), {d.name: d for d in skopt_dimensions(task.space)}, **common)
    else:
        from asktell.integrations.sklearn import AskTellSearchCV
        from asktell.loops import BayesOpt, RandomSearch

        loop = BayesOpt() if method == "asktell" else RandomSearch()
        search = AskTellSearchCV(task.estimator(), task.space, loop=loop, **common)
    search.fit(X, y)
    return _search_cv_losses(task, search, budget)


def _run_optuna(task: Task, X: Any, y: Any, seed: int, budget: int, sampler: Any) -> tuple[list, float]:
    import optuna
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    from benchmarks.harness.peers import optuna_distributions

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


def run_job(cell: dict[str, Any]) -> dict[str, Any]:
    """One (method, task, seed) run of ``budget`` evaluations, as a JSON-able record."""
    warnings.filterwarnings("ignore")  # convergence warnings of the models, experimental samplers
    import torch

    torch.set_num_threads(1)
    method, seed, budget = cell["method"], cell["seed"], cell["budget"]
    task = get_task(cell["task"])
    X, y = task.data(cell["quick"])
    start, error, losses, cv_seconds = time.perf_counter(), None, [], 0.0
    try:
        if method.startswith("optuna-"):
            from optuna.samplers import GPSampler, TPESampler

            sampler = (TPESampler if method == "optuna-tpe" else GPSampler)(seed=seed)
            losses, cv_seconds = _run_optuna(task, X, y, seed, budget, sampler)
        elif method in ("asktell", "random", "skopt"):
            losses, cv_seconds = _run_search(task, X, y, seed, budget, method)
        else:
            raise ValueError(f"unknown method {method!r}")
    except Exception as exc:  # noqa: BLE001 - a failed run is reported, not fatal
        import traceback

        error = "".join(traceback.format_exception(exc))
    return {
        "method": method,
        "task": task.name,
        "seed": seed,
        "losses": [None if not math.isfinite(v) else v for v in losses],
        "wall_s": time.perf_counter() - start,
        "cv_s": cv_seconds,
        "error": error,
    }


def describe(rec: dict[str, Any]) -> str:
    done = [v for v in rec["losses"] if v is not None]
    status = "ok" if rec["error"] is None else "FAILED: " + rec["error"].strip().splitlines()[-1]
    best = min(done) if done else math.nan
    return (
        f"{rec['method']:>10} {rec['task']:<20} seed {rec['seed']}: best {best:.4g}, "
        f"run {rec['wall_s']:.1f} s (cv {rec['cv_s']:.1f} s), {status}"
    )


# --- report --------------------------------------------------------------------------------------
def best_at(losses: Sequence[float | None], budget: int) -> float:
    done = [v for v in losses[:budget] if v is not None]
    return min(done) if done else math.nan


def _round4(x: float) -> float:
    return float(f"{x:.4g}") if math.isfinite(x) else x


def summarize(
    records: list[dict], methods: list[str], tasks: list[str], budgets: Sequence[int]
) -> dict[str, Any]:
    """Per budget: median best loss per (task, method), ranks per task, mean rank per method."""
    from scipy.stats import rankdata

    out: dict[str, Any] = {}
    for budget in budgets:
        medians: dict[str, dict[str, float]] = {}
        ranks: dict[str, dict[str, float]] = {}
        for task in tasks:
            medians[task] = {
                m: report.median(
                    b
                    for r in records
                    if r["task"] == task and r["method"] == m and r["error"] is None
                    if math.isfinite(b := best_at(r["losses"], budget))
                )
                for m in methods
            }
            # medians equal to 4 significant digits (as printed) tie
            filled = [v if math.isfinite(v := _round4(medians[task][m])) else math.inf for m in methods]
            ranks[task] = dict(zip(methods, (float(r) for r in rankdata(filled)), strict=True))
        mean_rank = {m: report.mean(ranks[t][m] for t in tasks) for m in methods}
        out[str(budget)] = {"median_best_loss": medians, "rank": ranks, "mean_rank": mean_rank}
    out["overhead_s_per_eval"] = {
        m: report.median(
            (r["wall_s"] - r["cv_s"]) / max(1, len(r["losses"]))
            for r in records
            if r["method"] == m and r["error"] is None
        )
        for m in methods
    }
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "n/a"


def tables(summary: dict[str, Any], methods: list[str], tasks: list[str], budgets: Sequence[int]) -> str:
    texts: list[str] = []
    for budget in budgets:
        s = summary[str(budget)]
        rows = [
            [t] + [f"{_fmt(s['median_best_loss'][t][m])} ({s['rank'][t][m]:g})" for m in methods]
            for t in tasks
        ]
        rows.append(["**mean rank**"] + [f"**{s['mean_rank'][m]:.2f}**" for m in methods])
        title = f"### Median best 5-fold CV loss after {budget} evaluations (rank)"
        texts.append(report.table(["task", *methods], rows, title=title) + "\n")
    over = summary["overhead_s_per_eval"]
    texts.append("Median optimizer overhead per evaluation (run time minus CV time), seconds: ")
    texts.append(", ".join(f"{m} {over[m]:.3f}" for m in methods) + ".\n")
    return "\n".join(texts)


def goal(summary: dict[str, Any], budgets: Sequence[int]) -> report.Goal:
    parts, gaps = [], []
    for budget in budgets:
        ranks = summary[str(budget)]["mean_rank"]
        best = min(ranks.values())
        gaps.append(ranks.get("asktell", math.nan) - best)
        parts.append(f"{budget} evaluations: asktell {ranks.get('asktell', math.nan):.2f}, best {best:.2f}")
    met = all(g == 0 for g in gaps)
    by = "" if met or any(math.isnan(g) for g in gaps) else f"{max(gaps):.2f} in mean rank"
    return report.Goal("asktell has the best mean rank at both budgets", "; ".join(parts), met, by)


def _recorded(
    args: argparse.Namespace, files: list[Path]
) -> tuple[list[dict], list[str], list[str], list[int]]:
    """Records, methods, tasks and seeds of a report-only run (by default those recorded, on the
    seeds every method finished on every task)."""
    records = runner.Runs.of(files, FIELDS).records
    methods = [
        m for m in runner.select(args.methods, METHODS, "methods") if any(r["method"] == m for r in records)
    ]
    tasks = [t for t in runner.select(args.tasks, TASKS, "tasks") if any(r["task"] == t for r in records)]
    seeds = sorted({r["seed"] for r in records}) if args.seeds is None else list(range(args.seeds))
    seeds = runner.complete_seeds(records, seeds, [{"method": m, "task": t} for m in methods for t in tasks])
    print(f"report only: seeds every method finished on every task: {seeds}", file=sys.stderr)
    return [r for r in records if r["seed"] in seeds], methods, tasks, seeds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="HPO benchmark: tuning scikit-learn models.")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; quick 2)")
    parser.add_argument("--tasks", default="all", help=f"comma-separated, or all: {', '.join(TASKS)}")
    parser.add_argument("--methods", default="all", help=f"comma-separated, or all: {', '.join(METHODS)}")
    parser.add_argument("--quick", action="store_true", help="2 seeds, budgets 10 and 20, less data")
    parser.add_argument("--jobs", type=int, default=2, help="runs side by side")
    runner.add_options(parser)
    args = parser.parse_args(argv)
    machine.set_threads(1, torch=False)
    stem, start = "hpo_quick" if args.quick else "hpo", time.perf_counter()
    budgets = QUICK_BUDGETS if args.quick else BUDGETS
    if args.report_only is not None:
        files = [Path(f) for f in args.report_only] or [args.out / f"{stem}.partial.jsonl"]
        records, methods, tasks, seeds = _recorded(args, files)
        saved = [json.loads(f.read_text()) for f in files if f.suffix == ".json" and f.exists()]
        budgets = tuple(saved[0]["budgets"]) if saved else budgets
    else:
        seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 5)))
        tasks = runner.select(args.tasks, TASKS, "tasks")
        methods = runner.select(args.methods, METHODS, "methods")
        # seed by seed, so an interrupted run leaves whole seeds to report; within a seed the slow
        # tasks first, so the pool is not left waiting on one long run at the end
        order = {"mlp-digits": 0, "hgb-breast-cancer": 1, "svc-digits": 2, "rf-wine": 3}
        cells = [
            {"method": m, "task": t, "seed": s, "budget": max(budgets), "quick": args.quick}
            for s in seeds
            for t in sorted(tasks, key=lambda t: order.get(t, 9))
            for m in methods
        ]
        print(
            f"HPO benchmark: {len(tasks)} tasks x {len(methods)} methods x {len(seeds)} seeds, "
            f"{max(budgets)} evaluations each, {args.jobs} runs side by side, 1 thread each",
            file=sys.stderr,
        )
        runs = runner.Runs(FIELDS, args.out / f"{stem}.partial.jsonl", resume=args.resume)
        records = runner.run(
            cells,
            run_job,
            runs,
            jobs=args.jobs,
            initializer=machine.set_threads,
            initargs=(1,),
            describe=describe,
        )
    elapsed = time.perf_counter() - start
    summary = summarize(records, methods, tasks, budgets)
    failed = [r for r in records if r["error"] is not None]
    env = machine.environment(("asktell", "scikit-learn", "optuna", "scikit-optimize", "torch", "botorch"))
    print(
        f"## HPO benchmark{' (--quick)' if args.quick else ''}: {len(seeds)} seeds, {env['date'][:10]}, "
        f"{env['machine']}, {args.jobs} runs side by side, 1 thread each, {elapsed / 60:.1f} min\n"
    )
    print(tables(summary, methods, tasks, budgets))
    if failed:
        print(
            f"{len(failed)} run(s) failed: "
            + ", ".join(f"{r['method']}/{r['task']}/{r['seed']}" for r in failed)
        )
    result = goal(summary, budgets)
    print(report.goals_text([result]))
    payload = {
        "environment": env,
        "seeds": seeds,
        "budgets": list(budgets),
        "elapsed_s": elapsed,
        "summary": summary,
        "goal_met": result.met,
        "goals": [result.to_dict()],
        "records": records,
    }
    runner.write_json(path := args.out / f"{stem}.json", payload, indent=1)
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
