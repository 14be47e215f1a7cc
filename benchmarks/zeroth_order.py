"""Zeroth-order optimization in 10-200 dimensions: ZoRD against ZO-SGD, CMA-ES, BayesOpt, random.

Run ``make bench-zo`` (or ``python benchmarks/zeroth_order.py``); ``--quick`` is a five-minute
version (2 seeds, d = 10 and 50, budgets of 60 and 200 queries, a short gradient study).

**Problems** (the registry's ``family-d``, :func:`benchmarks.harness.problems.zeroth_order`, each
shifted per seed so the optimum is off the centre; optimum value 0, so the best value found is the
simple regret): Ackley and Levy for d = 10, 50, 200 and the quadratic in d = 50. Budgets: 1000
queries for d >= 50, 150 for d = 10 (BayesOpt's asks cost 0.3-0.9 s each there).

**Methods**, all on the same shifted instance for a seed, one query per ask:

- ``zord``: ``asktell.loops.ZoRD()`` with its defaults (``--zord '{"lr": 0.05}'`` overrides some,
  for tuning runs on other seeds), through ``init``/``ask``/``tell``. Starts with its Sobol design.
- ``zosgd``: ``asktell.loops.ZOSGD(q=20)`` (orthonormal Gaussian directions, mu = 0.01, Adam with
  lr 0.01, all in unit-cube coordinates; 21 queries per step), started at a uniform random point
  drawn from the seed (``start="random"``).
- ``bayesopt``: ``asktell.loops.BayesOpt()`` defaults, d = 10 only (the issue's choice: a global GP
  and its acquisition optimization are the wrong tool, and too slow, in 50-200 dimensions).
- ``cma``: CMA-ES (``cma``, ask/tell in the unit cube, ``sigma0 = 0.3``, default population
  ``4 + 3 ln d``, ``x0`` = ZO-SGD's start point for the same seed, cma's ``seed = seed + 1``). The
  last generation is cut at the budget (its remaining candidates are not evaluated).
- ``random``: ``asktell.loops.RandomSearch()``.

**Measured**, per (problem, method), over seeds: the median (and interquartile range) of the best
value after 25%, 50% and 100% of the budget; queries to reach a target, where the target of a seed
is the best value ZO-SGD has at the full budget on that seed (``Q`` = first query whose best-so-far
is at or below it; never reached counts as infinite, shown as ``>budget``; the table shows the
median over seeds and, in brackets, on how many seeds it was reached); the median overhead per
query (the method's own time in ask plus tell, the function excluded; for CMA-ES the time of a
generation's ask and tell divided over its queries), and the mean overhead of the last 10 asks of a
run (the overhead grows with the trajectory). For ZoRD the overhead is split into GP fit, virtual
steps (from the trials' metadata), and the rest (building the trajectory tensors from the state).

**Gradient-quality study** (``--grad-problems``, default ackley-50, levy-50, quadratic-50): along
ZoRD runs, every ``--grad-every`` descent asks, at the point the ask starts from (the best completed
point) we compute the loop's surrogate gradient the way the loop computes it (a GP fitted on the
``n_local`` = 150 completed points nearest it by the loop's own fitting step, warm-started and
refitted by its rule, ``derived_gp(model).mean``), the true gradient (autograd of the torch test
function; all gradients are in unit-cube coordinates) and the finite-difference estimator
``finite_difference_gradient`` with 5 and 20 orthonormal Gaussian directions (mu = 0.01, as ZO-SGD),
which cost 6 and 21 queries. Printed: median cosine similarity with the true gradient. The same is
measured along ZoRD runs that add 2 active queries per descent query (``ask(n=3)``) with each of the
two active-query rules of ``asktell.acquisition.active``.

**Goals** (issue 4):

1. on every problem with d >= 50, ZoRD's median queries to the target is at most a third of
   ZO-SGD's median queries to the same target (ZO-SGD's own first query at its final best value);
2. ZoRD's median final value beats CMA-ES's on at least half of the problems;
3. ZoRD's median overhead per ask at d = 200 (150 local points) is below the time of a single
   20-query finite-difference gradient of a function that costs 10 ms: 200 ms. Also reported for
   the last 10 asks of a run (about 1000 completed trials).

Written: ``benchmarks/results/zeroth_order.json`` (summary, goals, gradient study, every run's
best-so-far curve and overhead summaries) and ``zeroth_order.png``; ``--quick`` writes
``zeroth_order_quick.*``, ``--tag T`` ``zeroth_order_T.*``. ``--report-only
benchmarks/results/zeroth_order.json`` prints the saved tables again. ``--resume`` reuses a ZoRD run
only under the same ZoRD configuration and source, the others under the same source of asktell's
other loops. One thread (``--threads``), runs one at a time: overheads are not inflated by runs
sharing cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.harness import report  # noqa: E402  (no torch before the threads are set)
from benchmarks.harness.report import Goal, g3, ms  # noqa: E402
from benchmarks.harness.suite import Suite  # noqa: E402

METHODS = ("zord", "zosgd", "bayesopt", "cma", "random")
BAYESOPT_MAX_DIM = 10
CHECKPOINTS = (0.25, 0.5, 1.0)
TARGET_FACTOR = 1 / 3  # goal 1: ZoRD needs at most this fraction of ZO-SGD's queries
FD_FUNCTION_S = 0.010  # goal 3: a 10 ms function ...
FD_QUERIES = 20  # ... times a 20-query finite-difference gradient
GOAL_OVERHEAD_S = FD_FUNCTION_S * FD_QUERIES
FD_MU = 0.01
GRAD_QS = (5, 20)
ACTIVE_EXTRA = 2  # active queries per descent query in the gradient study's active variants


def _dim(problem: str) -> int:
    return int(problem.rpartition("-")[2])


def zosgd_start(instance: Any, seed: int) -> list[float]:
    """ZO-SGD's start point for this seed (unit cube): CMA-ES starts there too."""
    from asktell.loops import ZOSGD

    return list(ZOSGD(q=20).init(instance.space, seed=seed).memo["x"])


