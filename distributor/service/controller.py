"""The controller's state and its transitions, shared by the cycle's phases.

Each transition changes a row in memory, adds the row and an `Event` to the open
`Transaction`, and logs one ``instance_transition`` (debug) or ``task_finished`` (info) event.
Nothing outside the process sees a transition before `Controller.flush` commits it; only then
are callbacks told and terminations carried out, so every transition is durable before the
service acts on it.
"""

from __future__ import annotations

import heapq
import json
import random
import sys
from collections import deque
from collections.abc import Callable, Iterable

from distributor.exit_info import TaskInstanceStatus
from distributor.logs import get_logger
from distributor.service.config import Cluster, ServiceConfig
from distributor.service.dependencies import Waiting
from distributor.service.errors import TaskSpecError, UnknownClusterError
from distributor.service.events import AttemptOutcome, Event, EventKind, Subscribers
from distributor.service.journal import Journal
from distributor.service.model import TaskSpec, TaskStatus
from distributor.service.policy import FairQueue
from distributor.service.retry import RetrySchedule, decide
from distributor.service.sizing import FirstRequests, canonical
from distributor.service.staging import fetch_outputs
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
        """cluster → instances in ``Q`` that may be submitted now."""
        self.delayed: list[tuple[float, int]] = []
        """A heap of (not before, instance id): retries in ``Q`` waiting out their delay."""
        self.blocked = Waiting()
        """Active tasks without an attempt, waiting for their dependencies to end done."""
        self._ending: deque[tuple[TaskRow, TaskStatus, str]] = deque()
        """Tasks that ended whose dependants are still to be settled, with the root cause."""
        self._settling = False
        self.requests = FirstRequests(clusters)
        self._rng = random.Random()  # noqa: S311 - retry jitter, not cryptography
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
        self._load_dependencies()

    def _load_dependencies(self) -> None:
        """Rebuild which tasks wait for which; settle what a crash left unsettled (a task
        whose dependencies all ended but which has no attempt) — committed by the next flush."""
        needs: dict[int, list[tuple[int, str, TaskStatus]]] = {}
        for task_id, need, name, status in self.journal.load_dependencies():
            needs.setdefault(task_id, []).append((need, name, TaskStatus(status)))
        for task in list(self.tasks.values()):
            if task.live is None:
                self.wait_or_start(task, needs.get(task.id, []))

    def index(self, inst: InstanceRow, task: TaskRow) -> None:
        """Put a live instance into the lookup structures its status calls for."""
        self.instances[inst.id] = inst
        if inst.status == _QUEUED:
            if inst.not_before is not None and inst.not_before > self.clock():
                heapq.heappush(self.delayed, (inst.not_before, inst.id))
            else:
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

    def release_due(self, now: float) -> None:
        """Make delayed retries whose moment has come submittable."""
        while self.delayed and self.delayed[0][0] <= now:
            _, inst_id = heapq.heappop(self.delayed)
            inst = self.instances.get(inst_id)
            if inst is not None and inst.status == _QUEUED:
                task = self.tasks[inst.task_id]
                self.waiting[task.cluster].push(inst.id, task.owner, task.priority)

    def next_due(self) -> float | None:
        """When the earliest delayed retry may be submitted (None when none waits)."""
        while self.delayed:
            inst = self.instances.get(self.delayed[0][1])
            if inst is not None and inst.status == _QUEUED:
                return self.delayed[0][0]
            heapq.heappop(self.delayed)
        return None

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
        self,
        task: TaskRow,
        queue: str | None,
        resources: str,
        message: str = "",
        not_before: float | None = None,
    ) -> InstanceRow:
        """Create the task's next attempt in ``Q`` (waiting for submission, not before
        `not_before` if given)."""
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
        inst.not_before = not_before
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
        if ended == S.DONE and cluster.results is not None and inst.distributor_id is not None:
            # Before the D is committed: a controller that dies first fetches them on resuming.
            spec = self.journal.specs([task.id]).get(task.id)
            fetch_outputs(cluster.results, inst.distributor_id, spec, self.log)
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
                delay = self.retry_delay(task, inst.attempt)
                said = decision.message + (f" in {delay:.3g} s" if delay > 0 else "")
                not_before = self.clock() + delay if delay > 0 else None
                self.add_instance(
                    task, decision.queue, canonical(decision.resources), said, not_before
                )
                return
            self.end_task(task, TaskStatus.FAILED, f"{message}; not retried", outcome)
            return
        self.end_task(task, decision.status, decision.message or message, outcome)

    def retry_delay(self, task: TaskRow, attempt: int) -> float:
        """Seconds the retry after `attempt` waits: the task's delay (else the service's),
        grown for each earlier retry since the task was added or last retried by hand."""
        config = self.config
        base = config.retry_delay if task.retry_delay is None else task.retry_delay
        schedule = RetrySchedule(base, config.retry_backoff, config.retry_delay_max,
                                 config.retry_jitter)  # fmt: skip
        return schedule.delay(attempt - (task.max_attempts - task.budget), self._rng.random())

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
        """Make a task terminal (its live instance, if any, must already be final); start the
        tasks that waited only for it, and cancel, transitively, those that waited for it in
        vain."""
        self._end(task, status, message, outcome)
        self._ending.append((task, status, ""))
        if self._settling:
            return  # an outer call is working through the dependants
        self._settling = True
        try:
            while self._ending:
                ended, ended_status, cause = self._ending.popleft()
                ready, doomed = self.blocked.ended(ended.id, ended_status == TaskStatus.DONE)
                for task_id in ready:
                    self.start(self.tasks[task_id])
                root = cause or f"{ended.name!r} ended {ended_status}"
                for task_id in doomed:
                    dependant = self.tasks[task_id]
                    why = f"not run: dependency {ended.name!r} ended {ended_status}"
                    self._end(dependant, TaskStatus.CANCELLED,
                              why + (f" (because {cause})" if cause else ""))  # fmt: skip
                    self._ending.append((dependant, TaskStatus.CANCELLED, root))
        finally:
            self._settling = False

    def _end(
        self,
        task: TaskRow,
        status: TaskStatus,
        message: str,
        outcome: AttemptOutcome | None = None,
    ) -> None:
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

    # -- dependencies and new attempts ---------------------------------------------------------

    def wait_or_start(
        self,
        task: TaskRow,
        needs: Iterable[tuple[int, str, TaskStatus]],
        first: tuple[str | None, str] | None = None,
    ) -> None:
        """Give an active task without a live attempt what its dependencies allow: cancel it
        if one of them can no longer end done, make it wait for the live ones, else start it.

        Args:
            needs: (id, name, status) of each dependency; a task this controller holds is
                active whatever its status says.
            first: the queue and request of its attempt, if known (else read from its
                definition in the journal).
        """
        unmet: list[tuple[int, str]] = []
        for need, name, status in needs:
            if need in self.tasks:
                unmet.append((need, name))
            elif status != TaskStatus.DONE:
                self.end_task(task, TaskStatus.CANCELLED,
                              f"not run: dependency {name!r} ended {status}")  # fmt: skip
                return
        if self.blocked.wait(task.id, [need for need, _ in unmet]):
            waited = ", ".join(repr(name) for _, name in unmet)
            message = f"waiting for {waited}"
            if message != task.message:
                task.message = message
                self.txn.task(task)
            return
        if first is not None:
            self.add_instance(task, *first)
        else:
            self.start(task)

    def start(self, task: TaskRow) -> None:
        """Create a task's next attempt with the request its definition asks for (the task
        fails if its queue no longer grants it)."""
        text = self.journal.specs([task.id]).get(task.id)
        assert text is not None, "a task is committed before it can be started"
        try:
            queue, request = self.requests.first(TaskSpec.from_json(text), task.cluster)
        except (TaskSpecError, UnknownClusterError) as exc:
            self.end_task(task, TaskStatus.FAILED, f"not submitted: {exc}")
            return
        task.message = ""
        self.add_instance(task, queue, request)

    def reopen(self, rows: list[TaskRow], message: str) -> None:
        """Make ended tasks active again (``retry``): each gets a fresh allowance of the
        attempts its definition allows; attempt numbers go on from where they were."""
        for task in rows:
            old = task.status
            self.terminal_counts[old] = self.terminal_counts.get(old, 0) - 1
            task.status = TaskStatus.ACTIVE
            task.cancel_requested = False
            task.max_attempts = task.attempts + task.budget
            task.message = ""
            self.tasks[task.id] = task
            self.txn.task(task)
            self.emit(EventKind.TASK, task, task.attempts, old, TaskStatus.ACTIVE, message, None)
        needs: dict[int, list[tuple[int, str, TaskStatus]]] = {}
        for task_id, need, name, status in self.journal.load_dependencies([t.id for t in rows]):
            needs.setdefault(task_id, []).append((need, name, TaskStatus(status)))
        for task in rows:
            if task.id in self.tasks:  # not cancelled again by an earlier one
                self.wait_or_start(task, needs.get(task.id, []))

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
