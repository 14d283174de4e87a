"""A read-only view of one journal: the task table, a task's attempts, and the changes since
a position in the journal's event stream.

The journal is opened through SQLite's read-only mode (``mode=ro``), so nothing here can write
to it; a controller may be writing at the same time (WAL mode lets readers in). Every read
that pairs rows with a position (`JournalView.snapshot`, `JournalView.changes`) happens in one
read transaction, so the rows are exactly those of that position: a reader that applies the
changes after a snapshot never misses nor double-counts one.

Rows are plain JSON-ready dicts (`TaskRow` keys), the same for the live page and the report.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.service.errors import JournalError, UnknownTaskError
from distributor.service.journal import SCHEMA_VERSION

__all__ = ["Attempt", "JournalView", "TaskRow", "request_of"]

TaskRow = dict[str, Any]
"""One task of the table: ``id``, ``name``, ``status`` (the task's: active, done, failed,
cancelled), ``state`` (the latest attempt's letter, ``"waiting"`` for a task whose dependencies
have not ended, None before its first attempt), ``attempt``, ``max_attempts``, ``cluster``,
``queue``, ``tags`` (sorted), ``owner``, ``exit_code``, ``signal``, ``started_at``,
``ended_at``, ``elapsed`` (seconds, for an ended attempt), ``max_rss`` (bytes), ``cpu``
(seconds), ``message``, ``distributor_id``, ``cancel_requested``, ``memory`` (requested
bytes), ``cores`` (requested)."""

_CHUNK = 500
_USAGE = ("exit_code", "signal", "started_at", "ended_at", "elapsed", "max_rss", "cpu")
_OPTIONAL_TABLES = ("outcomes", "retry_at", "dependencies")


def _bytes(memory: object) -> int | None:
    """Bytes of a request's memory value (``"4GiB"``), None when it does not parse."""
    from distributor.exceptions import ResourceError
    from distributor.resources import parse_memory

    try:
        return parse_memory(memory)
    except ResourceError:
        return None


