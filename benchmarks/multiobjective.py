"""Several objectives: asktell's BayesOpt against its peers by hypervolume, same problems, same seeds.

Run ``make bench-mo`` (or ``python benchmarks/multiobjective.py``); ``--quick`` is a short version
(2 seeds, 16 evaluations, ``branincurrin``, ``zdt1`` and ``c2dtlz2``, 2 runs side by side).
Problems (:mod:`benchmarks.harness.problems_mo`, where the reference points, ``max_hv`` and shifts
are described): BoTorch's BraninCurrin (2-d, 2 objectives, 40 evaluations), DTLZ2 (6-d, 2, 60),
ZDT1 (6-d, 2, 60), VehicleSafety (5-d, 3, 80), CarSideImpact (7-d, 4, 100) and C2DTLZ2 (6-d, 2
objectives, 1 constraint, 60), all minimized. Methods (:mod:`benchmarks.harness.peers_mo`):
asktell's ``BayesOpt()`` with ``n_objectives`` (skipped, with the reason, while it refuses several
objectives), Optuna's GPSampler, TPESampler and NSGAIISampler, Ax's ``Client``, a plain BoTorch
qLogNEHVI loop as BoTorch's multi-objective tutorials write it, and asktell's Sobol.

The yardstick is ``log10(max_hv - hv)``: ``hv`` the hypervolume of a run's feasible evaluated values
w.r.t. the problem's reference point (:func:`asktell.pareto.hypervolume`), ``max_hv`` BoTorch's
(floored at ``1e-9 max_hv``: three of them are approximations a run may beat). Printed, per problem:
its median [IQR] over seeds at the final budget and after half of it; the overhead per ask (the
method's own time in ask and tell, not the function's: the median over the run's asks, the mean,
the median after the longest initial design of the model-based methods (:func:`design_cut`:
Optuna's 10 startup trials; asktell's and the BoTorch loop's ``min(max(5, d + 1), 20)``; Ax's 5),
the mean of the last 10 asks) and the median's ratio to Optuna GPSampler's in the same run; the
fraction of infeasible evaluations (C2DTLZ2); failed seeds. Then the goals of issue 16:

- asktell's median final log hypervolume difference is the lowest on at least 5 of the 6 problems
  and never worse than 1.5x the best peer's (a difference of at most 1.5 times the best peer's
  ``max_hv - hv``: ``log10`` within ``log10 1.5 = 0.18``);
- at half the budget asktell reaches the best peer's final hypervolume on at least 3 problems (its
  median difference after half the evaluations at most the best peer's median final one);
- its overhead per ask (median over all asks of every problem) at most 1.5x Optuna GPSampler's
  (the ratio of the medians after the designs is printed with it: on short runs the median over
  all asks is a design ask's);
  with 4 objectives and 100 trials (CarSideImpact) its slowest ask under 5 s.

A goal reads "not measured" when a method or problem it needs has no runs. Written:
``benchmarks/results/multiobjective.json`` (every run's values, feasibility, hypervolume per
evaluation and overhead, the summary, the goals, versions and threads) and ``multiobjective.png``
(``max_hv - hv`` against evaluations, median and IQR per method, log scale); ``--quick`` writes
``multiobjective_quick.*``. **Resumable**: each run is appended to
``multiobjective.partial.jsonl`` as it finishes and a rerun skips the runs recorded there
(``--fresh`` starts anew), so the asktell method, skipped while BayesOpt refuses several objectives,
is added by a rerun once it serves them. ``--report-only [FILE ...]`` reports on recorded runs.
``--budget N`` runs every problem for N evaluations (a smoke test; such runs are keyed apart).

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

PROBLEMS = ("branincurrin", "dtlz2", "zdt1", "vehiclesafety", "carsideimpact", "c2dtlz2")
QUICK_PROBLEMS = ("branincurrin", "zdt1", "c2dtlz2")
ASKTELL, GP_PEER = "asktell", "optuna-gp"
WINS_NEEDED = 5
WORST_RATIO = 1.5  # of the hypervolume difference
HALF_WINS_NEEDED = 3
OVERHEAD_RATIO = 1.5
ASK_LIMIT_S = 5.0
ASK_LIMIT_PROBLEM, ASK_LIMIT_TRIALS = "carsideimpact", 100
OPTUNA_STARTUP = 10  # GPSampler's and TPESampler's n_startup_trials
AX_INITIAL = 5  # Ax 1.3.1's default generation strategy: the centre, then 4 Sobol points


def design_cut(dim: int) -> int:
    """Evaluations of the longest initial design among the model-based methods, for ``dim`` (the
    BoTorch loop's design is asktell's size); asks after it are every method's model-based asks."""
    from asktell.loops import BayesOpt

    return max(OPTUNA_STARTUP, BayesOpt().initial_design_size(dim), AX_INITIAL)


