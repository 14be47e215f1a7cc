"""asktell.plot: every plot renders to a PNG and draws the lines and collections it promises."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import FillBetweenPolyCollection, PathCollection, PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from asktell import Categorical, Integer, Real, Space, minimize
from asktell.errors import ConfigError, StateError
from asktell.loops import BayesOpt, Sobol
from asktell.plot import (
    INFEASIBLE_COLOR,
    best_so_far,
    plot_constraints,
    plot_convergence,
    plot_federated,
    plot_parallel_coordinates,
    plot_surrogate,
)

PNG = b"\x89PNG\r\n\x1a\n"
SPACE = Space({"x": Real(-2.0, 2.0), "lr": Real(1e-3, 1.0, log=True), "k": Integer(1, 4)})
FAST_BO = BayesOpt(n_init=4, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)


def f(p):
    return (p["x"] - 0.5) ** 2 + (np.log10(p["lr"]) + 2) ** 2 + 0.1 * p["k"]


@pytest.fixture(scope="module")
def bo_run():
    return minimize(f, SPACE, loop=FAST_BO, budget=7, seed=0)


def render(fig: Figure, tmp_path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000


def bands(ax):
    return [c for c in ax.collections if isinstance(c, (FillBetweenPolyCollection, PolyCollection))]


def test_best_so_far_carries_the_best_over_failures():
    np.testing.assert_array_equal(best_so_far([None, 3.0, None, 5.0, 1.0]), [np.nan, 3, 3, 3, 1])


def test_convergence_of_several_methods_and_seeds(tmp_path):
    runs = {
        "Sobol": [minimize(f, SPACE, loop=Sobol(), budget=6, seed=s) for s in range(3)],
        "one run": [3.0, None, 1.0, 2.0],
    }
    fig = plot_convergence(runs, log=True, title="test")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["Sobol (median of 3)", "one run"]
    assert len(bands(ax)) == 1  # a band only where there are several runs
    np.testing.assert_array_equal(lines[1].get_ydata(), [3, 3, 1, 1])
    curves = np.vstack([best_so_far(r) for r in runs["Sobol"]])
    np.testing.assert_allclose(lines[0].get_ydata(), np.median(curves, axis=0))
    render(fig, tmp_path, "convergence")


def test_surrogate_along_one_parameter(bo_run, tmp_path):
    fig = plot_surrogate(FAST_BO, bo_run.state, params=("lr",))
    ax = fig.axes[0]
    (mean,) = ax.get_lines()
    assert len(mean.get_xdata()) == 100 and ax.get_xscale() == "log"
    assert np.all(np.isfinite(mean.get_ydata()))
    assert len(bands(ax)) == 1
    (trials,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(trials.get_offsets()) == len(bo_run.state.completed)
    render(fig, tmp_path, "surrogate_1d")


def test_surrogate_mean_is_close_to_the_data_at_the_best_point(bo_run):
    """At the best trial (the slice passes through it) the GP mean is near its observed value."""
    best = bo_run.best
    fig = plot_surrogate(FAST_BO, bo_run.state, params=("k",))
    (mean,) = fig.axes[0].get_lines()
    at_best = mean.get_ydata()[list(mean.get_xdata()).index(best.params["k"])]
    spread = np.ptp([t.value for t in bo_run.state.completed])
    assert abs(at_best - best.value) < 0.5 * spread  # a GP with inferred noise, not interpolation


def test_surrogate_in_two_dimensions_and_with_a_categorical(tmp_path):
    fig = plot_surrogate(FAST_BO, minimize(f, SPACE, loop=FAST_BO, budget=6).state, ("x", "lr"))
    ax = fig.axes[0]
    assert any(isinstance(c, ContourSet) for c in ax.collections)
    assert len(fig.axes) == 2  # the colorbar
    render(fig, tmp_path, "surrogate_2d")
    space = Space({"x": Real(-2.0, 2.0), "c": Categorical(["a", "b", "c"])})
    g = lambda p: p["x"] ** 2 + {"a": 0.0, "b": 1.0, "c": 2.0}[p["c"]]  # noqa: E731
    state = minimize(g, space, loop=FAST_BO, budget=6).state
    fig = plot_surrogate(FAST_BO, state, ("c",))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]
    render(fig, tmp_path, "surrogate_categorical")
    with pytest.raises(ValueError, match="real or integer"):
        plot_surrogate(FAST_BO, state, ("x", "c"))


def test_surrogate_refuses_what_it_cannot_draw(bo_run):
    with pytest.raises(ValueError, match="one or two names"):
        plot_surrogate(FAST_BO, bo_run.state, ("nope",))
    with pytest.raises(ConfigError, match="model-based loop"):
        plot_surrogate(Sobol(), bo_run.state, ("x",))
    early = minimize(f, SPACE, loop=FAST_BO, budget=1).state
    with pytest.raises(StateError, match="no surrogate to plot yet"):
        plot_surrogate(FAST_BO, early, ("x",))


def test_parallel_coordinates(bo_run, tmp_path):
    fig = plot_parallel_coordinates(bo_run.state)
    ax = fig.axes[0]
    n = len(bo_run.state.completed)
    trial_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
    assert len(trial_lines) == n  # x, lr, k, objective
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "lr", "k", "objective"]
    # the best trial is drawn last and sits at the bottom of the objective axis
    assert trial_lines[-1].get_ydata()[-1] == 0.0
    render(fig, tmp_path, "parallel")


def _records(scale, rounds=6, per_round=10):
    return [{"round": r, "queries": per_round * (r + 1), "F": 1.0 + scale / (r + 1)} for r in range(rounds)]


@pytest.mark.parametrize("x", ["round", "queries"])
def test_federated_against_rounds_and_queries(tmp_path, x):
    records = {
        "FZooS": [_records(1.0), _records(2.0), _records(3.0)],
        "FedZO": _records(5.0, per_round=40),
    }
    fig = plot_federated(records, x=x, optimum=1.0)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["FZooS (median of 3)", "FedZO"]
    assert len(bands(ax)) == 1 and ax.get_yscale() == "log"
    fedzo = ax.get_lines()[1]
    expected_x = [r[x] for r in records["FedZO"]]
    np.testing.assert_array_equal(fedzo.get_xdata(), expected_x)
    np.testing.assert_allclose(fedzo.get_ydata(), [5.0 / (r + 1) for r in range(6)])
    render(fig, tmp_path, f"federated_{x}")
    with pytest.raises(ValueError, match="round"):
        plot_federated(records, x="time")


def test_plots_draw_into_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_convergence([1.0, 0.5], ax=left) is fig
    assert plot_federated({"m": _records(1.0)}, ax=right) is fig
    assert left.get_lines() and right.get_lines()


# --- constrained runs ----------------------------------------------------------------------------
GREY = to_rgba(INFEASIBLE_COLOR)


def constrained_run(values, mems, loop=None):
    """A Sobol run told these values, with outcome mem (feasible when mem <= 4) and recall >= 0."""
    loop = loop or Sobol()
    state = loop.init(SPACE, seed=0, constraints=["mem <= 4", "recall >= 0"])
    for value, mem in zip(values, mems, strict=True):
        state, (trial,) = loop.ask(state)
        if value is None:
            state = loop.tell(state, trial.id, None, status="failed")
        else:
            state = loop.tell(state, trial.id, value, constraints={"mem": mem, "recall": 0.5})
    return state


def scatters(ax):
    return {c.get_label(): c for c in ax.collections if isinstance(c, PathCollection)}


def test_best_so_far_counts_feasible_trials_only():
    state = constrained_run([3.0, 1.0, None, 2.0, 0.5, 1.5], [9.0, 5.0, None, 4.0, 6.0, 1.0])
    np.testing.assert_array_equal(best_so_far(state), [np.nan, np.nan, np.nan, 2.0, 2.0, 1.5])


def test_convergence_of_a_constrained_run_draws_infeasible_trials_grey(tmp_path):
    state = constrained_run([3.0, 1.0, None, 2.0, 0.5, 1.5], [9.0, 5.0, None, 4.0, 6.0, 1.0])
    fig = plot_convergence(state)
    ax = fig.axes[0]
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), best_so_far(state))
    points = scatters(ax)
    assert set(points) == {"feasible trials", "infeasible trials"}
    np.testing.assert_array_equal(points["feasible trials"].get_offsets(), [[4, 2.0], [6, 1.5]])
    np.testing.assert_array_equal(points["infeasible trials"].get_offsets(), [[1, 3.0], [2, 1.0], [5, 0.5]])
    assert tuple(points["infeasible trials"].get_facecolor()[0]) == GREY
    assert tuple(points["feasible trials"].get_facecolor()[0][:3]) == to_rgba(line.get_color())[:3]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["feasible trials", "infeasible trials"]
    assert ax.get_ylabel() == "best feasible value so far"
    render(fig, tmp_path, "convergence_constrained")
    # points are drawn for constrained states by default; asked for or refused explicitly
    assert not scatters(plot_convergence(state, trials=False).axes[0])
    unconstrained = minimize(f, SPACE, loop=Sobol(), budget=3, seed=0).state
    assert not scatters(plot_convergence(unconstrained).axes[0])
    (only,) = scatters(plot_convergence({"Sobol": unconstrained}, trials=True).axes[0]).values()
    assert only.get_label() == "Sobol: feasible trials" and len(only.get_offsets()) == 3


def test_parallel_coordinates_of_a_constrained_run_dash_infeasible_trials_underneath(tmp_path):
    state = constrained_run([3.0, 1.0, 2.0, 0.5, 1.5], [9.0, 5.0, 4.0, 6.0, 1.0])
    fig = plot_parallel_coordinates(state)
    ax = fig.axes[0]
    trial_lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 4]
    dashed = [line for line in trial_lines if line.get_linestyle() == "--"]
    assert len(trial_lines) == 5 and len(dashed) == 3
    assert trial_lines[:3] == dashed  # drawn first, under the feasible ones
    assert all(to_rgba(line.get_color()) == GREY for line in dashed)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["infeasible (3)"]
    assert ax.get_title() == "5 completed trials, 3 infeasible"
    # the best feasible trial (1.5) is drawn last
    values = sorted([1.0, 3.0, 2.0, 0.5, 1.5])
    assert trial_lines[-1].get_ydata()[-1] == (1.5 - values[0]) / (values[-1] - values[0])
    render(fig, tmp_path, "parallel_constrained")


def test_plot_constraints_draws_each_outcome_against_its_bound(tmp_path):
    state = constrained_run([3.0, 1.0, None, 2.0, 0.5], [9.0, 5.0, None, 4.0, 3.0])
    fig = plot_constraints(state)
    mem, recall = fig.axes
    assert mem.get_title() == "mem <= 4: kept by 2 of 4 trials"
    assert recall.get_title() == "recall >= 0: kept by 4 of 4 trials"
    points = scatters(mem)
    np.testing.assert_array_equal(points["keeps the bound"].get_offsets(), [[3, 4.0], [4, 3.0]])
    np.testing.assert_array_equal(points["breaks it"].get_offsets(), [[0, 9.0], [1, 5.0]])
    (bound,) = mem.get_lines()
    assert list(bound.get_ydata()) == [4.0, 4.0] and bound.get_linestyle() == "--"
    # the shaded side is the one that breaks the bound: above 4 for mem, below 0 for recall
    (above,) = mem.patches
    assert above.get_y() == 4.0 and above.get_height() > 0
    (below,) = recall.patches
    assert below.get_y() + below.get_height() == 0.0 and below.get_height() > 0
    assert list(scatters(recall)) == ["keeps the bound"]
    render(fig, tmp_path, "constraints")
    # one outcome into given axes
    target = Figure().subplots(1, 1)
    assert plot_constraints(state, ["recall"], axes=[target]) is target.figure
    assert target.get_ylabel() == "recall"


def test_plot_constraints_refuses_what_it_cannot_draw():
    state = constrained_run([1.0], [1.0])
    with pytest.raises(StateError, match="declares none"):
        plot_constraints(minimize(f, SPACE, loop=Sobol(), budget=1).state)
    with pytest.raises(ConfigError, match=r"outcomes of the problem \['mem', 'recall'\]"):
        plot_constraints(state, ["latency"])
    with pytest.raises(ConfigError, match="one axes per outcome"):
        plot_constraints(state, axes=[Figure().subplots(1, 1)])


def test_surrogate_trials_split_by_feasibility():
    """plot_surrogate's trial points, on the helper it draws them with (its constrained path with
    a real model: test_surrogate_of_a_constrained_run, once BayesOpt serves constraints)."""
    from asktell.plot import _scatter_trials

    state = constrained_run([3.0, 1.0, 2.0], [9.0, 1.0, 2.0])
    ax = Figure().subplots(1, 1)
    _scatter_trials(ax, state.completed, lambda t: t.params["x"], lambda t: t.value)
    points = scatters(ax)
    assert len(points["feasible trials"].get_offsets()) == 2
    infeasible = points["infeasible trials"]
    assert len(infeasible.get_offsets()) == 1 and tuple(infeasible.get_facecolor()[0]) == GREY


@pytest.mark.skipif(not BayesOpt.supports_constraints, reason="BayesOpt does not serve constraints yet")
def test_surrogate_of_a_constrained_run(tmp_path):
    values = [3.0, 1.0, 2.0, 0.5, 1.5, 0.7]
    state = constrained_run(values, [9.0, 1.0, 2.0, 6.0, 1.0, 5.0], loop=FAST_BO)
    fig = plot_surrogate(FAST_BO, state, params=("x",))
    points = scatters(fig.axes[0])
    assert len(points["feasible trials"].get_offsets()) == 3
    assert len(points["infeasible trials"].get_offsets()) == 3
    render(fig, tmp_path, "surrogate_constrained")
