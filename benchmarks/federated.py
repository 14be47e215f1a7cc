"""Federated zeroth-order optimization: FZooS against FedZO, FedProx, SCAFFOLD-I and SCAFFOLD-II.

Run ``make bench-fed`` (or ``python benchmarks/federated.py``); ``--quick`` is a small version (d = 30,
8 rounds, 2 seeds, M = 1000, and the attack and metric tasks at toy sizes). Every federation runs
through ``asktell.loops.federated.simulate``; all methods see the same clients and the same
federation seed for a given seed (same start point ``x_0``).

**Experiments** (``--experiments``, ALGORITHMS.md section 6, issue 5):

- ``quad``: the federated quadratic of 6.1 (:func:`asktell.problems.federated_quadratic`: ``f_i``
  from per-coordinate Dirichlet(1/N) draws with heterogeneity ``C``), on [-10, 10]^d, d = 300,
  N = 5, C in {0.5, 5, 50}, T = 10, R = 50. The optimality gap is ``F(x_r) - F*`` with ``F* = 0.1/d - 0.025``.
- ``quadT``: the same at C = 5 with T in {5, 20}.
- ``hetero``: heterogeneous Levy (on [-10, 10]^d, divided by d) and Ackley (on [-32.768, 32.768]^d):
  ``f_i(x) = f(c_i * (x - s_i))`` with ``c_i = 0.1 + C (Dir - 1/N)`` and ``s_i = C (Dir - 1/N)`` per
  coordinate (6.1's construction; :func:`asktell.problems.federated_hetero`), C = 0.5, T = 5. The
  optimum is unknown: the tables show ``F``.
- ``grad``: the gradient-quality study: C = 5, T = 20, three rounds; at every local step of every
  client the direction the method steps along (captured exactly, see ``_capture``) is compared with
  the true global gradient ``grad F`` at the same point (cosine similarity, unit-cube coordinates).
- ``ablation``: FZooS on heterogeneous Levy (C = 5) with M in {1000, 10000} and the correction
  ``"adaptive"`` vs ``"fixed"``.
- ``attack``, ``metric``: the black-box attack on the 8x8 digits and the non-differentiable metric
  task, whose clients :mod:`benchmarks.fed_tasks` defines; every method starts them at ``x_0 = 0``.

**Methods**: ``FZooS(n_features=M)`` (other settings: library defaults), ``FedZO()``,
``FedProx()``, ``ScaffoldI()``, ``ScaffoldII()`` (q = 20, mu = 0.01, Adam lr 0.01), all with the
experiment's ``local_steps``.

**Written**: every finished run is appended at once to ``benchmarks/results/federated_runs[_TAG].jsonl``
(so partial results survive; a rerun with the same tag skips the runs already there), then
``federated[_TAG].json`` (summary, goals) and ``federated[_TAG]_*.png`` (``--fresh`` starts the run
file anew). ``--report-only FILE ...`` (or ``--report``) only reads run files (several processes may
each have written one) and prints the tables and goals.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

if __package__ is None:  # run as a script: make the repository's `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asktell.loops.federated import FedProx, FedZO, FZooS, ScaffoldI, ScaffoldII, simulate  # noqa: E402
from asktell.problems import federated_quadratic, federated_quadratic_minimum  # noqa: E402
from benchmarks import fed_tasks  # noqa: E402
from benchmarks.harness import machine, report, runner  # noqa: E402
from benchmarks.harness.problems import FED_BOXES as BOXES  # noqa: E402
from benchmarks.harness.problems import box_space, federation  # noqa: E402
from benchmarks.harness.report import Goal  # noqa: E402

RESULTS = runner.RESULTS
METHODS = ("fzoos", "fzoos_theory", "fedzo", "fedprox", "scaffold1", "scaffold2")
LABELS = {
    "fzoos": "FZooS",
    "fzoos_theory": "FZooS (theory gamma)",
    "fedzo": "FedZO",
    "fedprox": "FedProx",
    "scaffold1": "SCAFFOLD-I",
    "scaffold2": "SCAFFOLD-II",
}
FIELDS = ("experiment", "setting", "method", "seed")
CURVES = ("quad", "quadT", "hetero", "ablation")  # experiments reported as curves of the gap or F


def make_fed(method: str, T: int, M: int, start: str | None = None, **fzoos: Any):
    """The federation for a method key; ``start`` (e.g. ``"center"``) overrides every method's x_0."""
    common: dict[str, Any] = {"local_steps": T, **({"start": start} if start else {})}
    if method in ("fzoos", "fzoos_theory"):
        variant = {"correction": "theory"} if method == "fzoos_theory" else {}
        return FZooS(n_features=M, **common, **{**fzoos, **variant})
    cls = {"fedzo": FedZO, "fedprox": FedProx, "scaffold1": ScaffoldI, "scaffold2": ScaffoldII}[method]
    return cls(**common)


