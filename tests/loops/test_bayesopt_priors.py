"""BayesOpt with a prior space (issue 18): the design starts at the prior's mode and draws every other
point from the prior, piBO's exponent is ``beta / n`` (``prior_beta``, a tenth of the budget, or 10),
a sharp prior pulls the asks to it and then lets go, constrained and multi-objective problems keep
working, and what cannot take a prior weight is refused at ``init``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asktell import Real, Space
from asktell.errors import ConfigError
from asktell.loops import BayesOpt, RandomSearch
from asktell.loops.random import sobol_points
from asktell.priors import Normal

FAST = {"num_restarts": 2, "raw_samples": 64, "acq_maxiter": 30, "max_fit_iter": 50}
PLAIN = Space({"x": Real(-5.0, 10.0), "y": Real(0.0, 15.0)})
PRIOR = Space({"x": Real(-5.0, 10.0, prior=Normal(9.0, 1.0)), "y": Real(0.0, 15.0, prior=Normal(3.0, 1.0))})


def branin(p) -> float:
    x, y = p["x"], p["y"]
    return (
        (y - 5.1 / (4 * math.pi**2) * x**2 + 5 / math.pi * x - 6) ** 2
        + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x)
        + 10
    )


def run(loop, space, steps, seed=0, **init):
    state = loop.init(space, seed=seed, **init)
    for _ in range(steps):
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, branin(trial.params))
    return state


def test_the_design_starts_at_the_mode_and_draws_every_other_point_from_the_prior() -> None:
    loop = BayesOpt(n_init=6, **FAST)
    state, trials = loop.ask(loop.init(PRIOR, seed=3), 6)
    assert [t.metadata.get("prior") for t in trials] == ["mode", "draw", None, "draw", None, "draw"]
    assert trials[0].params == pytest.approx({"x": 9.0, "y": 3.0})
    # the uniform ones are the plain run's Sobol points; the drawn ones those points through the prior
    plain = PLAIN.decode_many(sobol_points(2, 3, 0, 6))
    for i in (2, 4):
        assert trials[i].params == plain[i]
    drawn = PRIOR.decode_many(PRIOR.from_prior(sobol_points(2, 3, 0, 6).numpy()))
    for i in (1, 3, 5):
        assert trials[i].params == drawn[i]
    # and a space without priors keeps its design
    _, plain_trials = loop.ask(loop.init(PLAIN, seed=3), 6)
    assert [t.params for t in plain_trials] == plain and all("prior" not in t.metadata for t in plain_trials)


@pytest.mark.parametrize(
    "config, want",
    [({}, [10.0, 5.0, 10 / 3]), ({"budget": 40}, [4.0, 2.0, 4 / 3]), ({"prior_beta": 3.0}, [3.0, 1.5, 1.0])],
)
def test_the_prior_weight_decays_as_beta_over_the_model_based_asks(config, want) -> None:
    state = run(BayesOpt(n_init=4, **FAST, **config), PRIOR, 7)
    weights = [t.metadata.get("prior_weight") for t in state.trials]
    assert weights[:4] == [None] * 4
    assert weights[4:] == pytest.approx(want)


def test_a_good_prior_leads_the_first_asks_and_prior_method_design_does_not() -> None:
    """With a sharp prior at (9, 3) (near Branin's minimum at (9.42, 2.47)), piBO's first
    model-based asks stay near it; without the weight they explore elsewhere."""
    sharp = Space(
        {"x": Real(-5.0, 10.0, prior=Normal(9.0, 0.3)), "y": Real(0.0, 15.0, prior=Normal(3.0, 0.3))}
    )
    pibo = run(BayesOpt(n_init=4, prior_beta=50.0, **FAST), sharp, 7)
    design = run(BayesOpt(n_init=4, prior_method="design", **FAST), sharp, 7)
    assert pibo.trials[0].params == design.trials[0].params  # the same design

    def spread(state):
        return max(math.hypot(t.params["x"] - 9.0, t.params["y"] - 3.0) for t in state.trials[4:])

    assert spread(pibo) < 1.5 < spread(design)
    assert all("prior_weight" not in t.metadata for t in design.trials)
    # and it improves on the mode itself (branin(9, 3) = 1.99; the minimum is 0.398)
    assert min(t.value for t in pibo.completed) < 1.5 < branin({"x": 9.0, "y": 3.0})


def test_constraints_and_several_objectives_keep_working_with_priors() -> None:
    loop = BayesOpt(n_init=3, **FAST)
    state = loop.init(PRIOR, seed=1, constraints=["c <= 20"])
    for _ in range(5):
        state, (trial,) = loop.ask(state)
        value = branin(trial.params)
        state = loop.tell(state, trial.id, value, constraints={"c": trial.params["x"] + trial.params["y"]})
    assert [t.metadata.get("prior_weight") is not None for t in state.trials] == [False] * 3 + [True] * 2
    assert state.trials[0].metadata["prior"] == "mode"

    state = loop.init(PRIOR, seed=1, n_objectives=2)
    for _ in range(5):
        state, (trial,) = loop.ask(state)
        state = loop.tell(state, trial.id, [branin(trial.params), (trial.params["x"] - 2) ** 2])
    assert state.trials[-1].metadata["acquisition"] == "qlognehvi"
    assert state.trials[-1].metadata["prior_weight"] == pytest.approx(10.0 / 2)


def test_a_batch_with_pending_points_is_weighted_too() -> None:
    loop = BayesOpt(n_init=3, **FAST)
    state = run(loop, PRIOR, 4)
    state, trials = loop.ask(state, 3)
    assert len({(t.params["x"], t.params["y"]) for t in trials}) == 3
    assert all(t.metadata["prior_weight"] == pytest.approx(10.0 / 2) for t in trials)


@pytest.mark.parametrize("acquisition", ["ucb", "ts", "config"])
def test_acquisitions_that_take_no_weight_are_refused_at_init_with_a_prior(acquisition: str) -> None:
    loop = BayesOpt(acquisition=acquisition)
    with pytest.raises(ConfigError, match="prior_method='design'"):
        loop.init(PRIOR, seed=0)
    loop.init(PLAIN, seed=0)  # without priors they run as before
    BayesOpt(acquisition=acquisition, prior_method="design").init(PRIOR, seed=0)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"prior_method": "colabo2"}, "prior_method"),
        ({"prior_beta": -1.0}, "prior_beta"),
        ({"prior_beta": float("nan")}, "prior_beta"),
    ],
)
def test_bad_prior_options_are_refused(config, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BayesOpt(**config)


def test_random_search_draws_from_the_prior() -> None:
    loop = RandomSearch()
    state, trials = loop.ask(loop.init(PRIOR, seed=0), 400)
    x = np.array([t.params["x"] for t in trials])
    assert abs(np.median(x) - 9.0) < 0.2 and 0.5 < x.std() < 1.1  # Normal(9, 1) truncated at 10
    _, plain = loop.ask(loop.init(PLAIN, seed=0), 400)
    assert abs(np.median([t.params["x"] for t in plain]) - 2.5) < 1.5


@pytest.mark.parametrize("acquisition", ["qlognei", "ts"])
def test_colabo_asks_on_its_weighted_paths(acquisition: str) -> None:
    loop = BayesOpt(n_init=3, prior_method="colabo", acquisition=acquisition, **FAST)
    state = run(loop, PRIOR, 5)
    last = state.trials[-1].metadata
    assert last["acquisition"] == acquisition and last["prior_method"] == "colabo"
    assert last["prior_weight"] == pytest.approx(10.0 / 2) and "fast_path" not in last
    again = run(loop, PRIOR, 5)  # deterministic, as every ask
    assert [t.params for t in again.trials] == [t.params for t in state.trials]


@pytest.mark.parametrize("init", [{"constraints": ["c <= 1"]}, {"n_objectives": 2}])
def test_colabo_refuses_constraints_and_several_objectives(init) -> None:
    with pytest.raises(ConfigError, match="prior_method='pibo'"):
        BayesOpt(prior_method="colabo").init(PRIOR, seed=0, **init)


def test_colabo_refuses_acquisitions_it_does_not_drive() -> None:
    with pytest.raises(ConfigError, match="prior_method='colabo' drives"):
        BayesOpt(prior_method="colabo", acquisition="logei").init(PRIOR, seed=0)
    BayesOpt(prior_method="colabo", acquisition="logei").init(PLAIN, seed=0)  # no prior: nothing to drive


def test_colabo_refuses_categorical_parameters_which_have_no_random_features() -> None:
    from asktell.testing import PRIOR_SPACE

    with pytest.raises(ConfigError, match="categorical kernel"):
        BayesOpt(prior_method="colabo").init(PRIOR_SPACE, seed=0)
