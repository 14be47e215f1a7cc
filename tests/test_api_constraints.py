"""Outcome constraints through ``asktell.minimize`` (issue 15): ``f`` returns ``(value, {"mem": ...})``,
the result's best is the best feasible trial, and a wrong shape is refused clearly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import asktell
from asktell.errors import ConfigError
from asktell.loops import RandomSearch, Sobol

SPACE = {"x": {"type": "real", "low": -1.0, "high": 1.0}, "y": {"type": "real", "low": -1.0, "high": 1.0}}
CONSTRAINTS = ["mem <= 0.25", "recall >= 0"]


def f(params: dict) -> tuple[float, dict[str, float]]:
    """Minimize x + y subject to x**2 + y**2 <= 0.25 and y >= 0: the optimum is (-0.5, 0)."""
    x, y = params["x"], params["y"]
    return x + y, {"mem": x * x + y * y, "recall": y}


def test_minimize_with_constraints_finds_the_best_feasible_trial() -> None:
    result = asktell.minimize(f, SPACE, loop=Sobol(), budget=32, seed=0, constraints=CONSTRAINTS)
    state = result.state
    assert [str(c) for c in state.constraints] == CONSTRAINTS
    assert len(state.completed) == 32
    for trial in state.trials:  # every outcome as f gave it, feasibility by the bounds
        value, outcomes = f(trial.params)
        assert trial.value == value and trial.constraints == outcomes
        assert trial.feasible == (outcomes["mem"] <= 0.25 and outcomes["recall"] >= 0.0)
    feasible = [t for t in state.trials if t.feasible]
    assert 0 < len(feasible) < 32 and result.feasible == feasible
    assert result.best == min(feasible, key=lambda t: t.value)
    infeasible_lower = [t for t in state.trials if not t.feasible and t.value < result.best.value]
    assert infeasible_lower  # the plain minimum breaks a constraint: it is not the best
    assert "feasible: " in result.summary and "of 32 completed" in result.summary
    # the run is the same as the loop's own ask/tell with the same outcomes
    loop = Sobol()
    expected = loop.init(asktell.Space.from_dict(SPACE), seed=0, constraints=CONSTRAINTS)
    for _ in range(32):
        expected, (trial,) = loop.ask(expected)
        value, outcomes = f(trial.params)
        expected = loop.tell(expected, trial.id, value, constraints=outcomes)
    assert state == expected


def test_no_feasible_trial_yet_is_said_not_pretended() -> None:
    result = asktell.minimize(
        f, SPACE, loop=RandomSearch(), budget=5, constraints=["mem <= -1", "recall >= 0"]
    )
    assert result.best is None and result.best_value is None and result.feasible == []
    assert result.summary.startswith("no feasible trial yet: none of the 5 completed trials")


def test_failed_and_non_finite_outcomes_are_failed_trials() -> None:
    calls = iter(range(100))

    def flaky(params: dict):
        k = next(calls)
        if k == 0:
            raise RuntimeError("the simulator crashed")
        if k == 1:
            return 0.5, {"mem": float("nan"), "recall": 1.0}
        return f(params)

    result = asktell.minimize(flaky, SPACE, loop=Sobol(), budget=4, constraints=CONSTRAINTS)
    statuses = [t.status for t in result.trials]
    assert statuses == ["failed", "failed", "completed", "completed"]
    assert "crashed" in result.trials[0].metadata["error"]
    assert "'mem' must be finite" in result.trials[1].metadata["error"]
    assert result.trials[1].constraints is None and result.trials[1].feasible is None


def test_in_parallel_with_constraints() -> None:
    with ThreadPoolExecutor(2) as pool:
        result = asktell.minimize(f, SPACE, loop=Sobol(), budget=8, constraints=CONSTRAINTS, executor=pool)
    assert len(result.state.completed) == 8
    assert all(t.constraints == f(t.params)[1] for t in result.trials)
    assert result.best is None or result.best.feasible


WRONG_SHAPES = {
    "value alone": (lambda p: 0.5, "f must return (value, {'mem': ...})"),
    "outcomes alone": (lambda p: {"mem": 0.1, "recall": 0.1}, "f must return (value"),
    "a name missing": (lambda p: (0.5, {"mem": 0.1}), "it returned ['mem']"),
    "an unknown name": (lambda p: (0.5, {"mem": 0.1, "recall": 1, "x": 2}), "and only those"),
    "three items": (lambda p: (0.5, {"mem": 0.1, "recall": 1}, 3), "f must return (value"),
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_a_wrong_shape_from_f_stops_the_run_clearly(case: str) -> None:
    black_box, fragment = WRONG_SHAPES[case]
    with pytest.raises(ConfigError, match="constrained") as info:
        asktell.minimize(black_box, SPACE, loop=Sobol(), budget=3, constraints=CONSTRAINTS)
    assert fragment in str(info.value)


def test_outcomes_for_an_unconstrained_run_are_refused() -> None:
    with pytest.raises(ConfigError, match="declares no constraints"):
        asktell.minimize(f, SPACE, loop=Sobol(), budget=2)


def test_a_loop_that_cannot_use_constraints_refuses_them() -> None:
    with pytest.raises(ConfigError, match="ZoRD cannot use outcome constraints"):
        asktell.minimize(f, SPACE, loop=asktell.loops.ZoRD(), budget=2, constraints=CONSTRAINTS)


def test_bad_constraints_are_refused_before_any_evaluation() -> None:
    def never(params: dict):
        raise AssertionError("f was called")

    for bad, fragment in [
        ("mem <= 4", "list of strings"),
        (["mem < 4"], "cannot read"),
        (["mem <= 4", "mem >= 1"], "twice"),
        (["mem <= nan"], "must be a number"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            asktell.minimize(never, SPACE, loop=Sobol(), budget=2, constraints=bad)


def test_resuming_keeps_the_state_constraints() -> None:
    first = asktell.minimize(f, SPACE, loop=Sobol(), budget=4, constraints=CONSTRAINTS)
    more = asktell.minimize(f, SPACE, loop=Sobol(), budget=4, state=first.state)
    assert len(more.trials) == 8 and more.state.constraints == first.state.constraints
    same = asktell.minimize(f, SPACE, loop=Sobol(), budget=1, state=first.state, constraints=CONSTRAINTS)
    assert len(same.trials) == 5
    with pytest.raises(ConfigError, match="has its own constraints"):
        asktell.minimize(f, SPACE, loop=Sobol(), budget=1, state=first.state, constraints=["mem <= 1"])
    assert first.state.trials == more.state.trials[:4]  # the input state is never changed


def test_constraint_is_exported() -> None:
    assert asktell.Constraint.parse("mem <= 4") == asktell.Constraint("mem", "<=", 4.0)
    assert "Constraint" in asktell.__all__
