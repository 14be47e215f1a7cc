"""What each way in imports: the data layer and the shell's tell/add/show never load torch.

A shell evaluator runs ``asktell tell`` once per trial; loading torch and BoTorch cost it 2-4 s a
call. Each check runs in a fresh interpreter, where ``sys.modules`` starts empty.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from asktell import registry
from asktell.loops.base import Loop

HEAVY = ("torch", "botorch", "gpytorch")


def _modules_after(code: str, cwd: Path | None = None) -> dict:
    """Run ``code`` in a fresh interpreter; it must leave ``result``. Returns it with the loaded
    modules of interest."""
    probe = (
        f"{code}\nimport json, sys\n"
        "mods = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'botorch', 'gpytorch') or m.startswith('asktell.loops.'))\n"
        "print(json.dumps({'result': result, 'modules': mods}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, check=True
    ).stdout
    return json.loads(out.splitlines()[-1])


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def test_the_data_layer_and_the_top_level_load_no_torch():
    got = _modules_after(
        "import asktell, asktell.state, asktell.space, asktell.errors, asktell.rng, asktell.problems\n"
        "s = asktell.Space({'x': asktell.Real(0.0, 1.0)})\n"
        "result = [asktell.State.__name__, s.decode(s.encode({'x': 0.25}))['x']]"
    )
    assert got["result"] == ["State", 0.25]
    assert _heavy(got["modules"]) == [] and got["modules"] == []


def test_a_loop_loads_on_first_use_and_only_its_own_module():
    got = _modules_after("import asktell\nresult = asktell.loops.Sobol.name")
    assert got["result"] == "sobol"
    assert "torch" in got["modules"] and "botorch" not in got["modules"]
    assert "asktell.loops.bayesopt" not in got["modules"] and "asktell.loops.federated" not in got["modules"]


@pytest.mark.parametrize("loop", ["sobol", "bayesopt", "zord"])
def test_tell_add_and_show_in_a_shell_load_no_torch(tmp_path, loop):
    space = tmp_path / "space.json"
    params = {"x": {"type": "real", "low": -1, "high": 1}, "k": {"type": "integer", "low": 0, "high": 3}}
    space.write_text(json.dumps(params))
    state = tmp_path / "run.json"
    cli = "from asktell.cli import main\n"
    init = _modules_after(
        f"{cli}result = main(['init', '--loop', '{loop}', '--space', r'{space}', '--state', r'{state}'])"
    )
    assert init["result"] == 0
    ask = _modules_after(f"{cli}result = main(['ask', '--state', r'{state}', '--n', '2'])")
    assert ask["result"] == 0 and "torch" in ask["modules"]  # ask runs the loop...
    assert [
        m
        for m in ask["modules"]
        if m.startswith("asktell.loops.")
        and loop not in m
        and m
        not in (
            "asktell.loops.base",
            "asktell.loops.random",
            "asktell.loops.trajectory",
            "asktell.loops.adam",
            "asktell.loops.fit_plan",  # BayesOpt's fit schedule
        )
    ] == []  # ...and only it (with the modules it builds on)
    for argv in (
        ["tell", "--state", str(state), "--trial", "0", "--value", "0.5"],
        ["tell", "--state", str(state), "--trial", "1", "--failed"],
        ["add", "--state", str(state), "--params", '{"x": 0.1, "k": 2}', "--value", "0.25"],
        ["show", "--state", str(state)],
        ["show", "--state", str(state), "--json"],
    ):
        got = _modules_after(f"{cli}result = main({argv!r})")
        assert got["result"] == 0, argv
        assert _heavy(got["modules"]) == [], (argv, got["modules"])
    told = json.loads(state.read_text())["trials"]
    assert [t["status"] for t in told] == ["completed", "failed", "completed"]
    assert told[2]["metadata"] == {"added": True}


def test_the_tell_table_of_the_registry_matches_the_loops():
    """``asktell tell`` skips the loop for the loops the registry says have no tell hook: the
    table must say the truth about the classes."""
    for name, builtin in registry.BUILTIN.items():
        cls = registry.loop_class(name)
        assert cls.__module__ == builtin.module
        has_hook = cls._after_tell is not Loop._after_tell
        assert builtin.data_tell is not has_hook, name
        assert builtin.max_objectives == cls.max_objectives, name
        assert builtin.constraints == cls.supports_constraints, name
        assert registry.loop_kind(name) == ("federated" if "federated" in builtin.module else "loop")
