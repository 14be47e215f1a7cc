"""The loop conformance suite: :class:`LoopConformance`, a pytest class that a loop's tests subclass.

Every ``test_*`` method checks one promise of the loop protocol (:mod:`asktell.loops.base`) on the
loop the subclass's ``loop`` fixture returns; the other fixtures have defaults a subclass may
override. The user-facing account (the fixtures, what is checked and why) is the docstring of
:mod:`asktell.testing`.

The checks are plain methods: a test may also call one directly with the fixture values as
keyword arguments (``LoopConformance().test_bad_n_is_refused(loop=my_loop, space=MIXED_SPACE,
n=0)``), which is how asktell's own tests show that a broken loop fails them.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Collection
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asktell.api import load
from asktell.checks import MAX_ASK
from asktell.errors import AskTellError, ConfigError, ParamError, StateError, TrialError
from asktell.pareto import infer_reference_point, non_dominated, reference_trials
from asktell.space import Categorical, Space
from asktell.state import COMPLETED, FAILED, PENDING, State
from asktell.testing import strategies
from asktell.testing.helpers import (
    BAD_TELLS,
    CONSTRAINTS,
    MIXED_SPACE,
    BadTell,
    another_loop,
    assert_in_space,
    assert_same_run,
    assert_timings_are_durations,
    bad_values,
    init,
    outcomes,
    refuses,
    run,
    with_other_config,
)
from asktell.testing.hostile import check_hostile_options, check_memo_corruptions


class LoopConformance:
    """The loop conformance suite: subclass it and override the ``loop`` fixture.

    See :mod:`asktell.testing` for the fixtures and the checks.
    """

    # --- fixtures a subclass overrides ------------------------------------------------------
    @pytest.fixture
    def loop(self) -> Any:
        """The loop under test, in the cheapest configuration that still exercises its model."""
        raise NotImplementedError(
            "LoopConformance needs the loop to test: define a `loop` fixture in your subclass "
            "that returns it (the example in asktell.testing's docstring shows one)."
        )

    @pytest.fixture
    def space(self) -> Space:
        """The space of the fixed checks (a loop refusing its categoricals gets its numeric part)."""
        return MIXED_SPACE

    @pytest.fixture
    def space_strategy(self) -> st.SearchStrategy[Space]:
        """The spaces the property check draws (the same categorical fallback applies)."""
        return strategies.spaces()

    @pytest.fixture
    def max_examples(self) -> int:
        """How many random spaces and value sequences the property check tries."""
        return 10

    @pytest.fixture
    def n_warmup(self) -> int:
        """Trials asked and told before the mid-run checks: set it past the loop's initial design
        so that they exercise its model."""
        return 4

    @pytest.fixture
    def loop_with_other_config(self, loop: Any) -> Any | None:
        """The loop with another configuration, whose states the loop must refuse (None: skip that
        part). Default: :func:`with_other_config`."""
        return with_other_config(loop)

    @pytest.fixture
    def n_objectives(self) -> int:
        """How many objectives the multi-objective checks give a loop that takes several (at
        least 2, at most its ``max_objectives``)."""
        return 2

    @pytest.fixture
    def fresh_process(self) -> bool:
        """Whether to repeat an ask in a fresh interpreter (another hash seed, nothing cached)."""
        return True

    @pytest.fixture
    def hostile_runs(self) -> int:
        """How many accepted hostile options, and how many accepted memo corruptions, are run
        through asks and tells (spread over the options and keys; the rest are only checked)."""
        return 8

    @pytest.fixture
    def known_gaps(self) -> Collection[str]:
        """Hostile cases the loop is known to get wrong: fnmatch patterns of their labels
        (``"option lr = 10**400"``, ``"memo gp.*: null"``). They must still be accepted (a gap
        that is fixed must be removed) and are not run."""
        return ()

    # --- init ---------------------------------------------------------------------------------
    def test_init_gives_a_fresh_state_that_round_trips(self, loop: Any, space: Space) -> None:
        state = init(loop, space, seed=11)
        assert isinstance(state, State)
        # the seed is the state's own (a federated client stores the one derived for it)
        assert (state.loop_name, state.trials, state.n_objectives) == (loop.name, (), 1)
        assert_same_run(init(loop, space, seed=11), state, "init with the same seed gave two states")
        assert State.from_json(state.to_json()) == state
        resumed_loop, resumed = load(state.to_json())
        assert type(resumed_loop) is type(loop) and resumed == state
        for seed in (-1, 1.5, True, "0"):
            with pytest.raises(ConfigError):
                loop.init(state.space, seed=seed)
        for n_objectives in (0, -1, 1.5, True):
            with pytest.raises(ConfigError):
                loop.init(state.space, n_objectives=n_objectives)

    # --- purity and determinism -------------------------------------------------------------
    def test_ask_and_tell_never_change_their_inputs(self, loop: Any, space: Space, n_warmup: int) -> None:
        state = run(loop, init(loop, space), n_warmup)
        before = state.to_json()
        new, trials = loop.ask(state, n=2)
        assert state.to_json() == before, "ask changed the state it was given"
        snapshot = new.to_json()  # exact JSON: inputs are never touched, timings included
        told = loop.tell(new, trials[0].id, 1.0)
        loop.tell(told, trials[1].id, None, status="failed")
        assert new.to_json() == snapshot, "tell changed the state it was given"
        if hasattr(loop, "add"):
            told_json = told.to_json()
            loop.add(told, trials[0].params, 2.0)
            assert told.to_json() == told_json, "add changed the state it was given"

    def test_same_seed_and_calls_give_the_same_run(self, loop: Any, space: Space, n_warmup: int) -> None:
        state = run(loop, init(loop, space, seed=3), n_warmup)
        again = run(loop, init(loop, space, seed=3), n_warmup)
        assert_same_run(again, state, "same seed, another run")
        a_state, a = loop.ask(state, n=2)
        b_state, b = loop.ask(state, n=2)
        assert [(t.id, t.params) for t in a] == [(t.id, t.params) for t in b]
        assert_same_run(a_state, b_state, "the same state asked twice gave two states")
        assert_timings_are_durations(a_state)

    def test_json_round_trip_mid_run_resumes_identically(
        self, loop: Any, space: Space, n_warmup: int
    ) -> None:
        state = run(loop, init(loop, space, seed=5), n_warmup + 1)
        resumed_loop, resumed = load(state.to_json())
        assert resumed == state
        straight = run(loop, state, 3, batch=2)
        through_json = run(resumed_loop, resumed, 3, batch=2)
        assert_same_run(straight, through_json, "the run resumed from JSON differs from the straight one")

    def test_same_call_in_a_fresh_process(
        self, loop: Any, space: Space, n_warmup: int, fresh_process: bool
    ) -> None:
        """What a fresh interpreter asks of a state equals what this one asks: nothing depends
        on Python's per-process hash seed, an import order or a cache filled earlier."""
        if not fresh_process:
            pytest.skip("the `fresh_process` fixture is False")
        module = type(loop).__module__
        if module == "__main__":
            pytest.fail(f"{type(loop).__name__} is defined in __main__; a fresh process cannot import it.")
        state = run(loop, init(loop, space, seed=8), n_warmup)
        expected = loop.ask(state, n=2)[0].without_timings()
        code = (
            "import importlib, json, sys\n"
            f"importlib.import_module({module!r})  # registers the loop\n"
            "from asktell.api import load\n"
            "loop, state = load(sys.stdin.read())\n"
            "print(json.dumps(loop.ask(state, n=2)[0].without_timings()))\n"
        )
        hash_seed = "271828" if os.environ.get("PYTHONHASHSEED") != "271828" else "314159"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        env["PYTHONHASHSEED"] = hash_seed
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=state.to_json(),
            capture_output=True,
            text=True,
            env=env,
            timeout=600,  # a guard against a hung child, not a measurement
        )
        assert done.returncode == 0, (
            f"the fresh process failed (it imports {module!r}, where the loop is defined; if that "
            f"cannot be imported, return False from the `fresh_process` fixture):\n{done.stderr}"
        )
        answer = done.stdout.strip().splitlines()[-1]  # the last line: imports may print
        assert_same_run(
            json.loads(answer), json.loads(json.dumps(expected)), "a fresh process asked otherwise"
        )

    # --- the trials an ask gives ------------------------------------------------------------
    def test_ask_n_returns_n_distinct_trials_inside_the_space(
        self, loop: Any, space: Space, n_warmup: int
    ) -> None:
        state = run(loop, init(loop, space, seed=4), n_warmup)
        new, trials = loop.ask(state, n=4)
        assert len(trials) == 4
        first = len(state.trials)
        assert [t.id for t in trials] == list(range(first, first + 4))
        assert list(new.trials[first:]) == trials and new.trials[:first] == state.trials
        assert all(t.status == PENDING and t.value is None for t in trials)
        for t in trials:
            assert_in_space(state.space, t)
        keys = {tuple(sorted((k, repr(v)) for k, v in t.params.items())) for t in trials}
        assert len(keys) == 4, "an ask of 4 gave the same point twice"

    def test_pending_trials_are_not_asked_again(self, loop: Any, space: Space, n_warmup: int) -> None:
        state = run(loop, init(loop, space, seed=1), n_warmup)
        state, pending = loop.ask(state, n=3)
        state, fresh = loop.ask(state, n=3)
        pending_points = [t.params for t in pending]
        assert all(t.params not in pending_points for t in fresh), "a pending point was asked again"
        assert len({t.id for t in pending + fresh}) == 6

    def test_failed_trials_do_not_break_the_next_ask(self, loop: Any, space: Space) -> None:
        state = init(loop, space, seed=2)
        for _ in range(5):
            state, (t,) = loop.ask(state)
            state = loop.tell(state, t.id, None, status="failed")
        state = run(loop, state, 2)
        state, trials = loop.ask(state, n=2)
        assert len(trials) == 2 and all(t.status == PENDING for t in trials)
        for t in trials:
            assert_in_space(state.space, t)

    @pytest.mark.parametrize("n", [0, -1, 1.5, True, "2"])
    def test_bad_n_is_refused(self, loop: Any, space: Space, n: Any) -> None:
        state = init(loop, space)
        before = state.to_json()
        with pytest.raises(AskTellError, match=re.escape(repr(n))):  # the message names the value
            loop.ask(state, n=n)
        assert state.to_json() == before

    def test_ask_beyond_max_ask_is_a_param_error(self, loop: Any, space: Space) -> None:
        state = init(loop, space)
        before = state.to_json()
        for n in (MAX_ASK + 1, 10**12):
            with pytest.raises(ParamError, match=str(MAX_ASK)):  # the message names the limit
                loop.ask(state, n=n)
        for n in (2**63, 10**400):  # past any integer a database holds: refused too
            with pytest.raises(AskTellError):
                loop.ask(state, n=n)
        assert state.to_json() == before

    # --- hostile options and memos ------------------------------------------------------------
    def test_hostile_options_are_refused_or_work(
        self, loop: Any, space: Space, n_warmup: int, hostile_runs: int, known_gaps: Collection[str]
    ) -> None:
        """Every option given a wrong type or an out-of-range value (:data:`HOSTILE_OPTIONS`), at
        construction and through ``from_config``: a ConfigError, or a loop that works."""
        if not callable(getattr(loop, "config", None)) or not callable(
            getattr(type(loop), "from_config", None)
        ):
            pytest.skip(f"{type(loop).__name__} has no config() and from_config")
        check_hostile_options(loop, init(loop, space).space, n_warmup, hostile_runs, known_gaps)

    def test_corrupted_memos_are_refused_or_work(
        self, loop: Any, space: Space, n_warmup: int, hostile_runs: int, known_gaps: Collection[str]
    ) -> None:
        """Each key of a mid-run memo deleted, of the wrong type or length, or an extra key: a
        StateError from ``check_state`` (as ``asktell.load`` runs it), or a state that works."""
        if not callable(getattr(loop, "check_state", None)):
            pytest.skip(f"{type(loop).__name__} has no check_state")
        state = run(loop, init(loop, space, seed=14), n_warmup)
        check_memo_corruptions(loop, state, hostile_runs, known_gaps)

    # --- tell and add -------------------------------------------------------------------------
    def test_tell_records_value_status_and_metadata(self, loop: Any, space: Space) -> None:
        state, (a, b, c) = loop.ask(init(loop, space, seed=12), n=3)
        told = loop.tell(state, a.id, 0.5, metadata={"note": "by hand"})
        told = loop.tell(told, b.id, np.float64(-1.25))  # numpy numbers are welcome...
        told = loop.tell(told, c.id, None, status="failed")
        ta, tb, tc = (told.trial(t.id) for t in (a, b, c))
        assert (ta.status, ta.value, ta.params) == (COMPLETED, 0.5, a.params)
        assert ta.metadata.get("note") == "by hand"
        assert type(tb.value) is float and tb.value == -1.25  # ...and stored as plain floats
        assert (tc.status, tc.value) == (FAILED, None)
        assert State.from_json(told.to_json()) == told

    @pytest.mark.parametrize("case", BAD_TELLS, ids=[c.name for c in BAD_TELLS])
    def test_bad_tells_are_refused_and_change_nothing(self, loop: Any, space: Space, case: BadTell) -> None:
        state = run(loop, init(loop, space, seed=6), 1)
        state, (trial,) = loop.ask(state)
        before = state.to_json()
        with pytest.raises(TrialError, match=case.message):
            loop.tell(state, **case.arguments(state, trial))
        assert state.to_json() == before
        loop.tell(state, trial.id, 0.5)  # the state is still usable

    def test_added_trials_join_the_trajectory_and_bad_adds_change_nothing(
        self, loop: Any, space: Space
    ) -> None:
        if not hasattr(loop, "add"):
            pytest.skip(f"{type(loop).__name__} has no add")
        state = run(loop, init(loop, space, seed=7), 3)
        point = run(loop, init(loop, space, seed=8), 1).trials[0].params  # a point of the space
        added = loop.add(state, point, 0.25, metadata={"source": "notebook"})
        trial = added.trials[-1]
        assert trial.id == len(state.trials) and trial.params == point and trial.value == 0.25
        assert trial.metadata == {"added": True, "source": "notebook"}
        assert loop.add(state, point, None, status="failed").trials[-1].status == FAILED
        before = state.to_json()
        numeric = next(n for n, p in state.space.params.items() if not isinstance(p, Categorical))
        bad = [  # (arguments of add, the error)
            (({**point, numeric: 1e9}, 1.0), {}, ParamError),
            (({**point, "nope": 1.0}, 1.0), {}, ParamError),
            (({k: v for k, v in point.items() if k != numeric}, 1.0), {}, ParamError),
            ((point, float("nan")), {}, TrialError),
            ((point, 1.0), {"status": "done"}, TrialError),
            ((point, 1.0), {"status": "pending"}, TrialError),
        ]
        for args, kwargs, error in bad:
            with pytest.raises(error):
                loop.add(state, *args, **kwargs)
        assert state.to_json() == before
        added, trials = loop.ask(added, n=2)  # the loop goes on
        assert len(trials) == 2 and {t.id for t in trials} == {trial.id + 1, trial.id + 2}

    # --- states that are not this loop's ----------------------------------------------------
    def test_states_of_other_loops_and_configurations_are_refused(
        self, loop: Any, space: Space, loop_with_other_config: Any | None
    ) -> None:
        state, (trial,) = loop.ask(init(loop, space, seed=9))
        other = another_loop(loop)
        foreign, (theirs,) = other.ask(other.init(state.space, seed=9))
        before = foreign.to_json()
        calls = [lambda s: loop.ask(s), lambda s: loop.tell(s, theirs.id, 1.0)]
        if hasattr(loop, "add"):
            calls.append(lambda s: loop.add(s, trial.params, 1.0))
        for call in calls:
            refuses(StateError, f"a state of {other.name!r}", call, foreign)
        assert foreign.to_json() == before, "a refused call changed the state"
        for not_a_state in (state.to_json(), state.to_dict()):
            what = f"a {type(not_a_state).__name__} instead of a State"
            refuses(AskTellError, what, loop.ask, not_a_state)
        if loop_with_other_config is not None:
            mine = state.to_json()
            what = f"a state of {loop!r} given to {loop_with_other_config!r}"
            refuses(StateError, what, loop_with_other_config.ask, state)
            refuses(StateError, what, loop_with_other_config.tell, state, trial.id, 1.0)
            assert state.to_json() == mine

    # --- several objectives -----------------------------------------------------------------
    def test_several_objectives_are_refused_or_served(self, loop: Any, space: Space) -> None:
        """A loop serving one objective refuses two at ``init``; one with a limit refuses one
        more than it; one with ``max_objectives`` None or > 1 gives a state of that many."""
        limit = getattr(loop, "max_objectives", 1)
        accepted = init(loop, space).space
        if limit is not None:
            with pytest.raises(ConfigError):
                loop.init(accepted, n_objectives=limit + 1)
        if limit == 1:
            return
        state = loop.init(accepted, seed=13, n_objectives=2)
        assert (state.n_objectives, state.ref_point) == (2, None)
        assert State.from_json(state.to_json()) == state

    def test_multiobjective_run_round_trips_and_resumes(
        self, loop: Any, space: Space, n_warmup: int, n_objectives: int
    ) -> None:
        """Lists of values are stored as tuples of floats; a JSON round trip mid-run resumes
        identically (a batch of 2 after it); failed trials do not break the next ask."""
        k = _multiobjective(loop, space, n_objectives)
        if k is None:
            return
        state = run(loop, init(loop, space, seed=13, n_objectives=k), n_warmup)
        assert state.n_objectives == k
        values = [t.value for t in state.completed]
        assert len(values) == n_warmup
        assert all(isinstance(v, tuple) and [type(x) for x in v] == [float] * k for v in values)
        assert State.from_json(state.to_json()) == state
        resumed_loop, resumed = load(state.to_json())
        straight = run(loop, state, 1, batch=2)
        assert_same_run(
            straight,
            run(resumed_loop, resumed, 1, batch=2),
            "the multi-objective run resumed from JSON differs from the straight one",
        )
        assert_timings_are_durations(straight)
        state, trials = loop.ask(straight, n=2)
        state = loop.tell(state, trials[0].id, None, status=FAILED)
        state = loop.tell(state, trials[1].id, np.array([0.5] * k))  # numpy arrays are welcome
        assert state.trial(trials[1].id).value == (0.5,) * k
        state, (trial,) = loop.ask(state)
        assert_in_space(state.space, trial)

    def test_multiobjective_pending_trials_are_not_asked_again(
        self, loop: Any, space: Space, n_warmup: int, n_objectives: int
    ) -> None:
        k = _multiobjective(loop, space, n_objectives)
        if k is None:
            return
        state = run(loop, init(loop, space, seed=1, n_objectives=k), n_warmup)
        state, pending = loop.ask(state, n=3)
        state, fresh = loop.ask(state, n=2)
        for t in pending + fresh:
            assert_in_space(state.space, t)
        keys = {tuple(sorted((n, repr(v)) for n, v in t.params.items())) for t in pending + fresh}
        assert len(keys) == 5, "a pending point (or one of a batch) was asked again"

    def test_multiobjective_bad_values_are_refused_and_change_nothing(
        self, loop: Any, space: Space, n_objectives: int
    ) -> None:
        """Values of the wrong kind or length, or with NaN, an infinity, a bool or a text in any
        objective: a TrialError at ``tell`` and at ``add``, the state unchanged and still usable."""
        k = _multiobjective(loop, space, n_objectives)
        if k is None:
            return
        state, (trial,) = loop.ask(init(loop, space, seed=6, n_objectives=k))
        before = state.to_json()
        for label, bad in bad_values(k):
            refuses(TrialError, f"the value {label} ({bad!r})", loop.tell, state, trial.id, bad)
            if hasattr(loop, "add"):
                refuses(TrialError, f"an added value {label} ({bad!r})", loop.add, state, trial.params, bad)
        assert state.to_json() == before
        told = loop.tell(state, trial.id, [0.25] * k)
        assert told.trial(trial.id).value == (0.25,) * k

    def test_a_list_told_to_a_single_objective_state_is_refused(self, loop: Any, space: Space) -> None:
        state, (trial,) = loop.ask(init(loop, space, seed=6))
        before = state.to_json()
        for bad in ([1.0, 2.0], [1.0], (1.0,), np.array([1.0])):
            refuses(TrialError, f"{bad!r} told to a single-objective state", loop.tell, state, trial.id, bad)
            if hasattr(loop, "add"):
                refuses(
                    TrialError,
                    f"{bad!r} added to a single-objective state",
                    loop.add,
                    state,
                    trial.params,
                    bad,
                )
        assert state.to_json() == before

    def test_multiobjective_reference_point_is_inferred_once_or_kept(
        self, loop: Any, space: Space, n_objectives: int
    ) -> None:
        """Without a reference point the state infers one at the tell that completes
        ``reference_trials(dim)`` trials (BoTorch's rule on their values) and keeps it; a given one
        is kept from ``init`` on. The hypervolume history is monotone."""
        k = _multiobjective(loop, space, n_objectives)
        if k is None:
            return
        state = init(loop, space, seed=16, n_objectives=k)
        needed = reference_trials(state.space.dim)
        state = run(loop, state, needed - 1)
        assert state.ref_point is None
        state = run(loop, state, 1)
        first = np.array([t.value for t in state.completed])
        assert state.ref_point == tuple(infer_reference_point(first).tolist())
        assert state.problem.ref_point_inferred
        later = run(loop, state, 1, batch=2)
        assert later.ref_point == state.ref_point
        history = later.hypervolume_history()
        assert len(history) == len(later.trials)
        assert all(b >= a * (1 - 1e-12) for a, b in zip(history, history[1:], strict=False))
        # the history may sum its slices in another order: equal to rounding (relative 1e-9)
        assert math.isclose(history[-1], later.hypervolume(), rel_tol=1e-9, abs_tol=1e-12)
        given = loop.init(state.space, seed=16, n_objectives=k, ref_point=[100.0] * k)
        given = run(loop, given, needed + 1)
        assert given.ref_point == (100.0,) * k and not given.problem.ref_point_inferred
        assert State.from_json(given.to_json()) == given

    def test_multiobjective_with_constraints(
        self, loop: Any, space: Space, n_warmup: int, n_objectives: int
    ) -> None:
        """Several objectives and outcome constraints together (a loop that serves both): the
        front is the feasible non-dominated trials, and the run round-trips and resumes."""
        k = _multiobjective(loop, space, n_objectives)
        if k is None:
            return
        if not getattr(loop, "supports_constraints", False):
            with pytest.raises(ConfigError):
                loop.init(init(loop, space).space, n_objectives=k, constraints=list(CONSTRAINTS))
            return
        state = run(loop, init(loop, space, seed=17, n_objectives=k, constraints=CONSTRAINTS), n_warmup)
        front = state.pareto_front()
        assert all(t.feasible for t in front)
        feasible = np.array([t.value for t in state.feasible]).reshape(-1, k)
        assert len(front) == int(non_dominated(feasible).sum())
        resumed_loop, resumed = load(state.to_json())
        assert_same_run(
            run(loop, state, 1, batch=2),
            run(resumed_loop, resumed, 1, batch=2),
            "the constrained multi-objective run resumed from JSON differs from the straight one",
        )

    # --- outcome constraints ------------------------------------------------------------------
    def test_outcome_constraints(self, loop: Any, space: Space, n_warmup: int) -> None:
        """A loop without ``supports_constraints`` refuses constraints at ``init``. One with it
        records each completed trial's outcomes and feasibility, serves the best feasible trial,
        round trips and resumes mid-run, does not ask pending points again, and refuses a tell or
        an add whose outcome values are missing, unknown or not finite numbers, changing
        nothing."""
        accepted = init(loop, space).space
        if not getattr(loop, "supports_constraints", False):
            with pytest.raises(ConfigError):
                loop.init(accepted, constraints=list(CONSTRAINTS))
            return
        state = run(loop, init(loop, accepted, seed=15, constraints=CONSTRAINTS), n_warmup)
        assert [str(c) for c in state.constraints] == list(CONSTRAINTS)
        for trial in state.completed:
            assert trial.constraints == outcomes(state, trial.params)
            assert trial.feasible == state.problem.feasible(trial.constraints)
        feasible = [t for t in state.completed if t.feasible]
        best = state.best()  # one objective here (a multi-objective state has pareto_front())
        assert best == (min(feasible, key=lambda t: (t.value, t.id)) if feasible else None)
        assert State.from_json(state.to_json()) == state
        resumed_loop, resumed = load(state.to_json())
        assert_same_run(
            run(loop, state, 2, batch=2),
            run(resumed_loop, resumed, 2, batch=2),
            "the constrained run resumed from JSON differs from the straight one",
        )
        state, pending = loop.ask(state, n=2)
        state, fresh = loop.ask(state, n=2)
        assert all(t.params not in [p.params for p in pending] for t in fresh), (
            "a pending point was asked again"
        )
        trial = fresh[0]
        good = outcomes(state, trial.params)
        assert good is not None
        name = state.constraints[0].name
        before = state.to_json()
        for bad in (
            None,
            {},
            {name: 1.0},
            {**good, "other": 1.0},
            {**good, name: math.nan},
            {**good, name: math.inf},
            {**good, name: "1"},
            {**good, name: True},
            [1.0],
        ):
            with pytest.raises(TrialError):
                loop.tell(state, trial.id, 0.5, constraints=bad)
            if hasattr(loop, "add"):
                with pytest.raises(TrialError):
                    loop.add(state, trial.params, 0.5, constraints=bad)
        assert state.to_json() == before
        told = loop.tell(state, trial.id, None, status=FAILED)  # a failed trial needs no outcomes
        assert told.trial(trial.id).constraints is None
        told = loop.tell(told, fresh[1].id, 0.5, constraints=outcomes(told, fresh[1].params))
        told, trials = loop.ask(told)
        assert_in_space(told.space, trials[0])

    # --- random spaces and values -----------------------------------------------------------
    def test_property_random_spaces_and_values(
        self, loop: Any, space_strategy: st.SearchStrategy[Space], max_examples: int
    ) -> None:
        @settings(
            max_examples=max_examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(
            space=space_strategy,
            values=st.lists(strategies.finite, min_size=3, max_size=6),
            seed=st.integers(0, 2**31),
        )
        def check(space: Space, values: list[float], seed: int) -> None:
            state = init(loop, space, seed=seed)
            for value in values:
                before = state.to_json()
                state, (t,) = loop.ask(state)
                assert_in_space(state.space, t)
                state = loop.tell(state, t.id, value)
                assert State.from_json(state.to_json()) == state
                assert before != state.to_json()
            best = state.best()
            assert best is not None and best.value == min(values)

        check()


def _multiobjective(loop: Any, space: Space, n_objectives: int) -> int | None:
    """The number of objectives of a multi-objective check (``n_objectives``, capped at the loop's
    limit); None for a loop that serves one objective, once it refused two at ``init``."""
    limit = getattr(loop, "max_objectives", 1)
    if limit == 1:
        with pytest.raises(ConfigError):
            loop.init(init(loop, space).space, n_objectives=2)
        return None
    if isinstance(n_objectives, bool) or not isinstance(n_objectives, int) or n_objectives < 2:
        pytest.fail(f"the `n_objectives` fixture must be an integer >= 2, got {n_objectives!r}.")
    return n_objectives if limit is None else min(n_objectives, limit)


__all__ = ["LoopConformance"]
