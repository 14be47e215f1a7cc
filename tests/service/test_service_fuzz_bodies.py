"""Fuzzing the HTTP API with hostile bodies (issue 14): Hypothesis draws them (``hostile_bodies``:
deep nesting, numbers past a float's range or tiny, non-ASCII digits in strings, wrong types in
every config field and memo key, duplicate, missing and out-of-order trial ids, huge ``n``) and
sends them through FastAPI's test client, on every storage backend.

What must hold for every request:

- the answer is 2xx or 4xx, never 5xx;
- a refusal changes nothing (the study's export and version as before; a refused creation or
  import creates no study);
- what is accepted leaves the study fully readable (the study, ``/trials``, ``/best``, ``/state``,
  whose export reads back as a State) and askable (an ask, and a tell of what it asked).

One study is constrained (``mem <= 4``, ``recall >= 0.9``; issue 15): tells and adds carry
``constraints`` objects, well-formed or hostile (NaN and 1e400 as raw JSON, missing, unknown and
repeated names, deep values), on every study; creations get hostile constraint lists; imports of
its state change its problem's constraints and its trials' outcome values like any other field.

The default run is bounded and derandomized (``EXAMPLES`` per route, the same examples each time,
after the issue's observations as explicit examples); the ``slow``-marked variant (``make
test-all``) draws ``SLOW_EXAMPLES`` new ones per route, each run different. The
schemathesis test (``test_service_fuzz``) fuzzes the published schema; this one the data behind it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hostile_bodies import (
    NUMERIC,
    OUTCOMES,
    Deep,
    Pairs,
    Raw,
    add_bodies,
    ask_bodies,
    create_bodies,
    dump,
    state_changes,
    tell_bodies,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from svc_helpers import SPACE

from asktell import registry
from asktell.state import State

EXAMPLES = 25
SLOW_EXAMPLES = 400
JSON = {"Content-Type": "application/json"}
# loops whose ask needs no model (cheap to ask after every accepted request), with rich memos
STUDIES = {
    "r": ("random", SPACE),
    "q": ("sobol", SPACE),
    "z": ("zosgd", NUMERIC),
    "f": ("fedzo", NUMERIC),
    "c": ("sobol", SPACE),  # constrained: CONSTRAINED
}
CONSTRAINED = {"c": ["mem <= 4", "recall >= 0.9"]}
POINTS = {
    "r": {"x": 0.5, "k": 2, "c": "b"},
    "q": {"x": -1.0, "k": 5, "c": None},
    "c": {"x": 0.0, "k": 1, "c": "a"},
}
LOOPS = registry.registered_loops()
CONFIGS = {name: registry.loop_class(name)().config() for name in LOOPS}


class Fuzzed:
    """The app with five studies (trials completed, failed and pending), reset between examples."""

    def __init__(self, api: Any):
        self.api = api
        self.baseline: dict[str, str] = {}
        for name, (loop, space) in STUDIES.items():
            body = {"name": name, "loop": loop, "space": space, "seed": 1}
            if name in CONSTRAINED:
                body["constraints"] = CONSTRAINED[name]
            created = api.post("/studies", json=body)
            assert created.status_code == 201, created.text
            completed = {"value": 0.5, **({"constraints": OUTCOMES} if name in CONSTRAINED else {})}
            for outcome in (completed, {"failed": True}, None):
                (trial,) = api.post(f"/studies/{name}/ask").json()["trials"]
                if outcome is not None:
                    told = api.post(f"/studies/{name}/tell", json={"trial_id": trial["id"], **outcome})
                    assert told.status_code == 200, told.text
            self.baseline[name] = api.get(f"/studies/{name}/state").text
        self.dirty: set[str] = set()

    def reset(self) -> None:
        """Every study as it was, and no other."""
        for name in sorted(self.dirty):
            if name in self.baseline:
                answer = self.api.put(f"/studies/{name}/state", content=self.baseline[name], headers=JSON)
                assert answer.status_code in (200, 201), answer.text
            else:
                self.api.delete(f"/studies/{name}")
        self.dirty.clear()

    def observe(self, name: str) -> tuple[int, str] | None:
        """The study's version and export; None when it does not exist."""
        info = self.api.get(f"/studies/{name}")
        if info.status_code == 404:
            return None
        assert info.status_code == 200, info.text
        return info.json()["version"], self.api.get(f"/studies/{name}/state").text

    def studies(self) -> list[str]:
        return [s["name"] for s in self.api.get("/studies").json()]

    def send(self, method: str, path: str, body: Any) -> Any:
        return self.api.request(method, path, content=dump(body), headers=JSON)

    def check(self, name: str, before: Any, answer: Any, what: str) -> None:
        """The invariants, for a request ``what`` on study ``name`` that was at ``before``."""
        assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:1000]}"
        if answer.status_code >= 400:
            detail = answer.json()["detail"]
            assert isinstance(detail, str) and detail, answer.text
            assert self.observe(name) == before, f"{what}: refused ({detail[:300]}), yet changed"
        else:
            self.dirty.add(name)
            self.healthy(name, what)

    def healthy(self, name: str, what: str) -> None:
        """The study is readable and askable."""
        api = self.api
        info = api.get(f"/studies/{name}")
        assert info.status_code == 200, f"{what}: {info.text}"
        n_objectives, constraints = info.json()["n_objectives"], info.json()["constraints"]
        trials = api.get(f"/studies/{name}/trials", params={"limit": 10000})
        assert trials.status_code == 200, f"{what}: {trials.text[:500]}"
        for trial in trials.json():  # served feasibility agrees with the served outcomes
            assert trial["feasible"] == (
                None if trial["status"] != "completed" else _keeps(trial, constraints)
            )
        best = api.get(f"/studies/{name}/best")
        if n_objectives == 1:
            assert best.status_code == 200, f"{what}: {best.text[:500]}"
            found = best.json()["trial"]
            assert found is None or found["feasible"] is True, f"{what}: an infeasible best {found}"
            assert (found is None) == (best.json()["detail"] is not None)
        else:
            assert best.status_code == 422 and "objectives" in best.json()["detail"]
        exported = api.get(f"/studies/{name}/state")
        assert exported.status_code == 200, f"{what}: {exported.text[:500]}"
        State.from_json(exported.text)
        asked = api.post(f"/studies/{name}/ask")
        assert asked.status_code == 200, f"{what}: accepted, then the ask failed: {asked.text[:500]}"
        (trial,) = asked.json()["trials"]
        value = 1.0 if n_objectives == 1 else [1.0] * n_objectives
        body = {"trial_id": trial["id"], "value": value}
        if constraints:
            body["constraints"] = {c["name"]: c["bound"] for c in constraints}  # on the bounds: feasible
        told = api.post(f"/studies/{name}/tell", json=body)
        assert told.status_code == 200, f"{what}: accepted, then a tell failed: {told.text[:500]}"


