"""The multi-objective benchmark: its problems against BoTorch's (values, signs, reference points,
max_hv, shifts), the hypervolume yardstick against BoTorch's Hypervolume, the peers' plumbing, the
report's numbers and goals on hand-built runs, and a small run of the script (tables, goals,
figure, JSON, resume, report-only)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from botorch.utils.multi_objective.hypervolume import Hypervolume
from botorch.utils.multi_objective.pareto import is_non_dominated

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import multiobjective as mo  # noqa: E402
from benchmarks.harness import peers, runner  # noqa: E402
from benchmarks.harness import peers_mo as pm  # noqa: E402
from benchmarks.harness import problems_mo as prm  # noqa: E402

SMALL = {"num_restarts": 2, "raw_samples": 32, "acq_maxiter": 20}  # asktell's BayesOpt, cheap


def _box_points(problem, n: int, seed: int = 0) -> torch.Tensor:
    low = torch.tensor([p.low for p in problem.space.params.values()], dtype=torch.float64)
    high = torch.tensor([p.high for p in problem.space.params.values()], dtype=torch.float64)
    U = torch.quasirandom.SobolEngine(problem.dim, scramble=True, seed=seed).draw(n, dtype=torch.float64)
    return low + (high - low) * U


def _params(problem, x) -> dict:
    return dict(zip(problem.space.names, [float(v) for v in x], strict=True))


def botorch_hypervolume(values, ref_point) -> float:
    """BoTorch's hypervolume of minimized ``values``: it maximizes, so negate values and reference."""
    Y = -torch.as_tensor(np.asarray(values, dtype=np.float64))
    ref = -torch.as_tensor(ref_point, dtype=torch.float64)
    Y = Y[(ref < Y).all(-1)]
    if len(Y) == 0:
        return 0.0
    return Hypervolume(ref_point=ref).compute(Y[is_non_dominated(Y)])


@pytest.mark.parametrize("name", list(prm.BOTORCH_PROBLEMS))
def test_problems_are_botorchs_minimized(name):
    """Every problem's values are BoTorch's own (negate=False: minimized, forward == evaluate_true),
    with BoTorch's reference point, max_hv, box and slack; a shifted instance evaluates f(x - offset)."""
    make, budget, _, dims = prm.BOTORCH_PROBLEMS[name]
    fn, problem = make(), prm.multiobjective(name)
    assert not fn.negate and problem.budget == budget and problem.quick().budget == prm.QUICK_BUDGET
    assert problem.ref_point == tuple(fn.ref_point.tolist()) and problem.max_hv == fn.max_hv
    assert problem.n_objectives == fn.num_objectives and problem.dim == fn.dim
    assert [(p.low, p.high) for p in problem.space.params.values()] == [
        tuple(b) for b in fn.bounds.T.tolist()
    ]
    X, checked = _box_points(problem, 16, seed=2), 0
    for seed in (0, 5):
        instance = problem.instance(seed)
        assert (instance.offset != 0).sum() == len(dims) and np.abs(instance.offset).max() <= prm.SHIFT
        for x in X:
            params = _params(problem, x)
            inside = x - torch.as_tensor(instance.offset)
            if dims and not ((inside >= 0) & (inside <= 1)).all():
                continue  # BoTorch's own function refuses points outside its box
            expected = fn(inside.unsqueeze(0), noise=False)[0].tolist()
            assert instance.values(params) == pytest.approx(expected, rel=1e-12)
            checked += 1
            if problem.constrained:
                slack = fn.evaluate_slack_true(inside.unsqueeze(0))[0].tolist()
                assert list(instance.outcomes(params).values()) == pytest.approx(slack, rel=1e-12)
                assert instance.feasible(instance.outcomes(params)) == bool(fn.is_feasible(inside[None]))
    assert checked >= 8


@pytest.mark.parametrize("name", ["dtlz2", "c2dtlz2"])
def test_the_shift_moves_the_pareto_set_and_keeps_the_front(name):
    """At x_i = 0.5 + offset_i in the distance coordinates the shifted DTLZ2 is on the unit quarter
    circle (its front), for any x_0; the unshifted centre is not on it."""
    problem = prm.multiobjective(name)
    instance = problem.instance(3)
    assert instance.offset[0] == 0.0
    for x0 in (0.0, 0.3, 1.0):
        point = np.concatenate([[x0], 0.5 + instance.offset[1:]])
        f = instance.values(_params(problem, point))
        assert math.hypot(*f) == pytest.approx(1.0, abs=1e-12)
    centre = instance.values(_params(problem, np.full(problem.dim, 0.5)))
    assert math.hypot(*centre) > 1.0 + 1e-3


