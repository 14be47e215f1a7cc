"""Several objectives through ``asktell.minimize`` (issue 16): ``f`` returns one value per objective,
the result has no single best trial but a Pareto front and its hypervolume, a wrong count is refused
clearly and a resumed state keeps its problem."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import asktell
from asktell.errors import ConfigError
from asktell.loops import RandomSearch, Sobol
from asktell.pareto import infer_reference_point, non_dominated, reference_trials

SPACE = {"x": {"type": "real", "low": 0.0, "high": 1.0}, "y": {"type": "real", "low": 0.0, "high": 1.0}}
NEEDED = reference_trials(2)


def f(params: dict) -> tuple[float, float]:
    """Two conflicting objectives (Schaffer's, shifted by y): the front is y = 0, x in [0, 1]."""
    x, y = params["x"], params["y"]
    return x**2 + y, (x - 1) ** 2 + y


def test_minimize_with_two_objectives_finds_the_front() -> None:
    result = asktell.minimize(f, SPACE, loop=Sobol(), budget=16, seed=0, n_objectives=2)
    state = result.state
    assert state.n_objectives == 2 and len(state.completed) == 16
    for trial in state.trials:  # every value as f gave it
        assert trial.value == f(trial.params)
    values = np.array([t.value for t in state.trials])
    front = [t for t, keep in zip(state.trials, non_dominated(values), strict=True) if keep]
    assert result.pareto_front == front == state.pareto_front() and 1 < len(front) < 16
    assert result.best is None and result.best_value is None and result.best_params is None
    # the reference point was inferred from the first trials, and the hypervolume is against it
    assert state.ref_point == tuple(infer_reference_point(values[:NEEDED]))
    assert state.problem.ref_point_inferred
    assert result.hypervolume == asktell.hypervolume(values, state.ref_point) > 0
    point = "[" + ", ".join(f"{x:.6g}" for x in state.ref_point) + "]"
    assert result.summary == (
        f"a Pareto front of {len(front)} of the 16 completed trials; hypervolume "
        f"{result.hypervolume:.6g} (reference point {point}, inferred)"
    )
    # the run is the same as the loop's own ask/tell with the same values
    loop = Sobol()
    expected = loop.init(asktell.Space.from_dict(SPACE), seed=0, n_objectives=2)
    for _ in range(16):
        expected, (trial,) = loop.ask(expected)
        expected = loop.tell(expected, trial.id, f(trial.params))
    assert state == expected


def test_a_given_reference_point_and_other_value_types() -> None:
    calls = iter(range(100))

    def g(params: dict):  # a list, a tuple, an array: all one value per objective
        kind = next(calls) % 3
        value = f(params)
        return [value[0], value[1]] if kind == 0 else value if kind == 1 else np.array(value)

    result = asktell.minimize(g, SPACE, loop=RandomSearch(), budget=6, n_objectives=2, ref_point=[2, 2])
    assert result.state.ref_point == (2.0, 2.0) and not result.state.problem.ref_point_inferred
    assert [t.value for t in result.trials] == [f(t.params) for t in result.trials]
    values = [t.value for t in result.trials]
    assert result.hypervolume == pytest.approx(asktell.hypervolume(values, [2.0, 2.0]), abs=0)
    assert result.summary.endswith("(reference point [2, 2], given)")


def test_before_a_reference_point_the_hypervolume_is_none() -> None:
    result = asktell.minimize(f, SPACE, loop=Sobol(), budget=NEEDED - 1, n_objectives=2)
    assert result.state.ref_point is None and result.hypervolume is None
    assert result.summary.endswith(f"; no reference point yet (inferred after {NEEDED} completed trials)")
    with pytest.raises(asktell.errors.StateError, match="no reference point yet"):
        result.state.hypervolume()  # the state says so; the result's property does not raise
    empty = asktell.minimize(f, SPACE, loop=Sobol(), budget=0, n_objectives=2)
    assert empty.best is None and empty.pareto_front == []
    assert empty.summary.startswith("no completed trial yet;")


def test_one_objective_results_are_unchanged() -> None:
    result = asktell.minimize(lambda p: f(p)[0], SPACE, loop=Sobol(), budget=4)
    assert result.best is not None and result.pareto_front == [result.best]
    assert result.hypervolume is None and result.summary.startswith("best value")


def test_failed_and_non_finite_values_are_failed_trials() -> None:
    calls = iter(range(100))

    def flaky(params: dict):
        k = next(calls)
        if k == 0:
            raise RuntimeError("the simulator crashed")
        if k == 1:
            return 0.5, float("nan")
        if k == 2:
            return 0.5, "slow"
        return f(params)

    result = asktell.minimize(flaky, SPACE, loop=Sobol(), budget=5, n_objectives=2)
    assert [t.status for t in result.trials] == ["failed", "failed", "failed", "completed", "completed"]
    assert "crashed" in result.trials[0].metadata["error"]
    assert "finite float" in result.trials[1].metadata["error"]
    assert "finite float" in result.trials[2].metadata["error"]
    assert [t.id for t in result.pareto_front] == [t.id for t in result.state.pareto_front()]


def test_in_parallel_with_two_objectives() -> None:
    with ThreadPoolExecutor(2) as pool:
        result = asktell.minimize(f, SPACE, loop=Sobol(), budget=8, n_objectives=2, executor=pool)
    assert len(result.state.completed) == 8 and result.best is None
    assert all(t.value == f(t.params) for t in result.trials)
    assert result.pareto_front == result.state.pareto_front() != []
    assert result.hypervolume == result.state.hypervolume()


def test_with_constraints_the_front_is_the_feasible_one() -> None:
    def h(params: dict):
        return f(params), {"y": params["y"]}

    result = asktell.minimize(h, SPACE, loop=Sobol(), budget=12, n_objectives=2, constraints=["y >= 0.5"])
    feasible = [t for t in result.trials if t.feasible]
    assert 0 < len(feasible) < 12 and result.feasible == feasible
    assert result.pareto_front and all(t.feasible for t in result.pareto_front)
    assert result.summary.startswith(f"a Pareto front of {len(result.pareto_front)} of the ")
    assert f"{len(feasible)} feasible completed trials" in result.summary


WRONG_COUNTS = {
    "a single value": (lambda p: 0.5, "it returned a single value: 0.5"),
    "three values": (lambda p: (0.5, 1.0, 2.0), "it returned 3 values"),
    "one in a list": (lambda p: [0.5], "it returned 1 values"),
    "a string": (lambda p: "ab", "it returned a single value: 'ab'"),
    "a mapping": (lambda p: {"a": 1.0, "b": 2.0}, "it returned a single value"),
    "a 0-d array": (lambda p: np.float64(0.5), "it returned a single value"),
}


@pytest.mark.parametrize("case", list(WRONG_COUNTS))
def test_a_wrong_count_from_f_stops_the_run_clearly(case: str) -> None:
    black_box, fragment = WRONG_COUNTS[case]
    with pytest.raises(ConfigError, match="the problem has 2 objectives: f must return 2 values") as info:
        asktell.minimize(black_box, SPACE, loop=Sobol(), budget=3, n_objectives=2)
    assert fragment in str(info.value)


def test_a_loop_that_serves_one_objective_refuses_several() -> None:
    with pytest.raises(ConfigError, match="ZoRD optimizes one objective"):
        asktell.minimize(f, SPACE, loop=asktell.loops.ZoRD(), budget=2, n_objectives=2)


def test_bad_problems_are_refused_before_any_evaluation() -> None:
    def never(params: dict):
        raise AssertionError("f was called")

    for kwargs, fragment in [
        ({"n_objectives": 0}, "n_objectives must be a positive integer"),
        ({"n_objectives": 2, "ref_point": [1.0]}, "ref_point must have 2 numbers"),
        ({"n_objectives": 2, "ref_point": [1.0, float("nan")]}, "finite"),
        ({"n_objectives": 2, "ref_point": "1,2"}, "must be a list of 2 numbers"),
        ({"ref_point": [1.0, 2.0]}, "a reference point is for several objectives"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            asktell.minimize(never, SPACE, loop=Sobol(), budget=2, **kwargs)


def test_resuming_keeps_the_state_problem() -> None:
    first = asktell.minimize(f, SPACE, loop=Sobol(), budget=NEEDED, n_objectives=2)
    point = first.state.ref_point
    assert point is not None
    more = asktell.minimize(f, SPACE, loop=Sobol(), budget=3, state=first.state)
    assert len(more.trials) == NEEDED + 3 and more.state.n_objectives == 2
    assert more.state.ref_point == point  # inferred once, kept
    same = asktell.minimize(
        f, SPACE, loop=Sobol(), budget=1, state=first.state, n_objectives=2, ref_point=list(point)
    )
    assert len(same.trials) == NEEDED + 1
    with pytest.raises(ConfigError, match="has 2 objective"):
        asktell.minimize(f, SPACE, loop=Sobol(), budget=1, state=first.state, n_objectives=3)
    with pytest.raises(ConfigError, match="has its own reference point"):
        asktell.minimize(f, SPACE, loop=Sobol(), budget=1, state=first.state, ref_point=[9.0, 9.0])
    fresh = asktell.minimize(f, SPACE, loop=Sobol(), budget=1, n_objectives=2)
    with pytest.raises(ConfigError, match=r"has its own reference point \(none yet\)"):
        asktell.minimize(f, SPACE, loop=Sobol(), budget=1, state=fresh.state, ref_point=[9.0, 9.0])
    assert first.state.trials == more.state.trials[:NEEDED]  # the input state is never changed


def test_the_progress_bar_shows_the_front_and_the_hypervolume(monkeypatch) -> None:
    import tqdm.auto

    stream = io.StringIO()
    real = tqdm.auto.tqdm
    monkeypatch.setattr(
        tqdm.auto, "tqdm", lambda *a, **k: real(*a, **{**k, "file": stream, "mininterval": 0})
    )
    result = asktell.minimize(f, SPACE, loop=Sobol(), budget=NEEDED + 1, n_objectives=2, progress=True)
    shown = stream.getvalue()
    assert "front=1" in shown  # before the reference point: the front's size only
    assert f"front={len(result.pareto_front)}, hv={result.hypervolume:.6g}" in shown


@pytest.mark.skipif(asktell.loops.BayesOpt.max_objectives == 1, reason="BayesOpt serves one objective")
def test_bayesopt_with_two_objectives_through_minimize() -> None:
    loop = asktell.loops.BayesOpt(n_init=4, num_restarts=2, raw_samples=32, acq_maxiter=20, max_fit_iter=50)
    result = asktell.minimize(f, SPACE, loop=loop, budget=6, n_objectives=2, ref_point=[2.0, 2.0])
    assert len(result.state.completed) == 6 and result.best is None
    assert all(t.value == f(t.params) for t in result.trials)
    assert result.pareto_front == result.state.pareto_front() != []
    assert result.hypervolume == result.state.hypervolume() > 0
