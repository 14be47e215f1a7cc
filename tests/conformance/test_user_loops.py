"""The conformance suite as a user meets it: a loop of their own passes it by subclassing, the
documented example runs, and loops that break the protocol fail the checks they break (a suite that
cannot fail would prove nothing)."""

from __future__ import annotations

import importlib
import inspect
import random
import sys
import textwrap
import time
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import pytest
from scipy.stats import qmc

import asktell.testing
from asktell.errors import ConfigError, StateError
from asktell.loops import Loop, Proposal
from asktell.registry import register_loop
from asktell.rng import derive_seed
from asktell.space import Space
from asktell.state import State, Trial
from asktell.testing import BAD_TELLS, MIXED_SPACE, LoopConformance, strategies

pytest_plugins = ["pytester"]


class HaltonMemo(TypedDict):
    issued: int  # points of the sequence handed out: one per asked trial


@register_loop
@dataclass(frozen=True)
class HaltonLoop(Loop):
    """A user's loop in a few lines: a (scrambled) Halton sequence that resumes where it stopped.

    It never reads the values, so it serves any number of objectives and gets the suite's
    multi-objective checks too. Its option is checked when it is built and its memo when a state
    is loaded, as the suite's hostile checks demand.
    """

    name = "conformance_halton"
    max_objectives = None
    memo_schema = HaltonMemo
    scramble: bool = True

    def _validate_config(self) -> None:
        if not isinstance(self.scramble, bool):
            raise ConfigError(f"scramble must be true or false, got {self.scramble!r}.")

    def _check_memo(self, state: State) -> None:
        asked = sum(1 for t in state.trials if not t.metadata.get("added"))
        if state.memo["issued"] != asked:
            raise StateError(
                f"the memo's issued must count the {asked} asked trials, got {state.memo['issued']}."
            )

    def _init_memo(self, space: Space, seed: int) -> dict[str, Any]:
        return {"issued": 0}

    def _propose(self, state: State, n: int) -> Proposal:
        issued = int(state.memo["issued"])
        engine = qmc.Halton(
            d=state.space.dim, scramble=self.scramble, seed=derive_seed(state.seed, self.name)
        )
        engine.fast_forward(issued)
        return Proposal(
            params=state.space.decode_many(engine.random(n)),
            memo={**state.memo, "issued": issued + n},
        )


class TestHaltonLoop(LoopConformance):
    @pytest.fixture
    def loop(self):
        return HaltonLoop()

    @pytest.fixture(params=[pytest.param(True, marks=pytest.mark.slow, id="fresh")])
    def fresh_process(self, request) -> bool:
        return request.param


def test_the_other_configuration_is_derived_from_the_options():
    suite_loop = asktell.testing.helpers.with_other_config(HaltonLoop())
    assert suite_loop == HaltonLoop(scramble=False)


# --- loops that break the protocol, each in one way --------------------------------------------
@dataclass(frozen=True)
class MutatesItsInput(HaltonLoop):
    """Counts its points in the memo of the state it was given, in place."""

    name = "conformance_mutates"

    def _propose(self, state: State, n: int) -> Proposal:
        proposal = super()._propose(state, n)
        state.memo["issued"] = proposal.memo["issued"]
        return replace(proposal, memo=state.memo)


@register_loop
@dataclass(frozen=True)
class Nondeterministic(HaltonLoop):
    """Shifts its points with Python's global random generator."""

    name = "conformance_nondeterministic"

    def _propose(self, state: State, n: int) -> Proposal:
        proposal = super()._propose(state, n)
        shift = random.random()
        X = (state.space.encode_many(proposal.params) + shift) % 1.0
        return replace(proposal, params=state.space.decode_many(X))


@dataclass(frozen=True)
class RecordsTheClock(HaltonLoop):
    """Writes the time of the ask into metadata under a key that does not say it is a timing."""

    name = "conformance_clock"

    def _propose(self, state: State, n: int) -> Proposal:
        proposal = super()._propose(state, n)
        return replace(proposal, metadata=[{"asked_at": time.perf_counter_ns()}] * n)


@dataclass(frozen=True)
class NegativeSeconds(HaltonLoop):
    """Reports a duration that cannot be one."""

    name = "conformance_negative_seconds"

    def _propose(self, state: State, n: int) -> Proposal:
        return replace(super()._propose(state, n), metadata=[{"fit_seconds": -1.0}] * n)


@dataclass(frozen=True)
class ForgetsPending(HaltonLoop):
    """Indexes its sequence by the trials told, so it asks a pending point again."""

    name = "conformance_forgets_pending"

    def _propose(self, state: State, n: int) -> Proposal:
        done = sum(t.done for t in state.trials)
        return super()._propose(replace(state, memo={"issued": done}), n)


@dataclass(frozen=True)
class AsksOutside(HaltonLoop):
    """Skips the base class's check of the points (as a loop written to the bare protocol may)."""

    name = "conformance_outside"

    def ask(self, state: State, n: int = 1) -> tuple[State, list[Trial]]:
        new, trials = super().ask(state, n)
        name = next(iter(new.space.params))
        moved = [replace(t, params={**t.params, name: 1e9}) for t in trials]
        return replace(new, trials=new.trials[: len(state.trials)] + tuple(moved)), moved


@dataclass(frozen=True)
class TakesAnyState(HaltonLoop):
    """Does not look at whose state it was given."""

    name = "conformance_any_state"

    def _check_state(self, state: State) -> None:
        pass


