"""Ways into asktell from the tools users already have.

Each integration is its own module and imports its framework only when imported itself, so
``import asktell`` never needs scikit-learn or Optuna:

- :mod:`asktell.integrations.sklearn`: ``AskTellSearchCV``, a scikit-learn search estimator.
- :mod:`asktell.integrations.optuna`: ``AskTellSampler``, an Optuna sampler driven by a loop.

Both take several objectives (a multi-directional Optuna study; ``AskTellSearchCV(objectives=[...])``)
and outcome constraints. Install them with ``pip install "asktell[integrations]"``.
"""
