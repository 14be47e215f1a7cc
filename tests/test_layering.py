"""The import layering of DESIGN.md, checked on the source.

Imports run one way: the data layer (space, state, errors, registry, rng) <- surrogates <-
acquisition <- loops <- the ways in (api, cli, service, integrations). import-linter cannot see
subpackages mapped from other folders with setuptools' package-dir, so this test reads the imports
itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {  # module prefix -> rank; a module may import only from ranks <= its own
    "asktell.errors": 0,
    "asktell.rng": 0,
    "asktell.registry": 0,
    "asktell.space": 0,
    "asktell.state": 0,
    "asktell.surrogates": 1,
    "asktell.acquisition": 2,
    "asktell.loops": 3,
    "asktell.api": 4,
    "asktell.cli": 5,
    "asktell.plot": 5,
    "asktell.service": 5,
    "asktell.integrations": 5,
}
FOLDERS = {
    "asktell": "asktell",
    "surrogates": "asktell.surrogates",
    "acquisition": "asktell.acquisition",
    "loops": "asktell.loops",
}


def _rank(module: str) -> int | None:
    best = None
    for prefix, rank in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, rank)
    return None if best is None else best[1]


def _modules():
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


@pytest.mark.parametrize("module, path", list(_modules()), ids=lambda v: str(v))
def test_imports_point_down_the_layers(module, path):
    rank = _rank(module)
    if rank is None or module == "asktell":
        return  # the package root re-exports everything
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            assert not target.startswith(("surrogates", "acquisition", "loops")), (
                f"{module} uses a relative-looking import {target!r}; use asktell.{target}"
            )
            assert target != "benchmarks" and not target.startswith("benchmarks."), (
                f"{module} imports benchmarks"
            )
            target_rank = _rank(target)
            if target_rank is not None:
                assert target_rank <= rank, (
                    f"{module} (layer {rank}) imports {target} ({target_rank})"
                )
