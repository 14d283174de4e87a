"""`BatchDistributor`: the one `ClusterDistributor` of every batch plugin.

A plugin hands it a `BatchScheduler` (a client, its parsers and a state map) and typed
options; everything else is the same on every scheduler and lives here:

* **Submission.** Each task or array chunk gets a task directory under the `SubmitRoot` with
  its intent (`SubmitRoot.write_intent`) written *before* the scheduler is asked, the job
  script (`BatchJob.script`: identity, ``distributor-worker`` with the task's records and its
  memory and runtime limits) and, once the scheduler answered, an index entry from its job key
  to the directory and its ids. A definite refusal becomes `SubmissionError` and the directory
  is removed; a submission whose outcome is unknown (a timeout, an unparsable answer, the
  process dying) raises `SchedulerError` and keeps its intent, so `find_by_name` can settle it.
* **Arrays** go in chunks of `BatchDistributor.array_chunk_size`; step ``s`` writes its record
  to ``exit-<s>.json``. A refused chunk cancels the chunks already queued.
* **Tracking** is a `StatusTracker` over the scheduler (one status command per poll cycle);
  the tracker alone decides when a job is lost, and a lost job is cancelled. Decided exit info
  and termination requests are written to the task directory's outcome log, so a distributor
  adopting an id later (same process after forgetting it, or a new process) answers the same.
* **Adoption.** Any id in the submit root's index is answered for, by any distributor on the
  same root, as decided before (`distributor.batch.ledger`).
* **Termination** is one `BatchScheduler.cancel` naming whole jobs by their key where every
  unfinished task of the job is wanted; what it does not end is cancelled again, harder
  (`distributor.batch.termination`).
* **Lookup by name** (`SupportsLookupByName`, `distributor.batch.lookup`) reads the intents
  recorded under each name and asks the scheduler (one `BatchScheduler.find_jobs`) only about
  submissions whose answer was never recorded, which makes the service's submissions
  exactly-once on every scheduler.

Every public method is `typing.final`: a plugin customises the scheduler object, never this
class. Plugins subclass it only to give it a typed constructor.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any, final

from distributor.batch.ledger import Ledger
from distributor.batch.lookup import SubmissionLookup
from distributor.batch.polling import PollPolicy, StatusTracker, TrackedJob
from distributor.batch.results import Results
from distributor.batch.runner import submitting
from distributor.batch.scheduler import BatchJob, BatchScheduler
from distributor.batch.script import find_worker_executable, worker_node_command
from distributor.batch.staging import Staging, split_staging
from distributor.batch.status import JobPhase, task_usage
from distributor.batch.submit_root import SubmitRoot
from distributor.batch.termination import DEFAULT_TERMINATION_RETRY, TerminationRetries
from distributor.batch.transport import Transport
from distributor.batch.transport_option import files_for, remote_worker
from distributor.exceptions import (
    DistributorError,
    ResourceError,
    SchedulerError,
    SchedulerOutputError,
    SubmissionError,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.logs import get_logger
from distributor.resources import ResourceRequest, parse_request
from distributor.usage import TaskUsage
from distributor.worker.proc import process_start_time
from distributor.worker.record import ExitRecord, StartRecord

__all__ = ["DEFAULT_RETENTION", "BatchDistributor"]

log = get_logger(__name__)

DEFAULT_RETENTION = 7 * 86400.0
"""Seconds a task directory is kept after its last change (as the local backend keeps logs)."""


def _refused(exc: SchedulerError) -> bool:
    """Whether a failed submit command certainly created nothing: it ran and said no (or
    could not be started at all), rather than timing out or answering unreadably."""
    return not exc.timed_out and not isinstance(exc, SchedulerOutputError)


class BatchDistributor:
    """A `ClusterDistributor` (with `SupportsRunningQuery`, `SupportsLookupByName` and
    `SupportsLostTracking`) for any `BatchScheduler` (see the module docstring).

    Args:
        cluster_name: the cluster's name (messages, the default submit root).
        scheduler: the plugin's scheduler object.
        submit_root: where task directories and the index live; must be visible at the same
            path on the compute nodes (default ``$DISTRIBUTOR_SUBMIT_ROOT/<scheduler>/<cluster>``
            or ``~/.distributor/<scheduler>/<cluster>``).
        poll_policy: poll intervals, rate cap, accounting delay, the lost-job grace.
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
        max_array_size: at most this many tasks per array chunk (default: the scheduler's limit).
        retention: seconds after which `start` deletes a task directory in which nothing
            changed (default 7 days; None keeps everything).
        termination_retry: seconds before a terminated job that is still listed is cancelled
            again, doubling (None: never).
        clock: monotonic seconds (injectable for tests).
        transport: the plugin's transport; with a remote one (`distributor.batch.ssh`) the
            submit root, scripts, records and staged files live on its filesystem, the
            default submit root is ``~/.distributor/<scheduler>/<cluster>`` there and the
            default worker is ``distributor-worker`` on its ``PATH``.

    Raises:
        ValueError: `max_array_size` below 1, or `retention` not positive.
        SubmitRootError: the submit root's path is unusable.
        TransportError: a remote transport cannot log in.
    """

    def __init__(
        self,
        cluster_name: str,
        scheduler: BatchScheduler,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        poll_policy: PollPolicy | None = None,
        worker: str | None = None,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        clock: Callable[[], float] = time.monotonic,
        transport: Transport | None = None,
    ) -> None:
        if max_array_size is not None and max_array_size < 1:
            raise ValueError(f"max_array_size={max_array_size!r}: must be at least 1")
        if retention is not None and not retention > 0:
            raise ValueError(f"retention={retention!r}: must be a positive number of seconds")
        if termination_retry is not None and not termination_retry > 0:
            raise ValueError(f"termination_retry={termination_retry!r}: must be positive")
        self._cluster_name = cluster_name
        self._scheduler = scheduler
        files = files_for(transport)
        self._transport = transport
        self._root = SubmitRoot(
            submit_root
            if submit_root is not None
            else SubmitRoot.default_path(scheduler.name, cluster_name, remote=files.remote),
            files,
        )
        self._worker = worker or (
            remote_worker(files) if files.remote else find_worker_executable()
        )
        self._tracker = StatusTracker(
            scheduler,
            poll_policy,
            clock=clock,
            cluster_name=cluster_name,
            read_file=self._root.read_file if files.remote else None,
        )
        self._log = log.bind(cluster=cluster_name, scheduler=scheduler.name)
        self._max_array_size = max_array_size
        self._chunk: int | None = None
        self._retention = retention
        self._lock = threading.RLock()
        self._members: dict[str, set[str]] = {}  # job key → its unsettled tracked ids
        self._ledger = Ledger(self._root, scheduler, self._log)
        self._lookup = SubmissionLookup(self._root, scheduler, self._link, self._log)
        self._results = Results(
            self._root, self._ledger, cluster_name, scheduler.log_paths, self._log
        )
        self._fetch: dict[str, Path] = {}  # id → where its results go once it ended D
        self._terminations = TerminationRetries(
            scheduler, self._tracker, termination_retry, clock, self._cancel_targets, self._log
        )

    # --- what it is -----------------------------------------------------------------------

    @final
    @property
    def cluster_name(self) -> str:
        """The name this distributor was created for."""
        return self._cluster_name

    @final
    @property
    def worker_node_entry_point(self) -> str:
        """Absolute path of ``distributor-worker``, which wraps every task."""
        return self._worker

    @final
    @property
    def scheduler(self) -> BatchScheduler:
        """The plugin's scheduler object."""
        return self._scheduler

    @final
    @property
    def submit_root(self) -> SubmitRoot:
        """Where task directories and the index live."""
        return self._root

    @final
    @property
    def tracker(self) -> StatusTracker:
        """The status tracker (its `PollPolicy` and `PollStats`)."""
        return self._tracker

    @final
    @property
    def lost_grace(self) -> float:
        """Seconds after leaving the queue without a trace before a job is declared lost
        (`SupportsLostTracking`; `PollPolicy.lost_grace`)."""
        return self._tracker.policy.lost_grace

    @final
    def array_chunk_size(self) -> int:
        """Tasks per array chunk: the scheduler's limit (asked once), capped by
        ``max_array_size`` (which alone is used if the scheduler cannot be asked).

        Raises:
            SchedulerError: the scheduler could not be asked and no ``max_array_size`` given.
        """
        if self._chunk is None:
            try:
                limit = self._scheduler.array_limit()
            except SchedulerError as exc:
                if self._max_array_size is None:
                    raise
                self._log.warning("array_limit_unknown", error=str(exc)[:300],
                                  using=self._max_array_size)  # fmt: skip
                limit = self._max_array_size
            if self._max_array_size is not None:
                limit = min(limit, self._max_array_size)
            self._chunk = max(1, limit)
        return self._chunk

    @final
    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """``distributor-worker`` with the given ids, shell-quoted."""
        return worker_node_command(self._worker, task_instance_id, array_id, batch_number)

    @final
    def start(self) -> None:
        """Create the submit root and, at most once a day, delete expired task directories."""
        self._root.ensure()
        if self._retention is not None:
            self._root.prune_when_due(self._retention)

    @final
    def stop(self) -> None:
        """Write what was decided since the last call; submitted jobs keep running."""
        self._after()

    # --- submission -------------------------------------------------------------------------

    @final
    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Submit one command (see `ClusterDistributor.submit_to_batch_distributor`).

        Raises:
            ResourceError: the request is malformed, has unknown keys, or cannot be written.
            SubmissionError: the scheduler refused the job (command, status, stderr attached).
            SchedulerError: the outcome is unknown (the scheduler may have accepted it; the
                submission can be found with `find_by_name`).
        """
        request, staging = self._parse(requested_resources)
        key, ids, task_dir = self._submit(command, name, request, None, staging)
        self._track(ids[0], key, task_dir / "exit.json", request)
        self._fetch_when_done(ids, staging)
        self._log.info("job_submitted", distributor_id=ids[0], job_key=key)
        return ids[0]

    @final
    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Submit `array_length` steps in chunks of `array_chunk_size`.

        Returns:
            0-based step → distributor id.

        Raises:
            ResourceError: the request is malformed or ``array_length < 1``.
            SubmissionError: the scheduler refused a chunk; the chunks already queued were
                cancelled first.
            SchedulerError: the outcome of a chunk is unknown (chunks before it stay queued;
                `find_by_name` finds them all).
        """
        if isinstance(array_length, bool) or not isinstance(array_length, int):
            raise ResourceError("array_length", array_length, "must be an int")
        if array_length < 1:
            raise ResourceError("array_length", array_length, "must be at least 1")
        request, staging = self._parse(requested_resources)
        chunk = self.array_chunk_size()
        steps: dict[int, str] = {}
        keys: list[str] = []
        for offset in range(0, array_length, chunk):
            length = min(chunk, array_length - offset)
            try:
                key, ids, task_dir = self._submit(command, name, request, (offset, length), staging)
            except SubmissionError:
                if keys:
                    self._log.warning("array_chunks_cancelled", job_keys=keys)
                    self._scheduler.cancel(keys)
                    self._mark_terminated(list(steps.values()))
                raise
            keys.append(key)
            for index, distributor_id in enumerate(ids):
                steps[offset + index] = distributor_id
                self._track(distributor_id, key, task_dir / f"exit-{offset + index}.json", request)
            self._fetch_when_done(ids, staging)
        self._log.info("array_submitted", job_keys=keys, tasks=array_length)
        return steps

    def _parse(self, requested_resources: Mapping[str, Any]) -> tuple[ResourceRequest, Staging]:
        resources, staging = split_staging(requested_resources)
        request = parse_request(resources, self._scheduler.declared_resources)
        self._scheduler.check_request(request)
        return request, staging

    def _fetch_when_done(self, ids: Sequence[str], staging: Staging) -> None:
        if staging.output_dir is not None:
            with self._lock:
                self._fetch.update(dict.fromkeys(ids, staging.output_dir))

    def _submit(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        array: tuple[int, int] | None,
        staging: Staging,
    ) -> tuple[str, list[str], Path]:
        """Make one submission; return (job key, its ids in step order, task directory)."""
        scheduler = self._scheduler
        job_name = scheduler.job_name(name)
        task_dir = self._root.new_task_dir(job_name)
        self._root.write_intent(task_dir, name=name, job_name=job_name, array=array)
        try:
            for path in staging.inputs:  # before the scheduler is asked
                self._root.files.put(path, task_dir)
        except BaseException:
            self._root.remove(task_dir)
            raise
        job = BatchJob(
            command=command,
            name=name,
            job_name=job_name,
            request=request,
            task_dir=task_dir,
            worker=self._worker,
            write=partial(self._write, task_dir),
            array=array,
            workdir=task_dir if staging.sandboxed else None,
        )
        try:
            with submitting(partial(self._record_submitter, task_dir)):
                key = scheduler.submit(job)
        except SchedulerError as exc:
            if not _refused(exc):
                self._log.warning("submission_in_doubt", task_dir=str(task_dir), error=str(exc))
                raise SchedulerError(
                    f"{scheduler.title} submission of {name!r} is in doubt: {exc}; it may "
                    "have been accepted (find_by_name settles it)",
                    argv=exc.argv,
                    returncode=exc.returncode,
                    stderr=exc.stderr,
                    stdout=exc.stdout,
                    timed_out=exc.timed_out,
                ) from exc
            self._root.remove(task_dir)
            raise SubmissionError(
                f"{scheduler.title} refused task {name!r}: {exc.stderr.strip() or exc}",
                name=name,
                argv=exc.argv,
                returncode=exc.returncode,
                stderr=exc.stderr,
            ) from exc
        except (SubmissionError, ResourceError, ValueError):
            self._root.remove(task_dir)
            raise
        # Any other exception (or the process dying) leaves the intent: the outcome is unknown.
        extra = {"outputs": list(staging.outputs)} if staging.outputs else {}
        ids = self._register(key, task_dir, array, request, name, **extra)
        return key, ids, task_dir

    def _record_submitter(self, task_dir: Path, pid: int) -> None:
        try:
            self._root.record_submitter(
                task_dir, host=socket.gethostname(), pid=pid, ticks=process_start_time(pid)
            )
        except OSError as exc:  # the intent still says "in doubt"; lookups just wait longer
            self._log.warning("submitter_not_recorded", task_dir=str(task_dir), error=str(exc))

    def _write(self, task_dir: Path, file_name: str, text: str) -> Path:
        return self._root.write_script(task_dir, text, file_name)

    def _register(
        self,
        key: str,
        task_dir: Path,
        array: tuple[int, int] | None,
        request: ResourceRequest | None,
        name: str,
        **extra: Any,
    ) -> list[str]:
        ids = [str(i) for i in self._scheduler.task_ids(key, array)]
        expected = 1 if array is None else array[1]
        if len(ids) != expected or len(set(ids)) != expected:
            raise SchedulerOutputError(
                f"{self._scheduler.title} plugin gave {len(ids)} distinct ids for job {key!r} "
                f"of {expected} tasks",
                repr(ids),
            )
        meta: dict[str, Any] = {
            "ids": ids,
            "name": name,
            "memory_bytes": None if request is None else request.memory_bytes,
            "runtime_seconds": None if request is None else request.runtime_seconds,
            **extra,
        }
        if array is not None:
            meta["offset"], meta["length"] = array
        self._root.register(key, task_dir, **meta)
        return ids

    def _track(
        self,
        distributor_id: str,
        key: str,
        record_path: Path,
        request: ResourceRequest | None,
        *,
        memory_bytes: int | None = None,
        runtime_seconds: int | None = None,
        terminated: bool = False,
        info: RemoteExitInfo | None = None,
    ) -> None:
        self._tracker.track(
            distributor_id,
            record_path=record_path,
            memory_bytes=request.memory_bytes if request is not None else memory_bytes,
            runtime_seconds=request.runtime_seconds if request is not None else runtime_seconds,
            terminated=terminated,
            info=info,
        )
        if info is None:
            with self._lock:
                self._members.setdefault(key, set()).add(distributor_id)

    # --- tracking ---------------------------------------------------------------------------

    @final
    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids still queued or running (one status command for all tracked jobs when due)."""
        try:
            if distributor_ids is None:
                return self._tracker.active()
            return self._tracker.active(self._known_ids(distributor_ids))
        finally:
            self._after()

    @final
    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """The subset running now, not queued and not ended (`SupportsRunningQuery`)."""
        try:
            current = self._tracker.current(self._known_ids(distributor_ids))
            return {did for did, status in current.items() if status.phase is JobPhase.RUNNING}
        finally:
            self._after()

    @final
    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """How the task ended (see `ClusterDistributor.get_remote_exit_info`).

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            RemoteExitInfoNotAvailable: still queued or running, accounting is pending, or the
                job is being looked for before it is declared lost.
        """
        if not self._known(distributor_id):
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        try:
            return self._tracker.exit_info(distributor_id)
        finally:
            self._after()

    @final
    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Queued tasks that can never start, with the scheduler's reason."""
        try:
            queued = {
                distributor_id: status
                for distributor_id, status in self._tracker.current(
                    self._known_ids(distributor_ids)
                ).items()
                if status.phase is JobPhase.QUEUED
            }
            if not queued:
                return {}
            try:
                errors = self._scheduler.queueing_errors(queued)
            except SchedulerError as exc:
                self._log.warning("queueing_errors_unavailable", error=str(exc)[:300])
                return {}
            return {did: reason for did, reason in errors.items() if did in queued}
        finally:
            self._after()

    @final
    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """End the tasks with one `BatchScheduler.cancel` and remember it (unknown or ended
        ids are ignored).

        Raises:
            SchedulerError: the cancel command failed.
        """
        wanted = []
        for distributor_id in dict.fromkeys(distributor_ids):
            job = self._tracker.get(distributor_id) if self._known(distributor_id) else None
            if job is not None and not job.settled:
                wanted.append(distributor_id)
        if not wanted:
            return
        targets = self._cancel_targets(wanted)
        self._scheduler.cancel(targets)
        self._mark_terminated(wanted)
        self._terminations.requested(wanted)
        self._log.info("jobs_terminated", count=len(wanted), cancelled=len(targets))

    def _mark_terminated(self, distributor_ids: Sequence[str]) -> None:
        marked = self._tracker.mark_terminated(distributor_ids)
        with self._lock:  # cancelled already: a later cancel may name their whole job
            for distributor_id in marked:
                self._discard_member(distributor_id)
        self._ledger.terminated(job for job in map(self._tracker.get, marked) if job is not None)

    def _cancel_targets(self, distributor_ids: Sequence[str]) -> list[str]:
        """Job keys where every unfinished task of the job not yet terminated is wanted,
        else the ids."""
        wanted = set(distributor_ids)
        targets: list[str] = []
        named: set[str] = set()
        with self._lock:
            for distributor_id in distributor_ids:
                key = self._scheduler.job_key(distributor_id)
                if key is None or key in named:
                    continue
                members = self._members.get(key, {distributor_id})
                if members <= wanted:
                    targets.append(key)
                    named.add(key)
                else:
                    targets.append(distributor_id)
        return targets

    # --- outcome ----------------------------------------------------------------------------

    @final
    def log_paths(self, distributor_id: str) -> tuple[Path, Path | None]:
        """The task's (stdout, stderr) files as the scheduler was told to write them
        (`SupportsTaskOutcome`); stderr None when both streams share one.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
        """
        issued = self._ledger.find(distributor_id)
        if issued is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        return self._scheduler.log_paths(issued.key, issued.task_dir, issued.index)

    @final
    def task_usage(self, distributor_id: str) -> TaskUsage | None:
        """Exit code, signal, times, elapsed, peak memory, CPU and host
        (`SupportsTaskOutcome`): the scheduler's accounting where it has a figure, the
        worker's records otherwise; a running task has its start and host.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
        """
        if not self._known(distributor_id):
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        job = self._tracker.get(distributor_id)
        if job is None or job.settled:
            issued = self._ledger.find(distributor_id)
            if issued is not None and issued.usage is not None:
                return issued.usage
        if job is None:
            return None
        usage = self._usage_of(job)
        if usage is None and job.record_path is not None:
            started = _started_record(self._root, job.record_path)
            if started is not None:
                return TaskUsage(started_at=started.started_at or None, host=started.hostname)
        return usage

    def _usage_of(self, job: TrackedJob) -> TaskUsage | None:
        record = None
        if job.record_path is not None:
            with contextlib.suppress(SchedulerOutputError, OSError):
                text = self._root.read_file(job.record_path)
                record = None if text is None else ExitRecord.from_json(text)
        final = job.status if job.settled else None
        return task_usage(final, record)

    # --- lookup by name ----------------------------------------------------------------------

    @final
    def find_by_name(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """Find the submissions made under each of `names` on this submit root (see
        `SupportsLookupByName` and `distributor.batch.lookup`): from the index, and with one
        `BatchScheduler.find_jobs` for those whose answer was never recorded.

        Raises:
            SchedulerError: the scheduler could not be asked, or a submit command may still
                be running (ask again later).
        """
        return self._lookup.find(names)

    def _link(
        self, key: str, task_dir: Path, array: tuple[int, int] | None, name: str
    ) -> list[str]:
        return self._register(key, task_dir, array, None, name, linked=True)

    # --- adoption ---------------------------------------------------------------------------

    def _known_ids(self, distributor_ids: Iterable[str]) -> list[str]:
        return [did for did in distributor_ids if self._known(did)]

    def _known(self, distributor_id: str) -> bool:
        """Whether the id is tracked, adopting it from the submit root's `Ledger` if needed."""
        if self._tracker.get(distributor_id) is not None:
            return True
        issued = self._ledger.find(distributor_id)
        if issued is None:
            return False
        self._track(
            distributor_id,
            issued.key,
            issued.record_path,
            None,
            memory_bytes=issued.memory_bytes,
            runtime_seconds=issued.runtime_seconds,
            terminated=issued.terminated,
            info=issued.info,
        )
        return True

    # --- after every call: keep what was decided, cancel what must not run -----------------

    def _after(self) -> None:
        news = self._tracker.drain()
        if news.settled:
            with self._lock:
                for job in news.settled:
                    self._discard_member(job.distributor_id)
            self._ledger.settled((job, self._usage_of(job)) for job in news.settled)
        self._terminations.settled(job.distributor_id for job in news.settled)
        for job in news.settled:
            self._fetch_results(job)
        doomed = [*news.lost, *news.lingering]
        if doomed:
            try:
                self._scheduler.cancel(list(dict.fromkeys(doomed)))
            except SchedulerError as exc:
                self._log.warning("cancel_failed", ids=doomed, error=str(exc)[:300])
            else:
                self._log.info("jobs_removed", lost=news.lost, lingering=news.lingering)
        self._terminations.repeat_due()

    def _fetch_results(self, job: TrackedJob) -> None:
        with self._lock:
            target = self._fetch.pop(job.distributor_id, None)
        if target is None or job.info is None:
            return
        if job.info.error_state is not TaskInstanceStatus.DONE:
            return
        try:
            target.mkdir(parents=True, exist_ok=True)
            self._results.get_results(job.distributor_id, target, overwrite=True)
        except (OSError, DistributorError) as exc:  # the caller can still ask get_results
            self._log.warning("results_not_fetched", distributor_id=job.distributor_id,
                              output_dir=str(target), error=str(exc)[:300])  # fmt: skip

    # --- results (gc3libs' get_results, peek, free) ----------------------------------------

    @final
    def get_results(
        self,
        distributor_id: str,
        download_dir: str | os.PathLike[str],
        overwrite: bool = False,
        changed_only: bool = True,
    ) -> list[str]:
        """Copy the task's output files (its ``outputs`` patterns) and its logs into the
        existing local `download_dir`: files absent there are always copied; with
        `overwrite` False nothing there is altered; with `overwrite` True, `changed_only`
        copies only files newer or of another size. Returns the relative paths copied.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            NotADirectoryError: `download_dir` is not an existing directory.
        """
        return self._results.get_results(distributor_id, download_dir, overwrite, changed_only)

    @final
    def peek(
        self,
        distributor_id: str,
        remote_filename: str | os.PathLike[str],
        local_file: str | os.PathLike[str] | IO[Any],
        offset: int = 0,
        size: int | None = None,
    ) -> int:
        """Copy `size` bytes (None: to the end) from `offset` (negative: from the end) of
        `remote_filename` in the task's directory into `local_file` (a path, created or
        overwritten, or a writable file object, left just after them); return the count.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            ValueError: `remote_filename` is absolute or leaves the task directory.
            FileNotFoundError: the file does not exist (yet).
        """
        return self._results.peek(distributor_id, remote_filename, local_file, offset, size)

    @final
    def free(self, distributor_id: str) -> bool:
        """Delete the task's directory (logs, records, staged files), confined to the submit
        root; True if it was there.

        Raises:
            UnknownDistributorIdError: no distributor on this submit root issued the id.
            SchedulerError: a task sharing the directory (an array chunk) is still active.
        """
        return self._results.free(distributor_id, self.get_submitted_or_running)

    def _discard_member(self, distributor_id: str) -> None:
        key = self._scheduler.job_key(distributor_id)
        members = self._members.get(key) if key is not None else None
        if key is not None and members is not None:
            members.discard(distributor_id)
            if not members:
                del self._members[key]


def _started_record(root: SubmitRoot, record_path: Path) -> StartRecord | None:
    """The start record beside an exit record (``exit-3.json`` → ``started-3.json``)."""
    path = record_path.with_name(record_path.name.replace("exit", "started", 1))
    try:
        text = root.read_file(path)
        return None if text is None else StartRecord.from_json(text)
    except (SchedulerOutputError, OSError):
        return None
