"""AskTellSearchCV(objectives=[...]): several scorers (and the fit and score times) told as
objectives, the Pareto front of cv_results_, and best_index_ by the documented rule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import is_regressor
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from asktell import Real, Space
from asktell.errors import ConfigError
from asktell.integrations.sklearn import AskTellSearchCV, InfeasibleSearchWarning
from asktell.loops import BayesOpt, RandomSearch, Sobol, ZoRD
from asktell.pareto import non_dominated

FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)
SVC_SPACE = Space({"C": Real(1e-2, 1e2, log=True), "gamma": Real(1e-3, 1e1, log=True)})


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def regression():
    # more features than a ridge can fit without shrinking: R^2 peaks at a middle alpha, so R^2 and
    # the weights' norm trade off over part of the range only (a front of some candidates, not all)
    return make_regression(n_samples=60, n_features=40, n_informative=5, noise=50.0, random_state=0)


# --- scikit-learn's conformance suite on multi-objective searches --------------------------------
def _expected_failures(estimator) -> dict[str, str]:
    if is_regressor(estimator):  # as for scikit-learn's own searches (see test_sklearn_search.py)
        return {"check_supervised_y_2d": "BaseSearchCV does not catch the DataConversionWarning"}
    return {}


CHECKED = [
    # one metric ("score") and a time
    AskTellSearchCV(
        Ridge(),
        {"alpha": Real(0.1, 1.0)},
        loop=Sobol(),
        n_iter=2,
        cv=2,
        error_score="raise",
        objectives=["score", "fit_time"],
    ),
    # scorer names added to the scoring, refit=True on the first
    AskTellSearchCV(
        LogisticRegression(),
        {"C": Real(0.1, 1.0, log=True)},
        loop=Sobol(),
        n_iter=2,
        cv=2,
        error_score="raise",
        objectives=["accuracy", "neg_log_loss", "score_time"],
    ),
]


@parametrize_with_checks(CHECKED, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks_with_objectives(estimator, check):
    check(estimator)


# --- what the loop is told ----------------------------------------------------------------------
def test_scorer_names_and_times_are_told_as_minimized_objectives(iris):
    X, y = iris
    scoring = {"f1": "f1_macro"}
    search = AskTellSearchCV(
        SVC(),
        SVC_SPACE,
        loop=Sobol(),
        n_iter=5,
        cv=2,
        scoring=scoring,
        refit="f1",
        objectives=["accuracy", "fit_time"],
    ).fit(X, y)
    results = search.cv_results_
    # every scorer is kept: scoring's own and the objective's, and the times
    for key in ("mean_test_f1", "mean_test_accuracy", "rank_test_accuracy", "mean_fit_time"):
        assert len(results[key]) == 5, key
    assert search.scoring == {"f1": "f1_macro"} and scoring == {"f1": "f1_macro"}  # left as given
    state = search.state_
    assert state.n_objectives == 2
    told = np.array([t.value for t in state.trials])
    np.testing.assert_array_equal(told[:, 0], -results["mean_test_accuracy"])  # a score: negated
    np.testing.assert_array_equal(told[:, 1], results["mean_fit_time"])  # a time: as it is
    # refit names a metric: best on f1, ties broken by the objectives
    assert search.best_score_ == np.max(results["mean_test_f1"])


# --- the front and the best candidate: deterministic scorers -------------------------------------
def r2(estimator, X, y):
    return estimator.score(X, y)


def coarse_r2(estimator, X, y):
    """R^2 to one decimal: candidates tie on it, so the second objective breaks the tie."""
    return round(estimator.score(X, y), 1)


def small(estimator, X, y):
    """Higher for smaller weights: the other side of R^2 for a ridge (alpha trades one for the other)."""
    return -float(np.linalg.norm(estimator.coef_))


def _ridge(**kwargs):
    options = dict(
        loop=Sobol(),
        n_iter=10,
        cv=3,
        scoring={"r2": r2, "small": small, "coarse": coarse_r2},
        objectives=["r2", "small"],
    )
    return AskTellSearchCV(Ridge(), {"alpha": Real(1e-2, 1e4, log=True)}, **{**options, **kwargs})


def _front(results, columns):
    """The brute-force front of cv_results_: rows no other row beats in every (maximized) column."""
    Y = -np.column_stack([results[c] for c in columns])
    return np.flatnonzero(non_dominated(Y))


def test_the_front_and_the_best_by_the_first_objective(regression):
    X, y = regression
    search = _ridge().fit(X, y)
    results = search.cv_results_
    front = _front(results, ["mean_test_r2", "mean_test_small"])
    assert 2 < len(front) < 10  # a real trade-off, not every candidate
    np.testing.assert_array_equal(search.pareto_front_, front)
    np.testing.assert_array_equal(results["pareto_optimal"], np.isin(np.arange(10), front))
    ids = [int(results["trial_id"][row]) for row in search.pareto_front_]
    assert ids == [t.id for t in search.state_.pareto_front()]  # the state agrees
    # refit=True: the best first objective (the highest R^2), which is on the front
    assert search.best_index_ == np.argmax(results["mean_test_r2"])
    assert search.best_index_ in search.pareto_front_
    assert search.best_score_ == np.max(results["mean_test_r2"])
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    assert search.score(X, y) == pytest.approx(r2(search.best_estimator_, X, y))


def test_refit_naming_a_metric_picks_the_best_on_it(regression):
    X, y = regression
    search = _ridge(refit="small").fit(X, y)
    results = search.cv_results_
    assert search.best_index_ == np.argmax(results["mean_test_small"])
    assert search.best_score_ == np.max(results["mean_test_small"])
    assert search.score(X, y) == pytest.approx(small(search.best_estimator_, X, y))


def test_ties_on_the_first_objective_go_to_the_best_on_the_next(regression):
    X, y = regression
    search = _ridge(objectives=["coarse", "small"]).fit(X, y)
    results = search.cv_results_
    coarse = results["mean_test_coarse"]
    tied = np.flatnonzero(coarse == coarse.max())
    assert len(tied) > 1  # the case under test: sklearn's rank alone would take the first
    best = tied[np.argmax(results["mean_test_small"][tied])]
    assert search.best_index_ == best and best != tied[0]
    assert search.best_index_ in search.pareto_front_


def test_a_callable_refit_chooses_from_the_front(regression):
    X, y = regression

    def last_on_front(results):
        return int(np.flatnonzero(results["pareto_optimal"])[-1])

    search = _ridge(refit=last_on_front).fit(X, y)
    assert search.best_index_ == search.pareto_front_[-1]
    # refit=False: the front, no best
    plain = _ridge(refit=False).fit(X, y)
    assert len(plain.pareto_front_) > 1 and not hasattr(plain, "best_index_")


def test_objectives_with_constraints_keep_to_the_feasible_candidates(regression):
    X, y = regression
    search = _ridge(
        scoring={"r2": r2, "small": small, "norm": lambda e, X, y: -small(e, X, y)},
        constraints=["norm <= 100"],
    ).fit(X, y)
    results = search.cv_results_
    feasible = results["feasible"]
    assert 0 < feasible.sum() < len(feasible)
    rows = np.flatnonzero(feasible)
    front = rows[
        _front(
            {k: v[rows] for k, v in results.items() if k.startswith("mean_")},
            ["mean_test_r2", "mean_test_small"],
        )
    ]
    np.testing.assert_array_equal(search.pareto_front_, front)
    # the best R^2 overall is infeasible (small alphas: large weights); the best feasible one is chosen
    assert not feasible[np.argmax(results["mean_test_r2"])]
    assert search.best_index_ == rows[np.argmax(results["mean_test_r2"][rows])]
    # nothing feasible: the warning, the closest candidate, an empty front
    none = _ridge(
        scoring={"r2": r2, "small": small, "norm": lambda e, X, y: -small(e, X, y)},
        constraints=["norm <= 1"],
    )
    with pytest.warns(InfeasibleSearchWarning, match="no candidate kept every constraint"):
        none.fit(X, y)
    assert len(none.pareto_front_) == 0 and not none.cv_results_["pareto_optimal"].any()
    assert none.best_index_ == np.argmin(none.cv_results_["mean_test_norm"])


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_candidate_with_a_non_finite_objective_is_failed_and_off_the_front(regression):
    X, y = regression

    def small_or_nan(estimator, X, y):
        return small(estimator, X, y) if estimator.alpha < 100 else math.nan

    search = _ridge(scoring={"r2": r2, "small": small_or_nan}).fit(X, y)
    results = search.cv_results_
    large = np.array([p["alpha"] >= 100 for p in results["params"]])
    assert 0 < large.sum() < len(large)
    for row, trial_id in enumerate(results["trial_id"]):
        trial = search.state_.trial(int(trial_id))
        if large[row]:
            assert trial.status == "failed" and trial.metadata["error"] == "objectives ['small'] not finite"
        else:
            assert trial.status == "completed"
    assert not results["pareto_optimal"][large].any()
    assert not large[search.best_index_]


def test_a_callable_scoring_is_resolved_after_its_first_scores(regression):
    X, y = regression

    def scoring(estimator, X, y):
        return {"r2": r2(estimator, X, y), "small": small(estimator, X, y)}

    search = _ridge(scoring=scoring, refit="r2", n_iter=4).fit(X, y)
    assert search.best_index_ == np.argmax(search.cv_results_["mean_test_r2"])
    with pytest.raises(ConfigError, match="the objective 'tiny' is no metric of this search's scoring"):
        _ridge(scoring=scoring, refit="r2", n_iter=2, objectives=["r2", "tiny"]).fit(X, y)


# --- refusals, before any fit --------------------------------------------------------------------
class _MustNotFit(Ridge):
    def fit(self, X, y):
        raise AssertionError("a refused search fitted a model")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(objectives=["acc", "fit_time"]), "'acc' is no metric of scoring .* and no scikit-learn scorer"),
        (dict(objectives=["score", "r2"]), "'score' is no metric of scoring"),
        (dict(objectives=["r2", "r2"]), r"name each objective once, got \['r2'\] twice"),
        (
            dict(objectives="r2"),
            "objectives. parameter of AskTellSearchCV must be an instance of .list",
        ),  # sklearn
        (dict(objectives=[]), "must be a non-empty list of names"),
        (
            dict(objectives=["r2", "fit_time"], scoring={"r2": "r2"}, refit="mse"),
            "refit must be set to a scorer key",
        ),
        (
            dict(objectives=["r2", "fit_time"], scoring=lambda e, X, y: {"r2": 1.0}),
            "refit must name the metric",
        ),
        (dict(objectives=["r2", "fit_time"], loop=ZoRD()), "optimizes one objective, not 2"),
        (dict(objectives=["r2", "fit_time"], constraints=["recall >= 0.5"]), "'recall' is no column"),
    ],
)
def test_bad_objectives_are_refused_before_any_fit(regression, kwargs, error):
    X, y = regression
    search = AskTellSearchCV(
        _MustNotFit(), {"alpha": Real(0.1, 1.0)}, **{"loop": Sobol(), "n_iter": 2, **kwargs}
    )
    with pytest.raises((ConfigError, ValueError), match=error):
        search.fit(X, y)


def test_one_objective_in_the_list_is_a_search_of_one_objective(regression):
    X, y = regression
    search = AskTellSearchCV(
        Ridge(),
        {"alpha": Real(1e-2, 1e4, log=True)},
        loop=RandomSearch(),
        n_iter=4,
        cv=2,
        objectives=["neg_mean_absolute_error"],
    ).fit(X, y)
    results = search.cv_results_
    assert search.state_.n_objectives == 1
    np.testing.assert_array_equal(
        [t.value for t in search.state_.trials], -results["mean_test_neg_mean_absolute_error"]
    )
    assert search.best_index_ == np.argmax(results["mean_test_neg_mean_absolute_error"])
    np.testing.assert_array_equal(search.pareto_front_, [search.best_index_])


def test_bayesopt_is_told_several_objectives(regression):
    X, y = regression
    search = _ridge(loop=FAST_BO, n_iter=6).fit(X, y)
    assert search.state_.loop_name == "bayesopt" and search.state_.n_objectives == 2
    assert [t.metadata["model"] for t in search.state_.trials][-1] == "gp"
    assert search.best_index_ in search.pareto_front_


@pytest.mark.parametrize("objectives", [None, ["accuracy", "fit_time"]])
def test_the_infeasible_search_warning_points_at_the_users_fit(iris, objectives):
    X, y = iris
    search = AskTellSearchCV(
        LogisticRegression(max_iter=200),
        Space({"C": Real(0.1, 1.0, log=True)}),
        loop=Sobol(),
        n_iter=2,
        cv=2,
        constraints=["fit_time <= -1"],  # no fit takes negative time
        objectives=objectives,
    )
    with pytest.warns(InfeasibleSearchWarning) as caught:
        search.fit(X, y)
    assert [w.filename for w in caught if w.category is InfeasibleSearchWarning] == [__file__]
