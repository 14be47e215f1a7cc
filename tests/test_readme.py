"""The README's example is executed, so it cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    section = text.split("## Example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under '## Example'"
    return match.group(1)


def test_readme_example_runs_and_finds_a_good_point(capsys):
    code = _example()
    assert len([line for line in code.splitlines() if line.strip()]) <= 12
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    state = namespace["state"]
    assert len(state.trials) == 12 and state.best() is not None
    # the optimum is x=2, n=1 (value 1); 12 evaluations get within 1.0 of it
    assert state.best().value < 2.0
    assert str(state.best().value) in capsys.readouterr().out


def test_readme_multiobjective_example_finds_a_front(capsys):
    section = README.read_text().split("## Several objectives\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under '## Several objectives'"
    namespace: dict = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    state = namespace["state"]
    assert len(state.completed) == 12 and state.problem.ref_point_inferred
    front = state.pareto_front()
    assert len(front) >= 2 and state.hypervolume() > 0
    assert str(state.hypervolume()) in capsys.readouterr().out


def test_readme_priors_example_starts_at_the_prior_and_improves_on_it(capsys):
    section = (
        README.read_text()
        .split("## What you already know: priors over the optimum\n", 1)[1]
        .split("\n## ", 1)[0]
    )
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under its priors section"
    namespace: dict = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    state = namespace["state"]
    assert state.trials[0].metadata["prior"] == "mode" and state.trials[0].params == {"x": 9.0, "y": 3.0}
    assert state.best().value < 0.45  # the minimum is 0.398; the prior's centre itself gives 1.99
    assert str(state.best().value) in capsys.readouterr().out
