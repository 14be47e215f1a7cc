"""BayesOpt with several objectives: it beats Sobol's hypervolume on a small Branin-Currin run, asks
batches and with pending points, with constraints and in mixed spaces; what it refuses; its memo
(one warm start and one warp per objective, single-objective memos unchanged), determinism and
round trips; what it predicts and recommends."""

from __future__ import annotations

import json
import math

import pytest
import torch

import asktell
from asktell import Categorical, Integer, Real, Space
from asktell.errors import ConfigError, StateError
from asktell.loops import BayesOpt, Sobol
from asktell.pareto import non_dominated
from asktell.state import State

FAST = dict(num_restarts=2, raw_samples=32, acq_maxiter=20, max_fit_iter=40)
SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})


def branin_currin(p):
    """Branin and Currin on the unit square (BoTorch's BraninCurrin, minimized)."""
    x1, x2 = 15 * p["x"] - 5, 15 * p["y"]
    branin = (
        (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1)
        + 10
    )
    x, y = p["x"], p["y"]
    currin = (
        (1 - math.exp(-1 / (2 * max(y, 1e-9))))
        * (2300 * x**3 + 1900 * x**2 + 2092 * x + 60)
        / (100 * x**3 + 500 * x**2 + 4 * x + 20)
    )
    return [branin, currin]


def outcomes(p):
    return {"g": p["x"] + p["y"]}


def run(loop, steps, *, space=SPACE, f=branin_currin, m=2, constraints=(), seed=0, batch=1, **init):
    state = loop.init(space, seed=seed, n_objectives=m, constraints=list(constraints), **init)
    return tell_more(loop, state, steps, f=f, batch=batch)


def tell_more(loop, state, steps, *, f=branin_currin, batch=1):
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            told = {"constraints": outcomes(t.params)} if state.constraints else {}
            state = loop.tell(state, t.id, f(t.params), **told)
    return state


def model_trials(state):
    return [t for t in state.trials if t.metadata.get("model") == "gp"]


# --- it optimizes ---------------------------------------------------------------------------------
def test_it_improves_the_hypervolume_over_sobol_on_the_same_budget():
    budget = 14
    state = run(BayesOpt(n_init=5, **FAST), budget)
    sobol = run(Sobol(), budget)
    # against the functions' worst values (the whole square's front counts) and against BoTorch's
    # reference point for BraninCurrin (18, 6), whose maximal hypervolume is 59.36
    loose, tight = (310.0, 14.0), (18.0, 6.0)
    assert state.hypervolume(loose) > 1.1 * sobol.hypervolume(loose)
    ours, theirs = state.hypervolume(tight), sobol.hypervolume(tight)
    assert ours > 0.4 * 59.36 and ours > theirs + 10.0, (ours, theirs)
    ref = tight
    asked = model_trials(state)
    assert len(asked) == budget - 5
    assert all(t.metadata["acquisition"] == "qlognehvi" and "fallback" not in t.metadata for t in asked)
    assert all(t.metadata["fit_seconds"] >= 0 and t.metadata["acq_seconds"] >= 0 for t in asked)
    # the history is monotone and ends at the hypervolume
    history = state.hypervolume_history(ref)
    assert all(b >= a * (1 - 1e-12) for a, b in zip(history, history[1:], strict=False))
    assert math.isclose(history[-1], ours, rel_tol=1e-9)  # to rounding: summed in another order


def test_batches_and_pending_points():
    loop = BayesOpt(n_init=5, **FAST)
    state = run(loop, 6)
    state, batch = loop.ask(state, n=3)
    state, (alone,) = loop.ask(state)  # with three pending
    asked = [*batch, alone]
    assert all(t.metadata["model"] == "gp" and t.metadata["acquisition"] == "qlognehvi" for t in asked)
    X = SPACE.encode_many([t.params for t in asked])
    gaps = torch.cdist(torch.from_numpy(X), torch.from_numpy(X)) + torch.eye(4)
    assert float(gaps.min()) > 1e-3, "a batch or a pending point was asked twice"
    for t in asked:
        state = loop.tell(state, t.id, branin_currin(t.params))
    assert len(state.completed) == 10


def test_parego_on_request_and_above_four_objectives():
    loop = BayesOpt(n_init=5, acquisition="parego", **FAST)
    state = run(loop, 6)
    state, batch = loop.ask(state, n=2)
    assert [t.metadata["acquisition"] for t in model_trials(state)] == ["parego"] * 3
    assert batch[0].params != batch[1].params

    def five(p):
        return [(p["x"] - c) ** 2 + (p["y"] - 1 + c) ** 2 for c in (0.0, 0.25, 0.5, 0.75, 1.0)]

    state = run(BayesOpt(n_init=5, **FAST), 6, f=five, m=5)
    assert model_trials(state)[-1].metadata["acquisition"] == "parego"  # the default, above 4
    assert len(state.memo["objective_gps"]) == 4


