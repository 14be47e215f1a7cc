"""Every tutorial notebook executes without error in smoke mode (``ASKTELL_SMOKE=1``).

A notebook that needs a missing optional piece (the service extra, an integration) skips that part
itself; here any error in any cell fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
CELL_TIMEOUT_S = 300


def test_all_nine_tutorials_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07", "08", "09"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tutorial_executes_in_smoke_mode(path, monkeypatch, tmp_path):
    # The kernel inherits this environment; python3 resolves to this interpreter (jupyter_client
    # replaces a spec's "python" with sys.executable, and ipykernel's own spec is found first).
    monkeypatch.setenv("ASKTELL_SMOKE", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))  # connection files, not in ~/.local
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(TUTORIALS)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