def space_of(d: int, box: tuple[float, float]) -> Any:
    return box_space([box] * d, "x{:04d}")


def quadratic_clients(n: int, d: int, C: float, seed: int) -> tuple[list, float]:
    """The federated quadratic's clients (:func:`asktell.problems.federated_quadratic`) and F*."""
    return federated_quadratic(n, d, C, seed), federated_quadratic_minimum(d)


def quadratic_gradient(u: np.ndarray) -> np.ndarray:
    """grad F in unit-cube coordinates, up to a positive factor (cosines only)."""
    return 2 * (20 * u - 10) + 1


# --- runs ----------------------------------------------------------------------------------------
def settings_for(exp: str, a: argparse.Namespace) -> list[dict]:
    base = {"d": a.dim, "N": a.clients, "R": a.rounds}
    if exp == "quad":
        return [{**base, "problem": "quadratic", "C": C, "T": a.local_steps} for C in a.C]
    if exp == "quadT":
        return [{**base, "problem": "quadratic", "C": 5.0, "T": T} for T in a.T_grid]
    if exp == "hetero":
        return [{**base, "problem": p, "C": 0.5, "T": 5} for p in ("levy", "ackley")]
    if exp == "ablation":
        return [
            {**base, "problem": "levy", "C": 5.0, "T": a.local_steps, "M": M, "correction": corr}
            for M in a.M_grid
            for corr in ("adaptive", "fixed", "theory")
        ]
    raise SystemExit(f"unknown experiment {exp!r}")


def cells_for(a: argparse.Namespace, seeds: list[int], methods: list[str]) -> list[dict[str, Any]]:
    """Every run of the chosen experiments, seed-major within an experiment (a cut run still has
    every setting and method for its first seeds)."""
    jobs: list[tuple[str, dict, list[int], list[str]]] = []
    for exp in a.experiments.split(","):
        if exp == "grad":
            jobs.append(
                (exp, {"d": a.grad_dim, "T": 20, "R": a.grad_rounds, "C": 5.0, "N": 5}, seeds, methods)
            )
        elif exp == "attack":
            jobs.append((exp, *fed_tasks.attack_settings(a.task_scale), methods))
        elif exp == "metric":
            jobs += [(exp, s, ss, methods) for s, ss in fed_tasks.metric_settings(a.task_scale, seeds)]
        else:
            jobs += [
                (exp, s, [seed], ["fzoos"] if exp == "ablation" else methods)
                for seed in seeds
                for s in settings_for(exp, a)
            ]
    return [
        {"experiment": exp, "setting": setting, "method": m, "seed": seed, "M": a.M, "fzoos": a.fzoos}
        for exp, setting, seeds_, methods_ in jobs
        for seed in seeds_
        for m in methods_
    ]


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """One federation run through ``simulate`` (or a gradient-study run), as a record."""
    exp, setting, method, seed = (cell[k] for k in FIELDS)
    if exp == "grad":
        return gradient_study(
            method, seed, setting["d"], setting["T"], setting["R"], cell["M"], cell["fzoos"]
        )
    f_star, start = None, "center"  # the tasks' clients start at x_0 = 0
    if exp == "attack":
        space, clients = fed_tasks.attack_federation(setting["scale"], seed)
    elif exp == "metric":
        space, clients = fed_tasks.metric_federation(setting["metric"])
    else:
        space, clients, f_star = federation(
            setting["problem"], setting["N"], setting["d"], setting["C"], seed
        )
        start = None
    name = {"attack": "mean margin", "metric": "1 - metric"}.get(exp, "gap" if f_star is not None else "F")
    fzoos = {**cell["fzoos"], **({"correction": setting["correction"]} if "correction" in setting else {})}
    M, t0 = setting.get("M", cell["M"]), time.perf_counter()
    fed = make_fed(method, setting["T"], M, start, **(fzoos if method.startswith("fzoos") else {}))
    recs = simulate(fed, space, clients, rounds=setting["R"], seed=seed).records
    F = [r["F"] for r in recs]
    return {
        **{k: cell[k] for k in FIELDS},
        "M": M if method.startswith("fzoos") else None,
        "fzoos": fzoos if method.startswith("fzoos") else None,
        "round": [r["round"] for r in recs],
        "F": F,
        "value": [f - f_star for f in F] if f_star is not None else F,
        "value_name": name,
        "queries": [r["queries"] for r in recs],
        "bytes_up": [r["bytes_up"] for r in recs],
        "bytes_down": [r["bytes_down"] for r in recs],
        "seconds": time.perf_counter() - t0,
    }


