"""What a benchmark ran on: date, CPU, Python, thread settings and package versions; threads set once."""

from __future__ import annotations

import datetime
import importlib.metadata as md
import os
import platform
import sys
from collections.abc import Sequence
from typing import Any


def set_threads(threads: int, *, torch: bool = True) -> None:
    """Fix the thread count of every math library, then torch's: call before numpy or torch load."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if torch:
        import torch as _torch

        _torch.set_num_threads(threads)


def cpu_name() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def environment(dists: Sequence[str], **extra: Any) -> dict[str, Any]:
    """The record of the machine and of the installed versions of ``dists`` (None: absent).

    ``extra`` adds benchmark-specific entries (e.g. ``threads``) before the versions.
    """
    versions: dict[str, str | None] = {}
    for dist in dists:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    torch = sys.modules.get("torch")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()}, {os.cpu_count()} logical cores",
        "python": platform.python_version(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": torch.get_num_threads() if torch else None,
        **extra,
        "versions": versions,
    }


def describe(env: dict[str, Any]) -> str:
    """Two lines for the top of a report: threads, machine and date; the versions."""
    head = (
        f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS')}, torch.get_num_threads()="
        f"{env.get('torch_threads')}; {env.get('machine')}; {env.get('date')}"
    )
    versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items() if v)
    return f"{head}\nversions: {versions}"
