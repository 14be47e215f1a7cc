"""BayesOpt's fit schedule as pure functions of the memo (``loops/fit_plan.py``)."""

from __future__ import annotations

import pytest

from asktell.loops.fit_plan import COLD, CONDITIONED, WARM, due_fit, plan_fit, stale_limit

AUTO = {"fits_less": True, "cold_fit_every": 10}
ALWAYS = {"fits_less": False, "cold_fit_every": 10}


def _memo(**kwargs):
    return {"gp": {"some": [1.0]}, "fits": 3, "fitted_n": 20, "cold_n": 20, **kwargs}


def test_the_first_model_is_fitted_cold():
    assert plan_fit(_memo(gp=None), 5, **AUTO) == COLD
    assert plan_fit(_memo(gp=None), 5, **ALWAYS) == COLD


@pytest.mark.parametrize(("n", "plan"), [(20, CONDITIONED), (24, CONDITIONED), (25, WARM)])
def test_auto_conditions_until_the_data_grew_by_a_quarter(n, plan):
    assert plan_fit(_memo(), n, **AUTO) == plan  # 20 fitted: a fit is due at 20 + 5


def test_a_small_memo_fits_after_one_new_point():
    assert plan_fit(_memo(fitted_n=2, cold_n=1), 3, **AUTO) != CONDITIONED  # max(1, ceil(0.25 * 2)) = 1
    assert plan_fit(_memo(fitted_n=2, cold_n=1), 2, **AUTO) == CONDITIONED


def test_always_fits_at_every_ask_and_a_memo_without_fitted_n_fits():
    assert plan_fit(_memo(), 21, **ALWAYS) == WARM
    memo = _memo()
    del memo["fitted_n"]
    assert plan_fit(memo, 21, **AUTO) == WARM


def test_a_due_fit_is_cold_every_nth_fit_and_when_the_data_grew_by_half():
    assert due_fit(_memo(fits=10), 21, **AUTO) == COLD and due_fit(_memo(fits=10), 21, **ALWAYS) == COLD
    assert due_fit(_memo(), 29, **AUTO) == WARM  # 29 < 1.5 * 20
    assert due_fit(_memo(), 30, **AUTO) == COLD  # 30 >= 1.5 * 20
    assert due_fit(_memo(), 30, **ALWAYS) == WARM  # the growth rule is auto's


def test_a_plan_that_fits_follows_the_due_fit():
    assert plan_fit(_memo(), 25, **AUTO) == WARM and plan_fit(_memo(cold_n=10), 25, **AUTO) == COLD


def test_the_staleness_limit_falls_with_more_new_points():
    limits = [stale_limit(k) for k in range(1, 8)]
    assert limits == sorted(limits, reverse=True) and limits[-1] > 1.0  # the mean z^2 under H0 is 1
