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

Constraints. ``constraints=["fit_time <= 0.5", "recall >= 0.9"]`` makes it a constrained search
(tuning an accurate model that trains within a time budget): each constraint bounds one column of
``cv_results_`` (the candidate's mean over the folds), named as

- ``fit_time``, ``score_time``: the mean fit and score times in seconds (``mean_fit_time``, ...);
- a metric of ``scoring`` (``recall`` with ``scoring={"acc": ..., "recall": "recall_macro"}``):
  its ``mean_test_recall``; with one metric, ``score``; ``train_<metric>`` with
  ``return_train_score=True``;
- or a column's own name (``std_test_score``, ``mean_test_recall``).

Metrics keep scikit-learn's sign (a ``neg_*`` scorer's values are negative). The loop is told each
candidate's outcomes with its value, so a loop that models constraints (BayesOpt, where it serves
them) steers towards the feasible region; Sobol and RandomSearch sample as before.
``best_index_``, ``best_params_``, ``best_score_`` and the refitted ``best_estimator_`` are those
of the best *feasible* candidate, and ``cv_results_["feasible"]`` says which candidates kept every
bound. When none did, the search does not fail after all its fits: it warns with an
:class:`InfeasibleSearchWarning` and picks the candidate closest to feasible (the least total
violation, each relative to its bound's magnitude); turn the warning into an error with
``warnings.simplefilter("error", InfeasibleSearchWarning)`` to refuse such a result.

Several objectives. ``objectives=["accuracy", "fit_time"]`` makes it a multi-objective search
(the most accurate models against the fastest to train): the loop is told each candidate's
objectives as a list, every one minimized, as asktell's values are (BayesOpt models each one and
asks where the front's hypervolume grows most; Sobol and RandomSearch sample as before). An
objective is named as

- ``fit_time``, ``score_time``: the mean fit and score times in seconds, minimized as they are;
- a metric of ``scoring`` (``"f1"`` with ``scoring={"f1": "f1_macro", ...}``), or with one metric
  ``score``: its ``mean_test_<metric>``, maximized (told negated: scikit-learn scores are
  higher-is-better, ``neg_*`` scorers included);
- a scikit-learn scorer name (``"accuracy"``, ``"neg_log_loss"``, ``sklearn.metrics.get_scorer_names()``)
  that ``scoring`` does not have: it is added to the scoring, so ``cv_results_`` has every metric of
  ``scoring`` and every objective (``mean_test_accuracy``, ...) and ``scoring`` itself is left as given.

Which candidate is best (``best_index_``, ``best_params_``, ``best_score_`` and the refitted
``best_estimator_``) follows scikit-learn's multi-metric ``refit``, with the objectives' order as
their priority:

- ``refit=True`` (the default): the feasible candidate best on the *first* objective, ties broken
  by the second, then the next (``objectives=["accuracy", "fit_time"]``: the most accurate, and of
  equally accurate ones the fastest). It is always on the Pareto front. ``best_score_`` is its mean
  test score of the first objective that is a metric;
- ``refit="<metric>"`` (a metric of the scoring, as in scikit-learn): the feasible candidate best
  on that metric, ties broken by the objectives in order;
- a callable ``refit`` chooses itself from ``cv_results_`` (as in scikit-learn), where
  ``cv_results_["pareto_optimal"]`` marks the front: ``refit=lambda r: int(np.flatnonzero(
  r["pareto_optimal"])[-1])`` takes the front's last candidate;
- ``refit=False``: no best candidate and no refit, as in scikit-learn.

``pareto_front_`` lists the front's rows of ``cv_results_`` (completed, feasible candidates no other
such candidate beats in every objective; of candidates with equal objectives only the first),
in row order, and ``cv_results_["pareto_optimal"]`` marks them: the same trials as
``state_.pareto_front()``. Constraints combine with objectives: the front and the best are the
feasible candidates', and with none feasible the warning above and the closest candidate.

