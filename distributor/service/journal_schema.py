"""The journal's SQLite schema and the SQL the journal shares between its modules.

Tables: ``meta`` (schema version, run tag), ``tasks``, ``instances`` (one row per attempt,
``UNIQUE(task_id, attempt)``), ``batches`` (one row per submission: name, members, ids),
``transitions`` (the event stream), ``control`` (requests from other processes), ``outcomes``
(what each ended attempt did), ``dependencies`` (task → a task it waits for) and ``retry_at``
(when a delayed retry may be submitted). The last three were added after the first release:
they are created when missing, and older controllers simply ignore them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from distributor.service.state import LIVE_STATES

__all__ = [
    "ADDED_LATER",
    "COLUMNS",
    "DEPENDENCY_ROWS",
    "FROM",
    "LIVE_SQL",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT_KILL_PENDING",
    "SELECT_LIVE",
    "TASK_COLUMNS",
    "chunks",
]

SCHEMA_VERSION = 1
CHUNK = 500  # ids per "IN (...)" query, below SQLite's variable limit
LIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in sorted(LIVE_STATES)) + ")"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, spec TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
    priority INTEGER NOT NULL, owner TEXT NOT NULL, cluster TEXT NOT NULL, tags TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL, message TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tasks_active ON tasks(status) WHERE status = 'active';
CREATE TABLE IF NOT EXISTS instances (
    id INTEGER PRIMARY KEY, task_id INTEGER NOT NULL, attempt INTEGER NOT NULL,
    status TEXT NOT NULL, queue TEXT, resources TEXT NOT NULL, batch_id INTEGER, step INTEGER,
    distributor_id TEXT, kill_pending INTEGER NOT NULL, message TEXT NOT NULL,
    created_at REAL NOT NULL, status_at REAL NOT NULL, submitted_at REAL, triage_since REAL,
    UNIQUE (task_id, attempt));
CREATE INDEX IF NOT EXISTS instances_live ON instances(status) WHERE status IN {LIVE_SQL};
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, cluster TEXT NOT NULL,
    state TEXT NOT NULL, members TEXT NOT NULL, ids TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS batches_open ON batches(state) WHERE state = 'intent';
CREATE TABLE IF NOT EXISTS transitions (
    seq INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL, task_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL, old TEXT, new TEXT NOT NULL, message TEXT NOT NULL,
    distributor_id TEXT);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY, action TEXT NOT NULL, target_kind TEXT NOT NULL,
    target TEXT NOT NULL, created_at REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0);
"""

ADDED_LATER = """
CREATE TABLE IF NOT EXISTS outcomes (
    instance_id INTEGER PRIMARY KEY, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dependencies (
    task_id INTEGER NOT NULL, needs INTEGER NOT NULL, PRIMARY KEY (task_id, needs))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dependencies_needs ON dependencies(needs);
CREATE TABLE IF NOT EXISTS retry_at (instance_id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""
"""Tables a journal made by an earlier version may lack (readers create them too)."""

COLUMNS = (
    "i.id, i.task_id, i.attempt, i.status, i.queue, i.resources, i.batch_id, i.step, "
    "i.distributor_id, i.kill_pending, i.message, i.created_at, i.status_at, i.submitted_at, "
    "i.triage_since, r.at"
)
FROM = "FROM instances i LEFT JOIN retry_at r ON r.instance_id = i.id"
SELECT_LIVE = f"SELECT {COLUMNS} {FROM} WHERE i.status IN {LIVE_SQL}"
SELECT_KILL_PENDING = (
    f"SELECT {COLUMNS}, t.cluster {FROM} JOIN tasks t ON t.id = i.task_id "
    f"WHERE i.kill_pending = 1 AND i.status NOT IN {LIVE_SQL}"
)
TASK_COLUMNS = (
    "id, name, cluster, owner, priority, max_attempts, tags, status, attempts, cancel_requested, "
    "message, json_extract(spec, '$.retry_delay'), json_extract(spec, '$.max_attempts')"
)
DEPENDENCY_ROWS = (
    "SELECT d.task_id, d.needs, n.name, n.status FROM dependencies d JOIN tasks n ON n.id = d.needs"
)


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `CHUNK` (for ``IN (...)`` queries)."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
