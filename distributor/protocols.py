"""The contracts a backend plugin implements: a queue, a distributor and a worker node.

They follow Jobmon's ``cluster_protocol`` member for member, with its documentation bugs fixed.
All three are `runtime_checkable`, but ``isinstance`` only checks that names exist; the static
guarantee comes from the factory protocols, which a plugin pins at import time::

    _queue: ClusterQueueFactory = MyQueue
    _distributor: ClusterDistributorFactory = MyDistributor
    _worker: ClusterWorkerNodeFactory = MyWorkerNode

(mypy does not check constructor signatures through ``type[SomeProtocol]``; it does check a
class against a protocol whose ``__call__`` returns the instance protocol.)

Parameters are typed as Jobmon types them — ``list[str]`` ids, ``dict[str, Any]`` requests and
queue parameters — so that a plugin written to Jobmon's signatures (``List[str]``, ``Dict``)
satisfies them; a plugin accepting the wider ``Sequence``/``Mapping`` does too (parameters are
contravariant). Callers therefore pass lists and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from distributor.exit_info import RemoteExitInfo
from distributor.usage import TaskUsage

if TYPE_CHECKING:
    import os
    from pathlib import Path
    from typing import IO

__all__ = [
    "ClusterDistributor",
    "ClusterDistributorFactory",
    "ClusterQueue",
    "ClusterQueueFactory",
    "ClusterWorkerNode",
    "ClusterWorkerNodeFactory",
    "SupportsLookupByName",
    "SupportsLostTracking",
    "SupportsResults",
    "SupportsRunningQuery",
    "SupportsTaskOutcome",
    "SupportsWaitForChange",
]


@runtime_checkable
class ClusterQueue(Protocol):
    """A queue (partition) of a cluster: its limits and how requests are checked against them."""

    def validate_resources(self, strict: bool = False, **resources: Any) -> tuple[bool, str]:
        """Check a resource request against this queue.

        Args:
            strict: when True, any value over a limit makes the request invalid; when False,
                such values are acceptable because `coerce_resources` will clamp them.
            **resources: the request (``memory``, ``runtime``, ``cores``, ``gpus``, ``queue`` and
                the plugin's declared pass-through keys).

        Returns:
            ``(is_valid, message)``; the message names key, value, limit and unit of every
            problem, and is empty when there is none.
        """
        ...

    def coerce_resources(self, **resources: Any) -> dict[str, Any]:
        """Return the request made to fit this queue: defaults filled in, values clamped.

        Returns:
            The canonical request; it validates with ``strict=True`` and coercing it again
            returns it unchanged.

        Raises:
            ResourceError: for unknown keys or malformed values, which cannot be clamped.
        """
        ...

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The configuration this queue was created with."""
        ...

    @property
    def queue_name(self) -> str:
        """The scheduler's name for this queue."""
        ...

    @property
    def queue_id(self) -> int:
        """The caller's numeric id for this queue."""
        ...

    @property
    def required_resources(self) -> list[str]:
        """Resource keys a request for this queue must contain."""
        ...


@runtime_checkable
class ClusterDistributor(Protocol):
    """Submits commands to one cluster and reports on what it submitted."""

    @property
    def worker_node_entry_point(self) -> str:
        """Absolute path of the worker-node executable that wraps every task command."""
        ...

    @property
    def cluster_name(self) -> str:
        """The name this distributor was created for."""
        ...

    def start(self) -> None:
        """Acquire whatever the distributor needs before submitting (idempotent)."""
        ...

    def stop(self) -> None:
        """Release what `start` acquired; tasks already submitted keep running."""
        ...

    def get_queueing_errors(self, distributor_ids: list[str]) -> dict[str, str]:
        """Report queued tasks that can never start.

        Args:
            distributor_ids: ids to check.

        Returns:
            id → reason for each id stuck in a state that will not clear by itself (for
            example a limit the queue can never meet); ids that are fine are omitted.
        """
        ...

    def get_submitted_or_running(self, distributor_ids: list[str] | None = None) -> set[str]:
        """Report which ids are still queued or running.

        Args:
            distributor_ids: ids to check; None means every id this distributor tracks.

        Returns:
            The subset still queued or running. An id absent from the result has ended (or is
            unknown); ask `get_remote_exit_info` how.
        """
        ...

    def terminate_task_instances(self, distributor_ids: list[str]) -> None:
        """Ask the scheduler to end these tasks; their exit info becomes ``K``.

        Unknown or already finished ids are ignored.
        """
        ...

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo | tuple[str, str]:
        """Say how a task ended.

        Returns:
            A `RemoteExitInfo` (``finalized=False`` if the answer may still change). Legacy
            plugins may return ``(error_state, error_message)``, taken as finalized.

        Raises:
            RemoteExitInfoNotAvailable: nothing is known yet (for example, still running).
            UnknownDistributorIdError: the id was never issued by this distributor.
        """
        ...

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: dict[str, Any]
    ) -> str:
        """Submit one command.

        Args:
            command: the command line to run (run by ``sh -c`` on the worker node).
            name: a label for the task; hostile characters are quoted or replaced, never run.
            requested_resources: a request as accepted by the queue's `coerce_resources`.

        Returns:
            The distributor id of the new task.

        Raises:
            SubmissionError: the scheduler refused the submission.
            ResourceError: the request is malformed.
        """
        ...

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: dict[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Submit `array_length` copies of a command as one array.

        Each step sees its 0-based index in ``DISTRIBUTOR_ARRAY_STEP_ID``.

        Returns:
            array step id (0 .. array_length-1) → the distributor id of that step.

        Raises:
            SubmissionError: the scheduler refused the submission.
            ResourceError: the request is malformed or ``array_length < 1``.
        """
        ...

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """Build the command line that runs the worker node for a task instance or array batch.

        Returns:
            A shell-quoted command line invoking `worker_node_entry_point`.
        """
        ...


@runtime_checkable
class ClusterWorkerNode(Protocol):
    """What a running task can learn about itself on the worker node."""

    @property
    def distributor_id(self) -> str | None:
        """The scheduler's id for this task, or None when not run by a scheduler."""
        ...

    @property
    def array_step_id(self) -> int | None:
        """The 0-based step of this task within its array, or None if it is not an array step."""
        ...

    def get_usage_stats(self) -> dict[str, str]:
        """Resource usage of the task so far.

        Returns:
            ``maxrss`` (peak resident set size, bytes), ``cpu`` (user + system CPU seconds) and
            ``usage_str`` (JSON of every raw figure), all as strings.
        """
        ...

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """Classify a task's exit on the worker node.

        Returns:
            ``(error_state, error_message)`` with a `TaskInstanceStatus` code.
        """
        ...

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """Choose the log file path for a task's ``stdout`` or ``stderr``.

        Returns:
            The absolute path of the file (its directory exists).
        """
        ...


@runtime_checkable
class SupportsRunningQuery(Protocol):
    """Optional: a distributor that can tell running tasks from queued ones."""

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """Return the subset of `distributor_ids` that is running now (not queued, not ended)."""
        ...


@runtime_checkable
class SupportsWaitForChange(Protocol):
    """Optional: a distributor that can say when something changed, so that a caller waits
    for news instead of sleeping between polls."""

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a task started or ended since the last status call, or `timeout`
        seconds passed; True when there is news (a hint: callers still ask for status)."""
        ...


@runtime_checkable
class SupportsLookupByName(Protocol):
    """A distributor that can say which submissions it made under given names."""

    def find_by_name(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """Find the submissions made under each of `names`, whether queued, running or ended.

        Every submission this distributor (or an earlier process on the same cluster and
        state) made and can still answer ``get_remote_exit_info`` for must be found; a name
        that is absent from the result was never submitted — the service relies on that to
        submit again without creating a duplicate. Names are matched exactly.

        Args:
            names: submission names as passed to ``submit_to_batch_distributor`` or
                ``submit_array_to_batch_distributor``; the service only uses
                ``[A-Za-z0-9_]`` in them.

        Returns:
            name → {array step → distributor id}. A single (non-array) submission reports its
            id under step 0. A name submitted more than once lists the steps of every
            submission merged (the service cancels the ids it did not record).

        Raises:
            SchedulerError: the scheduler could not be asked; the service tries again later.
        """
        ...


@runtime_checkable
class SupportsLostTracking(Protocol):
    """A distributor that decides itself when a task it no longer lists is lost.

    Deciding "lost" takes one clock and one owner: a caller with a clock of its own could retry
    a task the distributor is still looking for, and the task could then run twice. A caller
    (the service) of a distributor with this capability waits for its answer instead.
    """

    @property
    def lost_grace(self) -> float:
        """Seconds within which an id this distributor stops listing gets final exit info.

        Until then ``get_remote_exit_info`` may raise ``RemoteExitInfoNotAvailable`` (the task
        may still show up, after a scheduler failover say); after it, the answer is final —
        ``U`` when nothing says how the task ended — and a task declared lost has been
        cancelled, so that it cannot run beside its retry.
        """
        ...


@runtime_checkable
class SupportsTaskOutcome(Protocol):
    """A distributor that can say where a task's output is and what the task used."""

    def log_paths(self, distributor_id: str) -> tuple[Path, Path | None]:
        """Where the task writes its output.

        Returns:
            ``(stdout, stderr)``; stderr is None when both streams go to the first file. The
            files may not exist yet (the task has not started) or any more (pruned).

        Raises:
            UnknownDistributorIdError: the id was never issued by this distributor.
        """
        ...

    def task_usage(self, distributor_id: str) -> TaskUsage | None:
        """What the task did: exit code, signal, start and end, elapsed seconds, peak memory
        (bytes), CPU seconds and host — the scheduler's accounting where it has a figure, the
        worker's record otherwise.

        Returns:
            The figures known so far (a running task has a start and a host), or None when
            nothing is known yet.

        Raises:
            UnknownDistributorIdError: the id was never issued by this distributor.
        """
        ...


@runtime_checkable
class SupportsResults(Protocol):
    """A distributor that can copy a task's files back and clean its directory up (the
    batch plugins, on this machine or through an SSH transport)."""

    def get_results(
        self,
        distributor_id: str,
        download_dir: str | os.PathLike[str],
        overwrite: bool = False,
        changed_only: bool = True,
    ) -> list[str]:
        """Copy the task's output files and logs into the existing local `download_dir`.

        Files absent there are always copied; with `overwrite` False nothing that exists is
        altered; with `overwrite` True, `changed_only` copies only files whose source is newer
        or of another size (False: all of them).

        Returns:
            The paths copied, relative to `download_dir`.

        Raises:
            UnknownDistributorIdError: the id was never issued by this distributor.
            NotADirectoryError: `download_dir` is not an existing directory.
        """
        ...

    def peek(
        self,
        distributor_id: str,
        remote_filename: str | os.PathLike[str],
        local_file: str | os.PathLike[str] | IO[Any],
        offset: int = 0,
        size: int | None = None,
    ) -> int:
        """Copy part of a file of the task's directory into `local_file`.

        Args:
            remote_filename: a path relative to the task's directory.
            local_file: a local path (created or overwritten) or a writable file object
                (left positioned just after the bytes written).
            offset: bytes from the start; negative: from the end.
            size: bytes to copy at most; None: to the end.

        Returns:
            The number of bytes copied.

        Raises:
            UnknownDistributorIdError: the id was never issued by this distributor.
            ValueError: `remote_filename` is absolute or leaves the task's directory.
            FileNotFoundError: the file does not exist (yet).
        """
        ...

    def free(self, distributor_id: str) -> bool:
        """Delete the task's directory and everything in it (never anything outside it).

        Returns:
            True if it existed.

        Raises:
            UnknownDistributorIdError: the id was never issued by this distributor.
            SchedulerError: a task that shares the directory is still queued or running.
        """
        ...


class ClusterQueueFactory(Protocol):
    """Constructor contract of a queue class."""

    def __call__(self, queue_id: int, queue_name: str, parameters: dict[str, Any]) -> ClusterQueue:
        """Create the queue named `queue_name` with the caller's `parameters`."""
        ...


class ClusterDistributorFactory(Protocol):
    """Constructor contract of a distributor class."""

    def __call__(self, cluster_name: str, *args: Any, **kwargs: Any) -> ClusterDistributor:
        """Create a distributor for `cluster_name`; plugin-specific options come as keywords."""
        ...


class ClusterWorkerNodeFactory(Protocol):
    """Constructor contract of a worker-node class."""

    def __call__(self) -> ClusterWorkerNode:
        """Create the worker node, reading what it needs from the environment."""
        ...
