"""asktell.loops: the stateless ask/tell loops. Importing this package registers them all."""

from asktell.loops import federated  # registers the federated algorithms
from asktell.loops.base import Loop, LoopProtocol, Proposal
from asktell.loops.bayesopt import BayesOpt
from asktell.loops.random import RandomSearch, Sobol
from asktell.loops.zeroth import ZOSGD
from asktell.loops.zord import ZoRD

__all__ = [
    "BayesOpt",
    "federated",
    "Loop",
    "LoopProtocol",
    "Proposal",
    "RandomSearch",
    "Sobol",
    "ZOSGD",
    "ZoRD",
]


def default_loop() -> Loop:
    """The recommended loop for ``minimize`` and the CLI when none is named."""
    return BayesOpt()