def _keeps(trial: dict[str, Any], constraints: list[dict[str, Any]]) -> bool:
    """Whether a served completed trial's outcomes keep the study's (served) constraints."""
    outcomes = trial["constraints"]
    if not constraints:
        return outcomes is None
    ok = [outcomes[c["name"]] <= c["bound"] if c["op"] == "<=" else outcomes[c["name"]] >= c["bound"]
          for c in constraints]  # fmt: skip
    return all(ok)


def _fuzz(examples: int, strategy: Any, run: Callable[[Any], None], known: list[Any]) -> None:
    """``run`` on ``examples`` bodies drawn from ``strategy``, and on the ``known`` ones first (the
    issue's observations, which a short derandomized run might not draw)."""
    slow = examples > EXAMPLES
    test = given(strategy)(run)
    for body in known:
        test = example(body)(test)
    decorated = settings(
        max_examples=examples,
        deadline=None,
        derandomize=not slow,
        database=None,
        suppress_health_check=list(HealthCheck),
    )(test)
    decorated()


NUMERIC_POINT = {"x": 0.25, "k": 3}
TOO_DEEP = Deep(10_000, 1)  # a RecursionError (500) before issue 14


def _known(route: str, states: dict[str, dict[str, Any]]) -> list[Any]:
    """The issue's observations, as bodies of ``route``."""
    if route == "ask":
        return [("r", TOO_DEEP), ("q", {"n": 10**12}), ("z", {"n": Raw("1e400")})]
    if route in ("tell", "add"):
        base = {"trial_id": 2} if route == "tell" else {"params": POINTS["r"]}
        constrained = {"trial_id": 2} if route == "tell" else {"params": POINTS["c"]}
        return [
            ("r", {**base, "value": 0.5, "metadata": Deep(300, 1)}),
            ("q", {**base, "value": 0.5, "metadata": {"big": Raw("1e400")}}),
            ("r", TOO_DEEP),
            # outcome values: NaN and 1e400 as raw JSON, missing, unknown, twice, not an object,
            # on an unconstrained study, on a failed trial
            ("c", {**constrained, "value": 0.5, "constraints": {"mem": Raw("NaN"), "recall": 1}}),
            ("c", {**constrained, "value": 0.5, "constraints": {"mem": Raw("1e400"), "recall": 1}}),
            ("c", {**constrained, "value": 0.5, "constraints": {"mem": 3}}),
            ("c", {**constrained, "value": 0.5, "constraints": {**OUTCOMES, "latency": 1}}),
            (
                "c",
                {**constrained, "value": 0.5, "constraints": Pairs((("mem", 1), ("recall", 1), ("mem", 2)))},
            ),
            ("c", {**constrained, "value": 0.5, "constraints": [3, 0.95]}),
            ("c", {**constrained, "value": 0.5}),
            ("c", {**constrained, "failed": True, "constraints": OUTCOMES}),
            ("c", {**constrained, "value": 0.5, "constraints": {"mem": Deep(600, 1), "recall": 1}}),
            ("r", {**base, "value": 0.5, "constraints": OUTCOMES}),
        ]
    if route == "create":
        bad = {"name": "new", "loop": "bayesopt", "config": {"min_noise": "x"}, "space": NUMERIC}
        sobol = {"name": "new", "loop": "sobol", "space": NUMERIC}
        return [
            bad,
            {**bad, "config": {"beta": Raw("1e400")}},
            TOO_DEEP,
            {**sobol, "constraints": "mem <= 4"},
            {**sobol, "constraints": ["mem <= 1e400"]},
            {**sobol, "constraints": [{"name": "mem", "op": "<=", "bound": Raw("1e400")}]},
            {**sobol, "constraints": [{"name": "mem", "op": "<=", "bound": Raw("NaN")}]},
            {**sobol, "constraints": ["mem <= 4", "mem >= 1"]},
            {**sobol, "loop": "zord", "constraints": ["mem <= 4"]},
        ]
    sobol, relabelled = states["q"], {**states["r"], "loop_name": "sobol"}
    deep_metadata = copy.deepcopy(sobol)
    deep_metadata["trials"][0]["metadata"] = Deep(400, 1)
    return [
        ("q", {**sobol, "memo": {}}),
        ("q", {**sobol, "memo": {"sobol_issued": "abc"}}),
        ("new", {**sobol, "memo": {"sobol_issued": 0}}),
        ("q", {**sobol, "memo": {"sobol_issued": Raw("1e400")}}),
        ("q", {**sobol, "schema_version": True}),
        ("new", relabelled),
        ("q", deep_metadata),
        ("q", TOO_DEEP),
    ]


