"""AskTellSampler: Optuna's own sampler test-suite, RDB storage, and what the sampler tells the loop.

The suites of ``optuna.testing.pytest_samplers`` run in full with a Sobol loop (model-free, so the
hundreds of small studies stay fast); a subset runs again with a cheap BayesOpt, so the GP path
(fits on completed trials, running trials as pending points) is exercised by Optuna's tests too.
"""

from __future__ import annotations

import json
import math

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
)
from optuna.trial import TrialState

from asktell.errors import ConfigError, StateError
from asktell.integrations.optuna import AskTellSampler
from asktell.loops import BayesOpt, RandomSearch, Sobol, ZoRD

optuna.logging.set_verbosity(optuna.logging.WARNING)
FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)


class TestOptunaSuitesWithSobol(BasicSamplerTestCase, RelativeSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(Sobol(), seed=0)


class TestOptunaMultiObjectiveSuiteWithSobol(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(Sobol(), seed=0)


# BayesOpt serves several objectives (issue 16): Optuna's suite for samplers of one objective
# (SingleOnlySamplerTestCase) no longer applies; its multi-objective suite runs in
# test_optuna_multiobjective.py
class TestOptunaSuitesWithBayesOpt(BasicSamplerTestCase, RelativeSamplerTestCase):
    """The studies that run the loop through ``study.optimize`` and fit GPs; the distribution-only
    tests (sample_independent, 100 draws each) add nothing for BayesOpt and are left to Sobol."""

    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(FAST_BO, seed=0)

    test_float = test_int = test_categorical = None  # sample_independent only
    test_conditional_sample_independent = None  # sample_independent only
    test_combination_of_different_distributions_objective = None  # 36 studies of 3 trials
    test_sample_relative_numerical = None  # 36 studies, one completed trial: never fits a GP
    test_sample_relative_categorical = None  # one completed trial: never fits a GP
    test_trial_relative_params = None  # covered with Sobol; BoTorch in threads is slow here


# --- beyond Optuna's suite ------------------------------------------------------------------------
def quadratic(trial):
    x = trial.suggest_float("x", -3.0, 3.0)
    n = trial.suggest_int("n", 1, 5)
    c = trial.suggest_categorical("c", ["a", "b"])
    return (x - 1.0) ** 2 + (n - 2) ** 2 + (0.0 if c == "b" else 1.0)


def test_a_study_with_rdb_storage_runs_and_resumes_from_the_database(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=AskTellSampler(FAST_BO, seed=0))
    study.optimize(quadratic, n_trials=6)
    # a new process would do exactly this: load the study with a fresh sampler
    again = optuna.load_study(storage=storage, study_name="s", sampler=AskTellSampler(FAST_BO, seed=0))
    again.optimize(quadratic, n_trials=3)
    trials = again.get_trials()
    assert len(trials) == 9 and all(t.state == TrialState.COMPLETE for t in trials)
    # trial 0 has no relative space yet (Optuna samples it independently); trials 1-2 complete the
    # Sobol design of 3, the rest come from the GP. The fit count runs on across the reload: the
    # memo (warm start included) is read back from the database, not kept in the sampler.
    assert "asktell:memo:0" not in trials[0].system_attrs
    memos = [json.loads(t.system_attrs["asktell:memo:0"])["memo"] for t in trials[1:]]
    fits = [m["fits"] for m in memos]
    assert fits[:5] == [0, 0, 1, 2, 3]  # while the data are few (n = 3, 4, 5) every ask fits
    # after the reload the count runs on from the database's memo (a lost memo would restart at 1);
    # it may stand still: refit="auto" conditions on stored hyperparameters between fits
    assert fits == sorted(fits) and fits[5] >= fits[4] and fits[-1] > fits[4]
    assert all(m["gp"] for m in memos[2:])
    assert again.best_value <= min(t.value for t in trials[:3])


def test_same_study_same_seed_same_trials(tmp_path):
    def run():
        study = optuna.create_study(sampler=AskTellSampler(FAST_BO, seed=3))
        study.optimize(quadratic, n_trials=5)
        return [t.params for t in study.trials]

    assert run() == run()


def test_maximize_is_negated_and_failed_pruned_running_trials_are_told_as_such():
    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    x = FloatDistribution(0.0, 1.0)
    study.add_trial(optuna.create_trial(params={"x": 0.2}, distributions={"x": x}, value=5.0))
    study.add_trial(optuna.create_trial(params={"x": 0.3}, distributions={"x": x}, state=TrialState.FAIL))
    study.add_trial(optuna.create_trial(params={"x": 0.4}, distributions={"x": x}, state=TrialState.PRUNED))
    running = study.ask({"x": x})  # asked, never told: pending
    current = study.ask()
    space = sampler.infer_relative_search_space(study, current._cached_frozen_trial)
    assert space == {"x": x}
    from asktell.integrations.optuna import _Mapped

    mapped = {"x": _Mapped(x)}
    from asktell import Space

    state, _ = sampler._rebuild_state(
        study, current._cached_frozen_trial, Space({"x": mapped["x"].param}), "k", mapped
    )
    assert [(t.params["x"], t.status, t.value) for t in state.trials] == [
        (0.2, "completed", -5.0),
        (0.3, "failed", None),
        (0.4, "failed", None),
        (running.params["x"], "pending", None),
    ]
    assert state.counter == current.number


@pytest.mark.parametrize(
    "distribution, values",
    [
        (FloatDistribution(-10.0, 10.0, step=0.5), [-10.0, -9.5, 0.0, 10.0]),
        (IntDistribution(3, 9, step=2), [3, 5, 9]),
        (IntDistribution(1, 100, log=True), [1, 7, 100]),
        (FloatDistribution(1e-7, 1.0, log=True), [1e-7, 3e-4, 1.0]),
        (CategoricalDistribution([None, True, "a", 2.5]), [None, True, "a", 2.5]),
    ],
)
def test_optuna_values_map_to_asktell_and_back_exactly(distribution, values):
    from asktell.integrations.optuna import _Mapped

    mapped = _Mapped(distribution)
    for value in values:
        back = mapped.to_optuna(mapped.to_asktell(value))
        assert back == value and type(back) is type(value)


def test_concurrent_trials_get_different_points():
    study = optuna.create_study(sampler=AskTellSampler(RandomSearch(), seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    a, b = study.ask(), study.ask()  # both running: the second sees the first as pending
    assert a.suggest_float("x", 0, 1) != b.suggest_float("x", 0, 1)


def test_a_loop_of_too_few_objectives_is_refused_clearly():
    sampler = AskTellSampler(ZoRD())
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    with pytest.raises(ConfigError, match="has 2 objectives but the loop .* optimizes at most 1"):
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=1)


# --- constraints: Optuna's suites again, with constraints_func -----------------------------------
def _alternating_constraints(trial):
    """Two constraints that are kept, on the boundary or violated in turn (c <= 0 is feasible)."""
    return (trial.number % 3 - 1.0, 0.5 - trial.number % 2)


class TestOptunaSuitesWithSobolAndConstraints(BasicSamplerTestCase, RelativeSamplerTestCase):
    """Optuna's suites again, every completed trial reporting two constraints: the rebuilt
    states are constrained from the first completed trial on."""

    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(Sobol(), seed=0, constraints_func=_alternating_constraints)

    test_float = test_int = test_categorical = None  # sample_independent only: no study, no tell
    # asserts study.best_value is the lowest value of all trials; Optuna's best of a constrained
    # study is the lowest *feasible* one (held by test_set_constraint_values_are_the_loops_outcomes...)
    test_nan_objective_value = None


class TestOptunaMultiObjectiveSuiteWithSobolAndConstraints(MultiObjectiveSamplerTestCase):
    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(Sobol(), seed=0, constraints_func=_alternating_constraints)


@pytest.mark.skipif(not BayesOpt.supports_constraints, reason="BayesOpt does not serve constraints yet")
class TestOptunaSuitesWithBayesOptAndConstraints(TestOptunaSuitesWithBayesOpt):
    """The BayesOpt studies again, constrained: its constraint models fit on Optuna's trials."""

    @pytest.fixture
    def sampler(self):
        return lambda: AskTellSampler(FAST_BO, seed=0, constraints_func=_alternating_constraints)

    test_nan_objective_value = None  # Optuna's best of a constrained study is feasible-only


# --- constraints: the cases of Optuna's constrained samplers' own tests ---------------------------
# Optuna's GPSampler and NSGAIISampler tests (tests/samplers_tests/test_gp.py, test_nsgaii.py in
# Optuna's repository; not shipped in the package) hold their samplers to these; so are we.
@pytest.mark.parametrize("constraint_value", [-1.0, 0.0, 1.0, -math.inf, math.inf])
@pytest.mark.parametrize("n_objectives", [1, 2])
def test_constraints_func_is_called_once_per_trial_and_stored_as_given(constraint_value, n_objectives):
    calls = []

    def constraints_func(trial):
        calls.append(trial.number)
        return (constraint_value + trial.number,)

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        return x if n_objectives == 1 else (x, (x - 2.0) ** 2)

    sampler = AskTellSampler(Sobol(), seed=0, constraints_func=constraints_func)
    study = optuna.create_study(directions=["minimize"] * n_objectives, sampler=sampler)
    study.optimize(objective, n_trials=5)
    assert calls == [0, 1, 2, 3, 4]
    assert [list(t.constraints.values()) for t in study.trials] == [[constraint_value + n] for n in range(5)]
    # what the loop was told: the raw value as outcome c0 <= 0; an infinite one as a failed trial
    state = sampler.state(study)
    assert [str(c) for c in state.constraints] == ["c0 <= 0"] and state.n_objectives == n_objectives
    for trial, frozen in zip(state.trials, study.trials, strict=True):
        c = constraint_value + frozen.number
        if math.isfinite(c):
            assert trial.status == "completed" and trial.constraints == {"c0": c}
            assert trial.feasible is (c <= 0.0)  # Optuna's rule, boundary included
        else:
            assert trial.status == "failed" and "not finite" in trial.metadata["error"]


def test_a_nan_from_constraints_func_stops_the_study_and_stores_no_constraint():
    sampler = AskTellSampler(Sobol(), seed=0, constraints_func=lambda trial: (math.nan,))
    study = optuna.create_study(sampler=sampler)
    with pytest.raises(ValueError, match="NaN"):
        study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=5)
    (trial,) = study.get_trials()  # the error stops the study; the completed trial is recorded
    assert trial.state == TrialState.COMPLETE and trial.value == trial.params["x"]
    assert trial.constraints == {}
    assert sampler.state(study).constraints == ()  # nothing reported: not a constrained problem


def test_set_constraint_with_keys_that_differ_between_trials_runs_on():
    """Optuna counts a missing key as kept; the loop needs every outcome, so such trials are left
    out of its state, with a warning, and the study goes on."""

    def objective(trial):
        x, y = trial.suggest_float("x", 0, 1), trial.suggest_float("y", 0, 1)
        if trial.number % 3 == 1:
            trial.set_constraint("a", x - 0.5)
        elif trial.number % 3 == 2:
            trial.set_constraint("b", y - 0.5)
            trial.set_constraint("c", x + y - 1)
        return x, y

    sampler = AskTellSampler(Sobol(), seed=0)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    with pytest.warns(UserWarning, match="has no value for the constraints"):
        study.optimize(objective, n_trials=8)
    assert len(study.trials) == 8 and all(t.state == TrialState.COMPLETE for t in study.trials)
    state = sampler.state(study)
    assert [c.name for c in state.constraints] == ["a", "b", "c"]
    assert state.completed == []  # no trial reports all three


# --- constraints: what the loop is told ---------------------------------------------------------
def _constrained(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    trial.set_constraint("mem", x + y - 1.0)  # feasible below the diagonal
    trial.set_constraint("latency", 0.3 - x)  # and right of x = 0.3
    return (x - 0.2) ** 2 + (y - 0.9) ** 2  # the unconstrained optimum (0.2, 0.9) is infeasible


def test_set_constraint_values_are_the_loops_outcomes_and_its_best_is_feasible(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=AskTellSampler(Sobol(), seed=0))
    study.optimize(_constrained, n_trials=16)
    # a fresh sampler (another process) rebuilds the same problem from the database
    state = AskTellSampler(Sobol(), seed=0).state(optuna.load_study(storage=storage, study_name="s"))
    assert [str(c) for c in state.constraints] == ["latency <= 0", "mem <= 0"]
    frozen = {t.number: t for t in study.trials}
    for trial in state.trials:
        reported = frozen[trial.metadata["optuna_trial"]].constraints
        assert trial.constraints == reported
        assert trial.feasible is all(v <= 0.0 for v in reported.values())
    assert 0 < len(state.feasible) < len(state.completed)  # both kinds, so best() had to choose
    assert min(t.value for t in state.completed) < state.best().value  # the best is not the lowest
    assert state.best().metadata["optuna_trial"] == study.best_trial.number  # Optuna agrees


def test_with_no_feasible_trial_the_loop_has_no_best_and_optuna_none_either():
    def objective(trial):
        trial.set_constraint("c", 1.0)
        return trial.suggest_float("x", 0.0, 1.0)

    sampler = AskTellSampler(RandomSearch(), seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=3)
    assert sampler.state(study).best() is None
    with pytest.raises(ValueError, match="feasible"):
        _ = study.best_trial


def test_constraints_func_and_set_constraint_together_and_running_trials_pending():
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_constraint("mem", x - 0.5)
        return x

    sampler = AskTellSampler(Sobol(), seed=0, constraints_func=lambda t: (t.params["x"] - 0.8,))
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=3)
    running = study.ask({"x": FloatDistribution(0.0, 1.0)})
    state = sampler.state(study)
    assert [str(c) for c in state.constraints] == ["c0 <= 0", "mem <= 0"]
    *done, pending = state.trials
    for trial in done:
        x = trial.params["x"]
        assert trial.value == -x  # maximized, so negated
        assert trial.constraints == pytest.approx({"c0": x - 0.8, "mem": x - 0.5})
    assert pending.status == "pending" and pending.params == running.params and pending.constraints is None


def test_a_loop_without_constraints_is_refused_with_a_constrained_study():
    with pytest.raises(ConfigError, match="constraints_func needs a loop that serves outcome constraints"):
        AskTellSampler(ZoRD(), constraints_func=_alternating_constraints)
    study = optuna.create_study(sampler=AskTellSampler(ZoRD(), seed=0))
    with pytest.raises(ConfigError, match="cannot use outcome constraints"):
        study.optimize(_constrained, n_trials=2)  # the second ask sees the first's constraints
    with pytest.raises(ConfigError, match="constraints_func must be a function"):
        AskTellSampler(Sobol(), constraints_func=[1.0])


def test_constraint_keys_map_to_outcome_names_in_natural_order():
    from asktell.integrations.optuna import _outcome_names

    names = _outcome_names(["10", "mem", "2", "mem (GB)", "9lives", "0"])
    assert names == {
        "0": "c0",
        "2": "c2",
        "10": "c10",
        "9lives": "c9lives",
        "mem": "mem",
        "mem (GB)": "mem__GB_",
    }
    with pytest.raises(ConfigError, match="both map to the outcome name 'c0'"):
        _outcome_names(["0", "c0"])


def test_state_of_a_study_without_finished_trials_is_refused_clearly():
    study = optuna.create_study(sampler=AskTellSampler(Sobol()))
    with pytest.raises(StateError, match="no relative search space yet"):
        study.sampler.state(study)
