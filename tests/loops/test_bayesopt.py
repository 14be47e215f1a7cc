"""BayesOpt: pending points, mixed spaces, fallbacks, acquisition functions, recommendation."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import asktell
from asktell import Categorical, Integer, Real, Space
from asktell.errors import ConfigError, ParamError, StateError
from asktell.loops import BayesOpt
from asktell.loops.bayesopt import stale_limit
from asktell.state import State
from asktell.surrogates.cached import CachedPosterior

FAST = dict(num_restarts=2, raw_samples=64, acq_maxiter=25, max_fit_iter=40)
SPACE = Space({"x": Real(-2.0, 2.0), "y": Real(-1.0, 3.0)})


def quadratic(p):
    return (p["x"] - 0.7) ** 2 + 0.5 * (p["y"] - 1.2) ** 2


def run(loop, space, f, steps, seed=0, batch=1):
    state = loop.init(space, seed=seed)
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            state = loop.tell(state, t.id, f(t.params))
    return state


def test_model_based_asks_record_where_time_goes():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 6)
    model_trials = [t for t in state.trials if t.metadata["model"] == "gp"]
    assert len(model_trials) == 2
    for t in model_trials:
        assert t.metadata["fit_seconds"] > 0 and t.metadata["acq_seconds"] > 0
        assert t.metadata["acquisition"] == "qlognei" and t.metadata["fast_path"] is True
    assert state.memo["gp"] and state.memo["fits"] == 2
    assert model_trials[1].metadata["warm_start"] is True


def test_it_optimizes_a_quadratic():
    loop = BayesOpt(n_init=5, **FAST)
    best = [run(loop, SPACE, quadratic, 16, seed=seed).best().value for seed in range(5)]
    assert float(np.median(best)) < 0.02  # Sobol alone: ~0.1 with 16 points


def test_asks_with_four_pending_trials_do_not_land_on_them():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 8)
    state, pending = loop.ask(state, n=4)
    state, fresh = loop.ask(state, n=2)
    P = SPACE.encode_many([t.params for t in pending])
    for t in fresh:
        distance = np.linalg.norm(P - SPACE.encode(t.params), axis=-1).min()
        assert float(distance) > 1e-3
    fresh_X = SPACE.encode_many([t.params for t in fresh])
    assert float(np.linalg.norm(fresh_X[0] - fresh_X[1])) > 1e-3


MIXED = Space(
    {
        "x": Real(0.0, 1.0),
        "k": Integer(1, 5),
        "w": Integer(2, 64, log=True),
        "c": Categorical(["a", "b", "c"]),
    }
)


def mixed_f(p):
    return (
        (p["x"] - 0.3) ** 2
        + 0.1 * abs(p["k"] - 3)
        + 0.01 * abs(math.log(p["w"] / 8))
        + (0.0 if p["c"] == "b" else 0.5)
    )


def test_mixed_spaces_return_valid_integers_and_choices():
    loop = BayesOpt(n_init=5, **FAST)
    state = run(loop, MIXED, mixed_f, 9, batch=1)
    state, trials = loop.ask(state, n=2)
    for t in state.trials:
        assert isinstance(t.params["k"], int) and 1 <= t.params["k"] <= 5
        assert isinstance(t.params["w"], int) and 2 <= t.params["w"] <= 64
        assert t.params["c"] in ("a", "b", "c")
    assert any(t.metadata["model"] == "gp" for t in state.trials)


def test_discrete_space_never_repeats_a_point():
    space = Space({"k": Integer(0, 3), "c": Categorical(["a", "b"])})  # 8 points in all
    loop = BayesOpt(n_init=2, **FAST)
    state = run(loop, space, lambda p: p["k"] + (p["c"] == "a"), 6)
    keys = [(t.params["k"], t.params["c"]) for t in state.trials]
    assert len(set(keys)) == len(keys)
    assert not [t for t in state.trials if "fallback" in t.metadata]  # enumerated: no replacements


@pytest.mark.parametrize(
    "values, reason",
    [([1.0], "only 1 completed"), ([2.0, 2.0, 2.0], "all completed values are equal")],
)
def test_unmodellable_data_falls_back_to_sobol_and_says_so(values, reason):
    loop = BayesOpt(n_init=len(values), **FAST)
    state = loop.init(SPACE, seed=0)
    for v in values:
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, v)
    state, (t,) = loop.ask(state)
    assert t.metadata["model"] == "sobol" and reason in t.metadata["fallback"]


def test_failed_trials_are_not_training_data():
    loop = BayesOpt(n_init=3, **FAST)
    state = loop.init(SPACE, seed=1)
    for i in range(6):
        state, (t,) = loop.ask(state)
        if i % 2:
            state = loop.tell(state, t.id, None, status="failed")
        else:
            state = loop.tell(state, t.id, quadratic(t.params))
    state, (t,) = loop.ask(state)
    assert t.metadata["n_train"] == 3


@pytest.mark.parametrize("warp", ["none", "log"])
def test_predict_is_in_the_objectives_units(warp):
    loop = BayesOpt(n_init=6, warp=warp, noise_std=0.0, **FAST)
    wide = lambda p: math.exp(3 * p["x"]) + p["y"] ** 2  # noqa: E731 - values from ~0 to ~400
    state = run(loop, SPACE, wide, 10)
    before = state.to_json()
    points = [t.params for t in state.completed]
    pred = loop.predict(state, points)
    values = torch.tensor([t.value for t in state.completed], dtype=torch.float64)
    assert pred.median.shape == pred.lower.shape == pred.upper.shape == (len(points),)
    assert bool((pred.lower <= pred.median).all() and (pred.median <= pred.upper).all())
    # a noiseless GP interpolates: at the data, the prediction is the observed value
    torch.testing.assert_close(pred.median, values, rtol=1e-2, atol=1e-2 * float(values.std()))
    assert state.to_json() == before


def test_predict_refuses_what_it_cannot_answer():
    loop = BayesOpt(n_init=3, **FAST)
    state = run(loop, SPACE, quadratic, 1)
    with pytest.raises(StateError, match="no surrogate yet"):
        loop.predict(state, [{"x": 0.0, "y": 0.0}])
    state = run(loop, SPACE, quadratic, 4)
    with pytest.raises(ParamError):
        loop.predict(state, [{"x": 9.0, "y": 0.0}])


def test_many_trials_fit_hyperparameters_on_a_subset_and_condition_on_all(monkeypatch):
    from asktell.loops import bayesopt

    loop = BayesOpt(n_init=4, fit_subset=6, refit="always", **FAST)
    state = run(loop, SPACE, quadratic, 10)
    calls = []

    def spy(X, Y, **kwargs):
        fit = fit_gp(X, Y, **kwargs)
        calls.append((X.shape[0], kwargs["warm_start"] is not None, kwargs["warm_fit_iter"], fit))
        return fit

    fit_gp = bayesopt.fit_gp
    monkeypatch.setattr(bayesopt, "fit_gp", spy)
    _, (t,) = loop.ask(state)
    assert [c[:3] for c in calls] == [(6, True, FAST.get("warm_fit_iter", 40)), (10, True, 0)]
    assert calls[1][3].model.train_inputs[0].shape[0] == 10  # conditioned on every trial
    assert calls[1][3].hyperparameters == calls[0][3].hyperparameters
    assert t.metadata["n_train"] == 10 and t.metadata["fit_seconds"] >= calls[0][3].seconds


def test_added_trials_are_training_data_and_count_toward_the_initial_design():
    loop = BayesOpt(n_init=4, **FAST)
    state = loop.init(SPACE, seed=2)
    known = [{"x": 0.5, "y": 1.0}, {"x": -1.0, "y": 0.0}, {"x": 1.5, "y": 2.5}, {"x": 0.0, "y": 2.0}]
    for point in known:
        state = loop.add(state, point, quadratic(point))
    state, (t,) = loop.ask(state)
    assert t.metadata["model"] == "gp" and t.metadata["n_train"] == 4  # no Sobol point needed


@pytest.mark.parametrize("acquisition", ["qlognei", "logei", "ucb", "pi", "ts"])
def test_every_acquisition_function_asks_single_and_batch(acquisition):
    loop = BayesOpt(acquisition=acquisition, n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 5)
    state, trials = loop.ask(state, n=2)
    assert len(trials) == 2 and all(t.metadata["acquisition"] == acquisition for t in trials)
    state, (t,) = loop.ask(state)  # with 2 pending
    assert t.metadata["model"] == "gp"


def test_ask_leaves_the_global_torch_generator_alone():
    loop = BayesOpt(n_init=3, **FAST)
    state = run(loop, SPACE, quadratic, 4)
    torch.manual_seed(42)
    before = torch.get_rng_state()
    loop.ask(state)
    assert torch.equal(before, torch.get_rng_state())


def test_noisy_recommendation_uses_the_posterior_mean():
    g = torch.Generator().manual_seed(0)
    noise = lambda: 0.3 * float(torch.randn(1, generator=g))  # noqa: E731
    loop = BayesOpt(n_init=6, **FAST)
    state = run(loop, SPACE, lambda p: quadratic(p) + noise(), 12)
    recommended = loop.recommend(state)
    assert recommended is not None and recommended.status == "completed"
    # the recommendation's true value is no worse than the luckiest observation's
    assert quadratic(recommended.params) <= quadratic(state.best().params) + 0.3


@pytest.mark.parametrize(
    "config, fragment",
    [
        ({"acquisition": "nope"}, "acquisition must be one of"),
        ({"n_init": 0}, "n_init must be a positive integer"),
        ({"noise_std": -1.0}, "noise_std"),
        ({"noise_std": float("nan")}, "noise_std"),
        ({"raw_samples": 1.5}, "raw_samples"),
        ({"budget": 0}, "budget"),
        ({"budget": 2.5}, "budget"),
        ({"refit": "sometimes"}, "refit"),
        ({"fast_path": "yes"}, "fast_path"),
    ],
)
def test_bad_configuration_is_refused(config, fragment):
    with pytest.raises(ConfigError, match=fragment):
        BayesOpt(**config)


def rosenbrock(p):
    x = [p[f"x{i}"] for i in range(4)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


def test_the_acquisition_uses_the_targets_the_model_was_fitted_on(monkeypatch):
    """With warp="auto", LogEI's incumbent is the best of the model's own training targets at every
    ask, the asks whose cold fit switches the warp included (main read the warp choice of the
    previous fit there, and gave LogEI a raw-unit incumbent (-816.9) for a model predicting around
    -7 on Rosenbrock-4: a pure-exploitation ask)."""
    from asktell.acquisition import bo

    seen = []
    original = bo.ACQUISITIONS["logei"]

    def spy(inputs, q):
        model = inputs.model
        targets = model.outcome_transform.untransform(model.train_targets.unsqueeze(-1))[0]
        seen.append((float(inputs.Y_observed.max()), float(targets.max())))
        return original(inputs, q)

    monkeypatch.setitem(bo.ACQUISITIONS, "logei", spy)
    space = Space({f"x{i}": Real(-5.0, 10.0) for i in range(4)})
    loop = BayesOpt(
        acquisition="logei", warp="auto", n_init=5, cold_fit_every=2, fast_path=False, refit="always", **FAST
    )
    state = loop.init(space, seed=0)
    switched = []  # asks whose fit chose another warp than the memo they started from
    for _ in range(11):
        before = state.memo["warped"]
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, rosenbrock(trial.params))
        switched.append(state.memo["warped"] != before)
    assert len(seen) == 6  # one per model-based ask
    for best_f, target_max in seen:
        assert best_f == pytest.approx(target_max, rel=1e-9, abs=1e-9)
    assert any(switched)  # the case main got wrong was exercised
    raw_best = -min(t.value for t in state.completed)
    assert all(best_f > raw_best + 100 for best_f, _ in seen)  # warped units, not raw ones


# --- fitting less: refit="auto" ------------------------------------------------------------------
def _spy_fits(monkeypatch):
    """Record ``(n, warm_fit_iter or None for a cold fit)`` of every fit_gp call of BayesOpt."""
    from asktell.loops import bayesopt

    calls = []
    fit_gp = bayesopt.fit_gp

    def spy(X, Y, **kwargs):
        calls.append((X.shape[0], kwargs["warm_fit_iter"] if kwargs["warm_start"] is not None else None))
        return fit_gp(X, Y, **kwargs)

    monkeypatch.setattr(bayesopt, "fit_gp", spy)
    return calls


def test_most_asks_condition_on_stored_hyperparameters_without_fitting(monkeypatch):
    loop = BayesOpt(n_init=4, **FAST)
    calls = _spy_fits(monkeypatch)
    state = run(loop, SPACE, quadratic, 24)
    plans = [t.metadata["fit"] for t in state.trials if t.metadata.get("model") == "gp"]
    assert plans[0] == "cold" and plans.count("conditioned") >= len(plans) // 2
    checked = [t for t in state.trials if "stale_z2" in t.metadata]  # conditioned, then maybe refitted
    assert len([c for c in calls if c[1] == 0]) == len(checked)  # conditioning runs no L-BFGS at all
    # the schedule: a fit at least whenever the data grew by a quarter since the last one
    fitted_at = [t.metadata["n_train"] for t in state.trials if t.metadata.get("fit") in ("cold", "warm")]
    for earlier, later in zip(fitted_at, fitted_at[1:], strict=False):
        assert later <= earlier + max(1, math.ceil(0.25 * earlier))
    assert state.memo["fitted_n"] == fitted_at[-1] and state.memo["fits"] == len(fitted_at)
    for t in state.trials:  # a conditioned ask passed the test (the limit is largest for one point)
        if t.metadata.get("fit") == "conditioned":
            assert t.metadata["stale_z2"] <= stale_limit(1)


def test_a_conditioned_ask_hands_its_staleness_posterior_to_the_fast_path(monkeypatch):
    from asktell.loops import bayesopt

    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 12)
    seen = []
    fast_acquisition = bayesopt.fast_acquisition

    def spy(*args, **kwargs):
        seen.append((args[1], kwargs["posterior"]))
        return fast_acquisition(*args, **kwargs)

    monkeypatch.setattr(bayesopt, "fast_acquisition", spy)
    plans = []
    for _ in range(8):
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, quadratic(trial.params))
        plans.append(trial.metadata["fit"])
    assert len(seen) == 8 and "conditioned" in plans
    for plan, (model, posterior) in zip(plans, seen, strict=True):
        # a conditioned ask's staleness check built the posterior; a fitted ask's acquisition builds its own
        assert (posterior is not None) == (plan == "conditioned")
        if posterior is not None:
            torch.testing.assert_close(posterior.L, CachedPosterior(model).L, rtol=0, atol=0)


def test_stale_hyperparameters_are_refitted_when_new_points_contradict_them(monkeypatch):
    """A function that is flat where the design fell and jumps where the asks go: the stored
    hyperparameters (a long lengthscale) predict the new points badly, and the ask refits."""
    loop = BayesOpt(n_init=6, **FAST)
    state = run(loop, SPACE, lambda p: 0.01 * p["x"], 6)
    state, (trial,) = loop.ask(state)
    assert trial.metadata["fit"] == "cold" and state.memo["fitted_n"] == 6
    state = loop.add(state, {"x": 0.1, "y": 0.1}, 50.0)  # contradicts the model: z^2 in the thousands
    state, (trial,) = loop.ask(state)  # 7 < 6 + 2 trials: not due by the schedule
    assert trial.metadata["stale_z2"] > stale_limit(1) and trial.metadata["fit"] in ("warm", "cold")
    assert state.memo["fitted_n"] == 7


def test_the_staleness_limit_is_the_chi_square_quantile_per_point():
    # the 99% quantiles of chi-square(1), (2), (5), over the degrees of freedom
    assert [round(stale_limit(k), 3) for k in (1, 2, 5)] == [6.635, 4.605, 3.017]


def test_refit_always_fits_every_ask(monkeypatch):
    loop = BayesOpt(n_init=4, refit="always", **FAST)
    calls = _spy_fits(monkeypatch)
    state = run(loop, SPACE, quadratic, 10)
    plans = [t.metadata["fit"] for t in state.trials if t.metadata.get("model") == "gp"]
    assert "conditioned" not in plans and len(plans) == 6
    assert all(c[1] != 0 for c in calls)


def test_a_state_from_before_the_rule_fits_at_its_next_ask():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 6)
    memo = {k: v for k, v in state.memo.items() if k not in ("fitted_n", "cold_n")}
    old = State.from_json(state.to_json().replace(json.dumps(state.memo), json.dumps(memo)))
    assert "fitted_n" not in old.memo
    old, (trial,) = loop.ask(old)
    assert trial.metadata["fit"] in ("warm", "cold") and old.memo["fitted_n"] == 6


@pytest.mark.parametrize("key", ["fitted_n", "cold_n"])
def test_a_memo_counting_more_fitted_trials_than_completed_is_refused(key):
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 6)
    text = state.to_json()
    bad = json.loads(text)
    bad["memo"][key] = 99
    with pytest.raises(StateError, match=key):
        asktell.load(json.dumps(bad))


def test_asks_are_the_same_from_a_warm_state_and_from_its_json():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, SPACE, quadratic, 12)
    rebuilt = State.from_json(state.to_json())
    for _ in range(3):
        state, (a,) = loop.ask(state)
        rebuilt, (b,) = loop.ask(rebuilt)
        assert a.params == b.params and a.metadata["fit"] == b.metadata["fit"]
        state, rebuilt = (
            loop.tell(state, a.id, quadratic(a.params)),
            loop.tell(rebuilt, b.id, quadratic(b.params)),
        )


def test_the_fast_path_asks_what_botorchs_qlognei_asks():
    """The fast path changes the time of an ask, not the point (up to L-BFGS rounding)."""
    state = run(BayesOpt(n_init=5, **FAST), SPACE, quadratic, 9)
    _, (fast,) = BayesOpt(n_init=5, **FAST).ask(state)
    text = state.to_json().replace('"fast_path": true', '"fast_path": false')
    _, (plain,) = BayesOpt(n_init=5, fast_path=False, **FAST).ask(State.from_json(text))
    assert fast.metadata["fast_path"] is True and "fast_path" not in plain.metadata
    assert SPACE.encode(fast.params) == pytest.approx(SPACE.encode(plain.params), abs=1e-4)


# --- small discrete spaces: the acquisition over every point not asked yet ----------------------
def test_a_small_integer_space_is_searched_without_random_replacements():
    """Tuning a k-NN-like pair of integers (100 points): main's continuous optimizer kept landing on
    known points (35-48 of 64 asks became random replacements); enumeration never does."""
    space = Space({"k": Integer(1, 10), "w": Integer(1, 10)})
    state = run(
        BayesOpt(n_init=4, **FAST), space, lambda p: (p["k"] - 3.3) ** 2 + 0.5 * (p["w"] - 7.6) ** 2, 24
    )
    keys = [(t.params["k"], t.params["w"]) for t in state.trials]
    assert len(set(keys)) == len(keys)
    assert not [t for t in state.trials if "fallback" in t.metadata]
    assert state.best().value == pytest.approx(0.09 + 0.08)  # k = 3, w = 8: the grid's optimum


def test_a_batch_from_an_enumerated_space_is_distinct_and_new():
    space = Space({"k": Integer(0, 4), "c": Categorical(["a", "b", "c"])})  # 15 points
    loop = BayesOpt(n_init=3, **FAST)
    state = run(loop, space, lambda p: p["k"] + {"a": 0.0, "b": 0.5, "c": 2.0}[p["c"]], 5)
    state, batch = loop.ask(state, n=4)
    keys = [(t.params["k"], t.params["c"]) for t in state.trials]
    assert len(set(keys)) == len(keys) == 9
    assert not [t for t in batch if "fallback" in t.metadata]


def test_enumeration_lists_every_point_of_a_small_discrete_space():
    from asktell.acquisition.bo import ENUMERATION_LIMIT, enumeration

    grid = enumeration(3, {0: [0.1, 0.5, 0.9]}, {1: [0.0, 1.0]}, {2: 0.25})
    assert grid is not None and grid.shape == (6, 3)
    assert {tuple(row) for row in grid.tolist()} == {
        (a, b, 0.25) for a in (0.1, 0.5, 0.9) for b in (0.0, 1.0)
    }
    assert enumeration(2, {0: [0.0, 1.0]}, {}, {}) is None  # coordinate 1 is continuous
    many = [i / 99 for i in range(100)]
    assert ENUMERATION_LIMIT < 100 * 100 and enumeration(2, {0: many, 1: many}, {}, {}) is None


def test_unasked_drops_exactly_the_known_rows_of_a_long_list():
    """torch.cdist's default (matrix-product) distance is ~1e-8 off for equal rows beyond 25 rows;
    the filter must still see them as equal."""
    from asktell.acquisition.bo import unasked

    values = [(i + 0.5) / 10 for i in range(10)]
    choices = torch.cartesian_prod(
        torch.tensor(values, dtype=torch.float64), torch.tensor(values, dtype=torch.float64)
    )
    avoid = choices[torch.arange(0, 100, 3)]
    left = unasked(choices, avoid)
    assert left.shape[0] == 100 - avoid.shape[0]
    assert not (torch.cdist(left, avoid, compute_mode="donot_use_mm_for_euclid_dist") < 1e-9).any()


def test_beyond_fit_subset_only_the_schedule_refits():
    """Above ``fit_subset`` trials the hyperparameters come from a subset and the asked points are
    predicted overconfidently; the evidence check would refit at every ask there, for nothing."""
    loop = BayesOpt(n_init=6, fit_subset=6, **FAST)
    state = run(loop, SPACE, lambda p: 0.01 * p["x"], 8)
    state, (trial,) = loop.ask(state)
    state = loop.tell(state, trial.id, 50.0)  # contradicts the model: would fail the staleness test
    fitted_n, n = state.memo["fitted_n"], len(state.completed)
    assert n > 6 and n < fitted_n + max(1, math.ceil(0.25 * fitted_n))  # not due by the schedule
    _, (trial,) = loop.ask(state)
    assert trial.metadata["fit"] == "conditioned" and "stale_z2" not in trial.metadata
    # the same state under a loop that fits on all its trials: the evidence check refits
    wide = BayesOpt(n_init=6, fit_subset=256, **FAST)
    _, (checked,) = wide.ask(State.from_json(state.to_json().replace('"fit_subset": 6', '"fit_subset": 256')))
    assert checked.metadata["stale_z2"] > stale_limit(1) and checked.metadata["fit"] != "conditioned"


# --- polishing the incumbent at the end of a known budget ----------------------------------------
def test_the_last_tenth_of_a_budget_polishes_the_incumbent():
    loop = BayesOpt(n_init=5, budget=20, **FAST)
    state = run(loop, SPACE, quadratic, 20)
    polished = [t for t in state.trials if t.metadata.get("polish")]
    assert [t.id for t in polished] == [18, 19]  # ceil(0.1 * 20) = 2 asks
    for t in polished:
        assert t.metadata["acquisition"] == "posterior_mean"
        earlier = state.completed[: t.id]
        center = min(earlier, key=lambda e: quadratic(e.params))  # noiseless: the best observed
        step = np.abs(SPACE.encode(t.params) - SPACE.encode(center.params))
        assert float(step.max()) <= 0.05 + 1e-9  # inside the box around the incumbent
    assert not [t for t in state.trials[:18] if t.metadata.get("polish")]
    again = run(loop, SPACE, quadratic, 20)
    assert [t.params for t in again.trials] == [t.params for t in state.trials]  # same seed, same asks


def test_polishing_leaves_batches_pending_points_and_discrete_spaces_to_the_acquisition():
    loop = BayesOpt(n_init=4, budget=8, **FAST)
    state = run(loop, SPACE, quadratic, 6)
    state, batch = loop.ask(state, n=2)  # a batch: no polishing
    assert not [t for t in batch if t.metadata.get("polish")]
    grid = Space({"k": Integer(0, 9), "c": Categorical(["a", "b"])})
    state = run(BayesOpt(n_init=4, budget=8, **FAST), grid, lambda p: (p["k"] - 4) ** 2 + (p["c"] == "a"), 8)
    assert not [t for t in state.trials if t.metadata.get("polish")]  # nothing continuous to polish
