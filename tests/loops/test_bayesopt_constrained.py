"""BayesOpt with outcome constraints: what it refuses, how it asks (feasibility first, batches,
pending points, mixed spaces, failures as a constraint), what it predicts and recommends, and its
memo (warm starts, refusals of corrupted keys, round trips, unconstrained runs as before)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import asktell
from asktell import Categorical, Integer, Real, Space
from asktell.errors import ConfigError, StateError
from asktell.loops import BayesOpt, Sobol
from asktell.state import State

FAST = dict(num_restarts=2, raw_samples=64, acq_maxiter=25, max_fit_iter=40)
SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})
CONSTRAINTS = ["g <= 0.3", "h >= -0.5"]


def objective(p):
    return (p["x"] - 0.8) ** 2 + (p["y"] - 0.7) ** 2


def outcomes(p):
    return {"g": math.sin(4 * p["x"]) * p["y"], "h": -((p["x"] - 0.3) ** 2) - (p["y"] - 0.6) ** 2}


def run(loop, steps, *, space=SPACE, f=objective, g=outcomes, constraints=CONSTRAINTS, seed=0, batch=1):
    state = loop.init(space, seed=seed, constraints=constraints)
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            state = loop.tell(state, t.id, f(t.params), constraints=g(t.params))
    return state


def model_trials(state):
    return [t for t in state.trials if t.metadata.get("model") == "gp"]


# --- what it serves -------------------------------------------------------------------------------
@pytest.mark.parametrize("acquisition", ["ucb", "pi", "ts"])
def test_acquisitions_without_constraints_are_refused_at_init(acquisition):
    loop = BayesOpt(acquisition=acquisition)
    with pytest.raises(ConfigError, match="takes no outcome constraints"):
        loop.init(SPACE, constraints=CONSTRAINTS)
    with pytest.raises(ConfigError, match="model_failures=True makes failures a constraint"):
        BayesOpt(acquisition=acquisition, model_failures=True)
    loop.init(SPACE)  # unconstrained, they serve as before


def test_a_stored_constrained_state_of_such_a_loop_is_refused_at_load():
    state = BayesOpt().init(SPACE, constraints=CONSTRAINTS)
    data = json.loads(state.to_json())
    data["loop_config"]["acquisition"] = "ucb"
    with pytest.raises(StateError, match="takes no outcome constraints"):
        asktell.load(json.dumps(data))


@pytest.mark.parametrize("value", [1, "yes", None])
def test_model_failures_is_a_boolean(value):
    with pytest.raises(ConfigError, match="model_failures"):
        BayesOpt(model_failures=value)


# --- how it asks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("acquisition", ["qlognei", "logei", "config"])
def test_every_constrained_acquisition_asks_single_batch_and_with_pending(acquisition):
    loop = BayesOpt(acquisition=acquisition, n_init=6, **FAST)
    state = run(loop, 7)
    assert "constraint_gps" in state.memo and sorted(state.memo["constraint_gps"]) == ["g", "h"]
    state, batch = loop.ask(state, n=3)
    state, (alone,) = loop.ask(state)  # with 3 pending
    asked = [*batch, alone]
    assert all(t.metadata["model"] == "gp" and t.metadata["acquisition"] == acquisition for t in asked)
    X = SPACE.encode_many([t.params for t in asked])
    distances = np.linalg.norm(X[:, None] - X[None], axis=-1)[np.triu_indices(4, 1)]
    assert float(distances.min()) > 1e-3  # no two workers get the same point


def test_before_any_feasible_point_it_seeks_feasibility():
    """Feasible only in a small corner (x + y >= 1.7): until a trial lands there, model-based asks
    maximize the probability of feasibility (and say so), and they find the corner quickly."""
    loop = BayesOpt(n_init=4, noise_std=0.0, **FAST)
    state = run(loop, 4, g=lambda p: {"s": p["x"] + p["y"]}, constraints=["s >= 1.7"], seed=3)
    assert not state.feasible
    for _ in range(8):
        state, (t,) = loop.ask(state)
        searching = t.metadata.get("feasibility_search", False)
        assert searching == (not state.feasible)
        state = loop.tell(state, t.id, objective(t.params), constraints={"s": t.params["x"] + t.params["y"]})
        if state.feasible:
            break
    assert state.feasible, "8 feasibility-seeking asks did not find the corner"
    state, (t,) = loop.ask(state)
    assert "feasibility_search" not in t.metadata


MIXED = Space({"x": Real(0.0, 1.0), "k": Integer(1, 5), "c": Categorical(["a", "b", "c"])})


def test_mixed_spaces_and_the_log_warp_work_as_unconstrained():
    def f(p):
        return math.exp(4 * p["x"]) + 2 * abs(p["k"] - 3) + (0.0 if p["c"] == "b" else 5.0)

    def g(p):
        return {"cost": p["x"] * p["k"] + (1.0 if p["c"] == "c" else 0.0)}

    loop = BayesOpt(n_init=5, warp="log", **FAST)
    state = run(loop, 8, space=MIXED, f=f, g=g, constraints=["cost <= 2"])
    state, trials = loop.ask(state, n=2)
    assert state.memo["warped"] is True and sorted(state.memo["constraint_gps"]) == ["cost"]
    for t in state.trials:
        assert isinstance(t.params["k"], int) and t.params["c"] in ("a", "b", "c")
    assert all(t.metadata["model"] == "gp" for t in trials)


def branin(p):
    x1, x2 = p["x1"], p["x2"]
    return (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )


def test_it_beats_sobol_on_branin_in_a_disk():
    """Branin on [-5, 10] x [0, 15] within the disk (x1 - 2.5)^2 + (x2 - 7.5)^2 <= 50: of its three
    minima (0.398) only (pi, 2.275) is feasible. 20 evaluations, 6 of them the Sobol design."""
    space = Space({"x1": Real(-5.0, 10.0), "x2": Real(0.0, 15.0)})

    def disk(p):
        return {"r2": (p["x1"] - 2.5) ** 2 + (p["x2"] - 7.5) ** 2}

    def best(loop):
        state = run(loop, 20, space=space, f=branin, g=disk, constraints=["r2 <= 50"], seed=1)
        assert state.best() is not None and state.best().feasible
        return state.best().value

    ours, sobol = best(BayesOpt(n_init=6, noise_std=0.0, **FAST)), best(Sobol())
    assert ours < 0.6 and ours < sobol  # 0.398 is the constrained optimum; Sobol: 0.58 here


# --- failures as a constraint ---------------------------------------------------------------------
def fails(p):
    return p["x"] > 0.7  # the black box crashes on the right part of the square


def near_the_crash(p):
    return (p["x"] - 0.6) ** 2 + (p["y"] - 0.7) ** 2  # its optimum lies close to the crashes


def run_with_failures(loop, steps, seed=0):
    state = loop.init(SPACE, seed=seed)
    for _ in range(steps):
        state, (t,) = loop.ask(state)
        if fails(t.params):
            state = loop.tell(state, t.id, None, status="failed")
        else:
            state = loop.tell(state, t.id, near_the_crash(t.params))
    return state


def test_modelled_failures_steer_asks_away_from_the_failing_region():
    """Ignored, failed trials are no data: the region where evaluations crash stays unexplored to
    the objective's GP, which keeps asking there. Modelled, the asks after the design mostly stay
    where evaluations succeed (two seeds, 10 model-based asks each)."""
    steps, failed, states = 16, {True: 0, False: 0}, {}
    for seed in (0, 1):
        for modelled in (True, False):
            states[modelled] = run_with_failures(
                BayesOpt(n_init=6, model_failures=modelled, **FAST), steps, seed
            )
            failed[modelled] += sum(t.status == "failed" for t in states[modelled].trials[6:])
            assert ("failure_gp" in states[modelled].memo) == modelled
    assert failed[True] < failed[False] and failed[True] <= 10
    loop = BayesOpt(n_init=6, model_failures=True, **FAST)
    failed_at = next(t.params for t in reversed(states[True].trials) if t.status == "failed")
    pred = loop.predict(states[True], [{"x": 0.2, "y": 0.5}, failed_at])
    assert pred.failure is not None and float(pred.failure[0]) < 0.5 < float(pred.failure[1])
    assert pred.feasibility is not None and float(pred.feasibility[1]) < 0.5


def test_without_failures_model_failures_asks_as_before():
    a = run_with_failures(BayesOpt(n_init=4, **FAST), 6, seed=5)
    b = run_with_failures(BayesOpt(n_init=4, model_failures=True, **FAST), 6, seed=5)
    if any(t.status == "failed" for t in a.trials):  # the comparison holds until a failure
        a, b = (
            s.trials[: next(i for i, t in enumerate(a.trials) if t.status == "failed") + 1] for s in (a, b)
        )
        assert [t.params for t in a] == [t.params for t in b]
    else:
        assert [t.params for t in a.trials] == [t.params for t in b.trials]


# --- predict and recommend ------------------------------------------------------------------------
def test_predict_gives_each_constraint_in_its_units_and_the_feasibility():
    loop = BayesOpt(n_init=10, noise_std=0.0, **FAST)
    state = run(loop, 10)
    points = [t.params for t in state.completed] + [{"x": 0.5, "y": 0.5}]
    pred = loop.predict(state, points)
    b = len(points)
    assert set(pred.constraints) == {"g", "h"}
    assert pred.feasibility is not None and pred.feasibility.shape == (b,) and pred.failure is None
    for name, band in pred.constraints.items():
        assert band.mean.shape == band.lower.shape == band.upper.shape == band.probability.shape == (b,)
        assert bool((band.lower <= band.mean).all() and (band.mean <= band.upper).all())
        observed = np.array([t.constraints[name] for t in state.completed])
        np.testing.assert_allclose(band.mean[:-1].numpy(), observed, atol=0.02 * np.abs(observed).max())
    probability = pred.constraints["g"].probability * pred.constraints["h"].probability
    np.testing.assert_allclose(pred.feasibility.numpy(), probability.numpy(), rtol=1e-12)
    # noiseless: at the data, feasibility is all but certain, one way or the other
    at_data = pred.feasibility[:-1].numpy()
    feasible = np.array([t.feasible for t in state.completed])
    assert bool((at_data[feasible] > 0.9).all() and (at_data[~feasible] < 0.1).all())


def test_recommend_picks_a_likely_feasible_point():
    loop = BayesOpt(n_init=8, **FAST)  # noise inferred: the model-based recommendation
    state = run(loop, 10)
    trial = loop.recommend(state)
    assert trial is not None and trial.feasible
    assert trial.value <= min(t.value for t in state.feasible) + 0.05
    # with nothing feasible, the trial most likely feasible: the least violating here
    loop = BayesOpt(n_init=6, **FAST)
    state = run(loop, 6, g=lambda p: {"s": p["x"] + p["y"]}, constraints=["s >= 3"])
    trial = loop.recommend(state)
    assert trial is not None and not trial.feasible
    sums = [t.params["x"] + t.params["y"] for t in state.completed]
    assert trial.params["x"] + trial.params["y"] == pytest.approx(max(sums), abs=0.2)


# --- the memo -------------------------------------------------------------------------------------
def test_outcome_gps_warm_start_from_the_memo(monkeypatch):
    from asktell.loops import bayesopt

    loop = BayesOpt(n_init=5, refit="always", **FAST)  # every ask fits: warm from the memo
    state = run(loop, 6)
    calls = []

    def spy(X, Y, **kwargs):
        calls.append(kwargs["warm_start"])
        return fit_gp(X, Y, **kwargs)

    fit_gp = bayesopt.fit_gp
    monkeypatch.setattr(bayesopt, "fit_gp", spy)
    loop.ask(state)
    assert calls[1:] == [state.memo["constraint_gps"]["g"], state.memo["constraint_gps"]["h"]]


def test_the_same_state_asks_the_same_points_and_round_trips_mid_run():
    loop = BayesOpt(n_init=5, acquisition="config", **FAST)
    state = run(loop, 7)
    again = asktell.load(state.to_json())[1]
    a, trials_a = loop.ask(state, n=2)
    b, trials_b = loop.ask(again, n=2)
    assert [t.params for t in trials_a] == [t.params for t in trials_b]
    assert a.without_timings() == b.without_timings()
    assert asktell.load(a.to_json())[1] == a


def test_an_unconstrained_run_keeps_its_memo_as_before():
    loop = BayesOpt(n_init=3, **FAST)
    state = loop.init(SPACE)
    for _ in range(5):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, objective(t.params))
    assert sorted(state.memo) == ["cold_n", "fits", "fitted_n", "gp", "sobol_issued", "warped"]


def _corrupted(state, **changes):
    data = json.loads(state.to_json())
    data["memo"] = {**data["memo"], **changes}
    for key, value in changes.items():
        if value is None:
            del data["memo"][key]
    return State.from_dict(data)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"constraint_gps": "x"}, "constraint_gps must be an object"),
        ({"constraint_gps": {"g": {}}}, r"for the outcomes \['g'\], but the problem constrains"),
        ({"constraint_gps": {"g": {}, "h": {}, "mem": {}}}, "for the outcomes"),
        ({"constraint_gps": {"g": {}, "H": {}}}, "for the outcomes"),
        ({"constraint_gps": {"g": {"a": [[1.0], [1.0, 2.0]]}, "h": {}}}, "ragged"),
        ({"failure_gp": {}}, "does not model failures"),
        ({"infeasible": True}, "only CONFIG"),
        ({"infeasible": "yes"}, "infeasible must be true or false"),
    ],
)
def test_corrupted_outcome_memos_are_refused_at_load(change, fragment):
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 5)
    with pytest.raises(StateError, match=fragment):
        loop.check_state(_corrupted(state, **change))


def test_outcome_memos_in_an_unconstrained_state_are_refused():
    loop = BayesOpt(n_init=3, **FAST)
    state = loop.init(SPACE)
    with pytest.raises(StateError, match="for the outcomes"):
        loop.check_state(_corrupted(state, constraint_gps={"g": {}}))


def test_a_deleted_outcome_memo_still_asks():
    loop = BayesOpt(n_init=4, acquisition="config", **FAST)
    state = run(loop, 5)
    state = _corrupted(state, constraint_gps=None, infeasible=None)
    loop.check_state(state)
    _, (t,) = loop.ask(state)
    assert t.metadata["model"] == "gp"


def test_a_constrained_problem_fits_at_every_ask():
    """refit="auto" applies to one unconstrained objective only: on held-out pressure-vessel seeds
    conditioned outcome GPs ended in the worse basin, and the acquisition dominates these asks."""
    loop = BayesOpt(n_init=5, **FAST)
    state = run(loop, 9)
    plans = [t.metadata["fit"] for t in state.trials if t.metadata.get("model") == "gp"]
    assert plans and "conditioned" not in plans
    assert state.memo["fits"] == len(plans)
