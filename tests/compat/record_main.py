"""Record what main at commit 097271f asks on *this* machine, for ``test_stored_runs.py``.

Floating-point results differ in their last bits between machines (the CPU's vector width decides
how PyTorch and MKL sum), and an L-BFGS run amplifies that into other points: main's own code asks
different points on an AVX2 machine than the fixture recorded on the machine of issue 13. So the
replays compare today's asks with main's asks recorded on machines of each kind seen, one file each.

Run with main's code first on the path, laid out as installed (the component folders inside the
package)::

    git worktree add /tmp/main097 097271f
    mkdir -p /tmp/old097 && cp -R /tmp/main097/asktell /tmp/old097/asktell
    for c in surrogates acquisition loops; do cp -R /tmp/main097/$c /tmp/old097/asktell/$c; done
    cd /tmp && OMP_NUM_THREADS=1 PYTHONPATH=/tmp/old097 python /path/to/tests/compat/record_main.py OUT.json

It replays every case of ``tests/fixtures/main_097271f.json`` (the recorded values are told, so
only the asked points are recorded) and writes them with the machine they came from.
"""

from __future__ import annotations

import json
import platform
import sys
import warnings
from pathlib import Path

FIXTURE = Path(__file__).parents[1] / "fixtures" / "main_097271f.json"


def replay(loop, state, recorded: list[list[dict]]) -> list[list[dict]]:
    """Ask as the recording did, tell the recorded values; returns the asked params per step."""
    asked = []
    for step in recorded:
        state, trials = loop.ask(state, n=len(step))
        asked.append([t.params for t in trials])
        for trial, told in zip(trials, step, strict=True):
            state = loop.tell(state, trial.id, told["value"])
    return asked


def main(out: str) -> None:
    warnings.simplefilter("ignore")
    import torch

    torch.set_num_threads(1)  # as the tests run (tests/conftest.py): the thread count changes sums too
    import asktell
    from asktell import Space
    from asktell.registry import loop_class

    fixture = json.loads(FIXTURE.read_text())
    cases = []
    for case in fixture["cases"]:
        loop = loop_class(case["loop"]).from_config(case["config"])  # main: n_objectives in the config
        from_init = replay(
            loop, loop.init(Space.from_dict(case["space"]), seed=case["seed"]), case["from_init"]
        )
        loop, state = asktell.load(json.dumps(case["state"]))
        cases.append({"from_init": from_init, "after": replay(loop, state, case["after"])})
    machine = f"{platform.machine()}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
    record = {"commit": fixture["commit"], "code": asktell.__file__, "machine": machine, "cases": cases}
    Path(out).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
