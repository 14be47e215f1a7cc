"""AskTellSampler on studies of several directions: Optuna's multi-objective sampler suite, the values
the loop is told (maximize negated), the front against ``study.best_trials``, the reference point.

Optuna ships one multi-objective suite (``MultiObjectiveSamplerTestCase``: ``sample_independent`` on
a two-direction study, which a sampler of one objective fails; with Sobol in test_optuna_sampler.py,
with BayesOpt here); it never asks the loop, so the studies below run the relative path (the loop's
asks, BayesOpt's GPs) on multi-objective studies too, with Sobol and with BayesOpt.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.study import StudyDirection
from optuna.testing.pytest_samplers import MultiObjectiveSamplerTestCase
from optuna.trial import TrialState

import asktell
from asktell.errors import ConfigError
from asktell.integrations.optuna import AskTellSampler, _read_chunks
from asktell.loops import BayesOpt, RandomSearch, Sobol, ZoRD
from asktell.pareto import reference_trials

optuna.logging.set_verbosity(optuna.logging.WARNING)
FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)
LOOPS = [pytest.param(Sobol(), id="sobol"), pytest.param(FAST_BO, id="bayesopt")]


def _alternating_constraints(trial):
    return (trial.number % 3 - 1.0, 0.5 - trial.number % 2)


# --- Optuna's multi-objective suite --------------------------------------------------------------
class TestOptunaMultiObjectiveSuiteWithBayesOpt(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(FAST_BO, seed=0)


class TestOptunaMultiObjectiveSuiteWithBayesOptAndConstraints(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(FAST_BO, seed=0, constraints_func=_alternating_constraints)


# --- multi-objective studies through the loop's asks ---------------------------------------------
def mixed(trial):
    """Two objectives over a float, a log float, a stepped int and a categorical."""
    x = trial.suggest_float("x", -2.0, 2.0)
    lr = trial.suggest_float("lr", 1e-4, 1.0, log=True)
    n = trial.suggest_int("n", 0, 10, step=2)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    bonus = {"a": 0.0, "b": 0.5, "c": 1.0}[c]
    return (x - 1.0) ** 2 + 0.1 * n + bonus, -((x + 1.0) ** 2) - math.log10(lr) ** 2 * 0.1


@pytest.mark.parametrize("loop", LOOPS)
def test_a_mixed_two_direction_study_runs_on_the_loops_asks(loop):
    sampler = AskTellSampler(loop, seed=0)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(mixed, n_trials=8)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # every trial after the first (independent: no relative space yet) came from the loop
    assert all("asktell:params:0" in t.system_attrs for t in study.trials[1:])
    state = sampler.state(study)
    assert state.n_objectives == 2 and state.loop_name == loop.name
    assert [t.metadata["optuna_trial"] for t in state.trials] == list(range(8))
    if loop is FAST_BO:  # the last asks came from one GP per objective, fitted on Optuna's trials
        memo = _read_chunks(study.trials[-1], "asktell:memo")["memo"]
        # the memo keeps the first objective's GP as "gp" and the others' in "objective_gps"
        assert memo["fits"] >= 3 and memo["gp"] and len(memo["objective_gps"]) == 1


@pytest.mark.parametrize("loop", LOOPS)
def test_three_directions_with_running_trials_as_pending(loop):
    def objective(trial):
        x, y = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)
        return x, y, (x - y) ** 2

    sampler = AskTellSampler(loop, seed=0)
    study = optuna.create_study(directions=["minimize", "maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=5)
    space = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    first, second = study.ask(space), study.ask(space)  # both running: the second sees the first
    assert first.params != second.params
    state = sampler.state(study)
    assert [t.status for t in state.trials] == ["completed"] * 5 + ["pending"] * 2
    assert state.trials[-1].params == second.params


@pytest.mark.parametrize("loop", LOOPS)
def test_a_conditional_multi_objective_study_samples_the_rest_independently(loop):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.suggest_categorical("branch", [True, False]):
            return x, trial.suggest_float("y", 0.0, 1.0)
        return x, trial.suggest_int("z", 0, 3)

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=AskTellSampler(loop, seed=0))
    study.optimize(objective, n_trials=8)
    assert len(study.trials) == 8 and all(t.state == TrialState.COMPLETE for t in study.trials)


# --- what the loop is told, and the front --------------------------------------------------------
def _frozen(params, values, constraints=None):
    distributions = {"x": FloatDistribution(0.0, 1.0), "y": FloatDistribution(0.0, 1.0)}
    attrs = {} if constraints is None else {"constraints": list(constraints)}
    return optuna.create_trial(params=params, distributions=distributions, values=values, system_attrs=attrs)


def test_maximize_directions_are_negated_value_by_value():
    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(directions=["maximize", "minimize", "maximize"], sampler=sampler)
    study.add_trial(_frozen({"x": 0.1, "y": 0.2}, [1.5, 2.5, -3.5]))
    study.add_trial(_frozen({"x": 0.3, "y": 0.4}, [0.0, -1.0, 4.0]))
    state = sampler.state(study)
    assert [t.value for t in state.trials] == [(-1.5, 2.5, 3.5), (-0.0, -1.0, -4.0)]
    assert all(isinstance(v, float) for t in state.trials for v in t.value)


def _two_objectives(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    trial.set_constraint("budget", x + y - 1.5)  # feasible below x + y = 1.5
    return x**2 + y, 1.0 - (1.0 - x) ** 2 + 0.3 * y  # latency (min), accuracy (max)


def test_the_front_is_study_best_trials_with_constraints_and_maximize(tmp_path):
    storage = f"sqlite:///{tmp_path / 'mo.db'}"
    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(
        storage=storage, study_name="mo", directions=["minimize", "maximize"], sampler=sampler
    )
    study.optimize(_two_objectives, n_trials=24)
    # another process: a fresh sampler rebuilds the same front from the database
    loaded = optuna.load_study(storage=storage, study_name="mo")
    state = AskTellSampler(Sobol(), seed=0).state(loaded)
    front = state.pareto_front()
    assert 1 < len(front) < len(state.feasible) < len(state.completed)  # a real front, some infeasible
    assert [t.metadata["optuna_trial"] for t in front] == sorted(t.number for t in loaded.best_trials)
    by_number = {t.number: t for t in loaded.trials}
    for trial in state.completed:  # the values as told: latency as it is, accuracy negated
        latency, accuracy = by_number[trial.metadata["optuna_trial"]].values
        assert trial.value == (latency, -accuracy)
    # no feasible trial of the state dominates a front member (asktell's own check of Optuna's)
    values = np.array([t.value for t in state.feasible])
    for trial in front:
        dominated = (values <= trial.value).all(1) & (values < trial.value).any(1)
        assert not dominated.any()


def test_bayesopt_on_a_constrained_two_direction_study_agrees_with_optuna():
    sampler = AskTellSampler(FAST_BO, seed=0)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_two_objectives, n_trials=8)
    memo = _read_chunks(study.trials[-1], "asktell:memo")["memo"]
    assert memo["objective_gps"] and memo["constraint_gps"]  # objectives and the budget modelled
    state = sampler.state(study)
    assert [str(c) for c in state.constraints] == ["budget <= 0"] and state.ref_point is not None
    assert [t.metadata["optuna_trial"] for t in state.pareto_front()] == sorted(
        t.number for t in study.best_trials
    )


def test_equal_values_keep_the_lowest_number_where_optuna_keeps_all():
    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    for params, values in [
        ({"x": 0.1, "y": 0.1}, [1.0, 1.0]),
        ({"x": 0.2, "y": 0.2}, [1.0, 1.0]),  # the same values as trial 0
        ({"x": 0.3, "y": 0.3}, [2.0, 3.0]),
        ({"x": 0.4, "y": 0.4}, [2.0, 2.0]),  # dominated by trial 2 (accuracy is maximized)
    ]:
        study.add_trial(_frozen(params, values))
    assert sorted(t.number for t in study.best_trials) == [0, 1, 2]
    assert [t.metadata["optuna_trial"] for t in sampler.state(study).pareto_front()] == [0, 2]


def test_constraints_func_decides_the_front_as_optuna_does():
    sampler = AskTellSampler(Sobol(), seed=0, constraints_func=_alternating_constraints)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0 - t.suggest_float("y", 0, 1)), n_trials=12)
    state = sampler.state(study)
    assert len(state.feasible) < len(state.completed)
    assert [t.metadata["optuna_trial"] for t in state.pareto_front()] == sorted(
        t.number for t in study.best_trials
    )


# --- the reference point -------------------------------------------------------------------------
def test_a_given_reference_point_is_in_the_studys_units():
    sampler = AskTellSampler(Sobol(), seed=0, ref_point=[2.0, 0.5])
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_two_objectives, n_trials=6)
    state = sampler.state(study)
    assert state.ref_point == (2.0, -0.5) and not state.problem.ref_point_inferred
    # the hypervolume of Optuna's own front, minimized, against the same point
    front = [(t.values[0], -t.values[1]) for t in study.best_trials]
    assert state.hypervolume() == pytest.approx(asktell.hypervolume(front, [2.0, -0.5]), rel=1e-12)
    bad = optuna.create_study(directions=["minimize"] * 3, sampler=AskTellSampler(Sobol(), ref_point=[1, 2]))
    with pytest.raises(ConfigError, match=r"one number per direction of the study \(3\), got 2"):
        bad.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0, 0.0), n_trials=2)
    with pytest.raises(ConfigError, match="ref_point must be finite"):
        AskTellSampler(Sobol(), ref_point=[1.0, math.nan])
    single = optuna.create_study(sampler=AskTellSampler(Sobol(), ref_point=[1.0]))
    with pytest.raises(ConfigError, match="this study has one"):
        single.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)


def test_the_inferred_reference_point_is_fixed_by_the_first_completed_trials():
    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    k = reference_trials(2)
    study.optimize(_two_objectives, n_trials=k - 1)
    assert sampler.state(study).ref_point is None  # not yet: as a live state after k - 1 tells
    study.optimize(_two_objectives, n_trials=1)
    first = sampler.state(study)
    values = [t.value for t in first.completed[:k] if t.feasible]  # from the feasible ones
    assert values and len(values) < k  # some of the first k break the budget here
    assert first.ref_point == tuple(asktell.pareto.infer_reference_point(values).tolist())
    assert first.problem.ref_point_inferred
    study.optimize(_two_objectives, n_trials=4)
    later = sampler.state(study)
    assert later.ref_point == first.ref_point  # the later trials never move it
    history = later.hypervolume_history()
    assert len(history) == k + 4 and history == sorted(history) and history[-1] > 0.0


# --- refusals ------------------------------------------------------------------------------------
def test_a_loop_of_one_objective_is_refused_naming_the_loops_that_serve_several():
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=AskTellSampler(ZoRD()))
    with pytest.raises(ConfigError, match="use a loop that serves 2 objectives: ") as error:
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)
    named = str(error.value).rsplit(": ", 1)[1].rstrip(".").split(", ")
    assert {"RandomSearch", "Sobol"} <= set(named) and "ZoRD" not in named
    assert "BayesOpt" in named  # the message follows the loops' max_objectives


def test_the_directions_plot_back_in_the_studys_units():
    """The recipe of the module's docstring: the front drawn with maximize from study.directions."""
    import matplotlib

    matplotlib.use("Agg")
    from asktell.plot import plot_pareto_front

    sampler = AskTellSampler(RandomSearch(), seed=0)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.optimize(_two_objectives, n_trials=8)
    maximize = [d == StudyDirection.MAXIMIZE for d in study.directions]
    fig = plot_pareto_front(sampler.state(study), maximize=maximize, labels=["latency", "accuracy"])
    ax = fig.axes[0]
    (front,) = [c for c in ax.collections if c.get_label().startswith("Pareto front")]
    expected = sorted((t.values[0], t.values[1]) for t in study.best_trials)
    np.testing.assert_allclose(sorted(map(tuple, front.get_offsets().tolist())), expected, rtol=1e-12)
    assert ax.get_ylabel() == "accuracy (maximized)"


@pytest.mark.parametrize(
    "distribution", [IntDistribution(1, 64, log=True), CategoricalDistribution(["a", "b"])]
)
def test_single_parameter_multi_objective_studies(distribution):
    def objective(trial):
        v = trial._suggest("p", distribution)
        number = float(v) if not isinstance(v, str) else float(v == "a")
        return number, -number

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=AskTellSampler(Sobol(), seed=0))
    study.optimize(objective, n_trials=6)
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    # every completed trial is on the front of (v, -v): nothing dominates anything, but duplicates
    state = study.sampler.state(study)
    distinct = {t.value for t in state.completed}
    assert len(state.pareto_front()) == len(distinct)