Priors. The space may be written as scikit-learn's ``param_distributions`` are, with scipy.stats
frozen distributions and lists: ``{"C": loguniform(1e-2, 1e2), "gamma": norm(...)}``; a uniform or
log-uniform distribution is a range without a prior, a normal, truncated normal, Beta or log-normal
one a range with that prior (:func:`param_from_distribution`), which BayesOpt then follows (piBO,
:mod:`asktell.priors`) and RandomSearch draws from.

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
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.metrics._scorer import _check_multimetric_scoring, _MultimetricScorer
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from asktell.constraints import Constraint, parse_constraints
from asktell.errors import ConfigError
from asktell.priors import Beta, Normal
from asktell.space import Categorical, Integer, Real, Space, param_from_dict
from asktell.state import FAILED, State


class InfeasibleSearchWarning(UserWarning):
    """No candidate of an :class:`AskTellSearchCV` kept every constraint; ``best_params_`` is the
    candidate closest to them."""


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
    """A Space from a Space, a dict of parameters, of their JSON forms, or of scipy.stats frozen
    distributions and lists in the style of ``RandomizedSearchCV``'s ``param_distributions``
    (:func:`param_from_distribution`); the kinds may be mixed."""
    if isinstance(space, Space):
        return space
    if not isinstance(space, Mapping):
        raise ConfigError(f"space must be a Space or a dict of parameters, got {type(space).__name__}.")
    return Space({name: _param(name, spec) for name, spec in space.items()})


def _param(name: str, spec: Any) -> Real | Integer | Categorical:
    if isinstance(spec, (Real, Integer, Categorical)):
        return spec
    if isinstance(spec, Mapping):
        return param_from_dict(spec)
    if isinstance(spec, (list, tuple)):
        return Categorical(tuple(spec))
    if hasattr(spec, "dist") and hasattr(spec, "support"):
        return param_from_distribution(spec, name)
    raise ConfigError(
        f"parameter {name!r}: expected a Real, Integer, Categorical, its JSON form, a list of choices "
        f"or a scipy.stats frozen distribution, got {spec!r}."
    )


# A normal or log-normal prior from scipy.stats has unbounded support: the parameter spans this many
# standard deviations either side of its centre (99.7% of the belief).
DISTRIBUTION_SPAN = 3.0


def param_from_distribution(dist: Any, name: str = "parameter") -> Real | Integer:
    """A parameter from a scipy.stats frozen distribution, as scikit-learn users write them:

    - ``uniform(loc, scale)``, ``loguniform(a, b)`` (``reciprocal``), ``randint(low, high)``: the
      range, no prior (scikit-learn samples them uniformly; so does asktell's design);
    - ``norm(loc, scale)``: ``Real(loc -+ 3 scale, prior=Normal(loc, scale))``;
    - ``truncnorm(a, b, loc, scale)``: its support, with ``Normal(loc, scale)``;
    - ``beta(a, b, loc, scale)``: ``Real(loc, loc + scale, prior=Beta(a, b))``;
    - ``lognorm(s, scale=m)``: a log parameter ``m * exp(-+3 s)``, with ``Normal(m, s / ln 10)``
      (a prior in decades).
    """
    kind = dist.dist.name
    low, high = (float(v) for v in dist.support())
    shapes, loc, scale = dist.dist._parse_args(*dist.args, **dist.kwds)  # scipy's own parsing of them
    if kind == "uniform":
        return Real(low, high)
    if kind in ("loguniform", "reciprocal"):
        return Real(low, high, log=True)
    if kind == "randint":
        return Integer(int(low), int(high))
    if kind == "norm":
        return Real(
            loc - DISTRIBUTION_SPAN * scale, loc + DISTRIBUTION_SPAN * scale, prior=Normal(loc, scale)
        )
    if kind == "truncnorm":
        return Real(low, high, prior=Normal(loc, scale))
    if kind == "beta":
        return Real(low, high, prior=Beta(*shapes))
    if kind == "lognorm" and loc == 0:
        (sigma,) = shapes
        spread = math.exp(DISTRIBUTION_SPAN * sigma)
        return Real(scale / spread, scale * spread, log=True, prior=Normal(scale, sigma / math.log(10)))
    raise ConfigError(
        f"parameter {name!r}: scipy.stats.{kind} is not a distribution asktell maps (uniform, loguniform, "
        "randint, norm, truncnorm, beta, lognorm with loc=0); give an asktell parameter instead."
    )


