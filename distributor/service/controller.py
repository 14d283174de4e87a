"""The controller's state and its transitions, shared by the cycle's phases.

Each transition changes a row in memory, adds the row and an `Event` to the open
`Transaction`, and logs one ``instance_transition`` (debug) or ``task_finished`` (info) event.
Nothing outside the process sees a transition before `Controller.flush` commits it; only then
are callbacks told and terminations carried out, so every transition is durable before the
service acts on it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from distributor.exit_info import TaskInstanceStatus
from distributor.logs import get_logger
from distributor.service.config import Cluster, ServiceConfig
from distributor.service.errors import UnknownClusterError
from distributor.service.events import AttemptOutcome, Event, EventKind, Subscribers
from distributor.service.journal import Journal
from distributor.service.model import TaskStatus
from distributor.service.policy import FairQueue
from distributor.service.retry import decide
from distributor.service.sizing import canonical
from distributor.service.state import BatchRow, InstanceRow, TaskRow
from distributor.service.transaction import Transaction
from distributor.usage import TaskUsage

__all__ = ["Controller"]

log = get_logger(__name__)

S = TaskInstanceStatus
_QUEUED, _INSTANTIATED, _RUNNING, _TRIAGING = S.QUEUED, S.INSTANTIATED, S.RUNNING, S.TRIAGING
_IN_SCHEDULER = frozenset({S.LAUNCHED, S.RUNNING, S.TRIAGING})


class Controller:
    """Live tasks, instances and batches of one journal, and the primitives that change them."""

    def __init__(
        self,
        journal: Journal,
        clusters: dict[str, Cluster],
        config: ServiceConfig,
        clock: Callable[[], float],
        subscribers: Subscribers,
    ) -> None:
        self.journal = journal
        self.clusters = clusters
        self.config = config
        self.clock = clock
        self.subscribers = subscribers
        self.txn = Transaction()
        self.tasks: dict[int, TaskRow] = {}
        self.instances: dict[int, InstanceRow] = {}
        self.batches: dict[int, BatchRow] = {}
        self.in_scheduler: dict[str, dict[str, InstanceRow]] = {name: {} for name in clusters}
        """cluster → distributor id → instance, for instances in ``O``, ``R`` or ``T``."""
        self.running: dict[str, set[str]] = {name: set() for name in clusters}
        self.triaging: dict[str, set[str]] = {name: set() for name in clusters}
        self.next_running_poll: dict[str, float] = dict.fromkeys(clusters, 0.0)
        self.retired: dict[int, float] = {}
        """Batch id → until when a withdrawn submission name is still swept for strangers."""
        self.submitting: dict[str, int] = dict.fromkeys(clusters, 0)
        self.waiting: dict[str, FairQueue] = {
            name: FairQueue(config.priority_base, config.owner_weights) for name in clusters
        }
        self.terminal_counts: dict[str, int] = {}
        self.to_kill: dict[str, list[InstanceRow]] = {}
        self.killed: list[InstanceRow] = []
        self.changes = 0
        self.log = log.bind()
        """The module logger, bound once per flush (a bind per transition costs more than it)."""
        ids = journal.max_ids()
        self._next_task, self._next_instance, self._next_batch, self._seq = ids

    # -- ids -----------------------------------------------------------------------------------

    def new_task_id(self) -> int:
        """A fresh task id."""
        self._next_task += 1
        return self._next_task

    def new_batch_id(self) -> int:
        """A fresh batch id."""
        self._next_batch += 1
        return self._next_batch

    # -- loading -------------------------------------------------------------------------------

    def load(self) -> None:
        """Read the journal's live rows into memory (a controller starting or restarting).

        Raises:
            UnknownClusterError: an active task names a cluster this controller was not given.
        """
        for status, count in self.journal.task_counts().items():
            if status != TaskStatus.ACTIVE:
                self.terminal_counts[status] = count
        for task in self.journal.load_tasks():
            self.tasks[task.id] = task
        stray = sorted({task.cluster for task in self.tasks.values()} - set(self.clusters))
        if stray:
            raise UnknownClusterError(stray[0], list(self.clusters))
        batch_ids: set[int] = set()
        for inst in self.journal.load_instances():
            inst.resources = sys.intern(inst.resources)
            task = self.tasks[inst.task_id]
            task.live = inst.id
            self.index(inst, task)
            if inst.batch_id is not None:
                batch_ids.add(inst.batch_id)
        for batch in self.journal.load_batches(batch_ids):
            self.batches[batch.id] = batch
        for cluster, inst in self.journal.load_kill_pending():
            self.to_kill.setdefault(cluster, []).append(inst)

    def index(self, inst: InstanceRow, task: TaskRow) -> None:
        """Put a live instance into the lookup structures its status calls for."""
        self.instances[inst.id] = inst
        if inst.status == _QUEUED:
            self.waiting[task.cluster].push(inst.id, task.owner, task.priority)
        elif inst.status == _INSTANTIATED:
            self.submitting[task.cluster] += 1
        elif inst.status in _IN_SCHEDULER:
            did = inst.distributor_id
            assert did is not None, "submitted instances have a distributor id"
            self.in_scheduler[task.cluster][did] = inst
            if inst.status == _RUNNING:
                self.running[task.cluster].add(did)
            elif inst.status == _TRIAGING:
                self.triaging[task.cluster].add(did)

    def unindex(self, inst: InstanceRow, task: TaskRow) -> None:
        """Take an instance out of the lookup structures of its current status."""
        if inst.status == _QUEUED:
            self.waiting[task.cluster].discard(inst.id)
        elif inst.status == _INSTANTIATED:
            self.submitting[task.cluster] -= 1
        elif inst.status in _IN_SCHEDULER and inst.distributor_id is not None:
            self.in_scheduler[task.cluster].pop(inst.distributor_id, None)
            self.running[task.cluster].discard(inst.distributor_id)
            self.triaging[task.cluster].discard(inst.distributor_id)

    # -- events --------------------------------------------------------------------------------

    def emit(
        self,
        kind: EventKind,
        task: TaskRow,
        attempt: int,
        old: str | None,
        new: str,
        message: str,
        distributor_id: str | None,
        outcome: AttemptOutcome | None = None,
    ) -> None:
        """Record one transition in the open transaction."""
        self._seq += 1
        event = Event(
            self._seq,
            self.clock(),
            kind,
            task.name,
            attempt,
            old,
            new,
            message,
            distributor_id,
            task.tags,
            outcome,
        )
        self.txn.event(event, task.id)
        self.changes += 1

    # -- instance transitions ------------------------------------------------------------------

    def add_instance(
        self, task: TaskRow, queue: str | None, resources: str, message: str = ""
    ) -> InstanceRow:
        """Create the task's next attempt in ``Q`` (waiting for submission)."""
        self._next_instance += 1
        task.attempts += 1
        inst = InstanceRow(
            self._next_instance,
            task.id,
            task.attempts,
            queue=queue,
            resources=sys.intern(resources),
            created_at=self.clock(),
        )
        inst.message = message
        task.live = inst.id
        self.txn.add_instance(inst)
        self.txn.task(task)
        self.index(inst, task)
        self.emit(EventKind.INSTANCE, task, inst.attempt, None, _QUEUED, message, None)
        return inst

    def move(self, inst: InstanceRow, new: TaskInstanceStatus, message: str = "") -> None:
        """Change a live instance's status to another live status."""
        task = self.tasks[inst.task_id]
        old = inst.status
        self.unindex(inst, task)
        inst.status = new
        inst.status_at = self.clock()
        if message:
            inst.message = message
        self.index(inst, task)
        self._record(inst, task, old, message)

    def _record(
        self,
        inst: InstanceRow,
        task: TaskRow,
        old: TaskInstanceStatus,
        message: str,
        outcome: AttemptOutcome | None = None,
    ) -> None:
        """Write an instance's change, its event and its log line."""
        self.txn.instance(inst)
        self.emit(EventKind.INSTANCE, task, inst.attempt, old, inst.status, message,
                  inst.distributor_id, outcome)  # fmt: skip
        self.log.debug(
            "instance_transition",
            task=task.name,
            attempt=inst.attempt,
            old=old,
            new=inst.status,
            distributor_id=inst.distributor_id,
            message=message,
        )

    def finish(
        self,
        inst: InstanceRow,
        ended: TaskInstanceStatus,
        message: str,
        *,
        kill: bool = False,
        retry: bool = True,
    ) -> None:
        """End a live instance in a final state and decide what follows (retry or task end).

        Args:
            kill: the instance may still be in the scheduler; terminate it after the commit.
            retry: False forbids a retry whatever the policy says.
        """
        task = self.tasks[inst.task_id]
        old = inst.status
        self.unindex(inst, task)
        del self.instances[inst.id]
        inst.status = ended
        inst.status_at = self.clock()
        inst.message = message
        inst.triage_since = None
        if kill and inst.distributor_id is not None:
            inst.kill_pending = True
            self.to_kill.setdefault(task.cluster, []).append(inst)
        task.live = None
        cluster = self.clusters[task.cluster]
        outcome = self._outcome_of(cluster, inst)
        if outcome is not None:
            self.txn.outcome(inst.id, outcome)
        self._record(inst, task, old, message, outcome)
        decision = decide(
            ended,
            message,
            attempt=inst.attempt,
            max_attempts=task.max_attempts,
            cancel_requested=task.cancel_requested,
            cluster=cluster,
            queue=inst.queue,
            resources=json.loads(inst.resources),
            scale_factor=self.config.scale_factor,
        )
        if decision.status == TaskStatus.ACTIVE:
            if retry:
                self.add_instance(
                    task, decision.queue, canonical(decision.resources), decision.message
                )
                return
            self.end_task(task, TaskStatus.FAILED, f"{message}; not retried", outcome)
            return
        self.end_task(task, decision.status, decision.message or message, outcome)

    def _outcome_of(self, cluster: Cluster, inst: InstanceRow) -> AttemptOutcome | None:
        """What an ending attempt did and where its output is, if its distributor can say
        (a failure to ask is logged and costs nothing but the figures)."""
        if cluster.outcome is None or inst.distributor_id is None:
            return None
        try:
            usage = cluster.outcome.task_usage(inst.distributor_id)
            stdout, stderr = cluster.outcome.log_paths(inst.distributor_id)
        except Exception as exc:
            self.log.warning("outcome_unavailable", distributor_id=inst.distributor_id,
                             error=repr(exc))  # fmt: skip
            return None
        return AttemptOutcome(
            usage or TaskUsage(), str(stdout), None if stderr is None else str(stderr)
        )

    def end_task(
        self,
        task: TaskRow,
        status: TaskStatus,
        message: str,
        outcome: AttemptOutcome | None = None,
    ) -> None:
        """Make a task terminal (its live instance, if any, must already be final)."""
        old = task.status
        task.status = status
        task.message = message
        del self.tasks[task.id]
        self.terminal_counts[status] = self.terminal_counts.get(status, 0) + 1
        self.txn.task(task)
        self.emit(EventKind.TASK, task, task.attempts, old, status, message, None, outcome)
        self.log.info(
            "task_finished",
            task=task.name,
            status=status,
            attempts=task.attempts,
            message=message,
        )

    # -- commit and act ------------------------------------------------------------------------

    def flush(self) -> None:
        """Commit the open transaction, tell subscribers, then carry out recorded terminations."""
        for inst in self.killed:
            inst.kill_pending = False
            self.txn.instance(inst)
        self.killed = []
        self.log = log.bind()
        txn, self.txn = self.txn, Transaction()
        self.journal.commit(txn)
        if self.subscribers and txn.events:
            self.subscribers.publish(txn.events)
        for cluster_name, insts in list(self.to_kill.items()):
            ids = [inst.distributor_id for inst in insts if inst.distributor_id is not None]
            try:
                self.clusters[cluster_name].distributor.terminate_task_instances(ids)
            except Exception as exc:
                self.log.warning(
                    "terminate_failed", cluster=cluster_name, count=len(ids), error=repr(exc)
                )
                continue
            del self.to_kill[cluster_name]
            self.killed.extend(insts)
