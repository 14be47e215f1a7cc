"""asktell.plot with several objectives: the Pareto front (2-d, 3-d, constrained, maximized axes),
hypervolume curves per method, one objective's surrogate, parallel coordinates of the objectives,
and plot_convergence refusing such states clearly."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from asktell import Real, Space
from asktell.errors import ConfigError, StateError
from asktell.loops import BayesOpt, Sobol
from asktell.plot import (
    FRONT_COLOR,
    INFEASIBLE_COLOR,
    best_so_far,
    plot_convergence,
    plot_hypervolume,
    plot_parallel_coordinates,
    plot_pareto_front,
    plot_surrogate,
)

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})
GREY = to_rgba(INFEASIBLE_COLOR)
FAST_BO = BayesOpt(n_init=4, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)


def told(values, constraints=None, ref_point=None):
    """A Sobol state told these values (None: a failed trial), with outcome c (c <= 0.5)."""
    loop = Sobol()
    m = len(next(v for v in values if v is not None))
    state = loop.init(
        SPACE, seed=0, n_objectives=m, ref_point=ref_point, constraints=["c <= 0.5"] if constraints else None
    )
    for i, value in enumerate(values):
        state, (trial,) = loop.ask(state)
        if value is None:
            state = loop.tell(state, trial.id, None, status="failed")
        else:
            outcomes = {"c": constraints[i]} if constraints else None
            state = loop.tell(state, trial.id, list(value), constraints=outcomes)
    return state


def render(fig: Figure, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000


def scatters(ax):
    return {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}


# values: trials 0, 2, 3 are the front; 1 and 5 are dominated; 4 failed
VALUES = [(1.0, 4.0), (3.0, 3.5), (2.0, 2.0), (4.0, 1.0), None, (4.0, 4.0)]


def test_a_two_objective_front_with_its_staircase_and_region(tmp_path):
    state = told(VALUES, ref_point=[5.0, 5.0])
    fig = plot_pareto_front(state)
    ax = fig.axes[0]
    points = scatters(ax)
    assert set(points) == {"trials", "Pareto front (3)", "reference point"}
    np.testing.assert_array_equal(points["Pareto front (3)"].get_offsets(), [[1, 4], [2, 2], [4, 1]])
    np.testing.assert_array_equal(points["trials"].get_offsets(), [[3, 3.5], [4, 4]])
    np.testing.assert_array_equal(points["reference point"].get_offsets(), [[5, 5]])
    assert to_rgba(points["Pareto front (3)"].get_facecolor()[0]) == to_rgba(FRONT_COLOR)
    # the staircase: each front point, then across to the next one's first objective
    (stairs,) = ax.get_lines()
    np.testing.assert_array_equal(stairs.get_xydata(), [[1, 4], [2, 4], [2, 2], [4, 2], [4, 1]])
    # the region up to the reference point: its area is the state's hypervolume
    (region,) = ax.patches
    x, y = region.get_xy().T
    area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))  # shoelace, exact here
    assert area == pytest.approx(state.hypervolume(), rel=1e-12) and state.hypervolume() == 1 + 6 + 4
    assert ax.get_title() == "Pareto front: 3 of 5 completed trials\nhypervolume 11"
    assert [ax.get_xlabel(), ax.get_ylabel()] == ["objective 0", "objective 1"]
    render(fig, tmp_path, "pareto_2d")


def test_a_constrained_front_marks_the_infeasible_trials():
    # trial 0 has the best first objective but breaks c <= 0.5: the front is of feasible trials only
    # (trial 2 dominates trial 1, which is feasible)
    state = told(VALUES, constraints=[0.9, 0.1, 0.1, 0.2, None, 0.7])
    fig = plot_pareto_front(state)
    ax = fig.axes[0]
    points = scatters(ax)
    assert set(points) == {"feasible trials", "infeasible trials", "Pareto front (2)", "reference point"}
    np.testing.assert_array_equal(points["infeasible trials"].get_offsets(), [[1, 4], [4, 4]])
    assert tuple(points["infeasible trials"].get_facecolor()[0]) == GREY
    np.testing.assert_array_equal(points["Pareto front (2)"].get_offsets(), [[2, 2], [4, 1]])
    np.testing.assert_array_equal(points["feasible trials"].get_offsets(), [[3, 3.5]])
    assert [t.id for t in state.pareto_front()] == [2, 3]
    # the fifth completed trial inferred the reference point from the feasible values: their front
    # is (2, 2), (4, 1), so the nadir (4, 2) plus a tenth of the range (2, 1)
    assert state.ref_point == pytest.approx((4.2, 2.1), rel=1e-12)
    title = f"Pareto front: 2 of 5 completed trials, 2 infeasible\nhypervolume {state.hypervolume():.4g}"
    assert ax.get_title() == title
    (region,) = ax.patches  # of the feasible front only
    assert region.get_xy()[:, 0].min() == 2.0


def test_maximized_objectives_are_drawn_back_in_the_users_units():
    state = told(VALUES, ref_point=[5.0, 5.0])
    fig = plot_pareto_front(state, labels=["latency", "accuracy"], maximize=[False, True])
    ax = fig.axes[0]
    points = scatters(ax)
    np.testing.assert_array_equal(points["Pareto front (3)"].get_offsets(), [[1, -4], [2, -2], [4, -1]])
    np.testing.assert_array_equal(points["reference point"].get_offsets(), [[5, -5]])
    assert [ax.get_xlabel(), ax.get_ylabel()] == ["latency", "accuracy (maximized)"]
    (region,) = ax.patches
    assert region.get_xy()[:, 1].max() <= -1.0  # the region lies below the front, upside down


def test_three_objectives_in_3d_and_two_of_them_projected(tmp_path):
    values = [(0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0), (1.0, 1.0, 1.0), (0.5, 0.5, 0.5)]
    state = told(values, ref_point=[2.0, 2.0, 2.0])
    fig = plot_pareto_front(state)
    ax = fig.axes[0]
    assert ax.name == "3d" and ax.get_zlabel() == "objective 2"
    points = scatters(ax)
    xs, ys, zs = points["Pareto front (4)"]._offsets3d
    assert sorted(zip(xs, ys, zs, strict=True)) == sorted([values[i] for i in (0, 1, 2, 4)])
    render(fig, tmp_path, "pareto_3d")
    # two of the three: the full front highlighted, no staircase (a projection is no 2-d front)
    flat = plot_pareto_front(state, (0, 2)).axes[0]
    np.testing.assert_array_equal(
        scatters(flat)["Pareto front (4)"].get_offsets(), [[0, 1], [1, 1], [1, 0], [0.5, 0.5]]
    )
    assert not flat.get_lines() and not flat.patches
    # into given axes: 3-d ones for three objectives
    target = Figure().add_subplot(projection="3d")
    assert plot_pareto_front(state, ax=target) is target.figure
    with pytest.raises(ConfigError, match="three objectives need 3-d axes"):
        plot_pareto_front(state, ax=Figure().subplots())


def test_pareto_front_refuses_what_it_cannot_draw():
    state = told(VALUES)
    with pytest.raises(ConfigError, match="two or three distinct indices"):
        plot_pareto_front(state, (0, 0))
    with pytest.raises(ConfigError, match="two or three distinct indices"):
        plot_pareto_front(state, (0, 2))
    with pytest.raises(ConfigError, match="labels must name the 2 objectives"):
        plot_pareto_front(state, labels=["a"])
    with pytest.raises(ConfigError, match="maximize must be 2 booleans"):
        plot_pareto_front(state, maximize=[True])
    four = told([(1.0, 2.0, 3.0, 4.0)])
    with pytest.raises(ConfigError, match="choose two or three"):
        plot_pareto_front(four)
    one = Sobol().init(SPACE, seed=0)
    with pytest.raises(StateError, match="this state has one"):
        plot_pareto_front(one)


# --- hypervolume curves --------------------------------------------------------------------------
def _run(seed, n=8):
    loop = Sobol()
    state = loop.init(SPACE, seed=seed, n_objectives=2, ref_point=[1.5, 1.5])
    for _ in range(n):
        state, (trial,) = loop.ask(state)
        x, y = trial.params["x"], trial.params["y"]
        state = loop.tell(state, trial.id, [x, 1.0 - x * y])
    return state


def test_hypervolume_of_several_methods_and_seeds(tmp_path):
    runs = {"Sobol": [_run(s) for s in range(3)], "by hand": [0.0, 0.5, None, 1.0]}
    fig = plot_hypervolume(runs, title="hv")
    ax = fig.axes[0]
    sobol, by_hand = ax.get_lines()
    assert [sobol.get_label(), by_hand.get_label()] == ["Sobol (median of 3)", "by hand"]
    curves = np.vstack([s.hypervolume_history() for s in runs["Sobol"]])
    np.testing.assert_allclose(sobol.get_ydata(), np.median(curves, axis=0))
    assert np.all(np.diff(sobol.get_ydata()) >= 0)  # a hypervolume never falls
    band = [c for c in ax.collections if not isinstance(c, PathCollection)]
    assert len(band) == 1  # the interquartile band of the seeds only
    np.testing.assert_array_equal(by_hand.get_ydata(), [0.0, 0.5, np.nan, 1.0])
    assert ax.get_ylabel() == "hypervolume" and ax.get_yscale() == "linear"
    render(fig, tmp_path, "hypervolume")


def test_hypervolume_gap_to_the_maximum_on_a_log_scale():
    runs = [_run(s) for s in range(2)]
    ax = plot_hypervolume({"Sobol": runs}, max_hv=2.25).axes[0]
    curves = 2.25 - np.vstack([s.hypervolume_history() for s in runs])
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), np.median(curves, axis=0))
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "hypervolume gap to the maximum"


def test_hypervolume_needs_one_reference_point_for_all_states():
    inferred = []  # two seeds: each infers its own reference point from its own first trials
    for seed in range(2):
        loop = Sobol()
        state = loop.init(SPACE, seed=seed, n_objectives=2)
        for _ in range(6):
            state, (trial,) = loop.ask(state)
            state = loop.tell(state, trial.id, [trial.params["x"], trial.params["y"]])
        inferred.append(state)
    assert inferred[0].ref_point != inferred[1].ref_point
    with pytest.raises(ConfigError, match="different reference points"):
        plot_hypervolume({"Sobol": inferred})
    line = plot_hypervolume({"Sobol": inferred}, ref_point=[2.0, 2.0]).axes[0].get_lines()[0]
    histories = [s.hypervolume_history([2.0, 2.0]) for s in inferred]
    np.testing.assert_allclose(line.get_ydata(), np.median(histories, axis=0))
    early = Sobol().init(SPACE, seed=0, n_objectives=2)
    with pytest.raises(StateError, match="no reference point yet"):
        plot_hypervolume(early)


# --- the plots of one objective ------------------------------------------------------------------
def test_plots_of_one_objective_refuse_several_clearly():
    state = told(VALUES, ref_point=[5.0, 5.0])
    for plot in (plot_convergence, best_so_far):
        with pytest.raises(StateError, match=r"draws one objective; this state has 2: .*plot_pareto_front"):
            plot(state)
    with pytest.raises(StateError, match=r"plot_surrogate draws one objective's GP; .*objective=0..1"):
        plot_surrogate(FAST_BO, state, ("x",))
    with pytest.raises(ConfigError, match="objective must be an index of the state's 2 objectives"):
        plot_surrogate(FAST_BO, state, ("x",), objective=2)


def test_surrogate_of_one_objective_of_several(tmp_path):
    loop = FAST_BO
    state = loop.init(SPACE, seed=0, n_objectives=2)
    for _ in range(6):
        state, (trial,) = loop.ask(state)
        x, y = trial.params["x"], trial.params["y"]
        state = loop.tell(state, trial.id, [(x - 0.3) ** 2 + y, 1.0 - x + 0.1 * y])
    fig = plot_surrogate(loop, state, ("x",), objective=1)
    ax = fig.axes[0]
    (median,) = ax.get_lines()
    # the line is column 1 of the loop's own prediction along x, the others at the front's trial
    # best on objective 1
    anchor = min(state.pareto_front(), key=lambda t: t.value[1])
    xs = median.get_xdata()
    points = [{"x": float(x), "y": anchor.params["y"]} for x in xs]
    expected = np.asarray(loop.predict(state, points).median, dtype=float)[:, 1]
    np.testing.assert_allclose(median.get_ydata(), expected, rtol=1e-6, atol=1e-9)
    (trials,) = scatters(ax).values()
    np.testing.assert_array_equal(
        trials.get_offsets(), [[t.params["x"], t.value[1]] for t in state.completed]
    )
    assert ax.get_ylabel() == "objective 1" and "surrogate of objective 1" in ax.get_title()
    render(fig, tmp_path, "surrogate_multiobjective")


def test_parallel_coordinates_of_several_objectives_colour_the_front(tmp_path):
    state = told(VALUES, constraints=[0.9, 0.1, 0.1, 0.2, None, 0.7])
    fig = plot_parallel_coordinates(state)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y", "objective 0", "objective 1"]
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
    assert len(lines) == 5
    colors = [to_rgba(line.get_color()) for line in lines]
    # infeasible (dashed grey) first, then trial 1 (blue), the front (red, trials 2, 3) last, on top
    assert colors[:2] == [GREY, GREY] and all(line.get_linestyle() == "--" for line in lines[:2])
    assert colors[2] == to_rgba("C0") and colors[3:] == [to_rgba(FRONT_COLOR)] * 2
    # each objective on its own range: trial 3 has the largest first and the smallest second
    np.testing.assert_allclose(lines[-1].get_ydata()[2:], [1.0, 0.0])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Pareto front (2)", "other trials (1)", "infeasible (2)"]
    render(fig, tmp_path, "parallel_multiobjective")
