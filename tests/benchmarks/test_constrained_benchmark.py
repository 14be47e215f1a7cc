"""The constrained benchmark: its problems' optima and signs against BoTorch, the peers' constraint
plumbing, the report's numbers on hand-built runs, and a small run of the script (tables, goals,
figure, JSON, resume, report-only)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import constrained  # noqa: E402
from benchmarks.harness import peers, runner  # noqa: E402
from benchmarks.harness import peers_constrained as pc  # noqa: E402
from benchmarks.harness import problems_constrained as prc  # noqa: E402


def _sobol_box(problem, n: int = 4096, seed: int = 0) -> torch.Tensor:
    low = torch.tensor([p.low for p in problem.space.params.values()], dtype=torch.float64)
    high = torch.tensor([p.high for p in problem.space.params.values()], dtype=torch.float64)
    U = torch.quasirandom.SobolEngine(problem.dim, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    return low + (high - low) * U


@pytest.mark.parametrize("name", sorted(prc.BOTORCH_CLASSES))
def test_botorch_optima_are_attained_and_not_beaten(name):
    """Each optimum is BoTorch's own value at a point BoTorch's own slack calls feasible, at most
    BoTorch's _optimal_value (see the module for why they differ), and no feasible Sobol point of
    4096 does better."""
    fn = prc.BOTORCH_CLASSES[name]()
    optimum, witness, _ = prc.OPTIMA[name]
    X = torch.tensor([witness], dtype=torch.float64)
    assert bool((fn.evaluate_slack_true(X) >= 0).all())
    assert fn.evaluate_true(X).item() == pytest.approx(optimum, rel=1e-12)
    assert optimum <= fn._optimal_value
    problem = prc.constrained(name)
    assert problem.optimum == optimum and problem.worst_value == fn._worst_feasible_value
    sample = _sobol_box(problem)
    feasible = (fn.evaluate_slack_true(sample) >= 0).all(-1)
    assert bool(feasible.any())
    assert fn.evaluate_true(sample)[feasible].min().item() >= optimum


def test_slack_sign_is_botorchs_feasibility():
    """asktell's constraints "s_i >= 0" on BoTorch's slacks call a point feasible exactly when
    BoTorch's is_feasible does (the sign of evaluate_slack, checked on points of both kinds)."""
    for name, cls in prc.BOTORCH_CLASSES.items():
        problem, fn = prc.constrained(name), cls()
        instance = problem.instance(0)
        sample = _sobol_box(problem, 512, seed=1)
        theirs = fn.is_feasible(sample, noise=False).tolist()
        ours = []
        for x in sample.tolist():
            params = problem.space.check(dict(zip(problem.space.names, x, strict=True)))
            ours.append(instance.feasible(instance.outcomes(params)))
        assert ours == theirs, name
    gramacy = prc.constrained("gramacy").instance(0)
    inside, outside = {"x0": 0.3, "x1": 0.5}, {"x0": 0.1, "x1": 0.1}  # s1 = 0.068, s1 = -1.665
    assert gramacy.feasible(gramacy.outcomes(inside)) and not gramacy.feasible(gramacy.outcomes(outside))


def test_mixed_vessel_optimum_by_enumeration():
    minima = prc.vessel_minimum()
    value, point = minima["alloy"]
    assert value == pytest.approx(prc.OPTIMA["vessel-mixed"][0], rel=1e-12)
    assert min(v for v, _ in minima.values()) == value
    # the carbon grade is the original problem: the literature's best known 6059.7143 (Coello Coello)
    assert minima["carbon"][0] == pytest.approx(6059.714335, abs=1e-5) and minima["carbon"][1][:2] == (13, 7)
    problem = prc.constrained("vessel-mixed")
    instance = problem.instance(0)
    best = problem.space.check(dict(zip(problem.space.names, prc.OPTIMA["vessel-mixed"][1], strict=True)))
    assert instance.feasible(instance.outcomes(best)) and instance.true_value(best) == pytest.approx(value)
    rng = np.random.default_rng(0)
    for _ in range(2000):  # random feasible designs never beat it
        params = {
            "shell": int(rng.integers(1, 100)),
            "head": int(rng.integers(1, 100)),
            "radius": float(rng.uniform(10, 50)),
            "length": float(rng.uniform(150, 200)),
            "grade": str(rng.choice(list(prc.VESSEL_GRADES))),
        }
        if instance.feasible(instance.outcomes(params)):
            assert value <= instance.true_value(params) <= problem.worst_value


