"""Plots of runs: convergence, the surrogate, the trials in parallel coordinates, outcome
constraints, federated runs.

Every function returns a :class:`matplotlib.figure.Figure` and draws into ``ax`` when one is given
(so plots compose with ``plt.subplots``); without ``ax`` it builds a new figure without touching
pyplot's global state. Needs matplotlib (``pip install "asktell[integrations]"``).

Constrained runs (``loop.init(space, constraints=[...])``): the best value so far counts feasible
trials only, and every plot that draws trials draws the infeasible ones in grey
(:data:`INFEASIBLE_COLOR`, crosses or dashed lines) with a legend entry;
:func:`plot_constraints` draws each outcome against its bound, trial by trial.

Example:
    >>> from asktell import Real, Space, minimize
    >>> from asktell.loops import Sobol
    >>> from asktell.plot import plot_convergence
    >>> space = Space({"x": Real(-1.0, 1.0)})
    >>> runs = [minimize(lambda p: p["x"] ** 2, space, Sobol(), budget=8, seed=s) for s in range(3)]
    >>> fig = plot_convergence({"Sobol": runs})
    >>> fig.savefig("convergence.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from asktell.errors import ConfigError, StateError
from asktell.loops.trajectory import modelling_obstacle
from asktell.space import Categorical, Integer, Real
from asktell.state import State

Run = Any  # a State, a Result (has .state) or a sequence of values (None for a failed trial)
INFEASIBLE_COLOR = "0.6"  # grey, as Optuna draws infeasible trials
INFEASIBLE_MARKER = "x"


def _axes(ax: Axes | None, **figure_kw: Any) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(layout="constrained", **figure_kw)
    return fig, fig.add_subplot()


def _state_of(run: Run) -> State | None:
    if isinstance(run, State):
        return run
    state = getattr(run, "state", None)
    return state if isinstance(state, State) else None


def _values(run: Run, feasible_only: bool = True) -> list[float | None]:
    """The run's values in trial order; None for trials without a (single) value, and for
    infeasible trials when ``feasible_only``."""
    state = _state_of(run)
    if state is None:
        return [None if v is None else float(v) for v in run]
    out: list[float | None] = []
    for trial in state.trials:
        if isinstance(trial.value, tuple):
            raise StateError(
                f"plot_convergence draws one objective; trial {trial.id} has {len(trial.value)} values."
            )
        kept = trial.feasible or not feasible_only
        out.append(trial.value if trial.status == "completed" and kept else None)
    return out


def best_so_far(run: Run) -> np.ndarray:
    """The best *feasible* value after each trial (``nan`` before the first feasible completed one;
    every completed trial is feasible in an unconstrained run): ``n`` floats."""
    best, out = math.inf, []
    for value in _values(run):
        if value is not None:
            best = min(best, value)
        out.append(best if math.isfinite(best) else math.nan)
    return np.asarray(out, dtype=float)


def _group(runs: Any) -> dict[str, list[Run]]:
    """Normalize ``runs`` to ``{label: [run, ...]}``."""
    if isinstance(runs, Mapping):
        return {
            str(k): ([v] if _state_of(v) is not None or _is_values(v) else list(v)) for k, v in runs.items()
        }
    if _state_of(runs) is not None or _is_values(runs):
        return {"": [runs]}
    return {"": list(runs)}


def _is_values(run: Any) -> bool:
    return isinstance(run, Sequence) and all(v is None or isinstance(v, (int, float)) for v in run)


def _median_band(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and interquartile range over runs, per step (runs of unequal length: the shortest)."""
    n = min(len(c) for c in curves)
    stack = np.vstack([c[:n] for c in curves])
    with warnings.catch_warnings():  # steps where no run has completed a trial stay empty
        warnings.simplefilter("ignore", RuntimeWarning)
        q25, med, q75 = np.nanpercentile(stack, [25, 50, 75], axis=0)
    return med, q25, q75


