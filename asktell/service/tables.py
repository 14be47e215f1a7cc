"""The service's tables, the statements the hot path runs, and conversions between rows and trials.

- ``asktell_studies``: one row per study: name, loop, the state *without its trials* as JSON
  (``core``: loop name and config, space, seed, ask counter, memo), ``version`` (incremented by every
  commit), ``revision`` (a random tag of the last commit), ``base_version`` (the version of the last
  import), the number of trials, the per-study token's SHA-256, the pending timeout.
- ``asktell_trials``: one row per trial: id, status, value (JSON), params (JSON), metadata (JSON),
  the value again as a number when it is one (for ``best``), the outcome values of a completed
  trial of a constrained study (``outcomes``, JSON; null otherwise) and whether the trial keeps every
  constraint (``feasible``: true for a completed trial of an unconstrained study, null until
  completed), when it was asked and told, and the study version that last wrote the row (so a
  process can catch up on what changed).
- ``asktell_meta``: the layout's version (``schema``).

Layout versions: ``"1"`` had no ``outcomes`` and ``feasible`` columns; :data:`MIGRATIONS` adds them
(null: an unconstrained study's trial, as every trial of such a database is), so a database created
by an earlier asktell keeps working.

The statements of an ask or a tell are built once with bound parameters: building SQLAlchemy
expressions per request cost more than running them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    update,
)

from asktell.state import COMPLETED, PENDING, State, Trial

SCHEMA = "2"
# what turns a database of an older layout into the next one: {from: (to, statements)}
MIGRATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "1": (
        "2",
        (
            "ALTER TABLE asktell_trials ADD COLUMN outcomes TEXT",
            "ALTER TABLE asktell_trials ADD COLUMN feasible BOOLEAN",
        ),
    ),
}
metadata_obj = MetaData()

studies = Table(
    "asktell_studies",
    metadata_obj,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False, unique=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("loop_name", String(64), nullable=False),
    Column("core", Text, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("base_version", BigInteger, nullable=False),
    Column("revision", String(32), nullable=False),
    Column("n_trials", Integer, nullable=False),
    Column("token_hash", String(64), nullable=True),
    Column("pending_timeout_s", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    sqlite_autoincrement=True,  # never reuse the id of a deleted study
)

trials = Table(
    "asktell_trials",
    metadata_obj,
    Column("study_id", Integer, ForeignKey("asktell_studies.id"), primary_key=True),
    Column("trial_id", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),
    Column("value", Text, nullable=False),
    Column("objective", Float, nullable=True),
    Column("params", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("outcomes", Text, nullable=True),
    Column("feasible", Boolean, nullable=True),
    Column("asked_at", Float, nullable=False),
    Column("told_at", Float, nullable=True),
    Column("version", BigInteger, nullable=False),
    Index("asktell_trials_status", "study_id", "status", "asked_at"),
    Index("asktell_trials_objective", "study_id", "objective"),
    Index("asktell_trials_version", "study_id", "version"),
)

meta = Table(
    "asktell_meta",
    metadata_obj,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

# --- the hot path's statements ------------------------------------------------------------------
SELECT_STUDY = select(studies).where(studies.c.name == bindparam("b_name"))
SELECT_STUDY_FOR_UPDATE = SELECT_STUDY.with_for_update()
SELECT_TRIALS_SINCE = (
    select(trials)
    .where(trials.c.study_id == bindparam("b_sid"))
    .where(trials.c.version > bindparam("b_since"))
    .order_by(trials.c.trial_id)
)
SELECT_PENDING_BEFORE = (
    select(trials.c.trial_id)
    .where(trials.c.study_id == bindparam("b_sid"))
    .where(trials.c.status == PENDING)
    .where(trials.c.asked_at < bindparam("b_before"))
    .order_by(trials.c.trial_id)
)
UPDATE_STUDY = (
    update(studies)
    .where(studies.c.id == bindparam("b_sid"))
    .where(studies.c.version == bindparam("b_read_version"))
    .values(
        core=bindparam("b_core"),
        version=bindparam("b_version"),
        revision=bindparam("b_revision"),
        n_trials=bindparam("b_n_trials"),
        loop_name=bindparam("b_loop_name"),
        updated_at=bindparam("b_now"),
    )
)
INSERT_TRIAL = insert(trials)
UPDATE_TRIAL = (
    update(trials)
    .where(trials.c.study_id == bindparam("b_sid"))
    .where(trials.c.trial_id == bindparam("b_tid"))
    .values(
        status=bindparam("b_status"),
        value=bindparam("b_value"),
        objective=bindparam("b_objective"),
        params=bindparam("b_params"),
        metadata=bindparam("b_metadata"),
        outcomes=bindparam("b_outcomes"),
        feasible=bindparam("b_feasible"),
        told_at=bindparam("b_told_at"),
        version=bindparam("b_version"),
    )
)


@dataclass(frozen=True)
class Study:
    """A study's row: what it is, without its trials.

    Attributes:
        id: the database id (internal); ``uid`` is unique across deletes and databases.
        version: incremented by every commit; ``revision`` is a random tag of the last commit.
        base_version: the version of the last import (or of the creation).
        n_trials: number of trials (ids ``0 .. n_trials - 1``).
        pending_timeout_s: pending trials older than this are expired (told as failed) at the next
            ask; None: never.
    """

    id: int
    uid: str
    name: str
    loop_name: str
    core: str
    version: int
    base_version: int
    revision: str
    n_trials: int
    token_hash: str | None
    pending_timeout_s: float | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Any) -> Study:
        mapping = row._mapping
        return cls(**{k: mapping[k] for k in cls.__dataclass_fields__})

    def core_dict(self) -> dict[str, Any]:
        return json.loads(self.core)


def dumps(value: Any) -> str:
    """Compact strict JSON (NaN and infinity refused)."""
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def state_core(state: State) -> str:
    """The state's JSON without its trials (they live in their own rows)."""
    data = replace(state, trials=()).to_dict()
    del data["trials"]
    return dumps(data)


