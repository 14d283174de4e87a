"""The durable journal: one SQLite database (WAL mode, stdlib `sqlite3`) per run.

Every change the controller makes is written in a `Transaction` that commits *before* the
controller acts on it (submits, terminates, reports). One controller at a time holds the
journal's lock file (``<journal>.lock``, `fcntl.flock`), which the kernel releases when the
process dies, however it dies. Other processes may read the journal and add control requests
(cancel) at any time; WAL mode lets them do so while the controller writes.

Tables: ``meta`` (schema version, run tag), ``tasks``, ``instances`` (one row per attempt,
``UNIQUE(task_id, attempt)``), ``batches`` (one row per submission: name, members, ids),
``transitions`` (the event stream), ``control`` (requests from other processes), ``outcomes``
(what each ended attempt did), ``dependencies`` (task → a task it waits for) and ``retry_at``
(when a delayed retry may be submitted). The last three were added after the first release:
they are created when missing, and older controllers simply ignore them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from distributor.exit_info import FINAL_STATES, TaskInstanceStatus
from distributor.service.batching import new_run_tag
from distributor.service.errors import (
    JournalError,
    JournalLockedError,
    NotRetriableError,
    UnknownTaskError,
)
from distributor.service.events import AttemptOutcome, Event, EventKind
from distributor.service.model import TERMINAL_TASK_STATES, AttemptInfo, TaskInfo, TaskStatus
from distributor.service.state import LIVE_STATES, BatchRow, BatchState, InstanceRow, TaskRow
from distributor.service.transaction import Transaction

__all__ = ["SCHEMA_VERSION", "ControlRequest", "Journal"]

SCHEMA_VERSION = 1
_CHUNK = 500  # ids per "IN (...)" query, below SQLite's variable limit
_LIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in sorted(LIVE_STATES)) + ")"

_SCHEMA = f"""
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
CREATE INDEX IF NOT EXISTS instances_live ON instances(status) WHERE status IN {_LIVE_SQL};
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

