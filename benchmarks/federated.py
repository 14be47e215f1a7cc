"""Federated zeroth-order optimization: FZooS against FedZO, FedProx, SCAFFOLD-I and SCAFFOLD-II.

Run ``make bench-fed`` (or ``python benchmarks/federated.py``); ``--quick`` is a small version (d = 30,
8 rounds, 2 seeds, M = 1000, and the attack and metric tasks at toy sizes). Every federation runs
through ``asktell.loops.federated.simulate``; all methods see the same clients and the same
federation seed for a given seed (same start point ``x_0``).

**Experiments** (``--experiments``, ALGORITHMS.md section 6, issue 5):

- ``quad``: the federated quadratic of 6.1 (``f_i`` from per-coordinate Dirichlet(1/N) draws with
  heterogeneity ``C``), on [-10, 10]^d, d = 300, N = 5, C in {0.5, 5, 50}, T = 10, R = 50.
  The optimality gap is ``F(x_r) - F*`` with ``F* = 0.1/d - 0.025``.
- ``quadT``: the same at C = 5 with T in {5, 20}.
- ``hetero``: heterogeneous Levy (on [-10, 10]^d, divided by d) and Ackley (on [-32.768, 32.768]^d):
  ``f_i(x) = f(c_i * (x - s_i))`` with ``c_i = 0.1 + C (Dir - 1/N)`` and ``s_i = C (Dir - 1/N)`` per
  coordinate (6.1's construction), C = 0.5, T = 5. The optimum is unknown: the tables show ``F``.
- ``grad``: the gradient-quality study: C = 5, T = 20, three rounds; at every local step of every
  client the direction the method steps along (captured exactly, see ``_capture``) is compared with
  the true global gradient ``grad F`` at the same point (cosine similarity, unit-cube coordinates).
- ``ablation``: FZooS on heterogeneous Levy (C = 5) with M in {1000, 10000} and the correction
  ``"adaptive"`` vs ``"fixed"``.
- ``attack``, ``metric``: the black-box attack on the 8x8 digits and the non-differentiable metric
  task, in :mod:`benchmarks.fed_tasks`.

**Methods**: ``FZooS(n_features=M)`` (other settings: library defaults), ``FedZO()``,
``FedProx()``, ``ScaffoldI()``, ``ScaffoldII()`` (q = 20, mu = 0.01, Adam lr 0.01), all with the
experiment's ``local_steps``.

**Written**: every finished run is appended at once to ``benchmarks/results/federated_runs[_TAG].jsonl``
(so partial results survive; a rerun with the same tag skips the runs already there), then
``federated[_TAG].json`` (summary, goals) and ``federated[_TAG]_*.png``. ``--report FILE ...`` only
reads run files (several processes may each have written one) and prints the tables and goals.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asktell import Real, Space  # noqa: E402
from asktell.loops.federated import FedProx, FedZO, FZooS, ScaffoldI, ScaffoldII, simulate  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METHODS = ("fzoos", "fzoos_theory", "fedzo", "fedprox", "scaffold1", "scaffold2")
LABELS = {
    "fzoos": "FZooS",
    "fzoos_theory": "FZooS (theory gamma)",
    "fedzo": "FedZO",
    "fedprox": "FedProx",
    "scaffold1": "SCAFFOLD-I",
    "scaffold2": "SCAFFOLD-II",
}
BOXES = {"levy": (-10.0, 10.0), "ackley": (-32.768, 32.768), "quadratic": (-10.0, 10.0)}


def make_fed(method: str, T: int, M: int, start: str | None = None, **fzoos: Any):
    """The federation for a method key; ``start`` (e.g. ``"center"``) overrides every method's x_0."""
    common: dict[str, Any] = {"local_steps": T, **({"start": start} if start else {})}
    if method in ("fzoos", "fzoos_theory"):
        variant = {"correction": "theory"} if method == "fzoos_theory" else {}
        return FZooS(n_features=M, **common, **{**fzoos, **variant})
    cls = {"fedzo": FedZO, "fedprox": FedProx, "scaffold1": ScaffoldI, "scaffold2": ScaffoldII}[method]
    return cls(**common)


def space_of(d: int, box: tuple[float, float]) -> Space:
    return Space({f"x{j:04d}": Real(*box) for j in range(d)})


def _vec(p: dict[str, Any]) -> np.ndarray:
    return np.fromiter(p.values(), dtype=np.float64)