def test_constraints_with_several_objectives():
    loop = BayesOpt(n_init=5, **FAST)
    state = run(loop, 8, constraints=["g <= 1.0"])
    assert sorted(state.memo["constraint_gps"]) == ["g"] and len(state.memo["objective_gps"]) == 1
    front = state.pareto_front()
    assert front and all(t.feasible for t in front)
    state, batch = loop.ask(state, n=2)
    assert all(t.metadata["acquisition"] == "qlognehvi" for t in batch)
    assert not any(t.metadata.get("feasibility_search") for t in batch)  # feasible points are known
    likely = loop.predict(state, [t.params for t in batch])
    assert likely.median.shape == (2, 2) and likely.feasibility is not None
    assert float(likely.feasibility.min()) > 0.05  # it asks where the constraint likely holds


def test_without_a_feasible_point_it_searches_for_feasibility():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 5, constraints=["g <= -1.0"])  # x + y >= 0: never feasible
    assert not state.feasible and state.pareto_front() == []
    assert all(t.metadata.get("feasibility_search") is True for t in model_trials(state))


def test_a_mixed_space():
    space = Space({"x": Real(0.0, 1.0), "k": Integer(1, 4), "c": Categorical(("a", "b", "c"))})

    def f(p):
        shift = {"a": 0.0, "b": 0.3, "c": 0.6}[p["c"]]
        return [(p["x"] - shift) ** 2 + 0.1 * p["k"], (p["x"] - 0.8) ** 2 + 0.1 * (4 - p["k"])]

    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 5, space=space, f=f)
    state, batch = loop.ask(state, n=2)
    assert len(model_trials(state)) == 3
    for t in model_trials(state):
        assert space.check(t.params) == t.params
        assert isinstance(t.params["k"], int) and t.params["c"] in ("a", "b", "c")
    assert all(t.metadata["acquisition"] == "qlognehvi" for t in batch)


# --- what it refuses ------------------------------------------------------------------------------
@pytest.mark.parametrize("acquisition", ["logei", "ucb", "pi", "ts", "config"])
def test_single_objective_acquisitions_are_refused_with_several_objectives(acquisition):
    with pytest.raises(ConfigError, match="qlognehvi.*parego"):
        BayesOpt(acquisition=acquisition).init(SPACE, n_objectives=2)
    BayesOpt(acquisition=acquisition).init(SPACE)  # with one objective they serve as before


@pytest.mark.parametrize("acquisition", ["qlognehvi", "parego"])
def test_multi_objective_acquisitions_are_refused_with_one_objective(acquisition):
    with pytest.raises(ConfigError, match="for several objectives"):
        BayesOpt(acquisition=acquisition).init(SPACE)
    BayesOpt(acquisition=acquisition, model_failures=True).init(SPACE, n_objectives=2)


def test_a_stored_state_with_a_single_objective_acquisition_is_refused_at_load():
    state = BayesOpt().init(SPACE, n_objectives=2)
    data = json.loads(state.to_json())
    data["loop_config"]["acquisition"] = "ucb"
    with pytest.raises(StateError, match="optimizes one objective"):
        asktell.load(json.dumps(data))


def test_memos_that_do_not_match_the_objectives_are_refused():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 5)
    loop.check_state(state)
    for key, value in [("objective_gps", []), ("objective_warped", [True, False])]:
        edited = State.from_dict({**state.to_dict(), "memo": {**state.memo, key: value}})
        with pytest.raises(StateError, match=key):
            loop.check_state(edited)
    missing = {k: v for k, v in state.memo.items() if k != "objective_gps"}
    with pytest.raises(StateError, match="objective_gps"):
        loop.check_state(State.from_dict({**state.to_dict(), "memo": missing}))
    single = run(loop, 5, f=lambda p: branin_currin(p)[0], m=1)
    assert "objective_gps" not in single.memo and "objective_warped" not in single.memo
    edited = State.from_dict({**single.to_dict(), "memo": {**single.memo, "objective_warped": []}})
    with pytest.raises(StateError, match="several objectives"):
        loop.check_state(edited)


# --- the memo, determinism, round trips -----------------------------------------------------------
def test_each_objective_chooses_its_own_warp():
    """An objective spanning seven orders of magnitude beside a plain quadratic: the warps
    chosen at the first cold fit differ by objective (the log warp for the first only)."""

    def f(p):
        return [math.exp(8 * (p["x"] + p["y"])), (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2]

    state = run(BayesOpt(n_init=8, **FAST), 9, f=f)
    (first,) = model_trials(state)
    assert first.metadata["warm_start"] is False  # a cold fit: both warps compared
    warps = [state.memo["warped"], *state.memo["objective_warped"]]
    assert warps == [True, False]
    assert len(state.memo["objective_gps"]) == 1 and state.memo["fits"] == 1


def test_the_same_state_asks_the_same_points_and_round_trips():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 6)
    assert State.from_json(state.to_json()) == state
    resumed_loop, resumed = asktell.load(state.to_json())
    a_state, a = loop.ask(state, n=2)
    b_state, b = resumed_loop.ask(resumed, n=2)
    assert [t.params for t in a] == [t.params for t in b]
    assert a_state.without_timings() == b_state.without_timings()
    again, _ = loop.ask(state, n=2)
    assert again.without_timings() == a_state.without_timings()


