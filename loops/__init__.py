"""asktell.loops: the stateless ask/tell loops.

Names load on first use (``from asktell.loops import BayesOpt`` imports the BayesOpt module and what
it needs, no other loop), so a program that runs one loop pays for that loop only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asktell.lazy import lazy_exports

if TYPE_CHECKING:
    from asktell.loops import federated
    from asktell.loops.base import Loop, LoopProtocol, Proposal
    from asktell.loops.bayesopt import BayesOpt
    from asktell.loops.random import RandomSearch, Sobol
    from asktell.loops.zeroth import ZOSGD
    from asktell.loops.zord import ZoRD

_EXPORTS = {
    "BayesOpt": "asktell.loops.bayesopt",
    "Loop": "asktell.loops.base",
    "LoopProtocol": "asktell.loops.base",
    "Proposal": "asktell.loops.base",
    "RandomSearch": "asktell.loops.random",
    "Sobol": "asktell.loops.random",
    "ZOSGD": "asktell.loops.zeroth",
    "ZoRD": "asktell.loops.zord",
    "federated": "asktell.loops.federated",
}
__all__ = [
    "BayesOpt",
    "Loop",
    "LoopProtocol",
    "Proposal",
    "RandomSearch",
    "Sobol",
    "ZOSGD",
    "ZoRD",
    "default_loop",
    "federated",
]
if not TYPE_CHECKING:  # type checkers see the imports above, and catch misspelled names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)


def default_loop() -> Loop:
    """The recommended loop for ``minimize`` and the CLI when none is named: ``BayesOpt()``."""
    from asktell.registry import DEFAULT_LOOP, loop_class

    return loop_class(DEFAULT_LOOP)()