def _methods() -> dict[str, Any]:
    from benchmarks.harness.peers_mo import MO_METHODS

    return MO_METHODS


def _problems() -> dict[str, Any]:
    from benchmarks.harness.problems_mo import MULTIOBJECTIVE

    return MULTIOBJECTIVE


# --- per-run numbers -------------------------------------------------------------------------------
def ok(record: dict[str, Any]) -> bool:
    return record["error"] is None and len(record["hv"]) == record["budget"]


def half(budget: int) -> int:
    """The evaluation count of "half the budget"."""
    return max(1, budget // 2)


def log_diff_at(record: dict[str, Any], problem: Any, n: int | None = None) -> float:
    """``log10(max_hv - hv)`` after ``n`` evaluations (None: all of the run's)."""
    hv = record["hv"][(n or len(record["hv"])) - 1] if record["hv"] else 0.0
    return float(problem.log_hv_diff(hv))


def cell_summary(runs: list[dict[str, Any]], problem: Any) -> dict[str, Any]:
    """One method's numbers on one problem, from its runs (failed runs are listed, not counted)."""
    good = [r for r in runs if ok(r)]
    final = report.quantiles(log_diff_at(r, problem) for r in good)
    at_half = report.quantiles(log_diff_at(r, problem, half(r["budget"])) for r in good)
    asks = [x for r in good for x in r["overhead_s"]]
    cut = design_cut(problem.dim)
    evaluations = [f for r in good for f in r["feasible"]]
    return {
        "q25_final": final[0],
        "median_final": final[1],
        "q75_final": final[2],
        "q25_half": at_half[0],
        "median_half": at_half[1],
        "q75_half": at_half[2],
        "half_at": half(good[0]["budget"]) if good else None,
        "median_hv": report.median(r["hv"][-1] for r in good),
        "beat_max_hv": sum(r["hv"][-1] > problem.max_hv for r in good),
        "median_overhead_s": report.median(asks),
        "mean_overhead_s": report.mean(asks),
        "design_cut": cut,
        "median_model_overhead_s": report.median(x for r in good for x in r["overhead_s"][cut:]),
        "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in good),
        "max_overhead_s": max(asks, default=math.nan),
        "infeasible_fraction": (
            sum(not f for f in evaluations) / len(evaluations)
            if evaluations and problem.constrained
            else math.nan
        ),
        "n_ok": len(good),
        "failed_seeds": sorted(r["seed"] for r in runs if r not in good),
        "errors": sorted({r["error"].splitlines()[0] for r in runs if r["error"]}),
    }


def _best(cells: dict[str, Any], key: str = "median_final", among: Any = None) -> str | None:
    scored = [
        (c[key], m) for m, c in cells.items() if (among is None or m in among) and not math.isnan(c[key])
    ]
    return min(scored)[1] if scored else None


def _log(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def _ratio(own: float, ref: float) -> float:
    return own / ref if ref > 0 and not math.isnan(own) else math.nan


class MultiObjective(Suite):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--budget", type=int, default=None, help="evaluations per run on every problem (smoke tests)"
        )

    def select_problems(self, args: argparse.Namespace) -> list[str]:
        if args.quick and args.problems == self.default_problems:
            return list(QUICK_PROBLEMS)
        return super().select_problems(args)

    def cell(self, method: str, problem: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
        budget = args.budget or self.problem(problem, args.quick).budget
        return {"method": method, "problem": problem, "seed": seed, "quick": args.quick, "budget": budget}

    def run_cell(self, cell: dict[str, Any]) -> dict[str, Any]:
        method = self.methods[cell["method"]]()
        problem = self.problem(cell["problem"], cell["quick"]).with_budget(cell["budget"])
        return method.run(problem, cell["seed"])

    def describe(self, record: dict[str, Any]) -> str:
        problem = self.problems[record["problem"]]
        status = "ok" if record["error"] is None else "FAILED: " + record["error"].splitlines()[0]
        diff = log_diff_at(record, problem) if record["hv"] else math.nan
        overhead = report.median(record["overhead_s"]) * 1e3
        return (
            f"{record['method']:>12} {record['problem']:<14} seed {record['seed']}: log10 hv diff "
            f"{_log(diff)}, {overhead:.2f} ms/ask, run {record['wall_s']:.1f} s, {status}"
        )

    # --- the summary ------------------------------------------------------------------------------
    def summarize(self, records: list[dict], methods: list[str], problems: list[str]) -> dict[str, Any]:
        """Per (problem, method): the yardstick's quantiles at the final and half budget,
        overheads, failed seeds; per method: overhead over every problem, and its ratio to
        Optuna GPSampler's."""
        cells = {
            p: {
                m: cell_summary(
                    [r for r in records if (r["problem"], r["method"]) == (p, m)], self.problems[p]
                )
                for m in methods
            }
            for p in problems
        }
        overall = {}
        for m in methods:
            runs = [r for r in records if r["method"] == m and ok(r) and r["problem"] in problems]
            asks = [x for r in runs for x in r["overhead_s"]]
            model = [x for r in runs for x in r["overhead_s"][design_cut(self.problems[r["problem"]].dim) :]]
            overall[m] = {
                "median_overhead_s": report.median(asks),
                "mean_overhead_s": report.mean(asks),
                "median_model_overhead_s": report.median(model),
                "n_asks": len(asks),
            }
        gp = overall.get(GP_PEER, {})
        for m in methods:
            overall[m]["median_ratio_to_gp"] = _ratio(
                overall[m]["median_overhead_s"], gp.get("median_overhead_s", math.nan)
            )
            overall[m]["mean_ratio_to_gp"] = _ratio(
                overall[m]["mean_overhead_s"], gp.get("mean_overhead_s", math.nan)
            )
            overall[m]["model_ratio_to_gp"] = _ratio(
                overall[m]["median_model_overhead_s"], gp.get("median_model_overhead_s", math.nan)
            )
        return {"cells": cells, "overall": overall}

    def tables(
        self, summary: dict, methods: list[str], problems: list[str], records: list[dict]
    ) -> list[str]:
        texts = []
        for p in problems:
            problem = self.problems[p]
            budget = next((r["budget"] for r in records if r["problem"] == p), None)
            cons = f", {len(problem.constraints)} constraint" if problem.constraints else ""
            title = (
                f"### {p} ({budget} evaluations, d={problem.dim}, {problem.n_objectives} objectives{cons}, "
                f"max_hv {problem.max_hv:.6g})"
            )
            texts.append(_problem_table(title, summary["cells"][p], problem.constrained))
        if problems:
            texts.append(_summary_table(summary, methods, problems))
        return texts

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        """The problems (reference points, ``max_hv`` and where it comes from, shifts), and the
        methods skipped and why (asktell until BayesOpt serves several objectives)."""
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
        return evaluate_goals(summary, methods, problems)

    def plot(self, records: list[dict], methods: list[str], problems: list[str], path: Path) -> None:
        """``max_hv - hv`` against evaluations per problem: median and IQR per method, log scale."""
        import numpy as np

        panels = []
        for p in problems:
            problem = self.problems[p]
            series = {}
            for m in methods:
                runs = [r for r in records if (r["problem"], r["method"]) == (p, m) and ok(r)]
                if runs:
                    n = min(len(r["hv"]) for r in runs)
                    Y = np.array([[problem.hv_gap(h) for h in r["hv"][:n]] for r in runs])
                    series[m] = (np.arange(1, n + 1), Y)
            panels.append(report.Panel(p, self.xlabel, "max_hv - hypervolume", series))
        if panels:
            report.plot_panels(path, panels, ncols=self.ncols, highlight=self.highlight, labels=methods)


# --- tables ------------------------------------------------------------------------------------------
def problems_text(problems: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A table of the problems: size, objectives, constraints, budget, reference point, ``max_hv`` and
    its source, shifted coordinates."""
    rows, data = [], {}
    for name, p in problems.items():
        ref = "(" + ", ".join(f"{r:.6g}" for r in p.ref_point) + ")"
        shift = ", ".join(f"x{i}" for i in p.shift_dims) or "-"
        rows.append([name, p.dim, p.n_objectives, len(p.constraints), p.budget, ref, f"{p.max_hv:.10g}",
                     p.source, shift])  # fmt: skip
        data[name] = {
            "dim": p.dim,
            "n_objectives": p.n_objectives,
            "constraints": list(p.constraints),
            "budget": p.budget,
            "ref_point": list(p.ref_point),
            "max_hv": p.max_hv,
            "max_hv_source": p.source,
            "shifted": [f"x{i}" for i in p.shift_dims],
        }
    head = ["problem", "d", "objectives", "constraints", "budget", "ref point", "max_hv", "source", "shifted"]
    note = (
        "\n\nThe reference point is given to every method whose API takes one: asktell "
        "(`init(ref_point=...)`), Ax (objective thresholds) and the BoTorch loop (qLogNEHVI's "
        "`ref_point`); Optuna's samplers take none. Shifted coordinates: `f(x - offset)`, a per-seed "
        "offset in Uniform(-0.25, 0.25) that moves the Pareto set off the box centre."
    )
    return report.table(head, rows, title="### Problems") + note, data


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) or "-"


def _problem_table(title: str, cells: dict[str, Any], constrained: bool) -> str:
    best = _best(cells)
    half_at = next((c["half_at"] for c in cells.values() if c["half_at"]), None)
    cut = next(iter(cells.values()))["design_cut"] if cells else 0
    gp = cells.get(GP_PEER, {}).get("median_overhead_s", math.nan)
    rows = []
    for m, c in cells.items():
        row = [
            m,
            report.bold(_log(c["median_final"]), m == best),
            f"{_log(c['q25_final'])} - {_log(c['q75_final'])}",
            _log(c["median_half"]),
            f"{_log(c['q25_half'])} - {_log(c['q75_half'])}",
            report.g3(c["median_hv"]),
            report.seconds(c["median_overhead_s"]),
            report.g3(_ratio(c["median_overhead_s"], gp)),
            report.seconds(c["mean_overhead_s"]),
            report.seconds(c["median_model_overhead_s"]),
            report.seconds(c["last10_overhead_s"]),
        ]
        if constrained:
            row.append(
                "n/a" if math.isnan(c["infeasible_fraction"]) else f"{100 * c['infeasible_fraction']:.0f}%"
            )
        rows.append([*row, _seeds(c["failed_seeds"])])
    head = [
        "method",
        "log10(max_hv - hv), final",
        "IQR",
        f"at eval {half_at}",
        "IQR",
        "hv, final",
        "overhead/ask, median (s)",
        f"vs {GP_PEER}",
        "mean (s)",
        f"median after eval {cut} (s)",
        "last 10 asks (s)",
        *(["infeasible evals"] if constrained else []),
        "failed seeds",
    ]
    text = report.table(head, rows, title=title)
    above = {m: c["beat_max_hv"] for m, c in cells.items() if c["beat_max_hv"]}
    if above:  # an approximate max_hv beaten: those runs count as at the front (the floor)
        listed = ", ".join(f"{m} {k} of {cells[m]['n_ok']}" for m, k in above.items())
        text += f"\n\nRuns whose final hypervolume exceeds max_hv (counted at the floor): {listed}."
    return text


def _summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    rows = []
    for p in problems:
        cells = summary["cells"][p]
        best = _best(cells)
        rows.append(
            [p]
            + [
                f"{report.bold(_log(cells[m]['median_final']), m == best)} / {_log(cells[m]['median_half'])}"
                for m in methods
            ]
        )
    overall = summary["overall"]
    rows.append(["overhead per ask, median over all asks (s)"]
                + [report.seconds(overall[m]["median_overhead_s"]) for m in methods])  # fmt: skip
    rows.append([f"ratio to {GP_PEER}"] + [report.g3(overall[m]["median_ratio_to_gp"]) for m in methods])
    rows.append(["overhead per ask after the designs, median (s)"]
                + [report.seconds(overall[m]["median_model_overhead_s"]) for m in methods])  # fmt: skip
    rows.append([f"ratio to {GP_PEER}, after the designs"]
                + [report.g3(overall[m]["model_ratio_to_gp"]) for m in methods])  # fmt: skip
    title = (
        "### Summary: median log10(max_hv - hv) at the final budget / at half of it (lower is better; "
        "best final in bold)"
    )
    return report.table(["problem", *methods], rows, title=title)


# --- goals -------------------------------------------------------------------------------------------
def evaluate_goals(summary: dict, methods: list[str], problems: list[str]) -> list[Goal]:
    """Issue 16's goals; the counts are judged only when all 6 problems ran."""
    goals: list[Goal] = []
    cells = summary["cells"]
    peers = [m for m in methods if m != ASKTELL]
    ran = [
        p
        for p in problems
        if ASKTELL in cells[p] and not math.isnan(cells[p][ASKTELL]["median_final"]) and
        any(not math.isnan(cells[p][m]["median_final"]) for m in peers)
    ]  # fmt: skip
    everything = set(problems) >= set(PROBLEMS) and len(ran) == len(PROBLEMS)
    gaps, reached = {}, {}
    for p in ran:
        best = _best(cells[p], among=peers)
        own = cells[p][ASKTELL]
        theirs = cells[p][best]["median_final"]  # type: ignore[index]
        gaps[p] = (own["median_final"], theirs, best)
        reached[p] = own["median_half"] <= theirs

    goal = (
        f"lowest median final log10 hypervolume difference on >= {WINS_NEEDED} of the "
        f"{len(PROBLEMS)} problems"
    )
    wins = [p for p, (own, theirs, _) in gaps.items() if own <= theirs]
    measured = (
        f"lowest on {len(wins)} of {len(gaps)}: {', '.join(wins) or 'none'}"
        if gaps
        else "asktell did not run"
    )
    if everything:
        goals.append(Goal.at_least(goal, measured, len(wins), WINS_NEEDED, "problem", wins=wins))
    else:
        goals.append(Goal(goal, measured + ("" if not gaps else " (not every problem ran)"), None))

    ratios = {p: 10 ** (own - theirs) for p, (own, theirs, _) in gaps.items()}
    goals.append(
        Goal.at_most(
            f"hypervolume difference <= {WORST_RATIO}x the best peer's on every problem",
            "ratio to the best peer: "
            + (", ".join(f"{p} {r:.2f} ({gaps[p][2]})" for p, r in ratios.items()) or "none"),
            max(ratios.values(), default=math.nan),
            WORST_RATIO,
            ratios=ratios,
        )
    )

    goal = f"at half the budget, the best peer's final hypervolume on >= {HALF_WINS_NEEDED} problems"
    early = [p for p, yes in reached.items() if yes]
    measured = (
        ", ".join(f"{p} {_log(cells[p][ASKTELL]['median_half'])} vs {_log(gaps[p][1])}" for p in reached)
        or "asktell did not run"
    )
    if everything:
        goals.append(Goal.at_least(goal, measured, len(early), HALF_WINS_NEEDED, "problem", reached=early))
    else:
        goals.append(Goal(goal, measured, None))

    overall = summary["overall"]
    own = overall.get(ASKTELL, {}).get("median_overhead_s", math.nan)
    gp = overall.get(GP_PEER, {}).get("median_overhead_s", math.nan)
    ratio = _ratio(own, gp)
    model = overall.get(ASKTELL, {}).get("model_ratio_to_gp", math.nan)
    goals.append(
        Goal.at_most(
            f"overhead per ask <= {OVERHEAD_RATIO}x Optuna GPSampler's (median over all asks)",
            f"asktell {report.seconds(own)} s, {GP_PEER} {report.seconds(gp)} s"
            + ("" if math.isnan(ratio) else f" (ratio {ratio:.2f})")
            + ("" if math.isnan(model) else f"; after the designs, ratio {model:.2f}"),
            ratio,
            OVERHEAD_RATIO,
            model_ratio=model,
        )
    )

    goal = (
        f"with 4 objectives and {ASK_LIMIT_TRIALS} trials ({ASK_LIMIT_PROBLEM}) every ask under "
        f"{ASK_LIMIT_S:g} s"
    )
    cell = cells.get(ASK_LIMIT_PROBLEM, {}).get(ASKTELL)
    full = cell is not None and cell["n_ok"] and (cell["half_at"] or 0) * 2 >= ASK_LIMIT_TRIALS
    if full:
        slowest = cell["max_overhead_s"]  # type: ignore[index]
        last10 = report.seconds(cell["last10_overhead_s"])  # type: ignore[index]
        measured = f"slowest ask {slowest:.2f} s, last 10 asks {last10} s"
        goals.append(Goal.at_most(goal, measured, slowest, ASK_LIMIT_S))
    else:
        why = "asktell did not run" if not (cell and cell["n_ok"]) else "the run was shorter than 100 trials"
        goals.append(Goal(goal, f"{why} on {ASK_LIMIT_PROBLEM}", None))
    return goals


SUITE = MultiObjective(
    "multiobjective",
    "benchmarks.multiobjective",
    _problems,
    _methods,
    "Multi-objective benchmark: asktell vs Optuna (GP, TPE, NSGA-II), Ax, a BoTorch qLogNEHVI loop, Sobol.",
    seeds=10,
    quick_seeds=2,
    quick_jobs=2,
    ylabel="max_hv - hypervolume",
    fields=("method", "problem", "seed", "budget"),
    resume=True,
)


if __name__ == "__main__":
    sys.exit(SUITE.main())