def test_the_infeasible_variant_has_no_feasible_point():
    problem = prc.constrained("gramacy-infeasible")
    assert problem.infeasible and problem.constraints[1] == f"s2 >= {prc.INFEASIBLE_BOUND}"
    instance = problem.instance(0)
    sample = _sobol_box(problem, 8192)
    for x in sample.tolist():
        assert not instance.feasible(instance.outcomes(dict(zip(problem.space.names, x, strict=True))))
    # the tightened bound is the only change: without it a good part of the same points is feasible
    gramacy = prc.constrained("gramacy").instance(0)
    kept = [
        gramacy.feasible(gramacy.outcomes(dict(zip(problem.space.names, x, strict=True))))
        for x in sample.tolist()
    ]
    assert 0.3 < np.mean(kept) < 0.6


def test_optuna_and_ax_receive_the_constraints():
    """Optuna's trials carry c = -slack per outcome (feasible iff <= 0); Ax's experiment has the
    problem's outcome constraints and receives the outcomes with the objective."""
    problem = prc.constrained("gramacy-infeasible")
    instance = problem.instance(0)
    session = peers._OptunaSession("TPESampler", instance, 0)
    ((params, token),) = session.ask()
    outcomes = instance.outcomes(params)
    session.tell(token, instance(params), outcomes)
    trial = session.study.trials[0]
    assert trial.constraints == {"s1": -outcomes["s1"], "s2": prc.INFEASIBLE_BOUND - outcomes["s2"]}
    pytest.importorskip("ax")
    peers.quiet_ax()
    ax = peers._AxSession(instance, 0)
    constraints = ax.client._experiment.optimization_config.outcome_constraints
    got = sorted((c.metric_names, c.op.name, c.bound, c.relative) for c in constraints)
    assert got == [(["s1"], "GEQ", 0.0, False), (["s2"], "GEQ", prc.INFEASIBLE_BOUND, False)]
    ((params, token),) = ax.ask()
    ax.tell(token, instance(params), instance.outcomes(params))
    data = ax.client._experiment.lookup_data().df
    assert sorted(data["metric_name"]) == ["s1", "s2", "y"]


def test_the_botorch_loop_constraints_are_feasible_iff_nonpositive():
    problem = prc.constrained("gramacy-infeasible")
    session = pc._ConstrainedBoTorchSession(problem.instance(0), 0)
    train_Y = torch.tensor([[0.0, -1.0, 0.0], [0.0, 1.0, 4.0]], dtype=torch.float64)  # spreads 1.41, 2.83
    Z = torch.tensor([[[0.0, 0.5, 1.5]], [[0.0, -0.5, 1.5]], [[0.0, 0.5, 1.3]]], dtype=torch.float64)
    s1, s2 = (c(Z).squeeze(-1) for c in session._constraint_callables(train_Y))
    # s1 >= 0 and s2 >= 1.4, in units of each outcome's spread
    assert torch.allclose(s1, torch.tensor([-0.5, 0.5, -0.5], dtype=torch.float64) / math.sqrt(2))
    assert torch.allclose(s2, torch.tensor([-0.1, -0.1, 0.1], dtype=torch.float64) / math.sqrt(8))


def test_a_method_without_constraints_is_refused_on_a_constrained_problem():
    record = peers.PEERS["cma"]().run(prc.constrained("gramacy").with_budget(3), seed=0)
    assert (
        record["error"].startswith("TypeError: cma takes no outcome constraints") and not record["observed"]
    )


def test_bayesopt_without_constraint_support_is_skipped_with_the_reason(monkeypatch):
    from asktell.loops import BayesOpt

    monkeypatch.setattr(BayesOpt, "supports_constraints", False)
    for name in pc.ASKTELL_METHODS:
        why = pc.CONSTRAINED_METHODS[name]().unavailable()
        assert why is not None and "supports_constraints is False" in why
    assert pc.CONSTRAINED_METHODS["sobol"]().unavailable() is None


