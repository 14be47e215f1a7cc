"""Outcome constraints: asktell's BayesOpt against its peers on constrained problems, same seeds.

Run ``make bench-constrained`` (or ``python benchmarks/constrained.py``); ``--quick`` is a short
version (2 seeds, 14 evaluations, ``gramacy``, ``pressure-vessel`` and the infeasible variant, 2
runs side by side). Problems (:mod:`benchmarks.harness.problems_constrained`, where the optima and their
sources are): BoTorch's ConstrainedGramacy (2-d, 2 constraints, 40 evaluations), PressureVessel (4-d,
4, 60), WeldedBeamSO (4-d, 6, 60), SpeedReducer (7-d, 11, 80), our mixed pressure vessel (integer
plate thicknesses, a categorical steel grade; 5 parameters, 3 constraints, 60) and
``gramacy-infeasible``, ConstrainedGramacy with a bound tightened until no point is feasible.
Methods (:mod:`benchmarks.harness.peers_constrained`): asktell's ``BayesOpt()`` (its default
constrained acquisition) and ``BayesOpt(acquisition="config")``, Optuna's GPSampler and TPESampler
(``trial.set_constraint``), Ax's ``Client`` (``outcome_constraints``), a plain BoTorch
constrained-qLogNEI loop as BoTorch's closed-loop tutorial writes it, and Sobol. Only asktell's two
methods and Sobol run on the infeasible variant (the others have no way to say "infeasible").

Printed, per problem: the best feasible regret (median [IQR] over seeds; a seed without a feasible
point counts as ``worst feasible value - optimum``), evaluations to the first feasible point (median;
"never" when most seeds found none) and the seeds that found none, the fraction of infeasible
evaluations after the initial design, overhead per ask (the method's own time in ask and tell, not
the function's: the mean over the run's asks, that is its total time per evaluation, since a median
would mostly count the design's free asks; and the mean of the last 10 asks), failed seeds. "After
the initial design" is one cut for every method of a problem: after the longest initial design
among the model-based methods (:func:`design_cut`: Optuna's 10 startup trials, the BoTorch loop's
``2 (d + 1)``, BayesOpt's ``min(max(5, d + 1), 20)``, Ax's 5), so that all are compared on the same
evaluations, each of them already steered by its model. On the
infeasible variant: whether CONFIG declared the problem infeasible (the trials whose metadata says
``infeasible``, or the memo's flag), and at which evaluation. Then the goals of issue 15:

- asktell's median best feasible regret is the lowest on >= 4 of the 5 problems, never above 1.5x
  the best peer's (regrets below 1e-6 of the optimum's magnitude count as solved), with a feasible
  point in every seed of every problem;
- its first feasible point in no more evaluations (median) than the best peer's, on every problem;
- its overhead per ask at most 1.5x Optuna GPSampler's (mean over all asks of the 5 problems);
- CONFIG declares ``gramacy-infeasible`` infeasible on every seed and never declares a feasible
  problem infeasible.

Written: ``benchmarks/results/constrained.json`` (every run's per-evaluation regret, feasibility and
overhead, the summary, the goals, versions and threads) and ``constrained.png``; ``--quick`` writes
``constrained_quick.*``. **Resumable**: each run is appended to ``constrained.partial.jsonl`` as it
finishes and a rerun skips the runs recorded there (``--fresh`` starts anew), so a full run can span
sessions, and the asktell methods, skipped while BayesOpt cannot serve constraints, are added by a
rerun once it can. ``--report-only [FILE ...]`` reports on recorded runs without running.

Every process uses ``--threads`` threads (default 1, set before torch is imported); ``--jobs N`` runs
N single-threaded runs side by side (publish tables made with ``--jobs`` no larger than the number
of physical cores).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import report  # noqa: E402  (no torch before the threads are set)
from benchmarks.harness.report import Goal  # noqa: E402
from benchmarks.harness.suite import Suite  # noqa: E402

FEASIBLE = ("gramacy", "pressure-vessel", "welded-beam", "speed-reducer", "vessel-mixed")
INFEASIBLE = "gramacy-infeasible"
QUICK_PROBLEMS = ("gramacy", "pressure-vessel", INFEASIBLE)
ON_INFEASIBLE = ("asktell", "asktell-config", "sobol")  # the methods run on the infeasible variant
ASKTELL, CONFIG = "asktell", "asktell-config"
WINS_NEEDED = 4
WORST_RATIO = 1.5
OVERHEAD_RATIO = 1.5
REGRET_FLOOR = 1e-6  # of max(1, |optimum|): regrets below count as solved in the ratio goals
OPTUNA_STARTUP = 10  # GPSampler's and TPESampler's n_startup_trials
AX_INITIAL = 5  # Ax 1.3.1's default generation strategy: the centre, then 4 Sobol points


def design_cut(dim: int) -> int:
    """Evaluations of the longest initial design among the model-based methods, for ``dim``."""
    from asktell.loops import BayesOpt

    return max(OPTUNA_STARTUP, 2 * (dim + 1), BayesOpt().initial_design_size(dim), AX_INITIAL)


def _methods() -> dict[str, Any]:
    from benchmarks.harness.peers_constrained import CONSTRAINED_METHODS

    return CONSTRAINED_METHODS


def _problems() -> dict[str, Any]:
    from benchmarks.harness.problems_constrained import CONSTRAINED

    return CONSTRAINED


# --- per-run numbers -------------------------------------------------------------------------------
def _ok(record: dict[str, Any]) -> bool:
    return record["error"] is None and len(record["regret"]) == record["budget"]


def first_feasible(record: dict[str, Any]) -> float:
    """The 1-based evaluation of a run's first feasible point (infinity: none)."""
    return next((i + 1 for i, ok in enumerate(record["feasible"]) if ok), math.inf)


