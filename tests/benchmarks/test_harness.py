"""The benchmark harness: the runner's records and resume, the report's statistics and lines, the
problem registry's shifts and noise, and the peers' query accounting."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.harness import report, runner  # noqa: E402

FIELDS = ("method", "problem", "seed")


def _cells(n: int) -> list[dict]:
    return [{"method": "m", "problem": "p", "seed": s} for s in range(n)]


def test_a_recorded_run_is_not_rerun(tmp_path):
    calls = []

    def job(cell):
        calls.append(cell["seed"])
        return {"value": 10.0 * cell["seed"], "nan": math.nan}

    path = tmp_path / "runs.partial.jsonl"
    first = runner.run(_cells(3), job, runner.Runs(FIELDS, path, resume=False))
    assert calls == [0, 1, 2]
    assert [r["value"] for r in first] == [0.0, 10.0, 20.0]
    assert first[0]["nan"] is None  # stored as strict JSON
    assert len(path.read_text().splitlines()) == 3  # one line per run, appended as it finished

    again = runner.run(_cells(5), job, runner.Runs(FIELDS, path, resume=True))
    assert calls == [0, 1, 2, 3, 4]  # only the two runs not recorded ran
    assert again[:3] == first
    assert len(path.read_text().splitlines()) == 5

    runner.run(_cells(2), job, runner.Runs(FIELDS, path, resume=False))  # a fresh start
    assert calls == [0, 1, 2, 3, 4, 0, 1]
    assert len(path.read_text().splitlines()) == 2


def test_recorded_runs_are_read_from_run_and_result_files(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"method": "m", "problem": "p", "seed": 0, "v": 1}) + "\n")
    records = [
        {"method": "m", "problem": "p", "seed": 0, "v": 2},
        {"method": "m", "problem": "p", "seed": 1, "v": 3},
    ]
    (tmp_path / "b.json").write_text(json.dumps({"records": records}))
    runs = runner.Runs.of([tmp_path / "a.jsonl", tmp_path / "b.json", tmp_path / "missing.jsonl"], FIELDS)
    assert sorted((r["seed"], r["v"]) for r in runs.records) == [(0, 2), (1, 3)]  # the later record wins
    groups = [{"method": "m", "problem": "p"}, {"method": "n", "problem": "p"}]
    assert runner.complete_seeds(runs.records, [0, 1], groups[:1]) == [0, 1]
    assert runner.complete_seeds(runs.records, [0, 1], groups) == []


def test_median_and_iqr_match_numpy():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 10, 37):
        xs = rng.lognormal(size=n)
        assert report.quantiles(xs) == tuple(float(q) for q in np.percentile(xs, [25, 50, 75]))
        assert report.median(xs) == float(np.median(xs))
        assert report.mean(xs) == float(np.mean(xs))
    # None and NaN are missing values, left out; nothing gives NaN
    assert report.quantiles([1.0, None, math.nan, 3.0]) == tuple(
        float(q) for q in np.percentile([1, 3], [25, 50, 75])
    )
    assert all(math.isnan(q) for q in report.quantiles([None, math.nan]))
    assert report.iqr(report.quantiles([1.0, 2.0, 3.0])) == "2 [1.5, 2.5]"
    assert report.iqr(report.quantiles([])) == "—"


def test_tables_and_goal_lines():
    text = report.table(["a", "b"], [[1, "x"], [2.5, "y"]], title="### T", align=["---", "---:"])
    assert text.splitlines() == ["### T", "", "| a | b |", "|---|---:|", "| 1 | x |", "| 2.5 | y |"]
    assert report.g3(2.96e-4) == "2.96e-04" and report.g3(0.35) == "0.35" and report.g3(1234.5) == "1.23e+03"
    assert report.g3(math.nan) == "n/a" and report.g3(None) == "n/a"
    missed = report.Goal.at_most("overhead <= the peer's", "0.32 s vs 0.05 s", 6.8, 1.0)
    assert missed.line() == "goal: overhead <= the peer's; measured: 0.32 s vs 0.05 s; missed by 6.80x"
    met = report.Goal.at_least("wins on >= 4", "wins on 5 of 6", 5, 4, "problem")
    assert met.line() == "goal: wins on >= 4; measured: wins on 5 of 6; met by 1 problem"
    assert report.Goal.at_most("g", "m", math.nan, 1.0).line() == "goal: g; measured: m; not measured"
    assert report.goals_text([met]).splitlines() == ["### Goals", "", "- " + met.line()]


def test_plot_writes_a_small_png(tmp_path):
    x = np.arange(1, 11)
    panels = [
        report.Panel("p", "evaluations", "regret", {"a": (x, np.ones((3, 10))), "b": (x, 1 / x[None, :])}),
        report.Panel("q", "rounds", "rate", {"a": (x, [x / 10])}, logy=False),
    ]
    report.plot_panels(tmp_path / "f.png", panels, ncols=2, title="t", highlight="a")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "f.png").stat().st_size < 200_000


def test_shifts_and_noise_are_per_seed_and_the_same_for_every_method():
    from benchmarks.harness.problems import global_bo, zeroth_order

    levy = zeroth_order("levy-20")
    a, b, c = levy.instance(0), levy.instance(0), levy.instance(1)
    assert np.array_equal(a.offset, b.offset) and not np.array_equal(a.offset, c.offset)
    assert np.all(np.abs(a.offset) <= 0.25 * 20.0)
    optimum = {n: 1.0 + a.offset[i] for i, n in enumerate(levy.space.names)}  # Levy's x* = 1, shifted
    assert a(optimum) == pytest.approx(0.0, abs=1e-12)
    noisy = global_bo("hartmann6-noisy")
    point = dict.fromkeys(noisy.space.names, 0.5)
    first, second = noisy.instance(3), noisy.instance(3)
    draws = [first(point) for _ in range(3)]
    assert draws == [second(point) for _ in range(3)]  # the same noise sequence for every method
    assert len(set(draws)) == 3 and first.true_value(point) == global_bo("hartmann6").instance(3)(point)


@pytest.mark.parametrize("method", ["random", "optuna-tpe", "cma"])
def test_every_evaluation_is_counted_once(method):
    """A peer's run makes exactly the budget's evaluations (a CMA-ES generation cut at the budget)."""
    from benchmarks.harness import peers
    from benchmarks.harness.problems import zeroth_order

    problem = zeroth_order("ackley-10", budget=23)
    record = peers.PEERS[method]().run(problem, seed=0)
    assert record["error"] is None
    assert len(record["observed"]) == len(record["regret"]) == len(record["overhead_s"]) == 23
    assert record["regret"] == list(np.minimum.accumulate(record["observed"]))  # noiseless, optimum 0
