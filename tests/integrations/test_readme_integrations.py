"""The README's integration snippets run, so they cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _snippet(heading: str) -> str:
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, f"README has no python block under '## {heading}'"
    return match.group(1)


@pytest.mark.parametrize("heading", ["Tuning scikit-learn models", "Optuna studies"])
def test_readme_integration_snippet_runs(heading, capsys):
    namespace: dict = {"__name__": "readme"}
    exec(compile(_snippet(heading), str(README), "exec"), namespace)
    assert capsys.readouterr().out.strip()


def test_readme_parallel_snippet_defines_a_picklable_objective():
    namespace: dict = {"__name__": "readme"}  # not __main__: the pool itself is not started here
    exec(compile(_snippet("Parallel evaluation"), str(README), "exec"), namespace)
    assert namespace["f"]({"x": 2.0}) == 0.0