def final_regret(record: dict[str, Any], problem: Any) -> float:
    """A run's final best feasible regret (>= 0); the problem's worst regret when it found none."""
    last = record["regret"][-1] if record["regret"] else None
    return problem.worst_regret if last is None else max(last, 0.0)


def declared_at(record: dict[str, Any]) -> float:
    """The 1-based evaluation at which CONFIG first declared infeasibility (infinity: never)."""
    extra = record.get("extra") or {}
    flagged = extra.get("declared_infeasible") or []
    if flagged:
        return float(flagged[0])
    return float(len(record["observed"])) if extra.get("memo_infeasible") else math.inf


def _median_count(values: list[float]) -> float:
    """The median of evaluation counts that may be infinite (never); NaN for none."""
    import numpy as np

    return float(np.median(values)) if values else math.nan


def _count(x: float) -> str:
    return "n/a" if math.isnan(x) else ("never" if math.isinf(x) else f"{x:g}")


def _fraction(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.0f}%"


def cell_summary(runs: list[dict[str, Any]], problem: Any) -> dict[str, Any]:
    """One method's numbers on one problem, from its runs (failed runs are listed, not counted)."""
    ok = [r for r in runs if _ok(r)]
    cut = design_cut(problem.dim)
    after = [x for r in ok for x in r["feasible"][cut:]]
    nan3 = (math.nan, math.nan, math.nan)
    q1, med, q3 = nan3 if problem.infeasible else report.quantiles(final_regret(r, problem) for r in ok)
    declared = [declared_at(r) for r in ok]
    return {
        "median_regret": med,
        "q25_regret": q1,
        "q75_regret": q3,
        "median_first_feasible": _median_count([first_feasible(r) for r in ok]),
        "no_feasible_seeds": sorted(r["seed"] for r in ok if not any(r["feasible"])),
        "feasible_seeds": sorted(r["seed"] for r in ok if any(r["feasible"])),
        "design_cut": cut,
        "infeasible_after_design": sum(not x for x in after) / len(after) if after else math.nan,
        "mean_overhead_s": report.mean(x for r in ok for x in r["overhead_s"]),
        "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in ok),
        "declared_seeds": sorted(r["seed"] for r, at in zip(ok, declared, strict=True) if at < math.inf),
        "median_declared_at": _median_count(declared) if any(r["method"] == CONFIG for r in ok) else math.nan,
        "n_ok": len(ok),
        "failed_seeds": sorted(r["seed"] for r in runs if r not in ok),
        "errors": sorted({r["error"].splitlines()[0] for r in runs if r["error"]}),
    }