# --- problems ------------------------------------------------------------------------------------
def quadratic_clients(n: int, d: int, C: float, seed: int):
    """ALGORITHMS.md 6.1: ``f_i = (sum_j A_ij x_j^2 + B_ij x_j + 1) / (10 d)``; F* = 0.1/d - 0.025."""
    rng = np.random.default_rng([seed, 6_1])
    a = rng.dirichlet([1 / n] * n, size=d).T
    b = rng.dirichlet([1 / n] * n, size=d).T
    A, B = 1 + C * (a - 1 / n), 1 + C * (b - 1 / n)

    def make(i):
        return lambda p: float(((A[i] * (x := _vec(p)) ** 2 + B[i] * x).sum() + 1) / (10 * d))

    return [make(i) for i in range(n)], 0.1 / d - 0.025


def quadratic_gradient(u: np.ndarray) -> np.ndarray:
    """grad F in unit-cube coordinates, up to a positive factor (cosines only)."""
    return 2 * (20 * u - 10) + 1


def _levy(x: np.ndarray) -> float:
    w = 1 + (x - 1) / 4
    inner = w[:-1]
    return float(
        np.sin(np.pi * w[0]) ** 2
        + ((inner - 1) ** 2 * (1 + 10 * np.sin(np.pi * inner + 1) ** 2)).sum()
        + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2)
    ) / len(x)


def _ackley(x: np.ndarray) -> float:
    return float(
        -20 * np.exp(-0.2 * np.sqrt((x**2).mean())) - np.exp(np.cos(2 * np.pi * x).mean()) + 20 + np.e
    )


def hetero_clients(name: str, n: int, d: int, C: float, seed: int):
    rng = np.random.default_rng([seed, 6_2])
    c = 0.1 + C * (rng.dirichlet([1 / n] * n, size=d).T - 1 / n)
    s = C * (rng.dirichlet([1 / n] * n, size=d).T - 1 / n)
    f = {"levy": _levy, "ackley": _ackley}[name]

    def make(i):
        return lambda p: f(c[i] * (_vec(p) - s[i]))

    return [make(i) for i in range(n)], None


# --- runs ----------------------------------------------------------------------------------------
def run_one(exp: str, setting: dict[str, Any], method: str, seed: int, M: int, fzoos: dict) -> dict:
    d, N, T, R = setting["d"], setting["N"], setting["T"], setting["R"]
    problem = setting["problem"]
    if problem == "quadratic":
        clients, f_star = quadratic_clients(N, d, setting["C"], seed)
    else:
        clients, f_star = hetero_clients(problem, N, d, setting["C"], seed)
    extra = dict(fzoos)
    if "correction" in setting and method.startswith("fzoos"):
        extra["correction"] = setting["correction"]
    M = setting.get("M", M)
    fed = make_fed(method, T, M, **extra)
    t0 = time.perf_counter()
    sim = simulate(fed, space_of(d, BOXES[problem]), clients, rounds=R, seed=seed)
    recs = sim.records
    F = [r["F"] for r in recs]
    return {
        "experiment": exp,
        "setting": setting,
        "method": method,
        "seed": seed,
        "M": M if method.startswith("fzoos") else None,
        "fzoos": extra if method.startswith("fzoos") else None,
        "round": [r["round"] for r in recs],
        "F": F,
        "value": [f - f_star for f in F] if f_star is not None else F,
        "value_name": "gap" if f_star is not None else "F",
        "queries": [r["queries"] for r in recs],
        "bytes_up": [r["bytes_up"] for r in recs],
        "bytes_down": [r["bytes_down"] for r in recs],
        "seconds": time.perf_counter() - t0,
    }


def _key(run: dict) -> str:
    return json.dumps([run["experiment"], run["setting"], run["method"], run["seed"]], sort_keys=True)


def load_runs(paths: list[Path]) -> list[dict]:
    runs: dict[str, dict] = {}
    for path in paths:
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    run = json.loads(line)
                    runs[_key(run)] = run
    return list(runs.values())


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
    raise ValueError(exp)


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
def _q(xs) -> tuple[float, float, float]:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return (math.nan,) * 3
    a, b, c = np.percentile(xs, [25, 50, 75])
    return float(a), float(b), float(c)


def _fmt(q: tuple[float, float, float]) -> str:
    if math.isnan(q[1]):
        return "—"
    return f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]"


