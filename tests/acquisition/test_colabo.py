"""ColaBO against its oracles: the weights are the prior at each prior path's maximizer to the given
power (normalized), uniform at power 0, where the unweighted qLogNEI on the paths is BoTorch's
qLogNEI up to Monte Carlo and random-feature error; the weighted acquisition goes continuously to
the unweighted one as the power goes to zero; a sharp prior moves the weighted paths' maximizers to
it; Thompson sampling draws a path with its weight's probability."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.sampling import SobolQMCNormalSampler
from linear_operator.utils.warnings import NumericalWarning

from asktell import Real, Space
from asktell.acquisition.colabo import ColaBOqLogNEI, ColaBOThompson, WeightedPaths, build_colabo
from asktell.acquisition.prior import PriorDensity, PriorWeight
from asktell.priors import Normal
from asktell.surrogates.gp import fit_gp

DT = torch.float64
CORNER = Space({"a": Real(0.0, 1.0, prior=Normal(0.85, 0.08)), "b": Real(0.0, 1.0, prior=Normal(0.85, 0.08))})


def _model(seed: int = 0, n: int = 10):
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 2, generator=g, dtype=DT)
    Y = -(X - 0.3).pow(2).sum(-1, keepdim=True) * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        return fit_gp(X, Y, min_noise=1e-6).model, X, g


def _paths(model, exponent: float, n_paths: int = 512, seed: int = 0) -> WeightedPaths:
    torch.manual_seed(seed)  # the paths' random features come from torch's global generator
    return WeightedPaths(model, PriorDensity(CORNER), exponent, n_paths=n_paths)


def test_the_weights_are_the_prior_at_each_maximizer_to_the_power() -> None:
    model, _, _ = _model()
    weighted = _paths(model, 2.0)
    assert float(torch.logsumexp(weighted.log_weights, 0)) == pytest.approx(0.0, abs=1e-12)
    log_pi = PriorDensity(CORNER)(weighted.maximizers.unsqueeze(-2)).squeeze(-1)
    differences = weighted.log_weights - weighted.log_weights[0]
    torch.testing.assert_close(differences, 2.0 * (log_pi - log_pi[0]), rtol=1e-9, atol=1e-9)
    flat = _paths(model, 0.0)
    assert flat.effective_samples == pytest.approx(512.0)
    assert 1.0 <= weighted.effective_samples < 512.0


@pytest.mark.parametrize("seed", [0, 1])
def test_unweighted_it_is_botorchs_qlognei_up_to_sampling_error(seed: int) -> None:
    model, X, g = _model(seed)
    x = torch.rand(64, 1, 2, generator=g, dtype=DT)
    botorch = qLogNoisyExpectedImprovement(
        model, X, sampler=SobolQMCNormalSampler(torch.Size([4096]), seed=1), prune_baseline=False
    )(x).detach()
    ours = ColaBOqLogNEI(model, X, _paths(model, 0.0, n_paths=2048))(x).detach()
    likely = botorch > -5.0  # where the improvement is not a rare tail event of either estimate
    assert int(likely.sum()) >= 5
    gaps = (ours[likely] - botorch[likely]).abs()
    assert float(gaps.max()) < 0.2 and float(gaps.mean()) < 0.1
    assert float(torch.corrcoef(torch.stack([ours, botorch]))[0, 1]) > 0.95


def test_the_weighted_acquisition_goes_to_the_unweighted_one_as_the_power_goes_to_zero() -> None:
    model, X, g = _model(2)
    x = torch.rand(16, 2, 2, generator=g, dtype=DT)  # batches of two points
    unweighted = ColaBOqLogNEI(model, X, _paths(model, 0.0))(x)
    gaps = [
        float((ColaBOqLogNEI(model, X, _paths(model, e))(x) - unweighted).abs().max())
        for e in (1.0, 1e-2, 1e-4)
    ]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3
    # a batch's value does not depend on the order of its points
    torch.testing.assert_close(
        ColaBOqLogNEI(model, X, _paths(model, 1.0))(x.flip(-2)),
        ColaBOqLogNEI(model, X, _paths(model, 1.0))(x),
    )


def test_a_sharp_prior_moves_the_weighted_maximizers_to_it() -> None:
    model, _, _ = _model()
    flat, sharp = _paths(model, 0.0, n_paths=1024), _paths(model, 5.0, n_paths=1024)

    def weighted_mean(w: WeightedPaths) -> torch.Tensor:
        return (w.log_weights.exp().unsqueeze(-1) * w.maximizers).sum(0)

    assert float(weighted_mean(flat).min()) < 0.6  # the prior paths' maximizers spread over the square
    assert float((weighted_mean(sharp) - 0.85).abs().max()) < 0.1


def test_thompson_sampling_draws_a_path_with_its_weights_probability() -> None:
    model, _, _ = _model()
    weighted = _paths(model, 1.0, n_paths=64)
    torch.manual_seed(3)
    counts = torch.bincount(
        torch.tensor([ColaBOThompson(model, weighted).index for _ in range(4000)]), minlength=64
    )
    probability = weighted.log_weights.exp()
    top = int(probability.argmax())
    assert counts[top] / 4000 == pytest.approx(float(probability[top]), abs=0.03)
    x = torch.rand(5, 1, 2, dtype=DT)
    thompson = ColaBOThompson(model, weighted)
    path_values = weighted.paths(x.squeeze(-2))[thompson.index]  # the chosen path at the points
    torch.testing.assert_close(thompson(x), path_values)


def test_build_names_what_it_drives() -> None:
    model, X, _ = _model()
    weight = PriorWeight(CORNER, 1.0, "colabo")
    assert isinstance(build_colabo("qlognei", model, X, weight, seed=0), ColaBOqLogNEI)
    assert isinstance(build_colabo("ts", model, X, weight, seed=0), ColaBOThompson)
    with pytest.raises(ValueError, match="ColaBO drives"):
        build_colabo("ucb", model, X, weight, seed=0)
    assert math.isfinite(float(build_colabo("qlognei", model, X, weight, seed=0)(X[:2].unsqueeze(-2)).sum()))


def test_the_paths_carry_no_graph_of_their_own_construction() -> None:
    """The paths are drawn under no_grad, so each evaluation builds a graph of its own: it can be
    differentiated as often as the optimizer asks (a graph shared with the paths' construction
    would be freed by the first backward pass)."""
    model, X, g = _model(3)
    weighted = _paths(model, 1.0, n_paths=64)
    acq = ColaBOqLogNEI(model, X, weighted)
    assert not weighted.log_weights.requires_grad and not acq.best.requires_grad
    x = torch.rand(3, 1, 2, generator=g, dtype=DT, requires_grad=True)
    for _ in range(3):
        acq(x).sum().backward()
    assert x.grad is not None and bool(x.grad.abs().sum() > 0)