def plot_convergence(
    runs: Any,
    *,
    ax: Axes | None = None,
    log: bool = False,
    title: str | None = None,
    trials: bool | None = None,
) -> Figure:
    """Best value so far against the number of trials.

    Args:
        runs: one run, a list of runs (several seeds: their median and interquartile band), or a
            dict ``{label: run or list of runs}`` (one line and band per method). A run is a
            :class:`~asktell.State`, a :class:`~asktell.api.Result`, or a list of values in trial
            order (``None`` for a failed trial).
        ax: draw into these axes instead of a new figure.
        log: logarithmic value axis (for regrets and gaps, which are positive).
        title: the axes' title.
        trials: also draw each completed trial's value as a point, for labels of one state: the
            feasible ones in the line's colour, the infeasible ones as grey crosses. Default: for
            constrained states.

    Returns:
        The figure: per label one line (the median), and a shaded band where there are several
        runs. In a constrained run the line counts feasible trials only (it starts at the first).
    """
    fig, ax = _axes(ax)
    for label, group in _group(runs).items():
        curves = [best_so_far(r) for r in group]
        if not curves or min(len(c) for c in curves) == 0:
            continue
        med, q25, q75 = _median_band(curves)
        steps = np.arange(1, len(med) + 1)
        name = label or None
        if len(curves) > 1:
            name = f"{label} (median of {len(curves)})" if label else f"median of {len(curves)}"
        (line,) = ax.plot(steps, med, label=name, drawstyle="steps-post")
        if len(curves) > 1:
            ax.fill_between(steps, q25, q75, color=line.get_color(), alpha=0.2, step="post")
        state = _state_of(group[0]) if len(group) == 1 else None
        if state is not None and (trials or (trials is None and state.problem.constrained)):
            _trial_points(ax, state, line.get_color(), label)
    ax.set_xlabel("trials")
    ax.set_ylabel("best feasible value so far" if _any_constrained(runs) else "best value so far")
    if log:
        ax.set_yscale("log")
    if any(not str(artist.get_label()).startswith("_") for artist in [*ax.get_lines(), *ax.collections]):
        ax.legend()
    if title:
        ax.set_title(title)
    return fig


def _trial_points(ax: Axes, state: State, color: Any, label: str) -> None:
    """Each completed trial's value at its step: feasible ones in ``color``, infeasible grey."""
    done = [(i + 1, t) for i, t in enumerate(state.trials) if t.status == "completed"]
    kept = [(step, t.value) for step, t in done if t.feasible]
    broken = [(step, t.value) for step, t in done if not t.feasible]
    prefix = f"{label}: " if label else ""
    if kept:
        ax.scatter(*_xy(kept), color=color, s=14, alpha=0.7, zorder=3, label=f"{prefix}feasible trials")
    if broken:
        ax.scatter(
            *_xy(broken),
            color=INFEASIBLE_COLOR,
            marker=INFEASIBLE_MARKER,
            s=18,
            zorder=2,
            label=f"{prefix}infeasible trials",
        )


def _xy(points: Sequence[tuple[Any, Any]]) -> tuple[list[Any], list[Any]]:
    return [p[0] for p in points], [p[1] for p in points]


def _any_constrained(runs: Any) -> bool:
    return any(
        (state := _state_of(run)) is not None and state.problem.constrained
        for group in _group(runs).values()
        for run in group
    )


# --- the surrogate -----------------------------------------------------------------------------
def _check_model_based(loop: Any, state: State) -> None:
    if not hasattr(loop, "predict"):
        raise ConfigError(
            f"plot_surrogate needs a model-based loop such as BayesOpt, got {type(loop).__name__}."
        )
    reason = modelling_obstacle(state)
    if reason:
        raise StateError(f"no surrogate to plot yet: {reason}.")


