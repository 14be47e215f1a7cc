"""When a BayesOpt ask fits its GPs, and how: the schedule and the staleness test of ``refit="auto"``.

An ask gets its GPs in one of three ways (:data:`COLD`, :data:`WARM`, :data:`CONDITIONED`):
fitted from scratch, fitted warm-started from the memo's hyperparameters, or conditioned on the
data with those hyperparameters and no L-BFGS at all. :func:`plan_fit` reads the memo (``gp``,
``fits``, ``fitted_n``, ``cold_n``) and says which; a conditioned ask then checks the stored
hyperparameters against the newest points (:func:`stale_z2` against :func:`stale_limit`) and fits
after all when they fail the test. Nothing here fits a model: the loop does, as told.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy.stats import chi2

from asktell.surrogates.cached import CachedPosterior

COLD, WARM, CONDITIONED = "cold", "warm", "conditioned"  # how an ask gets its GPs
REFIT_GROWTH = 0.25  # refit="auto": fit when the data grew by a quarter since the last fit
COLD_GROWTH = 1.5  # refit="auto": a fit is cold when the data grew by half since the last cold fit
# refit="auto": fit when the k newest points' leave-one-out z^2 under the stored hyperparameters,
# summed, exceed the chi-square(k) quantile at this level (a 1% test of "the hyperparameters still
# fit": under them each z^2 is about chi-square(1))
STALE_LEVEL = 0.99


def plan_fit(memo: Mapping[str, Any], n: int, *, fits_less: bool, cold_fit_every: int) -> str:
    """How an ask with ``n`` completed trials gets its GPs: :data:`COLD`, :data:`WARM` or
    :data:`CONDITIONED`.

    Without ``fits_less`` (``refit="always"``, or a problem where ``"auto"`` does not apply)
    every ask fits (warm-started, cold every ``cold_fit_every``-th fit). With it an ask fits only
    when the data grew by :data:`REFIT_GROWTH` since the last fit (a memo from before this rule,
    without ``fitted_n``, fits), and otherwise conditions on the data with the stored
    hyperparameters, which the caller checks against the new points (:func:`stale_z2`).
    """
    if memo["gp"] is None:
        return COLD
    if fits_less and "fitted_n" in memo:
        fitted_n = int(memo["fitted_n"])
        if n < fitted_n + max(1, math.ceil(REFIT_GROWTH * fitted_n)):
            return CONDITIONED
    return due_fit(memo, n, fits_less=fits_less, cold_fit_every=cold_fit_every)


def due_fit(memo: Mapping[str, Any], n: int, *, fits_less: bool, cold_fit_every: int) -> str:
    """The fit an ask with ``n`` completed trials makes when it fits: cold every
    ``cold_fit_every``-th fit and, with ``fits_less``, when the data grew by :data:`COLD_GROWTH`
    since the last cold fit (the warp choice and an escape from a poor local optimum of the
    marginal likelihood matter most while the data are few); else warm."""
    if memo["fits"] % cold_fit_every == 0:
        return COLD
    if fits_less and "cold_n" in memo and n >= COLD_GROWTH * memo["cold_n"]:
        return COLD
    return WARM


def stale_limit(n_new: int) -> float:
    """The largest mean ``z^2`` of ``n_new`` points that does not reject the stored
    hyperparameters: the chi-square(``n_new``) quantile at :data:`STALE_LEVEL`, over ``n_new``
    (6.6 for one point, 4.6 for two, 3.0 for five)."""
    return float(chi2.ppf(STALE_LEVEL, n_new)) / n_new


def stale_z2(posteriors: Sequence[CachedPosterior], n_new: int) -> float:
    """The evidence that stored hyperparameters went stale: the largest, over ``posteriors`` (an
    ask's objective and constraint GPs, conditioned on all ``n`` points with them), of the mean
    leave-one-out ``z^2`` of the ``n_new`` newest points (:meth:`CachedPosterior.loo_z2`; about 1
    when the hyperparameters fit the data). 0.0 without new points."""
    if n_new <= 0:
        return 0.0
    return max(float(p.loo_z2()[-n_new:].mean()) for p in posteriors)
