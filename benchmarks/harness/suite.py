"""The common benchmark: ask/tell methods on problems, over seeds, scored by the simple regret.

A :class:`Suite` names its problems (from :mod:`~benchmarks.harness.problems`), its methods (from
:mod:`~benchmarks.harness.peers`) and its goals; :meth:`Suite.main` is then the whole script:
options, threads, the runs (recorded one by one, resumable, in a pool with ``--jobs``), one
markdown table per problem (median and IQR of the final regret, overhead per ask, last 10 asks,
failed seeds), a summary table, the goals, the convergence plot and the JSON results
(``<out>/<name>[_quick][_tag].json`` and ``.png``). A benchmark with other tables overrides
:meth:`Suite.summarize` and :meth:`Suite.tables`; extra measurements go in :meth:`Suite.sections`.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import machine, report, runner
from benchmarks.harness.report import Goal

DISTS = (
    "asktell", "torch", "botorch", "gpytorch", "numpy", "scipy", "optuna", "greenlet",
    "scikit-optimize", "scikit-learn", "ax-platform", "cma", "matplotlib",
)  # fmt: skip


def _job(module: str, cell: dict[str, Any]) -> dict[str, Any]:
    """One cell of the suite ``SUITE`` of ``module`` (importable in a spawned process)."""
    return importlib.import_module(module).SUITE.run_cell(cell)


@dataclass
class Suite:
    """A benchmark of ask/tell methods.

    Args:
        name: the stem of the results (``--quick``: ``<name>_quick``).
        module: the importable name of the script that defines this suite as ``SUITE``.
        load_problems: returns ``name -> problem`` at full budgets (:meth:`problem` gives the quick
            ones); called on first use, after the threads are set (the registry loads torch).
        load_methods: returns ``name -> method factory``, in the order of the tables.
        description: the script's one-line help.
        seeds, quick_seeds: seeds of a run (``--first-seed`` on) and of a ``--quick`` run.
        quick_jobs: runs side by side in a ``--quick`` run (1 for a full run).
        highlight: the method drawn thick in the plot.
        curve, xlabel, ylabel, ncols: the plotted record key, its axes' labels, panels per row.
        saved_summary: report-only renders the summary saved in the results (their records are
            kept compact, too compact to summarize again) instead of summarizing the records.
        fields: the key of a run's record (a rerun skips a key already recorded).
        default_problems: the default of ``--problems``.
        resume: reuse the recorded runs by default (``--fresh`` starts anew), for a benchmark whose
            full run spans sessions.
    """

    name: str
    module: str
    load_problems: Callable[[], Mapping[str, Any]]
    load_methods: Callable[[], Mapping[str, Callable[[], Any]]]
    description: str = ""
    seeds: int = 10
    quick_seeds: int = 3
    quick_jobs: int = 2
    highlight: str = "asktell"
    curve: str = "regret"
    xlabel: str = "evaluations"
    ylabel: str = "simple regret"
    ncols: int = 3
    saved_summary: bool = False
    fields: tuple[str, ...] = ("method", "problem", "seed")
    default_problems: str = "all"
    start_keys: tuple[str, ...] = ()  # what :meth:`start` returns, read back from saved results
    resume: bool = False

    @functools.cached_property
    def problems(self) -> Mapping[str, Any]:
        return self.load_problems()

    @functools.cached_property
    def methods(self) -> Mapping[str, Callable[[], Any]]:
        return self.load_methods()

    # --- what a suite may override ----------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Options of this benchmark beyond the common ones."""

    def select_problems(self, args: argparse.Namespace) -> list[str]:
        return runner.select(args.problems, list(self.problems), "problems")

    def start(self, args: argparse.Namespace) -> dict[str, Any]:
        """Called before the runs; returns what the results keep of it (e.g. a configuration)."""
        return {}

    def problem(self, name: str, quick: bool) -> Any:
        return self.problems[name].quick() if quick else self.problems[name]

    def applies(self, method: str, problem: str) -> bool:
        return True

    def cell(self, method: str, problem: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
        """One run's cell: its key fields and what :meth:`run_cell` needs."""
        return {"method": method, "problem": problem, "seed": seed, "quick": args.quick}

    def run_cell(self, cell: dict[str, Any]) -> dict[str, Any]:
        method = self.methods[cell["method"]]()
        return method.run(self.problem(cell["problem"], cell["quick"]), cell["seed"])

    def describe(self, record: dict[str, Any]) -> str:
        """A run's progress line: its last value of :attr:`curve`, overhead, wall time, status."""
        last = record[self.curve][-1] if record[self.curve] else math.nan
        status = "ok" if record["error"] is None else "FAILED: " + record["error"].splitlines()[0]
        return (
            f"{record['method']:>10} {record['problem']:<15} seed {record['seed']}: {self.curve} {last:.4g}, "
            f"{report.median(record['overhead_s']) * 1e3:.2f} ms/ask, run {record['wall_s']:.1f} s, {status}"
        )

    def summarize(self, records: list[dict], methods: list[str], problems: list[str]) -> dict[str, Any]:
        return summarize(records, methods, problems)

    def tables(
        self, summary: dict, methods: list[str], problems: list[str], records: list[dict]
    ) -> list[str]:
        texts = []
        for p in problems:
            budget = next((r["budget"] for r in records if r["problem"] == p), None)
            prob = self.problems[p]
            note = f", d={prob.dim}" + (f", noise sd {prob.noise_sd}" if prob.noise_sd else "")
            texts.append(problem_table(p, budget, summary["cells"][p], note))
        return [*texts, summary_table(summary, methods, problems)] if problems else texts

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        """Extra measurements: ``name -> (markdown, data)`` (``saved``: a report-only run's results)."""
        return {}

    def goals(
        self, summary: dict, methods: list[str], problems: list[str], extra: dict[str, Any]
    ) -> list[Goal]:
        return []

    def plot(self, records: list[dict], methods: list[str], problems: list[str], path: Path) -> None:
        panels = []
        for p in problems:
            runs = {
                m: [r for r in records if (r["problem"], r["method"]) == (p, m) and r["error"] is None]
                for m in methods
            }
            series = {m: got for m, rs in runs.items() if (got := report.curves(rs, self.curve))}
            panels.append(report.Panel(p, self.xlabel, self.ylabel, series))
        report.plot_panels(path, panels, ncols=self.ncols, highlight=self.highlight, labels=methods)

    def payload_records(self, records: list[dict]) -> list[dict]:
        """The records as the JSON results keep them."""
        return records

    # --- the script ---------------------------------------------------------------------------------
    def parse(self, argv: Sequence[str] | None) -> argparse.Namespace:
        parser = argparse.ArgumentParser(description=self.description)
        parser.add_argument("--seeds", type=int, default=None, help=f"number of seeds (default {self.seeds})")
        parser.add_argument("--first-seed", type=int, default=0, help="first seed (tune on others)")
        parser.add_argument("--problems", default=self.default_problems, help="comma-separated names, or all")
        parser.add_argument("--methods", default="all", help="comma-separated names, or all")
        parser.add_argument("--quick", action="store_true", help=f"{self.quick_seeds} seeds, small budgets")
        parser.add_argument("--threads", type=int, default=1, help="threads per process")
        parser.add_argument(
            "--jobs", type=int, default=None, help=f"runs side by side (1; --quick: {self.quick_jobs})"
        )
        parser.add_argument("--tag", default=None, help="suffix of the output files")
        runner.add_options(parser, resume=self.resume)
        self.add_arguments(parser)
        args = parser.parse_args(argv)
        if args.jobs is None:
            args.jobs = self.quick_jobs if args.quick else 1
        if args.seeds is None and args.report_only is None:
            args.seeds = self.quick_seeds if args.quick else self.seeds
        return args

    def stem(self, args: argparse.Namespace) -> str:
        return self.name + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else "")

    def main(self, argv: Sequence[str] | None = None) -> int:
        args = self.parse(argv)
        machine.set_threads(args.threads)
        from benchmarks.harness import peers  # torch loads here, after the threads are set

        peers.quiet()
        env = machine.environment(DISTS, threads=args.threads, jobs=args.jobs)
        print(machine.describe(env))
        stem, start = self.stem(args), time.perf_counter()
        run_file = args.out / f"{stem}.partial.jsonl"
        if args.report_only is not None:
            methods, problems, seeds, records, saved = self._recorded(args, run_file)
            started, skipped = {k: saved[k] for k in self.start_keys if k in saved}, saved.get("skipped", {})
        else:
            saved, started = {}, self.start(args)
            methods = runner.select(args.methods, list(self.methods), "methods")
            skipped = {m: why for m in methods if (why := self.methods[m]().unavailable())}
            for m, why in skipped.items():
                print(f"skipping {m}: {why}")
            methods = [m for m in methods if m not in skipped]
            problems = self.select_problems(args)
            seeds = list(range(args.first_seed, args.first_seed + args.seeds))
            cells = [
                self.cell(m, p, s, args)
                for s in seeds
                for p in problems
                for m in methods
                if self.applies(m, p)
            ]
            print(f"seeds {seeds}; methods {methods}; problems {problems}\n")
            runs = runner.Runs(self.fields, run_file, resume=args.resume)
            job, init = functools.partial(_job, self.module), {"initializer": peers.init_worker}
            records = runner.run(
                cells, job, runs, jobs=args.jobs, initargs=(args.threads,), describe=self.describe, **init
            )
        if self.saved_summary and "summary" in saved:
            summary = self.revive(saved["summary"])
        else:
            summary = self.summarize(records, methods, problems)
        texts = self.tables(summary, methods, problems, records)
        extra = self.sections(args, saved)
        texts += [text for text, _ in extra.values()]
        goals = self.goals(summary, methods, problems, {k: data for k, (_, data) in extra.items()})
        texts.append(report.goals_text(goals))
        print("\n\n".join(texts))
        elapsed = time.perf_counter() - start
        print(f"\n{len(records)} runs in {elapsed:.0f} s")
        budgets = {p: next((r["budget"] for r in records if r["problem"] == p), None) for p in problems}
        payload = {
            "environment": env,
            "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "seeds": seeds,
            "methods": methods,
            "skipped": skipped,
            "problems": {
                p: {
                    "budget": budgets[p],
                    "dim": (prob := self.problem(p, False)).dim,
                    "optimum": prob.optimum,
                }
                for p in problems
            },
            **started,
            "summary": summary,
            "goals": [g.to_dict() for g in goals],
            **{k: data for k, (_, data) in extra.items()},
            "elapsed_s": elapsed,
            "records": self.payload_records(records),
        }
        written = [args.out / f"{stem}.json"]
        runner.write_json(written[0], payload, indent=1)
        if problems and records:
            written.append(args.out / f"{stem}.png")
            self.plot(records, methods, problems, written[1])
        print("wrote " + ", ".join(str(p) for p in written))
        return 0

    def _recorded(self, args: argparse.Namespace, run_file: Path) -> tuple:
        """Methods, problems, seeds and records of a report-only run, and the saved results: by
        default the methods, problems and seeds recorded, restricted to the seeds every method
        finished on every problem."""
        files = [Path(f) for f in args.report_only] or [run_file]
        records = runner.Runs.of(files, self.fields).records
        saved: dict[str, Any] = {}
        for f in files:
            if f.suffix == ".json" and f.exists():
                saved.update(json.loads(f.read_text()))
        order = [*saved.get("problems", {}), *self.problems, *(r["problem"] for r in records)]
        recorded = [p for p in dict.fromkeys(order) if any(r["problem"] == p for r in records)]
        methods = runner.select(args.methods, list(self.methods), "methods")
        if args.methods == "all":
            methods = [m for m in methods if any(r["method"] == m for r in records)]
        problems = recorded if args.problems == self.default_problems else self.select_problems(args)
        seeds = sorted({r["seed"] for r in records})
        if args.seeds is not None:
            seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        groups = [{"method": m, "problem": p} for m in methods for p in problems if self.applies(m, p)]
        seeds = runner.complete_seeds(records, seeds, groups)
        print(f"report only: seeds every method finished on every problem: {seeds}")
        keep = [
            r for r in records if r["method"] in methods and r["problem"] in problems and r["seed"] in seeds
        ]
        return methods, problems, seeds, keep, saved