def _predict(loop: Any, state: State, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loop's surrogate at encoded points ``X`` (``b x d``): median, lower, upper (``b``),
    in the objective's units (the loop's ``predict``: a log-warped model is transformed back)."""
    prediction = loop.predict(state, state.space.decode_many(X))
    bands = (prediction.median, prediction.lower, prediction.upper)
    return tuple(np.asarray(band, dtype=float) for band in bands)  # type: ignore[return-value]


def _grid(param: Any, n: int) -> np.ndarray:
    """Encoded grid along one parameter: all allowed values of a discrete one, else ``n`` points."""
    if isinstance(param, (Integer, Categorical)):
        values = param.encoded_values()
        if len(values) <= n:
            return np.array(values, dtype=np.float64)
    return np.linspace(0.0, 1.0, n, dtype=np.float64)


def plot_surrogate(
    loop: Any,
    state: State,
    params: Sequence[str] = ("x",),
    *,
    ax: Axes | None = None,
    n_grid: int = 100,
) -> Figure:
    """The loop's GP along one parameter (median and 2-sigma band) or two (a contour of the median).

    The other parameters are held at the best trial's values; the completed trials are drawn on
    top (in one dimension at their observed values, in two as points). Values are the objective's
    (minimized) units.

    Args:
        loop: a model-based loop (``BayesOpt``) and ``state`` one of its states.
        params: one or two parameter names of the space (two: both real or integer).
        ax: draw into these axes instead of a new figure.
        n_grid: grid points per real axis.
    """
    space = state.space
    params = tuple(params)
    if len(params) not in (1, 2) or any(p not in space.names for p in params):
        raise ConfigError(
            f"params must be one or two names of the space {list(space.names)}, got {params!r}."
        )
    _check_model_based(loop, state)
    best = state.best()
    anchor = space.encode(best.params if best is not None else state.completed[0].params)
    done = state.completed
    fig, ax = _axes(ax)
    if len(params) == 1:
        _surrogate_1d(ax, loop, state, params[0], anchor, n_grid)
    else:
        _surrogate_2d(fig, ax, loop, state, params, anchor, n_grid)
    ax.set_title(f"{loop.name} surrogate after {len(done)} completed trials")
    return fig


def _surrogate_1d(ax, loop, state, name, anchor, n_grid) -> None:
    space, done = state.space, state.completed
    i = space.names.index(name)
    param = space[name]
    u = _grid(param, n_grid)
    X = np.tile(anchor, (len(u), 1))
    X[:, i] = u
    median, lower, upper = _predict(loop, state, X)
    if isinstance(param, Categorical):
        ticks = np.arange(len(param.choices))
        yerr = np.vstack([median - lower, upper - median])
        ax.errorbar(ticks, median, yerr=yerr, fmt="o-", capsize=4, label="GP median, ± 2σ band")
        ax.set_xticks(ticks, [str(c) for c in param.choices])
        _scatter_trials(ax, done, lambda t: param.index(t.params[name]), lambda t: t.value)
    else:
        x = np.array([space.decode(row)[name] for row in X], dtype=float)
        (line,) = ax.plot(x, median, label="GP median")
        ax.fill_between(x, lower, upper, color=line.get_color(), alpha=0.2, label="± 2σ band")
        _scatter_trials(ax, done, lambda t: t.params[name], lambda t: t.value)
        if param.log:
            ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("objective")
    ax.legend()


def _surrogate_2d(fig, ax, loop, state, params, anchor, n_grid) -> None:
    space, done = state.space, state.completed
    for name in params:
        if isinstance(space[name], Categorical):
            raise ConfigError(f"a 2-d surrogate plot needs real or integer parameters; {name!r} is not.")
    i, j = (space.names.index(p) for p in params)
    ui, uj = _grid(space[params[0]], n_grid), _grid(space[params[1]], n_grid)
    G1, G2 = np.meshgrid(ui, uj, indexing="ij")
    X = np.tile(anchor, (G1.size, 1))
    X[:, i], X[:, j] = G1.reshape(-1), G2.reshape(-1)
    median, _, _ = _predict(loop, state, X)
    decoded = [space.decode(row) for row in X]
    x = np.array([d[params[0]] for d in decoded], dtype=float).reshape(G1.shape)
    y = np.array([d[params[1]] for d in decoded], dtype=float).reshape(G1.shape)
    contour = ax.contourf(x, y, median.reshape(G1.shape), levels=20, cmap="viridis")
    fig.colorbar(contour, ax=ax, label="GP median of the objective")
    _scatter_trials(ax, done, lambda t: t.params[params[0]], lambda t: t.params[params[1]], color="w")
    for axis, name in zip(("x", "y"), params, strict=True):
        param = space[name]
        if isinstance(param, (Real, Integer)) and param.log:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(params[0])
    ax.set_ylabel(params[1])
    ax.legend(loc="upper right")


def _scatter_trials(ax: Axes, done: Sequence[Any], x: Any, y: Any, color: str = "k") -> None:
    """The completed trials at ``(x(t), y(t))``: one collection labelled "trials" when all are
    feasible, else the feasible ones and the infeasible ones (grey crosses) apart."""
    kept = [t for t in done if t.feasible]
    broken = [t for t in done if not t.feasible]
    if kept:
        label = "trials" if not broken else "feasible trials"
        edge = "k" if color == "w" else None  # white points on a contour need an edge
        ax.scatter(
            [x(t) for t in kept], [y(t) for t in kept], color=color, edgecolor=edge, zorder=3, label=label
        )
    if broken:
        ax.scatter(
            [x(t) for t in broken],
            [y(t) for t in broken],
            color=INFEASIBLE_COLOR,
            marker=INFEASIBLE_MARKER,
            zorder=3,
            label="infeasible trials",
        )


# --- the trials ------------------------------------------------------------------------------
def plot_parallel_coordinates(
    state: State,
    params: Sequence[str] | None = None,
    *,
    ax: Axes | None = None,
    cmap: str = "viridis_r",
) -> Figure:
    """Every completed trial as a line across one axis per parameter, coloured by its value.

    Each axis spans its parameter's range in the space's encoding (log scales stay logarithmic,
    choices are evenly spaced) and is labelled with the values at its ends; the last axis is the
    objective. Good trials (low values) are drawn last, on top. In a constrained run the
    infeasible trials are grey dashed lines, drawn first (under the feasible ones), with a legend.

    Args:
        state: a single-objective state with at least one completed trial.
        params: the parameters to show, in order (default: all of the space).
        ax: draw into these axes instead of a new figure.
        cmap: a matplotlib colormap name; reversed viridis makes low (good) values bright.
    """
    space = state.space
    names = list(space.names if params is None else params)
    unknown = [n for n in names if n not in space.names]
    if unknown:
        raise ConfigError(f"unknown parameters {unknown}; the space has {list(space.names)}.")
    if not state.completed:
        raise StateError("no completed trial to plot.")
    if any(not isinstance(t.value, float) for t in state.completed):
        raise StateError("plot_parallel_coordinates draws single-objective states.")
    # infeasible first, then the feasible ones from worst to best: the best is drawn last, on top
    done = sorted(state.completed, key=lambda t: (bool(t.feasible), -t.value))  # type: ignore[operator]
    values = np.array([t.value for t in done], dtype=float)
    lo, hi = float(values.min()), float(values.max())
    scaled_values = (values - lo) / (hi - lo) if hi > lo else np.full_like(values, 0.5)
    columns = [[space[n].encode(t.params[n]) for t in done] for n in names]
    Y = np.column_stack([*columns, scaled_values])
    fig, ax = _axes(ax, figsize=(1.6 * (len(names) + 1) + 1.5, 4.0))
    colormap = matplotlib.colormaps[cmap]
    xs = list(range(len(names) + 1))
    for row, scaled, trial in zip(Y, scaled_values, done, strict=True):
        if trial.feasible:
            ax.plot(xs, row, color=colormap(scaled), alpha=0.8, linewidth=1.2)
        else:
            ax.plot(xs, row, color=INFEASIBLE_COLOR, alpha=0.6, linewidth=1.0, linestyle="--")
    for x in xs:
        ax.axvline(x, color="0.6", linewidth=0.8)
    for x, name in enumerate(names):
        low, high = _ends(space[name])
        ax.annotate(low, (x, 0.0), xytext=(2, -12), textcoords="offset points", fontsize=8)
        ax.annotate(high, (x, 1.0), xytext=(2, 4), textcoords="offset points", fontsize=8)
    ax.annotate(f"{lo:.4g}", (xs[-1], 0.0), xytext=(2, -12), textcoords="offset points", fontsize=8)
    ax.annotate(f"{hi:.4g}", (xs[-1], 1.0), xytext=(2, 4), textcoords="offset points", fontsize=8)
    ax.set_xticks(xs, [*names, "objective"])
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    mappable = ScalarMappable(norm=Normalize(lo, hi), cmap=colormap)
    fig.colorbar(mappable, ax=ax, label="objective")
    n_infeasible = sum(not t.feasible for t in done)
    if n_infeasible:
        proxy = Line2D([], [], color=INFEASIBLE_COLOR, linestyle="--", label=f"infeasible ({n_infeasible})")
        ax.legend(handles=[proxy], loc="upper right", fontsize=8)
        ax.set_title(f"{len(done)} completed trials, {n_infeasible} infeasible")
    else:
        ax.set_title(f"{len(done)} completed trials")
    return fig


def _ends(param: Any) -> tuple[str, str]:
    if isinstance(param, Categorical):
        return str(param.choices[0]), str(param.choices[-1])
    return f"{param.low:.4g}", f"{param.high:.4g}"


# --- outcome constraints -----------------------------------------------------------------------
def plot_constraints(
    state: State,
    names: Sequence[str] | None = None,
    *,
    axes: Sequence[Axes] | None = None,
) -> Figure:
    """Each constrained outcome against its bound, trial by trial: one panel per constraint.

    A panel draws every completed trial's value of that outcome at its trial id: the trials that
    keep this bound as dots, those that break it as red crosses; the bound is a dashed line and
    the side that breaks it is shaded. Its title says how many trials keep the bound. A trial is
    feasible when it keeps every panel's bound.

    Args:
        state: a state of a constrained problem.
        names: the outcomes to draw, in order (default: every constraint, in declaration order).
        axes: draw into these axes, one per outcome, instead of a new figure (a column of panels
            with a shared trial axis).

    Raises:
        StateError: the problem declares no constraints.
        ConfigError: an unknown outcome name, or not one axes per outcome.
    """
    if not state.problem.constrained:
        raise StateError(
            "plot_constraints draws outcome constraints; this problem declares none "
            "(loop.init(space, constraints=['mem <= 4']))."
        )
    by_name = {c.name: c for c in state.constraints}
    chosen = list(by_name if names is None else names)
    unknown = [n for n in chosen if n not in by_name]
    if unknown or not chosen:
        raise ConfigError(f"names must be outcomes of the problem {list(by_name)}, got {chosen!r}.")
    if axes is None:
        fig = Figure(layout="constrained", figsize=(6.4, 1.2 + 2.0 * len(chosen)))
        panels = list(np.atleast_1d(fig.subplots(len(chosen), 1, sharex=True, squeeze=False)[:, 0]))
    else:
        panels = list(axes)
        if len(panels) != len(chosen):
            raise ConfigError(f"axes must give one axes per outcome ({len(chosen)}), got {len(panels)}.")
        fig = panels[0].figure  # type: ignore[assignment]
    done = [t for t in state.completed if t.constraints is not None]
    for ax, name in zip(panels, chosen, strict=True):
        _constraint_panel(ax, by_name[name], done)
    panels[-1].set_xlabel("trial")
    return fig


def _constraint_panel(ax: Axes, constraint: Any, done: Sequence[Any]) -> None:
    values = [(t.id, t.constraints[constraint.name]) for t in done]
    kept = [(i, v) for i, v in values if constraint.slack(v) >= 0]
    broken = [(i, v) for i, v in values if constraint.slack(v) < 0]
    if kept:
        ax.scatter(*_xy(kept), color="C0", s=16, zorder=3, label="keeps the bound")
    if broken:
        ax.scatter(*_xy(broken), color="C3", marker="x", s=20, zorder=3, label="breaks it")
    ax.axhline(
        constraint.bound, color="k", linestyle="--", linewidth=1.0, label=f"bound {constraint.bound:g}"
    )
    low, high = ax.get_ylim()
    pad = 0.1 * max(high - low, abs(constraint.bound), 1e-12)
    low, high = min(low, constraint.bound - pad), max(high, constraint.bound + pad)
    # the side of the bound that breaks it
    span = (constraint.bound, high) if constraint.op == "<=" else (low, constraint.bound)
    ax.axhspan(*span, color="C3", alpha=0.08, linewidth=0)
    ax.set_ylim(low, high)
    ax.set_ylabel(constraint.name)
    ax.set_title(f"{constraint}: kept by {len(kept)} of {len(values)} trials", fontsize=10)
    ax.legend(loc="best", fontsize=8)


# --- federated runs --------------------------------------------------------------------------
def plot_federated(
    records_by_method: Mapping[str, Any],
    x: str = "round",
    *,
    y: str = "F",
    optimum: float | None = None,
    log: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """The objective (or its gap to ``optimum``) of federated runs against rounds or queries.

    Args:
        records_by_method: ``{method: records}`` where records are one run, a list of dicts with
            the keys ``round``, ``queries`` (cumulative function evaluations) and ``F`` (the
            global objective), or a list of such runs (several seeds: median and interquartile
            band; with ``x="queries"`` the runs are interpolated onto common query counts).
        x: ``"round"`` or ``"queries"``.
        y: the record key to draw (default ``"F"``).
        optimum: when given, draw the gap ``F - optimum`` (log scale by default).
        log: logarithmic value axis (default: when ``optimum`` is given).
        ax: draw into these axes instead of a new figure.
    """
    if x not in ("round", "queries"):
        raise ConfigError(f'x must be "round" or "queries", got {x!r}.')
    fig, ax = _axes(ax)
    for method, records in records_by_method.items():
        runs = [records] if records and isinstance(records[0], Mapping) else list(records)
        curves = []
        for run in runs:
            missing = [k for k in (x, y) if any(k not in r for r in run)]
            if missing:
                raise ConfigError(f"records of {method!r} lack the keys {missing}.")
            xs = np.array([float(r[x]) for r in run])
            ys = np.array([float(r[y]) for r in run]) - (optimum or 0.0)
            curves.append((xs, ys))
        if not curves:
            continue
        if len(curves) == 1:
            ax.plot(*curves[0], label=method, marker="." if len(curves[0][0]) < 30 else None)
            continue
        grid = _common_grid([c[0] for c in curves], by_round=(x == "round"))
        stacked = [np.interp(grid, xs, ys, left=np.nan, right=np.nan) for xs, ys in curves]
        med, q25, q75 = _median_band(stacked)
        (line,) = ax.plot(grid, med, label=f"{method} (median of {len(curves)})")
        ax.fill_between(grid, q25, q75, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("communication rounds" if x == "round" else "function queries")
    ax.set_ylabel(f"{y} - optimum" if optimum is not None else y)
    if log if log is not None else optimum is not None:
        ax.set_yscale("log")
    ax.legend()
    return fig


def _common_grid(xs: list[np.ndarray], by_round: bool) -> np.ndarray:
    lo = max(float(x.min()) for x in xs)
    hi = min(float(x.max()) for x in xs)
    if by_round:
        return np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=float)
    return np.linspace(lo, hi, 100)


__all__ = [
    "INFEASIBLE_COLOR",
    "best_so_far",
    "plot_constraints",
    "plot_convergence",
    "plot_federated",
    "plot_parallel_coordinates",
    "plot_surrogate",
]