ROUTES = ["ask", "tell", "add", "create", "import"]
COUNTS = [EXAMPLES, pytest.param(SLOW_EXAMPLES, marks=pytest.mark.slow)]


@pytest.mark.parametrize("examples", COUNTS, ids=["bounded", "many"])
@pytest.mark.parametrize("route", ROUTES)
def test_hostile_bodies_get_4xx_and_change_nothing_or_keep_the_study_healthy(
    api, route: str, examples: int
) -> None:
    fuzzed = Fuzzed(api)
    names = st.sampled_from(sorted(STUDIES))
    states = {name: json.loads(text) for name, text in fuzzed.baseline.items()}

    if route in ("ask", "tell", "add"):

        def bodies(name: str) -> Any:
            if route == "ask":
                return ask_bodies()
            if route == "tell":
                return tell_bodies(2, 3, name in CONSTRAINED)
            return add_bodies(POINTS.get(name, NUMERIC_POINT), name in CONSTRAINED)

        strategy = names.flatmap(lambda name: st.tuples(st.just(name), bodies(name)))

        def run(drawn: tuple[str, Any]) -> None:
            name, body = drawn
            fuzzed.reset()
            before = fuzzed.observe(name)
            answer = fuzzed.send("POST", f"/studies/{name}/{route}", body)
            fuzzed.check(name, before, answer, f"POST /studies/{name}/{route} {dump(body)[:300]}")

    elif route == "create":
        strategy = create_bodies("new", CONFIGS)

        def run(body: Any) -> None:
            fuzzed.reset()
            listed = fuzzed.studies()
            answer = fuzzed.send("POST", "/studies", body)
            what = f"POST /studies {dump(body)[:300]}"
            assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:1000]}"
            if answer.status_code >= 400:
                assert fuzzed.studies() == listed, f"{what}: refused, yet a study was created"
            else:
                created = answer.json()["name"]
                fuzzed.dirty.add(created)
                fuzzed.healthy(created, what)

    else:
        strategy = names.flatmap(
            lambda name: st.tuples(
                st.sampled_from([name, "new"]), state_changes(states[name], LOOPS, CONFIGS)
            )
        )

        def run(drawn: tuple[str, Any]) -> None:
            target, body = drawn
            fuzzed.reset()
            before = fuzzed.observe(target)
            answer = fuzzed.send("PUT", f"/studies/{target}/state", body)
            fuzzed.check(target, before, answer, f"PUT /studies/{target}/state {dump(body)[:600]}")

    _fuzz(examples, strategy, run, _known(route, states))
