"""AskTellSampler: Optuna's own sampler test-suite, RDB storage, and what the sampler tells the loop.

The suites of ``optuna.testing.pytest_samplers`` run in full with a Sobol loop (model-free, so the
hundreds of small studies stay fast); a subset runs again with a cheap BayesOpt, so the GP path
(fits on completed trials, running trials as pending points) is exercised by Optuna's tests too.
"""

from __future__ import annotations

import json

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.testing.pytest_samplers import (
    BasicSamplerTestCase,
    MultiObjectiveSamplerTestCase,
    RelativeSamplerTestCase,
    SingleOnlySamplerTestCase,
)
from optuna.trial import TrialState

from asktell.errors import ConfigError
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


class TestOptunaSuitesWithBayesOpt(BasicSamplerTestCase, RelativeSamplerTestCase, SingleOnlySamplerTestCase):
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
    assert [m["fits"] for m in memos] == [0, 0, 1, 2, 3, 4, 5, 6]
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

    state = sampler._rebuild_state(
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
