"""`Service`: the object a workflow engine embeds to run tasks to completion on clusters.

One cycle (`Service.step`) does, in order: apply control requests from other processes; settle
submissions in doubt; poll every cluster and triage what ended; reset stale instances; every
`reconcile_interval` check queueing errors and stray submissions; then submit what the throttle
and the priority policy allow. `wait` and `run` repeat cycles until the tasks asked for end.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from distributor.exit_info import TaskInstanceStatus
from distributor.logs import get_logger
from distributor.service.config import Cluster, ServiceConfig
from distributor.service.controller import Controller
from distributor.service.dependencies import order
from distributor.service.errors import (
    ConfigError,
    DuplicateTaskError,
    ServiceError,
    TaskSpecError,
    UnknownClusterError,
)
from distributor.service.events import Event, EventKind, EventSink, Subscribers
from distributor.service.journal import Journal
from distributor.service.model import AttemptInfo, Summary, TaskInfo, TaskSpec, TaskStatus
from distributor.service.reconcile import (
    check_queueing_errors,
    poll,
    reset_stale,
    resolve_in_doubt,
    sweep_strangers,
)
from distributor.service.staging import STAGING_FIELDS
from distributor.service.state import BatchState, TaskRow
from distributor.service.submit import allowance, plan, send
from distributor.service.throttle import Backoff

__all__ = ["Service", "StepReport"]

_ADD_CHUNK = 5000

log = get_logger(__name__)

S = TaskInstanceStatus


class _Fresh(NamedTuple):
    """A checked task waiting to be recorded (compact: the `TaskSpec` may be dropped)."""

    name: str
    text: str
    request: str
    cluster: str
    queue: str | None
    owner: str
    priority: int
    max_attempts: int
    tags: frozenset[str]
    retry_delay: float | None
    depends: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepReport:
    """What one cycle did.

    Attributes:
        transitions: status changes recorded; submitted: instances handed to schedulers;
        unreachable: clusters whose scheduler could not be polled this cycle.
    """

    transitions: int
    submitted: int
    unreachable: tuple[str, ...]


class Service:
    """Drive tasks to completion through one or more clusters, durably.

    Args:
        journal: the SQLite journal file; an existing one is reattached (everything in flight
            is picked up where the previous controller left it).
        clusters: the clusters tasks may name; the first is the default.
        config: tuning; see `ServiceConfig`.
        on_event: a callback for every transition (see `events` for reading them back).
        clock: seconds since the epoch (tests pass a fake).

    Raises:
        JournalLockedError: another controller runs on this journal.
        JournalError: the file is not a journal of this version.
        UnknownClusterError: the journal holds active tasks for a cluster not given here.
        ConfigError: two clusters share a name, or none is given.

    Not thread-safe: call it from one thread (callbacks run in that thread too).
    """

    def __init__(
        self,
        journal: str | Path,
        clusters: Cluster | Sequence[Cluster],
        *,
        config: ServiceConfig | None = None,
        on_event: EventSink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        given = [clusters] if isinstance(clusters, Cluster) else list(clusters)
        if not given:
            raise ConfigError("clusters", given, "at least one cluster is needed")
        names = [cluster.name for cluster in given]
        if len(set(names)) != len(names):
            raise ConfigError("clusters", names, "cluster names must be unique")
        self.config = config or ServiceConfig()
        self.clusters = {cluster.name: cluster for cluster in given}
        self._default_cluster = names[0]
        self._subscribers = Subscribers()
        if on_event is not None:
            self._subscribers.add(on_event)
        self._journal = Journal(journal, synchronous=self.config.synchronous)
        try:
            self._ctl = Controller(
                self._journal, self.clusters, self.config, clock, self._subscribers
            )
            self._ctl.load()
            for cluster in given:
                cluster.distributor.start()
        except BaseException:
            self._journal.close()
            raise
        self._clock = clock
        self._backoff = {name: Backoff(self.config.submit_backoff_max) for name in self.clusters}
        self._next_reconcile = 0.0
        self._closed = False
        log.info(
            "service_started",
            journal=str(self._journal.path),
            run_tag=self.run_tag,
            active=len(self._ctl.tasks),
            in_flight=len(self._ctl.instances),
        )

    # -- identity ------------------------------------------------------------------------------

    @property
    def run_tag(self) -> str:
        """This journal's run tag; every submission name carries it."""
        return self._journal.run_tag

    @property
    def journal_path(self) -> Path:
        """The journal file."""
        return self._journal.path

    # -- adding tasks --------------------------------------------------------------------------

    def add(self, tasks: TaskSpec | Iterable[TaskSpec]) -> list[str]:
        """Add tasks; return the names actually added.

        A task whose name is already in the journal with the same definition is skipped (so a
        restarted workflow engine can add its tasks again); with a different definition the
        whole call is refused. A task's unset `TaskSpec.max_attempts` is fixed from
        `ServiceConfig.max_attempts` as part of its definition. Everything is checked before
        anything is recorded; a large call is then recorded in commits of `_ADD_CHUNK` tasks,
        dependencies before their dependants, so a crash in the middle leaves a prefix
        recorded, and adding the same tasks again completes it.

        A task whose dependencies have not all ended done waits, without an attempt; one with
        a dependency that already failed or was cancelled is cancelled at once.

        Raises:
            DuplicateTaskError: a name exists with another definition, or repeats in `tasks`.
            DependencyError: `depends_on` names a task neither given nor in the journal, or
                the dependencies form a cycle.
            UnknownClusterError: a task names a cluster this service does not have.
            TaskSpecError: a request does not fit its queue (the queue's message), or a task
                stages files on a cluster without staging.
        """
        given = iter([tasks] if isinstance(tasks, TaskSpec) else tasks)
        seen: set[str] = set()
        fresh: list[_Fresh] = []
        ctl = self._ctl
        attempts = self.config.max_attempts
        while chunk := list(itertools.islice(given, _ADD_CHUNK)):
            existing = self._journal.specs_by_name([spec.name for spec in chunk])
            for spec in chunk:
                if spec.name in seen:
                    raise DuplicateTaskError(spec.name, ["name (given twice in one call)"])
                seen.add(spec.name)
                text = spec.to_json(default_max_attempts=attempts)
                if spec.name in existing:
                    if existing[spec.name] != text:
                        old = TaskSpec.from_json(existing[spec.name])
                        resolved = replace(spec, max_attempts=spec.max_attempts or attempts)
                        raise DuplicateTaskError(spec.name, resolved.differences(old))
                    continue
                cluster = spec.cluster or self._default_cluster
                queue, request = ctl.requests.first(spec, cluster)
                _check_staging_supported(spec, ctl.clusters[cluster])
                fresh.append(
                    _Fresh(spec.name, text, request, cluster, queue, spec.owner, spec.priority,
                           spec.max_attempts or attempts, frozenset(spec.tags),
                           spec.retry_delay_seconds, tuple(spec.depends_on))
                )  # fmt: skip
        known: dict[str, tuple[int, TaskStatus]] = {}
        if any(item.depends for item in fresh):
            by_name = {item.name: item for item in fresh}
            outside = sorted({n for item in fresh for n in item.depends if n not in by_name})
            known = self._journal.task_states(outside)
            graph = {item.name: item.depends for item in fresh}
            ordered = order(graph, known.__contains__, elsewhere=" or the journal")
            fresh = [by_name[name] for name in ordered]
        ids: dict[str, int] = {}
        for start in range(0, len(fresh), _ADD_CHUNK):
            for item in fresh[start : start + _ADD_CHUNK]:
                task = TaskRow(ctl.new_task_id(), item.name, cluster=item.cluster,
                               owner=item.owner, priority=item.priority,
                               max_attempts=item.max_attempts, tags=item.tags,
                               retry_delay=item.retry_delay)  # fmt: skip
                ids[item.name] = task.id
                ctl.tasks[task.id] = task
                ctl.txn.add_task(task, item.text)
                ctl.emit(EventKind.TASK, task, 0, None, TaskStatus.ACTIVE.value, "", None)
                if not item.depends:
                    ctl.add_instance(task, item.queue, item.request)
                    continue
                needs = []
                for name in item.depends:
                    if name in ids:  # added just now: active unless cancelled at once
                        need = ids[name]
                        status = TaskStatus.ACTIVE if need in ctl.tasks else TaskStatus.CANCELLED
                    else:
                        need, status = known[name]
                    ctl.txn.dependency(task.id, need)
                    needs.append((need, name, status))
                ctl.wait_or_start(task, needs, (item.queue, item.request))
            ctl.flush()
        if fresh:
            log.info("tasks_added", count=len(fresh), skipped=len(seen) - len(fresh))
        return [item.name for item in fresh]

    # -- cycles --------------------------------------------------------------------------------

    def step(self) -> StepReport:
        """Run one cycle (see the module docstring); never blocks beyond scheduler calls."""
        ctl = self._ctl
        before = ctl.changes
        self._apply_controls()
        for cluster in self.clusters.values():
            resolve_in_doubt(ctl, cluster)
        ctl.flush()
        healthy: list[Cluster] = []
        for cluster in self.clusters.values():
            if poll(ctl, cluster):
                reset_stale(ctl, cluster)
                healthy.append(cluster)
        ctl.flush()
        now = self._clock()
        if now >= self._next_reconcile:
            self._next_reconcile = now + self.config.reconcile_interval
            for cluster in healthy:
                check_queueing_errors(ctl, cluster)
                sweep_strangers(ctl, cluster)
            self._prune_batches(now)
            ctl.flush()
        ctl.release_due(now)
        submitted = 0
        global_room = self._global_room()
        for cluster in healthy:
            if not self._backoff[cluster.name].ready(now) or not ctl.waiting[cluster.name]:
                continue
            allowed, _ = allowance(ctl, cluster, global_room)
            batches, commands = plan(ctl, cluster, allowed)
            if not batches:
                continue
            ctl.flush()  # the intents are durable before anything is sent
            launched = send(ctl, cluster, batches, commands, self._backoff[cluster.name])
            submitted += launched
            if global_room is not None:
                global_room = max(0, global_room - launched)
        unreachable = tuple(sorted(set(self.clusters) - {c.name for c in healthy}))
        return StepReport(ctl.changes - before, submitted, unreachable)

    def _global_room(self) -> int | None:
        if self.config.max_active is None:
            return None
        ctl = self._ctl
        active = sum(len(v) for v in ctl.in_scheduler.values()) + sum(ctl.submitting.values())
        return max(0, self.config.max_active - active)

    def _prune_batches(self, now: float) -> None:
        """Forget batches without live members (withdrawn ones once their watch is over)."""
        ctl = self._ctl
        for batch_id, batch in list(ctl.batches.items()):
            if batch.state == BatchState.INTENT or ctl.retired.get(batch_id, 0.0) > now:
                continue
            if not any(iid in ctl.instances for iid in batch.members.values()):
                del ctl.batches[batch_id]
                ctl.retired.pop(batch_id, None)

    def wait(self, tasks: str | Iterable[str] | None = None, timeout: float | None = None) -> bool:
        """Run cycles until the named tasks (all tasks when None) are terminal.

        Pauses between cycles start at `ServiceConfig.min_poll_interval` after a cycle that
        changed something and grow to `ServiceConfig.poll_interval` while nothing does.

        Returns:
            True if they all ended, False if `timeout` seconds passed first.

        Raises:
            UnknownTaskError: a name is not in the journal.
        """
        wanted: set[int] | None = None
        if tasks is not None:
            names = [tasks] if isinstance(tasks, str) else list(tasks)
            wanted = set(self._journal.task_ids(names=names).values())
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = self.config.min_poll_interval
        while True:
            report = self.step()
            live = self._ctl.tasks
            if (not live) if wanted is None else wanted.isdisjoint(live):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if report.transitions:
                pause = self.config.min_poll_interval
            else:
                pause = min(pause * 1.5, self.config.poll_interval)
            due = self._ctl.next_due()
            if due is not None:  # wake up for a delayed retry
                pause = min(pause, max(self.config.min_poll_interval, due - self._clock()))
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            time.sleep(pause if left is None else min(pause, left))

    def run(self, timeout: float | None = None) -> Summary:
        """Run cycles until every task is terminal (or `timeout`); return the summary."""
        self.wait(None, timeout)
        return self.summary()

    # -- control -------------------------------------------------------------------------------

    def cancel(self, tasks: str | Iterable[str] = (), *, tag: str | None = None) -> int:
        """Cancel the named tasks and those carrying `tag`; return how many were active.

        The cancellation is recorded first; then instances in a scheduler are terminated.
        Terminal tasks are left alone.

        Raises:
            UnknownTaskError: a name is not in the journal.
        """
        names = [tasks] if isinstance(tasks, str) else list(tasks)
        ids = self._journal.task_ids(names=names, tag=tag)
        count = self._cancel_ids(ids.values())
        self._ctl.flush()
        return count

    def _cancel_ids(self, ids: Iterable[int]) -> int:
        ctl = self._ctl
        count = 0
        for task_id in ids:
            task = ctl.tasks.get(task_id)
            if task is None:
                continue
            count += 1
            task.cancel_requested = True
            ctl.txn.task(task)
            inst = ctl.instances.get(task.live) if task.live is not None else None
            if inst is None:
                ctl.end_task(task, TaskStatus.CANCELLED, "cancelled on request")
            elif inst.status != S.INSTANTIATED:  # an intent is settled when its batch is
                ctl.finish(inst, S.KILLED_SELF, "cancelled on request", kill=True)
        if count:
            log.info("tasks_cancelled", count=count)
        return count

    def retry(self, tasks: str | Iterable[str] = (), *, failed: bool = False) -> list[str]:
        """Run ended tasks again, without touching the tasks that ended done; return the
        names made active again.

        Each named task (which must have failed or been cancelled), or with `failed` every
        failed task, becomes active with a fresh allowance of its `TaskSpec.max_attempts`
        attempts, numbered on from its last one (earlier attempts and their outcomes stay in
        the journal); its next attempt asks for its definition's request again. The tasks that
        were cancelled because it did not end done come back with it, and wait for it again.

        Raises:
            UnknownTaskError: a name is not in the journal.
            NotRetriableError: a named task is done or still active.
            UnknownClusterError: a task's cluster is not one of this service's.
        """
        names = [tasks] if isinstance(tasks, str) else list(tasks)
        ctl = self._ctl
        ctl.flush()
        chosen = self._journal.retry_selection(names, failed=failed)
        rows = [row for row in self._journal.load_task_rows(list(chosen.values()))
                if row.id not in ctl.tasks]  # fmt: skip
        stray = sorted({row.cluster for row in rows} - set(self.clusters))
        if stray:
            raise UnknownClusterError(stray[0], list(self.clusters))
        ctl.reopen(rows, "retried on request")
        ctl.flush()
        if rows:
            log.info("tasks_retried", count=len(rows))
        return [row.name for row in rows]

    def _apply_controls(self) -> None:
        requests = self._journal.pending_controls()
        if not requests:
            return
        for request in requests:
            try:
                if request.action == "retry":
                    if request.target_kind == "failed":
                        self.retry(failed=True)
                    else:
                        self.retry([request.target])
                    continue
                if request.action != "cancel":
                    log.warning("control_ignored", action=request.action, id=request.id)
                    continue
                if request.target_kind == "tag":
                    ids = self._journal.task_ids(tag=request.target)
                else:
                    ids = self._journal.task_ids(names=[request.target])
            except ServiceError as exc:
                log.warning("control_ignored", action=request.action, error=str(exc))
                continue
            self._cancel_ids(ids.values())
        self._ctl.flush()
        self._journal.controls_done(request.id for request in requests)

    # -- observing -----------------------------------------------------------------------------

    def subscribe(self, callback: EventSink) -> Callable[[], None]:
        """Call `callback` with every transition from now on; return an unsubscribe function."""
        return self._subscribers.add(callback)

    def events(self, since: int = 0) -> Iterator[Event]:
        """Every recorded transition with ``seq > since``, oldest first, read from the journal."""
        while True:
            page = self._journal.events(since, 1000)
            yield from page
            if len(page) < 1000:
                return
            since = page[-1].seq

    def summary(self) -> Summary:
        """Counts of tasks by status, and of active tasks by their attempt's status code."""
        ctl = self._ctl
        counts = {status.value: ctl.terminal_counts.get(status.value, 0) for status in TaskStatus}
        counts[TaskStatus.ACTIVE.value] = len(ctl.tasks)
        active: dict[str, int] = {}
        for task in ctl.tasks.values():
            inst = ctl.instances.get(task.live) if task.live is not None else None
            code = inst.status.value if inst is not None else "waiting"
            active[code] = active.get(code, 0) + 1
        return Summary(tasks=counts, active=active, total=sum(counts.values()))

    def task(self, name: str) -> TaskInfo:
        """One task's state. Raises UnknownTaskError for a name not in the journal."""
        return self._journal.task_infos([name])[0]

    def tasks(self, names: Sequence[str] | None = None) -> list[TaskInfo]:
        """The state of the named tasks, or of every task when None, in the order added."""
        return self._journal.task_infos(names)

    def attempts(self, name: str) -> list[AttemptInfo]:
        """Every attempt of one task, in order, each with its outcome once it ended.
        Raises UnknownTaskError for a name not in the journal."""
        return self._journal.attempts([name])[name]

    def all_attempts(self, names: Sequence[str] | None = None) -> dict[str, list[AttemptInfo]]:
        """Every attempt of the named tasks (all when None): name → attempts in order."""
        return self._journal.attempts(names)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Commit, stop the distributors (their tasks keep running) and release the journal."""
        if self._closed:
            return
        self._closed = True
        try:
            self._ctl.flush()
        finally:
            for cluster in self.clusters.values():
                try:
                    cluster.distributor.stop()
                except Exception as exc:
                    log.warning("distributor_stop_failed", cluster=cluster.name, error=repr(exc))
            self._journal.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _check_staging_supported(spec: TaskSpec, cluster: Cluster) -> None:
    """Refuse staging on a cluster whose distributor cannot stage (not `SupportsResults`)."""
    if cluster.results is not None:
        return
    for key in STAGING_FIELDS:
        value = getattr(spec, key)
        if value:
            raise TaskSpecError(
                spec.name, key, value if isinstance(value, str) else list(value),
                f"cluster {cluster.name!r} cannot stage files (its distributor has no "
                "get_results); use a batch cluster, or leave inputs, outputs and output_dir out",
            )  # fmt: skip
