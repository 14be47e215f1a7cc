"""States and asks recorded on main before the data layer moved (issue 13), replayed today.

``tests/fixtures/main_097271f.json`` holds, per loop, the asks of a run from ``init`` and a state
saved mid-run (schema version 1) with the asks that followed it, all as main at commit 097271f gave
them. Today's loops must ask exactly the same points, from the seed and from the old state.

(The one fix of issue 13 that changes asks, BayesOpt's warp choice at a cold fit that switches to
the log warp, does not occur in these short runs; ``tests/loops/test_bayesopt.py`` tests it.)

Issue 17 changed two BayesOpt defaults on purpose: asks condition on stored hyperparameters unless
the data say they went stale (``refit="auto"``), and qLogNEI is computed on a cached Cholesky factor
(``fast_path=True``: BoTorch's values up to rounding, which a 10-ask run amplifies into other
points). With ``refit="always", fast_path=False`` (:data:`MAIN_BEHAVIOUR`) BayesOpt still asks
exactly what main asked; the BayesOpt cases are replayed with those options.

Main's own code asks other points on other machines (the last bits of PyTorch's and MKL's sums
depend on the CPU's vector width, and L-BFGS amplifies them): the fixture was recorded on the
machine of issue 13, ``main_097271f_avx2.json`` holds what main asked on an AVX2 machine
(``record_main.py`` records it, with main's code). A replay must equal main's asks on one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from record_main import replay as _replay  # the same replay records main's asks

import asktell
from asktell import Space
from asktell.registry import loop_class
from asktell.state import SCHEMA_VERSION

FIXTURE = json.loads((Path(__file__).parents[1] / "fixtures" / "main_097271f.json").read_text())
CASES = FIXTURE["cases"]


def _asks(steps: list[list[dict]]) -> list[list[dict]]:
    return [[told["params"] for told in step] for step in steps]


def _recorded_asks() -> list[list[tuple[list, list]]]:
    """Main's asks per case on each kind of machine recorded: (from init, after the stored
    state), the fixture's first, then each ``main_097271f_*.json``'s."""
    asks = [[(_asks(c["from_init"]), _asks(c["after"]))] for c in CASES]
    for path in sorted((Path(__file__).parents[1] / "fixtures").glob("main_097271f_*.json")):
        other = json.loads(path.read_text())
        assert other["commit"] == FIXTURE["commit"] and len(other["cases"]) == len(CASES), path
        for case_asks, case in zip(asks, other["cases"], strict=True):
            case_asks.append((case["from_init"], case["after"]))
    return asks


MAIN_ASKS = _recorded_asks()
NOT_MAINS = (
    "not what main asked on any machine recorded: a change of behaviour, or a new kind of machine "
    "(tests/compat/record_main.py records main's asks on it)"
)
MAIN_BEHAVIOUR = {"bayesopt": {"refit": "always", "fast_path": False}}  # the options main had


def _case_id(case: dict) -> str:
    warp = case["config"].get("warp")
    tag = {"none": "-none"}.get(warp, "-auto" if case["loop"] == "bayesopt" else "")
    return f"{case['loop']}{tag}-seed{case['seed']}-n{case['batch']}-obj{case['n_objectives']}"


def _main_asked(case: dict, part: int) -> list[list[list[dict]]]:
    """Main's asks for ``case`` on every machine recorded: from init (``part`` 0) or after the
    stored state (1)."""
    return [asks[part] for asks in MAIN_ASKS[CASES.index(case)]]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_the_same_seed_asks_the_same_points(case):
    config = {k: v for k, v in case["config"].items() if k != "n_objectives"}
    config.update(MAIN_BEHAVIOUR.get(case["loop"], {}))
    loop = loop_class(case["loop"]).from_config(config)
    state = loop.init(Space.from_dict(case["space"]), seed=case["seed"], n_objectives=case["n_objectives"])
    assert _replay(loop, state, case["from_init"]) in _main_asked(case, 0), NOT_MAINS


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_a_state_written_by_main_loads_and_resumes(case):
    stored = case["state"]
    assert stored["schema_version"] == 1
    pinned = {**stored, "loop_config": {**stored["loop_config"], **MAIN_BEHAVIOUR.get(case["loop"], {})}}
    loop, state = asktell.load(json.dumps(pinned))
    assert state.schema_version == SCHEMA_VERSION
    assert state.n_objectives == case["n_objectives"]
    assert "n_objectives" not in state.loop_config  # it moved into the problem definition
    assert [t.to_dict() for t in state.trials] == stored["trials"]
    assert state.memo == stored["memo"] and state.counter == stored["counter"]
    assert _replay(loop, state, case["after"]) in _main_asked(case, 1), NOT_MAINS
    again = asktell.load(state.to_json())[1]  # and the migrated state round-trips as version 2
    assert again == state and json.loads(state.to_json())["schema_version"] == SCHEMA_VERSION
