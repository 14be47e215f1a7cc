"""What a benchmark ran on: date, CPU, Python, thread settings and package versions."""

from __future__ import annotations

import datetime
import importlib.metadata as md
import os
import platform
from collections.abc import Sequence
from typing import Any


def cpu_name() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` where there is one)."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


def environment(dists: Sequence[str], **extra: Any) -> dict[str, Any]:
    """The record of the machine and of the installed versions of ``dists`` (None: absent).

    ``extra`` adds benchmark-specific entries (e.g. ``threads``) before the versions.
    """
    import torch

    versions: dict[str, str | None] = {}
    for dist in dists:
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{cpu_name()}, {os.cpu_count()} logical cores",
        "python": platform.python_version(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "torch_threads": torch.get_num_threads(),
        **extra,
        "versions": versions,
    }