# --- the regret report -----------------------------------------------------------------------------
def _ok(record: dict[str, Any]) -> bool:
    return record["error"] is None and len(record["regret"]) == record["budget"]


def summarize(records: list[dict[str, Any]], methods: list[str], problems: list[str]) -> dict[str, Any]:
    """Per (problem, method): final-regret quantiles, overheads, failed seeds; per method: overhead."""
    cells: dict[str, dict[str, Any]] = {}
    for p in problems:
        cells[p] = {}
        for m in methods:
            runs = [r for r in records if r["problem"] == p and r["method"] == m]
            ok = [r for r in runs if _ok(r)]
            q1, med, q3 = report.quantiles(max(r["regret"][-1], 0.0) for r in ok)
            cells[p][m] = {
                "median_regret": med,
                "q25_regret": q1,
                "q75_regret": q3,
                "median_overhead_s": report.median(x for r in ok for x in r["overhead_s"]),
                "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in ok),
                "n_ok": len(ok),
                "failed_seeds": sorted(r["seed"] for r in runs if r not in ok),
                "errors": sorted({r["error"].splitlines()[0] for r in runs if r["error"]}),
            }
    overall = {}
    for m in methods:
        runs = [r for r in records if r["method"] == m and r["error"] is None and r["problem"] in problems]
        asks = [x for r in runs for x in r["overhead_s"]]
        overall[m] = {
            "median_overhead_s": report.median(asks),
            "mean_overhead_s": report.mean(asks),
            "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in runs),
            "n_asks": len(asks),
        }
    return {"cells": cells, "overall": overall}


