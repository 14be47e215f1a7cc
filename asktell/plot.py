"""Plots of runs: convergence, the surrogate, the trials in parallel coordinates, federated runs.

Every function returns a :class:`matplotlib.figure.Figure` and draws into ``ax`` when one is given
(so plots compose with ``plt.subplots``); without ``ax`` it builds a new figure without touching
pyplot's global state. Needs matplotlib (``pip install "asktell[integrations]"``).

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

from asktell.errors import ConfigError, StateError
from asktell.loops.trajectory import modelling_obstacle
from asktell.space import Categorical, Integer, Real
from asktell.state import State

Run = Any  # a State, a Result (has .state) or a sequence of values (None for a failed trial)


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


def _values(run: Run) -> list[float | None]:
    """The run's values in trial order; None for trials without a (single) value."""
    state = _state_of(run)
    if state is None:
        return [None if v is None else float(v) for v in run]
    out: list[float | None] = []
    for trial in state.trials:
        if isinstance(trial.value, tuple):
            raise StateError(
                f"plot_convergence draws one objective; trial {trial.id} has {len(trial.value)} values."
            )
        out.append(trial.value if trial.status == "completed" else None)
    return out


def best_so_far(run: Run) -> np.ndarray:
    """The best value after each trial (``nan`` before the first completed one): ``n`` floats."""
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

    Returns:
        The figure: per label one line (the median), and a shaded band where there are several runs.
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
    ax.set_xlabel("trials")
    ax.set_ylabel("best value so far")
    if log:
        ax.set_yscale("log")
    if any(not str(line.get_label()).startswith("_") for line in ax.get_lines()):
        ax.legend()
    if title:
        ax.set_title(title)
    return fig


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
    observed = [t.params[name] for t in done]
    values = [t.value for t in done]
    if isinstance(param, Categorical):
        ticks = np.arange(len(param.choices))
        yerr = np.vstack([median - lower, upper - median])
        ax.errorbar(ticks, median, yerr=yerr, fmt="o-", capsize=4, label="GP median, ± 2σ band")
        ax.set_xticks(ticks, [str(c) for c in param.choices])
        ax.scatter([param.index(v) for v in observed], values, color="k", zorder=3, label="trials")
    else:
        x = np.array([space.decode(row)[name] for row in X], dtype=float)
        (line,) = ax.plot(x, median, label="GP median")
        ax.fill_between(x, lower, upper, color=line.get_color(), alpha=0.2, label="± 2σ band")
        ax.scatter(observed, values, color="k", zorder=3, label="trials")
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
    ax.scatter(
        [t.params[params[0]] for t in done],
        [t.params[params[1]] for t in done],
        color="w",
        edgecolor="k",
        zorder=3,
        label="trials",
    )
    for axis, name in zip(("x", "y"), params, strict=True):
        param = space[name]
        if isinstance(param, (Real, Integer)) and param.log:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_xlabel(params[0])
    ax.set_ylabel(params[1])
    ax.legend(loc="upper right")


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
    objective. Good trials (low values) are drawn last, on top.

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
    done = sorted(state.completed, key=lambda t: -t.value)  # type: ignore[operator]  # best last
    values = np.array([t.value for t in done], dtype=float)
    lo, hi = float(values.min()), float(values.max())
    scaled_values = (values - lo) / (hi - lo) if hi > lo else np.full_like(values, 0.5)
    columns = [[space[n].encode(t.params[n]) for t in done] for n in names]
    Y = np.column_stack([*columns, scaled_values])
    fig, ax = _axes(ax, figsize=(1.6 * (len(names) + 1) + 1.5, 4.0))
    colormap = matplotlib.colormaps[cmap]
    xs = list(range(len(names) + 1))
    for row, scaled in zip(Y, scaled_values, strict=True):
        ax.plot(xs, row, color=colormap(scaled), alpha=0.8, linewidth=1.2)
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
    ax.set_title(f"{len(done)} completed trials")
    return fig


def _ends(param: Any) -> tuple[str, str]:
    if isinstance(param, Categorical):
        return str(param.choices[0]), str(param.choices[-1])
    return f"{param.low:.4g}", f"{param.high:.4g}"


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
    "best_so_far",
    "plot_convergence",
    "plot_federated",
    "plot_parallel_coordinates",
    "plot_surrogate",
]
