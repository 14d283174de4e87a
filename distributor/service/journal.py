"""The durable journal: one SQLite database (WAL mode, stdlib `sqlite3`) per run.

Every change the controller makes is written in a `Transaction` that commits *before* the
controller acts on it (submits, terminates, reports). One controller at a time holds the
journal's lock file (``<journal>.lock``, `fcntl.flock`), which the kernel releases when the
process dies, however it dies. Other processes may read the journal and add control requests
(cancel) at any time; WAL mode lets them do so while the controller writes. The tables are
described in `distributor.service.journal_schema`; the readers' queries live in
`distributor.service.journal_views`.
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

from distributor.exit_info import TaskInstanceStatus
from distributor.service import journal_views as views
from distributor.service.batching import new_run_tag
from distributor.service.errors import (
    JournalError,
    JournalLockedError,
    NotRetriableError,
    UnknownTaskError,
)
from distributor.service.events import Event
from distributor.service.journal_schema import (
    ADDED_LATER,
    DEPENDENCY_ROWS,
    SCHEMA,
    SCHEMA_VERSION,
    SELECT_KILL_PENDING,
    SELECT_LIVE,
    TASK_COLUMNS,
    chunks,
)
from distributor.service.model import AttemptInfo, TaskInfo, TaskStatus
from distributor.service.state import BatchRow, BatchState, InstanceRow, TaskRow
from distributor.service.transaction import Transaction

__all__ = ["SCHEMA_VERSION", "ControlRequest", "Journal"]


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
            self._db.executescript(SCHEMA + ADDED_LATER)
        else:  # a journal last opened by an older controller lacks the newer tables
            with contextlib.suppress(sqlite3.OperationalError):
                self._db.executescript(ADDED_LATER)
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
        for row in self._db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE status = 'active'"):  # noqa: S608 - constants
            yield self._task(row)

    def load_task_rows(self, task_ids: Sequence[int]) -> list[TaskRow]:
        """The given tasks, whatever their status, in id order."""
        rows: list[Any] = []
        for part in chunks(sorted(set(task_ids))):
            marks = ",".join("?" * len(part))
            query = f"SELECT {TASK_COLUMNS} FROM tasks WHERE id IN ({marks}) ORDER BY id"  # noqa: S608 - constants and placeholders only
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
                f"{DEPENDENCY_ROWS} JOIN tasks w ON w.id = d.task_id "
                "WHERE w.status = 'active' ORDER BY d.task_id, d.needs"
            ).fetchall()
        rows: list[tuple[Any, ...]] = []
        for part in chunks(sorted(set(task_ids))):
            marks = ",".join("?" * len(part))
            rows.extend(
                self._db.execute(
                    f"{DEPENDENCY_ROWS} WHERE d.task_id IN ({marks}) ORDER BY d.task_id, d.needs",
                    list(part),
                ).fetchall()
            )
        return rows

    def task_states(self, names: Sequence[str]) -> dict[str, tuple[int, TaskStatus]]:
        """name → (id, status) for the names that exist."""
        found: dict[str, tuple[int, TaskStatus]] = {}
        for part in chunks(list(names)):
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
            for part in chunks(frontier):
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
        return views.waiting_for(self._db)

    def load_instances(self) -> Iterator[InstanceRow]:
        """Every instance in a live state."""
        for row in self._db.execute(SELECT_LIVE):
            yield self._instance(row)

    def load_kill_pending(self) -> Iterator[tuple[str, InstanceRow]]:
        """(cluster, instance) of final instances whose termination may not have happened."""
        for row in self._db.execute(SELECT_KILL_PENDING):
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
            (f"id IN ({','.join('?' * len(part))})", list(part)) for part in chunks(wanted)
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

    def specs(self, task_ids: Sequence[int]) -> dict[int, str]:
        """task id → definition JSON."""
        return views.pairs(self._db, "id, spec", "id", task_ids)

    def specs_by_name(self, names: Sequence[str]) -> dict[str, str]:
        """task name → definition JSON, for the names that exist."""
        return views.pairs(self._db, "name, spec", "name", names)

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
        return views.task_ids(self._db, names=names, tag=tag)

    def task_infos(self, names: Sequence[str] | None = None) -> list[TaskInfo]:
        """The state of the named tasks (every task when None), in id order.

        Raises:
            UnknownTaskError: a name is not in the journal.
        """
        return views.task_infos(self._db, names)

    def attempts(self, names: Sequence[str] | None = None) -> dict[str, list[AttemptInfo]]:
        """Every attempt of the named tasks (every task when None): name → attempts in order.

        Raises:
            UnknownTaskError: a name is not in the journal.
        """
        return views.attempts(self._db, names)

    def events(self, since: int = 0, limit: int | None = None) -> list[Event]:
        """Events with ``seq > since``, oldest first (at most `limit`); an event that ends
        an attempt carries its outcome."""
        return views.events(self._db, since, limit)

    def size_bytes(self) -> int:
        """Bytes on disk: the database plus its WAL file."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += self.path.with_name(self.path.name + suffix).stat().st_size
        return total
