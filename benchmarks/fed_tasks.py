"""The federated black-box attack and the non-differentiable metric task (ALGORITHMS.md 6.2, 6.3),
on data that ships with scikit-learn (the 8x8 digits). Used by :mod:`benchmarks.federated`.

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
import json
import math
import time
from pathlib import Path

import numpy as np

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


def _margin(W, x: np.ndarray, label: int) -> float:
    z = _logits(W, x)
    return float(z[label] - np.max(np.delete(z, label)))


def attack_targets(models, Xte, yte, n: int, seed: int = 11) -> list[int]:
    ok = [j for j in range(len(yte)) if np.mean([_margin(W, Xte[j], yte[j]) for W in models]) >= 0]
    rng = np.random.default_rng(seed)
    return rng.choice(ok, size=n, replace=False).tolist()


# --- metric ----------------------------------------------------------------------------------------
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


# --- runs --------------------------------------------------------------------------------------------
def _fed(method: str, T: int, M: int, fzoos: dict):
    from benchmarks.federated import make_fed

    return make_fed(method, T, M, start="center", **fzoos)


def _record(kind, setting, method, seed, sim, t0, M, fzoos) -> dict:
    recs = sim.records
    return {
        "experiment": kind,
        "setting": setting,
        "method": method,
        "seed": seed,
        "M": M if method.startswith("fzoos") else None,
        "fzoos": fzoos if method.startswith("fzoos") else None,
        "round": [r["round"] for r in recs],
        "F": [r["F"] for r in recs],
        "value": [r["F"] for r in recs],
        "value_name": "mean margin" if kind == "attack" else "1 - metric",
        "queries": [r["queries"] for r in recs],
        "bytes_up": [r["bytes_up"] for r in recs],
        "bytes_down": [r["bytes_down"] for r in recs],
        "seconds": time.perf_counter() - t0,
    }


def run(kind: str, scale: str, methods, seeds, M: int, fzoos: dict, done: set):
    """Yield finished runs (dicts in :mod:`benchmarks.federated`'s format), skipping those done."""
    from asktell import Real, Space
    from asktell.loops.federated import simulate
    from benchmarks.federated import _key, _vec

    n, R, T = SCALES[kind][scale]
    if kind == "attack":
        models, Xte, yte, _ = attack_models()
        targets = attack_targets(models, Xte, yte, n)
        space = Space({f"p{j:02d}": Real(-0.3, 0.3) for j in range(64)})
        for k, j in enumerate(targets):
            setting = {"scale": scale, "P": 0.5, "N": 10, "R": R, "T": T, "d": 64}
            clients = [
                (lambda p, W=W, img=Xte[j], lab=int(yte[j]): _margin(W, np.clip(img + _vec(p), 0, 1), lab))
                for W in models
            ]
            for m in methods:
                if _key({"experiment": kind, "setting": setting, "method": m, "seed": k}) in done:
                    continue
                t0 = time.perf_counter()
                sim = simulate(_fed(m, T, M, fzoos), space, clients, rounds=R, seed=k)
                yield _record(kind, setting, m, k, sim, t0, M, fzoos)
        return
    theta, shapes, Xte, yte, parts, _acc = metric_setup()
    space = Space({f"w{j:04d}": Real(-0.2, 0.2) for j in range(theta.size)})
    metrics = METRICS_FULL if scale == "full" else ("f1",)
    for metric in metrics:
        setting = {"scale": scale, "metric": metric, "N": len(parts), "R": R, "T": T, "d": int(theta.size)}
        clients = [
            (
                lambda p, idx=idx, metric=metric: (
                    1.0 - _score(metric, yte[idx], _predict(theta + _vec(p), shapes, Xte[idx]))
                )
            )
            for idx in parts
        ]
        for seed in seeds[:n]:
            for m in methods:
                if _key({"experiment": kind, "setting": setting, "method": m, "seed": seed}) in done:
                    continue
                t0 = time.perf_counter()
                sim = simulate(_fed(m, T, M, fzoos), space, clients, rounds=R, seed=seed)
                yield _record(kind, setting, m, seed, sim, t0, M, fzoos)


# --- report ------------------------------------------------------------------------------------------
def _nan_to(v: float, default: float) -> float:
    return default if math.isnan(v) else v


def _success_by(run: dict, budget: float | None = None, rounds: int | None = None) -> float:
    for k, (v, q) in enumerate(zip(run["value"], run["queries"], strict=True)):
        if (budget is not None and q > budget) or (rounds is not None and k >= rounds):
            break
        if v < 0:
            return 1.0
    return 0.0


def report(kind: str, runs: list[dict], out: Path) -> tuple[list[str], list[dict]]:
    from benchmarks.federated import LABELS, METHODS, _fmt, _q, group, plot_group, value_at_queries

    tables, goals = [], []
    for key, by in sorted(group(runs).items()):
        setting = json.loads(key)
        label = ", ".join(f"{k}={v}" for k, v in setting.items())
        R = max(len(r["round"]) for rs in by.values() for r in rs)
        rounds = sorted({1, max(1, R // 3), max(1, R // 2), R})
        finals = [r["queries"][-1] for rs in by.values() for r in rs]
        equal = min(finals)
        # small budgets too: an attack that every method finishes early is decided there
        budgets = sorted({int(equal * f) for f in (1 / 32, 1 / 16, 1 / 8, 0.25, 0.5, 1.0)})
        head = (
            "| method | runs | "
            + " | ".join(f"round {r}" for r in rounds)
            + " | "
            + " | ".join(f"{b} queries" for b in budgets)
            + " |"
        )
        what = "success rate" if kind == "attack" else "median [IQR] of 1 - metric (mean over clients)"
        lines = [f"**{label}** — {what}", "", head, "|" + "---|" * (2 + len(rounds) + len(budgets))]
        at_budget: dict[str, list[float]] = {}
        for m in METHODS:
            rs = by.get(m)
            if not rs:
                continue
            if kind == "attack":
                cells = [f"{np.mean([_success_by(r, rounds=k) for r in rs]):.2f}" for k in rounds]
                vals = [float(np.mean([_success_by(r, budget=b) for r in rs])) for b in budgets]
                cells += [f"{v:.2f}" for v in vals]
            else:
                cells = [_fmt(_q([r["value"][k - 1] for r in rs])) for k in rounds]
                # a budget below a run's first round: its first-round value stands in (generous
                # to that run, whose iterate is still x_0 there)
                vals = [_q([_nan_to(value_at_queries(r, b), r["value"][0]) for r in rs])[1] for b in budgets]
                cells += [_fmt(_q([value_at_queries(r, b) for r in rs])) for b in budgets]
            at_budget[m] = vals
            lines.append(f"| {LABELS[m]} | {len(rs)} | " + " | ".join(cells) + " |")
        tables.append("\n".join(lines))
        slug = "_".join(str(v) for v in setting.values()).replace(".", "p")
        if kind == "attack":
            _plot_attack(out.parent / f"{out.stem}_{slug}.png", label, by)
        else:
            plot_group(out.parent / f"{out.stem}_{slug}.png", label, by)
        if "fzoos" in at_budget and len(at_budget) > 1:
            fz = at_budget["fzoos"]
            others = {m: v for m, v in at_budget.items() if not m.startswith("fzoos")}
            if kind == "attack":  # higher is better; ahead = >= everywhere, > somewhere, per baseline
                ok = all(
                    all(a >= b for a, b in zip(fz, v, strict=True))
                    and any(a > b for a, b in zip(fz, v, strict=True))
                    for v in others.values()
                )
            else:  # lower is better: strictly lower median at the equal-query budget, not worse before
                ok = all(
                    fz[-1] < v[-1] and all(a <= b for a, b in zip(fz, v, strict=True))
                    for v in others.values()
                )
            detail = "; ".join(f"{LABELS[m]} {', '.join(f'{x:.3g}' for x in v)}" for m, v in others.items())
            goals.append(
                {
                    "setting": label,
                    "pass": bool(ok),
                    "budgets": budgets,
                    "values": at_budget,
                    "text": f"{'PASS' if ok else 'MISS'} {kind} ({label}): at {budgets} queries FZooS "
                    f"{', '.join(f'{x:.3g}' for x in fz)} vs {detail}",
                }
            )
    return tables, goals


def _plot_attack(path: Path, title: str, by: dict[str, list[dict]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from benchmarks.federated import LABELS, METHODS

    fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=90)
    for m in METHODS:
        rs = by.get(m)
        if not rs:
            continue
        R = min(len(r["round"]) for r in rs)
        x = np.arange(1, R + 1)
        axes[0].plot(x, [np.mean([_success_by(r, rounds=k) for r in rs]) for k in x], label=LABELS[m])
        qs = np.linspace(0, max(r["queries"][-1] for r in rs), 50)
        axes[1].plot(qs, [np.mean([_success_by(r, budget=q) for r in rs]) for q in qs], label=LABELS[m])
    for ax, xl in zip(axes, ("rounds", "queries"), strict=True):
        ax.set_xlabel(xl)
        ax.set_ylabel("success rate")
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":  # sanity: the models and the trained MLP
    models, Xte, yte, sets = attack_models()
    acc = [np.mean([np.argmax(_logits(W, x)) == t for x, t in zip(Xte, yte, strict=True)]) for W in models]
    print("attack client classes", sets, "test accuracy", np.round(acc, 2))
    print("targets", attack_targets(models, Xte, yte, 15))
    theta, shapes, Xte, yte, parts, acc = metric_setup()
    print(
        "metric model: d =",
        theta.size,
        "test accuracy",
        round(acc, 3),
        "client sizes",
        [len(p) for p in parts],
        "f1 per client",
        [round(_score("f1", yte[p], _predict(theta, shapes, Xte[p])), 3) for p in parts],
    )
