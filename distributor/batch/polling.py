"""`StatusTracker`: one status command per poll cycle, however many jobs are tracked.

A plugin implements `StatusBackend` (two batched queries and its state map) and lets a
tracker decide when to run them::

    tracker = StatusTracker(backend, PollPolicy(), cluster_name="hpc")
    tracker.track("123_4", record_path=task_dir / "exit-4.json", memory_bytes=2**30)
    tracker.active()            # ids still queued or running (refreshes if a poll is due)
    tracker.exit_info("123_4")  # RemoteExitInfo, or RemoteExitInfoNotAvailable

A **poll cycle** runs exactly one `StatusBackend.query_status` call for every tracked job
without final exit info, and at most one `StatusBackend.query_accounting` call for the jobs
that left the queue without a complete final state. Cycles happen only when one is due:

* **Adaptive interval.** After a cycle that saw a change the interval drops to
  `PollPolicy.min_interval`; after a quiet one it grows by `PollPolicy.growth` up to
  `PollPolicy.max_interval`. Tracking a new job or terminating one makes the next call poll.
* **Rate cap.** At most `PollPolicy.max_calls_per_minute` status commands in any 60 s; callers
  asking more often get the cached answer.
* **Accounting** is asked at most every `PollPolicy.accounting_interval` seconds. A failing
  accounting command (database down) is logged and treated as "no rows".

How a job that left the queue gets its exit info, in order:

1. A complete final status from the status command (schedulers that keep finished jobs for
   a while) → the backend's state map.
2. Else the accounting row → the state map.
3. Else, if the job was terminated on request → ``K`` (a cancelled pending array task leaves
   no trace anywhere, so the tracker remembers terminations itself).
4. Else, once `PollPolicy.accounting_delay` has passed since it left the queue (accounting lags
   behind bursts; a missing row is not a lost job): an incomplete final status from step 1 →
   the state map; else the worker's exit record → `exit_info_from_record`.
5. Else, once `PollPolicy.lost_grace` has passed, the job is **lost**: final ``U``. Until
   then it is still looked for, and a job that reappears in the queue is tracked as before.
   The tracker is the one owner of that decision: it reports the id in `StatusTracker.drain`
   so that the distributor cancels it (a job declared lost must never run beside its retry).
   A lost job is never reported ``D``.

A worker record saying the worker ended the command for exceeding a limit makes it ``Z``
(`limit_exit_info`) unless the scheduler itself named a limit (its verdict is kept) or the job
was terminated on request. Until one of those applies, `StatusTracker.exit_info`
raises `RemoteExitInfoNotAvailable` saying why. Final exit info never changes afterwards.

Memory stays flat: a settled job is forgotten `PollPolicy.forget_after` seconds after it
settled. `StatusTracker.drain` hands each newly settled job to the owner first, which keeps
what it must (the distributor writes it to the task directory's outcome log) and can track
the id again, settled, if it is asked about it later.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from distributor.batch.status import JobPhase, JobStatus, exit_info_from_record, limit_exit_info
from distributor.exceptions import (
    RemoteExitInfoNotAvailable,
    SchedulerError,
    SchedulerOutputError,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.logs import get_logger
from distributor.worker.record import ExitRecord, read_exit_record

__all__ = [
    "PollPolicy",
    "PollStats",
    "StatusBackend",
    "StatusTracker",
    "TrackedJob",
    "TrackerNews",
]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """When to poll and how long to wait for missing information (all in seconds).

    Attributes:
        min_interval / max_interval / growth: the adaptive poll interval.
        max_calls_per_minute: cap on status commands in any 60 s window.
        accounting_interval: least time between two accounting commands.
        accounting_delay: how long after leaving the queue a job may lack an accounting row
            before the worker's exit record is used instead.
        lost_grace: how long after leaving the queue a job without any trace is still looked
            for (its exit info is not available; it may show up again) before it is declared
            lost: final ``U``, and cancelled. The one clock for lost jobs: the service waits
            for this decision instead of keeping its own.
        forget_after: how long a settled job stays in memory.
    """

    min_interval: float = 1.0
    max_interval: float = 30.0
    growth: float = 1.5
    max_calls_per_minute: int = 60
    accounting_interval: float = 5.0
    accounting_delay: float = 30.0
    lost_grace: float = 300.0
    forget_after: float = 600.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_interval <= self.max_interval:
            raise ValueError("need 0 <= min_interval <= max_interval")
        if self.growth < 1:
            raise ValueError(f"growth={self.growth!r}: must be at least 1")
        if self.max_calls_per_minute < 1:
            raise ValueError("max_calls_per_minute must be at least 1")
        if self.lost_grace < self.accounting_delay:
            raise ValueError("lost_grace must be at least accounting_delay")
        if self.forget_after < 0:
            raise ValueError(f"forget_after={self.forget_after!r}: must not be negative")


class StatusBackend(Protocol):
    """The scheduler-specific half of polling: two batched queries and the state map."""

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """Ask the scheduler's status command about all `distributor_ids` in one command.

        Returns:
            id → status for every id the command reported (queued, running, or final if the
            scheduler still remembers finished jobs); ids it did not report are omitted.

        Raises:
            SchedulerError: the command failed (the tracker keeps its previous knowledge).
            SchedulerOutputError: its output could not be parsed.
        """
        ...

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """Ask the scheduler's accounting about all `distributor_ids` in one command.

        Returns:
            id → status for every id accounting has a row for; ``{}`` if the scheduler has no
            accounting.

        Raises:
            SchedulerError: accounting is unavailable (logged, treated as no rows).
        """
        ...

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """Map a final `status` (and the worker's record, if any) to exit info.

        Returns:
            Finalized exit info whose message says what happened in words.
        """
        ...


@dataclass
class TrackedJob:
    """What the tracker knows about one job (read-only for backends).

    Attributes:
        distributor_id: the id.
        record_path: where the worker writes its exit record (None: no record expected).
        memory_bytes / runtime_seconds: the request, for the state map's messages.
        terminated: termination was requested through the distributor.
        status: the latest status reported by either query.
        left_queue_at: clock time of the first cycle that saw it gone or final.
        info: the exit info, once decided (always finalized).
        settled_at: clock time it was decided.
    """

    distributor_id: str
    record_path: Path | None = None
    memory_bytes: int | None = None
    runtime_seconds: int | None = None
    terminated: bool = False
    status: JobStatus | None = None
    left_queue_at: float | None = None
    info: RemoteExitInfo | None = None
    settled_at: float | None = None

    @property
    def settled(self) -> bool:
        """True once the exit info is final."""
        return self.info is not None and self.info.finalized


@dataclass
class TrackerNews:
    """What happened since the last `StatusTracker.drain`.

    Attributes:
        settled: jobs whose exit info was decided (read-only for the owner).
        lost: ids declared lost; the owner cancels them so that they cannot run late.
        lingering: settled ids whose final status said the scheduler still holds them
            (`JobStatus.lingering`); the owner removes them.
    """

    settled: list[TrackedJob] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    lingering: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.settled or self.lost or self.lingering)


@dataclass
class PollStats:
    """Counters of a tracker's work.

    Attributes:
        cycles: poll cycles run; status_commands / accounting_commands: queries made;
        rate_limited: refreshes skipped because of the per-minute cap.
    """

    cycles: int = 0
    status_commands: int = 0
    accounting_commands: int = 0
    rate_limited: int = 0


class StatusTracker:
    """Tracks jobs and polls a `StatusBackend` economically (see the module docstring).

    Args:
        backend: the scheduler-specific queries and state map.
        policy: intervals, caps and delays.
        clock: monotonic seconds (injectable for tests).
        cluster_name: named in `UnknownDistributorIdError`.
        read_file: returns the text of a worker record, None if it does not exist (default:
            read it from this machine; a remote submit root passes its own reader).

    Thread-safe; a cycle holds the tracker's lock while its commands run.
    """

    def __init__(
        self,
        backend: StatusBackend,
        policy: PollPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        cluster_name: str = "",
        read_file: Callable[[Path], str | None] | None = None,
    ) -> None:
        self._backend = backend
        self._read_file = read_file
        self.policy = policy if policy is not None else PollPolicy()
        self._clock = clock
        self._cluster = cluster_name
        self._lock = threading.RLock()
        self._jobs: dict[str, TrackedJob] = {}
        self._interval = self.policy.min_interval
        self._last_cycle: float | None = None
        self._last_accounting: float | None = None
        self._force = False
        self._recent: deque[float] = deque()
        self._news = TrackerNews()
        self._settled_order: deque[tuple[float, str]] = deque()
        self._unsettled = 0  # tracked jobs without final exit info
        self.stats = PollStats()

    @property
    def interval(self) -> float:
        """The current poll interval in seconds."""
        return self._interval

    def track(
        self,
        distributor_id: str,
        *,
        record_path: Path | None = None,
        memory_bytes: int | None = None,
        runtime_seconds: int | None = None,
        terminated: bool = False,
        info: RemoteExitInfo | None = None,
    ) -> TrackedJob:
        """Start tracking a job (a no-op returning the existing entry if already tracked).

        Args:
            terminated: termination was already requested (by an earlier process).
            info: final exit info decided earlier: the job is tracked settled (not polled,
                and not reported by `drain`).
        """
        with self._lock:
            job = self._jobs.get(distributor_id)
            if job is None:
                job = TrackedJob(
                    distributor_id, record_path, memory_bytes, runtime_seconds, terminated
                )
                self._jobs[distributor_id] = job
                if info is not None and info.finalized:
                    job.info = info
                    job.settled_at = self._clock()
                    self._settled_order.append((job.settled_at, distributor_id))
                else:
                    self._unsettled += 1
                    self._interval = self.policy.min_interval
                    self._force = self._force or terminated
            return job

    def __len__(self) -> int:
        """How many jobs are in memory."""
        with self._lock:
            return len(self._jobs)

    def drain(self) -> TrackerNews:
        """Return what happened since the last call, and forget jobs settled longer than
        `PollPolicy.forget_after` ago (the owner keeps what it needs of a settled job when
        it first sees it here)."""
        with self._lock:
            news, self._news = self._news, TrackerNews()
            horizon = self._clock() - self.policy.forget_after
            order = self._settled_order
            while order and order[0][0] <= horizon:
                _, distributor_id = order.popleft()
                job = self._jobs.get(distributor_id)
                if job is not None and job.settled:
                    del self._jobs[distributor_id]
            return news

    def get(self, distributor_id: str) -> TrackedJob | None:
        """The tracked job, or None."""
        with self._lock:
            return self._jobs.get(distributor_id)

    def tracked(self) -> list[str]:
        """Every tracked id."""
        with self._lock:
            return list(self._jobs)

    def forget(self, distributor_ids: Iterable[str]) -> None:
        """Stop tracking these ids (unknown ids are ignored)."""
        with self._lock:
            for distributor_id in distributor_ids:
                job = self._jobs.pop(distributor_id, None)
                if job is not None and not job.settled:
                    self._unsettled -= 1

    def settle(self, distributor_id: str, info: RemoteExitInfo) -> None:
        """Decide a tracked job's exit info from outside (ignored once settled)."""
        with self._lock:
            job = self._jobs.get(distributor_id)
            if job is not None and not job.settled:
                self._settle(job, info, self._clock())

    def mark_terminated(self, distributor_ids: Iterable[str]) -> list[str]:
        """Remember that termination was requested; the next refresh polls. Returns the ids
        that are tracked and not yet settled."""
        with self._lock:
            marked = []
            for distributor_id in distributor_ids:
                job = self._jobs.get(distributor_id)
                if job is not None and not job.settled:
                    job.terminated = True
                    marked.append(distributor_id)
            if marked:
                self._force = True
            return marked

    def refresh(self, *, force: bool = False) -> bool:
        """Run a poll cycle if one is due (or `force`), within the rate cap.

        Returns:
            True if a cycle ran.

        Raises:
            SchedulerError: the status command failed; the next cycle is due after the
                current interval.
        """
        with self._lock:
            if self._unsettled == 0:
                return False
            now = self._clock()
            due = (
                force
                or self._force
                or self._last_cycle is None
                or now - self._last_cycle >= self._interval
            )
            if not due:
                return False
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            if len(self._recent) >= self.policy.max_calls_per_minute:
                self.stats.rate_limited += 1
                return False
            self._recent.append(now)
            self._last_cycle = now
            self._force = False
            self._cycle(now)
            return True

    def active(self, distributor_ids: Iterable[str] | None = None) -> set[str]:
        """Refresh if due, then return the given (default: all) ids still queued or running."""
        with self._lock:
            self.refresh()
            ids = self._jobs.keys() if distributor_ids is None else distributor_ids
            return {i for i in ids if i in self._jobs and self._is_active(self._jobs[i])}

    def statuses(self, distributor_ids: Iterable[str]) -> dict[str, JobStatus]:
        """Refresh if due, then return the latest status of each given id that has one."""
        with self._lock:
            self.refresh()
            out = {}
            for distributor_id in distributor_ids:
                job = self._jobs.get(distributor_id)
                if job is not None and job.status is not None:
                    out[distributor_id] = job.status
            return out

    def current(self, distributor_ids: Iterable[str]) -> dict[str, JobStatus]:
        """Refresh if due (once), then the latest status of each given id still queued or
        running; ids that ended, left the queue or were never seen are left out."""
        with self._lock:
            self.refresh()
            out = {}
            for distributor_id in distributor_ids:
                job = self._jobs.get(distributor_id)
                if job is not None and job.status is not None and self._is_active(job):
                    out[distributor_id] = job.status
            return out

    def exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """Return how the job ended, refreshing first if a poll is due.

        Returns:
            Final exit info, or a non-final ``U`` while a lost job is in its grace time.

        Raises:
            UnknownDistributorIdError: the id is not tracked.
            RemoteExitInfoNotAvailable: the job is still queued or running, or it left the
                queue and the accounting delay has not passed; the reason says which.
        """
        with self._lock:
            job = self._jobs.get(distributor_id)
            if job is None:
                raise UnknownDistributorIdError(distributor_id, self._cluster)
            if job.settled:
                assert job.info is not None
                return job.info
            self.refresh()
            if job.info is not None:
                return job.info
            if job.left_queue_at is None and job.status is not None:
                reason = f", reason {job.status.reason}" if job.status.reason else ""
                raise RemoteExitInfoNotAvailable(
                    distributor_id, f"still {job.status.phase.value} ({job.status.state}{reason})"
                )
            if job.left_queue_at is not None:
                waited = self._clock() - job.left_queue_at
                if waited < self.policy.accounting_delay:
                    raise RemoteExitInfoNotAvailable(
                        distributor_id,
                        f"left the queue {waited:.0f}s ago; waiting up to "
                        f"{self.policy.accounting_delay:g}s for accounting",
                    )
                raise RemoteExitInfoNotAvailable(
                    distributor_id,
                    f"left the queue {waited:.0f}s ago without a trace in the scheduler's "
                    "accounting or a worker's exit record; still looking for it, it is "
                    f"declared lost at {self.policy.lost_grace:g}s",
                )
            raise RemoteExitInfoNotAvailable(distributor_id, "submitted; not polled yet")

    def _settle(self, job: TrackedJob, info: RemoteExitInfo, now: float) -> None:
        assert info.finalized
        self._unsettled -= 1
        job.info = info
        job.settled_at = now
        self._settled_order.append((now, job.distributor_id))
        self._news.settled.append(job)
        if job.status is not None and job.status.lingering:
            self._news.lingering.append(job.distributor_id)

    @staticmethod
    def _is_active(job: TrackedJob) -> bool:
        if job.info is not None or job.left_queue_at is not None:
            return False
        return job.status is None or job.status.phase.active

    def _cycle(self, now: float) -> None:
        pending = [job for job in self._jobs.values() if not job.settled]
        statuses = self._backend.query_status([job.distributor_id for job in pending])
        self.stats.cycles += 1
        self.stats.status_commands += 1
        changed = False
        unresolved: list[TrackedJob] = []
        for job in pending:
            status = statuses.get(job.distributor_id)
            if status is not None and status.phase.active:
                changed |= job.status != status or job.left_queue_at is not None
                job.status, job.left_queue_at, job.info = status, None, None
                continue
            if job.left_queue_at is None:
                job.left_queue_at = now
                changed = True
            if status is not None:
                job.status = status
                if status.complete:
                    self._settle(job, self._classify(job, status), now)
                    continue
            unresolved.append(job)
        if unresolved:
            changed |= self._ask_accounting(unresolved, now)
            for job in unresolved:
                if not job.settled:
                    self._fall_back(job, now)
                    changed |= job.settled
        if changed:
            self._interval = self.policy.min_interval
        else:
            self._interval = min(self.policy.max_interval, self._interval * self.policy.growth)

    def _ask_accounting(self, jobs: list[TrackedJob], now: float) -> bool:
        last = self._last_accounting
        if last is not None and now - last < self.policy.accounting_interval:
            return False
        self._last_accounting = now
        self.stats.accounting_commands += 1
        try:
            rows = self._backend.query_accounting([job.distributor_id for job in jobs])
        except SchedulerError as exc:
            log.warning("accounting_unavailable", jobs=len(jobs), error=str(exc)[:500])
            return False
        changed = False
        for job in jobs:
            row = rows.get(job.distributor_id)
            if row is not None and not row.phase.active:
                job.status = row
                self._settle(job, self._classify(job, row), now)
                changed = True
        return changed

    def _fall_back(self, job: TrackedJob, now: float) -> None:
        assert job.left_queue_at is not None
        waited = now - job.left_queue_at
        final_status = job.status if job.status and not job.status.phase.active else None
        if job.terminated and final_status is None:
            was_running = job.status is not None and job.status.phase is JobPhase.RUNNING
            self._settle(
                job,
                RemoteExitInfo(
                    TaskInstanceStatus.KILLED_SELF,
                    "terminated on request while running; the scheduler kept no record of its end"
                    if was_running
                    else "terminated on request before the scheduler kept any record of it "
                    "(cancelled while pending)",
                ),
                now,
            )
            return
        if waited < self.policy.accounting_delay:
            return
        if final_status is not None:
            self._settle(job, self._classify(job, final_status), now)
            return
        record = self._read_record(job)
        if record is not None:
            limited = limit_exit_info(record)
            if limited is not None and not job.terminated:
                self._settle(job, limited, now)
            else:
                self._settle(job, exit_info_from_record(record, terminated=job.terminated), now)
            return
        if waited < self.policy.lost_grace:
            return  # still looking: it may reappear in the queue
        self._settle(
            job,
            RemoteExitInfo(
                TaskInstanceStatus.UNKNOWN_ERROR,
                f"lost: the job left the queue {waited:.0f}s ago and neither the scheduler's "
                "accounting nor the worker's exit record says how it ended; it was cancelled "
                "in case it reappears",
            ),
            now,
        )
        self._news.lost.append(job.distributor_id)
        log.warning("job_lost", distributor_id=job.distributor_id, waited=round(waited))

    def _classify(self, job: TrackedJob, status: JobStatus) -> RemoteExitInfo:
        record = self._read_record(job)
        info = self._backend.classify(job, status, record)
        if info.error_state is not TaskInstanceStatus.RESOURCE_ERROR and not job.terminated:
            # the scheduler did not name a limit, but the worker may have enforced one
            info = (limit_exit_info(record) if record is not None else None) or info
        log.debug(
            "exit_info_decided",
            distributor_id=job.distributor_id,
            state=status.state,
            error_state=info.error_state.value,
        )
        return info

    def _read_record(self, job: TrackedJob) -> ExitRecord | None:
        if job.record_path is None:
            return None
        try:
            if self._read_file is None:
                return read_exit_record(job.record_path)
            text = self._read_file(job.record_path)
            return None if text is None else ExitRecord.from_json(text)
        except SchedulerOutputError as exc:
            log.warning("exit_record_corrupt", path=str(job.record_path), error=str(exc)[:300])
            return None
        except OSError as exc:
            log.warning("exit_record_unreadable", path=str(job.record_path), error=str(exc))
            return None
