"""Zeroth-order optimization in 10-200 dimensions: ZoRD against ZO-SGD, CMA-ES, BayesOpt, random.

Run ``make bench-zo`` (or ``python benchmarks/zeroth_order.py``); ``--quick`` is a five-minute
version (2 seeds, d = 10 and 50, budgets of 60 and 200 queries, a short gradient study).

**Problems** (:mod:`benchmarks.zo_problems`): Ackley on [-32.768, 32.768]^d and Levy on [-10, 10]^d
for d = 10, 50, 200, and the quadratic ``sum((x - c)^2) / d`` on [-5, 5]^50, each shifted by a
per-seed random offset so the optimum is off the centre (documented there). Optimum value 0 for all,
so the best value found is also the simple regret. Budgets: 1000 queries for d >= 50, 150 for d = 10
(the issue allows fewer there; BayesOpt's asks cost 0.3-0.9 s each).

**Methods**, all on the same shifted instance for a seed, one query per ask:

- ``zord``: ``asktell.loops.ZoRD()`` with its defaults (``--zord '{"lr": 0.05}'`` overrides some,
  for tuning runs on other seeds), through ``init``/``ask``/``tell``. Starts with its Sobol design.
- ``zosgd``: ``asktell.loops.ZOSGD(q=20)`` (orthonormal Gaussian directions, mu = 0.01, Adam with
  lr 0.01, all in unit-cube coordinates; 21 queries per step), started at a uniform random point
  drawn from the seed (``start="random"``).
- ``bayesopt``: ``asktell.loops.BayesOpt()`` defaults, d = 10 only (the issue's choice: a global GP
  and its acquisition optimization are the wrong tool, and too slow, in 50-200 dimensions).
- ``cma``: CMA-ES from the ``cma`` package through ``CMAEvolutionStrategy.ask``/``tell``, in the unit
  cube with ``bounds=[0, 1]`` (its default ``BoundTransform``), ``sigma0 = 0.3`` (about a third of
  the box width, as pycma's documentation recommends), default population size ``4 + 3 ln d``,
  ``x0`` = ZO-SGD's start point for the same seed, cma's ``seed = seed + 1`` (0 means "time" to
  cma). The last generation is cut at the budget (its remaining candidates are not evaluated).
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
ZoRD runs,
every ``--grad-every`` descent asks, at the point the ask starts from (the best completed point) we
compute the loop's surrogate gradient the way the loop computes it (a GP fitted with ``fit_gp`` on
the ``n_local`` = 150 completed points nearest it, warm-started and refitted by the loop's rule,
``derived_gp(model).mean``), the true gradient (autograd of the torch test function; all gradients
are in unit-cube coordinates) and the finite-difference estimator ``finite_difference_gradient``
with 5 and 20 orthonormal Gaussian directions (mu = 0.01, as ZO-SGD), which cost 6 and 21 queries.
Printed: median cosine similarity with the true gradient. The same is measured along ZoRD runs that
add 2 active queries per descent query (``ask(n=3)``) with each of the two active-query rules of
``asktell.acquisition.active`` (the issue asks to compare them).

**Goals** (issue 4), each PASS or MISS with its numbers:

1. on every problem with d >= 50, ZoRD's median queries to the target is at most a third of
   ZO-SGD's median queries to the same target (ZO-SGD's own first query at its final best value);
2. ZoRD's median final value beats CMA-ES's on at least half of the problems;
3. ZoRD's median overhead per ask at d = 200 (150 local points) is below the time of a single
   20-query finite-difference gradient of a function that costs 10 ms: 200 ms. Also reported for
   the last 10 asks of a run (about 1000 completed trials).

Written: ``benchmarks/results/zeroth_order.json`` (environment, arguments, summary, goals, gradient
study, every run's best-so-far curve and overheads), ``zeroth_order.png`` (median and IQR of the
best value against queries) and, from ``nohup``, the log. ``--quick`` writes ``zeroth_order_quick.*``
and ``--tag T`` writes ``zeroth_order_T.*`` (tuning runs).

Every process uses ``--threads`` threads (default 1; ``OMP_NUM_THREADS`` is set before torch is
imported) and runs are sequential, so overheads are not inflated by runs sharing cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("zord", "zosgd", "bayesopt", "cma", "random")
BAYESOPT_MAX_DIM = 10
CMA_SIGMA0 = 0.3
CHECKPOINTS = (0.25, 0.5, 1.0)
TARGET_FACTOR = 1 / 3  # goal 1: ZoRD needs at most this fraction of ZO-SGD's queries
FD_FUNCTION_S = 0.010  # goal 3: a 10 ms function ...
FD_QUERIES = 20  # ... times a 20-query finite-difference gradient
GOAL_OVERHEAD_S = FD_FUNCTION_S * FD_QUERIES
FD_MU = 0.01
GRAD_QS = (5, 20)
ACTIVE_EXTRA = 2  # active queries per descent query in the gradient study's active variants


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Zeroth-order benchmark: ZoRD vs ZO-SGD, CMA-ES, BayesOpt and random search."
    )
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (first-seed ..)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (tune on others)")
    parser.add_argument(
        "--problems",
        default="default",
        help="'default', or comma-separated "
        "family-d names (ackley-50) or families (ackley: every dimension of --dims)",
    )
    parser.add_argument("--dims", default=None, help="comma-separated dimensions to keep")
    parser.add_argument("--methods", default="all", help=f"comma-separated among {METHODS}, or all")
    parser.add_argument("--budget", type=int, default=None, help="one budget for every problem")
    parser.add_argument("--quick", action="store_true", help="2 seeds, d = 10 and 50, small budgets")
    parser.add_argument("--zord", default="{}", help="JSON of ZoRD options overriding its defaults")
    parser.add_argument(
        "--grad-problems", default="ackley-50,levy-50,quadratic-50", help="'' to skip the study"
    )
    parser.add_argument("--grad-seeds", type=int, default=2, help="seeds of the gradient study")
    parser.add_argument("--grad-budget", type=int, default=300, help="queries per study run")
    parser.add_argument("--grad-every", type=int, default=3, help="measure every this many asks")
    parser.add_argument("--threads", type=int, default=1, help="torch/OMP threads")
    parser.add_argument("--tag", default=None, help="suffix of the output files")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs already in the output's .partial.jsonl (same budgets and ZoRD config)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    defaults = {a.dest: a.default for a in parser._actions}
    if args.quick:
        if args.seeds == defaults["seeds"]:
            args.seeds = 2
        if args.dims is None:
            args.dims = "10,50"
        if args.grad_problems == defaults["grad_problems"]:
            args.grad_problems = "ackley-50"
        if args.grad_seeds == defaults["grad_seeds"]:
            args.grad_seeds = 1
        if args.grad_budget == defaults["grad_budget"]:
            args.grad_budget = 120
    try:
        args.zord_options = json.loads(args.zord)
        assert isinstance(args.zord_options, dict)
    except (ValueError, AssertionError):
        parser.error(f"--zord must be a JSON object, got {args.zord!r}")
    return args


def set_threads(threads: int) -> None:
    """Fix the thread count of every math library; call before torch is imported."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


