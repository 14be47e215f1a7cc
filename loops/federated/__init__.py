"""asktell.loops.federated: FZooS and its baselines as one stateless loop per client plus a server.

Names load on first use, like :mod:`asktell.loops`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asktell.lazy import lazy_exports

if TYPE_CHECKING:
    from asktell.loops.federated.baselines import FedProx, FedZO, ScaffoldI, ScaffoldII
    from asktell.loops.federated.fzoos import FZooS
    from asktell.loops.federated.protocol import Federated, Message, ServerState, load_server
    from asktell.loops.federated.rounds import Replies, RoundResult, Tally, round_record, run_round
    from asktell.loops.federated.runner import Simulation, evaluate, simulate

_EXPORTS = {
    "FZooS": "asktell.loops.federated.fzoos",
    "FedProx": "asktell.loops.federated.baselines",
    "FedZO": "asktell.loops.federated.baselines",
    "ScaffoldI": "asktell.loops.federated.baselines",
    "ScaffoldII": "asktell.loops.federated.baselines",
    "Federated": "asktell.loops.federated.protocol",
    "Message": "asktell.loops.federated.protocol",
    "ServerState": "asktell.loops.federated.protocol",
    "load_server": "asktell.loops.federated.protocol",
    "Replies": "asktell.loops.federated.rounds",
    "RoundResult": "asktell.loops.federated.rounds",
    "Tally": "asktell.loops.federated.rounds",
    "round_record": "asktell.loops.federated.rounds",
    "run_round": "asktell.loops.federated.rounds",
    "Simulation": "asktell.loops.federated.runner",
    "evaluate": "asktell.loops.federated.runner",
    "simulate": "asktell.loops.federated.runner",
}
__all__ = [
    "FZooS",
    "FedProx",
    "FedZO",
    "Federated",
    "Message",
    "Replies",
    "RoundResult",
    "ScaffoldI",
    "ScaffoldII",
    "ServerState",
    "Simulation",
    "Tally",
    "evaluate",
    "load_server",
    "round_record",
    "run_round",
    "simulate",
]

if not TYPE_CHECKING:  # type checkers see the imports above, and catch misspelled names
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
