"""What the import-linter contracts (pyproject.toml, ``make lint-imports``) cannot say.

The contracts check the arrows between the layers, the torch-free data layer, the frameworks the
loops may not use, that nothing imports ``benchmarks`` and that no package has import cycles. They
do not see:

- a module that belongs to no layer (it would be free to import anything);
- relative imports, and imports of the component folders by their folder names (``import loops``
  works from the repository root and bypasses the package);
- ``import asktell`` or ``from asktell import <name>`` where the name is not a submodule: the
  package's first-use attributes (``asktell.minimize``, ``asktell.loops``) would hide an arrow
  from the graph.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="pyproject.toml is read with Python 3.11's tomllib")

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {  # folder -> the package it is installed as (pyproject's package-dir)
    "asktell": "asktell",
    "surrogates": "asktell.surrogates",
    "acquisition": "asktell.acquisition",
    "loops": "asktell.loops",
}
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
LAYERED = [
    name.strip()
    for contract in CONFIG["contracts"]
    if contract["type"] == "layers"
    for layer in contract["layers"]
    for name in layer.replace("|", ":").split(":")
]


def _modules():
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


MODULES = list(_modules())
SUBMODULES = {name.split(".")[1] for name, _ in MODULES if name.count(".") >= 1}


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield node, node.module or "", [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, []


def test_the_contract_names_real_modules():
    known = {name for name, _ in MODULES}
    assert set(LAYERED) <= known, sorted(set(LAYERED) - known)


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_every_module_belongs_to_a_layer(module, path):
    if module == "asktell":
        return  # the package root: data-layer imports, and first-use attributes
    assert any(module == layer or module.startswith(layer + ".") for layer in LAYERED), (
        f"{module} is in no layer of the import-linter contract (pyproject.toml)"
    )


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_are_absolute_and_name_what_they_use(module, path):
    for node, target, names in _imports(path):
        where = f"{module}, line {node.lineno}"
        assert not (isinstance(node, ast.ImportFrom) and node.level), f"{where}: a relative import"
        assert target.split(".")[0] not in ("surrogates", "acquisition", "loops"), (
            f"{where}: imports {target!r} by its folder name; use asktell.{target}"
        )
        if module == "asktell":
            continue
        assert not (isinstance(node, ast.Import) and target == "asktell"), (
            f"{where}: `import asktell` hides what is used from the layer contract; import it from its module"
        )
        if target == "asktell":
            hidden = [n for n in names if n not in SUBMODULES and n != "__version__"]
            assert not hidden, f"{where}: import {hidden} from the modules that define them"
