"""Priors over the optimum in the space (issue 18): what each distribution means on its parameter's
scale, its density, mode and quantiles on the unit cube (checked by quadrature and against the
closed forms), the JSON round trip (a space without priors keeps its old form), and every refusal
of a bad prior with a clear message."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pytest

import asktell
from asktell import Categorical, Integer, Real, Space
from asktell.errors import SpaceError
from asktell.priors import MIN_MASS, Beta, EncodedPrior, Normal, Uniform, prior_from_dict

GRID = (np.arange(200_000) + 0.5) / 200_000  # midpoints: quadrature on [0, 1]
ENCODED = [
    EncodedPrior("normal", (0.3, 0.1)),
    EncodedPrior("normal", (0.95, 0.2)),  # truncated hard at 1
    EncodedPrior("uniform", (0.25, 0.75)),
    EncodedPrior("beta", (2.0, 5.0)),
    EncodedPrior("beta", (0.7, 0.7)),
    EncodedPrior("bins", (0.5, 0.0, 0.25, 0.25)),
]
PRIOR_SPACE = Space(
    {
        "lr": Real(1e-5, 1.0, log=True, prior=Normal(1e-3, 1.0)),
        "depth": Integer(1, 12, prior=Normal(6, 2)),
        "frac": Real(0.0, 1.0, prior=Beta(2, 5)),
        "opt": Categorical(["adam", "sgd", "rmsprop"], weights=[3, 1, 1]),
        "width": Real(0.0, 10.0, prior=Uniform(2.0, 4.0)),
        "free": Real(-1.0, 1.0),
    }
)


@pytest.mark.parametrize("prior", ENCODED, ids=lambda p: f"{p.kind}{p.args}")
def test_densities_integrate_to_one_and_quantiles_invert_their_cdf(prior: EncodedPrior) -> None:
    pdf = np.exp(prior.log_pdf(GRID))
    assert pdf.mean() == pytest.approx(1.0, abs=2e-3)  # the truncated density is normalized
    cdf = np.cumsum(pdf) / pdf.size
    for v in (0.05, 0.3, 0.5, 0.8, 0.97):
        u = float(prior.quantile(np.array([v]))[0])
        assert 0.0 <= u <= 1.0
        assert np.interp(u, GRID, cdf) == pytest.approx(v, abs=3e-3)


@pytest.mark.parametrize("prior", ENCODED, ids=lambda p: f"{p.kind}{p.args}")
def test_the_mode_is_where_the_density_peaks(prior: EncodedPrior) -> None:
    log_pdf = prior.log_pdf(GRID)
    assert prior.log_pdf(np.array([prior.mode()]))[0] >= log_pdf.max() - 1e-6
    if prior.kind == "beta" and prior.args == (0.7, 0.7):
        assert prior.mode() == 0.0  # both ends are infinitely likely: the lower, by convention


def test_a_normal_prior_is_on_the_parameters_own_scale() -> None:
    space = PRIOR_SPACE
    lr, depth = space.priors[0], space.priors[1]
    # log10: 1e-3 is 2 decades above 1e-5 on a 5-decade range; a decade is 1/5 of it
    assert lr.args == pytest.approx((0.4, 0.2))
    centre = space.decode(space.prior_mode(np.full(space.dim, 0.5)))
    assert centre["lr"] == pytest.approx(1e-3, rel=1e-12) and centre["depth"] == 6
    assert (
        centre["frac"] == pytest.approx(0.2)
        and centre["opt"] == "adam"
        and centre["width"] == pytest.approx(3.0)
    )
    assert centre["free"] == 0.0  # a coordinate without a prior keeps the value it was given
    # one decade from the centre costs exp(-1/2) of the density, whichever way
    u = np.array([[0.2], [0.4], [0.6]])
    log_pdf = lr.log_pdf(u[:, 0])
    assert log_pdf[0] - log_pdf[1] == pytest.approx(-0.5) and log_pdf[2] - log_pdf[1] == pytest.approx(-0.5)
    # an integer's prior is its continuous relaxation's: u = (v - low + 1/2) / n
    assert depth.args == pytest.approx(((6 - 1 + 0.5) / 12, 2 / 12))


def test_draws_from_the_prior_give_each_integer_its_bins_mass() -> None:
    space = Space({"depth": Integer(1, 12, prior=Normal(6, 2))})
    U = ((np.arange(60_000) + 0.5) / 60_000)[:, None]
    values = np.array([p["depth"] for p in space.decode_many(space.from_prior(U))])
    normal = NormalDist(6, 2)
    inside = normal.cdf(12.5) - normal.cdf(0.5)
    for v in (1, 4, 6, 9, 12):
        mass = (normal.cdf(v + 0.5) - normal.cdf(v - 0.5)) / inside
        assert (values == v).mean() == pytest.approx(mass, abs=1e-3)


def test_categorical_weights_are_the_choices_probabilities() -> None:
    space = Space({"opt": Categorical(["adam", "sgd", "rmsprop", "never"], weights=[3, 1, 1, 0])})
    U = ((np.arange(10_000) + 0.5) / 10_000)[:, None]
    drawn = [p["opt"] for p in space.decode_many(space.from_prior(U))]
    assert [drawn.count(c) / len(drawn) for c in ("adam", "sgd", "rmsprop", "never")] == pytest.approx(
        [0.6, 0.2, 0.2, 0.0], abs=1e-3
    )
    log_density = space.prior_log_density(space.encode_many([{"opt": "adam"}, {"opt": "never"}]))
    assert log_density[0] == pytest.approx(math.log(0.6 * 4)) and log_density[1] == -math.inf


def test_the_space_sums_the_coordinates_log_densities() -> None:
    rng = np.random.default_rng(0)
    U = rng.random((7, PRIOR_SPACE.dim))
    want = sum(prior.log_pdf(U[:, i]) for i, prior in PRIOR_SPACE.priors.items())
    np.testing.assert_allclose(PRIOR_SPACE.prior_log_density(U), want)
    assert sorted(PRIOR_SPACE.priors) == [0, 1, 2, 3, 4] and PRIOR_SPACE.has_priors
    assert not Space({"x": Real(0.0, 1.0)}).has_priors


def test_priors_round_trip_through_json_and_old_spaces_keep_their_form() -> None:
    text = PRIOR_SPACE.to_json()
    again = Space.from_json(text)
    assert again == PRIOR_SPACE and again.to_json() == text
    assert json.loads(text)["lr"]["prior"] == {"type": "normal", "loc": 1e-3, "scale": 1.0}
    assert json.loads(text)["opt"]["weights"] == [3.0, 1.0, 1.0]
    plain = {
        "x": {"type": "real", "low": 0.0, "high": 1.0, "log": False},
        "c": {"type": "categorical", "choices": [1, 2]},
    }
    assert Space.from_dict(plain).to_dict() == plain  # no "prior": null, no "weights": null
    # and a state keeps them: saved, loaded, the same space
    state = asktell.loops.Sobol().init(PRIOR_SPACE, seed=1)
    assert asktell.State.from_json(state.to_json()).space == PRIOR_SPACE
    assert Space({"x": Real(0.0, 1.0, prior=Normal(0.2, 0.1))}) != Space(
        {"x": Real(0.0, 1.0, prior=Normal(0.2, 0.2))}
    )


def test_the_priors_are_exported_from_asktell() -> None:
    assert asktell.Normal is Normal and asktell.Beta is Beta and asktell.Uniform is Uniform
    assert {"Normal", "Uniform", "Beta", "priors"} <= set(asktell.__all__)


def test_a_prior_may_be_given_as_its_json_form() -> None:
    param = Real(0.0, 1.0, prior={"type": "beta", "a": 2, "b": 2})
    assert param.prior == Beta(2.0, 2.0)
    assert prior_from_dict({"type": "uniform", "low": 0.1, "high": 0.2}) == Uniform(0.1, 0.2)


BAD_PRIORS = [
    (lambda: Normal(0.5, 0.0), "must be > 0"),
    (lambda: Normal(0.5, -1.0), "must be > 0"),
    (lambda: Normal(float("nan"), 1.0), "must be finite"),
    (lambda: Normal("0.5", 1.0), "must be a number"),
    (lambda: Beta(0.0, 1.0), "must be > 0"),
    (lambda: Uniform(0.5, 0.5), "low < high"),
    (lambda: Real(0.0, 1.0, prior=Normal(5.0, 0.5)), "of its mass inside the bounds"),
    (lambda: Real(1e-3, 1.0, log=True, prior=Normal(-1.0, 1.0)), "`loc` must be > 0"),
    (lambda: Real(1e-3, 1.0, log=True, prior=Normal(1e3, 0.5)), "of its mass inside the bounds"),
    (lambda: Integer(0, 10, prior=Uniform(-1, 5)), "must lie inside the bounds"),
    (lambda: Real(0.0, 1.0, prior=Uniform(0.5, 1.5)), "must lie inside the bounds"),
    (lambda: Real(0.0, 1.0, prior="normal"), "must be an asktell.priors"),
    (lambda: Real(0.0, 1.0, prior={"type": "cauchy", "loc": 0, "scale": 1}), "'type' in"),
    (lambda: Real(0.0, 1.0, prior={"type": "normal", "loc": 0}), "exactly the keys"),
    (lambda: Categorical(["a", "b"], weights=[1, -1]), "must be >= 0"),
    (lambda: Categorical(["a", "b"], weights=[0, 0]), "must not all be zero"),
    (lambda: Categorical(["a", "b"], weights=[1]), "one number per choice"),
    (lambda: Categorical(["a", "b"], weights="ab"), "list of numbers"),
    (
        lambda: Space.from_dict(
            {"x": {"type": "real", "low": 0, "high": 1, "prior": {"type": "normal", "loc": 0.5, "scale": 0}}}
        ),
        "must be > 0",
    ),
    (
        lambda: Space.from_dict({"c": {"type": "categorical", "choices": [1, 2], "weights": [1, None]}}),
        "must be a number",
    ),
]


@pytest.mark.parametrize("make, message", BAD_PRIORS, ids=[m for _, m in BAD_PRIORS])
def test_bad_priors_are_refused_with_a_clear_error(make, message: str) -> None:
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace("`", "`")):
        make()


def test_a_prior_with_just_enough_mass_inside_is_kept() -> None:
    # a normal centred 2.3 std beyond the upper bound keeps ~1.07% inside: a belief in the edge
    edge = Real(0.0, 1.0, prior=Normal(1.23, 0.1))
    assert edge.encoded_prior.mass >= MIN_MASS
    assert Space({"x": edge}).decode(Space({"x": edge}).prior_mode([0.5]))["x"] == 1.0


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda p: p.update(scale=-1), "must be > 0"),
        (lambda p: p.update(evil=1), "exactly the keys"),
        (lambda p: p.update(type="laplace"), "'type' in"),
    ],
)
def test_a_state_with_an_edited_prior_is_refused_at_load(edit, message: str) -> None:
    state = asktell.loops.Sobol().init(Space({"x": Real(0.0, 1.0, prior=Normal(0.5, 0.1))}), seed=0)
    data = json.loads(state.to_json())
    edit(data["space"]["x"]["prior"])
    with pytest.raises(asktell.errors.StateError, match=f"the state's space is invalid: .*{message}"):
        asktell.load(json.dumps(data))
