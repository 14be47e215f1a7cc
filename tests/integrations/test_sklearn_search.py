"""AskTellSearchCV: a scikit-learn search estimator whose candidates come from an asktell loop."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.base import BaseEstimator, ClassifierMixin, clone, is_regressor
from sklearn.datasets import load_iris, make_regression
from sklearn.decomposition import PCA
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from asktell import Categorical, Integer, Real, Space
from asktell.errors import ConfigError
from asktell.integrations.sklearn import AskTellSearchCV
from asktell.loops import BayesOpt, RandomSearch, Sobol, ZoRD

FAST_BO = BayesOpt(n_init=3, num_restarts=2, raw_samples=32, max_fit_iter=20, acq_maxiter=20)
SVC_SPACE = Space({"C": Real(1e-2, 1e2, log=True), "gamma": Real(1e-3, 1e1, log=True)})


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


# --- scikit-learn's own conformance suite --------------------------------------------------------
# The same four instances scikit-learn checks its RandomizedSearchCV with (a regressor, a classifier,
# and both inside a pipeline), with a Sobol loop so the checks stay fast and model-free.
CHECKED = [
    AskTellSearchCV(Ridge(), {"alpha": Real(0.1, 1.0)}, loop=Sobol(), n_iter=2, cv=2, error_score="raise"),
    AskTellSearchCV(
        LogisticRegression(),
        {"C": Real(0.1, 1.0, log=True)},
        loop=Sobol(),
        n_iter=2,
        cv=2,
        error_score="raise",
    ),
    AskTellSearchCV(
        Pipeline([("pca", PCA()), ("ridge", Ridge())]),
        {"ridge__alpha": Real(0.1, 1.0)},
        loop=Sobol(),
        n_iter=2,
        cv=2,
        error_score="raise",
    ),
    AskTellSearchCV(
        Pipeline([("pca", PCA()), ("logisticregression", LogisticRegression())]),
        {"logisticregression__C": Categorical([0.1, 1.0])},
        loop=RandomSearch(),
        n_iter=2,
        cv=2,
        error_score="raise",
    ),
]


def _expected_failures(estimator) -> dict[str, str]:
    # scikit-learn expects the same failure from its own RandomizedSearchCV and GridSearchCV
    # (sklearn/utils/_test_common/instance_generator.py): BaseSearchCV, inherited unchanged here,
    # lets the DataConversionWarning of a column-vector y through for regressors. The checks that
    # are skipped are the array-API ones, for packages not installed (array_api_strict, cupy, ...).
    if is_regressor(estimator):
        return {"check_supervised_y_2d": "BaseSearchCV does not catch the DataConversionWarning"}
    return {}


# A regressor and a classifier in the default suite; their pipelines (slower) with the slow tests.
@parametrize_with_checks(CHECKED[:2], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks(CHECKED[2:], expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks_on_pipelines(estimator, check):
    check(estimator)


# --- the search itself ---------------------------------------------------------------------------
def test_fit_gives_the_attributes_sklearn_users_read(iris):
    X, y = iris
    search = AskTellSearchCV(SVC(), SVC_SPACE, loop=FAST_BO, n_iter=6, cv=3, random_state=1)
    search.fit(X, y)
    results = search.cv_results_
    for key in ("params", "mean_test_score", "std_test_score", "rank_test_score", "param_C"):
        assert len(results[key]) == 6, key
    assert search.best_params_ == results["params"][search.best_index_]
    assert search.best_score_ == pytest.approx(np.max(results["mean_test_score"]))
    assert search.best_estimator_.get_params()["C"] == search.best_params_["C"]
    assert search.predict(X).shape == y.shape
    assert 0.0 <= search.score(X, y) <= 1.0
    # the loop saw every candidate, told as -score (asktell minimizes)
    state = search.state_
    assert [t.params for t in state.trials] == list(results["params"])
    assert list(results["trial_id"]) == [t.id for t in state.trials]
    values = np.array([t.value for t in state.trials])
    np.testing.assert_array_equal(values, -results["mean_test_score"])
    assert state.best().params == search.best_params_
    assert [t.metadata["model"] for t in state.trials] == ["sobol"] * 3 + ["gp"] * 3


def test_random_state_is_the_loop_seed_and_none_means_zero(iris):
    X, y = iris
    kwargs = dict(loop=Sobol(), n_iter=3, cv=2)
    a = AskTellSearchCV(SVC(), SVC_SPACE, random_state=None, **kwargs).fit(X, y)
    b = AskTellSearchCV(SVC(), SVC_SPACE, random_state=0, **kwargs).fit(X, y)
    c = AskTellSearchCV(SVC(), SVC_SPACE, random_state=7, **kwargs).fit(X, y)
    assert a.random_state is None  # stored as given
    assert a.state_.seed == 0 and c.state_.seed == 7
    assert a.cv_results_["params"] == b.cv_results_["params"]
    assert a.cv_results_["params"] != c.cv_results_["params"]


def test_get_set_params_and_clone_keep_the_arguments():
    loop = Sobol()
    search = AskTellSearchCV(SVC(), SVC_SPACE, loop=loop, n_iter=4)
    params = search.get_params()
    assert params["space"] is SVC_SPACE and params["loop"] is loop and params["n_iter"] == 4
    assert "estimator__C" in params  # deep parameters of the estimator
    search.set_params(n_iter=7, estimator__kernel="linear")
    assert search.n_iter == 7 and search.estimator.kernel == "linear"
    copy = clone(search)
    assert copy.space == SVC_SPACE and copy.loop == loop and copy.n_iter == 7
    assert pickle.loads(pickle.dumps(copy)).space == SVC_SPACE


def test_batches_of_candidates_run_in_parallel_jobs(iris):
    """Threads here, to keep the test fast; loky's processes receive the search pickled, which
    test_get_set_params_and_clone_keep_the_arguments checks."""
    X, y = iris
    search = AskTellSearchCV(SVC(), SVC_SPACE, loop=RandomSearch(), n_iter=5, n_points=2, cv=2, n_jobs=2)
    with parallel_backend("threading", n_jobs=2):
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 5  # batches of 2, 2 and 1
    assert search.state_.counter == 3
    assert all(t.status == "completed" for t in search.state_.trials)


def test_multimetric_scoring_tells_the_refit_metric(iris):
    X, y = iris
    search = AskTellSearchCV(
        SVC(),
        SVC_SPACE,
        loop=Sobol(),
        n_iter=3,
        cv=2,
        scoring={"acc": "accuracy", "f1": "f1_macro"},
        refit="f1",
    )
    search.fit(X, y)
    values = [t.value for t in search.state_.trials]
    np.testing.assert_array_equal(values, -search.cv_results_["mean_test_f1"])
    assert search.best_score_ == pytest.approx(max(search.cv_results_["mean_test_f1"]))
    # without refit, the first metric is the objective
    search.set_params(refit=False).fit(X, y)
    values = [t.value for t in search.state_.trials]
    np.testing.assert_array_equal(values, -search.cv_results_["mean_test_acc"])


class _FailsForLargeC(ClassifierMixin, BaseEstimator):
    """A classifier whose fit raises for C > 1 (a stand-in for a diverging model)."""

    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        if self.C > 1.0:
            raise ValueError("C too large")
        self.model_ = LogisticRegression(C=self.C).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_failed_fits_are_told_as_failed_trials(iris):
    X, y = iris
    search = AskTellSearchCV(
        _FailsForLargeC(),
        {"C": Real(0.01, 100.0, log=True)},
        loop=Sobol(),
        n_iter=6,
        n_points=3,
        cv=2,
    )
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    results = search.cv_results_
    failed = 0
    for trial in search.state_.trials:
        row = list(results["trial_id"]).index(trial.id)
        score = results["mean_test_score"][row]
        if trial.params["C"] > 1.0:
            failed += 1
            assert trial.status == "failed" and np.isnan(score)
        else:
            assert trial.status == "completed" and trial.value == -score
    assert 0 < failed < 6
    assert search.best_params_["C"] <= 1.0


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_batch_whose_fits_all_failed_is_failed_and_the_search_goes_on(iris):
    X, y = iris
    space = {"C": Real(0.01, 100.0, log=True)}
    search = AskTellSearchCV(_FailsForLargeC(), space, loop=Sobol(), n_iter=6, cv=2)
    with pytest.warns(FitFailedWarning, match="told as failed trials"):
        search.fit(X, y)  # n_points=1: each failing candidate is a batch of failed fits
    trials = search.state_.trials
    failed = [t for t in trials if t.status == "failed"]
    assert failed and all(t.params["C"] > 1.0 for t in failed)
    assert list(search.cv_results_["trial_id"]) == [t.id for t in trials if t.status != "failed"]
    assert search.best_params_["C"] <= 1.0
    # no candidate can be fitted at all: scikit-learn's error
    always_fails = {"C": Real(2.0, 100.0)}
    with pytest.raises(ValueError, match="fits failed"), pytest.warns(FitFailedWarning):
        AskTellSearchCV(_FailsForLargeC(), always_fails, loop=Sobol(), n_iter=2, cv=2).fit(X, y)


def test_bayesopt_beats_random_search_at_equal_budget_on_a_smooth_problem():
    X, y = make_regression(n_samples=120, n_features=30, n_informative=5, noise=30.0, random_state=0)
    space = {"alpha": Real(1e-3, 1e4, log=True)}
    bo = AskTellSearchCV(Ridge(), space, loop=FAST_BO, n_iter=8, cv=3).fit(X, y)
    rs = RandomizedSearchCV(Ridge(), {"alpha": np.logspace(-3, 4, 200)}, n_iter=8, cv=3, random_state=0).fit(
        X, y
    )
    # one smooth dimension: a GP after 3 Sobol points homes in; tolerance 1e-3 of an R^2 score
    assert bo.best_score_ >= rs.best_score_ - 1e-3


def test_mixed_space_with_integers_and_choices(iris):
    X, y = iris
    from sklearn.tree import DecisionTreeClassifier

    space = {"max_depth": Integer(1, 6), "criterion": Categorical(["gini", "entropy"])}
    search = AskTellSearchCV(DecisionTreeClassifier(random_state=0), space, loop=FAST_BO, n_iter=5)
    search.fit(X, y)
    assert isinstance(search.best_params_["max_depth"], int)
    assert search.best_params_["criterion"] in ("gini", "entropy")


def test_space_may_be_given_as_json(iris):
    X, y = iris
    space = {"C": {"type": "real", "low": 0.01, "high": 100.0, "log": True}}
    search = AskTellSearchCV(SVC(), space, loop=Sobol(), n_iter=2, cv=2).fit(X, y)
    assert search.state_.space == Space({"C": Real(0.01, 100.0, log=True)})


# --- outcome constraints -------------------------------------------------------------------------
CONSTRAINED_CHECKED = [
    # bounds every candidate keeps (times are >= 0): the checks run the constrained code path
    AskTellSearchCV(
        LogisticRegression(),
        {"C": Real(0.1, 1.0, log=True)},
        loop=Sobol(),
        n_iter=2,
        cv=2,
        error_score="raise",
        constraints=["fit_time >= 0", "score_time >= 0"],
    ),
]


@parametrize_with_checks(CONSTRAINED_CHECKED, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks_with_constraints(estimator, check):
    check(estimator)


def coef_norm(estimator, X, y):
    """A scorer that is a model's size, not its quality: the norm of a linear model's weights."""
    return float(np.linalg.norm(estimator.coef_))


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=80, n_features=10, n_informative=5, noise=10.0, random_state=0)


def _ridge_search(**kwargs):
    return AskTellSearchCV(
        Ridge(),
        {"alpha": Real(1e-2, 1e4, log=True)},
        loop=Sobol(),
        n_iter=8,
        cv=3,
        scoring={"r2": "r2", "norm": coef_norm},
        refit="r2",
        **kwargs,
    )


def test_the_best_is_the_best_feasible_candidate(regression):
    X, y = regression
    search = _ridge_search(constraints=["norm <= 100"]).fit(X, y)
    results = search.cv_results_
    feasible = results["feasible"]
    np.testing.assert_array_equal(feasible, results["mean_test_norm"] <= 100.0)
    assert 0 < feasible.sum() < len(feasible)
    # small alphas fit best but have large weights: the constraint changes the answer
    assert search.best_score_ < np.max(results["mean_test_r2"])
    assert feasible[search.best_index_]
    assert search.best_score_ == np.max(results["mean_test_r2"][feasible])
    assert search.best_params_ == results["params"][search.best_index_]
    assert search.best_estimator_.alpha == search.best_params_["alpha"]
    # the loop was told the outcome of every candidate, and agrees on the best
    state = search.state_
    assert [str(c) for c in state.constraints] == ["norm <= 100"]
    for row, trial_id in enumerate(results["trial_id"]):
        trial = state.trial(int(trial_id))
        assert trial.constraints == {"norm": results["mean_test_norm"][row]}
        assert trial.feasible == feasible[row]
    assert state.best().params == search.best_params_


def test_no_feasible_candidate_warns_and_picks_the_closest(regression):
    X, y = regression
    from asktell.integrations.sklearn import InfeasibleSearchWarning

    search = _ridge_search(constraints=["norm <= 1"])  # a weight norm no alpha in range reaches
    with pytest.warns(InfeasibleSearchWarning, match="no candidate kept every constraint"):
        search.fit(X, y)
    results = search.cv_results_
    assert not results["feasible"].any() and search.state_.best() is None
    assert search.best_index_ == np.argmin(results["mean_test_norm"])  # the least violation
    assert hasattr(search, "best_estimator_")  # still usable, after the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", InfeasibleSearchWarning)
        with pytest.raises(InfeasibleSearchWarning):  # the user's choice to refuse the result
            clone(search).fit(X, y)


def test_timing_columns_are_outcomes_too(iris):
    X, y = iris
    search = AskTellSearchCV(
        SVC(),
        SVC_SPACE,
        loop=RandomSearch(),
        n_iter=4,
        cv=2,
        constraints=["fit_time <= 30", "score_time >= 0"],
    ).fit(X, y)
    results = search.cv_results_
    for row, trial_id in enumerate(results["trial_id"]):
        trial = search.state_.trial(int(trial_id))
        assert trial.constraints == {
            "fit_time": results["mean_fit_time"][row],
            "score_time": results["mean_score_time"][row],
        }
        assert trial.feasible == results["feasible"][row] == (results["mean_fit_time"][row] <= 30)


def test_outcome_names_resolve_to_cv_results_columns():
    from asktell.integrations.sklearn import _outcome_column

    columns = [
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "mean_test_score",
        "std_test_score",
        "mean_test_recall",
        "mean_train_recall",
    ]
    resolved = {n: _outcome_column(n, columns) for n in ("fit_time", "score", "recall", "train_recall")}
    assert resolved == {
        "fit_time": "mean_fit_time",
        "score": "mean_test_score",
        "recall": "mean_test_recall",
        "train_recall": "mean_train_recall",
    }
    assert _outcome_column("std_test_score", columns) == "std_test_score"
    with pytest.raises(ConfigError, match=r"'recal' is no column .*'fit_time', 'recall', 'score'"):
        _outcome_column("recal", columns)


class _MustNotFit(ClassifierMixin, BaseEstimator):
    def __init__(self, C=1.0):
        self.C = C

    def fit(self, X, y):
        raise AssertionError("a refused search fitted a model")


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (
            dict(
                constraints=["recal >= 0.9"],
                scoring={"acc": "accuracy", "recall": "recall_macro"},
                refit="acc",
            ),
            "no column",
        ),
        (dict(constraints=["recall >= 0.9"]), "'recall' is no column"),  # one metric: 'score'
        (dict(constraints=["fit_time < 1"]), "cannot read the constraint"),
        (dict(constraints=["fit_time <= 1"], loop=ZoRD()), "cannot use outcome constraints"),
    ],
)
def test_bad_constraints_are_refused_before_any_fit(iris, kwargs, error):
    X, y = iris
    search = AskTellSearchCV(_MustNotFit(), {"C": Real(0.1, 1.0)}, **{"loop": Sobol(), "n_iter": 2, **kwargs})
    with pytest.raises(ConfigError, match=error):
        search.fit(X, y)


def test_a_callable_scoring_of_several_metrics_is_resolved_after_its_first_scores(regression):
    X, y = regression

    def scoring(estimator, X, y):
        return {"r2": estimator.score(X, y), "norm": coef_norm(estimator, X, y)}

    search = _ridge_search(constraints=["norm <= 100"]).set_params(scoring=scoring).fit(X, y)
    assert search.cv_results_["feasible"][search.best_index_]
    with pytest.raises(ConfigError, match="'size' is no column"):
        _ridge_search(constraints=["size <= 100"]).set_params(scoring=scoring).fit(X, y)


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_candidate_with_a_non_finite_outcome_is_a_failed_trial(regression):
    X, y = regression

    def norm_or_nan(estimator, X, y):  # an outcome that cannot be measured for large alphas
        return coef_norm(estimator, X, y) if estimator.alpha < 100 else math.nan

    search = _ridge_search(constraints=["norm <= 100"]).set_params(scoring={"r2": "r2", "norm": norm_or_nan})
    search.fit(X, y)
    results = search.cv_results_
    for row, trial_id in enumerate(results["trial_id"]):
        trial = search.state_.trial(int(trial_id))
        if results["params"][row]["alpha"] >= 100:
            assert trial.status == "failed" and "outcomes ['norm'] not finite" in trial.metadata["error"]
            assert not results["feasible"][row]
        else:
            assert trial.status == "completed"


def test_an_unconstrained_search_has_no_feasible_column(iris):
    X, y = iris
    search = AskTellSearchCV(SVC(), SVC_SPACE, loop=Sobol(), n_iter=2, cv=2).fit(X, y)
    assert "feasible" not in search.cv_results_


@pytest.mark.skipif(not BayesOpt.supports_constraints, reason="BayesOpt does not serve constraints yet")
def test_bayesopt_is_told_the_outcomes_and_finds_a_feasible_candidate(regression):
    X, y = regression
    search = _ridge_search(constraints=["norm <= 100"]).set_params(loop=FAST_BO).fit(X, y)
    assert search.state_.loop_name == "bayesopt" and search.state_.constraints
    assert search.cv_results_["feasible"][search.best_index_]
