"""asktell's FZooS on Flower: the ServerApp and ClientApp of this example app.

Client ``i`` is the SuperNode started with ``--node-config "partition-id=i num-partitions=3"``; its
black box is client ``i`` of the federated quadratic (``asktell.problems.federated_quadratic``, the
one ``asktell federate`` uses), of which this app knows ``N`` clients. The number of rounds comes
from ``[tool.flwr.app.config]`` (override it with ``flwr run . --run-config 'num-server-rounds=5'``),
the federation's size from ``num-clients`` there.
"""

from __future__ import annotations

from asktell import Real, Space
from asktell.integrations.flower import client_app, server_app
from asktell.loops.federated import FZooS
from asktell.problems import federated_quadratic

D, N, SEED = 20, 3, 0
SPACE = Space({f"x{j}": Real(-2.0, 2.0) for j in range(D)})
FED = FZooS(
    n_features=300,
    local_steps=3,
    local_active=2,
    local_candidates=20,
    post_active=4,
    post_candidates=20,
    init_queries=3,
    n_local=40,
    n_rff=60,
    lr=0.05,
)
CLIENTS = federated_quadratic(N, D)

server = server_app(FED, SPACE, rounds=None, seed=SEED)
client = client_app(FED, SPACE, lambda partition_id: CLIENTS[partition_id])
