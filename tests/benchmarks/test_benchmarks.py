"""Small versions of the global-BO, zeroth-order, HPO and service benchmarks, through the harness.

Each runs the script's own ``main`` at toy sizes into a temporary folder and checks what a full run
relies on: every evaluation counted for every method, the tables and goal lines printed, the
figure and the JSON results written, and ``--report-only`` on those results printing the same
tables again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def _tables(text: str) -> str:
    """The tables of a report: from the first heading to the goals."""
    return text[text.index("### ") : text.index("### Goals")]


def _main_twice(module, args: list[str], results: Path, capsys) -> tuple[dict, str]:
    """Run, then report on the results only; the tables must be the same."""
    assert module.SUITE.main(args) == 0 if hasattr(module, "SUITE") else module.main(args) == 0
    run = capsys.readouterr().out
    payload = json.loads(results.read_text())
    report_args = ["--report-only", str(results), "--out", str(results.parent / "again")]
    assert module.SUITE.main(report_args) == 0 if hasattr(module, "SUITE") else module.main(report_args) == 0
    assert _tables(capsys.readouterr().out) == _tables(run)
    return payload, run


def test_small_global_bo(tmp_path, capsys):
    from benchmarks import global_bo

    args = ["--quick", "--problems", "branin,mixed", "--methods", "asktell,random,optuna-tpe,botorch",
            "--seeds", "1", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    payload, out = _main_twice(global_bo, args, tmp_path / "global_bo_quick.json", capsys)
    budgets = {"branin": 15, "mixed": 18}
    assert {(r["method"], r["problem"]) for r in payload["records"]} == {
        (m, p) for m in ("asktell", "random", "optuna-tpe", "botorch") for p in budgets
    }
    for r in payload["records"]:
        assert r["error"] is None, r["error"]
        assert len(r["observed"]) == len(r["regret"]) == len(r["overhead_s"]) == budgets[r["problem"]]
        assert all(a >= b >= 0 for a, b in zip(r["regret"], r["regret"][1:], strict=False))
    assert "### branin (15 evaluations, d=2)" in out and "### Summary" in out
    goals = [line for line in out.splitlines() if line.startswith("- goal: ")]
    assert len(goals) == 4 and "not measured" in goals[0]  # 2 of the 6 problems: no win count
    assert (tmp_path / "global_bo_quick.png").stat().st_size > 0
    assert (tmp_path / "global_bo_quick.partial.jsonl").read_text().count("\n") == 8


def test_small_zeroth_order(tmp_path, capsys):
    from benchmarks import zeroth_order

    args = ["--quick", "--problems", "levy-10", "--methods", "zord,zosgd,cma,random", "--seeds", "1",
            "--budget", "40", "--grad-problems", "levy-10", "--grad-budget", "30",
            "--out", str(tmp_path)]  # fmt: skip
    payload, out = _main_twice(zeroth_order, args, tmp_path / "zeroth_order_quick.json", capsys)
    assert sorted(r["method"] for r in payload["records"]) == ["cma", "random", "zord", "zosgd"]
    for r in payload["records"]:  # compact records: the best-so-far curve in full
        assert r["error"] is None and len(r["best"]) == 40
    zord = next(r for r in payload["records"] if r["method"] == "zord")
    assert zord["fit_s"]["median"] > 0 and zord["virtual_steps_mean"] >= 1  # ZoRD's own timings
    assert "### levy-10 (d = 10, 40 queries)" in out and "### ZoRD's overhead per ask" in out
    assert "### Gradient quality" in out and payload["gradient_study"]["rows"]["levy-10"]["fd20"]["cos"]
    assert sum(line.startswith("- goal: ") for line in out.splitlines()) == 3
    assert (tmp_path / "zeroth_order_quick.png").stat().st_size > 0


def test_small_hpo(tmp_path, capsys):
    from benchmarks import hpo

    args = ["--quick", "--tasks", "svc-digits,elasticnet-diabetes", "--methods", "asktell,optuna-tpe,random",
            "--seeds", "1", "--jobs", "1", "--out", str(tmp_path)]  # fmt: skip
    assert hpo.main(args) == 0
    out = capsys.readouterr().out
    payload = json.loads((tmp_path / "hpo_quick.json").read_text())
    assert len(payload["records"]) == 6
    for r in payload["records"]:
        assert r["error"] is None and len(r["losses"]) == 20 and all(v is not None for v in r["losses"])
    assert "### Median best 5-fold CV loss after 10 evaluations (rank)" in out
    assert "- goal: asktell has the best mean rank at both budgets; measured: 10 evaluations" in out
    assert (
        hpo.main(["--report-only", str(tmp_path / "hpo_quick.json"), "--out", str(tmp_path / "again")]) == 0
    )
    again = capsys.readouterr().out
    assert again[again.index("### Median") :] == out[out.index("### Median") :]


def test_small_service(tmp_path, capsys):
    from benchmarks import service

    args = ["--quick", "--clients", "1", "--loops", "random", "--cycles", "5", "--no-optuna-wal",
            "--out", str(tmp_path / "service")]  # fmt: skip
    assert service.main(args) == 0
    rows = json.loads((tmp_path / "service.json").read_text())["rows"]
    assert [(r["system"], r["cycles"], r["duplicated"], r["lost"], r["errors"]) for r in rows] == [
        ("asktell", 5, 0, 0, 0),
        ("Optuna", 5, 0, 0, 0),
    ]
    out = capsys.readouterr().out
    assert "| random | 1 | asktell | 5 |" in out
    goal = "- goal: asktell: no duplicated, lost or unaccounted trials, no errors, in every run"
    assert f"{goal}; measured: none; met" in out
    assert service.main(["--report-only", str(tmp_path / "service.json")]) == 0
    assert capsys.readouterr().out.strip() == (tmp_path / "service.md").read_text().strip()


def test_service_report_of_saved_rows(tmp_path, capsys):
    from benchmarks import service

    row = {"loop": "random", "clients": 16, "cycles": 100, "planned": 100, "wall_s": 2.0,
           "cycles_per_s": 50.0, "ask_p50_ms": 10.0, "ask_p99_ms": 50.0, "tell_p50_ms": 5.0,
           "tell_p99_ms": 10.0, "duplicated": 0, "lost": 0, "unaccounted": 0, "errors": 0,
           "error_samples": []}  # fmt: skip
    rows = [{**row, "system": "asktell"}, {**row, "system": "Optuna", "cycles_per_s": 10.0, "errors": 2}]
    (tmp_path / "s.json").write_text(json.dumps({"header": "h", "rows": rows}))
    assert service.main(["--report-only", str(tmp_path / "s.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    head = "| loop | clients | system | cycles | cycles/s | ask p50 / p99 ms | tell p50 / p99 ms | wall s "
    assert out[2:4] == [head + "| dup / lost / errors |", "|---|---:|---|---:|---:|---:|---:|---:|---|"]
    goals = [line for line in out if line.startswith("- goal: ")]
    assert goals[0].endswith("met by 5.00x")  # 50 cycles/s against 10
    assert goals[1].endswith("missed by 1.25x")  # ask p99 = 5x p50, the goal 4x
    assert out[-1].startswith("note: Optuna random 16 clients: 2 errors")


def test_profile_of_one_ask(tmp_path, capsys):
    """The ask profile: every method timed on the same data, asktell's time split into its parts."""
    from benchmarks import profile_ask

    out = tmp_path / "profile.json"
    profile_ask.main(["--cases", "branin:12", "--steps", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    (row,) = json.loads(out.read_text())["cases"]
    assert (row["problem"], row["n"], row["steps"]) == ("branin", 12, 2)
    for method in ("asktell", "asktell-main"):
        r = row[method]
        assert r["total"] > 0 and r["fit"] > 0 and r["acq"] > 0
        assert r["fit"] + r["acq"] + r["rest"] == pytest.approx(r["total"])
    assert row["asktell-main"]["plans"] == ["cold", "warm"]  # main: every ask fits
    assert row["optuna-gp"]["total"] > 0 and "x GPSampler" in printed