def trial_row(study_id: int, trial: Trial, version: int, now: float) -> dict[str, Any]:
    """The row of a new trial, for ``INSERT_TRIAL``."""
    value = list(trial.value) if isinstance(trial.value, tuple) else trial.value
    return {
        "study_id": study_id,
        "trial_id": trial.id,
        "status": trial.status,
        "value": dumps(value),
        "objective": trial.value if isinstance(trial.value, float) else None,
        "params": dumps(trial.params),
        "metadata": dumps(trial.metadata),
        "outcomes": None if trial.constraints is None else dumps(trial.constraints),
        "feasible": trial.feasible,
        "asked_at": now,
        "told_at": None if trial.status == PENDING else now,
        "version": version,
    }


def trial_update(row: dict[str, Any]) -> dict[str, Any]:
    """The parameters of ``UPDATE_TRIAL`` for a changed trial, from its ``trial_row``."""
    return {
        "b_sid": row["study_id"],
        "b_tid": row["trial_id"],
        "b_status": row["status"],
        "b_value": row["value"],
        "b_objective": row["objective"],
        "b_params": row["params"],
        "b_metadata": row["metadata"],
        "b_outcomes": row["outcomes"],
        "b_feasible": row["feasible"],
        "b_told_at": row["told_at"],
        "b_version": row["version"],
    }


def trial_dict(row: Any) -> dict[str, Any]:
    """A trial row (as read) as the JSON object of ``Trial.to_dict()``."""
    return row_trial_dict(row._mapping)


def row_trial_dict(m: Any) -> dict[str, Any]:
    """A trial row's mapping (a ``trial_row``, or a row's ``_mapping``) as ``Trial.to_dict()``."""
    data = {
        "id": m["trial_id"],
        "params": json.loads(m["params"]),
        "status": m["status"],
        "value": json.loads(m["value"]),
        "metadata": json.loads(m["metadata"]),
    }
    if m["outcomes"] is not None:
        data["constraints"] = json.loads(m["outcomes"])
    return data


def served_trial(row: Any) -> dict[str, Any]:
    """A trial row (as read) as the API serves it: ``Trial.to_dict()`` and ``feasible``.

    A completed row without ``feasible`` was written before the column existed, by an asktell that
    had no constraints: it is feasible, as every completed trial of an unconstrained study is.
    """
    m = row._mapping
    feasible = m["feasible"]
    if feasible is None and m["status"] == COMPLETED:
        feasible = True
    return {**row_trial_dict(m), "feasible": None if feasible is None else bool(feasible)}


def served(trial: Trial) -> dict[str, Any]:
    """A trial as the API serves it (as :func:`served_trial` serves its row)."""
    return {**trial.to_dict(), "feasible": trial.feasible}