def best_method(cells: dict[str, Any], key: str = "median_regret") -> str | None:
    scored = [(c[key], m) for m, c in cells.items() if not math.isnan(c[key])]
    return min(scored)[1] if scored else None


def problem_table(problem: str, budget: int | None, cells: dict[str, Any], note: str) -> str:
    best = best_method(cells)
    rows = [
        [
            m,
            report.bold(report.g3(c["median_regret"]), m == best),
            f"{report.g3(c['q25_regret'])} - {report.g3(c['q75_regret'])}",
            report.seconds(c["median_overhead_s"]),
            report.seconds(c["last10_overhead_s"]),
            ", ".join(map(str, c["failed_seeds"])) or "-",
        ]
        for m, c in cells.items()
    ]
    head = ["method", "median regret", "IQR", "overhead/ask (s)", "last 10 asks (s)", "failed seeds"]
    return report.table(head, rows, title=f"### {problem} ({budget} evaluations{note})")


def summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    rows = []
    for p in problems:
        cells, best = summary["cells"][p], best_method(summary["cells"][p])
        regret = {m: report.bold(report.g3(cells[m]["median_regret"]), m == best) for m in methods}
        rows.append([p] + [f"{regret[m]} / {report.seconds(cells[m]['median_overhead_s'])}" for m in methods])
    for key, label in (
        ("median_overhead_s", "median overhead per ask, all problems (s)"),
        ("last10_overhead_s", "last 10 asks of a run, median over runs (s)"),
    ):
        rows.append([label] + [report.seconds(summary["overall"][m][key]) for m in methods])
    title = "### Summary: median final regret / median overhead per ask (s); best regret in bold"
    return report.table(["problem", *methods], rows, title=title)
