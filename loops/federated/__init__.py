"""asktell.loops.federated: FZooS and its baselines as one stateless loop per client plus a server."""

from asktell.loops.federated.baselines import FedProx, FedZO, ScaffoldI, ScaffoldII
from asktell.loops.federated.fzoos import FZooS
from asktell.loops.federated.protocol import Federated, Message, ServerState, load_server
from asktell.loops.federated.runner import Simulation, evaluate, simulate

__all__ = [
    "FZooS",
    "FedProx",
    "FedZO",
    "Federated",
    "Message",
    "ScaffoldI",
    "ScaffoldII",
    "ServerState",
    "Simulation",
    "evaluate",
    "load_server",
    "simulate",
]