def _scored_metric(refit: Any, results: Mapping[str, Any]) -> str:
    """The ``mean_test_*`` key whose (negated) value the loop is told."""
    if "mean_test_score" in results:  # single metric
        return "mean_test_score"
    if isinstance(refit, str) and f"mean_test_{refit}" in results:
        return f"mean_test_{refit}"
    # multi-metric with refit=False or a callable: the first metric of `scoring`
    return next(key for key in results if key.startswith("mean_test_"))


def _outcome_column(name: str, columns: Collection[str]) -> str:
    """The ``cv_results_`` column a constraint's outcome ``name`` bounds (see the module docs)."""
    for key in (name, f"mean_test_{name}", f"mean_{name}"):
        if key in columns and key.startswith(("mean_", "std_")):
            return key
    short = sorted(
        {k[len("mean_test_") :] for k in columns if k.startswith("mean_test_")}
        | {k[len("mean_") :] for k in columns if k.startswith("mean_") and not k.startswith("mean_test_")}
    )
    raise ConfigError(
        f"the constraint outcome {name!r} is no column of this search's results; constrain one of "
        f"{short} (fit_time, score_time, a metric of scoring) or a mean_/std_ column of cv_results_."
    )


def _expected_columns(scoring: Any, return_train_score: bool) -> list[str] | None:
    """The mean/std columns ``cv_results_`` will have, where ``scoring`` says (None for a callable,
    whose metrics are known only once it has scored)."""
    if callable(scoring):
        return None
    # several metrics by name, or one (None or a scorer's name) called "score"
    metrics = [str(m) for m in scoring] if isinstance(scoring, (Mapping, list, tuple, set)) else ["score"]
    parts = ["fit_time", "score_time", *(f"test_{m}" for m in metrics)]
    if return_train_score:
        parts += [f"train_{m}" for m in metrics]
    return [f"{stat}_{part}" for part in parts for stat in ("mean", "std")]


TIMES = {"fit_time": "mean_fit_time", "score_time": "mean_score_time"}  # objectives minimized as they are


