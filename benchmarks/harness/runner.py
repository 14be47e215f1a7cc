"""Running a benchmark's cells with one JSONL record per run, so that a rerun skips what is done.

A *cell* is a dict naming one run, e.g. ``{"method": "asktell", "problem": "branin", "seed": 3}``;
its key is the JSON of its key fields. :class:`Runs` keeps the finished runs of a benchmark in
``<out>/<stem>.partial.jsonl`` (or a committed run file), one record per line, appended as each run
finishes, so an interrupted benchmark loses nothing; :func:`run` runs the cells not recorded yet
(one after the other, or in a pool of single-threaded processes) and returns every cell's record.
``--report-only`` runs nothing and reports on recorded runs, of this benchmark's run file or of
the files given (run files, or the ``.json`` results a benchmark writes, whose ``records`` or
``runs`` it reads).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
Record = dict[str, Any]


def add_options(parser: argparse.ArgumentParser, *, resume: bool = False) -> None:
    """``--out``, ``--resume``/``--fresh`` (default: ``resume``) and ``--report-only [FILE ...]``."""
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the results")
    parser.add_argument(
        "--resume",
        action="store_true",
        default=resume,
        help="reuse the runs recorded in <out>/<stem>.partial.jsonl" + (" (the default)" if resume else ""),
    )
    parser.add_argument("--fresh", dest="resume", action="store_false", help="start the run file anew")
    parser.add_argument(
        "--report-only",
        "--report",
        nargs="*",
        default=None,
        metavar="FILE",
        help="run nothing: report on the recorded runs (of these run or result files; default: the "
        "benchmark's own run file)",
    )


def select(spec: str, known: Sequence[str], what: str) -> list[str]:
    """The names of a comma-separated ``spec`` (or ``all``), in the order given; unknown ones exit."""
    if spec == "all":
        return list(known)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {list(known)} or 'all'.")
    return names


def finite(obj: Any) -> Any:
    """``obj`` as strict JSON data: NaN and infinities become None, numpy scalars Python numbers."""
    if isinstance(obj, dict):
        return {str(k): finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, payload: Any, *, indent: int | None = None) -> None:
    """Write strict JSON through a temporary file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(finite(payload), indent=indent, allow_nan=False, default=str))
    tmp.replace(path)


def read_records(paths: Iterable[Path]) -> list[Record]:
    """The records of run files (``.jsonl``) and of result files (``.json``: their ``records`` or
    ``runs``), in the order read; a missing file holds none."""
    records: list[Record] = []
    for path in paths:
        if not path.exists():
            continue
        if path.suffix == ".jsonl":
            records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        else:
            payload = json.loads(path.read_text())
            records += payload.get("records") or payload.get("runs") or []
    return records


class Runs:
    """The finished runs of a benchmark, one record per key, kept in the JSONL file ``path``.

    Args:
        fields: the key fields of a record (a cell holds them), e.g. ``("method", "problem", "seed")``.
        path: the run file (None: kept in memory only).
        resume: read the runs already in the file; otherwise start it empty.
    """

    def __init__(self, fields: Sequence[str], path: Path | None = None, *, resume: bool = False):
        self.fields, self.path = tuple(fields), path
        self.done: dict[str, Record] = {}
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume:
            self.merge(read_records([path]))
            if self.done:
                print(f"resuming: {len(self.done)} runs in {path}", file=sys.stderr)
        else:
            path.write_text("")

    @classmethod
    def of(cls, paths: Iterable[Path], fields: Sequence[str]) -> Runs:
        """The runs recorded in ``paths`` (a later record of a key replaces an earlier one), read only."""
        runs = cls(fields)
        runs.merge(read_records(paths))
        return runs

    def key(self, cell: Record) -> str:
        return json.dumps([cell.get(f) for f in self.fields], sort_keys=True, default=str)

    def merge(self, records: Iterable[Record]) -> None:
        for record in records:
            self.done[self.key(record)] = record

    def __contains__(self, cell: Record) -> bool:
        return self.key(cell) in self.done

    def get(self, cell: Record) -> Record | None:
        return self.done.get(self.key(cell))

    def add(self, record: Record) -> Record:
        """Keep a finished run (appended to the file at once); returns it as stored (strict JSON)."""
        record = finite(record)
        self.done[self.key(record)] = record
        if self.path is not None:
            with self.path.open("a") as f:
                f.write(json.dumps(record, allow_nan=False, default=str) + "\n")
        return record

    @property
    def records(self) -> list[Record]:
        return list(self.done.values())


def run(
    cells: Sequence[Record],
    job: Callable[[Record], Record],
    runs: Runs,
    *,
    jobs: int = 1,
    initializer: Callable[..., None] | None = None,
    initargs: tuple = (),
    describe: Callable[[Record], str] = lambda record: "",
) -> list[Record]:
    """Every cell's record, in the order of ``cells``: the recorded ones as they are, the others
    run (``job(cell)``; ``jobs > 1``: in a pool of spawned processes, each set up by
    ``initializer(*initargs)``), recorded in ``runs`` as each finishes and reported on stderr.

    A job must not raise for a method's failure: its record says what went wrong.
    """
    todo = [cell for cell in cells if cell not in runs]
    start, count = time.perf_counter(), len(cells) - len(todo)

    def finished(cell: Record, record: Record) -> None:
        nonlocal count
        record = runs.add({**record, **{f: cell[f] for f in runs.fields if f in cell}})
        count += 1
        elapsed = time.perf_counter() - start
        print(f"[{count}/{len(cells)} {elapsed:7.1f} s] {describe(record)}", file=sys.stderr, flush=True)

    if jobs <= 1 or len(todo) <= 1:
        if initializer is not None and todo:
            initializer(*initargs)
        for cell in todo:
            finished(cell, job(cell))
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            jobs, mp_context=context, initializer=initializer, initargs=initargs
        ) as pool:
            futures = {pool.submit(job, cell): cell for cell in todo}
            for future in as_completed(futures):
                finished(futures[future], future.result())
    return [runs.get(cell) for cell in cells]  # type: ignore[misc]


def complete_seeds(records: Iterable[Record], seeds: Sequence[int], groups: Sequence[Record]) -> list[int]:
    """The seeds on which every group (a dict of field values, e.g. a method and a problem) has a run."""
    fields = sorted({k for g in groups for k in g})
    have = {(*(r.get(k) for k in fields), r.get("seed")) for r in records}
    return [s for s in seeds if all((*(g.get(k) for k in fields), s) in have for g in groups)]
