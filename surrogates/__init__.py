"""asktell.surrogates: models fitted on the query trajectory, and the randomness they draw.

- :mod:`~asktell.surrogates.gp`: BoTorch GPs fitted with ``fit_gpytorch_mll``, warm-started.
- :mod:`~asktell.surrogates.gradient`: the derived GP, the posterior over the gradient.
- :mod:`~asktell.surrogates.rff`: random Fourier features, a surrogate small enough to send.
- :mod:`~asktell.surrogates.outcomes`: the GPs of a constrained problem's outcomes (and failures),
  stacked into one multi-output model for the acquisition.
- :mod:`~asktell.surrogates.local`: the nearest points a local surrogate is fitted on.
- :mod:`~asktell.surrogates.warp`: the log warp of the outputs and the model evidence.
- :mod:`~asktell.surrogates.seeding`: explicit torch generators and the guarded global one.

Names load on first use (the module that defines them and what it needs), so a loop that needs a
generator does not pay for BoTorch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asktell.lazy import lazy_exports

if TYPE_CHECKING:
    from asktell.surrogates.gp import GPFit, build_gp, fit_gp, hyperparameters_of
    from asktell.surrogates.gradient import DerivedGP, derived_gp, gradient_posterior, gradient_trace
    from asktell.surrogates.local import nearest
    from asktell.surrogates.outcomes import OutcomeFit, joint_model, stack
    from asktell.surrogates.rff import RFFFeatures, fit_rff_weights, rff_features
    from asktell.surrogates.seeding import torch_global_seed, torch_rng
    from asktell.surrogates.warp import inverse_log_warp, log_evidence, log_warp, log_warp_jacobian

_EXPORTS = {
    "GPFit": "asktell.surrogates.gp",
    "build_gp": "asktell.surrogates.gp",
    "fit_gp": "asktell.surrogates.gp",
    "hyperparameters_of": "asktell.surrogates.gp",
    "DerivedGP": "asktell.surrogates.gradient",
    "derived_gp": "asktell.surrogates.gradient",
    "gradient_posterior": "asktell.surrogates.gradient",
    "gradient_trace": "asktell.surrogates.gradient",
    "nearest": "asktell.surrogates.local",
    "OutcomeFit": "asktell.surrogates.outcomes",
    "joint_model": "asktell.surrogates.outcomes",
    "stack": "asktell.surrogates.outcomes",
    "RFFFeatures": "asktell.surrogates.rff",
    "fit_rff_weights": "asktell.surrogates.rff",
    "rff_features": "asktell.surrogates.rff",
    "torch_global_seed": "asktell.surrogates.seeding",
    "torch_rng": "asktell.surrogates.seeding",
    "inverse_log_warp": "asktell.surrogates.warp",
    "log_evidence": "asktell.surrogates.warp",
    "log_warp": "asktell.surrogates.warp",
    "log_warp_jacobian": "asktell.surrogates.warp",
}
__all__ = [
    "DerivedGP",
    "GPFit",
    "OutcomeFit",
    "RFFFeatures",
    "build_gp",
    "derived_gp",
    "fit_gp",
    "fit_rff_weights",
    "gradient_posterior",
    "gradient_trace",
    "hyperparameters_of",
    "inverse_log_warp",
    "joint_model",
    "log_evidence",
    "log_warp",
    "log_warp_jacobian",
    "nearest",
    "rff_features",
    "stack",
    "torch_global_seed",
    "torch_rng",
]

if not TYPE_CHECKING:  # type checkers see the imports above, and catch misspelled names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