def _check_objectives(objectives: Any) -> list[str]:
    """The objectives' names (empty: a search of one objective, the refit metric)."""
    if objectives is None:
        return []
    names = list(objectives) if isinstance(objectives, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(
            "objectives must be a non-empty list of names (['accuracy', 'fit_time']), "
            f"got {objectives!r:.200}."
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"objectives must name each objective once, got {twice} twice in {names}.")
    return names


def _objective_scoring(scoring: Any, objectives: Sequence[str]) -> Any:
    """The scoring a search of ``objectives`` evaluates with: ``scoring``, plus a scorer for each
    objective that is a scikit-learn scorer name ``scoring`` lacks (then a dict of metrics)."""
    metrics = [name for name in objectives if name not in TIMES]
    if callable(scoring):  # its metrics are known once it has scored
        return scoring
    if scoring is None or isinstance(scoring, str):
        if all(name in ("score", scoring) for name in metrics):
            return scoring  # one metric, called "score"
        base: dict[str, Any] = {} if scoring is None else {scoring: scoring}
    elif isinstance(scoring, Mapping):
        base = dict(scoring)
    else:  # a list, tuple or set of scorer names
        base = {str(name): name for name in scoring}
    known = set(get_scorer_names())
    for name in metrics:
        if name in base:
            continue
        if name not in known:
            raise ConfigError(
                f"the objective {name!r} is no metric of scoring {sorted(base) or scoring!r} and no "
                "scikit-learn scorer name (sklearn.metrics.get_scorer_names()); name a metric of "
                "scoring, a scorer such as 'accuracy' or 'neg_log_loss', or fit_time / score_time."
            )
        base[name] = name
    return base


def _objective_columns(
    objectives: Sequence[str], scoring: Any, columns: Collection[str]
) -> list[tuple[str, float]]:
    """Each objective's ``cv_results_`` column and sign (``+1`` minimized as it is, ``-1`` a score,
    negated); ConfigError for a name that is no column."""
    out = []
    for name in objectives:
        if name in TIMES:
            out.append((TIMES[name], 1.0))
        elif f"mean_test_{name}" in columns:
            out.append((f"mean_test_{name}", -1.0))
        elif "mean_test_score" in columns and name in ("score", scoring):
            out.append(("mean_test_score", -1.0))  # the one metric of scoring
        else:
            metrics = sorted(k[len("mean_test_") :] for k in columns if k.startswith("mean_test_"))
            raise ConfigError(
                f"the objective {name!r} is no metric of this search's scoring; its metrics are "
                f"{metrics} (and fit_time, score_time)."
            )
    return out


def _objective_matrix(targets: Sequence[tuple[str, float]], results: Mapping[str, Any]) -> np.ndarray:
    """The candidates' minimized objectives: ``n x m`` floats (``nan`` where a fit failed)."""
    return np.column_stack([sign * np.asarray(results[col], dtype=float) for col, sign in targets])


def _violations(
    constraints: Sequence[Constraint], columns: Sequence[str], results: Mapping[str, Any]
) -> np.ndarray:
    """Each candidate's total violation of the bounds, each relative to its bound's magnitude (1 for
    a bound of 0); ``inf`` where an outcome is not finite. ``n`` floats."""
    total = np.zeros(len(results["params"]))
    for constraint, column in zip(constraints, columns, strict=True):
        slack = np.array([constraint.slack(v) for v in np.asarray(results[column], dtype=float)])
        scale = abs(constraint.bound) or 1.0
        total += np.where(np.isfinite(slack), np.maximum(-slack, 0.0) / scale, np.inf)
    return total


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
        constraints: outcome constraints on columns of ``cv_results_`` (``["fit_time <= 0.5",
            "recall >= 0.9"]``, see the module's docstring); the loop must serve constraints
            (``loop.supports_constraints``). ``best_*`` are then the best feasible candidate's.
            Checked at ``fit``: an unreadable constraint or an outcome that is no column is a
            ConfigError before any fit (for a callable ``scoring``, after the first batch).
        objectives: several objectives told to the loop (``["accuracy", "fit_time"]``: scorer
            names, metrics of ``scoring``, ``fit_time``, ``score_time``; see the module's
            docstring), in order of priority for ``best_index_``; the loop must optimize that
            many (``loop.max_objectives``). Checked at ``fit``, before any fit (for a callable
            ``scoring``, after the first batch); with a callable ``scoring`` of several metrics
            ``refit`` must then name one, be a callable or be False.

    The loop is told ``-mean_test_<metric>`` for the refit metric (``score`` for one metric; with
    several metrics and ``refit=False`` or a callable, the first metric of ``scoring``). A candidate
    whose mean test score (or a constrained outcome) is not finite (a fit that failed with
    ``error_score=np.nan``) is told as a failed trial, so it never becomes training data; it is
    not feasible. scikit-learn refuses a batch in which *every*
    fit failed; such a batch (with ``n_points=1``, one bad candidate) is told as failed trials with
    a ``FitFailedWarning`` and is left out of ``cv_results_``, and the search goes on (it raises
    scikit-learn's error only when no candidate could be fitted at all).
    ``cv_results_["trial_id"]`` maps each row to its trial in ``state_``; with constraints,
    ``cv_results_["feasible"]`` says whether the row kept every bound. With a callable ``refit``
    the callable chooses, and may read that column.

    Attributes (after ``fit``, besides those of ``BaseSearchCV``):
        state_: the final asktell :class:`~asktell.State` (``state_.to_json()`` saves the run).
        loop_: the loop that was used.
        pareto_front_: with ``objectives``, the rows of ``cv_results_`` on the Pareto front
            (``int`` array, in row order; ``cv_results_["pareto_optimal"]`` marks them).

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
        "constraints": [list, tuple, None],
        "objectives": [list, tuple, None],
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
        constraints=None,
        objectives=None,
    ):
        self.space = space
        self.constraints = constraints
        self.objectives = objectives
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
        constraints = parse_constraints(self.constraints)
        objectives = _check_objectives(self.objectives)
        scoring = _objective_scoring(self.scoring, objectives) if objectives else self.scoring
        expected = _expected_columns(scoring, self.return_train_score)
        if expected is not None:  # a misspelt outcome or objective is refused before the first fit
            for constraint in constraints:
                _outcome_column(constraint.name, expected)
            _objective_columns(objectives, scoring, expected)
        state: State = loop.init(
            space,
            seed=_seed_from(self.random_state),
            n_objectives=max(len(objectives), 1),
            constraints=constraints,
        )
        n_batches = math.ceil(self.n_iter / self.n_points)
        search_ctx = None
        if callback_ctx is not None:  # scikit-learn's callback API: one subtask per batch
            search_ctx = callback_ctx.subcontext(
                task_name="search", max_subtasks=n_batches
            ).call_on_fit_task_begin(estimator=self)
        done = 0
        n_evaluated = 0  # candidates in cv_results_ so far
        all_failed: ValueError | None = None
        results: dict[str, Any] | None = None  # the latest results: the dict that becomes cv_results_
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
            columns = [_outcome_column(c.name, list(results)) for c in constraints]
            if objectives:
                targets = _objective_columns(objectives, scoring, list(results))
                told = _objective_matrix(targets, results)
            else:  # one objective: -score of the refit metric
                told = -np.asarray(results[_scored_metric(self.refit, results)], dtype=float)[:, None]
            for row, trial in enumerate(trials, start=n_evaluated):
                values = dict(zip(objectives or ["score"], told[row].tolist(), strict=True))
                state = self._tell(loop, state, trial.id, values, constraints, columns, results, row)
            n_evaluated += len(trials)
            if constraints:
                # evaluate_candidates returns the very dict that becomes cv_results_ (and that
                # _select_best_index reads): the column covers every row so far
                results["feasible"] = np.array(
                    [state.trial(int(i)).feasible is True for i in results["trial_id"]]
                )
        self.loop_ = loop
        self.state_ = state
        if n_evaluated == 0 and all_failed is not None:
            raise all_failed
        if objectives and results is not None:
            row_of = {int(trial_id): row for row, trial_id in enumerate(results["trial_id"])}
            front = sorted(row_of[t.id] for t in state.pareto_front() if t.id in row_of)
            self.pareto_front_ = np.asarray(front, dtype=int)
            results["pareto_optimal"] = np.isin(np.arange(len(results["params"])), front)
        if search_ctx is not None:
            search_ctx.call_on_fit_task_end(estimator=self)

    @staticmethod
    def _tell(
        loop: Any,
        state: State,
        trial_id: int,
        values: Mapping[str, float],
        constraints: Sequence[Constraint],
        columns: Sequence[str],
        results: Mapping[str, Any],
        row: int,
    ) -> State:
        """Tell one candidate its minimized ``values`` (``{"score": -score}`` for one objective, else
        by objective) and its outcomes, or failed where one is not finite."""
        outcomes = {c.name: float(results[col][row]) for c, col in zip(constraints, columns, strict=True)}
        bad_values = [name for name, v in values.items() if not np.isfinite(v)]
        bad_outcomes = [name for name, v in outcomes.items() if not np.isfinite(v)]
        if bad_values or bad_outcomes:
            if bad_values == ["score"] and list(values) == ["score"]:
                what = "mean test score"
            elif bad_values:
                what = f"objectives {bad_values}"
            else:
                what = f"outcomes {bad_outcomes}"
            return loop.tell(state, trial_id, None, status=FAILED, metadata={"error": f"{what} not finite"})
        told = list(values.values())
        value = told[0] if len(told) == 1 else told
        return loop.tell(state, trial_id, value, constraints=outcomes or None)

    # --- several objectives: scikit-learn's scoring and refit ---------------------------------
    def _get_scorers(self):
        """scikit-learn's scorers and refit metric, with the objectives' scorers added; with
        ``refit=True`` the refit metric is the first objective that is a metric."""
        objectives = _check_objectives(self.objectives)
        if not objectives:
            return super()._get_scorers()
        scoring = _objective_scoring(self.scoring, objectives)
        if callable(scoring):
            if self.refit is True and any(n not in TIMES and n != "score" for n in objectives):
                raise ConfigError(
                    "with a callable scoring of several metrics, refit must name the metric to report "
                    "(refit='r2'), be a callable or be False: refit=True has no metric to report "
                    "until the scoring has scored."
                )
            return scoring, "score"
        if scoring is None or isinstance(scoring, str):
            return check_scoring(self.estimator, scoring), "score"
        scorers = _check_multimetric_scoring(self.estimator, scoring)
        if self.refit is True:
            refit_metric = self._refit_metric_of(objectives, scorers)
        else:
            self._check_refit_for_multimetric(scorers)
            refit_metric = self.refit
        return _MultimetricScorer(scorers=scorers, raise_exc=(self.error_score == "raise")), refit_metric

    @staticmethod
    def _refit_metric_of(objectives: Sequence[str], metrics: Collection[str]) -> str:
        """The metric ``refit=True`` reports: the first objective that is a metric (else scoring's first)."""
        return next((n for n in objectives if n in metrics), next(iter(metrics)))

    def score(self, X, y=None, **params):
        """The refitted best candidate's score by the refit metric (see ``BaseSearchCV.score``);
        with objectives and ``refit=True`` over several metrics, the first objective's metric."""
        if not (self.objectives and self.refit is True and getattr(self, "multimetric_", False)):
            return super().score(X, y, **params)
        check_is_fitted(self)
        if not isinstance(self.scorer_, dict):  # pragma: no cover - refused in _get_scorers
            raise ConfigError("refit=True with a callable scoring of several metrics has no score.")
        metric = self._refit_metric_of(_check_objectives(self.objectives), self.scorer_)
        return self.scorer_[metric](self.best_estimator_, X, y, **params)

    def _select_best_index(self, refit: Any, refit_metric: str, results: Mapping[str, Any]) -> int:  # type: ignore[override]
        """The best *feasible* candidate (scikit-learn's own choice without constraints or with a
        callable ``refit``; with objectives, the rule of the module's docstring); with none
        feasible, the least violating one and a warning."""
        if callable(refit):
            return int(BaseSearchCV._select_best_index(refit, refit_metric, results))
        objectives = _check_objectives(self.objectives)
        if objectives:
            return self._best_by_objectives(refit, refit_metric, results, objectives)
        if "feasible" not in results:
            return int(BaseSearchCV._select_best_index(refit, refit_metric, results))
        ranks = np.asarray(results[f"rank_test_{refit_metric}"])
        feasible = np.asarray(results["feasible"], dtype=bool)
        if feasible.any():
            rows = np.flatnonzero(feasible)
            return int(rows[np.argmin(ranks[rows])])  # ties: the first, as scikit-learn does
        closest = self._closest_to_feasible(results)
        return int(closest[np.argmin(ranks[closest])])

    def _best_by_objectives(
        self, refit: Any, refit_metric: str, results: Mapping[str, Any], objectives: Sequence[str]
    ) -> int:
        """The feasible candidate best on ``refit``'s metric (``refit=True``: on the first
        objective), ties broken by the objectives in order: the least in lexicographic order of
        the minimized keys."""
        scoring = _objective_scoring(self.scoring, objectives)
        Y = _objective_matrix(_objective_columns(objectives, scoring, list(results)), results)
        keys = [Y[:, j] for j in range(Y.shape[1])]
        if refit is not True:  # a metric named by refit comes first
            keys.insert(0, -np.asarray(results[f"mean_test_{refit_metric}"], dtype=float))
        stacked = np.column_stack(keys)
        finite = np.isfinite(stacked).all(1)
        feasible = finite & np.asarray(results.get("feasible", finite), dtype=bool)
        if feasible.any():
            rows = np.flatnonzero(feasible)
        elif "feasible" in results:
            rows = self._closest_to_feasible(results, stacklevel=6)  # one frame deeper
        else:  # every candidate failed: scikit-learn's rank (all tied at the end)
            return int(BaseSearchCV._select_best_index(refit, refit_metric, results))
        # lexsort sorts by its last key first; stable, so ties go to the first row
        order = np.lexsort(np.nan_to_num(stacked[rows], nan=np.inf).T[::-1])
        return int(rows[order[0]])

    def _closest_to_feasible(self, results: Mapping[str, Any], stacklevel: int = 5) -> np.ndarray:
        """The rows of least total violation, with an :class:`InfeasibleSearchWarning` pointing
        ``stacklevel`` frames up: the user's call of ``fit``, through scikit-learn's wrapper."""
        constraints = parse_constraints(self.constraints)
        columns = [_outcome_column(c.name, list(results)) for c in constraints]
        violation = _violations(constraints, columns, results)
        closest = np.flatnonzero(violation == violation.min())
        listed = ", ".join(map(str, constraints))
        warnings.warn(
            f"no candidate kept every constraint ({listed}); best_params_ is the one closest to them "
            "(the least total violation relative to each bound): see cv_results_['feasible'], "
            "search longer or loosen the bounds.",
            InfeasibleSearchWarning,
            stacklevel=stacklevel,
        )
        return closest
