"""Finished runs of a long benchmark, one JSON line each, so an interrupted run loses nothing.

A benchmark appends every finished run to ``<out>/<stem>.partial.jsonl``; ``--resume`` reads them
back and runs only what is missing, and ``--report-only`` reports on what is there, restricted to
the seeds that every selected method finished on every selected problem (a median over different
seeds per method would not be a comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any


def add_partial_options(parser: argparse.ArgumentParser) -> None:
    """``--resume`` and ``--report-only``, as every long benchmark offers them."""
    parser.add_argument(
        "--resume", action="store_true", help="reuse the finished runs in <out>/<stem>.partial.jsonl"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="no new runs: report on the finished ones (seeds every method finished everywhere)",
    )


class PartialRuns:
    """The finished runs in ``path``, keyed by ``key(record)``.

    Args:
        path: the ``.partial.jsonl`` file.
        key: a record's identity, e.g. ``(method, problem, seed)``.
        resume: read the runs already in the file; otherwise start it empty.
    """

    def __init__(self, path: Path, key: Callable[[dict[str, Any]], Hashable], resume: bool):
        self.path = path
        self.key = key
        self.done: dict[Hashable, dict[str, Any]] = {}
        if resume and path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.done[key(record)] = record
            print(f"resuming: {len(self.done)} runs in {path}", file=sys.stderr)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def add(self, record: dict[str, Any]) -> None:
        """Keep a finished run (appended to the file at once)."""
        self.done[self.key(record)] = record
        with self.path.open("a") as f:
            f.write(json.dumps(record, allow_nan=False, default=str) + "\n")


def complete_seeds(
    done: dict[Hashable, dict[str, Any]],
    seeds: Sequence[int],
    cells: Sequence[tuple[str, str]],
    key: Callable[[str, str, int], Hashable],
) -> list[int]:
    """The seeds for which every ``(method, problem)`` cell has a finished run."""
    return [s for s in seeds if all(key(m, p, s) in done for m, p in cells)]
