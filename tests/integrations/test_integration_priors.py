"""Priors through the integrations (issue 18): ``AskTellSearchCV`` takes scipy.stats frozen
distributions as ``RandomizedSearchCV``'s ``param_distributions`` are written (each maps to the
parameter and prior it means; what cannot be mapped is refused by name), and ``AskTellSampler``
takes priors by parameter name (Optuna's distributions carry none)."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.svm import SVC

from asktell import Categorical, Integer, Real
from asktell.errors import ConfigError
from asktell.integrations.sklearn import AskTellSearchCV, param_from_distribution
from asktell.loops import BayesOpt, RandomSearch
from asktell.priors import Beta, Normal


@pytest.mark.parametrize(
    "dist, want",
    [
        (stats.uniform(1.0, 2.0), Real(1.0, 3.0)),
        (stats.loguniform(1e-3, 1e2), Real(1e-3, 1e2, log=True)),
        (stats.randint(2, 9), Integer(2, 8)),
        (stats.norm(1.0, 0.5), Real(-0.5, 2.5, prior=Normal(1.0, 0.5))),
        (stats.truncnorm(-1.0, 2.0, loc=0.5, scale=0.25), Real(0.25, 1.0, prior=Normal(0.5, 0.25))),
        (stats.beta(2, 5, loc=1.0, scale=3.0), Real(1.0, 4.0, prior=Beta(2.0, 5.0))),
        (stats.lognorm(math.log(10), scale=0.01), Real(1e-5, 10.0, log=True, prior=Normal(0.01, 1.0))),
    ],
    ids=lambda v: getattr(getattr(v, "dist", None), "name", ""),
)
def test_each_distribution_is_the_parameter_and_prior_it_means(dist, want) -> None:
    got = param_from_distribution(dist)
    assert type(got) is type(want) and got.log == want.log
    assert got.low == pytest.approx(want.low) and got.high == pytest.approx(want.high)
    if isinstance(want, Integer) or want.prior is None:
        assert getattr(got, "prior", None) is None
    else:
        assert type(got.prior) is type(want.prior)
        assert list(got.prior.to_dict().values())[1:] == pytest.approx(
            list(want.prior.to_dict().values())[1:]
        )


def test_a_search_takes_param_distributions_and_follows_the_prior() -> None:
    X, y = load_iris(return_X_y=True)
    space = {
        "C": stats.lognorm(math.log(10), scale=3.0),
        "gamma": stats.loguniform(1e-3, 1e1),
        "kernel": ["rbf", "linear"],
    }
    loop = BayesOpt(n_init=3, num_restarts=2, raw_samples=32)
    search = AskTellSearchCV(SVC(), space, loop=loop, n_iter=3, cv=3, random_state=0).fit(X, y)
    state = search.state_
    assert state.space["C"].prior == Normal(3.0, 1.0) and state.space["C"].log
    assert state.space["gamma"].prior is None and state.space["kernel"] == Categorical(("rbf", "linear"))
    first = state.trials[0]
    assert first.metadata["prior"] == "mode" and first.params["C"] == pytest.approx(3.0)
    # RandomSearch draws C from the prior: within a decade of 3 about 68% of the time
    random = AskTellSearchCV(SVC(), space, loop=RandomSearch(), n_iter=40, cv=2, random_state=1).fit(X, y)
    near = [abs(math.log10(t.params["C"] / 3.0)) <= 1 for t in random.state_.trials]
    assert 0.5 <= sum(near) / len(near) <= 0.9


def test_an_unmapped_distribution_is_refused_by_name() -> None:
    X, y = load_iris(return_X_y=True)
    search = AskTellSearchCV(SVC(), {"C": stats.expon(1.0)}, loop=RandomSearch(), n_iter=2, cv=2)
    with pytest.raises(ConfigError, match="scipy.stats.expon is not a distribution asktell maps"):
        search.fit(X, y)
    with pytest.raises(ConfigError, match="a scipy.stats frozen distribution"):
        AskTellSearchCV(SVC(), {"C": 3.0}, loop=RandomSearch(), n_iter=2, cv=2).fit(X, y)


def test_the_optuna_sampler_takes_priors_by_name() -> None:
    optuna = pytest.importorskip("optuna")
    from asktell.integrations.optuna import AskTellSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = AskTellSampler(RandomSearch(), seed=0, priors={"lr": Normal(1e-3, 0.3), "opt": [0, 1, 0]})
    study = optuna.create_study(sampler=sampler)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
        opt = trial.suggest_categorical("opt", ["adam", "sgd", "rms"])
        return abs(math.log10(lr) + 3) + (opt != "sgd")

    study.optimize(objective, n_trials=30)
    state = sampler.state(study)
    assert state.space["lr"].prior == Normal(1e-3, 0.3) and state.space["opt"].weights == (0.0, 1.0, 0.0)
    later = study.trials[1:]  # the first trial comes from the independent sampler
    assert all(t.params["opt"] == "sgd" for t in later)
    assert sum(abs(math.log10(t.params["lr"]) + 3) <= 0.6 for t in later) >= 0.8 * len(later)
    with pytest.raises(ConfigError, match="priors must map parameter names"):
        AskTellSampler(RandomSearch(), priors={"lr": 0.001})


@pytest.mark.parametrize(
    "priors, message",
    [
        ({"opt": Normal(0.5, 0.1)}, "is categorical: its prior is a list of weights"),
        ({"x": [1, 2]}, "is not categorical"),
    ],
)
def test_the_optuna_sampler_refuses_a_prior_of_the_wrong_kind(priors, message: str) -> None:
    optuna = pytest.importorskip("optuna")
    from asktell.integrations.optuna import AskTellSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=AskTellSampler(RandomSearch(), priors=priors))

    def objective(trial):
        return trial.suggest_float("x", 0.0, 1.0) + len(trial.suggest_categorical("opt", ["a", "bb"]))

    study.optimize(objective, n_trials=1)  # the first trial comes from the independent sampler
    with pytest.raises(ConfigError, match=message):
        study.optimize(objective, n_trials=1)