def select_problems(spec: str, dims: str | None) -> list[str]:
    from benchmarks.zo_problems import DEFAULT_PROBLEMS, FAMILIES, get_problem

    keep = None if dims is None else {int(d) for d in dims.split(",") if d.strip()}
    if spec == "default":
        names = list(DEFAULT_PROBLEMS)
    else:
        names = []
        for item in (s.strip() for s in spec.split(",") if s.strip()):
            if item in FAMILIES:
                names += [f"{item}-{d}" for d in sorted(keep or {10, 50, 200})]
            else:
                get_problem(item)  # raises for unknown names
                names.append(item)
    return [n for n in names if keep is None or get_problem(n).dim in keep]


def select_methods(spec: str) -> list[str]:
    if spec == "all":
        return list(METHODS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; choose from {list(METHODS)} or 'all'.")
    return names


def applies(method: str, dim: int) -> bool:
    return method != "bayesopt" or dim <= BAYESOPT_MAX_DIM


# --- running -------------------------------------------------------------------------------------
def _record(method: str, instance: Any, seed: int) -> dict[str, Any]:
    return {
        "method": method,
        "problem": instance.name,
        "dim": instance.dim,
        "seed": seed,
        "budget": instance.budget,
        "best": [],
        "overhead_s": [],
        "overhead_cpu_s": [],
        "fit_s": [],
        "step_s": [],
        "wall_s": 0.0,
        "error": None,
    }


def make_loop(method: str, zord_options: dict[str, Any]) -> Any:
    from asktell.loops import ZOSGD, BayesOpt, RandomSearch, ZoRD

    if method == "zord":
        return ZoRD(**zord_options)
    if method == "zosgd":
        return ZOSGD(q=20)
    if method == "bayesopt":
        return BayesOpt()
    if method == "random":
        return RandomSearch()
    raise ValueError(method)


def run_loop(method: str, instance: Any, seed: int, zord_options: dict[str, Any]) -> dict[str, Any]:
    """Drive an asktell loop through init/ask/tell, one query per ask."""
    rec = _record(method, instance, seed)
    loop = make_loop(method, zord_options)
    start = time.perf_counter()
    best = math.inf
    try:
        state = loop.init(instance.space, seed=seed)
        for _ in range(instance.budget):
            t0, c0 = time.perf_counter(), time.process_time()
            state, (trial,) = loop.ask(state)
            t1, c1 = time.perf_counter(), time.process_time()
            value = instance(trial.params)
            t2, c2 = time.perf_counter(), time.process_time()
            state = loop.tell(state, trial.id, value)
            t3, c3 = time.perf_counter(), time.process_time()
            best = min(best, value)
            rec["best"].append(best)
            rec["overhead_s"].append((t1 - t0) + (t3 - t2))
            rec["overhead_cpu_s"].append((c1 - c0) + (c3 - c2))
            if "fit_seconds" in trial.metadata:
                rec["fit_s"].append(trial.metadata["fit_seconds"])
                rec["step_s"].append(trial.metadata.get("step_seconds", 0.0))
                rec.setdefault("overhead_model_asks_s", []).append(rec["overhead_s"][-1])
            if "virtual_steps" in trial.metadata:
                rec.setdefault("virtual_steps", []).append(trial.metadata["virtual_steps"])
                rec.setdefault("uncertainty", []).append(float(f"{trial.metadata['uncertainty']:.4g}"))
    except Exception as exc:  # report the seed as failed, keep going
        rec["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    rec["wall_s"] = time.perf_counter() - start
    return rec


def zosgd_start(instance: Any, seed: int) -> list[float]:
    """ZO-SGD's start point for this seed (unit cube): CMA-ES starts there too."""
    from asktell.loops import ZOSGD

    return list(ZOSGD(q=20).init(instance.space, seed=seed).memo["x"])


def run_cma(instance: Any, seed: int) -> dict[str, Any]:
    """CMA-ES (pycma) through ask/tell in the unit cube; overhead shared over a generation."""
    import warnings

    import cma
    import numpy as np

    rec = _record("cma", instance, seed)
    start = time.perf_counter()
    best = math.inf
    try:
        x0 = zosgd_start(instance, seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0, c0 = time.perf_counter(), time.process_time()
            es = cma.CMAEvolutionStrategy(
                x0, CMA_SIGMA0, {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9}
            )
            setup, setup_cpu = time.perf_counter() - t0, time.process_time() - c0
            while len(rec["best"]) < instance.budget:
                t0, c0 = time.perf_counter(), time.process_time()
                solutions = es.ask()
                t_ask = time.perf_counter() - t0 + setup
                c_ask = time.process_time() - c0 + setup_cpu
                setup = setup_cpu = 0.0
                k = min(len(solutions), instance.budget - len(rec["best"]))
                values = []
                for x in solutions[:k]:
                    values.append(instance.value_unit(np.clip(x, 0.0, 1.0)))
                    best = min(best, values[-1])
                    rec["best"].append(best)
                t_tell = c_tell = 0.0
                if k == len(solutions):
                    t0, c0 = time.perf_counter(), time.process_time()
                    es.tell(solutions, values)
                    t_tell, c_tell = time.perf_counter() - t0, time.process_time() - c0
                rec["overhead_s"] += [(t_ask + t_tell) / k] * k
                rec["overhead_cpu_s"] += [(c_ask + c_tell) / k] * k
    except Exception as exc:
        rec["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    rec["wall_s"] = time.perf_counter() - start
    return rec


def run_one(method: str, problem: str, seed: int, budget: int | None, quick: bool, zord: dict) -> dict:
    from benchmarks.zo_problems import get_problem

    instance = get_problem(problem, quick=quick, budget=budget).instance(seed)
    if method == "cma":
        return run_cma(instance, seed)
    return run_loop(method, instance, seed, zord)


def run_all(
    methods: list[str],
    problems: list[str],
    seeds: list[int],
    args: argparse.Namespace,
    partial: Path,
    config_key: str,
) -> list[dict[str, Any]]:
    """Every (method, problem, seed) run, in order; each finished run is appended to ``partial``
    (one JSON line) so that ``--resume`` can pick an interrupted benchmark up.

    ``config_key`` identifies ZoRD's configuration and source: a ZoRD run is reused only under the
    same key; the other methods do not depend on it and are reused under the same budgets and the
    same source of asktell's other loops (ZO-SGD, BayesOpt and what they use)."""
    from benchmarks.zo_problems import get_problem

    def key_of(method: str) -> str:
        return config_key if method == "zord" else json.dumps([args.quick, args.budget, _peer_source()])

    done: dict[tuple, dict[str, Any]] = {}
    if args.resume and partial.exists():
        for line in partial.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("config_key") == key_of(rec["method"]):
                done[(rec["method"], rec["problem"], rec["seed"], rec["budget"])] = rec
        print(f"resuming: {len(done)} runs in {partial.name}", file=sys.stderr)
    else:
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text("")

    todo = [(m, p, s) for p in problems for s in seeds for m in methods if applies(m, get_problem(p).dim)]
    records: list[dict[str, Any]] = []
    start = time.perf_counter()
    for m, p, s in todo:
        budget = get_problem(p, quick=args.quick, budget=args.budget).budget
        rec = done.get((m, p, s, budget))
        if rec is None:
            rec = run_one(m, p, s, args.budget, args.quick, args.zord_options)
            rec["config_key"] = key_of(m)
            with partial.open("a") as f:
                f.write(json.dumps(_finite(_rounded(rec)), allow_nan=False) + "\n")
        records.append(rec)
        final = rec["best"][-1] if rec["best"] else math.nan
        status = "ok" if rec["error"] is None else "FAILED: " + rec["error"].splitlines()[0]
        print(
            f"[{len(records)}/{len(todo)} {time.perf_counter() - start:7.1f} s] {m:>8} {p:<13} "
            f"seed {s}: best {final:.4g}, {_median(rec['overhead_s']) * 1e3:.2f} ms/ask, "
            f"run {rec['wall_s']:.1f} s, {status}",
            file=sys.stderr,
            flush=True,
        )
    return records


def _peer_source() -> str:
    """A hash of the source of asktell's loops other than ZoRD that this benchmark runs."""
    digest = hashlib.sha256()
    for name in ("loops/zeroth.py", "loops/bayesopt.py", "surrogates/gp.py", "acquisition/bo.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


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
    from asktell.loops.zord import nearest
    from asktell.surrogates.gradient import derived_gp

    if len(state.trials) < loop.n_init or modelling_obstacle(state):
        return None
    X, y = trajectory(state)
    start = X[int(torch.argmin(y))]
    local = nearest(X, start, loop.n_local)
    # the loop's own fitting step (fit_gp on the local points, warm-started from the memo and
    # refitted by its refit_every rule), on a copy of the memo, so the study sees what ask sees
    fit = loop._fit(state, X[local], y[local], dict(state.memo))
    dgp = derived_gp(fit.model)
    Z = start.unsqueeze(0)
    uncertainty = float(dgp.trace(Z) / dgp.prior_trace(Z))
    return start, dgp.mean(Z)[0], uncertainty


def gradient_study(
    problems: list[str], seeds: list[int], budget: int, every: int, zord_options: dict[str, Any]
) -> dict[str, Any]:
    """Cosine similarity with the true gradient: ZoRD's surrogate vs finite differences."""
    import torch

    from asktell.loops import ZoRD
    from benchmarks.zo_problems import get_problem

    variants = {
        "zord": (ZoRD(**zord_options), 1),
        "zord+active(trace_at_iterate)": (
            ZoRD(**{**zord_options, "active_rule": "trace_at_iterate"}),
            1 + ACTIVE_EXTRA,
        ),
        "zord+active(uncertainty_at_candidates)": (
            ZoRD(**{**zord_options, "active_rule": "uncertainty_at_candidates"}),
            1 + ACTIVE_EXTRA,
        ),
    }
    out: dict[str, Any] = {"budget": budget, "every": every, "seeds": seeds, "rows": {}}
    for p in problems:
        for seed in seeds:
            instance = get_problem(p, budget=budget).instance(seed)
            for variant, (loop, n) in variants.items():
                t_start = time.perf_counter()
                state = loop.init(instance.space, seed=seed)
                best, asks, cos, fd = math.inf, 0, [], {q: [] for q in GRAD_QS}
                unc = []
                gen = torch.Generator().manual_seed(10_000 + seed)
                while len(state.trials) < budget:
                    k = min(n, budget - len(state.trials))
                    if asks % every == 0:
                        got = _surrogate_gradient(loop, state)
                        if got is not None:
                            x, g, u = got
                            true = instance.true_gradient(x)
                            cos.append(_cosine(g, true))
                            unc.append(u)
                            if variant == "zord":
                                for q in GRAD_QS:
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
                    f"{_median(cos):.3f}, best {best:.4g}, {time.perf_counter() - t_start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
    return out


# --- statistics ----------------------------------------------------------------------------------
def _median(xs: Sequence[float]) -> float:
    import numpy as np

    return float(np.median(xs)) if len(xs) else math.nan


def _quantiles(xs: Sequence[float]) -> tuple[float, float, float]:
    import numpy as np

    if not len(xs):
        return math.nan, math.nan, math.nan
    q1, q2, q3 = np.percentile(xs, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def queries_to(curve: Sequence[float], target: float) -> float:
    """First query (1-based) whose best-so-far is at or below ``target``; inf if never."""
    for i, v in enumerate(curve):
        if v <= target:
            return float(i + 1)
    return math.inf


def summarize(records: list[dict[str, Any]], methods: list[str], problems: list[str]) -> dict[str, Any]:
    import numpy as np

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
            at = {}
            for frac in CHECKPOINTS:
                i = max(1, int(round(frac * budget))) - 1
                at[str(frac)] = _quantiles([r["best"][i] for r in mine])
            q = [queries_to(r["best"], targets[r["seed"]]) for r in mine if r["seed"] in targets]
            overhead = [x for r in mine for x in r["overhead_s"]]
            fit = [x for r in mine for x in r["fit_s"]]
            step = [x for r in mine for x in r["step_s"]]
            model_asks = [x for r in mine for x in r.get("overhead_model_asks_s", [])]
            vsteps = [x for r in mine for x in r.get("virtual_steps", [])]
            cells[p][m] = {
                "best_at": at,
                "final_median": at["1.0"][1],
                "queries_to_target": q,
                "queries_to_target_median": float(np.median(q)) if q else math.nan,
                "reached": int(sum(math.isfinite(x) for x in q)),
                "median_overhead_s": _median(overhead),
                "last10_overhead_s": _median([float(np.mean(r["overhead_s"][-10:])) for r in mine]),
                "median_overhead_cpu_s": _median([x for r in mine for x in r["overhead_cpu_s"]]),
                "last10_overhead_cpu_s": _median([float(np.mean(r["overhead_cpu_s"][-10:])) for r in mine]),
                "median_fit_s": _median(fit),
                "median_step_s": _median(step),
                "median_model_ask_overhead_s": _median(model_asks),
                "mean_virtual_steps": float(np.mean(vsteps)) if vsteps else math.nan,
                "wall_s": float(sum(r["wall_s"] for r in mine)),
                "n_ok": len(mine),
                "failed_seeds": sorted(r["seed"] for r in runs if r["method"] == m and r not in mine),
                "errors": sorted(
                    {r["error"].splitlines()[0] for r in runs if r["method"] == m and r["error"]}
                ),
            }
    return {"cells": cells}


# --- printing ------------------------------------------------------------------------------------
def _g(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.2e}"


def _ms(x: float) -> str:
    return "n/a" if math.isnan(x) else (f"{x * 1e3:.1f}" if x >= 1e-3 else f"{x * 1e3:.3f}")


def _q(x: float, budget: int) -> str:
    if math.isnan(x):
        return "n/a"
    return f">{budget}" if math.isinf(x) else f"{x:.0f}"


def problem_table(problem: str, budget: int, dim: int, cells: dict[str, Any]) -> str:
    finals = {m: c["final_median"] for m, c in cells.items() if not math.isnan(c["final_median"])}
    best = min(finals, key=finals.get) if finals else None  # type: ignore[arg-type]
    lines = [
        f"### {problem} (d = {dim}, {budget} queries)",
        "",
        f"| method | best @{int(budget * 0.25)} | best @{int(budget * 0.5)} | best @{budget} (IQR) "
        "| queries to ZO-SGD's final (seeds reached) | overhead/ask, ms (CPU / wall) "
        "| last 10 asks, ms (CPU / wall) |",
        "|---|---|---|---|---|---|---|",
    ]
    for m, c in cells.items():
        at = c["best_at"]
        final = _g(at["1.0"][1])
        if m == best:
            final = f"**{final}**"
        fail = f" (failed seeds {c['failed_seeds']})" if c["failed_seeds"] else ""
        lines.append(
            f"| {m}{fail} | {_g(at['0.25'][1])} | {_g(at['0.5'][1])} | {final} "
            f"({_g(at['1.0'][0])} - {_g(at['1.0'][2])}) "
            f"| {_q(c['queries_to_target_median'], budget)} ({c['reached']}/{len(c['queries_to_target'])}) "
            f"| {_ms(c['median_overhead_cpu_s'])} / {_ms(c['median_overhead_s'])} "
            f"| {_ms(c['last10_overhead_cpu_s'])} / {_ms(c['last10_overhead_s'])} |"
        )
    return "\n".join(lines)


def summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    lines = [
        "### Summary: median best value at the full budget (lowest in bold)",
        "",
        "| problem | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p in problems:
        cells = summary["cells"][p]
        finals = {m: c["final_median"] for m, c in cells.items() if not math.isnan(c["final_median"])}
        best = min(finals, key=finals.get) if finals else None  # type: ignore[arg-type]
        row = []
        for m in methods:
            if m not in cells:
                row.append("-")
                continue
            v = _g(cells[m]["final_median"])
            row.append(f"**{v}**" if m == best else v)
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def zord_overhead_table(summary: dict[str, Any], problems: list[str]) -> str:
    lines = [
        "### ZoRD's overhead per ask, split (medians, ms; wall time except the CPU column)",
        "",
        "| problem | all asks, CPU | all asks | model-based asks | GP fit | virtual steps | rest (trajectory "
        "from the state, bookkeeping) | last 10 asks | virtual steps per query (mean) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in problems:
        c = summary["cells"][p].get("zord")
        if not c:
            continue
        rest = c["median_model_ask_overhead_s"] - c["median_fit_s"] - c["median_step_s"]
        lines.append(
            f"| {p} | {_ms(c['median_overhead_cpu_s'])} | {_ms(c['median_overhead_s'])} "
            f"| {_ms(c['median_model_ask_overhead_s'])} "
            f"| {_ms(c['median_fit_s'])} | {_ms(c['median_step_s'])} | ~{_ms(rest)} "
            f"| {_ms(c['last10_overhead_s'])} | {c['mean_virtual_steps']:.2f} |"
        )
    return "\n".join(lines)


def gradient_table(study: dict[str, Any]) -> str:
    cost = {"zord": "0 (its trajectory)", "fd5": "6", "fd20": "21"}
    lines = [
        f"### Gradient quality: cosine similarity with the true gradient (seeds {study['seeds']}, "
        f"{study['budget']}-query ZoRD runs, measured every {study['every']} asks)",
        "",
        "| problem | estimator | extra queries per gradient | median cosine (IQR) | points "
        "| median normalized uncertainty | median best value at the end |",
        "|---|---|---|---|---|---|---|",
    ]
    for p, rows in study["rows"].items():
        for name, r in rows.items():
            q1, med, q3 = _quantiles(r["cos"])
            label = {"fd5": "finite differences, q = 5", "fd20": "finite differences, q = 20"}.get(name, name)
            c = cost.get(name, f"{ACTIVE_EXTRA} active per descent query")
            lines.append(
                f"| {p} | {label} | {c} | {med:.3f} ({q1:.3f} - {q3:.3f}) | {len(r['cos'])} "
                f"| {_g(_median(r['uncertainty']))} | {_g(_median(r['best']))} |"
            )
    return "\n".join(lines)


# --- goals ---------------------------------------------------------------------------------------
def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def evaluate_goals(summary: dict[str, Any], problems: list[str], dims: dict[str, int]) -> list[dict]:
    goals: list[dict[str, Any]] = []
    cells = summary["cells"]
    high = [p for p in problems if dims[p] >= 50 and "zord" in cells[p] and "zosgd" in cells[p]]
    details, oks = [], []
    for p in high:
        z, s = cells[p]["zord"]["queries_to_target_median"], cells[p]["zosgd"]["queries_to_target_median"]
        ok = z <= TARGET_FACTOR * s
        oks.append(ok)
        ratio = "inf" if math.isinf(z) else f"{z / s:.2f}"
        details.append(f"{p} {_q(z, 10**9).replace('>1000000000', 'never')} vs {s:.0f} ({ratio})")
    goals.append(
        {
            "goal": "ZoRD reaches ZO-SGD's final value with <= 1/3 of its queries on every d >= 50 problem",
            "ok": all(oks) if oks else None,
            "detail": "median queries ZoRD vs ZO-SGD (ratio): " + "; ".join(details),
        }
    )
    both = [p for p in problems if "zord" in cells[p] and "cma" in cells[p]]
    wins = [p for p in both if cells[p]["zord"]["final_median"] < cells[p]["cma"]["final_median"]]
    goals.append(
        {
            "goal": "ZoRD's median final value beats CMA-ES's on at least half of the problems",
            "ok": 2 * len(wins) >= len(both) if both else None,
            "detail": f"wins on {len(wins)} of {len(both)} (ZoRD vs CMA-ES): "
            + ", ".join(
                f"{p} {_g(cells[p]['zord']['final_median'])} vs {_g(cells[p]['cma']['final_median'])}"
                + (" win" if p in wins else " loss")
                for p in both
            ),
        }
    )
    d200 = [p for p in problems if dims[p] >= 200 and "zord" in cells[p]]
    if d200:
        med = max(cells[p]["zord"]["median_overhead_cpu_s"] for p in d200)
        last = max(cells[p]["zord"]["last10_overhead_cpu_s"] for p in d200)
        med_wall = max(cells[p]["zord"]["median_overhead_s"] for p in d200)
        last_wall = max(cells[p]["zord"]["last10_overhead_s"] for p in d200)
        goals.append(
            {
                "goal": f"ZoRD's overhead per ask at d = 200 < {GOAL_OVERHEAD_S * 1e3:.0f} ms "
                f"(one {FD_QUERIES}-query FD gradient of a {FD_FUNCTION_S * 1e3:.0f} ms function)",
                "ok": med < GOAL_OVERHEAD_S,
                "detail": f"CPU time: median over all asks {_ms(med)} ms (worst d = 200 problem), "
                f"last 10 asks of a run (~1000 trials) {_ms(last)} ms; wall time on the shared "
                f"machine: {_ms(med_wall)} ms and {_ms(last_wall)} ms",
            }
        )
    else:
        goals.append({"goal": "ZoRD's overhead per ask at d = 200", "ok": None, "detail": "no d = 200 run"})
    return goals


def goals_text(goals: list[dict[str, Any]]) -> str:
    return "\n".join(["### Goals", ""] + [f"- {_verdict(g['ok'])} {g['goal']}: {g['detail']}" for g in goals])


# --- plot ----------------------------------------------------------------------------------------
def plot(records: list[dict[str, Any]], methods: list[str], problems: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ncols = min(4, len(problems))
    nrows = math.ceil(len(problems) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, p in zip(axes.flat, problems, strict=False):
        for i, m in enumerate(methods):
            curves = [
                r["best"]
                for r in records
                if r["problem"] == p
                and r["method"] == m
                and r["error"] is None
                and len(r["best"]) == r["budget"]
            ]
            if not curves:
                continue
            B = np.maximum(np.array(curves, dtype=float), 1e-8)
            x = np.arange(1, B.shape[1] + 1)
            q1, med, q3 = np.percentile(B, [25, 50, 75], axis=0)
            color = colors[i % len(colors)]
            ax.plot(x, med, color=color, label=m, lw=2 if m == "zord" else 1.1)
            ax.fill_between(x, q1, q3, color=color, alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_title(p, fontsize=9)
        ax.set_xlabel("queries", fontsize=7)
        ax.set_ylabel("best value", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


# --- main ----------------------------------------------------------------------------------------
def environment(threads: int) -> dict[str, Any]:
    from benchmarks import machine

    dists = ("asktell", "torch", "botorch", "gpytorch", "numpy", "scipy", "cma", "matplotlib")
    return machine.environment(dists, threads=threads)


def _round(curve: Sequence[float]) -> list[float]:
    return [float(f"{v:.6g}") for v in curve]


def compact(rec: dict[str, Any]) -> dict[str, Any]:
    """A run record for the published JSON: the best-so-far curve in full (5 significant digits),
    per-query overheads and ZoRD's per-ask metadata as summaries (the JSON stays ~1 MB)."""
    import numpy as np

    out = {k: rec[k] for k in ("method", "problem", "dim", "seed", "budget", "wall_s", "error")}
    out["best"] = [float(f"{v:.5g}") for v in rec["best"]]
    for key in ("overhead_s", "overhead_cpu_s", "fit_s", "step_s", "uncertainty"):
        xs = rec.get(key) or []
        if xs:
            out[key] = {
                "median": _median(xs),
                "mean": float(np.mean(xs)),
                "last10_mean": float(np.mean(xs[-10:])),
                "every_50th": [float(f"{v:.4g}") for v in xs[::50]],
            }
    if rec.get("virtual_steps"):
        out["virtual_steps_mean"] = float(np.mean(rec["virtual_steps"]))
    return out


def _rounded(rec: dict[str, Any]) -> dict[str, Any]:
    """A run record with its per-query lists rounded to 6 significant digits (JSON size)."""
    keys = ("best", "overhead_s", "overhead_cpu_s")
    return {k: (_round(v) if k in keys else v) for k, v in rec.items()}


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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import torch

    torch.set_num_threads(args.threads)
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    from benchmarks.zo_problems import get_problem

    env = environment(args.threads)
    print(
        f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}, torch.get_num_threads()={env['torch_threads']}; "
        f"{env['machine']}; {env['date']}"
    )
    print("versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items() if v))
    problems = select_problems(args.problems, args.dims)
    methods = select_methods(args.methods)
    if "cma" in methods and env["versions"]["cma"] is None:
        print("skipping cma: the `cma` package is not installed (pip install -e '.[bench]')")
        methods.remove("cma")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    probs = {p: get_problem(p, quick=args.quick, budget=args.budget) for p in problems}
    from asktell.loops import ZoRD

    zord_config = ZoRD(**args.zord_options).config()
    zord_src = Path(sys.modules[ZoRD.__module__].__file__ or "")
    zord_config["source_sha256"] = hashlib.sha256(zord_src.read_bytes()).hexdigest()[:16]
    print(f"seeds {seeds}; methods {methods}; ZoRD options {args.zord_options or 'defaults'}")
    print(f"ZoRD configuration: {zord_config}")
    print("problems " + ", ".join(f"{p} ({probs[p].budget} queries)" for p in problems) + "\n")

    stem = "zeroth_order" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else "")
    partial = args.out / f"{stem}.partial.jsonl"
    config_key = json.dumps([zord_config, args.quick, args.budget], sort_keys=True)  # ZoRD runs only
    start = time.perf_counter()
    records = run_all(methods, problems, seeds, args, partial, config_key)
    runs_s = time.perf_counter() - start
    summary = summarize(records, methods, problems)
    texts = [problem_table(p, probs[p].budget, probs[p].dim, summary["cells"][p]) for p in problems]
    if problems:
        texts.append(summary_table(summary, methods, problems))
        if "zord" in methods:
            texts.append(zord_overhead_table(summary, problems))

    study = None
    grad_problems = [g.strip() for g in args.grad_problems.split(",") if g.strip()]
    if grad_problems:
        t0 = time.perf_counter()
        grad_seeds = list(range(args.first_seed, args.first_seed + args.grad_seeds))
        study = gradient_study(
            grad_problems, grad_seeds, args.grad_budget, args.grad_every, args.zord_options
        )
        study["wall_s"] = time.perf_counter() - t0
        texts.append(gradient_table(study))
    goals = evaluate_goals(summary, problems, {p: probs[p].dim for p in problems})
    texts.append(goals_text(goals))
    print("\n\n".join(texts))
    elapsed = time.perf_counter() - start
    print(f"\n{len(records)} runs in {runs_s:.0f} s; total {elapsed:.0f} s")

    args.out.mkdir(parents=True, exist_ok=True)
    records = [compact(r) for r in records]
    payload = {
        "environment": env,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "seeds": seeds,
        "methods": methods,
        "problems": {
            p: {"dim": probs[p].dim, "budget": probs[p].budget, "box": probs[p].box} for p in problems
        },
        "zord_config": zord_config,
        "summary": summary,
        "goals": goals,
        "gradient_study": study,
        "elapsed_s": elapsed,
        "records": records,
    }
    json_path = args.out / f"{stem}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_finite(payload), allow_nan=False))
    tmp.replace(json_path)
    written = [json_path]
    if problems and records:
        png = args.out / f"{stem}.png"
        plot(records, methods, problems, png)
        written.append(png)
    print(
        "wrote " + ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in written)
    )
    if not any(r["error"] for r in records):
        partial.unlink(missing_ok=True)  # the checkpoint of a complete run is not needed any more
    return 0


if __name__ == "__main__":
    sys.exit(main())
