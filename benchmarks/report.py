"""Statistics, tables, goals and the convergence plot of the global-BO benchmark.

Works on the record dicts of :class:`benchmarks.peers.RunRecord`; numpy and matplotlib are imported
inside the functions so that ``global_bo.py`` can set the thread count before anything loads torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REGRET_FLOOR = 1e-6  # regrets below this count as solved in the ratio goals
WINS_NEEDED = 4
WORST_RATIO = 1.5
SCALE_TRIALS = 500


# --- statistics ----------------------------------------------------------------------------------
def median(xs: Sequence[float]) -> float:
    import numpy as np

    return float(np.median(xs)) if len(xs) else math.nan


def _quantiles(xs: Sequence[float]) -> tuple[float, float, float]:
    import numpy as np

    if not len(xs):
        return math.nan, math.nan, math.nan
    q1, q2, q3 = np.percentile(xs, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def summarize(
    records: list[dict[str, Any]], methods: list[str], problems: list[str]
) -> dict[str, Any]:
    """Per (problem, method): regret quantiles, overheads, failed seeds; per method: overhead."""
    import numpy as np

    cells: dict[str, dict[str, Any]] = {}
    for p in problems:
        cells[p] = {}
        for m in methods:
            runs = [r for r in records if r["problem"] == p and r["method"] == m]
            ok = [r for r in runs if r["error"] is None and len(r["regret"]) == r["budget"]]
            final = [max(r["regret"][-1], 0.0) for r in ok]
            q1, med, q3 = _quantiles(final)
            asks = [x for r in ok for x in r["overhead_s"]]
            last10 = [float(np.mean(r["overhead_s"][-10:])) for r in ok]
            cells[p][m] = {
                "median_regret": med,
                "q25_regret": q1,
                "q75_regret": q3,
                "median_overhead_s": median(asks),
                "last10_overhead_s": median(last10),
                "n_ok": len(ok),
                "failed_seeds": sorted(r["seed"] for r in runs if r not in ok),
                "errors": sorted({r["error"].splitlines()[0] for r in runs if r["error"]}),
            }
    overall = {}
    for m in methods:
        asks = [
            x
            for r in records
            if r["method"] == m and r["error"] is None and r["problem"] in problems
            for x in r["overhead_s"]
        ]
        last10 = [
            float(np.mean(r["overhead_s"][-10:]))
            for r in records
            if r["method"] == m and r["error"] is None and r["problem"] in problems
        ]
        overall[m] = {
            "median_overhead_s": median(asks),
            "mean_overhead_s": float(np.mean(asks)) if asks else math.nan,
            "last10_overhead_s": median(last10),
            "n_asks": len(asks),
        }
    return {"cells": cells, "overall": overall}


def best_method(cells: dict[str, Any]) -> str | None:
    scored = [
        (c["median_regret"], m) for m, c in cells.items() if not math.isnan(c["median_regret"])
    ]
    return min(scored)[1] if scored else None


# --- printing ------------------------------------------------------------------------------------
def _g(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _s(x: float) -> str:
    return "n/a" if math.isnan(x) else (f"{x:.3f}" if x >= 1e-3 else f"{x:.1e}")


def problem_table(problem: str, budget: int, cells: dict[str, Any], note: str) -> str:
    best = best_method(cells)
    lines = [
        f"### {problem} ({budget} evaluations{note})",
        "",
        "| method | median regret | IQR | overhead/ask (s) | last 10 asks (s) | failed seeds |",
        "|---|---|---|---|---|---|",
    ]
    for m, c in cells.items():
        regret = _g(c["median_regret"])
        if m == best:
            regret = f"**{regret}**"
        failed = ", ".join(map(str, c["failed_seeds"])) or "-"
        lines.append(
            f"| {m} | {regret} | {_g(c['q25_regret'])} - {_g(c['q75_regret'])} "
            f"| {_s(c['median_overhead_s'])} | {_s(c['last10_overhead_s'])} | {failed} |"
        )
    return "\n".join(lines)


def summary_table(summary: dict[str, Any], methods: list[str], problems: list[str]) -> str:
    lines = [
        "### Summary: median final regret / median overhead per ask (s); best regret in bold",
        "",
        "| problem | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for p in problems:
        cells = summary["cells"][p]
        best = best_method(cells)
        row = []
        for m in methods:
            regret = _g(cells[m]["median_regret"])
            regret = f"**{regret}**" if m == best else regret
            row.append(f"{regret} / {_s(cells[m]['median_overhead_s'])}")
        lines.append(f"| {p} | " + " | ".join(row) + " |")
    for key, label in (
        ("median_overhead_s", "median overhead per ask, all problems (s)"),
        ("last10_overhead_s", "last 10 asks of a run, median over runs (s)"),
    ):
        cells = [_s(summary["overall"][m][key]) for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --- goals ---------------------------------------------------------------------------------------
def _verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def evaluate_goals(
    summary: dict[str, Any],
    methods: list[str],
    problems: list[str],
    scale: dict[str, Any] | None,
    all_problems: bool,
) -> list[dict[str, Any]]:
    """The issue's goals, each with PASS/MISS (None: not measurable in this run) and the numbers.

    The win count is judged only when every problem ran (``all_problems``).
    """
    goals: list[dict[str, Any]] = []
    peers = [m for m in methods if m != "asktell"]
    if "asktell" in methods and peers and problems:
        wins, ratios = [], {}
        for p in problems:
            cells = summary["cells"][p]
            mine = cells["asktell"]["median_regret"]
            theirs = [cells[m]["median_regret"] for m in peers]
            theirs = [x for x in theirs if not math.isnan(x)]
            if math.isnan(mine) or not theirs:
                continue
            best_peer = max(min(theirs), REGRET_FLOOR)
            ratio = max(mine, REGRET_FLOOR) / best_peer
            ratios[p] = ratio
            if ratio <= 1.0:
                wins.append(p)
        n = len(ratios)
        goals.append(
            {
                "goal": f"lowest median regret on >= {WINS_NEEDED} of the 6 problems",
                "ok": len(wins) >= WINS_NEEDED if all_problems and n == len(problems) else None,
                "detail": f"wins on {len(wins)} of {n}: {', '.join(wins) or 'none'}",
            }
        )
        worst = max(ratios.items(), key=lambda kv: kv[1]) if ratios else None
        goals.append(
            {
                "goal": f"median regret <= {WORST_RATIO}x the best peer's on every problem",
                "ok": worst[1] <= WORST_RATIO if worst else None,
                "detail": "ratio to the best peer: "
                + ", ".join(f"{p} {r:.2f}" for p, r in ratios.items()),
            }
        )
    overall = summary["overall"]
    mine = overall.get("asktell", {}).get("median_overhead_s", math.nan)
    mine10 = overall.get("asktell", {}).get("last10_overhead_s", math.nan)
    overhead_goals = (("optuna-gp", 1.0, "Optuna GPSampler's"), ("botorch", 1 / 3, ""))
    for peer, factor, label in overhead_goals if problems else ():
        theirs = overall.get(peer, {}).get("median_overhead_s", math.nan)
        theirs10 = overall.get(peer, {}).get("last10_overhead_s", math.nan)
        measurable = not (math.isnan(mine) or math.isnan(theirs))
        goal = (
            f"overhead per ask <= {label}"
            if factor == 1.0
            else "overhead per ask <= 1/3 of the plain BoTorch loop's"
        )
        goals.append(
            {
                "goal": goal,
                "ok": mine <= factor * theirs if measurable else None,
                "detail": f"asktell {_s(mine)} s, {peer} {_s(theirs)} s"
                + (f" (ratio {mine / theirs:.2f})" if measurable and theirs > 0 else "")
                + f"; last 10 asks of a run: asktell {_s(mine10)} s, {peer} {_s(theirs10)} s",
            }
        )
    if scale is not None:
        for phase in ("cold", "warm"):
            if "error" in scale["asktell"] or "error" in scale["optuna-gp"]:
                goals.append(
                    {
                        "goal": f"scale, {phase} ask: asktell <= 0.5x Optuna GPSampler",
                        "ok": None,
                        "detail": "a method failed; see the scale table",
                    }
                )
                continue
            a, o = scale["asktell"][phase], scale["optuna-gp"][phase]
            goals.append(
                {
                    "goal": f"scale ({SCALE_TRIALS} trials, 6-d), {phase} ask: asktell <= 0.5x "
                    "Optuna GPSampler",
                    "ok": a <= 0.5 * o,
                    "detail": f"asktell {a:.3f} s, optuna-gp {o:.3f} s (ratio {a / o:.2f})",
                }
            )
    return goals


def goals_text(goals: list[dict[str, Any]]) -> str:
    lines = ["### Goals", ""]
    lines += [f"- {_verdict(g['ok'])} {g['goal']}: {g['detail']}" for g in goals]
    return "\n".join(lines)


def scale_text(scale: dict[str, Any]) -> str:
    head = f"### Scale: one ask with {SCALE_TRIALS} completed Hartmann6 trials (6-d)"
    lines = [
        head,
        "",
        "| method | cold ask (s) | warm ask, median (s) | all asks (s) |",
        "|---|---|---|---|",
    ]
    for m in ("asktell", "optuna-gp"):
        t = scale[m]
        if "error" in t:
            lines.append(f"| {m} | failed: {t['error']} | | |")
            continue
        times = ", ".join(f"{x:.3f}" for x in t["times_s"])
        lines.append(f"| {m} | {t['cold']:.3f} | {t['warm']:.3f} | {times} |")
    return "\n".join(lines)


# --- plot ----------------------------------------------------------------------------------------
def plot(
    records: list[dict[str, Any]], methods: list[str], problems: list[str], path: Path
) -> None:
    """One axes per problem: median and IQR of the regret at the recommended point (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ncols = min(3, len(problems))
    nrows = math.ceil(len(problems) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, p in zip(axes.flat, problems, strict=False):
        for i, m in enumerate(methods):
            curves = [
                r["regret"]
                for r in records
                if r["problem"] == p and r["method"] == m and r["error"] is None
            ]
            if not curves:
                continue
            R = np.maximum(np.array(curves, dtype=float), 1e-8)
            x = np.arange(1, R.shape[1] + 1)
            q1, med, q3 = np.percentile(R, [25, 50, 75], axis=0)
            color = colors[i % len(colors)]
            ax.plot(x, med, color=color, label=m, lw=2 if m == "asktell" else 1.2)
            ax.fill_between(x, q1, q3, color=color, alpha=0.15, lw=0)
        ax.set_yscale("log")
        ax.set_title(p, fontsize=10)
        ax.set_xlabel("evaluations", fontsize=8)
        ax.set_ylabel("simple regret", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, lw=0.4)
    for ax in list(axes.flat)[len(problems) :]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)