def test_hypervolume_yardstick_equals_botorchs():
    """asktell.pareto.hypervolume (the yardstick) equals BoTorch's Hypervolume on each problem's
    values of 64 Sobol points, 2 to 4 objectives (BoTorch maximizes: both negated)."""
    for name in ("branincurrin", "vehiclesafety", "carsideimpact", "zdt1"):
        problem = prm.multiobjective(name)
        instance = problem.instance(0)
        Y = np.array([instance.values(_params(problem, x)) for x in _box_points(problem, 64, seed=1)])
        theirs = botorch_hypervolume(Y, problem.ref_point)
        assert theirs > 0, name
        assert problem.hypervolume(Y) == pytest.approx(theirs, rel=1e-10), name
        assert problem.hypervolume(Y) < problem.max_hv


@pytest.mark.parametrize("name", ["zdt1", "dtlz2"])
def test_closed_form_max_hv_is_the_limit_of_the_true_front(name):
    """On the problems with a closed-form front (BoTorch's gen_pareto_front), the hypervolume of a
    fine sample of it approaches max_hv from below."""
    fn = prm.BOTORCH_PROBLEMS[name][0]()
    problem = prm.multiobjective(name)
    hv = problem.hypervolume(fn.gen_pareto_front(2000).numpy())
    assert hv <= problem.max_hv and problem.max_hv - hv < 2e-3 * problem.max_hv


def test_a_run_records_the_hypervolume_of_its_feasible_values():
    """A Sobol run on c2dtlz2: hv[i] is BoTorch's hypervolume of the feasible values among the first
    i + 1, nondecreasing; the yardstick is log10(max_hv - hv), floored."""
    problem = prm.multiobjective("c2dtlz2").with_budget(24)
    record = pm.sobol().run(problem, 0)
    assert record["error"] is None and len(record["hv"]) == len(record["values"]) == 24
    feasible = np.array(record["feasible"])
    assert feasible.any() and not feasible.all()
    values = np.array(record["values"])
    for i in (5, 11, 23):
        keep = values[: i + 1][feasible[: i + 1]]
        assert record["hv"][i] == pytest.approx(
            botorch_hypervolume(keep, problem.ref_point), rel=1e-10, abs=0
        )
    assert all(a <= b for a, b in zip(record["hv"], record["hv"][1:], strict=False))
    assert mo.log_diff_at(record, problem) == pytest.approx(math.log10(problem.max_hv - record["hv"][-1]))
    assert problem.log_hv_diff(problem.max_hv + 1.0) == pytest.approx(
        math.log10(prm.HV_FLOOR * problem.max_hv)
    )


def test_optuna_ax_and_botorch_receive_objectives_and_constraint():
    problem = prm.multiobjective("c2dtlz2")
    instance = problem.instance(0)
    session = pm._OptunaMOSession("NSGAIISampler", instance, 0)
    ((params, token),) = session.ask()
    values, outcomes = instance.values(params), instance.outcomes(params)
    session.tell(token, values, outcomes)
    trial = session.study.trials[0]
    assert [d.name for d in session.study.directions] == ["MINIMIZE", "MINIMIZE"]
    assert trial.values == values and trial.constraints == {"s1": -outcomes["s1"]}

    from asktell.loops import Sobol

    state = pm._AskTellMOSession(Sobol(), instance, 0).state  # asktell is given the reference point
    assert state.ref_point == problem.ref_point and not state.problem.ref_point_inferred
    assert state.problem.n_objectives == 2 and [str(c) for c in state.problem.constraints] == ["s1 >= 0"]

    b = pm._BoTorchMOSession(instance, 0)
    ((params, token),) = b.ask()
    b.tell(token, instance.values(params), instance.outcomes(params))
    assert b.Y[0] == pytest.approx([-v for v in instance.values(params)] + [-instance.outcomes(params)["s1"]])
    Z = torch.tensor([[[0.0, 0.0, -0.2]], [[0.0, 0.0, 0.3]]], dtype=torch.float64)
    (c,) = b.constraint_callables()
    assert c(Z).squeeze(-1).tolist() == [-0.2, 0.3]  # c = -slack, <= 0 feasible
    assert b.ref_point == [-1.1, -1.1] and len(b.initial) == 7  # asktell's design size for d = 6

    pytest.importorskip("ax")
    peers.quiet_ax()
    ax = pm._AxMOSession(instance, 0)
    config = ax.client._experiment.optimization_config
    assert sorted(config.objective.metric_names) == ["f1", "f2"]
    thresholds = sorted((t.metric_names, t.op.name, t.bound) for t in config.objective_thresholds)
    assert thresholds == [(["f1"], "LEQ", 1.1), (["f2"], "LEQ", 1.1)]
    (constraint,) = config.outcome_constraints
    assert (constraint.metric_names, constraint.op.name, constraint.bound) == (["s1"], "GEQ", 0.0)