class Constrained(Suite):
    def select_problems(self, args: argparse.Namespace) -> list[str]:
        if args.quick and args.problems == self.default_problems:
            return list(QUICK_PROBLEMS)
        return super().select_problems(args)

    def applies(self, method: str, problem: str) -> bool:
        return not self.problems[problem].infeasible or method in ON_INFEASIBLE

    def describe(self, record: dict[str, Any]) -> str:
        last = record["regret"][-1] if record["regret"] else None
        status = "ok" if record["error"] is None else "FAILED: " + record["error"].splitlines()[0]
        regret = "no feasible point" if last is None else f"regret {last:.4g}"
        overhead = report.median(record["overhead_s"]) * 1e3
        return (
            f"{record['method']:>14} {record['problem']:<18} seed {record['seed']}: {regret}, "
            f"{sum(record.get('feasible') or [])} feasible, {overhead:.2f} ms/ask, "
            f"run {record['wall_s']:.1f} s, {status}"
        )

    # --- the summary ------------------------------------------------------------------------------
    def summarize(self, records: list[dict], methods: list[str], problems: list[str]) -> dict[str, Any]:
        """Per (problem, method): regret quantiles, first feasible, infeasible fraction after the
        design cut, overheads, declarations, failed seeds; per method: overhead on the feasible
        problems."""
        cells: dict[str, dict[str, Any]] = {}
        for p in problems:
            cells[p] = {
                m: cell_summary(
                    [r for r in records if (r["problem"], r["method"]) == (p, m)], self.problems[p]
                )
                for m in methods
                if self.applies(m, p)
            }
        overall = {}
        for m in methods:
            runs = [r for r in records if r["method"] == m and _ok(r) and r["problem"] in FEASIBLE]
            asks = [x for r in runs if r["problem"] in problems for x in r["overhead_s"]]
            overall[m] = {"mean_overhead_s": report.mean(asks), "n_asks": len(asks)}
        return {"cells": cells, "overall": overall}

    def tables(
        self, summary: dict, methods: list[str], problems: list[str], records: list[dict]
    ) -> list[str]:
        texts = []
        for p in problems:
            problem, cells = self.problems[p], summary["cells"][p]
            budget = next((r["budget"] for r in records if r["problem"] == p), None)
            head = f"### {p} ({budget} evaluations, d={problem.dim}, {len(problem.constraints)} constraints"
            texts.append(
                _infeasible_table(head + ", infeasible by construction)", cells)
                if problem.infeasible
                else _problem_table(head + f", optimum {problem.optimum:.6g})", cells)
            )
        feasible = [p for p in problems if not self.problems[p].infeasible]
        if feasible:
            texts.append(_summary_table(summary, methods, feasible))
        return texts

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        """The problems (optima and where they come from), and the methods skipped and why (the
        asktell ones until BayesOpt serves constraints)."""
        out = {"problem_notes": problems_text(self.problems)}
        if args.report_only is not None:
            skipped = saved.get("skipped", {})
        else:
            from benchmarks.harness import runner

            chosen = runner.select(args.methods, list(self.methods), "methods")
            skipped = {m: why for m in chosen if (why := self.methods[m]().unavailable())}
        if skipped:
            text = "### Skipped\n\n" + "\n".join(f"- {m}: {why}" for m, why in skipped.items())
            out["skipped_methods"] = (text, skipped)
        return out

    def goals(
        self, summary: dict, methods: list[str], problems: list[str], extra: dict[str, Any]
    ) -> list[Goal]:
        return evaluate_goals(summary, methods, problems, self.problems)

    def plot(self, records: list[dict], methods: list[str], problems: list[str], path: Path) -> None:
        """Best feasible regret against evaluations, per feasible problem (the worst regret until a
        run's first feasible point)."""
        import numpy as np

        panels = []
        for p in problems:
            problem = self.problems[p]
            if problem.infeasible:
                continue
            series = {}
            for m in methods:
                runs = [r for r in records if (r["problem"], r["method"]) == (p, m) and _ok(r)]
                if runs:
                    Y = np.array(
                        [
                            [problem.worst_regret if v is None else max(v, 0.0) for v in r["regret"]]
                            for r in runs
                        ]
                    )
                    series[m] = (np.arange(1, Y.shape[1] + 1), Y)
            panels.append(report.Panel(p, self.xlabel, "best feasible regret", series))
        if panels:
            report.plot_panels(path, panels, ncols=self.ncols, highlight=self.highlight, labels=methods)


