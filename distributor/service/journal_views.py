"""What the journal tells its readers: tasks, attempts and events as the service's public
types (`TaskInfo`, `AttemptInfo`, `Event`). Functions of an open connection, used by
`distributor.service.journal.Journal`; they only read.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from distributor.exit_info import FINAL_STATES, TaskInstanceStatus
from distributor.service.errors import UnknownTaskError
from distributor.service.events import AttemptOutcome, Event, EventKind
from distributor.service.journal_schema import chunks
from distributor.service.model import TERMINAL_TASK_STATES, AttemptInfo, TaskInfo, TaskStatus

__all__ = ["attempts", "events", "pairs", "task_ids", "task_infos", "waiting_for"]


def _outcome(text: str | None) -> AttemptOutcome | None:
    """An ``outcomes`` row, or None (none written, or unreadable)."""
    if not text:
        return None
    try:
        return AttemptOutcome.from_json(text)
    except (ValueError, TypeError, AttributeError):
        return None


def _ends_attempt(kind: str, new: str) -> bool:
    """Whether an event of `kind` whose new status is `new` ends an attempt or a task."""
    if kind == EventKind.INSTANCE:
        return new in FINAL_STATES
    return new in TERMINAL_TASK_STATES


def waiting_for(db: sqlite3.Connection) -> dict[str, list[str]]:
    """Active task → its dependencies that have not ended done, in the order recorded."""
    found: dict[str, list[str]] = {}
    for name, need in db.execute(
        "SELECT w.name, n.name FROM dependencies d JOIN tasks w ON w.id = d.task_id "
        "JOIN tasks n ON n.id = d.needs WHERE w.status = 'active' AND n.status != 'done' "
        "ORDER BY d.task_id, d.needs"
    ):
        found.setdefault(name, []).append(need)
    return found


def pairs(
    db: sqlite3.Connection, select: str, column: str, values: Sequence[Any]
) -> dict[Any, Any]:
    """Rows of ``SELECT {select} FROM tasks WHERE {column} IN values`` as a dict (chunked)."""
    found: dict[Any, Any] = {}
    for part in chunks(list(values)):
        marks = ",".join("?" * len(part))
        query = f"SELECT {select} FROM tasks WHERE {column} IN ({marks})"  # noqa: S608 - constants and placeholders only
        found.update(db.execute(query, list(part)).fetchall())
    return found


def task_ids(
    db: sqlite3.Connection, *, names: Sequence[str] = (), tag: str | None = None
) -> dict[str, int]:
    """name → id for the named tasks and the tasks carrying `tag`.

    Raises:
        UnknownTaskError: a name is not in the journal.
    """
    found: dict[str, int] = pairs(db, "name, id", "name", names)
    for name in names:
        if name not in found:
            raise UnknownTaskError(name)
    if tag is not None:
        for name, task_id in db.execute(
            "SELECT tasks.name, tasks.id FROM tasks, json_each(tasks.tags) "
            "WHERE json_each.value = ?",
            (tag,),
        ):
            found[name] = task_id
    return found


def task_infos(db: sqlite3.Connection, names: Sequence[str] | None = None) -> list[TaskInfo]:
    """The state of the named tasks (every task when None), in id order.

    Raises:
        UnknownTaskError: a name is not in the journal.
    """
    query = (
        "SELECT t.name, t.status, i.status, t.attempts, t.max_attempts, t.message, "
        "i.message, i.distributor_id, t.tags, t.owner, t.cluster, i.step, o.outcome, r.at "
        "FROM tasks t LEFT JOIN instances i ON i.task_id = t.id AND i.attempt = t.attempts "
        "LEFT JOIN outcomes o ON o.instance_id = i.id "
        "LEFT JOIN retry_at r ON r.instance_id = i.id"
    )
    rows = _by_names(db, query, names, "t.name", "t.id")
    waiting = waiting_for(db) if any(row[1] == TaskStatus.ACTIVE for row in rows) else {}
    return [
        TaskInfo(
            name=row[0],
            status=TaskStatus(row[1]),
            instance_status=TaskInstanceStatus(row[2]) if row[2] else None,
            attempts=row[3],
            max_attempts=row[4],
            message=row[5] or (row[6] or "") if row[1] == TaskStatus.ACTIVE else row[5],
            distributor_id=row[7],
            tags=frozenset(json.loads(row[8])),
            owner=row[9],
            cluster=row[10],
            step=row[11],
            outcome=_outcome(row[12]),
            waiting_for=tuple(waiting.get(row[0], ())),
            next_attempt_at=row[13] if row[2] == TaskInstanceStatus.QUEUED else None,
        )
        for row in rows
    ]


def attempts(
    db: sqlite3.Connection, names: Sequence[str] | None = None
) -> dict[str, list[AttemptInfo]]:
    """Every attempt of the named tasks (every task when None): name → attempts in order.

    Raises:
        UnknownTaskError: a name is not in the journal.
    """
    query = (
        "SELECT t.name, i.attempt, i.status, i.message, i.distributor_id, i.step, i.queue, "
        "i.created_at, i.submitted_at, i.status_at, o.outcome FROM tasks t "
        "JOIN instances i ON i.task_id = t.id LEFT JOIN outcomes o ON o.instance_id = i.id"
    )
    found: dict[str, list[AttemptInfo]] = {name: [] for name in names or ()}
    for row in _by_names(db, query, names, "t.name", "t.id, i.attempt", check=False):
        found.setdefault(row[0], []).append(
            AttemptInfo(
                attempt=row[1],
                status=TaskInstanceStatus(row[2]),
                message=row[3],
                distributor_id=row[4],
                step=row[5],
                queue=row[6],
                created_at=row[7],
                submitted_at=row[8],
                status_at=row[9],
                outcome=_outcome(row[10]),
            )
        )
    if names is not None:
        task_ids(db, names=names)  # raises UnknownTaskError for a name never added
    return found


def _by_names(
    db: sqlite3.Connection,
    query: str,
    names: Sequence[str] | None,
    column: str,
    order: str,
    *,
    check: bool = True,
) -> list[Any]:
    """Rows of `query` for the named tasks (all when None), ordered by `order`."""
    if names is None:
        return db.execute(f"{query} ORDER BY {order}").fetchall()
    rows: list[Any] = []
    for part in chunks(list(names)):
        marks = ",".join("?" * len(part))
        rows.extend(
            db.execute(
                f"{query} WHERE {column} IN ({marks}) ORDER BY {order}", list(part)
            ).fetchall()
        )
    if check:
        missing = set(names) - {row[0] for row in rows}
        if missing:
            raise UnknownTaskError(sorted(missing)[0])
    return rows


def events(db: sqlite3.Connection, since: int = 0, limit: int | None = None) -> list[Event]:
    """Events with ``seq > since``, oldest first (at most `limit`); an event that ends
    an attempt carries its outcome."""
    rows = db.execute(
        "SELECT e.seq, e.at, e.kind, t.name, e.attempt, e.old, e.new, e.message, "
        "e.distributor_id, t.tags, o.outcome FROM transitions e "
        "JOIN tasks t ON t.id = e.task_id "
        "LEFT JOIN instances i ON i.task_id = e.task_id AND i.attempt = e.attempt "
        "LEFT JOIN outcomes o ON o.instance_id = i.id "
        "WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
        (since, -1 if limit is None else limit),
    ).fetchall()
    return [
        Event(
            row[0],
            row[1],
            EventKind(row[2]),
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            frozenset(json.loads(row[9])),
            _outcome(row[10]) if _ends_attempt(row[2], row[6]) else None,
        )
        for row in rows
    ]