def test_a_warm_fit_starts_from_each_objectives_stored_hyperparameters():
    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 6)
    assert state.memo["fits"] == 2
    assert [t.metadata["warm_start"] for t in model_trials(state)] == [False, True]
    assert state.memo["objective_gps"][0] != state.memo["gp"]  # each objective its own


# --- predict and recommend ------------------------------------------------------------------------
def test_predict_gives_every_objective():
    loop = BayesOpt(n_init=6, noise_std=0.0, **FAST)
    state = run(loop, 8)
    done = state.completed
    prediction = loop.predict(state, [t.params for t in done])
    assert prediction.median.shape == prediction.lower.shape == prediction.upper.shape == (len(done), 2)
    observed = torch.tensor([t.value for t in done], dtype=torch.float64)
    # noiseless: the GPs interpolate the data, every objective in its own units
    torch.testing.assert_close(
        prediction.median, observed, rtol=1e-3, atol=1e-3 * float(observed.abs().max())
    )
    assert bool(
        (prediction.lower <= prediction.median).all() and (prediction.median <= prediction.upper).all()
    )


def test_recommend_points_to_the_front_and_recommend_front_gives_it():
    loop = BayesOpt(n_init=6, noise_std=0.0, **FAST)
    state = run(loop, 8)
    with pytest.raises(StateError, match="recommend_front"):
        loop.recommend(state)
    assert loop.recommend_front(state) == state.pareto_front()  # noiseless: the observed front
    noisy = BayesOpt(n_init=6, **FAST)
    state = run(noisy, 8)
    front = noisy.recommend_front(state)
    assert front and all(t in state.completed for t in front)
    assert [t.id for t in front] == sorted(t.id for t in front)
    # noisy: the trials whose posterior medians (predict's) no other completed trial's dominate
    medians = noisy.predict(state, [t.params for t in state.completed]).median.numpy()
    expected = [t for t, keep in zip(state.completed, non_dominated(medians), strict=True) if keep]
    assert front == expected
    single = run(noisy, 7, f=lambda p: branin_currin(p)[0], m=1)
    assert noisy.recommend_front(single) == [noisy.recommend(single)]


def test_corrupted_multiobjective_memos_are_refused_or_work():
    """The conformance suite's memo corruptions (each key deleted, of the wrong type, an item
    short or long, an extra key) on a multi-objective memo: refused, or a state that still asks."""
    from asktell.testing.hostile import check_memo_corruptions

    loop = BayesOpt(n_init=4, **FAST)
    state = run(loop, 6)
    assert {"objective_gps", "objective_warped"} <= set(state.memo)
    check_memo_corruptions(loop, state, 2, ())


def test_failures_as_a_constraint_with_several_objectives():
    loop = BayesOpt(n_init=4, model_failures=True, **FAST)
    state = loop.init(SPACE, seed=3, n_objectives=2)
    for _ in range(7):
        state, (t,) = loop.ask(state)
        if t.params["x"] > 0.7:  # a hidden constraint
            state = loop.tell(state, t.id, None, status="failed")
        else:
            state = loop.tell(state, t.id, branin_currin(t.params))
    assert any(t.status == "failed" for t in state.trials) and "failure_gp" in state.memo
    state, batch = loop.ask(state, n=2)
    assert all(t.metadata["acquisition"] == "qlognehvi" for t in batch)
    prediction = loop.predict(state, [t.params for t in batch])
    assert prediction.failure is not None and prediction.median.shape == (2, 2)


def test_a_tell_is_the_data_layers_alone_so_the_shell_may_skip_the_loop():
    """BayesOpt has no tell hook: the registry says its tells of any number of objectives are the
    data layer's (``asktell tell`` then imports no torch), and that is exactly the loop's tell,
    reference point inference included."""
    from asktell.registry import tells_with_data_only
    from asktell.state import append_trial, finish_trial

    assert tells_with_data_only("bayesopt", 3) and tells_with_data_only("bayesopt", 2, constrained=True)
    loop = BayesOpt(n_init=5, **FAST)
    state = run(loop, 4)
    state, (trial,) = loop.ask(state)
    assert state.ref_point is None
    told = loop.tell(state, trial.id, [1.0, 2.0])
    assert told == finish_trial(state, trial.id, [1.0, 2.0]) and told.ref_point is not None
    assert loop.add(state, trial.params, [3.0, 4.0]) == append_trial(state, trial.params, [3.0, 4.0])


def test_several_objectives_fit_at_every_ask():
    """refit="auto" applies to one unconstrained objective only (see BayesOpt._fits_less)."""
    state = run(BayesOpt(n_init=5, **FAST), 8)
    plans = [t.metadata["fit"] for t in model_trials(state)]
    assert plans and "conditioned" not in plans and state.memo["fits"] == len(plans)
