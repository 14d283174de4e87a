"""`Transaction`: the changes of one step of the controller, written to the journal at once.

Rows are collected in memory as the controller changes them and written by `Transaction.write`
inside one SQLite transaction (see `distributor.service.journal.Journal.commit`), each with the
values it has at that moment, so a row may change again after it was added.
"""

from __future__ import annotations

import json
import sqlite3

from distributor.service.events import AttemptOutcome, Event
from distributor.service.state import BatchRow, InstanceRow, TaskRow

__all__ = ["Transaction"]


class Transaction:
    """Changes collected in memory and written by `Journal.commit` in one SQLite transaction.

    Rows are written with the values they have at commit time, so a row may be changed again
    after it was added.
    """

    def __init__(self) -> None:
        self.new_tasks: list[tuple[TaskRow, str]] = []
        self.tasks: dict[int, TaskRow] = {}
        self.new_instances: dict[int, InstanceRow] = {}
        self.instances: dict[int, InstanceRow] = {}
        self.batches: dict[int, BatchRow] = {}
        self.new_batches: dict[int, tuple[BatchRow, float]] = {}
        self.events: list[Event] = []
        self.task_ids: list[int] = []
        self.outcomes: dict[int, str] = {}
        self.dependencies: list[tuple[int, int]] = []
        self.retry_at: dict[int, float] = {}

    def __bool__(self) -> bool:
        return bool(
            self.new_tasks
            or self.tasks
            or self.new_instances
            or self.instances
            or self.batches
            or self.new_batches
            or self.events
            or self.outcomes
            or self.dependencies
            or self.retry_at
        )

    def add_task(self, row: TaskRow, spec_json: str) -> None:
        """Insert a new task with its definition."""
        self.new_tasks.append((row, spec_json))

    def dependency(self, task_id: int, needs: int) -> None:
        """Record that task `task_id` waits for task `needs` to end done."""
        self.dependencies.append((task_id, needs))

    def task(self, row: TaskRow) -> None:
        """Write the task's mutable fields."""
        self.tasks[row.id] = row

    def add_instance(self, row: InstanceRow) -> None:
        """Insert a new instance (and, for a delayed retry, when it may be submitted)."""
        self.new_instances[row.id] = row
        if row.not_before is not None:
            self.retry_at[row.id] = row.not_before

    def instance(self, row: InstanceRow) -> None:
        """Write the instance's mutable fields."""
        if row.id not in self.new_instances:
            self.instances[row.id] = row

    def add_batch(self, row: BatchRow, at: float) -> None:
        """Insert a new batch (a submission intent)."""
        self.new_batches[row.id] = (row, at)

    def batch(self, row: BatchRow) -> None:
        """Write the batch's state and ids."""
        if row.id not in self.new_batches:
            self.batches[row.id] = row

    def outcome(self, instance_id: int, outcome: AttemptOutcome) -> None:
        """Write what an ended attempt did and where its output is."""
        self.outcomes[instance_id] = outcome.to_json()

    def event(self, event: Event, task_id: int) -> None:
        """Append a transition to the stream."""
        self.events.append(event)
        self.task_ids.append(task_id)

    def write(self, db: sqlite3.Connection, now: float) -> None:
        """Execute the changes on `db` (inside the caller's SQLite transaction)."""
        if self.new_tasks:
            db.executemany(
                "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (t.id, t.name, spec, t.status, t.attempts, t.max_attempts, t.priority,
                     t.owner, t.cluster, json.dumps(sorted(t.tags)), int(t.cancel_requested),
                     t.message, now)
                    for t, spec in self.new_tasks
                ),
            )  # fmt: skip
        if self.tasks:
            db.executemany(
                "UPDATE tasks SET status=?, attempts=?, max_attempts=?, cancel_requested=?, "
                "message=?, updated_at=? WHERE id=?",
                (
                    (t.status, t.attempts, t.max_attempts, int(t.cancel_requested), t.message,
                     now, t.id)
                    for t in self.tasks.values()
                ),
            )  # fmt: skip
        if self.new_instances:
            db.executemany(
                "INSERT INTO instances VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (i.id, i.task_id, i.attempt, i.status, i.queue, i.resources, i.batch_id,
                     i.step, i.distributor_id, int(i.kill_pending), i.message, i.created_at,
                     i.status_at, i.submitted_at, i.triage_since)
                    for i in self.new_instances.values()
                ),
            )  # fmt: skip
        if self.instances:
            db.executemany(
                "UPDATE instances SET status=?, queue=?, resources=?, batch_id=?, step=?, "
                "distributor_id=?, kill_pending=?, message=?, status_at=?, submitted_at=?, "
                "triage_since=? WHERE id=?",
                (
                    (i.status, i.queue, i.resources, i.batch_id, i.step, i.distributor_id,
                     int(i.kill_pending), i.message, i.status_at, i.submitted_at, i.triage_since,
                     i.id)
                    for i in self.instances.values()
                ),
            )  # fmt: skip
        if self.new_batches:
            db.executemany(
                "INSERT INTO batches VALUES (?,?,?,?,?,?,?)",
                (
                    (b.id, b.name, b.cluster, b.state, json.dumps(b.members),
                     json.dumps(b.ids), at)
                    for b, at in self.new_batches.values()
                ),
            )  # fmt: skip
        if self.batches:
            db.executemany(
                "UPDATE batches SET state=?, ids=? WHERE id=?",
                ((b.state, json.dumps(b.ids), b.id) for b in self.batches.values()),
            )
        if self.dependencies:
            db.executemany("INSERT OR IGNORE INTO dependencies VALUES (?,?)", self.dependencies)
        if self.retry_at:
            db.executemany(
                "INSERT OR REPLACE INTO retry_at VALUES (?,?)", list(self.retry_at.items())
            )
        if self.outcomes:
            db.executemany(
                "INSERT OR REPLACE INTO outcomes VALUES (?,?)", list(self.outcomes.items())
            )
        if self.events:
            db.executemany(
                "INSERT INTO transitions VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    (e.seq, e.at, e.kind, task_id, e.attempt, e.old, e.new, e.message,
                     e.distributor_id)
                    for e, task_id in zip(self.events, self.task_ids, strict=True)
                ),
            )  # fmt: skip
