"""asktell.plot: every plot renders to a PNG and draws the lines and collections it promises."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import FillBetweenPolyCollection, PathCollection, PolyCollection
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from asktell import Categorical, Integer, Real, Space, minimize
from asktell.errors import ConfigError, StateError
from asktell.loops import BayesOpt, Sobol
from asktell.plot import (
    best_so_far,
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
