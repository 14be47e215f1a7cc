"""The federated black-box attack and the non-differentiable metric task (ALGORITHMS.md 6.2, 6.3),
on data that ships with scikit-learn (the 8x8 digits): the clients of each federation, for
:mod:`benchmarks.federated` (which runs and reports them).

**Attack** (``attack``): the digits (pixels / 16, in [0, 1]) split 50/50 (stratified, random_state
0). Ten clients; client ``i`` holds ``round(10 P)`` classes (P = 0.5: five; a seeded draw, every class
held by at least one client), each class's training images split into chunks over the clients
holding it, and trains its own torch MLP 64-64-10 (ReLU, Adam lr 1e-2, 200 full-batch epochs,
``torch.manual_seed(100 + i)``). The variable is an additive perturbation ``delta`` in
[-0.3, 0.3]^64 (the image is clamped to [0, 1]); every method starts at ``delta = 0`` (``start =
"center"``; the reference code starts at the lower corner). ``f_i(delta)`` = client ``i``'s margin
``logit_true - max_other``; the attack succeeds once the averaged margin ``F`` is < 0. Target images:
test images with ``F(0) >= 0``, a seeded draw; trial ``k`` attacks image ``k`` with federation seed
``k``. Reported: success rate (success at or before a round / within a query budget) over images.

**Metric** (``metric``): ``sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(30, 14),
solver="lbfgs", alpha=1e-5, max_iter=300, random_state=1)`` trained once on the digits' training
half (2534 weights and biases). Five clients hold class-skewed parts of the test half: client ``i``
has classes ``2i, 2i+1, 2i+2 (mod 10)`` (each class's images split over its holders). The variable
is a perturbation in [-0.2, 0.2]^2534 added to all weights and biases (start: zero);
``f_i = 1 - metric(y_i, predict(X_i))`` with macro averaging, metric in {F1, precision, recall,
Jaccard}. Reported: median [IQR] of ``F = mean_i f_i`` over seeds.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from asktell import Real, Space
from asktell.problems import Blackbox

SCALES = {
    # name: (images or seeds, rounds, local steps)
    "attack": {"full": (15, 50, 10), "medium": (8, 20, 10), "reduced": (4, 5, 5), "quick": (2, 3, 5)},
    "metric": {"full": (5, 50, 10), "reduced": (1, 3, 3), "medium": (1, 5, 5), "quick": (1, 2, 3)},
}
METRICS_FULL = ("f1", "precision", "recall", "jaccard")


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.5, stratify=y, random_state=0)


def _holders(n_clients: int, k: int, seed: int) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    while True:
        sets = [sorted(rng.choice(10, size=k, replace=False).tolist()) for _ in range(n_clients)]
        if len({c for s in sets for c in s}) == 10:
            return sets


def _split_by_class(y: np.ndarray, sets: list[list[int]], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in sets]
    for c in range(10):
        owners = [i for i, s in enumerate(sets) if c in s]
        idx = rng.permutation(np.flatnonzero(y == c))
        for j, chunk in enumerate(np.array_split(idx, len(owners))):
            parts[owners[j]] += chunk.tolist()
    return [np.array(sorted(p)) for p in parts]


# --- attack ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def attack_models(P: float = 0.5, n_clients: int = 10):
    """The clients' trained classifiers (numpy weights), the test split and the class sets.

    Cached (the attack and its test ask for them more than once) and seeded inside ``fork_rng``,
    so the caller's global torch generator is left as it was.
    """
    import torch

    Xtr, Xte, ytr, yte = _digits()
    sets = _holders(n_clients, max(1, round(10 * P)), seed=7)
    parts = _split_by_class(ytr, sets, seed=8)
    models = []
    with torch.random.fork_rng(devices=[]):
        for i, idx in enumerate(parts):
            torch.manual_seed(100 + i)
            net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
            opt = torch.optim.Adam(net.parameters(), lr=1e-2)
            X = torch.tensor(Xtr[idx], dtype=torch.float32)
            y = torch.tensor(ytr[idx])
            for _ in range(200):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(X), y).backward()
                opt.step()
            models.append([p.detach().double().numpy() for p in net.parameters()])
    return models, Xte, yte, sets


def _logits(W, x: np.ndarray) -> np.ndarray:
    h = np.maximum(W[0] @ x + W[1], 0.0)
    return W[2] @ h + W[3]


def margin(W, x: np.ndarray, label: int) -> float:
    z = _logits(W, x)
    return float(z[label] - np.max(np.delete(z, label)))


def attack_targets(models, Xte, yte, n: int, seed: int = 11) -> list[int]:
    ok = [j for j in range(len(yte)) if np.mean([margin(W, Xte[j], yte[j]) for W in models]) >= 0]
    rng = np.random.default_rng(seed)
    return rng.choice(ok, size=n, replace=False).tolist()


# --- metric ----------------------------------------------------------------------------------------
@functools.cache
def metric_setup(n_clients: int = 5):
    from sklearn.neural_network import MLPClassifier

    Xtr, Xte, ytr, yte = _digits()
    clf = MLPClassifier(hidden_layer_sizes=(30, 14), solver="lbfgs", alpha=1e-5, max_iter=300, random_state=1)
    clf.fit(Xtr, ytr)
    shapes = [w.shape for w in clf.coefs_] + [b.shape for b in clf.intercepts_]
    theta = np.concatenate([w.ravel() for w in clf.coefs_] + [b.ravel() for b in clf.intercepts_])
    sets = [[(2 * i + j) % 10 for j in range(3)] for i in range(n_clients)]
    parts = _split_by_class(yte, sets, seed=9)
    return theta, shapes, Xte, yte, parts, float(clf.score(Xte, yte))


def _predict(theta: np.ndarray, shapes, X: np.ndarray) -> np.ndarray:
    n_layers = len(shapes) // 2
    arrays, k = [], 0
    for s in shapes:
        size = int(np.prod(s))
        arrays.append(theta[k : k + size].reshape(s))
        k += size
    h = X
    for layer in range(n_layers):
        h = h @ arrays[layer] + arrays[n_layers + layer]
        if layer < n_layers - 1:
            h = np.maximum(h, 0.0)
    return h.argmax(1)


def _score(metric: str, y, pred) -> float:
    from sklearn import metrics as skm

    fn = {
        "f1": skm.f1_score,
        "precision": skm.precision_score,
        "recall": skm.recall_score,
        "jaccard": skm.jaccard_score,
    }[metric]
    return float(fn(y, pred, average="macro", zero_division=0))


# --- the federations -------------------------------------------------------------------------------
def _vec(p: dict[str, Any]) -> np.ndarray:
    return np.fromiter(p.values(), dtype=np.float64)


def attack_settings(scale: str) -> tuple[dict[str, Any], list[int]]:
    """The attack's setting at ``scale`` and its seeds (seed ``k`` attacks target image ``k``)."""
    n, R, T = SCALES["attack"][scale]
    return {"scale": scale, "P": 0.5, "N": 10, "R": R, "T": T, "d": 64}, list(range(n))