def describe(run: dict[str, Any]) -> str:
    where = f"{run['experiment']} {run['setting']} {run['method']} seed {run['seed']}"
    if run["experiment"] == "grad":
        return where
    value = f"{run['value_name']} {run['value'][-1]:.4g}"
    return f"{where}: {value} after {run['queries'][-1]} queries ({run['seconds']:.0f}s)"


# --- gradient-quality study ----------------------------------------------------------------------
class _capture:
    """Records the direction each local step moves along: wraps the ``adam_step`` the federated
    loops call (``asktell.loops.federated.{fzoos,baselines}``) in this process only; the library is
    unchanged and the captured direction is exactly the one the loop used."""

    def __init__(self):
        import asktell.loops.federated.baselines as b
        import asktell.loops.federated.fzoos as z

        self.modules, self.seen = (b, z), []

    def __enter__(self):
        self.originals = [m.adam_step for m in self.modules]
        for m, orig in zip(self.modules, self.originals, strict=True):

            def wrapped(direction, state, lr, _orig=orig, **kw):
                self.seen.append(direction.detach().clone())
                return _orig(direction, state, lr, **kw)

            m.adam_step = wrapped
        return self

    def __exit__(self, *exc):
        for m, orig in zip(self.modules, self.originals, strict=True):
            m.adam_step = orig


def gradient_study(method: str, seed: int, d: int, T: int, R: int, M: int, fzoos: dict) -> dict:
    """Cosine of each local direction with grad F at the point it was computed, per round and step.

    The rounds are ``asktell.loops.federated.run_round``'s, with an exchange that asks and tells
    each client here so that every local step's direction is seen as it is taken."""
    from asktell.loops.federated import Replies, Tally, run_round
    from asktell.loops.federated.protocol import PHASE_LOCAL
    from asktell.state import FAILED

    N = 5
    clients, _ = quadratic_clients(N, d, 5.0, seed)
    space = space_of(d, BOXES["quadratic"])
    fed = make_fed(method, T, M, **fzoos)
    server = fed.server_init(space, N, seed)
    start = fed.start_message(server)
    states = [fed.client_init(space, start, i, n_clients=N, seed=seed) for i in range(N)]
    cos: list[list[list[float]]] = []  # round -> step -> per-client values
    per_step: list[list[float]] = []  # this round's: step -> per-client values

    def work(i, seen):
        while not fed.client_ready(states[i]):
            x_before, t_before = list(states[i].memo["x"]), states[i].memo.get("t", 0)
            phase = states[i].memo["phase"]
            n0 = len(seen)
            states[i], (trial,) = fed.ask(states[i])
            try:
                states[i] = fed.tell(states[i], trial.id, clients[i](dict(trial.params)))
            except Exception as exc:  # noqa: BLE001
                states[i] = fed.tell(states[i], trial.id, None, status=FAILED, metadata={"e": repr(exc)})
            if len(seen) > n0 and phase == PHASE_LOCAL:
                g = seen[-1].numpy()
                true = quadratic_gradient(np.asarray(x_before))
                c = float(g @ true / (np.linalg.norm(g) * np.linalg.norm(true) + 1e-300))
                per_step[min(t_before, T - 1)].append(c)

    with _capture() as cap:

        def exchange(broadcast, chosen):
            messages = []
            for i in chosen:  # a start the client already holds changes nothing
                states[i] = fed.client_sync(states[i], broadcast)
                work(i, cap.seen)
                message, states[i] = fed.client_report(states[i])
                messages.append(message)
            return Replies(messages, {i: len(states[i].trials) for i in chosen})

        tally = Tally.initial(N)
        for _ in range(R):
            per_step = [[] for _ in range(T)]
            result = run_round(fed, server, list(range(N)), exchange, tally)
            server, tally = result.server, result.tally
            cos.append(per_step)
    return {
        "experiment": "grad",
        "setting": {"d": d, "T": T, "R": R, "C": 5.0, "N": N},
        "method": method,
        "seed": seed,
        "cos": cos,
    }