# --- tables ------------------------------------------------------------------------------------------
def problems_text(problems: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A table of the problems: size, budget, the optimum and its source, the worst feasible value
    (the regret of a run without a feasible point is measured from it), the design cut."""
    from benchmarks.harness.problems_constrained import OPTIMA

    rows, data = [], {}
    for name, p in problems.items():
        source = "no feasible point by construction" if p.infeasible else OPTIMA[name][2]
        optimum = "-" if p.infeasible else f"{p.optimum:.10g}"
        cut = design_cut(p.dim)
        rows.append([name, p.dim, len(p.constraints), p.budget, optimum, source, f"{p.worst_value:.7g}", cut])
        data[name] = {
            "dim": p.dim,
            "constraints": list(p.constraints),
            "budget": p.budget,
            "optimum": None if p.infeasible else p.optimum,
            "optimum_source": source,
            "worst_feasible_value": p.worst_value,
            "design_cut": cut,
        }
    head = ["problem", "d", "constraints", "budget", "optimum", "source", "worst feasible", "design cut"]
    return report.table(head, rows, title="### Problems"), data


def _best(cells: dict[str, Any]) -> str | None:
    scored = [(c["median_regret"], m) for m, c in cells.items() if not math.isnan(c["median_regret"])]
    return min(scored)[1] if scored else None


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) or "-"


def _problem_table(title: str, cells: dict[str, Any]) -> str:
    best = _best(cells)
    cut = next(iter(cells.values()))["design_cut"] if cells else 0
    rows = [
        [
            m,
            report.bold(report.g3(c["median_regret"]), m == best),
            f"{report.g3(c['q25_regret'])} - {report.g3(c['q75_regret'])}",
            _count(c["median_first_feasible"]),
            _seeds(c["no_feasible_seeds"]),
            _fraction(c["infeasible_after_design"]),
            report.seconds(c["mean_overhead_s"]),
            report.seconds(c["last10_overhead_s"]),
            _seeds(c["failed_seeds"]),
        ]
        for m, c in cells.items()
    ]
    head = [
        "method",
        "best feasible regret",
        "IQR",
        "first feasible (eval)",
        "seeds without feasible",
        f"infeasible after eval {cut}",
        "overhead/ask (s)",
        "last 10 asks (s)",
        "failed seeds",
    ]
    return report.table(head, rows, title=title)


def _infeasible_table(title: str, cells: dict[str, Any]) -> str:
    rows = [
        [
            m,
            _seeds(c["feasible_seeds"]),
            f"{len(c['declared_seeds'])} of {c['n_ok']}",
            _count(c["median_declared_at"]),
            report.seconds(c["mean_overhead_s"]),
            _seeds(c["failed_seeds"]),
        ]
        for m, c in cells.items()
    ]
    head = [
        "method",
        "seeds with a feasible point",
        "declared infeasible",
        "declared at (eval, median)",
        "overhead/ask (s)",
        "failed seeds",
    ]
    return report.table(head, rows, title=title)


def _summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    def cell(c: dict[str, Any] | None, best: bool) -> str:
        if c is None:
            return "n/a"
        return f"{report.bold(report.g3(c['median_regret']), best)} / {_count(c['median_first_feasible'])}"

    rows = []
    for p in problems:
        cells = summary["cells"][p]
        best = _best(cells)
        rows.append([p] + [cell(cells.get(m), m == best) for m in methods])
    rows.append(
        ["overhead per ask, all problems (s)"]
        + [report.seconds(summary["overall"][m]["mean_overhead_s"]) for m in methods]
    )
    title = "### Summary: median best feasible regret / median evaluations to the first feasible point"
    return report.table(["problem", *methods], rows, title=title)


# --- goals -------------------------------------------------------------------------------------------
def evaluate_goals(
    summary: dict, methods: list[str], problems: list[str], registry: dict[str, Any]
) -> list[Goal]:
    """Issue 15's goals; the win count is judged only when all 5 feasible problems ran."""
    goals: list[Goal] = []
    cells = summary["cells"]
    feasible = [p for p in problems if p in FEASIBLE]
    peers = [m for m in methods if m not in (ASKTELL, CONFIG)]
    mine = ASKTELL in methods and bool(feasible)
    ratios, firsts = {}, {}
    for p in feasible if mine else ():
        floor = REGRET_FLOOR * max(1.0, abs(registry[p].optimum))
        theirs = [x for m in peers if not math.isnan(x := cells[p][m]["median_regret"])]
        if not math.isnan(own := cells[p][ASKTELL]["median_regret"]) and theirs:
            ratios[p] = max(own, floor) / max(min(theirs), floor)
        best_first = min((cells[p][m]["median_first_feasible"] for m in peers), default=math.nan)
        firsts[p] = (cells[p][ASKTELL]["median_first_feasible"], best_first)

    goal = f"lowest median best feasible regret on >= {WINS_NEEDED} of the {len(FEASIBLE)} problems"
    wins = [p for p, r in ratios.items() if r <= 1.0]
    measured = f"wins on {len(wins)} of {len(ratios)}: {', '.join(wins) or 'none'}"
    if set(feasible) == set(FEASIBLE) and len(ratios) == len(FEASIBLE):
        goals.append(Goal.at_least(goal, measured, len(wins), WINS_NEEDED, "problem", wins=wins))
    else:
        goals.append(Goal(goal, measured if ratios else "asktell did not run", None))
    goals.append(
        Goal.at_most(
            f"median best feasible regret <= {WORST_RATIO}x the best peer's on every problem",
            "ratio to the best peer: " + (", ".join(f"{p} {r:.2f}" for p, r in ratios.items()) or "none"),
            max(ratios.values(), default=math.nan),
            WORST_RATIO,
            ratios=ratios,
        )
    )
    goal = "a feasible point in every seed of every problem"
    ran = [p for p in feasible if mine and not math.isnan(cells[p][ASKTELL]["median_regret"])]
    if ran:  # judged on the problems asktell ran on (none: not measured, never met by default)
        missing = {
            p: cells[p][ASKTELL]["no_feasible_seeds"] for p in ran if cells[p][ASKTELL]["no_feasible_seeds"]
        }
        measured = (
            "; ".join(f"{p}: seeds {_seeds(s)} found none" for p, s in missing.items())
            or "every seed found one"
        )
        runs = sum(len(s) for s in missing.values())
        goals.append(
            Goal(goal, measured, runs == 0, f"{runs} run{'s' * (runs != 1)}" if runs else "", missing)
        )
    else:
        goals.append(Goal(goal, "asktell did not run", None))
    goal = "first feasible point in no more evaluations (median) than the best peer's, on every problem"
    late = [p for p, (own, best) in firsts.items() if not own <= best]
    measured = (
        ", ".join(f"{p} {_count(own)} vs {_count(best)}" for p, (own, best) in firsts.items())
        or "asktell did not run"
    )
    known = bool(firsts) and not any(math.isnan(b) for _, b in firsts.values())
    by = f"{len(late)} problem{'s' * (len(late) != 1)}" if late else ""
    goals.append(Goal(goal, measured, (not late) if known else None, by, {"late": late}))
    overall = summary["overall"]
    own, gp = (overall.get(m, {}).get("mean_overhead_s", math.nan) for m in (ASKTELL, "optuna-gp"))
    ratio = own / gp if gp > 0 else math.nan
    goals.append(
        Goal.at_most(
            f"overhead per ask <= {OVERHEAD_RATIO}x Optuna GPSampler's",
            f"asktell {report.seconds(own)} s, optuna-gp {report.seconds(gp)} s"
            + ("" if math.isnan(ratio) else f" (ratio {ratio:.2f})"),
            ratio,
            OVERHEAD_RATIO,
        )
    )
    goal = f"CONFIG declares {INFEASIBLE} infeasible on every seed"
    config = cells.get(INFEASIBLE, {}).get(CONFIG)
    if config and config["n_ok"]:
        n, k = config["n_ok"], len(config["declared_seeds"])
        goals.append(Goal.at_least(goal, f"declared on {k} of {n} seeds", k, n, "seed"))
    else:
        goals.append(Goal(goal, "asktell-config did not run on it", None))
    goal = "CONFIG never declares a feasible problem infeasible"
    ran = [p for p in feasible if CONFIG in cells[p] and cells[p][CONFIG]["n_ok"]]
    wrong = {p: cells[p][CONFIG]["declared_seeds"] for p in ran if cells[p][CONFIG]["declared_seeds"]}
    if ran:
        runs = sum(len(s) for s in wrong.values())
        measured = (
            "; ".join(f"{p}: seeds {_seeds(s)}" for p, s in wrong.items()) or f"none on {', '.join(ran)}"
        )
        goals.append(Goal(goal, measured, not wrong, f"{runs} run{'s' * (runs != 1)}" if runs else "", wrong))
    else:
        goals.append(Goal(goal, "asktell-config did not run", None))
    return goals


SUITE = Constrained(
    "constrained",
    "benchmarks.constrained",
    _problems,
    _methods,
    "Constrained benchmark: asktell vs Optuna (GP, TPE), Ax, a BoTorch constrained-qLogNEI loop, Sobol.",
    seeds=10,
    quick_seeds=2,
    quick_jobs=2,
    resume=True,
)


if __name__ == "__main__":
    sys.exit(SUITE.main())
