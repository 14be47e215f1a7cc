"""The multi-objective data layer: Pareto fronts, hypervolumes and the stored reference point,
checked against BoTorch's own (``is_non_dominated``, ``Hypervolume``, ``infer_reference_point``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume, infer_reference_point
from botorch.utils.multi_objective.pareto import is_non_dominated

import asktell
from asktell import Real, Space, State
from asktell.errors import ConfigError, ShapeError, StateError, TrialError
from asktell.loops import RandomSearch, Sobol
from asktell.pareto import hypervolume, non_dominated, reference_trials
from asktell.pareto import hypervolume_history as history_of
from asktell.pareto import infer_reference_point as our_reference_point
from asktell.state import Problem

SPACE = Space({"x": Real(0.0, 1.0), "y": Real(0.0, 1.0)})


def fronts(m: int, n: int, seed: int) -> np.ndarray:
    """Random points with many non-dominated ones: near the simplex, plus noise."""
    rng = np.random.default_rng([seed, m, n])
    points = rng.dirichlet(np.ones(m), size=n) + 0.3 * rng.random((n, m))
    return points


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_the_non_dominated_mask_is_botorchs(m, seed):
    Y = fronts(m, 40, seed)
    ours = non_dominated(Y)
    theirs = is_non_dominated(-torch.as_tensor(Y)).numpy()  # BoTorch maximizes
    np.testing.assert_array_equal(ours, theirs)
    assert 0 < ours.sum() <= len(Y)


def test_of_equal_points_only_the_first_is_on_the_front():
    Y = np.array([[1.0, 2.0], [0.5, 3.0], [1.0, 2.0], [2.0, 2.5]])
    assert non_dominated(Y).tolist() == [True, True, False, False]


@pytest.mark.parametrize("m", [2, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_the_hypervolume_is_botorchs(m, seed):
    Y = fronts(m, 30, seed)
    ref = Y.max(0) + 0.05
    theirs = Hypervolume(ref_point=-torch.as_tensor(ref)).compute(
        -torch.as_tensor(Y)[is_non_dominated(-torch.as_tensor(Y))]
    )
    assert hypervolume(Y, ref) == pytest.approx(theirs, rel=1e-10)


def test_points_beyond_the_reference_point_add_nothing():
    Y = np.array([[0.0, 0.0], [2.0, -1.0], [0.5, 0.5]])
    assert hypervolume(Y, [1.0, 1.0]) == pytest.approx(1.0)  # [2, -1] is outside in x
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0]) == 0.0
    assert hypervolume([[1.0, 0.0]], [1.0, 1.0]) == 0.0  # on the boundary: not strictly better


def test_a_hypervolume_needs_a_matching_reference_point():
    with pytest.raises(ShapeError, match="2 finite numbers"):
        hypervolume([[0.0, 0.0]], [1.0, 1.0, 1.0])
    with pytest.raises(ShapeError, match="finite"):
        hypervolume([[0.0, 0.0]], [1.0, math.nan])
    with pytest.raises(ShapeError, match="finite"):
        hypervolume([[0.0, math.inf]], [1.0, 1.0])


@pytest.mark.parametrize("m", [2, 3])
def test_the_inferred_reference_point_is_botorchs_for_minimization(m):
    Y = fronts(m, 20, 7)
    minus = -torch.as_tensor(Y)
    theirs = -infer_reference_point(minus[is_non_dominated(minus)]).numpy()
    np.testing.assert_allclose(our_reference_point(Y), theirs, rtol=1e-12)
    single = np.array([[2.0, -3.0]])  # one point: pushed out by a tenth of its size
    np.testing.assert_allclose(
        our_reference_point(single), -infer_reference_point(-torch.as_tensor(single)).numpy()
    )


def run(loop, n: int, *, ref_point=None, constraints=None, space=SPACE):
    """``n`` asks of a two-objective run (with ``g <= 0.5`` when constrained)."""
    state = loop.init(space, seed=3, n_objectives=2, ref_point=ref_point, constraints=constraints)
    for _ in range(n):
        state, (trial,) = loop.ask(state)
        x, y = trial.params["x"], trial.params["y"]
        outcomes = {"g": x + y} if constraints else None
        state = loop.tell(state, trial.id, [x, 1.0 - math.sqrt(x) + y], constraints=outcomes)
    return state


def test_the_reference_point_is_inferred_once_and_stored():
    k = reference_trials(SPACE.dim)
    early = run(Sobol(), k - 1)
    assert early.ref_point is None
    with pytest.raises(StateError, match="no reference point yet"):
        early.hypervolume()
    state = run(Sobol(), k)
    values = np.array([t.value for t in state.completed])
    np.testing.assert_allclose(state.ref_point, our_reference_point(values))
    assert state.problem.ref_point_inferred
    later = run(Sobol(), 3 * k)
    assert later.ref_point == state.ref_point  # the later points do not move it
    stored = State.from_json(later.to_json())
    assert stored.ref_point == later.ref_point and stored == later
    assert later.to_dict()["problem"]["ref_point_inferred"] is True


def test_a_given_reference_point_is_kept_and_used():
    state = run(RandomSearch(), 12, ref_point=[2.0, 3])
    assert state.ref_point == (2.0, 3.0) and not state.problem.ref_point_inferred
    values = np.array([t.value for t in state.completed])
    assert state.hypervolume() == pytest.approx(hypervolume(values, [2.0, 3.0]))
    assert state.hypervolume([1.0, 1.0]) == pytest.approx(hypervolume(values, [1.0, 1.0]))
    assert "ref_point_inferred" not in state.to_dict()["problem"]


@pytest.mark.parametrize(
    "ref_point, n_objectives, match",
    [
        ([1.0], 2, "2 numbers"),
        ([1.0, 2.0, 3.0], 2, "2 numbers"),
        ([1.0, math.nan], 2, "finite"),
        ([1.0, math.inf], 2, "finite"),
        ([1.0, "2"], 2, "numbers"),
        ([True, 1.0], 2, "numbers"),
        ("1,2", 2, "list of 2 numbers"),
        ({"a": 1}, 2, "list of 2 numbers"),
        ([1.0, 10**400], 2, "finite"),
        ([1.0], 1, "several objectives"),
    ],
)
def test_a_bad_reference_point_is_refused_at_init(ref_point, n_objectives, match):
    with pytest.raises(ConfigError, match=match):
        Sobol().init(SPACE, n_objectives=n_objectives, ref_point=ref_point)


def test_a_stored_bad_reference_point_is_refused_on_load():
    data = run(Sobol(), 2, ref_point=[1.0, 2.0]).to_dict()
    data["problem"]["ref_point"] = [1.0]
    with pytest.raises(StateError, match="problem definition is invalid"):
        State.from_dict(data)
    data["problem"]["ref_point"] = [1.0, 2.0]
    data["problem"]["ref_point_inferred"] = "yes"
    with pytest.raises(StateError, match="ref_point_inferred"):
        State.from_dict(data)
    del data["problem"]["ref_point"]
    data["problem"]["ref_point_inferred"] = True
    with pytest.raises(StateError, match="no ref_point"):
        State.from_dict(data)


def test_the_front_and_its_hypervolume():
    state = run(Sobol(), 16)
    front = state.pareto_front()
    values = np.array([t.value for t in state.completed])
    mask = non_dominated(values)
    assert [t.id for t in front] == [t.id for t, keep in zip(state.completed, mask, strict=True) if keep]
    assert [t.id for t in front] == sorted(t.id for t in front)
    assert state.hypervolume() == pytest.approx(hypervolume(values, state.ref_point))
    assert hypervolume(values[mask], state.ref_point) == pytest.approx(state.hypervolume())


def test_the_history_grows_to_the_hypervolume():
    state = run(Sobol(), 16)
    history = state.hypervolume_history()
    assert len(history) == len(state.trials)
    assert all(b >= a for a, b in zip(history, history[1:], strict=False))
    assert history[-1] == pytest.approx(state.hypervolume())
    first_five = State.from_dict({**state.to_dict(), "trials": state.to_dict()["trials"][:5]})
    assert history[4] == pytest.approx(first_five.hypervolume(state.ref_point))


def test_a_constrained_front_holds_feasible_trials_only():
    state = run(Sobol(), 16, constraints=["g <= 0.5"])
    front = state.pareto_front()
    assert front and all(t.feasible for t in front)
    feasible = np.array([t.value for t in state.feasible])
    assert state.hypervolume() == pytest.approx(hypervolume(feasible, state.ref_point))
    everything = np.array([t.value for t in state.completed])
    assert state.hypervolume() <= hypervolume(everything, state.ref_point)


def test_best_points_to_the_front_for_several_objectives():
    state = run(Sobol(), 3)
    with pytest.raises(StateError, match="pareto_front"):
        state.best()


def test_one_objective_has_the_best_trial_as_its_front():
    loop = Sobol()
    state = loop.init(SPACE, seed=0)
    for _ in range(6):
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, trial.params["x"])
    assert state.pareto_front() == [state.best()]
    assert state.ref_point is None and "ref_point" not in state.to_dict()["problem"]


def test_a_failed_trial_and_a_bad_value_leave_the_front_alone():
    loop = Sobol()
    state = run(loop, 8)
    state, (trial,) = loop.ask(state)
    before = state.to_json()
    for value in ([1.0], [1.0, math.nan], 1.0, [1.0, 2.0, 3.0]):
        with pytest.raises(TrialError):
            loop.tell(state, trial.id, value)
    assert state.to_json() == before
    failed = loop.tell(state, trial.id, None, status="failed")
    assert failed.pareto_front() == state.pareto_front()


def test_the_top_level_exports_the_hypervolume():
    assert asktell.hypervolume is hypervolume
    assert asktell.hypervolume([[0.0, 0.0]], [1.0, 2.0]) == pytest.approx(2.0)


def test_problem_json_without_multiple_objectives_is_unchanged():
    assert Problem().to_dict() == {"n_objectives": 1}
    assert Problem(n_objectives=2).to_dict() == {"n_objectives": 2}


@pytest.mark.parametrize("m", [2, 3, 4])
def test_the_history_of_a_sequence_is_each_prefixs_hypervolume(m):
    Y = fronts(m, 25, 11)
    ref = Y.max(0) - 0.05  # some points fall outside it
    expected = [hypervolume(Y[: k + 1], ref) for k in range(len(Y))]
    np.testing.assert_allclose(history_of(np.vstack([Y]), ref), expected, rtol=1e-10, atol=1e-14)
    repeated = np.vstack([Y[:3], Y[:3]])  # repeated points add nothing
    assert history_of(repeated, ref)[-1] == pytest.approx(hypervolume(Y[:3], ref))


def test_the_reference_point_comes_from_the_feasible_trials():
    # infeasible points (y < 0.7) are better than every feasible one: a point inferred from them
    # would lie inside the feasible region, and the run's hypervolume would stay 0
    loop = Sobol()
    state = loop.init(SPACE, seed=0, n_objectives=2, constraints=["y >= 0.7"])
    k = reference_trials(SPACE.dim)
    for _ in range(40):
        state, (trial,) = loop.ask(state)
        x, y = trial.params["x"], trial.params["y"]
        state = loop.tell(state, trial.id, [x + y, 1.0 - x + y], constraints={"y": y})
        done = state.completed
        if len(done) >= k and not any(t.feasible for t in done):
            assert state.ref_point is None  # no feasible trial yet: nothing to infer from
    feasible = np.array([t.value for t in state.feasible])
    assert state.ref_point is not None and (feasible.min(0) < np.array(state.ref_point)).all()
    assert state.hypervolume() > 0
    told = state.completed  # told in id order here
    at = next(n for n in range(k, len(told) + 1) if any(t.feasible for t in told[:n]))  # the inferring tell
    values = np.array([t.value for t in told[:at] if t.feasible])
    np.testing.assert_allclose(state.ref_point, our_reference_point(values))
