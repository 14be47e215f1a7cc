r"""ColaBO: the user's prior over the optimum reshapes the GP's prior over functions.

ColaBO (Hvarfner, Hutter, Nardi, ICML 2024) puts the belief :math:`\pi(x^*)` about where the
optimum lies into the model rather than into the acquisition: the prior over functions becomes

.. math::  p_\pi(f) \propto p(f) \, \pi(x^*_f)^{\gamma},  \qquad x^*_f = \arg\max_x f(x),

and conditioning on the data proceeds as usual. With pathwise sampling (Wilson et al. 2020) that is
self-normalized importance sampling: draw ``S`` prior sample paths :math:`f_s` (BoTorch's
``draw_matheron_paths``, random features), weight each by
:math:`w_s \propto \pi(x^*_s)^{\gamma}` with :math:`x^*_s` its maximizer over a Sobol set of
:data:`ARGMAX_POINTS` points, and condition every path on the data by Matheron's rule (the
weights carry over). Any Monte Carlo acquisition then averages over the weighted posterior paths:

- :class:`ColaBOqLogNEI`: noisy expected improvement, ``log sum_s w_s max_j (f_s(x_j) -
  max_b f_s(x_b))_+`` over the baseline ``x_b`` (the completed points and the pending ones,
  BoTorch's incremental form), smoothed as BoTorch's qLogNEI is (``log_fatplus`` of each point's
  improvement, ``fatmax`` over the batch);
- :class:`ColaBOThompson`: Thompson sampling from the weighted posterior: one path drawn with
  probability :math:`w_s` and maximized.

:math:`\gamma = \beta / n` decays as piBO's exponent does (the same ``prior_beta``): while data are
few the belief shapes which functions are plausible; as they grow the weights flatten, and at
:math:`\gamma = 0` both acquisitions are the plain posterior's (``tests/acquisition/test_colabo.py``
checks that limit, and the unweighted qLogNEI against BoTorch's). The model regresses the negated
objective, so a path's maximizer is a candidate minimizer of the objective. ``effective_samples``
(Kish's :math:`(\sum w)^2 / \sum w^2`) says how many paths the weights leave in play.

Shapes: points ``batch x q x d`` on the unit cube; values ``batch``.
"""

from __future__ import annotations

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models.model import Model
from botorch.sampling.pathwise import draw_matheron_paths
from botorch.utils.safe_math import fatmax, log_fatplus
from botorch.utils.transforms import t_batch_mode_transform
from torch.quasirandom import SobolEngine

from asktell.acquisition.prior import PriorDensity, PriorWeight

PATHS = 256  # posterior sample paths of one ask
ARGMAX_POINTS = 2048  # Sobol points on which each prior path's maximizer is searched
TAU_RELU = 1e-6  # BoTorch's qLogNEI smoothing of the improvement's max(., 0) (its TAU_RELU)
TAU_MAX = 1e-2  # and of the max over a batch (its TAU_MAX)


class WeightedPaths:
    """``S`` posterior sample paths of ``model`` with ColaBO's weights for the prior ``density``
    raised to ``exponent``.

    Attributes:
        paths: BoTorch's ``MatheronPath``: ``paths(X)`` for ``... x n x d`` gives ``S x ... x n``.
        log_weights: ``S`` normalized log weights (``logsumexp == 0``).
        maximizers: ``S x d``, each prior path's maximizer on the Sobol set.
    """

    def __init__(
        self, model: Model, density: PriorDensity, exponent: float, n_paths: int = PATHS, seed: int = 0
    ):
        d = model.train_inputs[0].shape[-1]  # type: ignore[index]
        with torch.no_grad():  # the paths' weights are data: no graph back to the hyperparameters
            self.paths = draw_matheron_paths(model, sample_shape=torch.Size([n_paths]))
        grid = SobolEngine(d, scramble=True, seed=seed).draw(ARGMAX_POINTS, dtype=torch.float64)
        with torch.no_grad():
            prior_values = self.paths.paths["prior_paths"](grid)  # S x N
            self.maximizers = grid[prior_values.argmax(-1)]  # S x d
            log_pi = density(self.maximizers.unsqueeze(-2)).squeeze(-1)  # S
            logits = exponent * log_pi
            self.log_weights = logits - torch.logsumexp(logits, 0)

    @property
    def effective_samples(self) -> float:
        """Kish's effective sample size of the weights."""
        return float(torch.exp(-torch.logsumexp(2 * self.log_weights, 0)))


def _at(weighted: WeightedPaths, X: torch.Tensor) -> torch.Tensor:
    """Every path at every point of ``X`` (``batch x q x d``): ``S x batch x q``. The points go in
    as one ``N x d`` set (each path is evaluated pointwise): broadcasting the batch against the
    sample dimension instead gives the same values ~10x slower (BoTorch's feature maps batch badly)."""
    return weighted.paths(X.reshape(-1, X.shape[-1])).reshape(-1, *X.shape[:-1])


class ColaBOqLogNEI(AcquisitionFunction):
    """qLogNEI averaged over ColaBO's weighted posterior paths (see the module's docstring)."""

    def __init__(self, model: Model, X_baseline: torch.Tensor, weighted: WeightedPaths):
        super().__init__(model=model)
        self.weighted = weighted
        with torch.no_grad():
            self.best = weighted.paths(X_baseline).max(-1).values  # S

    @t_batch_mode_transform()  # type: ignore[arg-type]
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        values = _at(self.weighted, X)  # S x batch x q
        log_improvement = log_fatplus(values - self.best[:, None, None], tau=TAU_RELU)
        per_path = fatmax(log_improvement, dim=-1, tau=TAU_MAX)  # S x batch
        return torch.logsumexp(per_path + self.weighted.log_weights.unsqueeze(-1), dim=0)


class ColaBOThompson(AcquisitionFunction):
    """Thompson sampling from ColaBO's weighted posterior: the value of one path, drawn with
    probability equal to its weight (from torch's global generator, seeded by the caller)."""

    def __init__(self, model: Model, weighted: WeightedPaths):
        super().__init__(model=model)
        self.weighted = weighted
        self.index = int(torch.multinomial(weighted.log_weights.exp(), 1))

    @t_batch_mode_transform()  # type: ignore[arg-type]
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return _at(self.weighted, X)[self.index].sum(-1)  # batch


COLABO_ACQUISITIONS = ("qlognei", "ts")  # what ColaBO drives here


def build_colabo(
    name: str, model: Model, X_baseline: torch.Tensor, weight: PriorWeight, seed: int
) -> AcquisitionFunction:
    """ColaBO's acquisition ``name`` (``"qlognei"`` or ``"ts"``) on :data:`PATHS` weighted paths of
    ``model``; ``X_baseline`` (``n x d``: completed and pending points) is qLogNEI's baseline."""
    weighted = WeightedPaths(model, PriorDensity(weight.space), weight.exponent, seed=seed)
    if name == "qlognei":
        return ColaBOqLogNEI(model, X_baseline, weighted)
    if name == "ts":
        return ColaBOThompson(model, weighted)
    raise ValueError(f"ColaBO drives {list(COLABO_ACQUISITIONS)}, not {name!r}.")