@dataclass(frozen=True)
class AcceptsNan(HaltonLoop):
    """Stores a NaN instead of refusing it."""

    name = "conformance_accepts_nan"

    def tell(self, state: State, trial_id: Any, value: Any, **kwargs: Any) -> State:
        if isinstance(value, float) and value != value:
            trial = state.trial(trial_id)
            return state.replace_trial(replace(trial, status="completed", value=value))
        return super().tell(state, trial_id, value, **kwargs)


FIXTURES = {"space": MIXED_SPACE, "n_warmup": 4, "fresh_process": True}
NAN = {"case": next(c for c in BAD_TELLS if c.name == "nan")}
BROKEN = [  # (loop, the check it fails, extra fixture values, what the failure says)
    (MutatesItsInput(), "test_ask_and_tell_never_change_their_inputs", {}, "ask changed the state"),
    (Nondeterministic(), "test_same_seed_and_calls_give_the_same_run", {}, "same seed, another run"),
    (Nondeterministic(), "test_json_round_trip_mid_run_resumes_identically", {}, "resumed from JSON"),
    (Nondeterministic(), "test_same_call_in_a_fresh_process", {}, "a fresh process asked otherwise"),
    (RecordsTheClock(), "test_same_seed_and_calls_give_the_same_run", {}, "asked_at"),
    (NegativeSeconds(), "test_same_seed_and_calls_give_the_same_run", {}, "'fit_seconds' = -1.0"),
    (ForgetsPending(), "test_pending_trials_are_not_asked_again", {}, "pending point was asked again"),
    (AsksOutside(), "test_ask_n_returns_n_distinct_trials_inside_the_space", {}, "outside the space"),
    (AsksOutside(), "test_failed_trials_do_not_break_the_next_ask", {}, "outside the space"),
    (TakesAnyState(), "test_states_of_other_loops_and_configurations_are_refused", {}, "StateError"),
    (AcceptsNan(), "test_bad_tells_are_refused_and_change_nothing", NAN, "DID NOT RAISE"),
]


@pytest.mark.parametrize(
    "broken, check, extra, says",
    BROKEN,
    ids=[f"{b.name}-{c.removeprefix('test_')}" for b, c, _, _ in BROKEN],
)
def test_a_loop_that_breaks_the_protocol_fails_the_check(broken, check, extra, says):
    method = getattr(LoopConformance(), check)
    given = {**FIXTURES, **extra, "loop": broken, "loop_with_other_config": None}
    arguments = {name: given[name] for name in inspect.signature(method).parameters}
    with pytest.raises((AssertionError, pytest.fail.Exception)) as failure:
        method(**arguments)
    assert says in str(failure.value)


def test_the_broken_loops_pass_the_checks_they_do_not_break():
    """Each broken loop fails for its one fault, not for a fault of the checks: the same loop
    passes a check unrelated to its fault."""
    suite = LoopConformance()
    for broken in (ForgetsPending(), TakesAnyState(), AcceptsNan(), NegativeSeconds()):
        suite.test_ask_and_tell_never_change_their_inputs(loop=broken, space=MIXED_SPACE, n_warmup=4)
    suite.test_pending_trials_are_not_asked_again(loop=MutatesItsInput(), space=MIXED_SPACE, n_warmup=4)


# --- the documented example --------------------------------------------------------------------
def _docstring_example(doc: str) -> str:
    """The literal block after the first line ending in ``::`` of a docstring."""
    lines = doc.splitlines()
    start = next(i for i, line in enumerate(lines) if line.rstrip().endswith("::")) + 1
    block = []
    for line in lines[start:]:
        if line.strip() and not line.startswith(" "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


def test_the_documented_example_runs_and_passes(pytester):
    """The module docstring's example, as a user's test file, passes every check (the slow
    fresh-process one included: the user's module imports in a fresh interpreter)."""
    assert asktell.testing.__doc__ is not None
    example = _docstring_example(asktell.testing.__doc__)
    assert "class TestMyLoop(LoopConformance):" in example
    pytester.makepyfile(test_my_loop=example)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 20 and set(outcomes) <= {"passed", "warnings"}, result.stdout.str()


def test_a_subclass_without_a_loop_says_what_to_override(pytester):
    pytester.makepyfile(
        test_nothing="from asktell.testing import LoopConformance\n\n"
        "class TestNothing(LoopConformance):\n    pass\n"
    )
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-k", "test_init_gives"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*define a `loop` fixture*"])


def test_the_strategies_draw_valid_spaces_and_points():
    from hypothesis import given, settings

    @settings(max_examples=20, derandomize=True, database=None)
    @given(data=strategies.spaces().flatmap(lambda s: strategies.points(s).map(lambda p: (s, p))))
    def check(data):
        space, point = data
        assert space.check(point) == point

    check()


# --- without the dev dependencies --------------------------------------------------------------
@pytest.mark.parametrize("missing", ["pytest", "hypothesis"])
def test_without_pytest_or_hypothesis_the_import_error_says_what_to_install(monkeypatch, missing):
    for name in [m for m in sys.modules if m == "asktell.testing" or m.startswith("asktell.testing.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, missing, None)  # `import <missing>` now raises ImportError
    with pytest.raises(ImportError, match=f"needs pytest and hypothesis.*missing: {missing}.*pip install"):
        importlib.import_module("asktell.testing")
