"""Small versions of the federated benchmark's quadratic (experiment 1) and attack (experiment 4).

They run the benchmark's own code paths (``benchmarks/federated.py`` on the harness, the attack's
clients from ``benchmarks/fed_tasks.py``) at toy sizes, into a temporary folder, and check what a
full run relies on: every run recorded, queries counted, the tables, goals and figures written, and
a rerun skipping the runs recorded.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import fed_tasks, federated  # noqa: E402
from benchmarks.harness import runner  # noqa: E402

SMALL_FZOOS = {"local_active": 2, "local_candidates": 20, "post_active": 8, "post_candidates": 40}


def _runs(path: Path) -> dict[str, dict]:
    return {r["method"]: r for r in runner.read_records([path])}


def test_small_federated_quadratic(tmp_path, capsys):
    methods = "fzoos,fzoos_theory,fedzo,scaffold1"
    args = ["--quick", "--experiments", "quad", "--C", "5", "--seeds", "1", "--dim", "8",
            "--rounds", "3", "--local-steps", "3", "--M", "300", "--tag", "t", "--out", str(tmp_path),
            "--methods", methods, "--fzoos", json.dumps(SMALL_FZOOS)]  # fmt: skip
    federated.main(args)
    by_method = _runs(tmp_path / "federated_runs_t.jsonl")
    assert sorted(by_method) == ["fedzo", "fzoos", "fzoos_theory", "scaffold1"]
    N, T, q = 5, 3, 20
    per_round = {
        # the round's start point, T steps and their active queries, then x_r and its active queries
        "fzoos": N * (1 + T + SMALL_FZOOS["local_active"] * (T - 1) + 1 + SMALL_FZOOS["post_active"]),
        "fedzo": N * T * (q + 1),
        "scaffold1": N * (T * (q + 1) + q + 1),  # plus the server-side difference at x_r
    }
    per_round["fzoos_theory"] = per_round["fzoos"]
    for method, run in by_method.items():
        assert run["round"] == [1, 2, 3]
        steps = [b - a for a, b in zip(run["queries"], run["queries"][1:], strict=False)]
        assert steps == [per_round[method]] * 2, method
        assert all(math.isfinite(v) for v in run["value"]) and run["value_name"] == "gap"
        assert run["bytes_up"][-1] > 0 and run["bytes_down"][-1] > 0
    fz = by_method["fzoos"]["value"]
    assert fz[-1] < fz[0]  # the federation descends on the global quadratic
    summary = json.loads((tmp_path / "federated_t.json").read_text())["summary"]
    assert len(summary["tables"]) == 1 and "FZooS" in summary["tables"][0]
    goals = {g["data"]["method"]: g for g in summary["goals"]}
    assert sorted(goals) == ["fzoos", "fzoos_theory"]
    assert all(g["data"]["seeds"] == [0] and isinstance(g["met"], bool) for g in goals.values())
    out = capsys.readouterr().out
    assert summary["tables"][0] in out and "- goal: C=5.0: FZooS reaches FedZO's round-3 gap" in out
    assert list(tmp_path.glob("federated_t_*.png"))
    # a rerun skips what is recorded (the default for this benchmark) and reports the same tables
    federated.main(args)
    assert _runs(tmp_path / "federated_runs_t.jsonl") == by_method
    assert json.loads((tmp_path / "federated_t.json").read_text())["summary"]["tables"] == summary["tables"]


def test_small_federated_attack(tmp_path):
    args = ["--quick", "--experiments", "attack", "--seeds", "1", "--M", "300", "--tag", "a",
            "--out", str(tmp_path), "--methods", "fzoos,fedzo",
            "--fzoos", json.dumps(SMALL_FZOOS)]  # fmt: skip
    federated.main(args)
    runs = runner.read_records([tmp_path / "federated_runs_a.jsonl"])
    n_images, R, T = fed_tasks.SCALES["attack"]["quick"]
    assert len(runs) == 2 * n_images
    for run in runs:
        assert run["round"] == list(range(1, R + 1)) and run["setting"]["N"] == 10
        assert all(math.isfinite(v) for v in run["value"]) and run["value_name"] == "mean margin"
        assert all(a < b for a, b in zip(run["queries"], run["queries"][1:], strict=False))
    # the targets are classified correctly at delta = 0 (mean margin >= 0); FZooS lowers the margin
    models, X, y, _ = fed_tasks.attack_models()
    targets = fed_tasks.attack_targets(models, X, y, n_images)
    start = [float(np.mean([fed_tasks.margin(W, X[j], int(y[j])) for W in models])) for j in targets]
    for run in runs:
        assert start[run["seed"]] >= 0
        if run["method"] == "fzoos":
            assert min(run["value"]) < start[run["seed"]]
    summary = json.loads((tmp_path / "federated_a.json").read_text())["summary"]
    assert len(summary["tables"]) == 1 and "success rate" in summary["tables"][0]
    assert summary["goals"] and isinstance(summary["goals"][0]["met"], bool)
    assert list(tmp_path.glob("federated_a_*attack*.png"))
