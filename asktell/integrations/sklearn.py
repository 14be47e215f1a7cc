"""``AskTellSearchCV``: tune a scikit-learn estimator with an asktell loop.

A search estimator in the style of :class:`~sklearn.model_selection.RandomizedSearchCV`, built on
scikit-learn's own :class:`~sklearn.model_selection._search.BaseSearchCV` (as scikit-optimize's
``BayesSearchCV`` is): the base class runs the cross-validation, in parallel with ``n_jobs``, and
provides ``cv_results_``, ``best_params_``, ``best_score_``, ``best_estimator_``, multi-metric
scoring and ``predict``/``score``/... delegated to the refitted estimator. This class only decides
*which* candidates to evaluate, in :meth:`AskTellSearchCV._run_search`: it asks the loop for
``n_points`` candidates, lets scikit-learn cross-validate them (all folds of all candidates in one
parallel batch), and tells the loop ``-mean_test_score``, since asktell minimizes and scikit-learn
scores are higher-is-better.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.svm import SVC
    >>> from asktell import Real, Space
    >>> from asktell.loops import Sobol
    >>> from asktell.integrations.sklearn import AskTellSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> space = Space({"C": Real(1e-2, 1e2, log=True), "gamma": Real(1e-3, 1e1, log=True)})
    >>> search = AskTellSearchCV(SVC(), space, loop=Sobol(), n_iter=4, cv=3).fit(X, y)
    >>> sorted(search.best_params_)
    ['C', 'gamma']
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from asktell.errors import ConfigError
from asktell.space import Categorical, Integer, Real, Space
from asktell.state import FAILED, State


def _seed_from(random_state: Any) -> int:
    """The loop seed for ``random_state``: an int as it is, None as 0, a RandomState draws one."""
    if random_state is None:
        return 0
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ConfigError(f"random_state must be >= 0 or None, got {random_state!r}.")
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


def _as_space(space: Any) -> Space:
    """A Space from a Space, a dict of parameters, or a dict of their JSON forms."""
    if isinstance(space, Space):
        return space
    if all(isinstance(p, (Real, Integer, Categorical)) for p in space.values()):
        return Space(space)
    return Space.from_dict(space)


def _scored_metric(refit: Any, results: Mapping[str, Any]) -> str:
    """The ``mean_test_*`` key whose (negated) value the loop is told."""
    if "mean_test_score" in results:  # single metric
        return "mean_test_score"
    if isinstance(refit, str) and f"mean_test_{refit}" in results:
        return f"mean_test_{refit}"
    # multi-metric with refit=False or a callable: the first metric of `scoring`
    return next(key for key in results if key.startswith("mean_test_"))


class AskTellSearchCV(BaseSearchCV):
    """Cross-validated search over ``space`` whose candidates come from an asktell loop.

    Args:
        estimator: the scikit-learn estimator (or pipeline) to tune.
        space: an :class:`asktell.Space`, a dict ``{param name: Real | Integer | Categorical}``, or
            the JSON form of a space (``{"C": {"type": "real", "low": 0.01, "high": 100, "log":
            true}}``); its names are the estimator's parameters (``"svc__C"`` for a pipeline's step).
            Categorical choices are JSON scalars (str, int, float, bool, None).
        loop: any asktell loop; ``None`` means ``BayesOpt()``, the recommended loop.
        n_iter: number of candidates evaluated (each with ``cv`` fits).
        n_points: candidates asked at once and cross-validated in one parallel batch; with
            ``n_jobs > 1`` this parallelizes over candidates as well as folds.
        scoring, n_jobs, refit, cv, verbose, pre_dispatch, error_score, return_train_score: as in
            :class:`~sklearn.model_selection.RandomizedSearchCV`.
        random_state: seed of the loop. Stored as given; at ``fit`` an int is used as it is,
            ``None`` means seed 0 (asktell runs are reproducible by default, unlike scikit-learn's
            randomized search: pass another int for another run), and a ``RandomState`` draws one.

    The loop is told ``-mean_test_<metric>`` for the refit metric (``score`` for one metric; with
    several metrics and ``refit=False`` or a callable, the first metric of ``scoring``). A candidate
    whose mean test score is not finite (a fit that failed with ``error_score=np.nan``) is told as
    a failed trial, so it never becomes training data. scikit-learn refuses a batch in which *every*
    fit failed; such a batch (with ``n_points=1``, one bad candidate) is told as failed trials with
    a ``FitFailedWarning`` and is left out of ``cv_results_``, and the search goes on (it raises
    scikit-learn's error only when no candidate could be fitted at all).
    ``cv_results_["trial_id"]`` maps each row to its trial in ``state_``.

    Attributes (after ``fit``, besides those of ``BaseSearchCV``):
        state_: the final asktell :class:`~asktell.State` (``state_.to_json()`` saves the run).
        loop_: the loop that was used.

    Note:
        Each batch calls ``cv.split`` again. With a splitter that shuffles without a fixed
        ``random_state`` (``KFold(shuffle=True)``), candidates would then be compared on different
        splits; the default ``cv`` (and any int) gives the same splits every time.
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "space": [Space, dict],
        "loop": "no_validation",
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_points": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        space,
        *,
        loop=None,
        n_iter=50,
        n_points=1,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=5,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
    ):
        self.space = space
        self.loop = loop
        self.n_iter = n_iter
        self.n_points = n_points
        self.random_state = random_state
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    def _make_loop(self):
        if self.loop is not None:
            return self.loop
        from asktell.loops import default_loop

        return default_loop()

    def _run_search(self, evaluate_candidates: Callable[..., Any], *, callback_ctx: Any = None) -> None:
        """Ask ``n_points`` candidates, cross-validate them, tell ``-score``; ``n_iter`` in all."""
        loop = self._make_loop()
        space = _as_space(self.space)
        state: State = loop.init(space, seed=_seed_from(self.random_state))
        n_batches = math.ceil(self.n_iter / self.n_points)
        search_ctx = None
        if callback_ctx is not None:  # scikit-learn's callback API: one subtask per batch
            search_ctx = callback_ctx.subcontext(
                task_name="search", max_subtasks=n_batches
            ).call_on_fit_task_begin(estimator=self)
        done = 0
        n_evaluated = 0  # candidates in cv_results_ so far
        all_failed: ValueError | None = None
        while done < self.n_iter:
            state, trials = loop.ask(state, n=min(self.n_points, self.n_iter - done))
            done += len(trials)
            batch_ctx = None
            if search_ctx is not None:
                batch_ctx = search_ctx.subcontext(
                    task_name="asktell-batch",
                    max_subtasks=len(trials) * self.n_splits_,
                    sequential_subtasks=False,
                ).call_on_fit_task_begin(estimator=self)
            try:
                results = evaluate_candidates(
                    [dict(t.params) for t in trials],
                    more_results={"trial_id": [t.id for t in trials]},
                    callback_ctx=batch_ctx,
                )
            except ValueError as exc:
                # BaseSearchCV raises when *every* fit of a batch failed; with small batches that
                # is one bad candidate, not a misconfigured model. Tell the batch failed and go
                # on; the candidates are then missing from cv_results_. If no batch succeeds,
                # scikit-learn's error is raised at the end.
                if "fits failed" not in str(exc):
                    raise
                all_failed = exc
                warnings.warn(
                    f"all fits of {len(trials)} candidate(s) failed; they are told as failed "
                    f"trials and left out of cv_results_: {[t.params for t in trials]}",
                    FitFailedWarning,
                    stacklevel=2,
                )
                for trial in trials:
                    state = loop.tell(
                        state, trial.id, None, status=FAILED, metadata={"error": "all fits failed"}
                    )
                continue
            finally:
                if batch_ctx is not None:
                    batch_ctx.call_on_fit_task_end(estimator=self)
            scores = results[_scored_metric(self.refit, results)][n_evaluated:]
            n_evaluated += len(trials)
            for trial, score in zip(trials, scores, strict=True):
                if np.isfinite(score):
                    state = loop.tell(state, trial.id, -float(score))
                else:
                    state = loop.tell(
                        state,
                        trial.id,
                        None,
                        status=FAILED,
                        metadata={"error": f"mean test score is {score}"},
                    )
        self.loop_ = loop
        self.state_ = state
        if n_evaluated == 0 and all_failed is not None:
            raise all_failed
        if search_ctx is not None:
            search_ctx.call_on_fit_task_end(estimator=self)