def test_run_numbers_on_hand_built_records():
    problem = prc.constrained("gramacy")
    run = {"method": "m", "seed": 0, "budget": 4, "error": None, "observed": [1.0] * 4,
           "regret": [None, None, 0.5, 0.25], "feasible": [False, False, True, False],
           "overhead_s": [0.0, 0.0, 1.0, 3.0], "extra": {}}  # fmt: skip
    never = {**run, "seed": 1, "regret": [None] * 4, "feasible": [False] * 4}
    assert constrained.first_feasible(run) == 3 and constrained.first_feasible(never) == math.inf
    assert constrained.final_regret(run, problem) == 0.25
    assert constrained.final_regret(never, problem) == problem.worst_regret
    cell = constrained.cell_summary([run, never], problem)
    assert cell["median_first_feasible"] == math.inf and cell["no_feasible_seeds"] == [1]
    assert cell["median_regret"] == np.median([0.25, problem.worst_regret])
    assert cell["mean_overhead_s"] == 1.0 and cell["design_cut"] == 10  # (0 + 0 + 1 + 3) / 4, both runs
    config = {**run, "method": constrained.CONFIG, "extra": {"declared_infeasible": [2, 3]}}
    assert constrained.declared_at(config) == 2 and constrained.declared_at(run) == math.inf
    assert constrained.declared_at({**run, "extra": {"memo_infeasible": True}}) == 4
    assert constrained.design_cut(7) == 16  # the BoTorch loop's 2 (d + 1)


def _tables(text: str) -> str:
    return text[text.index("### ") : text.index("### Goals")]


def test_small_constrained_benchmark_runs_resumes_and_reports(tmp_path, capsys):
    methods = "optuna-tpe,optuna-gp,sobol"
    args = ["--quick", "--problems", "gramacy,gramacy-infeasible", "--methods", methods,
            "--seeds", "1", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert constrained.SUITE.main(args) == 0
    out = capsys.readouterr().out
    payload = json.loads((tmp_path / "constrained_quick.json").read_text())
    records = payload["records"]
    # sobol on both problems, the Optuna samplers on the feasible one only
    expected = [("optuna-gp", "gramacy"), ("optuna-tpe", "gramacy"), ("sobol", "gramacy")]
    assert sorted((r["method"], r["problem"]) for r in records) == [
        *expected,
        ("sobol", "gramacy-infeasible"),
    ]
    for r in records:
        assert r["error"] is None and len(r["feasible"]) == len(r["regret"]) == len(r["overhead_s"]) == 14
        found = [i for i, ok in enumerate(r["feasible"]) if ok]
        assert all(v is None for v in r["regret"][: found[0] if found else 14])
        if r["problem"] == "gramacy-infeasible":
            assert not found
    assert "### gramacy (14 evaluations, d=2, 2 constraints, optimum 0.599788)" in out
    assert "### gramacy-infeasible (14 evaluations" in out and "### Summary" in out
    goals = [line for line in out.splitlines() if line.startswith("- goal: ")]
    assert len(goals) == 7 and all(line.endswith("not measured") for line in goals[:2])
    assert (tmp_path / "constrained_quick.png").read_bytes()[:4] == b"\x89PNG"
    run_file = tmp_path / "constrained_quick.partial.jsonl"
    assert len(runner.read_records([run_file])) == 4

    again = ["--quick", "--problems", "gramacy,gramacy-infeasible", "--methods", methods,
             "--seeds", "2", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert constrained.SUITE.main(again) == 0  # resumes by default: only seed 1 runs
    err = capsys.readouterr().err
    assert "resuming: 4 runs" in err and err.count("seed 0:") == 0 and err.count("seed 1:") == 4
    assert len(runner.read_records([run_file])) == 8

    report = ["--report-only", str(tmp_path / "constrained_quick.json"), "--out", str(tmp_path / "again")]
    assert constrained.SUITE.main(report) == 0
    assert "seeds every method finished on every problem: [0, 1]" in capsys.readouterr().out


def test_config_declarations_are_recorded_when_bayesopt_serves_constraints():
    if pc.bayesopt_refusal("config"):
        pytest.skip(pc.bayesopt_refusal("config"))
    peers.quiet()
    record = pc.CONSTRAINED_METHODS["asktell-config"]().run(
        prc.constrained("gramacy-infeasible", quick=True), 0
    )
    assert record["error"] is None and not any(record["feasible"])
    flagged, memo = record["extra"]["declared_infeasible"], record["extra"]["memo_infeasible"]
    assert all(1 <= i <= 14 for i in flagged) and isinstance(memo, bool)
    assert constrained.declared_at(record) == (flagged[0] if flagged else (14 if memo else math.inf))
