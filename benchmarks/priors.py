"""Priors over the optimum: asktell's piBO and ColaBO against no prior, Optuna TPE and random draws.

Run ``make bench-priors`` (or ``python benchmarks/priors.py``); ``--quick`` is a short version (2
seeds, Branin and Hartmann6 only, budgets of 15 and 20 evaluations, 2 runs side by side). The
protocol of the piBO and ColaBO papers: each problem with a *good* prior (centred near the
optimum), a *misleading* one (centred far from it) and none, problems and priors in
:mod:`benchmarks.harness.priors`:

- problems: Branin (40 evaluations), Hartmann6 (60), Rosenbrock-4 on [-5, 10]^4 shifted per seed
  (60; the priors follow each seed's minimizer) and the HPO benchmark's SVC-on-digits task on fixed
  folds (30; its optimum is the best error of a documented grid, and regrets are floored at 0);
- priors: per parameter a Normal of standard deviation 15% of the range (decades on a log
  parameter); ``good``: centred at the (first) minimizer moved by a fixed 5% of the range (``+`` on
  even coordinates, ``-`` on odd ones, the same for every seed); ``misleading``: centred 15% of the
  range in from the corner of the box farthest from the nearest minimizer. Nothing here was tuned
  on the published seeds 0-9;
- cells ``<problem>/<prior>``: the methods with a prior run on ``good`` and ``misleading``, the
  no-prior BayesOpt on ``none`` only (:meth:`Priors.applies`); every cell of a problem evaluates the
  same function for a seed;
- methods: ``pibo`` (``BayesOpt()``, piBO being its default ``prior_method``), ``colabo``
  (``BayesOpt(prior_method="colabo")``; it serves spaces without categoricals only, which all four
  are), ``bayesopt`` (``BayesOpt()`` without a prior), ``tpe-mode`` (Optuna's TPESampler through its
  public ask/tell API with the prior's mode ``study.enqueue_trial``-ed first: Optuna takes no
  prior) and ``random-prior`` (asktell's ``RandomSearch``, drawing from the prior). BayesOpt is built
  as in the global-BO benchmark, without ``budget=`` (piBO's ``beta`` is its default 10).

Printed, per problem, a table grouped by prior: the simple regret (best value so far minus the
optimum, floored at 0) as median [IQR] over seeds at the final evaluation and at 1/3 and 2/3 of the
budget (``budget // 3``, ``2 budget // 3``); the evaluations to reach the no-prior BayesOpt's final
median regret (:func:`evaluations_to`: per seed the first evaluation whose regret is at most it,
"never" if none; the median over seeds); the overhead per ask (the method's own time in ask and
tell, not the function's: the mean over the run's asks, and the mean of the last 10); failed
seeds. Then piBO and ColaBO side by side with the others in a summary table, the priors themselves
(centres, their distance from the optimum, the regret at the centre, the mass inside the bounds),
and the goals:

- good prior: piBO reaches the no-prior BayesOpt's final median regret in at most 1/3 of the
  evaluations on every problem, and so does ColaBO;
- misleading prior: piBO's final median regret is at most 1.5x the no-prior BayesOpt's on every
  problem (the prior washes out), and ColaBO's too (regrets below 1e-6 count as 1e-6: solved).

A goal is judged on the problems that ran (``--quick``: Branin and Hartmann6) and reads "not
measured" when a method it needs has no runs. Written: ``benchmarks/results/priors.json`` (every
run's per-evaluation regret and overhead, the summary, the priors, the goals, versions and threads)
and ``priors.png`` (median and IQR of the regret against evaluations, one panel per problem and
prior, the no-prior BayesOpt drawn in both of a problem's panels); ``--quick`` writes
``priors_quick.*``. **Resumable**: each run is appended to ``priors.partial.jsonl`` as it finishes
and a rerun skips the runs recorded there (``--fresh`` starts anew). ``--problems`` takes cells
(``branin/good``) or problems (``branin``: its three cells). ``--report-only [FILE ...]`` reports on
recorded runs without running.

Every process uses ``--threads`` threads (default 1, set before torch is imported); ``--jobs N`` runs
N single-threaded runs side by side (publish tables made with ``--jobs`` no larger than the number
of physical cores).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import report  # noqa: E402  (no torch before the threads are set)
from benchmarks.harness.report import Goal  # noqa: E402
from benchmarks.harness.suite import Suite  # noqa: E402

PROBLEMS = ("branin", "hartmann6", "rosenbrock4", "svc-digits")
QUICK_PROBLEMS = ("branin", "hartmann6")
PRIORS = ("good", "misleading", "none")
METHODS = ("pibo", "colabo", "bayesopt", "tpe-mode", "random-prior")
NO_PRIOR = "bayesopt"
GOAL_METHODS = ("pibo", "colabo")
REACH_FRACTION = 1 / 3  # good prior: reach the no-prior final median regret within this share
WASH_OUT_RATIO = 1.5  # misleading prior: final median regret at most this times the no-prior one
REGRET_FLOOR = 1e-6  # regrets below count as solved (both in the ratios and in the target)


def _methods() -> dict[str, Any]:
    from benchmarks.harness.priors import PRIOR_METHODS

    return PRIOR_METHODS


def _problems() -> dict[str, Any]:
    from benchmarks.harness.priors import cells

    return cells(PROBLEMS)


def split(cell: str) -> tuple[str, str]:
    """``"branin/good"`` -> ``("branin", "good")``."""
    base, _, prior = cell.rpartition("/")
    return base, prior


# --- per-run numbers -------------------------------------------------------------------------------
def ok(record: dict[str, Any]) -> bool:
    return record["error"] is None and len(record["regret"]) == record["budget"]


def regret_at(record: dict[str, Any], n: int | None = None) -> float:
    """The regret (floored at 0) after ``n`` evaluations (None: all of the run's)."""
    return max(record["regret"][(n or len(record["regret"])) - 1], 0.0)


def checkpoints(budget: int) -> tuple[int, int]:
    """The evaluations of "1/3" and "2/3" of the budget."""
    return max(1, budget // 3), max(1, 2 * budget // 3)


def evaluations_to(record: dict[str, Any], target: float) -> float:
    """The 1-based evaluation at which the run's regret first is at most ``target`` (floored at
    :data:`REGRET_FLOOR`); infinity: never; NaN: no target."""
    if math.isnan(target):
        return math.nan
    limit = max(target, REGRET_FLOOR)
    return next((i + 1.0 for i, r in enumerate(record["regret"]) if max(r, 0.0) <= limit), math.inf)


def _median_count(values: list[float]) -> float:
    """The median of evaluation counts that may be infinite (never); NaN for none."""
    import numpy as np

    values = [v for v in values if not math.isnan(v)]
    return float(np.median(values)) if values else math.nan


def _count(x: float) -> str:
    return "n/a" if math.isnan(x) else ("never" if math.isinf(x) else f"{x:g}")


def _reach(cell: dict[str, Any]) -> str:
    """``"10 of 40"`` (evaluations to the target of the budget), or ``"never"``, ``"n/a"``."""
    x = cell["evaluations_to_target"]
    return f"{x:g} of {cell['budget']}" if math.isfinite(x) else _count(x)


def cell_summary(runs: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """One method's numbers on one cell, from its runs (failed runs are listed, not counted);
    ``target``: the no-prior BayesOpt's final median regret on the cell's problem."""
    good = [r for r in runs if ok(r)]
    budget = good[0]["budget"] if good else (runs[0]["budget"] if runs else 0)
    third, two_thirds = checkpoints(budget) if budget else (0, 0)
    asks = [x for r in good for x in r["overhead_s"]]
    return {
        "final": report.quantiles(regret_at(r) for r in good),
        "third": report.quantiles(regret_at(r, third) for r in good),
        "two_thirds": report.quantiles(regret_at(r, two_thirds) for r in good),
        "at": [third, two_thirds],
        "budget": budget,
        "median_regret": report.median(regret_at(r) for r in good),
        "evaluations_to_target": _median_count([evaluations_to(r, target) for r in good]),
        "mean_overhead_s": report.mean(asks),
        "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in good),
        "n_ok": len(good),
        "failed_seeds": sorted(r["seed"] for r in runs if r not in good),
        "errors": sorted({r["error"].splitlines()[0] for r in runs if r["error"]}),
    }


def summarize(records: list[dict], methods: list[str], cells: list[str]) -> dict[str, Any]:
    """Per problem the target (the no-prior BayesOpt's final median regret, NaN without its runs);
    per (cell, method) :func:`cell_summary`; per method the overhead over every cell."""
    bases = list(dict.fromkeys(split(c)[0] for c in cells))
    targets = {}
    for b in bases:
        runs = [r for r in records if (r["problem"], r["method"]) == (f"{b}/none", NO_PRIOR) and ok(r)]
        targets[b] = report.median(regret_at(r) for r in runs) if NO_PRIOR in methods else math.nan
    out: dict[str, dict[str, Any]] = {}
    for c in cells:
        target = targets[split(c)[0]]
        out[c] = {}
        for m in methods:
            runs = [r for r in records if (r["problem"], r["method"]) == (c, m)]
            if runs:
                out[c][m] = cell_summary(runs, target)
    overall = {}
    for m in methods:
        asks = [
            x
            for r in records
            if r["method"] == m and ok(r) and r["problem"] in cells
            for x in r["overhead_s"]
        ]
        overall[m] = {"mean_overhead_s": report.mean(asks), "n_asks": len(asks)}
    return {"targets": targets, "cells": out, "overall": overall}


# --- goals -----------------------------------------------------------------------------------------
def _floored(x: float) -> float:
    return max(x, REGRET_FLOOR)


def evaluate_goals(summary: dict[str, Any], methods: list[str], cells: list[str]) -> list[Goal]:
    """The issue's goals for piBO and ColaBO, judged on the problems that ran."""
    goals: list[Goal] = []
    bases = list(dict.fromkeys(split(c)[0] for c in cells))
    targets, by_cell = summary["targets"], summary["cells"]
    for m in GOAL_METHODS:
        reach, shares = [], {}
        for b in bases:
            c = by_cell.get(f"{b}/good", {}).get(m)
            if c is None or not c["n_ok"] or math.isnan(targets.get(b, math.nan)):
                continue
            limit = REACH_FRACTION * c["budget"]
            shares[b] = c["evaluations_to_target"] / limit
            reach.append(f"{b} {_reach(c)} (limit {limit:.3g})")
        goal = (
            f"good prior: {m} reaches the no-prior BayesOpt's final median regret in <= "
            f"1/3 of the evaluations on every problem"
        )
        measured = "; ".join(reach) if reach else f"{m} or {NO_PRIOR} did not run"
        worst = max(shares.values(), default=math.nan)
        goals.append(Goal.at_most(goal, measured, worst, 1.0, shares=shares))
    for m in GOAL_METHODS:
        ratios = {}
        for b in bases:
            c = by_cell.get(f"{b}/misleading", {}).get(m)
            if c is None or math.isnan(c["median_regret"]) or math.isnan(targets.get(b, math.nan)):
                continue
            ratios[b] = _floored(c["median_regret"]) / _floored(targets[b])
        goal = (
            f"misleading prior: {m}'s final median regret <= {WASH_OUT_RATIO}x the no-prior "
            "BayesOpt's on every problem"
        )
        measured = (
            "ratio to the no-prior BayesOpt: " + ", ".join(f"{b} {r:.2f}" for b, r in ratios.items())
            if ratios
            else f"{m} or {NO_PRIOR} did not run"
        )
        goals.append(
            Goal.at_most(
                goal, measured, max(ratios.values(), default=math.nan), WASH_OUT_RATIO, ratios=ratios
            )
        )
    return goals


# --- tables ----------------------------------------------------------------------------------------
def _iqr(q: Any) -> str:
    return report.iqr(tuple(q)) if q is not None else "—"


def problem_table(base: str, problem: Any, summary: dict[str, Any], methods: list[str]) -> str:
    """One problem's table, grouped by prior (good, misleading, none)."""
    target = summary["targets"].get(base, math.nan)
    rows, budget, at = [], None, None
    for prior in PRIORS:
        for m in methods:
            c = summary["cells"].get(f"{base}/{prior}", {}).get(m)
            if c is None:
                continue
            budget, at = budget or c["budget"], at or c["at"]
            rows.append(
                [
                    prior,
                    m,
                    _iqr(c["final"]),
                    _iqr(c["third"]),
                    _iqr(c["two_thirds"]),
                    _count(c["evaluations_to_target"]),
                    report.seconds(c["mean_overhead_s"]),
                    report.seconds(c["last10_overhead_s"]),
                    ", ".join(map(str, c["failed_seeds"])) or "-",
                ]
            )
    third, two = at or ("1/3", "2/3")
    head = [
        "prior",
        "method",
        "final regret, median [IQR]",
        f"regret at eval {third}",
        f"regret at eval {two}",
        "evals to target",
        "overhead/ask (s)",
        "last 10 asks (s)",
        "failed seeds",
    ]
    title = (
        f"### {base} ({budget} evaluations, d={problem.dim}, optimum {problem.optimum:.6g}; target: the "
        f"no-prior BayesOpt's final median regret {report.g3(target)})"
    )
    return report.table(head, rows, title=title)


def summary_table(summary: dict[str, Any], methods: list[str], bases: list[str]) -> str:
    """Per problem and method: evaluations to the target with the good prior / the misleading
    prior's final median regret over the no-prior BayesOpt's."""
    prior_methods = [m for m in methods if m != NO_PRIOR]
    rows = []
    for b in bases:
        target = summary["targets"].get(b, math.nan)
        row = [b, report.g3(target)]
        for m in prior_methods:
            good = summary["cells"].get(f"{b}/good", {}).get(m)
            bad = summary["cells"].get(f"{b}/misleading", {}).get(m)
            reach = _reach(good) if good else "n/a"
            ratio = (
                f"{_floored(bad['median_regret']) / _floored(target):.2f}x"
                if bad and not math.isnan(bad["median_regret"]) and not math.isnan(target)
                else "n/a"
            )
            row.append(f"{reach} / {ratio}")
        rows.append(row)
    rows.append(
        ["overhead per ask, all cells (s)", ""]
        + [report.seconds(summary["overall"][m]["mean_overhead_s"]) for m in prior_methods]
    )
    title = (
        "### Summary: good prior, evaluations to the no-prior BayesOpt's final median regret / "
        "misleading prior, final median regret over the no-prior BayesOpt's"
    )
    return report.table(["problem", "no-prior final median regret", *prior_methods], rows, title=title)


def priors_text(problems: Mapping[str, Any], cells: list[str], seed: int = 0) -> tuple[str, dict[str, Any]]:
    """The priors of ``cells`` for ``seed``: centre (parameter units), distance in the unit cube
    from the nearest minimizer, the regret at the centre, the least mass inside the bounds."""
    import numpy as np

    rows, data = [], {}
    for c in cells:
        problem = problems[c]
        if problem.prior == "none":
            continue
        instance = problem.instance(seed)
        space, u = instance.space, problem.centre_u(seed)
        centre = space.decode(u)
        minimizers = problem.shifted_minimizers(instance.offset)
        distance = float(np.linalg.norm(minimizers - u[None, :], axis=-1).min())
        regret = instance.true_value(centre) - problem.optimum
        mass = min(p.mass for p in space.priors.values())
        text = ", ".join(f"{n} {report.g3(v)}" for n, v in centre.items())
        rows.append([c, text, f"{distance:.3f}", report.g3(regret), f"{mass:.2f}"])
        data[c] = {
            "centre": centre,
            "centre_u": u.tolist(),
            "distance_u": distance,
            "regret": regret,
            "mass": mass,
        }
    head = [
        "cell",
        "prior centre",
        "distance to the optimum (unit cube)",
        "regret at the centre",
        "mass inside",
    ]
    title = f"### Priors (seed {seed}: the shifted Rosenbrock's priors follow each seed's minimizer)"
    return report.table(head, rows, title=title), data


class Priors(Suite):
    def select_problems(self, args: argparse.Namespace) -> list[str]:
        """Cells or problems (a problem stands for its three cells); ``--quick``: Branin, Hartmann6."""
        from benchmarks.harness import runner

        if args.quick and args.problems == self.default_problems:
            return [f"{b}/{p}" for b in QUICK_PROBLEMS for p in PRIORS]
        if args.problems == "all":
            return list(self.problems)
        known = [*PROBLEMS, *self.problems]
        names = runner.select(args.problems, known, "problems")
        return list(
            dict.fromkeys(c for n in names for c in ([f"{n}/{p}" for p in PRIORS] if "/" not in n else [n]))
        )

    def applies(self, method: str, problem: str) -> bool:
        from benchmarks.harness.priors import applies

        return applies(method, problem, self.problems[problem].space)

    def describe(self, record: dict[str, Any]) -> str:
        last = regret_at(record) if record["regret"] else math.nan
        status = "ok" if record["error"] is None else "FAILED: " + record["error"].splitlines()[0]
        return (
            f"{record['method']:>12} {record['problem']:<22} seed {record['seed']}: regret {last:.4g}, "
            f"{report.mean(record['overhead_s']) * 1e3:.1f} ms/ask, run {record['wall_s']:.1f} s, {status}"
        )

    def summarize(self, records: list[dict], methods: list[str], problems: list[str]) -> dict[str, Any]:
        return summarize(records, methods, problems)

    def tables(
        self, summary: dict, methods: list[str], problems: list[str], records: list[dict]
    ) -> list[str]:
        bases = list(dict.fromkeys(split(c)[0] for c in problems))
        texts = [problem_table(b, self.problems[f"{b}/none"], summary, methods) for b in bases]
        return [*texts, summary_table(summary, methods, bases)] if bases else texts

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        """The priors of the cells run (seed 0's), recomputed (they cost one evaluation each)."""
        cells = (
            list(saved.get("problems", {})) if args.report_only is not None else self.select_problems(args)
        )
        cells = [c for c in cells if c in self.problems]
        return {"priors": priors_text(self.problems, cells)} if cells else {}

    def goals(
        self, summary: dict, methods: list[str], problems: list[str], extra: dict[str, Any]
    ) -> list[Goal]:
        return evaluate_goals(summary, methods, problems)

    def plot(self, records: list[dict], methods: list[str], problems: list[str], path: Path) -> None:
        """Median and IQR of the regret against evaluations: per problem a panel for the good and
        one for the misleading prior, each with the no-prior BayesOpt's runs."""
        import numpy as np

        def curves(cell: str, method: str) -> tuple[Any, Any] | None:
            runs = [r for r in records if (r["problem"], r["method"]) == (cell, method) and ok(r)]
            if not runs:
                return None
            Y = np.array([[max(v, 0.0) for v in r["regret"]] for r in runs], dtype=float)
            return np.arange(1, Y.shape[1] + 1), Y

        panels = []
        for b in dict.fromkeys(split(c)[0] for c in problems):
            for prior in ("good", "misleading"):
                if f"{b}/{prior}" not in problems:
                    continue
                series = {m: got for m in methods if m != NO_PRIOR if (got := curves(f"{b}/{prior}", m))}
                if (reference := curves(f"{b}/none", NO_PRIOR)) is not None:
                    series[NO_PRIOR] = reference
                panels.append(report.Panel(f"{b}, {prior} prior", self.xlabel, self.ylabel, series))
        if panels:
            report.plot_panels(path, panels, ncols=self.ncols, highlight=self.highlight, labels=methods)


SUITE = Priors(
    "priors",
    "benchmarks.priors",
    _problems,
    _methods,
    "Priors benchmark: piBO and ColaBO vs no prior, Optuna TPE with the prior's mode, random from the prior.",
    seeds=10,
    quick_seeds=2,
    quick_jobs=2,
    highlight="pibo",
    ncols=2,
    resume=True,
)


if __name__ == "__main__":
    sys.exit(SUITE.main())