# --- reporting -----------------------------------------------------------------------------------
def value_at_queries(run: dict, budget: float) -> float:
    """The value of the last round whose cumulative queries are within the budget (nan if none)."""
    best = math.nan
    for v, q in zip(run["value"], run["queries"], strict=True):
        if q <= budget:
            best = v
    return best


def success_by(run: dict, budget: float | None = None, rounds: int | None = None) -> float:
    """1 if the attack succeeded (mean margin < 0) within the budget or rounds, else 0."""
    for k, (v, q) in enumerate(zip(run["value"], run["queries"], strict=True)):
        if (budget is not None and q > budget) or (rounds is not None and k >= rounds):
            break
        if v < 0:
            return 1.0
    return 0.0


def group(runs: list[dict]) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        key = json.dumps({"experiment": run["experiment"], **run["setting"]}, sort_keys=True)
        out.setdefault(key, {}).setdefault(run["method"], []).append(run)
    return out


def _columns(
    by: dict[str, list[dict]], fractions: tuple[float, ...], fifth: bool
) -> tuple[list[int], list[int]]:
    """The rounds (1, R/5 (curves), R/3, R/2, R) and query budgets (fractions of the equal-query
    budget, the smallest final count; curves also the largest) of a table."""
    R = max(len(r["round"]) for rs in by.values() for r in rs)
    rounds = sorted({1, max(1, R // 3), max(1, R // 2), R} | ({max(1, R // 5)} if fifth else set()))
    finals = [r["queries"][-1] for rs in by.values() for r in rs]
    budgets = {int(min(finals) * f) for f in fractions} | ({int(max(finals))} if fifth else set())
    return rounds, sorted(budgets)


def _head(first: str, rounds: list[int], budgets: list[int]) -> list[str]:
    return ["method", first, *(f"round {r}" for r in rounds), *(f"{b} queries" for b in budgets)]


def curve_table(setting: str, by_method: dict[str, list[dict]]) -> str:
    name = next(iter(by_method.values()))[0]["value_name"]
    rounds, budgets = _columns(by_method, (0.25, 0.5, 1.0), fifth=True)
    rows = []
    for m in (m for m in METHODS if by_method.get(m)):
        rs = by_method[m]
        cells = [
            report.iqr(report.quantiles(r["value"][k - 1] if len(r["value"]) >= k else math.nan for r in rs))
            for k in rounds
        ]
        cells += [report.iqr(report.quantiles(value_at_queries(r, b) for r in rs)) for b in budgets]
        rows.append([LABELS[m], len(rs), *cells])
    return report.table(
        _head("seeds", rounds, budgets), rows, title=f"**{setting}** — median [IQR] of {name}"
    )


def quad_goal(by_method: dict[str, list[dict]], label: str, method: str = "fzoos") -> Goal | None:
    """FZooS reaches FedZO's final gap (per seed) in <= R/3 rounds and <= 1/2 of FedZO's queries."""
    fz = {r["seed"]: r for r in by_method.get(method, [])}
    fo = {r["seed"]: r for r in by_method.get("fedzo", [])}
    seeds = sorted(set(fz) & set(fo))
    if not seeds:
        return None
    rounds, qratio = [], []
    for s in seeds:
        target, R = fo[s]["value"][-1], len(fo[s]["value"])
        hit = next((k for k, v in enumerate(fz[s]["value"]) if v <= target), None)
        rounds.append(math.inf if hit is None else hit + 1)
        qratio.append(math.inf if hit is None else fz[s]["queries"][hit] / fo[s]["queries"][-1])
    med_r, med_q = float(np.median(rounds)), float(np.median(qratio))
    # FedZO's final gap above its round-1 gap: it diverged, and "reaching" it is no achievement
    diverged = [s for s in seeds if fo[s]["value"][-1] >= fo[s]["value"][0]]
    fz_final = float(np.median([fz[s]["value"][-1] for s in seeds]))
    fo_final = float(np.median([fo[s]["value"][-1] for s in seeds]))
    measured = (
        f"median {med_r:g} rounds and {med_q:.3g} of FedZO's queries; per seed rounds {rounds}; final gaps "
        f"{LABELS[method]} {fz_final:.3g} vs FedZO {fo_final:.3g}"
        + (f"; FedZO diverged (final gap >= round-1 gap) on seeds {diverged}" if diverged else "")
    )
    data = {
        "setting": label,
        "method": method,
        "seeds": seeds,
        "rounds_to_fedzo_final": rounds,
        "query_ratio": qratio,
        "median_rounds": med_r,
        "rounds_limit": R / 3,
        "median_query_ratio": med_q,
        "fedzo_diverged_seeds": diverged,
        "final_gaps": {method: fz_final, "fedzo": fo_final},
    }
    goal = (
        f"{label}: {LABELS[method]} reaches FedZO's round-{R} gap in <= {R / 3:.3g} rounds and <= 0.5 of "
        "FedZO's queries"
    )
    result = Goal.at_most(goal, measured, max(med_r / (R / 3), med_q / 0.5), 1.0, **data)
    if result.met and diverged:  # trivially reached: counted as missed
        return Goal(goal, measured + " (trivial: counted as missed)", False, "", data)
    return result


def grad_summary(runs: list[dict]) -> tuple[str, dict]:
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["method"], []).append(r)
    R = max(len(r["cos"]) for r in runs)
    T = runs[0]["setting"]["T"]
    rows, means = [], {}
    for m in (m for m in METHODS if by.get(m)):
        rs = by[m]
        per_round = [float(np.mean([c for r in rs for step in r["cos"][k] for c in step])) for k in range(R)]
        last = [
            float(np.mean([c for r in rs for c in r["cos"][-1][t]])) if t < T else math.nan
            for t in (0, 4, 9, 19)
        ]
        means[m] = per_round
        last_text = " / ".join("—" if math.isnan(v) else f"{v:.3f}" for v in last)
        rows.append([LABELS[m], len(rs), *(f"{v:.3f}" for v in per_round), last_text])
    head = ["method", "seeds", *(f"round {k + 1}" for k in range(R)), "last round, steps 1 / 5 / 10 / 20"]
    title = f"**Gradient quality** (C = 5, T = {T}): mean cosine of the local direction with grad F"
    goal = None
    if "fzoos" in means and len(means) > 1:
        best_other = max(v[-1] for m, v in means.items() if not m.startswith("fzoos"))
        mine = means["fzoos"][-1]
        goal = Goal(
            f"gradient quality: FZooS's mean cosine in round {R} above every baseline's",
            f"FZooS {mine:.3f} vs best baseline {best_other:.3f}",
            mine > best_other,
            f"{abs(mine - best_other):.3f}",
        )
    return report.table(head, rows, title=title), {
        "means": means,
        "goal": goal.to_dict() if goal else None,
        "_goal": goal,
    }


def ablation_table(runs: list[dict]) -> str:
    cells: dict[tuple, list[float]] = {}
    for r in runs:
        cells.setdefault((r["setting"]["M"], r["setting"]["correction"]), []).append(r["value"][-1])
    rows = [[M, corr, len(vs), report.iqr(report.quantiles(vs))] for (M, corr), vs in sorted(cells.items())]
    title = "**Ablation** (FZooS, heterogeneous Levy): median [IQR] of F at the last round"
    return report.table(["M", "correction", "seeds", "final F"], rows, title=title)


def task_table(
    kind: str, label: str, by: dict[str, list[dict]]
) -> tuple[str, dict[str, list[float]], list[int]]:
    """The attack's success rates, or the metric task's 1 - metric, at rounds and query budgets."""
    # small budgets too: an attack that every method finishes early is decided there
    rounds, budgets = _columns(by, (1 / 32, 1 / 16, 1 / 8, 0.25, 0.5, 1.0), fifth=False)
    rows, at_budget = [], {}
    for m in (m for m in METHODS if by.get(m)):
        rs = by[m]
        if kind == "attack":
            cells = [f"{np.mean([success_by(r, rounds=k) for r in rs]):.2f}" for k in rounds]
            vals = [float(np.mean([success_by(r, budget=b) for r in rs])) for b in budgets]
            cells += [f"{v:.2f}" for v in vals]
        else:
            cells = [report.iqr(report.quantiles(r["value"][k - 1] for r in rs)) for k in rounds]
            # a budget below a run's first round: its first-round value stands in (generous to that
            # run, whose iterate is still x_0 there)
            vals = [
                report.quantiles(_or(value_at_queries(r, b), r["value"][0]) for r in rs)[1] for b in budgets
            ]
            cells += [report.iqr(report.quantiles(value_at_queries(r, b) for r in rs)) for b in budgets]
        at_budget[m] = vals
        rows.append([LABELS[m], len(rs), *cells])
    what = "success rate" if kind == "attack" else "median [IQR] of 1 - metric (mean over clients)"
    return (
        report.table(_head("runs", rounds, budgets), rows, title=f"**{label}** — {what}"),
        at_budget,
        budgets,
    )


def _or(v: float, default: float) -> float:
    return default if math.isnan(v) else v


def task_goal(kind: str, label: str, at_budget: dict[str, list[float]], budgets: list[int]) -> Goal | None:
    if "fzoos" not in at_budget or len(at_budget) < 2:
        return None
    fz = at_budget["fzoos"]
    others = {m: v for m, v in at_budget.items() if not m.startswith("fzoos")}
    if kind == "attack":  # higher is better; ahead = >= everywhere, > somewhere, per baseline
        goal = f"attack ({label}): FZooS's success rate >= every baseline's at every budget, > somewhere"
        ok = all(
            all(a >= b for a, b in zip(fz, v, strict=True)) and any(a > b for a, b in zip(fz, v, strict=True))
            for v in others.values()
        )
    else:  # lower is better: strictly lower median at the equal-query budget, not worse before
        goal = f"metric ({label}): FZooS's 1 - metric lowest at the equal-query budget, never higher before"
        ok = all(fz[-1] < v[-1] and all(a <= b for a, b in zip(fz, v, strict=True)) for v in others.values())
    detail = "; ".join(f"{LABELS[m]} {', '.join(f'{x:.3g}' for x in v)}" for m, v in others.items())
    measured = f"at {budgets} queries FZooS {', '.join(f'{x:.3g}' for x in fz)} vs {detail}"
    return Goal(goal, measured, bool(ok), data={"setting": label, "budgets": budgets, "values": at_budget})


def plot_setting(path: Path, title: str, by: dict[str, list[dict]], kind: str) -> None:
    """Median and IQR of the gap (or F) against rounds and queries; the attack's success rate."""
    name = next(iter(by.values()))[0]["value_name"]
    rounds, queries = {}, {}
    for m in (m for m in METHODS if by.get(m)):
        rs = by[m]
        L = min(len(r["value"]) for r in rs)
        if kind == "attack":
            x, qs = np.arange(1, L + 1), np.linspace(0, max(r["queries"][-1] for r in rs), 50)
            rounds[LABELS[m]] = (x, [[np.mean([success_by(r, rounds=k) for r in rs]) for k in x]])
            queries[LABELS[m]] = (qs, [[np.mean([success_by(r, budget=q) for r in rs]) for q in qs]])
        else:
            V = np.array([r["value"][:L] for r in rs])
            rounds[LABELS[m]] = (np.arange(1, L + 1), V)
            queries[LABELS[m]] = (np.median(np.array([r["queries"][:L] for r in rs]), 0), V)
    ylabel, logy = ("success rate", False) if kind == "attack" else (name, name == "gap")
    panels = [
        report.Panel("", x, ylabel, series, logy) for x, series in (("rounds", rounds), ("queries", queries))
    ]
    report.plot_panels(path, panels, ncols=2, title=title)


def summarize(runs: list[dict], out: Path) -> dict[str, Any]:
    """Every table and goal of the runs, in the order curves, ablation, gradient, attack, metric
    (figures beside ``out``)."""
    summary: dict[str, Any] = {"tables": [], "goals": []}
    goals: list[Goal] = []
    settings = [(json.loads(key), by) for key, by in sorted(group(runs).items())]

    def settings_of(kinds: tuple[str, ...]) -> None:
        for setting, by in settings:
            kind = setting["experiment"]
            if kind not in kinds:
                continue
            label = ", ".join(f"{k}={v}" for k, v in setting.items())
            if kind == "ablation":
                by = {"fzoos": by["fzoos"]}
            if kind in CURVES:
                summary["tables"].append(curve_table(label, by))
                if kind == "quad":
                    goals.extend(
                        g for m in ("fzoos", "fzoos_theory") if (g := quad_goal(by, f"C={setting['C']}", m))
                    )
            else:
                table, at_budget, budgets = task_table(kind, label, by)
                summary["tables"].append(table)
                goals.extend(g for g in [task_goal(kind, label, at_budget, budgets)] if g)
            slug = "_".join(str(v) for v in setting.values()).replace(".", "p")
            plot_setting(out.parent / f"{out.stem}_{slug}.png", label, by, kind)

    settings_of(CURVES)
    if abl := [r for r in runs if r["experiment"] == "ablation"]:
        summary["tables"].append(ablation_table(abl))
    if grads := [r for r in runs if r["experiment"] == "grad"]:
        table, summary["grad"] = grad_summary(grads)
        summary["tables"].append(table)
        goals.extend(g for g in [summary["grad"].pop("_goal")] if g)
    settings_of(("attack",))
    settings_of(("metric",))
    summary["goals"] = [g.to_dict() for g in goals]
    return summary


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--experiments", default=None, help="default: all; with --quick quad,grad,attack")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (0..n-1)")
    p.add_argument("--seed-list", default=None, help="comma-separated seeds (overrides --seeds)")
    p.add_argument("--dim", type=int, default=None)
    p.add_argument("--clients", type=int, default=5)
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--local-steps", type=int, default=10)
    p.add_argument("--C", default="0.5,5,50")
    p.add_argument("--T-grid", default="5,20")
    p.add_argument("--M", type=int, default=None, help="FZooS's n_features")
    p.add_argument("--M-grid", default="1000,10000")
    p.add_argument("--fzoos", default="{}", help="JSON overrides of FZooS's settings (tuning runs)")
    p.add_argument("--grad-rounds", type=int, default=3)
    p.add_argument("--grad-dim", type=int, default=None)
    p.add_argument("--task-scale", default=None, help="attack/metric sizes: full, medium, reduced or quick")
    p.add_argument("--tag", default=None)
    runner.add_options(p, resume=True)
    a = p.parse_args(argv)
    q = a.quick
    a.experiments = a.experiments or (
        "quad,grad,attack" if q else "quad,quadT,hetero,grad,ablation,attack,metric"
    )
    a.dim = a.dim or (30 if q else 300)
    a.rounds = a.rounds or (8 if q else 50)
    a.M = a.M or (1000 if q else 10000)
    a.grad_dim = a.grad_dim or a.dim
    a.C = [float(c) for c in a.C.split(",")]
    a.T_grid = [int(t) for t in a.T_grid.split(",")]
    a.M_grid = [int(m) for m in a.M_grid.split(",")] if not q else [300, 1000]
    a.task_scale = a.task_scale or ("quick" if q else "full")
    a.fzoos = json.loads(a.fzoos)
    seeds = (
        [int(s) for s in a.seed_list.split(",")] if a.seed_list else list(range(a.seeds or (2 if q else 5)))
    )
    suffix = f"_{a.tag or 'quick'}" if a.tag or q else ""
    out = a.out / f"federated{suffix}.json"
    a.out.mkdir(parents=True, exist_ok=True)
    runs_path = a.out / f"federated_runs{suffix}.jsonl"
    if a.report_only is not None:
        paths = [Path(x) for x in a.report_only] or [runs_path]
        runs = runner.Runs.of(paths, FIELDS).records
    else:
        cells = cells_for(a, seeds, a.methods.split(","))
        runs = runner.run(cells, run_cell, runner.Runs(FIELDS, runs_path, resume=a.resume), describe=describe)
        runs = runner.Runs.of([runs_path], FIELDS).records  # the report covers every recorded run
    summary = summarize(runs, out)
    print("\n\n".join([*summary["tables"], report.goals_text([Goal(**g) for g in summary["goals"]])]))
    env = machine.environment(
        ("asktell", "torch", "botorch", "gpytorch", "numpy", "scikit-learn", "matplotlib")
    )
    args = {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()}
    runner.write_json(
        out, {"environment": env, "args": args | {"seeds": seeds}, "summary": summary, "runs": runs}
    )


if __name__ == "__main__":
    main()