def attack_federation(scale: str, k: int) -> tuple[Space, list[Blackbox]]:
    """The clients' margins on target image ``k`` as functions of the perturbation."""
    models, Xte, yte, _ = attack_models()
    j = attack_targets(models, Xte, yte, SCALES["attack"][scale][0])[k]
    space = Space({f"p{i:02d}": Real(-0.3, 0.3) for i in range(64)})
    img, label = Xte[j], int(yte[j])
    return space, [(lambda p, W=W: margin(W, np.clip(img + _vec(p), 0, 1), label)) for W in models]


def metric_settings(scale: str, seeds: list[int]) -> list[tuple[dict[str, Any], list[int]]]:
    """The metric task's settings at ``scale`` (one per metric) with their seeds."""
    n, R, T = SCALES["metric"][scale]
    theta, _, _, _, parts, _ = metric_setup()
    metrics = METRICS_FULL if scale == "full" else ("f1",)
    return [
        ({"scale": scale, "metric": m, "N": len(parts), "R": R, "T": T, "d": int(theta.size)}, seeds[:n])
        for m in metrics
    ]


def metric_federation(metric: str) -> tuple[Space, list[Blackbox]]:
    """``1 - metric`` of each client's test part as functions of the weights' perturbation."""
    theta, shapes, Xte, yte, parts, _ = metric_setup()
    space = Space({f"w{j:04d}": Real(-0.2, 0.2) for j in range(theta.size)})
    return space, [
        (lambda p, idx=idx: 1.0 - _score(metric, yte[idx], _predict(theta + _vec(p), shapes, Xte[idx])))
        for idx in parts
    ]


if __name__ == "__main__":  # sanity: the models and the trained MLP
    models, Xte, yte, sets = attack_models()
    acc = [np.mean([np.argmax(_logits(W, x)) == t for x, t in zip(Xte, yte, strict=True)]) for W in models]
    print("attack client classes", sets, "test accuracy", np.round(acc, 2))
    print("targets", attack_targets(models, Xte, yte, 15))
    theta, shapes, Xte, yte, parts, acc = metric_setup()
    f1 = [round(_score("f1", yte[p], _predict(theta, shapes, Xte[p])), 3) for p in parts]
    print(
        "metric model: d =",
        theta.size,
        "test accuracy",
        round(acc, 3),
        "client sizes",
        [len(p) for p in parts],
    )
    print("f1 per client", f1)
