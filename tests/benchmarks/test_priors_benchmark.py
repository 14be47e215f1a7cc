"""The priors benchmark: its cells and priors (good near the optimum, misleading far from it, 15% of
the range wide, the same function in every cell of a problem), TPE's enqueued mode, the SVC task's
reference optimum, and the report's numbers, tables and goals on hand-built runs (nothing is
optimized here)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import priors as bp  # noqa: E402
from benchmarks.harness import priors as hp  # noqa: E402

SEEDS = (0, 3, 7)


def _problems():
    return bp.SUITE.problems


def test_cells_and_which_methods_run_on_them():
    problems = _problems()
    assert list(problems) == [f"{b}/{p}" for b in bp.PROBLEMS for p in bp.PRIORS]
    assert list(bp.SUITE.methods) == list(bp.METHODS)
    for cell in problems:
        prior = bp.split(cell)[1]
        ran = [m for m in bp.METHODS if bp.SUITE.applies(m, cell)]
        assert ran == (["bayesopt"] if prior == "none" else ["pibo", "colabo", "tpe-mode", "random-prior"])
    assert {p: problems[f"{p}/good"].budget for p in bp.PROBLEMS} == {
        "branin": 40, "hartmann6": 60, "rosenbrock4": 60, "svc-digits": 30,
    }  # fmt: skip
    from asktell.space import Categorical, Real, Space

    mixed = Space({"x": Real(0.0, 1.0), "c": Categorical(["a", "b"])})
    assert not hp.applies("colabo", "p/good", mixed) and hp.applies("pibo", "p/good", mixed)
    args = bp.SUITE.parse(["--quick", "--out", "/tmp/unused"])
    assert bp.SUITE.select_problems(args) == [f"{b}/{p}" for b in bp.QUICK_PROBLEMS for p in bp.PRIORS]
    args = bp.SUITE.parse(["--problems", "svc-digits,branin/good"])
    assert bp.SUITE.select_problems(args) == [
        "svc-digits/good",
        "svc-digits/misleading",
        "svc-digits/none",
        "branin/good",
    ]
    assert args.resume and args.seeds == 10


@pytest.mark.parametrize("base", bp.PROBLEMS)
def test_good_prior_is_near_the_optimum_and_the_misleading_one_far(base):
    """Per parameter a Normal of std 15% of the range (decades on a log scale); good: 5% of the range
    from the first minimizer on every coordinate, the same for every seed; misleading: 15% in from a
    corner, at least 0.35 of the range from the minimizer on every coordinate (Branin: 0.69 from
    the nearest of its three); most of the mass inside the bounds."""
    problems = _problems()
    good, bad, none = (problems[f"{base}/{p}"] for p in bp.PRIORS)
    for seed in SEEDS:
        instance = none.instance(seed)
        minimizers = good.shifted_minimizers(instance.offset)
        for cell in (good, bad):
            space = cell.instance(seed).space
            assert space.has_priors and len(space.priors) == space.dim
            assert np.array_equal(cell.instance(seed).offset, instance.offset)  # the same function
            for prior in space.priors.values():
                assert prior.kind == "normal" and prior.args[1] == pytest.approx(hp.PRIOR_STD)
                assert prior.mass > 0.7
            assert [p.mode() for p in space.priors.values()] == pytest.approx(cell.centre_u(seed).tolist())
        assert not none.instance(seed).space.has_priors
        moved = good.centre_u(seed) - minimizers[0]
        assert np.abs(moved) == pytest.approx(np.full(good.dim, hp.GOOD_OFFSET))
        assert np.sign(moved).tolist() == [1.0 if i % 2 == 0 else -1.0 for i in range(good.dim)]
        far = np.abs(bad.centre_u(seed)[None, :] - minimizers)
        assert set(np.round(bad.centre_u(seed), 12)) <= {hp.FAR_INSET, 1.0 - hp.FAR_INSET}
        if len(minimizers) == 1:
            assert far.min() >= 0.35 - 1e-12
        else:
            assert np.linalg.norm(far, axis=-1).min() > 0.69
    if base != "rosenbrock4":  # unshifted: one prior for every seed
        assert good.centre_u(0).tolist() == good.centre_u(5).tolist()


@pytest.mark.parametrize("base", ["branin", "hartmann6", "rosenbrock4"])
def test_the_good_centre_is_much_better_than_the_misleading_one(base):
    problems = _problems()
    regrets = {}
    for prior in ("good", "misleading"):
        cell = problems[f"{base}/{prior}"]
        instance = cell.instance(0)
        regrets[prior] = instance.regret(instance.space.decode(cell.centre_u(0)))
    assert 0 < 10 * regrets["good"] < regrets["misleading"]


def test_the_svc_priors_are_on_the_log_axis_and_the_reference_optimum_is_attained():
    space = _problems()["svc-digits/good"].instance(0).space
    c, gamma = space["C"].prior, space["gamma"].prior
    assert c.scale == pytest.approx(0.15 * 5) and gamma.scale == pytest.approx(0.15 * 4)  # decades
    assert math.log10(c.loc) == pytest.approx(0.5 + 0.05 * 5)
    assert math.log10(gamma.loc) == pytest.approx(-3.5 - 0.05 * 4)
    bad = _problems()["svc-digits/misleading"].instance(0).space
    # C's minimizer is mid-range (a tie: the low end, first in product order), gamma's far end is high
    assert math.log10(bad["C"].prior.loc) == pytest.approx(-2 + 0.15 * 5)
    assert math.log10(bad["gamma"].prior.loc) == pytest.approx(-1 - 0.15 * 4)
    C, g = hp.SVC_MINIMIZER
    assert hp.svc_loss({"C": C, "gamma": g}) == pytest.approx(hp.SVC_OPTIMUM, abs=1e-12)


def test_tpe_asks_the_prior_mode_first():
    pytest.importorskip("optuna")
    from benchmarks.harness import peers

    peers.quiet_optuna()
    cell = _problems()["branin/misleading"]
    instance = cell.instance(1)
    session = hp._TPEModeSession(instance, 1)
    ((params, token),) = session.ask()
    assert params == pytest.approx(instance.space.decode(cell.centre_u(1)))
    session.tell(token, instance(params))
    ((second, _),) = session.ask()
    assert second != params


# --- the report on hand-built runs -------------------------------------------------------------------
def _run(method: str, cell: str, seed: int, regret: list[float], budget: int = 9) -> dict:
    return {"method": method, "problem": cell, "seed": seed, "budget": budget, "error": None,
            "regret": regret, "overhead_s": [0.1] * len(regret)}  # fmt: skip


def _records() -> list[dict]:
    down = [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2]
    fast = [5.0, 0.5, 0.1, 0.05, 0.01, 0.01, 0.01, 0.01, 0.0]
    return [
        _run("bayesopt", "b/none", 0, down),
        _run("bayesopt", "b/none", 1, [v / 2 for v in down]),  # final 0.1
        _run("bayesopt", "b/none", 2, [v * 2 for v in down]),  # final 0.4: median target 0.2
        _run("pibo", "b/good", 0, fast),
        _run("pibo", "b/good", 1, [v * 3 for v in fast]),  # reaches 0.2 at evaluation 4
        _run("pibo", "b/good", 2, down),  # never below 0.2 before its last evaluation (9)
        _run("pibo", "b/misleading", 0, [v * 1.2 for v in down]),
        _run("pibo", "b/misleading", 1, [1.0] * 4),  # stopped short: failed
        {**_run("pibo", "b/misleading", 2, [1.0]), "error": "RuntimeError: boom\n..."},
    ]


def test_per_run_numbers():
    run = _run("m", "b/good", 0, [3.0, 2.0, -1e-9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert bp.regret_at(run) == 0.0 and bp.regret_at(run, 2) == 2.0 and bp.regret_at(run, 3) == 0.0
    assert bp.evaluations_to(run, 2.0) == 2 and bp.evaluations_to(run, 0.0) == 3  # floored at 1e-6
    assert bp.evaluations_to(run, -1.0) == 3  # a target below the floor counts as the floor
    assert math.isinf(bp.evaluations_to(_run("m", "b/good", 0, [3.0, 2.0]), 1.0))
    assert math.isnan(bp.evaluations_to(run, math.nan))
    assert bp.checkpoints(40) == (13, 26) and bp.checkpoints(60) == (20, 40) and bp.checkpoints(2) == (1, 1)


def test_summary_on_hand_built_records():
    summary = bp.summarize(_records(), ["pibo", "bayesopt"], ["b/good", "b/misleading", "b/none"])
    assert summary["targets"] == {"b": pytest.approx(0.2)}
    good = summary["cells"]["b/good"]["pibo"]
    assert good["evaluations_to_target"] == 4  # the median of 3, 4 and 9
    assert good["at"] == [3, 6] and good["budget"] == 9 and good["n_ok"] == 3
    assert good["final"][1] == pytest.approx(0.0) and good["third"][1] == pytest.approx(0.3)
    bad = summary["cells"]["b/misleading"]["pibo"]
    assert bad["n_ok"] == 1 and bad["failed_seeds"] == [1, 2] and bad["errors"] == ["RuntimeError: boom"]
    assert bad["median_regret"] == pytest.approx(0.24)
    assert "bayesopt" not in summary["cells"]["b/good"] and "pibo" not in summary["cells"]["b/none"]
    assert summary["overall"]["pibo"]["mean_overhead_s"] == pytest.approx(0.1)
    assert math.isnan(bp.summarize(_records(), ["pibo"], ["b/good"])["targets"]["b"])  # no yardstick


def test_tables_on_hand_built_records():
    summary = bp.summarize(_records(), ["pibo", "bayesopt"], ["b/good", "b/misleading", "b/none"])

    class P:
        dim, optimum = 2, 0.397887

    text = bp.problem_table("b", P(), summary, ["pibo", "bayesopt"])
    assert text.startswith("### b (9 evaluations, d=2, optimum 0.397887; target: the no-prior BayesOpt's")
    assert "| good | pibo | 0 [0, 0.1] | 0.3 [0.2, 1.65] | 0.03 [0.02, 0.265] | 4 |" in text
    assert "| misleading | pibo |" in text and "| 1, 2 |" in text and "| none | bayesopt |" in text
    table = bp.summary_table(summary, ["pibo", "bayesopt"], ["b"])
    assert "| b | 0.2 | 4 of 9 / 1.20x |" in table


def _cell(budget: int, reach: float, final: float) -> dict:
    return {"budget": budget, "evaluations_to_target": reach, "median_regret": final, "n_ok": 10}


def test_goals_on_a_hand_built_summary():
    """piBO reaches the target in <= 1/3 of the budget everywhere and washes out within 1.5x: met;
    ColaBO misses both on one problem; without the no-prior runs: not measured."""
    cells = {
        "a/good": {"pibo": _cell(40, 13, 0.01), "colabo": _cell(40, 14, 0.01)},
        "a/misleading": {"pibo": _cell(40, 40, 0.15), "colabo": _cell(40, 40, 0.2)},
        "b/good": {"pibo": _cell(60, 5, 1e-9), "colabo": _cell(60, math.inf, 1.0)},
        "b/misleading": {"pibo": _cell(60, 60, 1e-8), "colabo": _cell(60, 60, 1e-7)},
    }
    summary = {"targets": {"a": 0.1, "b": 1e-7}, "cells": cells}
    names = [*cells, "a/none", "b/none"]
    goals = bp.evaluate_goals(summary, ["pibo", "colabo", "bayesopt"], names)
    assert [g.met for g in goals] == [True, False, True, False], [g.line() for g in goals]
    assert goals[0].data["shares"] == {"a": pytest.approx(13 / (40 / 3)), "b": pytest.approx(5 / 20)}
    assert "a 13 of 40 (limit 13.3); b 5 of 60 (limit 20)" in goals[0].measured
    assert goals[1].data["shares"]["b"] == math.inf and "b never (limit 20)" in goals[1].measured
    assert goals[2].data["ratios"] == {"a": pytest.approx(1.5), "b": pytest.approx(1.0)}  # floored at 1e-6
    assert goals[3].data["ratios"]["a"] == pytest.approx(2.0) and goals[3].by == "1.33x"
    absent = {"targets": {"a": math.nan, "b": math.nan}, "cells": cells}
    lines = [g.line() for g in bp.evaluate_goals(absent, ["pibo", "colabo"], names)]
    assert len(lines) == 4 and all(line.endswith("not measured") for line in lines)
