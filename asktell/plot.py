"""Plots of runs: convergence, the surrogate, the trials in parallel coordinates, outcome
constraints, Pareto fronts and hypervolumes, federated runs.

Every function returns a :class:`matplotlib.figure.Figure` and draws into ``ax`` when one is given
(so plots compose with ``plt.subplots``); without ``ax`` it builds a new figure without touching
pyplot's global state. Needs matplotlib (``pip install "asktell[integrations]"``).

Constrained runs (``loop.init(space, constraints=[...])``): the best value so far counts feasible
trials only, and every plot that draws trials draws the infeasible ones in grey
(:data:`INFEASIBLE_COLOR`, crosses or dashed lines) with a legend entry;
:func:`plot_constraints` draws each outcome against its bound, trial by trial.

Multi-objective runs (``loop.init(space, n_objectives=2)``): :func:`plot_pareto_front` draws the
trials in objective space (two objectives, or three in 3-d), the front highlighted, and
:func:`plot_hypervolume` the hypervolume against the number of trials (median and interquartile
band per method, as :func:`plot_convergence` draws the best value). :func:`plot_surrogate` draws
one objective's GP (``objective=j``), :func:`plot_parallel_coordinates` an axis per objective and
the front in red; :func:`plot_convergence` (a best value) refuses such states with a StateError
that names the two plots above.

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
FRONT_COLOR = "C3"  # the Pareto front's trials, red


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


def _one_objective(state: State, plot: str) -> None:
    """Raise StateError when ``state`` has several objectives, for a plot of one."""
    if state.n_objectives > 1:
        raise StateError(
            f"{plot} draws one objective; this state has {state.n_objectives}: draw its front with "
            "plot_pareto_front(state) and its progress with plot_hypervolume(runs)."
        )


def _values(run: Run, feasible_only: bool = True) -> list[float | None]:
    """The run's values in trial order; None for trials without a (single) value, and for
    infeasible trials when ``feasible_only``."""
    state = _state_of(run)
    if state is None:
        return [None if v is None else float(v) for v in run]
    _one_objective(state, "plot_convergence")
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


def _predict(
    loop: Any, state: State, X: np.ndarray, column: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The loop's surrogate at encoded points ``X`` (``b x d``): median, lower, upper (``b``),
    in the objective's units (the loop's ``predict``: a log-warped model is transformed back);
    of objective ``column`` of a multi-objective prediction (``b x m``)."""
    prediction = loop.predict(state, state.space.decode_many(X))
    bands = [
        np.asarray(band, dtype=float) for band in (prediction.median, prediction.lower, prediction.upper)
    ]
    if column is not None:
        bands = [band.reshape(len(X), -1)[:, column] for band in bands]
    return bands[0], bands[1], bands[2]


