"""Statistics, markdown tables, goal lines and plots: one module for every benchmark's report.

Tables are markdown that pastes into the README as it is; a goal line reads
``goal: X; measured: Y; met by Z`` (or ``missed by Z``, or ``not measured``); figures are small PNGs
of medians with their interquartile bands. numpy and matplotlib load inside the functions, so
importing this module loads neither (a script sets its thread count first).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


# --- statistics ----------------------------------------------------------------------------------
def _values(xs: Iterable[float | None]) -> list[float]:
    return [float(x) for x in xs if x is not None and not math.isnan(x)]


def median(xs: Iterable[float | None]) -> float:
    """The median of the values that are numbers (None and NaN left out); NaN if there are none."""
    import numpy as np

    values = _values(xs)
    return float(np.median(values)) if values else math.nan


def quantiles(xs: Iterable[float | None]) -> tuple[float, float, float]:
    """The 25th, 50th and 75th percentiles (numpy's linear rule) of the values that are numbers."""
    import numpy as np

    values = _values(xs)
    if not values:
        return math.nan, math.nan, math.nan
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(q2), float(q3)


def mean(xs: Iterable[float | None]) -> float:
    """The mean (numpy's) of the values that are numbers; NaN if there are none."""
    import numpy as np

    values = _values(xs)
    return float(np.mean(values)) if values else math.nan


# --- number formats ------------------------------------------------------------------------------
def g3(x: float | None) -> str:
    """Three significant digits; below 1e-3 or from 1e4 on in scientific notation; ``n/a`` for none."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.3g}" if x == 0 or 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"


def seconds(x: float) -> str:
    """Seconds with three decimals (``1.2e-05`` below a millisecond)."""
    return "n/a" if math.isnan(x) else (f"{x:.3f}" if x >= 1e-3 else f"{x:.1e}")


def ms(x: float) -> str:
    """Seconds as milliseconds, one decimal (three below a millisecond)."""
    return "n/a" if math.isnan(x) else (f"{x * 1e3:.1f}" if x >= 1e-3 else f"{x * 1e3:.3f}")


def iqr(q: tuple[float, float, float]) -> str:
    """``median [q1, q3]`` with three significant digits, ``—`` for none."""
    return "—" if math.isnan(q[1]) else f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]"


def bold(text: str, yes: bool) -> str:
    return f"**{text}**" if yes else text


# --- tables --------------------------------------------------------------------------------------
def table(
    head: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    title: str | None = None,
    align: Sequence[str] | None = None,
) -> str:
    """A markdown table (``align``: the separator cells, e.g. ``"---:"``), under an optional title."""
    lines = [title, ""] if title else []
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(align or ["---"] * len(head)) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --- goals ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Goal:
    """One goal of a benchmark and how a run did on it.

    Args:
        goal: what is asked, e.g. ``"overhead per ask <= Optuna GPSampler's"``.
        measured: the numbers behind the verdict.
        met: True or False; None when this run cannot tell (a method or problem missing).
        by: the margin, e.g. ``"6.80x"`` or ``"1 problem"`` (empty: none worth saying).
        data: the numbers as data, for the JSON results.
    """

    goal: str
    measured: str
    met: bool | None
    by: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def at_most(cls, goal: str, measured: str, value: float, limit: float, **data: Any) -> Goal:
        """``value <= limit``; the margin is the factor between them."""
        if math.isnan(value) or math.isnan(limit):
            return cls(goal, measured, None, data=data)
        met = value <= limit
        factor = (
            (limit / value if value > 0 else math.inf) if met else (value / limit if limit > 0 else math.inf)
        )
        return cls(goal, measured, met, f"{factor:.2f}x" if math.isfinite(factor) else "", data)

    @classmethod
    def at_least(cls, goal: str, measured: str, count: int, needed: int, unit: str, **data: Any) -> Goal:
        """``count >= needed``; the margin is the difference, in ``unit`` (plural: add an s)."""
        gap = abs(count - needed)
        return cls(goal, measured, count >= needed, f"{gap} {unit}{'s' * (gap != 1)}" if gap else "", data)

    def line(self) -> str:
        verdict = "not measured" if self.met is None else ("met" if self.met else "missed")
        by = f" by {self.by}" if self.by and self.met is not None else ""
        return f"goal: {self.goal}; measured: {self.measured}; {verdict}{by}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def goals_text(goals: Sequence[Goal], title: str = "### Goals") -> str:
    return "\n".join([title, "", *(f"- {g.line()}" for g in goals)])


# --- plots ---------------------------------------------------------------------------------------
@dataclass
class Panel:
    """One axes: per label, x (``n``) and the runs' curves ``Y`` (``runs x n``); median and IQR band."""

    title: str
    xlabel: str
    ylabel: str
    series: dict[str, tuple[Any, Any]]
    logy: bool = True


def plot_panels(
    path: Path,
    panels: Sequence[Panel],
    *,
    ncols: int = 3,
    title: str | None = None,
    highlight: str | None = None,
    labels: Sequence[str] | None = None,
) -> None:
    """A small PNG of ``panels`` (``ncols`` per row), one colour per label, the legend below.

    On a log axis values are floored at 1e-8 (a solved problem stays on the plot).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = list(labels or dict.fromkeys(label for p in panels for label in p.series))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color = {label: colors[i % len(colors)] for i, label in enumerate(labels)}
    ncols = max(1, min(ncols, len(panels)))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.8 * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for label, (x, Y) in panel.series.items():
            Y = np.atleast_2d(np.asarray(Y, dtype=float))
            if panel.logy:
                Y = np.maximum(Y, 1e-8)
            q1, med, q3 = np.percentile(Y, [25, 50, 75], axis=0)
            ax.plot(x, med, color=color[label], label=label, lw=2 if label == highlight else 1.2)
            ax.fill_between(x, q1, q3, color=color[label], alpha=0.15, lw=0)
        if panel.logy:
            ax.set_yscale("log")
        ax.set_title(panel.title, fontsize=9)
        ax.set_xlabel(panel.xlabel, fontsize=8)
        ax.set_ylabel(panel.ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(
        list(handles.values()),
        list(handles),
        loc="lower center",
        ncol=min(len(handles), 7),
        fontsize=7,
        frameon=False,
    )
    if title:
        fig.suptitle(title, fontsize=8)
    bottom = 0.1 * math.ceil(len(handles) / 7) / nrows  # about 0.3 inch per row of the legend
    fig.tight_layout(rect=(0, bottom, 1, 0.95 if title else 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


def curves(runs: Sequence[Mapping[str, Any]], key: str) -> tuple[Any, Any] | None:
    """``(1..n, runs x n)`` for the equally long lists ``run[key]`` (cut to the shortest); None if none."""
    import numpy as np

    lists = [r[key] for r in runs if r.get(key)]
    if not lists:
        return None
    n = min(len(v) for v in lists)
    return np.arange(1, n + 1), np.array(
        [[math.nan if x is None else x for x in v[:n]] for v in lists], dtype=float
    )