def value_at_queries(run: dict, budget: float) -> float:
    """The value of the last round whose cumulative queries are within the budget (nan if none)."""
    best = math.nan
    for v, q in zip(run["value"], run["queries"], strict=True):
        if q <= budget:
            best = v
    return best


def group(runs: list[dict]) -> dict[str, dict[str, list[dict]]]:
    out: dict[str, dict[str, list[dict]]] = {}
    for run in runs:
        key = json.dumps({"experiment": run["experiment"], **run["setting"]}, sort_keys=True)
        out.setdefault(key, {}).setdefault(run["method"], []).append(run)
    return out


def curve_table(setting: str, by_method: dict[str, list[dict]]) -> str:
    runs0 = next(iter(by_method.values()))
    name = runs0[0]["value_name"]
    R = max(len(r["round"]) for rs in by_method.values() for r in rs)
    rounds = sorted({1, max(1, R // 5), max(1, R // 3), max(1, R // 2), R})
    finals = [r["queries"][-1] for rs in by_method.values() for r in rs]
    qmax = min(finals)
    budgets = sorted({int(qmax * f) for f in (0.25, 0.5, 1.0)} | {int(max(finals))})
    head = (
        "| method | seeds | "
        + " | ".join(f"round {r}" for r in rounds)
        + " | "
        + " | ".join(f"{b} queries" for b in budgets)
        + " |"
    )
    lines = [
        f"**{setting}** — median [IQR] of {name}",
        "",
        head,
        "|" + "---|" * (2 + len(rounds) + len(budgets)),
    ]
    for m in METHODS:
        rs = by_method.get(m)
        if not rs:
            continue
        cells = [
            _fmt(_q([r["value"][k - 1] if len(r["value"]) >= k else math.nan for r in rs])) for k in rounds
        ]
        cells += [_fmt(_q([value_at_queries(r, b) for r in rs])) for b in budgets]
        lines.append(f"| {LABELS[m]} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quad_goals(by_method: dict[str, list[dict]], label: str, method: str = "fzoos") -> dict | None:
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
    ok = med_r <= R / 3 and med_q <= 0.5
    # FedZO's final gap above its round-1 gap: it diverged, and "reaching" it is no achievement
    diverged = [s for s in seeds if fo[s]["value"][-1] >= fo[s]["value"][0]]
    fz_final = float(np.median([fz[s]["value"][-1] for s in seeds]))
    fo_final = float(np.median([fo[s]["value"][-1] for s in seeds]))
    verdict = "PASS" if ok else "MISS"
    if ok and diverged:
        verdict, ok = "TRIVIAL (counted as MISS)", False
    return {
        "setting": label,
        "seeds": seeds,
        "rounds_to_fedzo_final": rounds,
        "query_ratio": qratio,
        "median_rounds": med_r,
        "rounds_limit": R / 3,
        "median_query_ratio": med_q,
        "pass": ok,
        "fedzo_diverged_seeds": diverged,
        "final_gaps": {"fzoos": fz_final, "fedzo": fo_final},
        "method": method,
        "text": f"{verdict} {label}: {LABELS[method]} reaches FedZO's round-{R} gap in median "
        f"{med_r:g} rounds (limit {R / 3:.3g}) and {med_q:.3g} of FedZO's queries (limit 0.5); "
        f"per seed rounds {rounds}; final gaps {LABELS[method]} {fz_final:.3g} vs FedZO {fo_final:.3g}"
        + (f"; FedZO diverged (final gap >= round-1 gap) on seeds {diverged}" if diverged else ""),
    }


def grad_summary(runs: list[dict]) -> tuple[str, dict]:
    by: dict[str, list[dict]] = {}
    for r in runs:
        by.setdefault(r["method"], []).append(r)
    R = max(len(r["cos"]) for r in runs)
    T = runs[0]["setting"]["T"]
    head = (
        "| method | seeds | "
        + " | ".join(f"round {k + 1}" for k in range(R))
        + " | last round, steps 1 / 5 / 10 / 20 |"
    )
    lines = [
        f"**Gradient quality** (C = 5, T = {T}): mean cosine of the local direction with grad F",
        "",
        head,
        "|" + "---|" * (R + 3),
    ]
    means: dict[str, list[float]] = {}
    for m in METHODS:
        rs = by.get(m)
        if not rs:
            continue
        per_round = [float(np.mean([c for r in rs for step in r["cos"][k] for c in step])) for k in range(R)]
        last = [
            float(np.mean([c for r in rs for c in r["cos"][-1][t]])) if t < T else math.nan
            for t in (0, 4, 9, 19)
        ]
        means[m] = per_round
        lines.append(
            f"| {LABELS[m]} | {len(rs)} | "
            + " | ".join(f"{v:.3f}" for v in per_round)
            + " | "
            + " / ".join("—" if math.isnan(v) else f"{v:.3f}" for v in last)
            + " |"
        )
    goal = None
    if "fzoos" in means and len(means) > 1:
        best_other = max(v[-1] for m, v in means.items() if not m.startswith("fzoos"))
        ok = means["fzoos"][-1] > best_other
        goal = {
            "pass": ok,
            "fzoos": means["fzoos"][-1],
            "best_baseline": best_other,
            "text": f"{'PASS' if ok else 'MISS'} gradient quality: FZooS mean cosine in round {R} "
            f"{means['fzoos'][-1]:.3f} vs best baseline {best_other:.3f}",
        }
    return "\n".join(lines), {"means": means, "goal": goal}


def plot_group(path: Path, title: str, by_method: dict[str, list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=90)
    for m in METHODS:
        rs = by_method.get(m)
        if not rs:
            continue
        L = min(len(r["value"]) for r in rs)
        V = np.array([r["value"][:L] for r in rs])
        Q = np.median(np.array([r["queries"][:L] for r in rs]), 0)
        lo, med, hi = np.percentile(V, [25, 50, 75], axis=0)
        x = np.arange(1, L + 1)
        for ax, xs in zip(axes, (x, Q), strict=True):
            ax.plot(xs, med, label=LABELS[m])
            ax.fill_between(xs, lo, hi, alpha=0.2)
    name = next(iter(by_method.values()))[0]["value_name"]
    for ax, xl in zip(axes, ("rounds", "queries"), strict=True):
        ax.set_xlabel(xl)
        ax.set_ylabel(name)
        if name == "gap":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(runs: list[dict], out: Path, args_dict: dict) -> dict:
    from benchmarks import fed_tasks

    summary: dict[str, Any] = {"tables": [], "goals": []}
    curves = [r for r in runs if r["experiment"] in ("quad", "quadT", "hetero", "ablation")]
    for key, by_method in sorted(group(curves).items()):
        setting = json.loads(key)
        label = ", ".join(f"{k}={v}" for k, v in setting.items())
        if setting["experiment"] == "ablation":
            by_method = {"fzoos": by_method["fzoos"]}
        table = curve_table(label, by_method)
        print(table + "\n")
        summary["tables"].append(table)
        slug = "_".join(str(v) for v in setting.values()).replace(".", "p")
        plot_group(out.parent / f"{out.stem}_{slug}.png", label, by_method)
        if setting["experiment"] == "quad":
            for method in ("fzoos", "fzoos_theory"):
                g = quad_goals(by_method, f"C={setting['C']}", method)
                if g:
                    summary["goals"].append(g)
    abl = [r for r in runs if r["experiment"] == "ablation"]
    if abl:
        table = ablation_table(abl)
        print(table + "\n")
        summary["tables"].append(table)
    grads = [r for r in runs if r["experiment"] == "grad"]
    if grads:
        table, gs = grad_summary(grads)
        print(table + "\n")
        summary["tables"].append(table)
        summary["grad"] = gs
        if gs["goal"]:
            summary["goals"].append(gs["goal"])
    for kind in ("attack", "metric"):
        task_runs = [r for r in runs if r["experiment"] == kind]
        if task_runs:
            tables, goals = fed_tasks.report(kind, task_runs, out)
            for t in tables:
                print(t + "\n")
            summary["tables"] += tables
            summary["goals"] += goals
    print("Goals:")
    for g in summary["goals"]:
        print("  " + g["text"])
    payload = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "omp_threads": os.environ.get("OMP_NUM_THREADS"),
        },
        "args": args_dict,
        "summary": summary,
        "runs": runs,
    }
    out.write_text(json.dumps(payload, default=float))
    return payload


def ablation_table(runs: list[dict]) -> str:
    lines = [
        "**Ablation** (FZooS, heterogeneous Levy): median [IQR] of F at the last round",
        "",
        "| M | correction | seeds | final F |",
        "|---|---|---|---|",
    ]
    cells: dict[tuple, list[float]] = {}
    for r in runs:
        cells.setdefault((r["setting"]["M"], r["setting"]["correction"]), []).append(r["value"][-1])
    for (M, corr), vs in sorted(cells.items()):
        lines.append(f"| {M} | {corr} | {len(vs)} | {_fmt(_q(vs))} |")
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------
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
    p.add_argument("--report", nargs="*", default=None, help="only report these run files (jsonl)")
    a = p.parse_args(argv)
    q = a.quick
    everything = "quad,quadT,hetero,grad,ablation,attack,metric"
    a.experiments = a.experiments or ("quad,grad,attack" if q else everything)
    a.dim = a.dim or (30 if q else 300)
    a.rounds = a.rounds or (8 if q else 50)
    a.M = a.M or (1000 if q else 10000)
    a.grad_dim = a.grad_dim or a.dim
    a.C = [float(c) for c in a.C.split(",")]
    a.T_grid = [int(t) for t in a.T_grid.split(",")]
    a.M_grid = [int(m) for m in a.M_grid.split(",")] if not q else [300, 1000]
    seeds = (
        [int(s) for s in a.seed_list.split(",")] if a.seed_list else list(range(a.seeds or (2 if q else 5)))
    )
    methods = a.methods.split(",")
    fzoos = json.loads(a.fzoos)
    tag = a.tag or ("quick" if q else None)
    suffix = f"_{tag}" if tag else ""
    RESULTS.mkdir(exist_ok=True)
    runs_path = RESULTS / f"federated_runs{suffix}.jsonl"
    out = RESULTS / f"federated{suffix}.json"
    if a.report is not None:
        paths = [Path(x) for x in a.report] or [runs_path]
        report(load_runs(paths), out, {"report": a.report})
        return
    done = {_key(r) for r in load_runs([runs_path])}

    def save(run: dict) -> None:
        with runs_path.open("a") as fh:
            fh.write(json.dumps(run, default=float) + "\n")

    from benchmarks import fed_tasks

    start = time.perf_counter()
    for exp in a.experiments.split(","):
        if exp in ("quad", "quadT", "hetero", "ablation"):
            for seed in seeds:  # seed-major: a cut run still has every setting and method for a seed
                for setting in settings_for(exp, a):
                    for m in ["fzoos"] if exp == "ablation" else methods:
                        probe = {"experiment": exp, "setting": setting, "method": m, "seed": seed}
                        if _key(probe) in done:
                            continue
                        run = run_one(exp, setting, m, seed, a.M, fzoos)
                        save(run)
                        print(
                            f"[{time.perf_counter() - start:7.0f}s] {exp} {setting} {m} seed {seed}: "
                            f"{run['value_name']} {run['value'][-1]:.4g} after {run['queries'][-1]} queries "
                            f"({run['seconds']:.0f}s)",
                            flush=True,
                        )
        elif exp == "grad":
            for seed in seeds:
                for m in methods:
                    probe = {
                        "experiment": "grad",
                        "setting": {"d": a.grad_dim, "T": 20, "R": a.grad_rounds, "C": 5.0, "N": 5},
                        "method": m,
                        "seed": seed,
                    }
                    if _key(probe) in done:
                        continue
                    t0 = time.perf_counter()
                    run = gradient_study(m, seed, a.grad_dim, 20, a.grad_rounds, a.M, fzoos)
                    save(run)
                    print(
                        f"[{time.perf_counter() - start:7.0f}s] grad {m} seed {seed} "
                        f"({time.perf_counter() - t0:.0f}s)",
                        flush=True,
                    )
        elif exp in ("attack", "metric"):
            scale = a.task_scale or ("quick" if q else "full")
            for run in fed_tasks.run(exp, scale, methods, seeds, a.M, fzoos, done):
                save(run)
                print(
                    f"[{time.perf_counter() - start:7.0f}s] {exp} {run['setting']} {run['method']} "
                    f"seed {run['seed']}: {run['value'][-1]:.4g} ({run['seconds']:.0f}s)",
                    flush=True,
                )
        else:
            raise SystemExit(f"unknown experiment {exp!r}")
    report(load_runs([runs_path]), out, vars(a) | {"seeds": seeds})


if __name__ == "__main__":
    main()
