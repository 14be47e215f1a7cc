"""Priors over HTTP and in the shell (issue 18): a study's space takes priors (``prior`` on a real
or integer, ``weights`` on a categorical) and serves them back; BayesOpt's first ask is the prior's
mode; the Client sends a prior ``Space`` as it is; a bad prior is refused (422, from the body's
schema or the space's own checks, with the space's message) and creates nothing; ``asktell init
--space`` takes the same JSON and refuses a bad one with exit 2, writing no state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from svc_helpers import ServerProcess

import asktell
from asktell.cli import main
from asktell.loops import BayesOpt
from asktell.priors import Normal

SPACE = {
    "lr": {
        "type": "real",
        "low": 1e-5,
        "high": 1.0,
        "log": True,
        "prior": {"type": "normal", "loc": 1e-3, "scale": 1.0},
    },
    "depth": {
        "type": "integer",
        "low": 1,
        "high": 12,
        "log": False,
        "prior": {"type": "uniform", "low": 4, "high": 8},
    },
    "opt": {"type": "categorical", "choices": ["adam", "sgd"], "weights": [3.0, 1.0]},
    "frac": {"type": "real", "low": 0.0, "high": 1.0, "log": False},
}
CONFIG = {"n_init": 3, "num_restarts": 2, "raw_samples": 32}
TOKEN = "prior-token"


def test_a_study_with_priors_serves_them_and_asks_the_mode_first(api) -> None:
    answer = api.post(
        "/studies", json={"name": "p1", "loop": "bayesopt", "config": CONFIG, "space": SPACE, "seed": 2}
    )
    assert answer.status_code == 201, answer.text
    assert api.get("/studies/p1").json()["space"] == asktell.Space.from_dict(SPACE).to_dict()
    assert api.get("/studies/p1").json()["space"]["lr"]["prior"] == {
        "type": "normal",
        "loc": 1e-3,
        "scale": 1.0,
    }
    (first,) = api.post("/studies/p1/ask", json={"n": 1}).json()["trials"]
    assert first["params"]["lr"] == pytest.approx(1e-3) and first["params"]["depth"] == 6
    assert first["params"]["opt"] == "adam" and first["metadata"]["prior"] == "mode"
    state = asktell.State.from_json(api.get("/studies/p1/state").text)
    assert state.space == asktell.Space.from_dict(SPACE)


BAD = [
    ({"type": "real", "low": 0, "high": 1, "prior": {"type": "normal", "loc": 0.5}}, 422),  # no scale
    ({"type": "real", "low": 0, "high": 1, "prior": {"type": "cauchy", "loc": 0, "scale": 1}}, 422),
    ({"type": "real", "low": 0, "high": 1, "prior": {"type": "normal", "loc": 0.5, "scale": 0}}, 422),
    ({"type": "real", "low": 0, "high": 1, "prior": {"type": "normal", "loc": 9.0, "scale": 0.1}}, 422),
    ({"type": "integer", "low": 0, "high": 5, "prior": {"type": "uniform", "low": 2, "high": 9}}, 422),
    ({"type": "categorical", "choices": ["a", "b"], "weights": [1, -2]}, 422),
    ({"type": "categorical", "choices": ["a", "b"], "weights": [1]}, 422),
]


@pytest.mark.parametrize("param, status", BAD, ids=[f"{p.get('prior', p.get('weights'))}" for p, _ in BAD])
def test_a_bad_prior_is_refused_and_creates_nothing(api, param, status: int) -> None:
    answer = api.post("/studies", json={"name": "bad", "loop": "random", "space": {"x": param}})
    assert answer.status_code == status, answer.text
    assert any(word in answer.text for word in ("prior", "weights", "scale", "mass", "bounds", "type"))
    assert api.get("/studies/bad").status_code == 404


def test_ucb_with_a_prior_space_is_refused_over_http(api) -> None:
    answer = api.post(
        "/studies", json={"name": "u", "loop": "bayesopt", "config": {"acquisition": "ucb"}, "space": SPACE}
    )
    assert answer.status_code == 422 and "prior_method='design'" in answer.text
    assert api.get("/studies/u").status_code == 404


def test_the_client_sends_a_prior_space(tmp_path: Path) -> None:
    space = asktell.Space({"x": asktell.Real(0.0, 10.0, prior=Normal(7.0, 1.0)), "y": asktell.Real(0.0, 1.0)})
    db = f"sqlite:///{tmp_path / 'p.db'}"
    with (
        ServerProcess(db, TOKEN, tmp_path / "server.log") as server,
        asktell.Client(server.url, TOKEN) as client,
    ):
        client.create_study("cp", BayesOpt(**CONFIG), space, seed=1)
        assert asktell.Space.from_dict(client.study("cp")["space"]) == space
        (trial,) = client.ask("cp")
        assert trial.params["x"] == pytest.approx(7.0) and trial.metadata["prior"] == "mode"


def test_the_shell_takes_a_prior_space_and_refuses_a_bad_one(tmp_path: Path, capsys) -> None:
    space_file, state_file = tmp_path / "space.json", tmp_path / "run.json"
    space_file.write_text(json.dumps(SPACE))
    assert (
        main(
            [
                "init",
                "--loop",
                "random",
                "--space",
                str(space_file),
                "--state",
                str(state_file),
                "--seed",
                "4",
            ]
        )
        == 0
    )
    assert asktell.load(state_file.read_text())[1].space == asktell.Space.from_dict(SPACE)
    assert main(["ask", "--state", str(state_file), "--n", "2"]) == 0
    capsys.readouterr()
    bad = dict(SPACE, frac={"type": "real", "low": 0, "high": 1, "prior": {"type": "beta", "a": -1, "b": 2}})
    space_file.write_text(json.dumps(bad))
    other = tmp_path / "other.json"
    assert main(["init", "--loop", "random", "--space", str(space_file), "--state", str(other)]) == 2
    assert "Beta's `a` must be > 0" in capsys.readouterr().err and not other.exists()