_ADDED_LATER = """
CREATE TABLE IF NOT EXISTS outcomes (
    instance_id INTEGER PRIMARY KEY, outcome TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dependencies (
    task_id INTEGER NOT NULL, needs INTEGER NOT NULL, PRIMARY KEY (task_id, needs))
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dependencies_needs ON dependencies(needs);
CREATE TABLE IF NOT EXISTS retry_at (instance_id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""
"""Tables a journal made by an earlier version may lack (readers create them too)."""

_COLUMNS = (
    "i.id, i.task_id, i.attempt, i.status, i.queue, i.resources, i.batch_id, i.step, "
    "i.distributor_id, i.kill_pending, i.message, i.created_at, i.status_at, i.submitted_at, "
    "i.triage_since, r.at"
)
_FROM = "FROM instances i LEFT JOIN retry_at r ON r.instance_id = i.id"
_SELECT_LIVE = f"SELECT {_COLUMNS} {_FROM} WHERE i.status IN {_LIVE_SQL}"
_SELECT_KILL_PENDING = (
    f"SELECT {_COLUMNS}, t.cluster {_FROM} JOIN tasks t ON t.id = i.task_id "
    f"WHERE i.kill_pending = 1 AND i.status NOT IN {_LIVE_SQL}"
)
_TASK_COLUMNS = (
    "id, name, cluster, owner, priority, max_attempts, tags, status, attempts, cancel_requested, "
    "message, json_extract(spec, '$.retry_delay'), json_extract(spec, '$.max_attempts')"
)
_DEPENDENCY_ROWS = (
    "SELECT d.task_id, d.needs, n.name, n.status FROM dependencies d JOIN tasks n ON n.id = d.needs"
)


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


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


class ControlRequest:
    """A request written by another process (``distributor cancel``) for the controller."""

    __slots__ = ("action", "id", "target", "target_kind")

    def __init__(self, id: int, action: str, target_kind: str, target: str) -> None:
        self.id = id
        self.action = action
        self.target_kind = target_kind
        self.target = target


class Journal:
    """An open journal.

    Args:
        path: the database file (created with its directory if missing).
        role: ``"controller"`` takes the lock (one per journal) and may write anything;
            ``"client"`` only reads and adds control requests.
        synchronous: SQLite's ``synchronous`` pragma for the controller.

    Raises:
        JournalLockedError: another controller holds the lock.
        JournalError: the file is not a journal, or of another schema version.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        role: Literal["controller", "client"] = "controller",
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        self.path = Path(path)
        self.role = role
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        if role == "client" and not self.path.exists():
            raise JournalError(self.path, "does not exist")
        if self.path.is_dir():
            raise JournalError(self.path, "is a directory; give a file name for the journal")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if role == "controller":
                self._lock()
        except OSError as exc:
            raise JournalError(self.path, f"cannot be written: {exc.strerror or exc}") from exc
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous}")
            self._db.execute("PRAGMA busy_timeout=30000")
            self.run_tag = self._prepare()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise JournalError(self.path, f"not a usable journal database: {exc}") from exc
        except BaseException:
            self.close()
            raise

    def _lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
            os.close(fd)
            raise JournalLockedError(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"host={socket.gethostname()} pid={os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _prepare(self) -> str:
        if self.role == "controller":
            self._db.executescript(_SCHEMA + _ADDED_LATER)
        else:  # a journal last opened by an older controller lacks the newer tables
            with contextlib.suppress(sqlite3.OperationalError):
                self._db.executescript(_ADDED_LATER)
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            if self.role != "controller":
                raise JournalError(self.path, "has never been used by a controller")
            rows = {
                "schema": str(SCHEMA_VERSION),
                "run_tag": new_run_tag(),
                "created_at": repr(time.time()),
            }
            with self._write():
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
        if rows.get("schema") != str(SCHEMA_VERSION):
            raise JournalError(
                self.path,
                f"schema version {rows.get('schema')!r}, this distributor reads {SCHEMA_VERSION}",
            )
        return str(rows["run_tag"])

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(self.path, "is closed")
        return self._conn

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        if self._conn is not None:
            if self.role == "controller":
                with contextlib.suppress(sqlite3.Error):  # best effort: the WAL stays valid
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- writing -------------------------------------------------------------------------------

    def commit(self, txn: Transaction) -> None:
        """Write every change in `txn` atomically (all or nothing)."""
        if not txn:
            return
        with self._write() as db:
            txn.write(db, time.time())

    def add_control(self, action: str, target_kind: str, target: str) -> int:
        """Record a control request for the controller; return its id."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO control (action, target_kind, target, created_at) VALUES (?,?,?,?)",
                (action, target_kind, target, time.time()),
            )
        return int(cursor.lastrowid or 0)

    def pending_controls(self) -> list[ControlRequest]:
        """Control requests not yet handled, oldest first."""
        rows = self._db.execute(
            "SELECT id, action, target_kind, target FROM control WHERE done = 0 ORDER BY id"
        ).fetchall()
        return [ControlRequest(*row) for row in rows]

    def controls_done(self, ids: Iterable[int]) -> None:
        """Mark control requests handled."""
        with self._write() as db:
            db.executemany("UPDATE control SET done = 1 WHERE id = ?", [(i,) for i in ids])

    # -- reading -------------------------------------------------------------------------------

    def max_ids(self) -> tuple[int, int, int, int]:
        """The largest task, instance and batch id and event seq recorded (0 when none)."""
        row = self._db.execute(
            "SELECT (SELECT IFNULL(MAX(id), 0) FROM tasks), (SELECT IFNULL(MAX(id), 0) FROM "
            "instances), (SELECT IFNULL(MAX(id), 0) FROM batches), "
            "(SELECT IFNULL(MAX(seq), 0) FROM transitions)"
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def load_tasks(self) -> Iterator[TaskRow]:
        """Every active task."""
        for row in self._db.execute(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE status = 'active'"):  # noqa: S608 - constants
            yield self._task(row)

    def load_task_rows(self, task_ids: Sequence[int]) -> list[TaskRow]:
        """The given tasks, whatever their status, in id order."""
        rows: list[Any] = []
        for part in _chunks(sorted(set(task_ids))):
            marks = ",".join("?" * len(part))
            query = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id IN ({marks}) ORDER BY id"  # noqa: S608 - constants and placeholders only
            rows.extend(self._db.execute(query, list(part)).fetchall())
        return [self._task(row) for row in rows]

    @staticmethod
    def _task(row: Sequence[Any]) -> TaskRow:
        return TaskRow(
            row[0],
            row[1],
            cluster=row[2],
            owner=row[3],
            priority=row[4],
            max_attempts=row[5],
            tags=frozenset(json.loads(row[6])),
            status=TaskStatus(row[7]),
            attempts=row[8],
            cancel_requested=bool(row[9]),
            message=row[10],
            retry_delay=None if row[11] is None else float(row[11]),
            budget=row[12],
        )

    def load_dependencies(self, task_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
        """``(task id, dependency id, dependency name, dependency status)`` of every active
        task (or of the given tasks), in the order they were recorded."""
        if task_ids is None:
            return self._db.execute(
                f"{_DEPENDENCY_ROWS} JOIN tasks w ON w.id = d.task_id "
                "WHERE w.status = 'active' ORDER BY d.task_id, d.needs"
            ).fetchall()
        rows: list[tuple[Any, ...]] = []
        for part in _chunks(sorted(set(task_ids))):
            marks = ",".join("?" * len(part))
            rows.extend(
                self._db.execute(
                    f"{_DEPENDENCY_ROWS} WHERE d.task_id IN ({marks}) ORDER BY d.task_id, d.needs",
                    list(part),
                ).fetchall()
            )
        return rows

    def task_states(self, names: Sequence[str]) -> dict[str, tuple[int, TaskStatus]]:
        """name → (id, status) for the names that exist."""
        found: dict[str, tuple[int, TaskStatus]] = {}
        for part in _chunks(list(names)):
            marks = ",".join("?" * len(part))
            query = f"SELECT name, id, status FROM tasks WHERE name IN ({marks})"  # noqa: S608 - placeholders only
            for name, task_id, status in self._db.execute(query, list(part)):
                found[name] = (task_id, TaskStatus(status))
        return found

    def retry_selection(self, names: Sequence[str] = (), *, failed: bool = False) -> dict[str, int]:
        """The tasks a ``retry`` of `names` (or, with `failed`, of every failed task) reopens:
        name → id, in id order.

        A named task must have ended failed or cancelled. With it come, transitively, the
        tasks that were cancelled because it did not end done (they never ran). `failed`
        selects every failed task and every task cancelled by a dependency.

        Raises:
            UnknownTaskError: a name is not in the journal.
            NotRetriableError: a named task is done or still active.
        """
        chosen: dict[str, int] = {}
        states = self.task_states(names)
        for name in names:
            if name not in states:
                raise UnknownTaskError(name)
            task_id, status = states[name]
            if status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
                raise NotRetriableError(name, status.value)
            chosen[name] = task_id
        if failed:
            chosen.update(
                self._db.execute(
                    "SELECT name, id FROM tasks WHERE status = 'failed' OR "
                    "(status = 'cancelled' AND cancel_requested = 0)"
                ).fetchall()
            )
        frontier = list(chosen.values())
        while frontier:
            found: list[int] = []
            for part in _chunks(frontier):
                marks = ",".join("?" * len(part))
                query = (
                    "SELECT t.name, t.id FROM dependencies d JOIN tasks t ON t.id = d.task_id "  # noqa: S608 - placeholders only
                    f"WHERE d.needs IN ({marks}) AND t.status = 'cancelled' "
                    "AND t.cancel_requested = 0"
                )
                for name, task_id in self._db.execute(query, list(part)):
                    if name not in chosen:
                        chosen[name] = task_id
                        found.append(task_id)
            frontier = found
        return dict(sorted(chosen.items(), key=lambda item: item[1]))

    def waiting_for(self) -> dict[str, list[str]]:
        """Active task → its dependencies that have not ended done, in the order recorded."""
        found: dict[str, list[str]] = {}
        for name, need in self._db.execute(
            "SELECT w.name, n.name FROM dependencies d JOIN tasks w ON w.id = d.task_id "
            "JOIN tasks n ON n.id = d.needs WHERE w.status = 'active' AND n.status != 'done' "
            "ORDER BY d.task_id, d.needs"
        ):
            found.setdefault(name, []).append(need)
        return found

    def load_instances(self) -> Iterator[InstanceRow]:
        """Every instance in a live state."""
        for row in self._db.execute(_SELECT_LIVE):
            yield self._instance(row)

    def load_kill_pending(self) -> Iterator[tuple[str, InstanceRow]]:
        """(cluster, instance) of final instances whose termination may not have happened."""
        for row in self._db.execute(_SELECT_KILL_PENDING):
            yield row[16], self._instance(row)

    @staticmethod
    def _instance(row: Sequence[Any]) -> InstanceRow:
        inst = InstanceRow(
            row[0],
            row[1],
            row[2],
            queue=row[4],
            resources=row[5],
            created_at=row[11],
            status=TaskInstanceStatus(row[3]),
        )
        inst.batch_id, inst.step, inst.distributor_id = row[6], row[7], row[8]
        inst.kill_pending, inst.message, inst.status_at = bool(row[9]), row[10], row[12]
        inst.submitted_at, inst.triage_since, inst.not_before = row[13], row[14], row[15]
        return inst

    def load_batches(self, ids: Iterable[int]) -> Iterator[BatchRow]:
        """The given batches and every batch still in state ``intent``."""
        wanted = sorted(set(ids))
        queries = [("state = 'intent'", [])] + [
            (f"id IN ({','.join('?' * len(part))})", list(part)) for part in _chunks(wanted)
        ]
        seen: set[int] = set()
        for where, params in queries:
            for row in self._db.execute(
                f"SELECT id, name, cluster, state, members, ids FROM batches WHERE {where}",  # noqa: S608 - placeholders only
                params,
            ):
                if row[0] in seen:
                    continue
                seen.add(row[0])
                batch = BatchRow(
                    row[0],
                    row[1],
                    row[2],
                    {int(k): v for k, v in json.loads(row[4]).items()},
                    BatchState(row[3]),
                )
                batch.ids = {int(k): v for k, v in json.loads(row[5]).items()}
                yield batch

    def _pairs(self, select: str, column: str, values: Sequence[Any]) -> dict[Any, Any]:
        """Rows of ``SELECT {select} FROM tasks WHERE {column} IN values`` as a dict (chunked)."""
        found: dict[Any, Any] = {}
        for part in _chunks(list(values)):
            marks = ",".join("?" * len(part))
            query = f"SELECT {select} FROM tasks WHERE {column} IN ({marks})"  # noqa: S608 - constants and placeholders only
            found.update(self._db.execute(query, list(part)).fetchall())
        return found

    def specs(self, task_ids: Sequence[int]) -> dict[int, str]:
        """task id → definition JSON."""
        return self._pairs("id, spec", "id", task_ids)

    def specs_by_name(self, names: Sequence[str]) -> dict[str, str]:
        """task name → definition JSON, for the names that exist."""
        return self._pairs("name, spec", "name", names)

    def task_counts(self) -> dict[str, int]:
        """Tasks by status value."""
        return dict(self._db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status"))

    def active_clusters(self) -> list[str]:
        """Names of the clusters active tasks are bound to."""
        rows = self._db.execute("SELECT DISTINCT cluster FROM tasks WHERE status = 'active'")
        return sorted(row[0] for row in rows)

    def task_ids(self, *, names: Sequence[str] = (), tag: str | None = None) -> dict[str, int]:
        """name → id for the named tasks and the tasks carrying `tag`.

        Raises:
            UnknownTaskError: a name is not in the journal.
        """
        found: dict[str, int] = self._pairs("name, id", "name", names)
        for name in names:
            if name not in found:
                raise UnknownTaskError(name)
        if tag is not None:
            for name, task_id in self._db.execute(
                "SELECT tasks.name, tasks.id FROM tasks, json_each(tasks.tags) "
                "WHERE json_each.value = ?",
                (tag,),
            ):
                found[name] = task_id
        return found

    def task_infos(self, names: Sequence[str] | None = None) -> list[TaskInfo]:
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
        rows = self._by_names(query, names, "t.name", "t.id")
        waiting = self.waiting_for() if any(row[1] == TaskStatus.ACTIVE for row in rows) else {}
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

    def attempts(self, names: Sequence[str] | None = None) -> dict[str, list[AttemptInfo]]:
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
        for row in self._by_names(query, names, "t.name", "t.id, i.attempt", check=False):
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
            self.task_ids(names=names)  # raises UnknownTaskError for a name never added
        return found

    def _by_names(
        self,
        query: str,
        names: Sequence[str] | None,
        column: str,
        order: str,
        *,
        check: bool = True,
    ) -> list[Any]:
        """Rows of `query` for the named tasks (all when None), ordered by `order`."""
        if names is None:
            return self._db.execute(f"{query} ORDER BY {order}").fetchall()
        rows: list[Any] = []
        for part in _chunks(list(names)):
            marks = ",".join("?" * len(part))
            rows.extend(
                self._db.execute(
                    f"{query} WHERE {column} IN ({marks}) ORDER BY {order}", list(part)
                ).fetchall()
            )
        if check:
            missing = set(names) - {row[0] for row in rows}
            if missing:
                raise UnknownTaskError(sorted(missing)[0])
        return rows

    def events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        """Events with ``seq > since``, oldest first (at most `limit`); an event that ends
        an attempt carries its outcome."""
        rows = self._db.execute(
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

    def size_bytes(self) -> int:
        """Bytes on disk: the database plus its WAL file."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total