def make_method(name: str, zord_options: dict[str, Any]) -> Any:
    from asktell.loops import ZOSGD, BayesOpt, RandomSearch, ZoRD
    from benchmarks.harness import peers

    loops = {
        "zord": lambda: ZoRD(**zord_options),
        "zosgd": lambda: ZOSGD(q=20),
        "bayesopt": BayesOpt,
        "random": RandomSearch,
    }
    if name == "cma":
        return peers.cma(sigma0=0.3, x0=zosgd_start)
    return peers.asktell(loops[name], name)


def _source(*names: str) -> str:
    """A hash of asktell source files (``loops/zord.py``, ...), so a resumed run reuses only runs of
    the same code."""
    digest = hashlib.sha256()
    for name in names:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


class ZerothOrder(Suite):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dims", default=None, help="comma-separated dimensions to keep")
        parser.add_argument("--budget", type=int, default=None, help="one budget for every problem")
        parser.add_argument("--zord", default="{}", help="JSON of ZoRD options overriding its defaults")
        parser.add_argument(
            "--grad-problems", default=None, help="default ackley-50,levy-50,quadratic-50; '' to skip"
        )
        parser.add_argument(
            "--grad-seeds", type=int, default=None, help="seeds of the gradient study (2; quick 1)"
        )
        parser.add_argument(
            "--grad-budget", type=int, default=None, help="queries per study run (300; quick 120)"
        )
        parser.add_argument("--grad-every", type=int, default=3, help="measure every this many asks")

    def parse(self, argv: Any) -> argparse.Namespace:
        args = super().parse(argv)
        if args.quick and args.dims is None:
            args.dims = "10,50"
        if args.grad_problems is None:
            args.grad_problems = "ackley-50" if args.quick else "ackley-50,levy-50,quadratic-50"
        args.grad_seeds = args.grad_seeds or (1 if args.quick else 2)
        args.grad_budget = args.grad_budget or (120 if args.quick else 300)
        try:
            args.zord_options = json.loads(args.zord)
            assert isinstance(args.zord_options, dict)
        except (ValueError, AssertionError):
            raise SystemExit(f"--zord must be a JSON object, got {args.zord!r}") from None
        return args

    def select_problems(self, args: argparse.Namespace) -> list[str]:
        from benchmarks.harness.problems import ZO_DEFAULT, ZO_FAMILIES, zeroth_order

        keep = None if args.dims is None else {int(d) for d in args.dims.split(",") if d.strip()}
        names = []
        for item in (
            ZO_DEFAULT if args.problems == "default" else [s.strip() for s in args.problems.split(",")]
        ):
            if item in ZO_FAMILIES:
                names += [f"{item}-{d}" for d in sorted(keep or {10, 50, 200})]
            elif item:
                zeroth_order(item)  # raises for unknown names
                names.append(item)
        return [n for n in names if keep is None or _dim(n) in keep]

    def start(self, args: argparse.Namespace) -> dict[str, Any]:
        from asktell.loops import ZoRD

        config = {**ZoRD(**args.zord_options).config(), "source_sha256": _source("loops/zord.py")}
        print(f"ZoRD options {args.zord_options or 'defaults'}; configuration: {config}")
        others = _source("loops/zeroth.py", "loops/bayesopt.py", "surrogates/gp.py", "acquisition/bo.py")
        self._keys = {"zord": json.dumps([config, args.quick, args.budget], sort_keys=True)}
        self._keys["other"] = json.dumps([args.quick, args.budget, others])
        return {"zord_config": config}

    def problem(self, name: str, quick: bool, budget: int | None = None) -> Any:
        from benchmarks.harness.problems import zeroth_order

        return zeroth_order(name, quick=quick, budget=budget)

    def applies(self, method: str, problem: str) -> bool:
        return method != "bayesopt" or _dim(problem) <= BAYESOPT_MAX_DIM

    def cell(self, method: str, problem: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "method": method,
            "problem": problem,
            "seed": seed,
            "budget": self.problem(problem, args.quick, args.budget).budget,
            "config_key": self._keys["zord" if method == "zord" else "other"],
            "zord": args.zord_options,
        }

    def run_cell(self, cell: dict[str, Any]) -> dict[str, Any]:
        """A run in this benchmark's record layout: ``best`` (the best-so-far value, here the
        regret), overheads, and ZoRD's fit and virtual-step times per model-based ask."""
        problem = self.problem(cell["problem"], False, cell["budget"])
        rec = make_method(cell["method"], cell["zord"]).run(problem, cell["seed"])
        keep = ("method", "problem", "seed", "budget", "overhead_s", "overhead_cpu_s", "wall_s", "error")
        out = {
            **{k: rec[k] for k in keep},
            "dim": problem.dim,
            "best": rec["regret"],
            "fit_s": [],
            "step_s": [],
        }
        meta = rec["extra"].get("metadata", {})
        n = len(out["overhead_s"])
        for i, fit in enumerate(meta.get("fit_seconds", [])[:n]):
            if fit is not None:
                out["fit_s"].append(fit)
                out["step_s"].append((meta.get("step_seconds") or [0.0] * n)[i] or 0.0)
                out.setdefault("overhead_model_asks_s", []).append(out["overhead_s"][i])
        for i, steps in enumerate(meta.get("virtual_steps", [])[:n]):
            if steps is not None:
                out.setdefault("virtual_steps", []).append(steps)
                out.setdefault("uncertainty", []).append(float(f"{meta['uncertainty'][i]:.4g}"))
        return out

    def summarize(self, records: list[dict], methods: list[str], problems: list[str]) -> dict[str, Any]:
        return summarize(records, methods, problems)

    def revive(self, summary: dict[str, Any]) -> dict[str, Any]:
        """Queries never reached were infinite (written as null); other nulls were NaN."""
        for by in summary["cells"].values():
            for c in by.values():
                never = c["reached"] < len(c["queries_to_target"])
                for k, v in c.items():
                    if k == "queries_to_target":
                        c[k] = [math.inf if x is None else x for x in v]
                    elif k == "best_at":
                        c[k] = {f: [math.nan if x is None else x for x in q] for f, q in v.items()}
                    elif v is None:
                        c[k] = math.inf if k == "queries_to_target_median" and never else math.nan
        return summary

    def tables(
        self, summary: dict, methods: list[str], problems: list[str], records: list[dict]
    ) -> list[str]:
        budgets = {p: next(r["budget"] for r in records if r["problem"] == p) for p in problems}
        texts = [problem_table(p, budgets[p], summary["cells"][p]) for p in problems]
        if problems:
            texts.append(summary_table(summary, methods, problems))
            if "zord" in methods:
                texts.append(zord_overhead_table(summary, problems))
        return texts

    def sections(self, args: argparse.Namespace, saved: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        study = saved.get("gradient_study")
        grad_problems = [g.strip() for g in args.grad_problems.split(",") if g.strip()]
        if study is None and grad_problems and args.report_only is None:
            t0 = time.perf_counter()
            seeds = list(range(args.first_seed, args.first_seed + args.grad_seeds))
            study = gradient_study(grad_problems, seeds, args.grad_budget, args.grad_every, args.zord_options)
            study["wall_s"] = time.perf_counter() - t0
        return {"gradient_study": (gradient_table(study), study)} if study else {}

    def goals(
        self, summary: dict, methods: list[str], problems: list[str], extra: dict[str, Any]
    ) -> list[Goal]:
        return evaluate_goals(summary, problems)

    def payload_records(self, records: list[dict]) -> list[dict]:
        return [compact(r) if isinstance(r.get("overhead_s"), list) else r for r in records]


SUITE = ZerothOrder(
    "zeroth_order",
    "benchmarks.zeroth_order",
    lambda: {},
    lambda: {m: (lambda m=m: make_method(m, {})) for m in METHODS},
    "Zeroth-order benchmark: ZoRD vs ZO-SGD, CMA-ES, BayesOpt and random search.",
    seeds=5,
    quick_seeds=2,
    quick_jobs=1,
    highlight="zord",
    curve="best",
    xlabel="queries",
    ylabel="best value",
    ncols=4,
    saved_summary=True,
    fields=("method", "problem", "seed", "budget", "config_key"),
    default_problems="default",
    start_keys=("zord_config",),
)


# --- gradient-quality study ----------------------------------------------------------------------
def _cosine(a: Any, b: Any) -> float:
    na, nb = float(a.norm()), float(b.norm())
    return float(a @ b) / (na * nb) if na > 0 and nb > 0 else math.nan


def _fd_gradient(instance: Any, x: Any, q: int, generator: Any) -> Any:
    """The ZO-SGD estimator at ``x`` with ``q`` directions (``q + 1`` queries)."""
    import torch

    from asktell.loops.zeroth import finite_difference_gradient, random_directions

    U = random_directions(x.shape[0], q, generator, "gaussian")
    probes = (x + FD_MU * U).clamp(0.0, 1.0)
    U_eff = (probes - x) / FD_MU  # a probe clamped at the box moved less: use its displacement
    f_probes = torch.tensor([instance.value_unit(p) for p in probes], dtype=torch.float64)
    return finite_difference_gradient(instance.value_unit(x), f_probes, U_eff, FD_MU)


def _surrogate_gradient(loop: Any, state: Any) -> tuple[Any, Any, float] | None:
    """The gradient ZoRD's next ask starts from, recomputed with the loop's pieces.

    Returns ``(start point, surrogate gradient, normalized uncertainty)``, or None when the next ask
    is not model-based (still in the Sobol design, or nothing to model).
    """
    import torch

    from asktell.loops.trajectory import modelling_obstacle, trajectory
    from asktell.surrogates.gradient import derived_gp
    from asktell.surrogates.local import nearest

    if len(state.trials) < loop.n_init or modelling_obstacle(state):
        return None
    X, y = trajectory(state)
    start = X[int(torch.argmin(y))]
    local = nearest(X, start, loop.n_local)
    # the loop's own fitting step (fit_gp on the local points, warm-started from the memo and
    # refitted by its fit_every rule), on a copy of the memo, so the study sees what ask sees
    fit = loop._fit(state, X[local], y[local], dict(state.memo))
    dgp = derived_gp(fit.model)
    Z = start.unsqueeze(0)
    return start, dgp.mean(Z)[0], float(dgp.trace(Z) / dgp.prior_trace(Z))


def gradient_study(
    problems: list[str], seeds: list[int], budget: int, every: int, zord_options: dict
) -> dict:
    """Cosine similarity with the true gradient: ZoRD's surrogate vs finite differences."""
    import torch

    from asktell.loops import ZoRD
    from benchmarks.harness.problems import zeroth_order

    variants = {"zord": (ZoRD(**zord_options), 1)}
    for rule in ("trace_at_iterate", "uncertainty_at_candidates"):
        variants[f"zord+active({rule})"] = (ZoRD(**{**zord_options, "active_rule": rule}), 1 + ACTIVE_EXTRA)
    out: dict[str, Any] = {"budget": budget, "every": every, "seeds": seeds, "rows": {}}
    for p in problems:
        for seed in seeds:
            instance = zeroth_order(p, budget=budget).instance(seed)
            for variant, (loop, n) in variants.items():
                t_start = time.perf_counter()
                state = loop.init(instance.space, seed=seed)
                best, asks, cos, unc, fd = math.inf, 0, [], [], {q: [] for q in GRAD_QS}
                gen = torch.Generator().manual_seed(10_000 + seed)
                while len(state.trials) < budget:
                    k = min(n, budget - len(state.trials))
                    if asks % every == 0 and (got := _surrogate_gradient(loop, state)) is not None:
                        x, g, u = got
                        true = instance.true_gradient(x)
                        cos.append(_cosine(g, true))
                        unc.append(u)
                        for q in GRAD_QS if variant == "zord" else ():
                            fd[q].append(_cosine(_fd_gradient(instance, x, q, gen), true))
                    state, trials = loop.ask(state, k)
                    asks += 1
                    for t in trials:
                        v = instance(t.params)
                        best = min(best, v)
                        state = loop.tell(state, t.id, v)
                row = out["rows"].setdefault(
                    p, {name: {"cos": [], "best": [], "uncertainty": []} for name in variants}
                )
                row[variant]["cos"] += cos
                row[variant]["uncertainty"] += unc
                row[variant]["best"].append(best)
                for q in GRAD_QS if variant == "zord" else ():
                    row.setdefault(f"fd{q}", {"cos": [], "best": [], "uncertainty": []})["cos"] += fd[q]
                print(
                    f"gradient study {p} seed {seed} {variant}: {len(cos)} points, median cos "
                    f"{report.median(cos):.3f}, best {best:.4g}, {time.perf_counter() - t_start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return out


# --- statistics ----------------------------------------------------------------------------------
def queries_to(curve: list[float], target: float) -> float:
    """First query (1-based) whose best-so-far is at or below ``target``; inf if never."""
    return next((float(i + 1) for i, v in enumerate(curve) if v <= target), math.inf)


def summarize(records: list[dict[str, Any]], methods: list[str], problems: list[str]) -> dict[str, Any]:
    cells: dict[str, dict[str, Any]] = {}
    for p in problems:
        runs = [r for r in records if r["problem"] == p]
        ok = {
            (r["method"], r["seed"]): r for r in runs if r["error"] is None and len(r["best"]) == r["budget"]
        }
        targets = {s: r["best"][-1] for (m, s), r in ok.items() if m == "zosgd"}
        cells[p] = {}
        for m in methods:
            mine = [r for (mm, _), r in ok.items() if mm == m]
            if not mine and not any(r["method"] == m for r in runs):
                continue
            budget = runs[0]["budget"]
            at = {
                str(f): report.quantiles(r["best"][max(1, int(round(f * budget))) - 1] for r in mine)
                for f in CHECKPOINTS
            }
            q = [queries_to(r["best"], targets[r["seed"]]) for r in mine if r["seed"] in targets]

            def pooled(key: str, runs: list[dict] = mine) -> list[float]:
                return [x for r in runs for x in r.get(key, [])]

            cells[p][m] = {
                "best_at": at,
                "final_median": at["1.0"][1],
                "queries_to_target": q,
                "queries_to_target_median": report.median(q),
                "reached": int(sum(math.isfinite(x) for x in q)),
                "median_overhead_s": report.median(pooled("overhead_s")),
                "last10_overhead_s": report.median(report.mean(r["overhead_s"][-10:]) for r in mine),
                "median_overhead_cpu_s": report.median(pooled("overhead_cpu_s")),
                "last10_overhead_cpu_s": report.median(report.mean(r["overhead_cpu_s"][-10:]) for r in mine),
                "median_fit_s": report.median(pooled("fit_s")),
                "median_step_s": report.median(pooled("step_s")),
                "median_model_ask_overhead_s": report.median(pooled("overhead_model_asks_s")),
                "mean_virtual_steps": report.mean(pooled("virtual_steps")),
                "wall_s": float(sum(r["wall_s"] for r in mine)),
                "n_ok": len(mine),
                "failed_seeds": sorted(r["seed"] for r in runs if r["method"] == m and r not in mine),
                "errors": sorted(
                    {r["error"].splitlines()[0] for r in runs if r["method"] == m and r["error"]}
                ),
            }
    return {"cells": cells}


def compact(rec: dict[str, Any]) -> dict[str, Any]:
    """A run record for the published JSON: the best-so-far curve in full (5 significant digits),
    per-query overheads and ZoRD's per-ask metadata as summaries (the JSON stays ~1 MB)."""
    out = {k: rec[k] for k in ("method", "problem", "dim", "seed", "budget", "wall_s", "error")}
    out["best"] = [float(f"{v:.5g}") for v in rec["best"]]
    for key in ("overhead_s", "overhead_cpu_s", "fit_s", "step_s", "uncertainty"):
        if xs := rec.get(key) or []:
            out[key] = {
                "median": report.median(xs),
                "mean": report.mean(xs),
                "last10_mean": report.mean(xs[-10:]),
                "every_50th": [float(f"{v:.4g}") for v in xs[::50]],
            }
    if rec.get("virtual_steps"):
        out["virtual_steps_mean"] = report.mean(rec["virtual_steps"])
    return out


# --- tables --------------------------------------------------------------------------------------
def _q(x: float, budget: int) -> str:
    return "n/a" if math.isnan(x) else (f">{budget}" if math.isinf(x) else f"{x:.0f}")


def _best(cells: dict[str, Any]) -> str | None:
    finals = {m: c["final_median"] for m, c in cells.items() if not math.isnan(c["final_median"])}
    return min(finals, key=finals.__getitem__) if finals else None


def problem_table(problem: str, budget: int, cells: dict[str, Any]) -> str:
    best, rows = _best(cells), []
    for m, c in cells.items():
        at, fail = c["best_at"], f" (failed seeds {c['failed_seeds']})" if c["failed_seeds"] else ""
        rows.append(
            [
                m + fail,
                g3(at["0.25"][1]),
                g3(at["0.5"][1]),
                f"{report.bold(g3(at['1.0'][1]), m == best)} ({g3(at['1.0'][0])} - {g3(at['1.0'][2])})",
                f"{_q(c['queries_to_target_median'], budget)} ({c['reached']}/{len(c['queries_to_target'])})",
                f"{ms(c['median_overhead_cpu_s'])} / {ms(c['median_overhead_s'])}",
                f"{ms(c['last10_overhead_cpu_s'])} / {ms(c['last10_overhead_s'])}",
            ]
        )
    head = [
        "method", f"best @{int(budget * 0.25)}", f"best @{int(budget * 0.5)}", f"best @{budget} (IQR)",
        "queries to ZO-SGD's final (seeds reached)", "overhead/ask, ms (CPU / wall)",
        "last 10 asks, ms (CPU / wall)",
    ]  # fmt: skip
    return report.table(head, rows, title=f"### {problem} (d = {_dim(problem)}, {budget} queries)")


def summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    rows = []
    for p in problems:
        cells = summary["cells"][p]
        best = _best(cells)
        rows.append(
            [p]
            + [report.bold(g3(cells[m]["final_median"]), m == best) if m in cells else "-" for m in methods]
        )
    title = "### Summary: median best value at the full budget (lowest in bold)"
    return report.table(["problem", *methods], rows, title=title)


def zord_overhead_table(summary: dict[str, Any], problems: list[str]) -> str:
    rows = []
    for p in problems:
        if c := summary["cells"][p].get("zord"):
            rest = c["median_model_ask_overhead_s"] - c["median_fit_s"] - c["median_step_s"]
            rows.append(
                [
                    p, ms(c["median_overhead_cpu_s"]), ms(c["median_overhead_s"]),
                    ms(c["median_model_ask_overhead_s"]), ms(c["median_fit_s"]), ms(c["median_step_s"]),
                    f"~{ms(rest)}", ms(c["last10_overhead_s"]), f"{c['mean_virtual_steps']:.2f}",
                ]
            )  # fmt: skip
    head = [
        "problem", "all asks, CPU", "all asks", "model-based asks", "GP fit", "virtual steps",
        "rest (trajectory from the state, bookkeeping)", "last 10 asks", "virtual steps per query (mean)",
    ]  # fmt: skip
    title = "### ZoRD's overhead per ask, split (medians, ms; wall time except the CPU column)"
    return report.table(head, rows, title=title)


def gradient_table(study: dict[str, Any]) -> str:
    cost = {"zord": "0 (its trajectory)", "fd5": "6", "fd20": "21"}
    labels = {"fd5": "finite differences, q = 5", "fd20": "finite differences, q = 20"}
    rows = []
    for p, by in study["rows"].items():
        for name, r in by.items():
            q1, med, q3 = report.quantiles(r["cos"])
            rows.append(
                [
                    p, labels.get(name, name), cost.get(name, f"{ACTIVE_EXTRA} active per descent query"),
                    f"{med:.3f} ({q1:.3f} - {q3:.3f})", len(r["cos"]), g3(report.median(r["uncertainty"])),
                    g3(report.median(r["best"])),
                ]
            )  # fmt: skip
    head = [
        "problem", "estimator", "extra queries per gradient", "median cosine (IQR)", "points",
        "median normalized uncertainty", "median best value at the end",
    ]  # fmt: skip
    title = (
        f"### Gradient quality: cosine similarity with the true gradient (seeds {study['seeds']}, "
        f"{study['budget']}-query ZoRD runs, measured every {study['every']} asks)"
    )
    return report.table(head, rows, title=title)


# --- goals ---------------------------------------------------------------------------------------
def evaluate_goals(summary: dict[str, Any], problems: list[str]) -> list[Goal]:
    cells = summary["cells"]
    high = [p for p in problems if _dim(p) >= 50 and "zord" in cells[p] and "zosgd" in cells[p]]
    ratios, details = {}, []
    for p in high:
        z, s = cells[p]["zord"]["queries_to_target_median"], cells[p]["zosgd"]["queries_to_target_median"]
        ratios[p] = z / s
        ratio = "inf" if math.isinf(z) else f"{z / s:.2f}"
        details.append(f"{p} {'never' if math.isinf(z) else _q(z, 0)} vs {s:.0f} ({ratio})")
    goals = [
        Goal.at_most(
            "ZoRD reaches ZO-SGD's final value with <= 1/3 of its queries on every d >= 50 problem",
            "median queries ZoRD vs ZO-SGD (ratio): " + "; ".join(details),
            max(ratios.values(), default=math.nan),
            TARGET_FACTOR,
        )
    ]
    both = [p for p in problems if "zord" in cells[p] and "cma" in cells[p]]
    wins = [p for p in both if cells[p]["zord"]["final_median"] < cells[p]["cma"]["final_median"]]
    measured = f"wins on {len(wins)} of {len(both)} (ZoRD vs CMA-ES): " + ", ".join(
        f"{p} {g3(cells[p]['zord']['final_median'])} vs {g3(cells[p]['cma']['final_median'])}"
        + (" win" if p in wins else " loss")
        for p in both
    )
    goal = "ZoRD's median final value beats CMA-ES's on at least half of the problems"
    goals.append(
        Goal.at_least(goal, measured, len(wins), math.ceil(len(both) / 2), "problem")
        if both
        else Goal(goal, measured, None)
    )
    d200 = [p for p in problems if _dim(p) >= 200 and "zord" in cells[p]]
    goal = (
        f"ZoRD's overhead per ask at d = 200 < {GOAL_OVERHEAD_S * 1e3:.0f} ms "
        f"(one {FD_QUERIES}-query FD gradient of a {FD_FUNCTION_S * 1e3:.0f} ms function)"
    )
    if not d200:
        return [*goals, Goal(goal, "no d = 200 run", None)]
    worst = {
        k: max(cells[p]["zord"][k] for p in d200)
        for k in ("median_overhead_cpu_s", "last10_overhead_cpu_s", "median_overhead_s", "last10_overhead_s")
    }
    measured = (
        f"CPU time: median over all asks {ms(worst['median_overhead_cpu_s'])} ms (worst d = 200 problem), "
        f"last 10 asks of a run (~1000 trials) {ms(worst['last10_overhead_cpu_s'])} ms; wall time on the "
        f"shared machine: {ms(worst['median_overhead_s'])} ms and {ms(worst['last10_overhead_s'])} ms"
    )
    return [*goals, Goal.at_most(goal, measured, worst["median_overhead_cpu_s"], GOAL_OVERHEAD_S)]


if __name__ == "__main__":
    sys.exit(SUITE.main())
