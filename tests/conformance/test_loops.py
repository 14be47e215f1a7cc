"""The conformance suite: every registered loop must pass it.

A new loop joins by registering (``@register_loop``); it is built with its default configuration,
or with the cheaper one given in ``FAST_CONFIGS`` (capped restarts and iterations keep the suite
fast). Loops that cannot optimize a space (categoricals for gradient loops) say so with a
ParamError at ``init``; the suite then uses a numeric space.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import finite, spaces

import asktell
from asktell import Categorical, Integer, Real, Space, State
from asktell.errors import AskTellError, ParamError, TrialError
from asktell.registry import loop_class, registered_loops

# Cheaper configurations for expensive loops; loops absent here use their defaults.
FAST_CONFIGS: dict[str, dict] = {
    "bayesopt": {
        "n_init": 3,
        "num_restarts": 2,
        "raw_samples": 32,
        "max_fit_iter": 20,
        "acq_maxiter": 20,
    },
    "zord": {"n_init": 3},
    "fzoos": {
        "n_features": 200,
        "local_steps": 2,
        "local_active": 1,
        "local_candidates": 10,
        "post_active": 2,
        "post_candidates": 10,
        "n_init": 2,
        "n_local": 30,
        "n_rff": 40,
    },
    "fedzo": {"local_steps": 2, "q": 3},
    "fedprox": {"local_steps": 2, "q": 3},
    "scaffold1": {"local_steps": 2, "q": 3},
    "scaffold2": {"local_steps": 2, "q": 3},
}
# Hypothesis examples per loop: model-based loops fit a GP per ask.
EXAMPLES = {"random": 25, "sobol": 25}
LOOPS = registered_loops()

MIXED = Space(
    {
        "x": Real(-2.0, 3.0),
        "lr": Real(1e-3, 1.0, log=True),
        "k": Integer(1, 6),
        "c": Categorical(["a", "b", "c"]),
    }
)
NUMERIC = Space({"x": Real(-2.0, 3.0), "lr": Real(1e-3, 1.0, log=True), "k": Integer(1, 6)})


def make_loop(name: str):
    return loop_class(name).from_config(FAST_CONFIGS.get(name, {}))


def init(loop, space: Space, seed: int = 0) -> State:
    try:
        return loop.init(space, seed=seed)
    except ParamError:
        return loop.init(
            NUMERIC
            if space is MIXED
            else Space(
                {n: p for n, p in space.params.items() if not isinstance(p, Categorical)}
                or {"x": Real(0.0, 1.0)}
            ),
            seed=seed,
        )


def objective(params: dict) -> float:
    """A deterministic test function of any point (used as the black box)."""
    total = 0.0
    for i, (_, v) in enumerate(sorted(params.items())):
        num = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else len(str(v))
        total += (i + 1) * math.sin(num) + 0.1 * num * num / (1.0 + abs(num))
    return total


def run(loop, state: State, steps: int, batch: int = 1) -> State:
    for _ in range(steps):
        state, trials = loop.ask(state, n=batch)
        for t in trials:
            state = loop.tell(state, t.id, objective(t.params))
    return state


@pytest.fixture(params=LOOPS)
def loop(request):
    return make_loop(request.param)


def test_ask_and_tell_never_change_their_inputs(loop):
    state = run(loop, init(loop, MIXED), 4)
    before = state.to_json()
    new, trials = loop.ask(state, n=2)
    assert state.to_json() == before
    snapshot = new.to_json()  # exact JSON: inputs are never touched, timings included
    loop.tell(new, trials[0].id, 1.0)
    loop.tell(new, trials[1].id, None, status="failed")
    assert new.to_json() == snapshot


def test_same_state_and_call_give_the_same_result(loop):
    state = run(loop, init(loop, MIXED, seed=3), 4)
    a_state, a = loop.ask(state, n=2)
    b_state, b = loop.ask(state, n=2)
    assert [(t.id, t.params) for t in a] == [(t.id, t.params) for t in b]
    assert a_state.without_timings() == b_state.without_timings()


def test_json_round_trip_mid_run_resumes_identically(loop):
    state = run(loop, init(loop, MIXED, seed=5), 5)
    resumed_loop, resumed = asktell.load(state.to_json())
    straight = run(loop, state, 3, batch=2)
    through_json = run(resumed_loop, resumed, 3, batch=2)
    assert straight.without_timings() == through_json.without_timings()


def test_pending_trials_are_not_asked_again(loop):
    state = run(loop, init(loop, MIXED, seed=1), 4)
    state, pending = loop.ask(state, n=3)
    state, fresh = loop.ask(state, n=3)
    pending_points = [t.params for t in pending]
    assert all(t.params not in pending_points for t in fresh)
    assert len({t.id for t in pending + fresh}) == 6


def test_failed_trials_do_not_break_the_next_ask(loop):
    state = init(loop, MIXED, seed=2)
    for _ in range(5):
        state, (t,) = loop.ask(state)
        state = loop.tell(state, t.id, None, status="failed")
    state = run(loop, state, 2)
    state, trials = loop.ask(state, n=2)
    assert len(trials) == 2 and all(t.status == "pending" for t in trials)


def test_ask_n_returns_n_distinct_trials(loop):
    state = run(loop, init(loop, MIXED, seed=4), 4)
    _, trials = loop.ask(state, n=4)
    assert len(trials) == 4
    assert len({t.id for t in trials}) == 4
    keys = {tuple(sorted((k, repr(v)) for k, v in t.params.items())) for t in trials}
    assert len(keys) == 4
    for t in trials:
        state.space.check(t.params)


BAD_TELLS = [
    ("unknown id", lambda s, t: dict(trial_id=999, value=1.0), "unknown trial id 999"),
    ("negative id", lambda s, t: dict(trial_id=-1, value=1.0), "unknown trial id -1"),
    ("nan", lambda s, t: dict(trial_id=t.id, value=float("nan")), "finite float"),
    ("inf", lambda s, t: dict(trial_id=t.id, value=float("inf")), "finite float"),
    ("string", lambda s, t: dict(trial_id=t.id, value="0.5"), "finite float"),
    ("list", lambda s, t: dict(trial_id=t.id, value=[1.0, 2.0]), "finite float"),
    ("failed with value", lambda s, t: dict(trial_id=t.id, value=1.0, status="failed"), "no value"),
    ("bad status", lambda s, t: dict(trial_id=t.id, value=1.0, status="done"), "status must be"),
    ("already told", lambda s, t: dict(trial_id=0, value=1.0), "already completed"),
]


@pytest.mark.parametrize("case", BAD_TELLS, ids=[c[0] for c in BAD_TELLS])
def test_bad_tells_are_refused_and_change_nothing(loop, case):
    _, make_args, fragment = case
    state = run(loop, init(loop, MIXED, seed=6), 1)
    state, (trial,) = loop.ask(state)
    before = state.to_json()
    with pytest.raises(TrialError, match=fragment):
        loop.tell(state, **make_args(state, trial))
    assert state.to_json() == before
    loop.tell(state, trial.id, 0.5)  # the state is still usable


def test_added_trials_join_the_trajectory_and_bad_adds_change_nothing(loop):
    state = run(loop, init(loop, MIXED, seed=7), 3)
    point = run(loop, init(loop, MIXED, seed=8), 1).trials[0].params  # a valid point of the space
    added = loop.add(state, point, 0.25, metadata={"source": "notebook"})
    trial = added.trials[-1]
    assert trial.id == len(state.trials) and trial.params == point and trial.value == 0.25
    assert trial.metadata == {"added": True, "source": "notebook"}
    assert loop.add(state, point, None, status="failed").trials[-1].status == "failed"
    before = state.to_json()
    numeric = next(n for n, p in state.space.params.items() if not isinstance(p, Categorical))
    bad = [  # (arguments of add, the error)
        (({**point, numeric: 1e9}, 1.0), {}, ParamError),
        (({**point, "nope": 1.0}, 1.0), {}, ParamError),
        ((point, float("nan")), {}, TrialError),
        ((point, 1.0), {"status": "done"}, TrialError),
    ]
    for args, kwargs, error in bad:
        with pytest.raises(error):
            loop.add(state, *args, **kwargs)
    assert state.to_json() == before
    added, trials = loop.ask(added, n=2)  # the loop goes on
    assert len(trials) == 2 and {t.id for t in trials} == {trial.id + 1, trial.id + 2}


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_bad_n_is_refused(loop, n):
    state = init(loop, MIXED)
    with pytest.raises(AskTellError, match="positive integer"):
        loop.ask(state, n=n)


def test_property_random_spaces_and_values(loop):
    examples = EXAMPLES.get(loop.name, 4)

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(space=spaces(), values=st.lists(finite, min_size=3, max_size=6), seed=st.integers(0, 2**31))
    def check(space, values, seed):
        state = init(loop, space, seed=seed)
        for value in values:
            before = state.to_json()
            state, (t,) = loop.ask(state)
            state.space.check(t.params)
            state = loop.tell(state, t.id, value)
            assert State.from_json(state.to_json()) == state
            assert before != state.to_json()
        assert state.best().value == min(values)

    check()