def test_asktell_is_skipped_with_the_reason_while_bayesopt_refuses_several_objectives(monkeypatch):
    from asktell.loops import BayesOpt

    monkeypatch.setattr(BayesOpt, "max_objectives", 1)
    why = pm.MO_METHODS["asktell"]().unavailable()
    assert why is not None and "refuses several objectives" in why
    assert pm.MO_METHODS["sobol"]().unavailable() is None


def _cell(final: float, at_half: float, overhead: float = 0.1, n_ok: int = 3) -> dict:
    return {"median_final": final, "median_half": at_half, "median_overhead_s": overhead, "n_ok": n_ok,
            "half_at": 50, "max_overhead_s": 2.0, "last10_overhead_s": 1.0}  # fmt: skip


def test_goals_on_a_hand_built_summary():
    """asktell lowest on 5 of 6, within 1.5x on the sixth, early on 3, overhead 1.2x, asks < 5 s:
    all met; then worse on two problems (and 1.6x on one): missed; asktell absent: not measured."""
    peers_ = {"optuna-gp": _cell(-1.0, 0.0, overhead=0.1), "sobol": _cell(0.0, 0.5, overhead=0.001)}
    early = ("branincurrin", "dtlz2", "vehiclesafety")  # at half the budget below the peers' final -1
    cells = {p: {"asktell": _cell(-2.0, -1.5 if p in early else -0.5, 0.12), **peers_} for p in mo.PROBLEMS}
    cells["zdt1"]["asktell"] = _cell(-1.0 + math.log10(1.4), -0.5, 0.12)
    overall = {"asktell": {"median_overhead_s": 0.12}, "optuna-gp": {"median_overhead_s": 0.1}}
    summary = {"cells": cells, "overall": overall}
    methods = ["asktell", "optuna-gp", "sobol"]
    goals = mo.evaluate_goals(summary, methods, list(mo.PROBLEMS))
    assert [g.met for g in goals] == [True, True, True, True, True], [g.line() for g in goals]
    assert goals[1].data["ratios"]["zdt1"] == pytest.approx(1.4)
    assert goals[3].measured.endswith("(ratio 1.20)")

    cells["dtlz2"]["asktell"] = _cell(-1.0 + math.log10(1.6), -0.5)
    goals = mo.evaluate_goals(summary, methods, list(mo.PROBLEMS))
    assert goals[0].met is False and goals[0].by == "1 problem"
    assert goals[1].met is False and goals[1].data["ratios"]["dtlz2"] == pytest.approx(1.6)
    assert goals[2].met is False and goals[2].data["reached"] == ["branincurrin", "vehiclesafety"]
    assert goals[3].met is True and goals[4].met is True

    some = list(mo.PROBLEMS[:2])
    partial = mo.evaluate_goals(summary, methods, some)
    assert partial[0].met is None and "not every problem ran" in partial[0].measured

    absent = {"cells": {p: {m: c for m, c in cells[p].items() if m != "asktell"} for p in cells},
              "overall": {"optuna-gp": overall["optuna-gp"]}}  # fmt: skip
    lines = [g.line() for g in mo.evaluate_goals(absent, ["optuna-gp", "sobol"], list(mo.PROBLEMS))]
    assert len(lines) == 5 and all(line.endswith("not measured") for line in lines)