def request_of(resources: str | None) -> tuple[int | None, int | None]:
    """(memory bytes, cores) of an attempt's canonical request JSON; None where unset or
    unreadable."""
    try:
        data = json.loads(resources or "{}")
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    memory = None if data.get("memory") is None else _bytes(data["memory"])
    cores = data.get("cores")
    return memory, cores if isinstance(cores, int) and not isinstance(cores, bool) else None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt as a task page and the timeline show it.

    Attributes:
        task / attempt: the task's name and the attempt's number; state: its status letter.
        queue, message, distributor_id: as recorded.
        created_at / submitted_at / status_at: seconds since the epoch.
        usage: the outcome's figures (exit_code, signal, started_at, ended_at, elapsed,
            max_rss, cpu, host), empty while it has none; log / stderr_log: its output files.
        memory / cores: what it asked for.
        states: ``(letter, since)`` for each state it went through, oldest first.
    """

    task: str
    attempt: int
    state: str
    queue: str | None
    message: str
    distributor_id: str | None
    created_at: float
    submitted_at: float | None
    status_at: float
    usage: dict[str, Any]
    log: str | None
    stderr_log: str | None
    memory: int | None
    cores: int | None
    states: tuple[tuple[str, float], ...] = ()


def _outcome(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class JournalView:
    """Read-only access to a journal.

    Args:
        path: the journal's database file.

    Raises:
        JournalError: the file does not exist, is not a journal, or is of another schema.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise JournalError(self.path, "does not exist" if not self.path.exists()
                               else "is not a file")  # fmt: skip
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None,
                                       check_same_thread=False, timeout=30.0)  # fmt: skip
            self._db.execute("PRAGMA busy_timeout=30000")
            tables = {row[0] for row in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
            if not {"meta", "tasks", "instances", "transitions"} <= tables:
                raise JournalError(self.path, "is not a journal (no tasks table)")
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise JournalError(self.path, f"not a usable journal database: {exc}") from exc
        if meta.get("schema") != str(SCHEMA_VERSION):
            raise JournalError(self.path, f"schema version {meta.get('schema')!r}, this "
                               f"distributor reads {SCHEMA_VERSION}")  # fmt: skip
        self.run_tag = str(meta.get("run_tag", ""))
        self.created_at = float(meta.get("created_at", 0) or 0)
        self._has = {name: name in tables for name in _OPTIONAL_TABLES}
        self._query = self._rows_query()
        self._tags: dict[str, list[str]] = {}
        self._memory: dict[Any, int | None] = {}

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._db.close()

    def __enter__(self) -> JournalView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: everything read inside sees the same journal state."""
        self._db.execute("BEGIN")
        try:
            yield self._db
        finally:
            self._db.execute("COMMIT")

    def _table(self, name: str, columns: str) -> str:
        """`name`, or an empty stand-in for a table an older journal lacks."""
        return name if self._has[name] else f"(SELECT {columns} WHERE 0)"

    # -- the table ----------------------------------------------------------------------------

    def _rows_query(self) -> str:
        outcomes = self._table("outcomes", "NULL AS instance_id, NULL AS outcome")
        waiting = (
            "EXISTS (SELECT 1 FROM dependencies d JOIN tasks n ON n.id = d.needs "
            "WHERE d.task_id = t.id AND n.status != 'done')"
            if self._has["dependencies"]
            else "0"
        )
        outcome = "CASE WHEN json_valid(o.outcome) THEN o.outcome END"  # unreadable: unknown
        request = "CASE WHEN json_valid(i.resources) THEN i.resources END"
        usage = ", ".join(f"json_extract({outcome}, '$.usage.{key}')" for key in _USAGE)
        return (
            "SELECT t.id, t.name, t.status, t.attempts, t.max_attempts, t.cluster, t.owner, "  # noqa: S608 - constants only
            "t.tags, t.message, t.cancel_requested, i.status, i.queue, i.message, i.status_at, "
            f"i.distributor_id, json_extract({request}, '$.memory'), "
            f"json_extract({request}, '$.cores'), {waiting}, {usage} FROM tasks t "
            "LEFT JOIN instances i ON i.task_id = t.id AND i.attempt = t.attempts "
            f"LEFT JOIN {outcomes} o ON o.instance_id = i.id"
        )

    def _row(self, row: Sequence[Any]) -> TaskRow:
        """A table row from a row of `_rows_query` (tags and memory parsed once per text)."""
        state = row[10]
        active = row[2] == "active"
        if active and row[17] and state is None:
            state = "waiting"
        started = row[20]
        if started is None and state == "R":
            started = row[13]
        tags = self._tags.get(row[7])
        if tags is None:
            tags = self._tags[row[7]] = sorted(json.loads(row[7]))
        memory = self._memory.get(row[15], 0) if row[15] is not None else None
        if memory == 0:
            memory = self._memory[row[15]] = _bytes(row[15])
        cores = row[16] if isinstance(row[16], int) else None
        return {
            "id": row[0], "name": row[1], "status": row[2], "state": state, "attempt": row[3],
            "max_attempts": row[4], "cluster": row[5], "owner": row[6], "tags": tags,
            "message": (row[8] or row[12] or "") if active else row[8],
            "cancel_requested": bool(row[9]), "queue": row[11], "distributor_id": row[14],
            "exit_code": row[18], "signal": row[19], "started_at": started, "ended_at": row[21],
            "elapsed": row[22], "max_rss": row[23], "cpu": row[24], "memory": memory,
            "cores": cores,
        }  # fmt: skip

    def _rows(self, db: sqlite3.Connection, ids: Sequence[int] | None) -> list[TaskRow]:
        query = self._query
        if ids is None:
            return [self._row(r) for r in db.execute(f"{query} ORDER BY t.id")]
        rows: list[TaskRow] = []
        ordered = sorted(set(ids))
        for start in range(0, len(ordered), _CHUNK):
            part = ordered[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            rows.extend(self._row(r) for r in db.execute(
                f"{query} WHERE t.id IN ({marks}) ORDER BY t.id", part))  # fmt: skip
        return rows

    @staticmethod
    def _seq(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT IFNULL(MAX(seq), 0) FROM transitions").fetchone()[0])

    def seq(self) -> int:
        """The position of the latest event (0 when none): cheap, for polling."""
        return self._seq(self._db)

    def snapshot(self) -> tuple[int, list[TaskRow]]:
        """(position, every task in id order), read at one moment."""
        with self._read() as db:
            return self._seq(db), self._rows(db, None)

    def changes(self, since: int) -> tuple[int, list[TaskRow]]:
        """(position, the tasks that changed after position `since`), read at one moment;
        no tasks when nothing changed."""
        with self._read() as db:
            seq = self._seq(db)
            if seq <= since:
                return seq, []
            ids = [r[0] for r in db.execute(
                "SELECT DISTINCT task_id FROM transitions WHERE seq > ? AND seq <= ?",
                (since, seq))]  # fmt: skip
            return seq, self._rows(db, ids)

    # -- one task -----------------------------------------------------------------------------

    def attempts(self, name: str | None = None, *, recent: int | None = None) -> list[Attempt]:
        """The attempts of task `name` (of every task when None; with `recent`, only the
        `recent` created last), in order, each with the states it went through.

        Raises:
            UnknownTaskError: no task of that name.
        """
        outcomes = self._table("outcomes", "NULL AS instance_id, NULL AS outcome")
        query = (
            "SELECT t.name, i.attempt, i.status, i.queue, i.message, i.distributor_id, "  # noqa: S608 - constants only
            "i.created_at, i.submitted_at, i.status_at, o.outcome, i.resources, i.task_id "
            f"FROM instances i JOIN tasks t ON t.id = i.task_id LEFT JOIN {outcomes} o "
            "ON o.instance_id = i.id"
        )
        with self._read() as db:
            if name is None and recent is not None:
                rows = db.execute(f"{query} ORDER BY i.id DESC LIMIT ?", (recent,)).fetchall()
                rows.reverse()
                tasks = sorted({row[11] for row in rows})
                events = []
                for start in range(0, len(tasks), _CHUNK):
                    part = tasks[start : start + _CHUNK]
                    events += db.execute(
                        "SELECT task_id, attempt, new, at FROM transitions WHERE kind = "  # noqa: S608 - placeholders only
                        f"'instance' AND task_id IN ({','.join('?' * len(part))}) ORDER BY seq",
                        part,
                    ).fetchall()
            elif name is None:
                rows = db.execute(f"{query} ORDER BY i.task_id, i.attempt").fetchall()
                events = db.execute("SELECT task_id, attempt, new, at FROM transitions "
                                    "WHERE kind = 'instance' ORDER BY seq").fetchall()  # fmt: skip
            else:
                found = db.execute("SELECT id FROM tasks WHERE name = ?", (name,)).fetchone()
                if found is None:
                    raise UnknownTaskError(name)
                rows = db.execute(f"{query} WHERE i.task_id = ? ORDER BY i.attempt",
                                  (found[0],)).fetchall()  # fmt: skip
                events = db.execute("SELECT task_id, attempt, new, at FROM transitions "
                                    "WHERE kind = 'instance' AND task_id = ? ORDER BY seq",
                                    (found[0],)).fetchall()  # fmt: skip
        states: dict[tuple[int, int], list[tuple[str, float]]] = {}
        for task_id, attempt, new, at in events:
            states.setdefault((task_id, attempt), []).append((new, at))
        attempts = []
        for row in rows:
            outcome = _outcome(row[9])
            memory, cores = request_of(row[10])
            attempts.append(Attempt(
                task=row[0], attempt=row[1], state=row[2], queue=row[3], message=row[4],
                distributor_id=row[5], created_at=row[6], submitted_at=row[7], status_at=row[8],
                usage=outcome.get("usage") or {}, log=outcome.get("log"),
                stderr_log=outcome.get("stderr_log"), memory=memory, cores=cores,
                states=tuple(states.get((row[11], row[1]), ())),
            ))  # fmt: skip
        return attempts

    def task(self, name: str) -> TaskRow:
        """The table row of task `name`.

        Raises:
            UnknownTaskError: no task of that name.
        """
        with self._read() as db:
            found = db.execute("SELECT id FROM tasks WHERE name = ?", (name,)).fetchone()
            if found is None:
                raise UnknownTaskError(name)
            return self._rows(db, [found[0]])[0]

    def active(self) -> int:
        """How many tasks are still active."""
        row = self._db.execute("SELECT COUNT(*) FROM tasks WHERE status = 'active'").fetchone()
        return int(row[0])

    def transitions(self) -> list[tuple[float, int, str, str]]:
        """``(at, task id, kind, new status)`` of every event, oldest first (the counts over
        time are replayed from these)."""
        rows = self._db.execute("SELECT at, task_id, kind, new FROM transitions ORDER BY seq")
        return [(float(at), int(task), str(kind), str(new)) for at, task, kind, new in rows]

    def now(self) -> float:
        """The current time (seconds since the epoch), for elapsed times of running tasks."""
        return time.time()
