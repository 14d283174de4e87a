"""`TrackedDistributor`: the scheduler-independent half of a batch plugin's distributor.

Every batch plugin answers the tracking half of `ClusterDistributor` the same way: from a
`StatusTracker`, adopting ids issued by an earlier distributor on the same `SubmitRoot`, and
terminating with one scheduler command that names whole array chunks by their job id. A plugin
subclasses this, calls ``super().__init__``, and supplies two hooks:

* `TrackedDistributor.split_id` — ``"123_4"`` → ``("123", 4)``, ``"123"`` → ``("123", None)``,
  None for text that is not an id the plugin issues (hostile ids never reach a command line);
* `TrackedDistributor.cancel` — one scheduler command (``scancel``, ``qdel``, ...) for the
  given job keys and task ids.

`TrackedDistributor.submit_array_chunks` submits an array as chunks the scheduler accepts and
tracks every step (an earlier chunk is cancelled when a later one is refused).

Optional hooks: `TrackedDistributor.queueing_error` (a pending status that can never start),
`TrackedDistributor.adopted_record` (where an adopted task's exit record is, default
``exit.json`` / ``exit-<offset + task>.json``) and `TrackedDistributor.on_adopt`.

Submission is a template too: `TrackedDistributor.submit_to_batch_distributor` and
`TrackedDistributor.submit_array_to_batch_distributor` parse the request against
`TrackedDistributor.declared_resources` (`TrackedDistributor.parse_resources`), call the
plugin's `TrackedDistributor.submit_job` (one job or array chunk) and track the result; a
plugin gives `TrackedDistributor.array_task_id`, and
optionally `TrackedDistributor.single_task_id` (default: the job key itself).
`TrackedDistributor.array_chunk_size` has a default (see below).

`TrackedDistributor.submission` gives one submission its task directory (removed again if
the submission fails, a failed submit command becoming `SubmissionError`), and
`TrackedDistributor.track_task` tracks a single task once submitted.

The base builds the plugin's `StatusTracker` and `SubmitRoot` (default
`TrackedDistributor.default_submit_root`, from the class's `scheduler` name), holds the path of
``distributor-worker`` (`worker_node_entry_point`, `build_worker_node_command`) and a no-op
`stop`, and a `start` that prunes expired task directories once a day; `check_arguments` is
the constructor check every plugin makes (unexpected arguments,
``max_array_size``). `TrackedDistributor.array_chunk_size` asks the plugin's
`TrackedDistributor.scheduler_array_limit` once and caps it with ``max_array_size``.

Submissions register each job key in the submit root with the metadata `register_job` writes
(``offset`` and ``length`` for array chunks, the request's ``memory_bytes`` and
``runtime_seconds``), which is what adoption reads back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import structlog

from distributor.batch.polling import PollPolicy, StatusBackend, StatusTracker
from distributor.batch.script import find_worker_executable, safe_name, worker_node_command
from distributor.batch.status import JobPhase, JobStatus
from distributor.batch.submit_root import SubmitRoot, TaskDirectory
from distributor.exceptions import (
    ResourceError,
    SchedulerError,
    SubmissionError,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo
from distributor.resources import ResourceRequest, parse_request

__all__ = [
    "DEFAULT_ARRAY_CHUNK",
    "DEFAULT_RETENTION",
    "DEFAULT_TERMINATION_RETRY",
    "TERMINATION_ATTEMPTS",
    "TrackedDistributor",
    "check_arguments",
]

log = structlog.get_logger(__name__)

DEFAULT_ARRAY_CHUNK = 1000
"""Array chunk length when neither the scheduler nor the user states a limit."""

from distributor.batch.distributor import (  # noqa: E402 - shared with BatchDistributor
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    TERMINATION_ATTEMPTS,
)


def check_arguments(
    owner: str,
    args: Sequence[object],
    kwargs: Mapping[str, object],
    max_array_size: int | None = None,
) -> None:
    """The argument checks every batch plugin's constructor makes first.

    Args:
        owner: the class name for the message (``"SlurmDistributor"``).
        args / kwargs: the constructor's leftover ``*args`` and ``**kwargs``.
        max_array_size: the ``max_array_size`` option, if any.

    Raises:
        TypeError: `args` or `kwargs` is not empty ("<owner> got unexpected arguments: ...").
        ValueError: `max_array_size` is less than 1.
    """
    if args or kwargs:
        unknown = [repr(a) for a in args] + sorted(kwargs)
        raise TypeError(f"{owner} got unexpected arguments: {', '.join(unknown)}")
    if max_array_size is not None and max_array_size < 1:
        raise ValueError(f"max_array_size={max_array_size!r}: must be at least 1")


class TrackedDistributor:
    """Tracking, adoption and termination for a batch plugin (see the module docstring).

    Attributes:
        first_array_index: the scheduler's first array task index (1 for Grid Engine, LSF).
        declared_resources: the plugin's pass-through request keys (``slurm.account``, ...)
            and their patterns, for `parse_resources`.
        log_submitted_name: log the task's name with ``job_submitted``.
        scheduler: the submit root's directory name under ``$DISTRIBUTOR_SUBMIT_ROOT``
            (``"slurm"``); required when no `submit_root` is given.
        termination_retry: seconds before a terminated job the scheduler still lists is
            cancelled again (`DEFAULT_TERMINATION_RETRY`, doubling; None: never).

    Args:
        cluster_name: the distributor's cluster name.
        backend: the plugin's client, polled by a `StatusTracker` built here.
        submit_root: where task directories and the id index live (default
            `default_submit_root`).
        poll_policy: the tracker's policy (default `PollPolicy()`).
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
        max_array_size: the user's cap on an array chunk's length (see `array_chunk_size`).
        retention: seconds after which `start` deletes a task directory in which nothing
            changed (default 7 days; None keeps everything). See `SubmitRoot.prune`.
    """

    scheduler: ClassVar[str] = ""
    first_array_index: int = 0
    declared_resources: ClassVar[Mapping[str, str]] = {}
    log_submitted_name: ClassVar[bool] = False

    def __init__(
        self,
        cluster_name: str,
        backend: StatusBackend,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        poll_policy: PollPolicy | None = None,
        worker: str | None = None,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
    ) -> None:
        if retention is not None and not retention > 0:
            raise ValueError(f"retention={retention!r}: must be a positive number of seconds")
        self._cluster_name = cluster_name
        self.tracker = StatusTracker(backend, poll_policy, cluster_name=cluster_name)
        self._root = SubmitRoot(
            submit_root if submit_root is not None else self.default_submit_root(cluster_name)
        )
        self._worker = worker or find_worker_executable()
        self._log = log.bind(cluster=cluster_name)
        self.max_array_size = max_array_size
        self._scheduler_array_limit: int | None = None
        self._lock = threading.Lock()
        self.retention = retention
        self.termination_retry: float | None = DEFAULT_TERMINATION_RETRY
        self.clock: Callable[[], float] = time.monotonic  # for termination retries
        self._terminating: dict[str, tuple[float, int]] = {}  # id → (next request, requests)
        self._next_repeat = float("inf")  # the earliest "next request" in `_terminating`

    @classmethod
    def default_submit_root(cls, cluster_name: str) -> Path:
        """``$DISTRIBUTOR_SUBMIT_ROOT/<scheduler>/<cluster>``, else
        ``~/.distributor/<scheduler>/<cluster>`` (see `SubmitRoot.default_path`)."""
        if not cls.scheduler:
            raise TypeError(f"{cls.__name__} sets no `scheduler`: pass submit_root")
        return SubmitRoot.default_path(cls.scheduler, cluster_name)

    @property
    def cluster_name(self) -> str:
        """The name given at construction."""
        return self._cluster_name

    @property
    def submit_root(self) -> SubmitRoot:
        """Where job scripts, logs and exit records live (`SubmitRoot.prune` cleans it)."""
        return self._root

    @property
    def worker_node_entry_point(self) -> str:
        """Absolute path of ``distributor-worker``, which wraps every task command."""
        return self._worker

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """A quoted ``distributor-worker`` invocation carrying the given ids."""
        return worker_node_command(self._worker, task_instance_id, array_id, batch_number)

    def start(self) -> None:
        """Ask the scheduler its array limit (`scheduler_array_limit`, where it has one), create
        the submit root and, once a day, delete task directories older than `retention`.

        Idempotent.

        Raises:
            SchedulerError: the scheduler cannot be reached to state its array limit.
        """
        self.array_chunk_size()
        self._root.ensure()
        if self.retention is not None:
            self._root.prune_when_due(self.retention)

    def stop(self) -> None:
        """Nothing to release: submitted jobs keep running and stay tracked."""

    # --- hooks --------------------------------------------------------------------------

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """Split an id into (job key, array task) or return None if it is not one of ours."""
        raise NotImplementedError

    def cancel(self, tokens: Sequence[str]) -> None:
        """Ask the scheduler, in one command, to end these job keys and task ids."""
        raise NotImplementedError

    def force_cancel(self, tokens: Sequence[str]) -> None:
        """End jobs that an earlier `cancel` did not end (default: `cancel` again).

        Plugins whose scheduler can drop a job its execution host does not answer for
        (``qdel -f``) override this; if it raises `SchedulerError` (a forced delete may need
        privileges), `cancel` is sent instead."""
        self.cancel(tokens)

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[str, Path]:
        """Write and submit one job (array chunk = ``(offset, length)``), register it and
        return ``(job key, task directory)``."""
        raise NotImplementedError

    def scheduler_array_limit(self) -> int | None:
        """The scheduler's own limit on an array's length, asked once by `array_chunk_size`
        (``MaxArraySize``, ``max_aj_tasks``...); None, the default, when there is none to ask."""
        return None

    def array_chunk_size(self) -> int:
        """The most tasks one array chunk may have: the smaller of `scheduler_array_limit`
        (asked once) and `max_array_size`; `DEFAULT_ARRAY_CHUNK` when neither is known."""
        with self._lock:
            if self._scheduler_array_limit is None:
                self._scheduler_array_limit = self.scheduler_array_limit() or 0
            known = [n for n in (self._scheduler_array_limit, self.max_array_size) if n]
        return min(known) if known else DEFAULT_ARRAY_CHUNK

    def array_task_id(self, job_key: str, index: int) -> str:
        """The id of array task `index` (from `first_array_index`) of chunk `job_key`."""
        raise NotImplementedError

    def single_task_id(self, job_key: str) -> str:
        """The id of a single task submitted as `job_key` (default: the key itself)."""
        return job_key

    def parse_resources(self, requested_resources: Mapping[str, Any]) -> ResourceRequest:
        """Parse a request, allowing `declared_resources` (raises `ResourceError`)."""
        return parse_request(requested_resources, self.declared_resources)

    def queueing_error(self, status: JobStatus) -> str | None:
        """Why a queued job can never start, or None (the default: never)."""
        return None

    def adopted_record(self, entry: TaskDirectory, task: int | None) -> Path:
        """Exit-record path of an adopted id: ``exit.json``, or ``exit-<step>.json`` with the
        0-based step ``offset + task - first_array_index``."""
        if task is None:
            return entry.path / "exit.json"
        step = int(entry.meta["offset"]) + task - self.first_array_index
        return entry.path / f"exit-{step}.json"

    def on_adopt(self, job_key: str, entry: TaskDirectory) -> None:
        """Called once per adopted id, before it is tracked (default: nothing)."""

    # --- submission bookkeeping ---------------------------------------------------------

    @contextmanager
    def submission(self, name: str, scheduler: str, *, label: str | None = None) -> Iterator[Path]:
        """A fresh task directory for one submission (a task or an array chunk).

        Args:
            name: the task's name, for the error message.
            scheduler: the scheduler's name for the message (``"LSF"``, ``"Slurm"``).
            label: the directory's label (default: `name`).

        Raises:
            SubmissionError: the body raised `SchedulerError` (the submit command failed);
                it says "<scheduler> refused task '<name>': <stderr>" and carries the
                command, its exit status and stderr. The directory is removed whenever the
                body raises.
        """
        task_dir = self._root.new_task_dir(label if label is not None else name)
        try:
            yield task_dir
        except SchedulerError as exc:
            self._root.remove(task_dir)
            raise SubmissionError(
                f"{scheduler} refused task {name!r}: {exc.stderr.strip() or exc}",
                name=name,
                argv=exc.argv,
                returncode=exc.returncode,
                stderr=exc.stderr,
            ) from exc
        except BaseException:
            self._root.remove(task_dir)
            raise

    def track_task(
        self,
        job_key: str,
        task_dir: Path,
        *,
        memory_bytes: int | None,
        runtime_seconds: int | None,
        name: str | None = None,
    ) -> str:
        """Track a single task submitted as `job_key` (record ``exit.json``); return its id.

        `name`, if given, is logged (made `safe_name`) with the ``job_submitted`` event.
        """
        self.tracker.track(
            job_key,
            record_path=task_dir / "exit.json",
            memory_bytes=memory_bytes,
            runtime_seconds=runtime_seconds,
        )
        if name is None:
            self._log.info("job_submitted", distributor_id=job_key)
        else:
            self._log.info("job_submitted", distributor_id=job_key, name=safe_name(name))
        return job_key

    def register_job(
        self,
        job_key: str,
        task_dir: Path,
        *,
        memory_bytes: int | None,
        runtime_seconds: int | None,
        array: tuple[int, int] | None = None,
        **extra: Any,
    ) -> None:
        """Record a submitted job (array chunk = ``(offset, length)``) so it can be adopted."""
        meta: dict[str, Any] = {
            "memory_bytes": memory_bytes,
            "runtime_seconds": runtime_seconds,
            **extra,
        }
        if array is not None:
            meta["offset"], meta["length"] = array
        self._root.register(job_key, task_dir, **meta)

    # --- ClusterDistributor: submission ------------------------------------------------------

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Submit one command (see `ClusterDistributor.submit_to_batch_distributor`).

        Raises:
            ResourceError: the request is malformed or has unknown keys.
            SubmissionError: the scheduler refused the job (stderr and argv attached).
        """
        request = self.parse_resources(requested_resources)
        job_key, task_dir = self.submit_job(command, name, request, array=None)
        return self.track_task(
            self.single_task_id(job_key),
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            name=name if self.log_submitted_name else None,
        )

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Submit an array in chunks of `array_chunk_size` (`submit_array_chunks`).

        Returns:
            0-based step → `array_task_id` of its chunk and index.

        Raises:
            ResourceError: the request is malformed or ``array_length < 1``.
            SubmissionError: the scheduler refused a chunk (earlier chunks are cancelled first).
        """
        request = self.parse_resources(requested_resources)
        return self.submit_array_chunks(
            array_length,
            self.array_chunk_size(),
            lambda offset, length: self.submit_job(command, name, request, array=(offset, length)),
            self.array_task_id,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
        )

    # --- ClusterDistributor: tracking half ------------------------------------------------

    def _known(self, distributor_id: str) -> bool:
        """Whether the id is tracked, adopting it from the submit root's index if needed."""
        if self.tracker.get(distributor_id) is not None:
            return True
        split = self.split_id(distributor_id)
        if split is None:
            return False
        job_key, task = split
        entry = self._root.lookup(job_key)
        if entry is None or ("offset" in entry.meta) != (task is not None):
            return False
        if task is not None and not 0 <= task - self.first_array_index < entry.meta["length"]:
            return False
        self.on_adopt(job_key, entry)
        self.tracker.track(
            distributor_id,
            record_path=self.adopted_record(entry, task),
            memory_bytes=entry.meta.get("memory_bytes"),
            runtime_seconds=entry.meta.get("runtime_seconds"),
        )
        return True

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids still queued or running (one status command for all tracked jobs when due).

        Terminated jobs the scheduler still lists are cancelled again when due (see
        `termination_retry`).
        """
        if distributor_ids is None:
            active = self.tracker.active()
        else:
            active = self.tracker.active([did for did in distributor_ids if self._known(did)])
        self._repeat_terminations()
        return active

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """The subset running now, not queued and not ended (`SupportsRunningQuery`)."""
        active = self.tracker.active([did for did in distributor_ids if self._known(did)])
        self._repeat_terminations()
        return {
            did
            for did, status in self.tracker.statuses(active).items()
            if status.phase is JobPhase.RUNNING
        }

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """How the job ended (see `ClusterDistributor.get_remote_exit_info`).

        Raises:
            UnknownDistributorIdError: the id was never issued on this submit root.
            RemoteExitInfoNotAvailable: still queued or running, or accounting is pending.
        """
        if not self._known(distributor_id):
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        return self.tracker.exit_info(distributor_id)

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Queued jobs that can never start, with `queueing_error`'s reason."""
        active = self.tracker.active([did for did in distributor_ids if self._known(did)])
        errors = {}
        for distributor_id, status in self.tracker.statuses(active).items():
            if status.phase is JobPhase.QUEUED:
                message = self.queueing_error(status)
                if message is not None:
                    errors[distributor_id] = message
        return errors

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """End the jobs with one `cancel` and remember it (unknown or ended ids are ignored)."""
        wanted = []
        for distributor_id in distributor_ids:
            job = self.tracker.get(distributor_id) if self._known(distributor_id) else None
            if job is not None and not job.settled:
                wanted.append(distributor_id)
        if not wanted:
            return
        tokens = self.cancel_tokens(wanted)
        self.cancel(tokens)
        self.tracker.mark_terminated(wanted)
        if self.termination_retry is not None:
            due = self.clock() + self.termination_retry
            with self._lock:
                for distributor_id in wanted:
                    self._terminating[distributor_id] = (due, 1)
                self._next_repeat = min(self._next_repeat, due)
        self._log.info("jobs_terminated", count=len(wanted), cancelled_ids=len(tokens))

    def _repeat_terminations(self) -> None:
        """Cancel again, with `force_cancel`, the terminated jobs that are still unsettled
        `termination_retry` seconds (doubling each time) after the previous request; give up
        after `TERMINATION_ATTEMPTS` requests, logging ``termination_ineffective``."""
        now = self.clock()
        if self.termination_retry is None or now < self._next_repeat:
            return  # cheap on every status call: nothing is due before `_next_repeat`
        due: list[str] = []
        with self._lock:
            for distributor_id, (when, attempts) in list(self._terminating.items()):
                job = self.tracker.get(distributor_id)
                if job is None or job.settled:
                    del self._terminating[distributor_id]
                    continue
                if now < when or job.status is None or job.left_queue_at is not None:
                    continue  # not due, never seen listed, or gone and being settled
                if attempts >= TERMINATION_ATTEMPTS:
                    del self._terminating[distributor_id]
                    self._log.error("termination_ineffective", distributor_id=distributor_id,
                                    attempts=attempts, state=job.status.state)  # fmt: skip
                    continue
                retry = self.termination_retry * 2**attempts
                self._terminating[distributor_id] = (now + retry, attempts + 1)
                due.append(distributor_id)
            # A job seen neither settled nor listed yet is looked at again within a second.
            pending = [when for when, _ in self._terminating.values()]
            self._next_repeat = max(min(pending), now + 1.0) if pending else float("inf")
        if not due:
            return
        tokens = self.cancel_tokens(due)
        try:
            self.force_cancel(tokens)
        except SchedulerError as exc:
            # A forced variant may need privileges (qdel -f, qdel -p): ask plainly instead.
            self._log.warning("termination_force_refused", ids=tokens, error=str(exc))
            try:
                self.cancel(tokens)
            except SchedulerError as again:
                self._log.warning("termination_repeat_failed", ids=tokens, error=str(again))
                return
        self._log.warning("termination_repeated", ids=tokens)

    def cancel_tokens(self, distributor_ids: Sequence[str]) -> list[str]:
        """The ids to name: a job key when every unsettled task of it is wanted, else tasks."""
        wanted = set(distributor_ids)
        members: dict[str, list[str]] = {}
        for distributor_id in self.tracker.tracked():
            split = self.split_id(distributor_id)
            job = self.tracker.get(distributor_id)
            if split is not None and job is not None and not job.settled:
                members.setdefault(split[0], []).append(distributor_id)
        tokens: list[str] = []
        named: set[str] = set()
        for distributor_id in distributor_ids:
            split = self.split_id(distributor_id)
            if split is None or split[0] in named:
                continue
            if all(member in wanted for member in members.get(split[0], [distributor_id])):
                tokens.append(split[0])
                named.add(split[0])
            else:
                tokens.append(distributor_id)
        return tokens

    # --- submission of arrays -------------------------------------------------------------

    def submit_array_chunks(
        self,
        array_length: object,
        chunk_size: int,
        submit_chunk: Callable[[int, int], tuple[str, Path]],
        task_id: Callable[[str, int], str],
        *,
        memory_bytes: int | None = None,
        runtime_seconds: int | None = None,
    ) -> dict[int, str]:
        """Submit steps ``0 .. array_length-1`` as arrays of at most `chunk_size` tasks.

        Args:
            array_length: how many steps (an int of at least 1).
            chunk_size: the most tasks one scheduler array may have.
            submit_chunk: submits steps ``offset .. offset + length - 1`` as one array and
                returns ``(job key, task directory)``; called as ``submit_chunk(offset, length)``.
            task_id: ``(job key, scheduler task index)`` → distributor id; task indexes start at
                `first_array_index`.
            memory_bytes / runtime_seconds: the request, for the state map's messages.

        Returns:
            step → distributor id; step ``s`` is tracked with the record ``exit-<s>.json`` in its
            chunk's task directory.

        Raises:
            ResourceError: `array_length` is not an int of at least 1.
            SubmissionError: a chunk was refused; the chunks already submitted were cancelled
                (one `cancel`) and their steps marked terminated first.
        """
        if isinstance(array_length, bool) or not isinstance(array_length, int):
            raise ResourceError("array_length", array_length, "must be an int")
        if array_length < 1:
            raise ResourceError("array_length", array_length, "must be at least 1")
        steps: dict[int, str] = {}
        keys: list[str] = []
        for offset in range(0, array_length, max(1, chunk_size)):
            length = min(max(1, chunk_size), array_length - offset)
            try:
                key, task_dir = submit_chunk(offset, length)
            except SubmissionError:
                if keys:
                    self._log.warning("array_chunks_cancelled", job_keys=keys)
                    self.cancel(keys)
                    self.tracker.mark_terminated(list(steps.values()))
                raise
            keys.append(key)
            for index in range(length):
                step = offset + index
                steps[step] = task_id(key, index + self.first_array_index)
                self.tracker.track(
                    steps[step],
                    record_path=task_dir / f"exit-{step}.json",
                    memory_bytes=memory_bytes,
                    runtime_seconds=runtime_seconds,
                )
        self._log.info("array_submitted", job_keys=keys, tasks=array_length)
        return steps