def test_cell_numbers_on_hand_built_records():
    problem = prm.multiobjective("branincurrin").with_budget(4)
    hv = [0.0, 10.0, 30.0, problem.max_hv + 0.5]  # BraninCurrin's max_hv is approximate: beaten
    run = {"method": "m", "seed": 0, "budget": 4, "error": None, "hv": hv, "feasible": [True] * 4,
           "overhead_s": [0.0, 0.0, 1.0, 3.0], "values": [[0.0, 0.0]] * 4}  # fmt: skip
    other = {**run, "seed": 1, "hv": [0.0, 0.0, 5.0, 20.0], "overhead_s": [0.0, 2.0, 2.0, 2.0]}
    failed = {**run, "seed": 2, "hv": [0.0], "error": "RuntimeError: boom\n..."}
    cell = mo.cell_summary([run, other, failed], problem)
    floor = math.log10(prm.HV_FLOOR * problem.max_hv)
    assert cell["median_final"] == pytest.approx(np.median([floor, math.log10(problem.max_hv - 20.0)]))
    assert cell["beat_max_hv"] == 1
    assert "exceeds max_hv (counted at the floor): m 1 of 2" in mo._problem_table("t", {"m": cell}, False)
    assert cell["half_at"] == 2
    assert cell["median_half"] == pytest.approx(
        np.median([math.log10(problem.max_hv - 10.0), math.log10(problem.max_hv)])
    )
    assert cell["median_overhead_s"] == 1.5 and cell["max_overhead_s"] == 3.0
    assert cell["failed_seeds"] == [2] and cell["errors"] == ["RuntimeError: boom"] and cell["n_ok"] == 2
    assert math.isnan(cell["infeasible_fraction"])  # unconstrained
    assert cell["design_cut"] == 10 and math.isnan(cell["median_model_overhead_s"])  # none after Optuna's 10
    long = {
        **run,
        "budget": 12,
        "hv": [0.0] * 12,
        "feasible": [True] * 12,
        "overhead_s": [0.0] * 10 + [1.0, 4.0],
    }
    assert mo.cell_summary([long], problem.with_budget(12))["median_model_overhead_s"] == 2.5


def _small_methods(monkeypatch) -> str:
    """sobol, one peer, and asktell with small settings where BayesOpt serves several objectives."""
    methods = "sobol,optuna-tpe"
    if pm.bayesopt_refusal(**SMALL) is None:
        monkeypatch.setitem(pm.MO_METHODS, "asktell", lambda: pm.asktell_mo(**SMALL))
    return methods + ",asktell"


def test_small_multiobjective_benchmark_runs_resumes_and_reports(tmp_path, capsys, monkeypatch):
    methods = _small_methods(monkeypatch)
    serves = pm.bayesopt_refusal(**SMALL) is None
    args = ["--problems", "branincurrin,c2dtlz2", "--methods", methods, "--seeds", "1", "--budget", "9",
            "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert mo.SUITE.main(args) == 0
    out = capsys.readouterr().out
    payload = json.loads((tmp_path / "multiobjective.json").read_text())
    records = payload["records"]
    ran = ["optuna-tpe", "sobol", *(["asktell"] if serves else [])]
    assert sorted((r["method"], r["problem"]) for r in records) == sorted(
        (m, p) for m in ran for p in ("branincurrin", "c2dtlz2")
    )
    for r in records:
        assert r["error"] is None and len(r["hv"]) == len(r["values"]) == len(r["overhead_s"]) == 9
        assert all(len(v) == 2 for v in r["values"]) and r["budget"] == 9
        assert all(a <= b for a, b in zip(r["hv"], r["hv"][1:], strict=False))
    assert "### branincurrin (9 evaluations, d=2, 2 objectives, max_hv 59.3601)" in out
    assert "### c2dtlz2 (9 evaluations, d=6, 2 objectives, 1 constraint" in out and "infeasible evals" in out
    assert "### Summary" in out and "### Problems" in out
    if not serves:
        assert "### Skipped" in out and "asktell: asktell's BayesOpt refuses several objectives" in out
    goals = [line for line in out.splitlines() if line.startswith("- goal: ")]
    assert len(goals) == 5 and goals[0].endswith("not measured") and goals[4].endswith("not measured")
    summary = payload["summary"]["cells"]["branincurrin"]["sobol"]
    sobol_run = next(r for r in records if (r["method"], r["problem"]) == ("sobol", "branincurrin"))
    problem = prm.multiobjective("branincurrin")
    assert summary["median_final"] == pytest.approx(math.log10(problem.hv_gap(sobol_run["hv"][-1])))
    assert (tmp_path / "multiobjective.png").read_bytes()[:4] == b"\x89PNG"
    run_file = tmp_path / "multiobjective.partial.jsonl"
    assert len(runner.read_records([run_file])) == len(records)

    again = [*args[:5], "2", *args[6:]]  # two seeds: resumes, only seed 1 runs
    assert mo.SUITE.main(again) == 0
    err = capsys.readouterr().err
    assert f"resuming: {len(records)} runs" in err and err.count("seed 0:") == 0
    assert err.count("seed 1:") == len(records)
    assert len(runner.read_records([run_file])) == 2 * len(records)

    report = ["--report-only", str(tmp_path / "multiobjective.json"), "--out", str(tmp_path / "again")]
    assert mo.SUITE.main(report) == 0
    assert "seeds every method finished on every problem: [0, 1]" in capsys.readouterr().out