def _value_of(column: int | None) -> Any:
    """A trial's (drawn) value: its value, or objective ``column`` of its values."""
    if column is None:
        return lambda t: t.value
    return lambda t: t.value[column]


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
    objective: int | None = None,
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
        objective: of a state of several objectives, the index of the one whose GP is drawn
            (required there: each objective has its own); the other parameters are then held at
            the Pareto front's trial best on it.

    Raises:
        StateError: several objectives and no ``objective``, or no model to draw yet.
        ConfigError: unknown parameters, ``objective`` out of range, or a loop without a model.
    """
    space = state.space
    params = tuple(params)
    column = _surrogate_objective(state, objective)
    if len(params) not in (1, 2) or any(p not in space.names for p in params):
        raise ConfigError(
            f"params must be one or two names of the space {list(space.names)}, got {params!r}."
        )
    _check_model_based(loop, state)
    if column is None:
        best = state.best()
    else:  # the front's trial best on this objective
        best = min(state.pareto_front(), key=lambda t: (t.value[column], t.id), default=None)  # type: ignore[index]
    anchor = space.encode(best.params if best is not None else state.completed[0].params)
    done = state.completed
    fig, ax = _axes(ax)
    if len(params) == 1:
        _surrogate_1d(ax, loop, state, params[0], anchor, n_grid, column)
    else:
        _surrogate_2d(fig, ax, loop, state, params, anchor, n_grid, column)
    what = "surrogate" if column is None else f"surrogate of objective {column}"
    ax.set_title(f"{loop.name} {what} after {len(done)} completed trials")
    return fig


def _surrogate_objective(state: State, objective: Any) -> int | None:
    """The column of the objective plot_surrogate draws (None: the state's one objective)."""
    m = state.n_objectives
    if objective is None:
        if m > 1:
            raise StateError(
                f"plot_surrogate draws one objective's GP; this state has {m}: choose one with "
                f"objective=0..{m - 1}, or draw the front with plot_pareto_front(state)."
            )
        return None
    valid = isinstance(objective, (int, np.integer)) and not isinstance(objective, bool)
    if not valid or not 0 <= objective < m:
        raise ConfigError(
            f"objective must be an index of the state's {m} objectives (0..{m - 1}), got {objective!r}."
        )
    return None if m == 1 else int(objective)


def _surrogate_1d(ax, loop, state, name, anchor, n_grid, column=None) -> None:
    space, done = state.space, state.completed
    i = space.names.index(name)
    param = space[name]
    u = _grid(param, n_grid)
    X = np.tile(anchor, (len(u), 1))
    X[:, i] = u
    median, lower, upper = _predict(loop, state, X, column)
    value = _value_of(column)
    if isinstance(param, Categorical):
        ticks = np.arange(len(param.choices))
        yerr = np.vstack([median - lower, upper - median])
        ax.errorbar(ticks, median, yerr=yerr, fmt="o-", capsize=4, label="GP median, ± 2σ band")
        ax.set_xticks(ticks, [str(c) for c in param.choices])
        _scatter_trials(ax, done, lambda t: param.index(t.params[name]), value)
    else:
        x = np.array([space.decode(row)[name] for row in X], dtype=float)
        (line,) = ax.plot(x, median, label="GP median")
        ax.fill_between(x, lower, upper, color=line.get_color(), alpha=0.2, label="± 2σ band")
        _scatter_trials(ax, done, lambda t: t.params[name], value)
        if param.log:
            ax.set_xscale("log")
    ax.set_xlabel(name)
    ax.set_ylabel("objective" if column is None else f"objective {column}")
    ax.legend()


def _surrogate_2d(fig, ax, loop, state, params, anchor, n_grid, column=None) -> None:
    space, done = state.space, state.completed
    for name in params:
        if isinstance(space[name], Categorical):
            raise ConfigError(f"a 2-d surrogate plot needs real or integer parameters; {name!r} is not.")
    i, j = (space.names.index(p) for p in params)
    ui, uj = _grid(space[params[0]], n_grid), _grid(space[params[1]], n_grid)
    G1, G2 = np.meshgrid(ui, uj, indexing="ij")
    X = np.tile(anchor, (G1.size, 1))
    X[:, i], X[:, j] = G1.reshape(-1), G2.reshape(-1)
    median, _, _ = _predict(loop, state, X, column)
    decoded = [space.decode(row) for row in X]
    x = np.array([d[params[0]] for d in decoded], dtype=float).reshape(G1.shape)
    y = np.array([d[params[1]] for d in decoded], dtype=float).reshape(G1.shape)
    contour = ax.contourf(x, y, median.reshape(G1.shape), levels=20, cmap="viridis")
    fig.colorbar(
        contour,
        ax=ax,
        label="GP median of the objective" if column is None else f"GP median of objective {column}",
    )
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

    With several objectives the last axes are the objectives, one each (each spans its own
    range, low at the bottom), and the lines are coloured by the Pareto front instead of a
    value: the front's trials in red, drawn last, the other feasible trials in blue.

    Args:
        state: a state with at least one completed trial.
        params: the parameters to show, in order (default: all of the space).
        ax: draw into these axes instead of a new figure.
        cmap: a matplotlib colormap name; reversed viridis makes low (good) values bright (one
            objective only).
    """
    space = state.space
    names = list(space.names if params is None else params)
    unknown = [n for n in names if n not in space.names]
    if unknown:
        raise ConfigError(f"unknown parameters {unknown}; the space has {list(space.names)}.")
    if not state.completed:
        raise StateError("no completed trial to plot.")
    if state.n_objectives > 1:
        return _parallel_coordinates_of_a_front(state, names, ax)
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


def _parallel_coordinates_of_a_front(state: State, names: Sequence[str], ax: Axes | None) -> Figure:
    space, m = state.space, state.n_objectives
    on_front = {t.id for t in state.pareto_front()}
    # infeasible first, then the feasible trials off the front, then the front on top
    done = sorted(state.completed, key=lambda t: (bool(t.feasible), t.id in on_front, t.id))
    V = _matrix(done, m)
    lo, hi = V.min(0), V.max(0)
    scaled = np.where(hi > lo, (V - lo) / np.where(hi > lo, hi - lo, 1.0), 0.5)
    columns = [[space[n].encode(t.params[n]) for t in done] for n in names]
    Y = np.column_stack([*columns, scaled])
    fig, ax = _axes(ax, figsize=(1.6 * (len(names) + m) + 1.5, 4.0))
    xs = list(range(len(names) + m))
    for row, trial in zip(Y, done, strict=True):
        if not trial.feasible:
            ax.plot(xs, row, color=INFEASIBLE_COLOR, alpha=0.6, linewidth=1.0, linestyle="--")
        elif trial.id in on_front:
            ax.plot(xs, row, color=FRONT_COLOR, alpha=0.9, linewidth=1.6)
        else:
            ax.plot(xs, row, color="C0", alpha=0.35, linewidth=1.0)
    for x in xs:
        ax.axvline(x, color="0.6", linewidth=0.8)
    ends = [_ends(space[n]) for n in names] + [(f"{a:.4g}", f"{b:.4g}") for a, b in zip(lo, hi, strict=True)]
    for x, (low, high) in enumerate(ends):
        ax.annotate(low, (x, 0.0), xytext=(2, -12), textcoords="offset points", fontsize=8)
        ax.annotate(high, (x, 1.0), xytext=(2, 4), textcoords="offset points", fontsize=8)
    ax.set_xticks(xs, [*names, *(f"objective {j}" for j in range(m))])
    ax.set_yticks([])
    ax.set_ylim(-0.08, 1.08)
    n_front, n_infeasible = len(on_front), sum(not t.feasible for t in done)
    handles = [
        Line2D([], [], color=FRONT_COLOR, linewidth=1.6, label=f"Pareto front ({n_front})"),
        Line2D([], [], color="C0", alpha=0.35, label=f"other trials ({len(done) - n_front - n_infeasible})"),
    ]
    if n_infeasible:
        handles.append(
            Line2D([], [], color=INFEASIBLE_COLOR, linestyle="--", label=f"infeasible ({n_infeasible})")
        )
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set_title(f"{len(done)} completed trials, {n_front} on the Pareto front")
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


# --- several objectives ------------------------------------------------------------------------


def plot_pareto_front(
    state: State,
    objectives: Sequence[int] | None = None,
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    maximize: Sequence[bool] | None = None,
    title: str | None = None,
) -> Figure:
    """The completed trials in objective space, the Pareto front highlighted.

    Draws the feasible trials off the front as points, the infeasible ones as grey crosses (a
    constrained run), and the front (:meth:`State.pareto_front`: completed, feasible,
    non-dominated) as larger red points; with two objectives also the front's staircase (the
    boundary of the region it dominates) and, when the state has a reference point, that point
    (a black star) and the dominated region up to it shaded: its area is ``state.hypervolume()``.

    Args:
        state: a state of two or more objectives.
        objectives: the indices of the two or three objectives to draw (three: 3-d axes).
            Default: all of them, for a state of two or three objectives. Of a state with more,
            two or three drawn are a projection: the front highlighted is the front in every
            objective (so its points may overlap others), and no staircase is drawn.
        ax: draw into these axes instead of a new figure (3-d axes for three objectives:
            ``fig.add_subplot(projection="3d")``).
        labels: a name per objective of the state (default ``objective 0``, ...).
        maximize: per objective of the state, whether its values are negated maximized ones
            (a maximized Optuna direction, a scikit-learn score): drawn negated back, in the
            user's units, and labelled "(maximized)". The front and the region are the same.
        title: the axes' title (default: how many trials are on the front, and the hypervolume).

    Raises:
        StateError: a state of one objective.
        ConfigError: objectives, labels or maximize that do not fit the state, or 2-d axes for
            three objectives.
    """
    m = state.n_objectives
    if m < 2:
        raise StateError(
            "plot_pareto_front draws several objectives; this state has one: plot_convergence(state) "
            "draws its best value."
        )
    chosen = _chosen_objectives(objectives, m)
    signs = np.ones(m)
    if maximize is not None:
        flags = list(maximize)
        if len(flags) != m or not all(isinstance(f, (bool, np.bool_)) for f in flags):
            raise ConfigError(f"maximize must be {m} booleans, one per objective, got {maximize!r:.200}.")
        signs = np.where(flags, -1.0, 1.0)
    names = [f"objective {j}" for j in range(m)] if labels is None else [str(n) for n in labels]
    if len(names) != m:
        raise ConfigError(f"labels must name the {m} objectives, got {len(names)}: {names}.")
    names = [f"{n} (maximized)" if sign < 0 else n for n, sign in zip(names, signs, strict=True)]
    fig, draw = _axes_for(ax, len(chosen))

    def shown(points: np.ndarray) -> list[np.ndarray]:
        """Minimized values (``k x m``) as the coordinates drawn: one array per chosen axis."""
        return [signs[j] * points[:, j] for j in chosen]

    done = state.completed
    front = state.pareto_front()
    on_front = {t.id for t in front}
    rest = [t for t in done if t.feasible and t.id not in on_front]
    broken = [t for t in done if not t.feasible]
    constrained = state.problem.constrained
    if rest:
        label = "feasible trials" if constrained else "trials"
        draw.scatter(*shown(_matrix(rest, m)), color="C0", s=16, alpha=0.6, zorder=2, label=label)
    if broken:
        draw.scatter(
            *shown(_matrix(broken, m)),
            color=INFEASIBLE_COLOR,
            marker=INFEASIBLE_MARKER,
            s=18,
            zorder=2,
            label="infeasible trials",
        )
    ref = state.ref_point
    if front:
        Y = _matrix(front, m)
        if m == 2 and len(chosen) == 2:
            _staircase(
                draw,
                Y[:, list(chosen)],
                None if ref is None else np.asarray(ref)[list(chosen)],
                signs[list(chosen)],
            )
        draw.scatter(
            *shown(Y),
            color=FRONT_COLOR,
            edgecolor="k",
            linewidth=0.5,
            s=40,
            zorder=4,
            label=f"Pareto front ({len(front)})",
        )
    if ref is not None:
        point = np.asarray(ref, dtype=float)[None, :]
        draw.scatter(*shown(point), color="k", marker="*", s=90, zorder=5, label="reference point")
    draw.set_xlabel(names[chosen[0]])
    draw.set_ylabel(names[chosen[1]])
    if len(chosen) == 3:
        draw.set_zlabel(names[chosen[2]])
    if title is None:
        title = f"Pareto front: {len(front)} of {len(done)} completed trials"
        if constrained:
            title += f", {len(broken)} infeasible"
        if ref is not None:
            title += f"\nhypervolume {state.hypervolume():.4g}"
    draw.set_title(title)
    if done or ref is not None:
        draw.legend(fontsize=8)
    return fig


def _chosen_objectives(objectives: Sequence[int] | None, m: int) -> tuple[int, ...]:
    if objectives is None:
        if m > 3:
            raise ConfigError(
                f"this state has {m} objectives; choose two or three to draw, objectives=(0, 1)."
            )
        return tuple(range(m))
    chosen = tuple(objectives)
    valid = all(isinstance(j, (int, np.integer)) and not isinstance(j, bool) and 0 <= j < m for j in chosen)
    if len(chosen) not in (2, 3) or not valid or len(set(chosen)) != len(chosen):
        raise ConfigError(
            f"objectives must be two or three distinct indices of the state's {m} objectives "
            f"(0..{m - 1}), got {objectives!r}."
        )
    return tuple(int(j) for j in chosen)


def _axes_for(ax: Axes | None, dims: int) -> tuple[Figure, Any]:
    if dims == 2:
        return _axes(ax)
    if ax is None:
        fig = Figure(layout="constrained")
        return fig, fig.add_subplot(projection="3d")
    if not hasattr(ax, "zaxis"):
        raise ConfigError("three objectives need 3-d axes: ax=fig.add_subplot(projection='3d').")
    return ax.figure, ax  # type: ignore[return-value]


def _matrix(trials: Sequence[Any], m: int) -> np.ndarray:
    return np.asarray([t.value for t in trials], dtype=float).reshape(len(trials), m)


def _staircase(ax: Axes, Y: np.ndarray, ref: np.ndarray | None, signs: np.ndarray) -> None:
    """The boundary of the region a 2-d front ``Y`` (``k x 2``, minimized) dominates, and with a
    reference point that region up to it, shaded (drawn with ``signs``: -1 for a maximized axis)."""
    Y = Y[np.lexsort((Y[:, 1], Y[:, 0]))]  # by the first objective; the second then falls
    corners = [Y[0]]
    for prev, point in zip(Y[:-1], Y[1:], strict=True):
        corners += [np.array([point[0], prev[1]]), point]
    line = np.array(corners) * signs
    ax.plot(line[:, 0], line[:, 1], color=FRONT_COLOR, linewidth=1.0, alpha=0.8, zorder=3)
    if ref is None:
        return
    inside = Y[(ref > Y).all(1)]
    if not len(inside):
        return
    region = [np.array([inside[0, 0], ref[1]]), inside[0]]
    for prev, point in zip(inside[:-1], inside[1:], strict=True):
        region += [np.array([point[0], prev[1]]), point]
    region += [np.array([ref[0], inside[-1, 1]]), ref]
    polygon = np.array(region) * signs
    ax.fill(
        polygon[:, 0], polygon[:, 1], color=FRONT_COLOR, alpha=0.12, linewidth=0, label="dominated region"
    )


def _hypervolume_curve(run: Run, ref_point: Sequence[float] | None) -> np.ndarray:
    state = _state_of(run)
    if state is None:  # a history: one hypervolume per trial
        return np.asarray([math.nan if v is None else float(v) for v in run], dtype=float)
    if state.n_objectives < 2:
        raise StateError("plot_hypervolume draws multi-objective runs; this state has one objective.")
    return np.asarray(state.hypervolume_history(ref_point), dtype=float)


def _common_reference(groups: Mapping[str, list[Run]]) -> None:
    """Refuse states whose stored reference points differ: their hypervolumes are not comparable."""
    points = {
        state.ref_point
        for group in groups.values()
        for run in group
        if (state := _state_of(run)) is not None and state.ref_point is not None
    }
    if len(points) > 1:
        shown = ", ".join(str(list(p)) for p in sorted(points)[:3])
        raise ConfigError(
            f"the states have {len(points)} different reference points ({shown}, ...: inferred per "
            "run); their hypervolumes are not comparable: pass one ref_point=[...] for all of them."
        )


def plot_hypervolume(
    runs: Any,
    *,
    ax: Axes | None = None,
    ref_point: Sequence[float] | None = None,
    max_hv: float | None = None,
    log: bool | None = None,
    title: str | None = None,
) -> Figure:
    """The hypervolume of the feasible trials so far against the number of trials.

    Args:
        runs: one run, a list of runs (several seeds: their median and interquartile band), or a
            dict ``{method: run or list of runs}`` (one line and band per method), as for
            :func:`plot_convergence`. A run is a multi-objective :class:`~asktell.State` (or a
            Result), whose :meth:`~asktell.State.hypervolume_history` is drawn, or a history: a
            list of hypervolumes, one per trial.
        ax: draw into these axes instead of a new figure.
        ref_point: the reference point of every state's hypervolumes (minimized, one number per
            objective). Default: each state's own; states whose own points differ (inferred per
            run) are refused, as their hypervolumes are not comparable.
        max_hv: the largest hypervolume there is (a benchmark's ``max_hv``): then the gap
            ``max_hv - hypervolume`` is drawn, on a log scale by default.
        log: a logarithmic value axis (default: when ``max_hv`` is given).
        title: the axes' title.

    Raises:
        StateError: a state without a reference point (and no ``ref_point``), or of one objective.
        ConfigError: states with different reference points and no ``ref_point``.
    """
    groups = _group(runs)
    if ref_point is None:
        _common_reference(groups)
    fig, ax = _axes(ax)
    for label, group in groups.items():
        curves = [_hypervolume_curve(r, ref_point) for r in group]
        if not curves or min(len(c) for c in curves) == 0:
            continue
        if max_hv is not None:
            curves = [max_hv - c for c in curves]
        med, q25, q75 = _median_band(curves)
        steps = np.arange(1, len(med) + 1)
        name = label or None
        if len(curves) > 1:
            name = f"{label} (median of {len(curves)})" if label else f"median of {len(curves)}"
        (line,) = ax.plot(steps, med, label=name, drawstyle="steps-post")
        if len(curves) > 1:
            ax.fill_between(steps, q25, q75, color=line.get_color(), alpha=0.2, step="post")
    ax.set_xlabel("trials")
    ax.set_ylabel("hypervolume gap to the maximum" if max_hv is not None else "hypervolume")
    if log if log is not None else max_hv is not None:
        ax.set_yscale("log")
    if any(not str(line.get_label()).startswith("_") for line in ax.get_lines()):
        ax.legend()
    if title:
        ax.set_title(title)
    return fig


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
    "FRONT_COLOR",
    "INFEASIBLE_COLOR",
    "best_so_far",
    "plot_constraints",
    "plot_convergence",
    "plot_federated",
    "plot_hypervolume",
    "plot_parallel_coordinates",
    "plot_pareto_front",
    "plot_surrogate",
]
