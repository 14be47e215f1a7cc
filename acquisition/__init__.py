"""asktell.acquisition: what to query next, given a surrogate.

- :mod:`~asktell.acquisition.bo`: BoTorch's acquisition functions, a registry of builders, and
  their optimization for one ask (LogEI, qLogNEI, UCB, PI, Thompson sampling).
- :mod:`~asktell.acquisition.constrained`: under outcome constraints: constrained qLogNEI and
  LogEI, the probability of feasibility, CONFIG's optimistic problem.
- :mod:`~asktell.acquisition.multiobjective`: for several objectives: qLogNEHVI and qLogNParEGO,
  with outcome constraints and pending points.
- :mod:`~asktell.acquisition.prior`: piBO, an acquisition weighted by the user's prior over the
  optimum (BoTorch's ``PriorGuidedAcquisitionFunction``).
- :mod:`~asktell.acquisition.active`: active queries that shrink the gradient's uncertainty.

Names load on first use, like :mod:`asktell.surrogates`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asktell.lazy import lazy_exports

if TYPE_CHECKING:
    from asktell.acquisition.active import RULES, draw_candidates, select_active_queries
    from asktell.acquisition.bo import (
        ACQUISITIONS,
        AcquisitionInputs,
        OptimizerSettings,
        build,
        initial_conditions,
        optimize,
        register_acquisition,
    )
    from asktell.acquisition.constrained import (
        CONSTRAINED,
        ConstrainedInputs,
        OptimisticBatch,
        OptimisticProblem,
        config_points,
    )
    from asktell.acquisition.multiobjective import MULTIOBJECTIVE, MultiObjectiveInputs, Unwarped
    from asktell.acquisition.prior import PriorDensity, PriorWeight, prior_guided

_EXPORTS = {
    "RULES": "asktell.acquisition.active",
    "draw_candidates": "asktell.acquisition.active",
    "select_active_queries": "asktell.acquisition.active",
    "ACQUISITIONS": "asktell.acquisition.bo",
    "AcquisitionInputs": "asktell.acquisition.bo",
    "OptimizerSettings": "asktell.acquisition.bo",
    "build": "asktell.acquisition.bo",
    "initial_conditions": "asktell.acquisition.bo",
    "optimize": "asktell.acquisition.bo",
    "register_acquisition": "asktell.acquisition.bo",
    "CONSTRAINED": "asktell.acquisition.constrained",
    "ConstrainedInputs": "asktell.acquisition.constrained",
    "OptimisticBatch": "asktell.acquisition.constrained",
    "OptimisticProblem": "asktell.acquisition.constrained",
    "config_points": "asktell.acquisition.constrained",
    "MULTIOBJECTIVE": "asktell.acquisition.multiobjective",
    "MultiObjectiveInputs": "asktell.acquisition.multiobjective",
    "Unwarped": "asktell.acquisition.multiobjective",
    "PriorDensity": "asktell.acquisition.prior",
    "PriorWeight": "asktell.acquisition.prior",
    "prior_guided": "asktell.acquisition.prior",
}
__all__ = [
    "ACQUISITIONS",
    "CONSTRAINED",
    "MULTIOBJECTIVE",
    "RULES",
    "AcquisitionInputs",
    "ConstrainedInputs",
    "MultiObjectiveInputs",
    "OptimisticBatch",
    "OptimisticProblem",
    "OptimizerSettings",
    "PriorDensity",
    "PriorWeight",
    "Unwarped",
    "build",
    "config_points",
    "draw_candidates",
    "initial_conditions",
    "optimize",
    "prior_guided",
    "register_acquisition",
    "select_active_queries",
]

if not TYPE_CHECKING:  # type checkers see the imports above, and catch misspelled names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
