"""Fuzzing the published OpenAPI schema with schemathesis: no request gets a 5xx.

In process (the ASGI app, no network at all), a bounded and derandomized number of examples per
route, with the server's token, on a database that already holds a study named like the schema's
examples (``branin-1``) with trials in every status, so the generated requests reach the code
behind the routes and not only the 404s.
"""

from __future__ import annotations

import warnings

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from asktell.service.app import create_app  # noqa: E402
from asktell.service.storage import Storage  # noqa: E402

TOKEN = "fuzz-token"
EXAMPLES = 60
STUDY = "branin-1"


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory):
    storage = Storage(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}")
    app = create_app(storage, TOKEN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        space = {"x": {"type": "real", "low": -5.0, "high": 10.0}}
        assert (
            client.post("/studies", json={"name": STUDY, "loop": "random", "space": space}).status_code == 201
        )
        client.post("/studies/branin-1/ask", json={"n": 6})
        client.post("/studies/branin-1/tell", json={"trial_id": 0, "value": 1.0})
        client.post("/studies/branin-1/tell", json={"trial_id": 1, "failed": True})
    yield app
    storage.close()


ROUTES = [  # deleting comes last, so the other routes find the study
    ("GET", "/health"),
    ("POST", "/studies"),
    ("GET", "/studies"),
    ("GET", "/studies/{name}"),
    ("POST", "/studies/{name}/ask"),
    ("POST", "/studies/{name}/tell"),
    ("POST", "/studies/{name}/add"),
    ("GET", "/studies/{name}/trials"),
    ("GET", "/studies/{name}/trials/{trial_id}"),
    ("GET", "/studies/{name}/best"),
    ("GET", "/studies/{name}/pareto"),
    ("GET", "/studies/{name}/state"),
    ("PUT", "/studies/{name}/state"),
    ("DELETE", "/studies/{name}"),
]


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


def test_every_route_is_fuzzed(fuzz_schema) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in fuzz_schema.get_all_operations()}
    assert found == set(ROUTES)


def _strategy(operation):
    """The schema's examples; valid requests, on any study name and on the seeded study; and
    invalid ones."""
    strategies = list(operation.get_strategies_from_examples())
    strategies.append(operation.as_strategy())
    if "{name}" in operation.path:
        strategies.append(operation.as_strategy(path_parameters={"name": STUDY}))
    strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(strategies)


@pytest.mark.parametrize("method, path", ROUTES)
def test_no_request_gets_a_server_error(fuzz_schema, method: str, path: str) -> None:
    operation = fuzz_schema[path][method]

    @given(case=_strategy(operation))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN}"},
            checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
        )

    fuzz()
