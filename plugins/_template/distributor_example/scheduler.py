"""`ExampleScheduler`: the Example scheduler as a `distributor.batch.BatchScheduler`.

This is the whole of a batch plugin besides its client: how a task is written and submitted,
how ids look, the state map, and the lookup by name. `distributor.batch.BatchDistributor`
does the rest (task directories, arrays in chunks, polling, adoption, termination, limits
enforced by ``distributor-worker``).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest, TaskInstanceStatus
from distributor.batch import (
    BatchJob,
    JobStatus,
    NamedJob,
    TrackedJob,
    command_phrase,
    safe_name,
)
from distributor.worker import ExitRecord
from distributor_example.client import TASK_ID, ExampleClient

__all__ = ["DECLARED_RESOURCES", "ExampleScheduler"]


def _state_dir() -> Path:
    """Where the fake Example scheduler keeps its state and the tasks' output."""
    return Path(os.environ.get("EXAMPLE_STATE", "/nonexistent"))


DECLARED_RESOURCES: Mapping[str, str] = {"example.project": r"[A-Za-z0-9_.-]{1,64}"}
"""Pass-through request keys and the values they accept."""


class ExampleScheduler:
    """The Example scheduler as `BatchDistributor` drives it.

    Args:
        client: runs and parses the scheduler's commands.
        array_limit: the most tasks one array may hold.
    """

    name = "example"
    title = "Example"
    declared_resources = DECLARED_RESOURCES

    def __init__(self, client: ExampleClient, *, array_limit: int = 1000) -> None:
        self.client = client
        self._array_limit = array_limit

    def job_name(self, name: str) -> str:
        """`safe_name` of the task name."""
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """Nothing beyond the directive checks made while rendering."""

    def array_limit(self) -> int:
        """The configured limit (a real plugin asks its scheduler, once)."""
        return self._array_limit

    def submit(self, job: BatchJob) -> str:
        """Write the job script and submit it; return the job id."""
        directives: list[tuple[str, str | None]] = []
        if "example.project" in job.request.extra:
            directives.append(("--project", job.request.extra["example.project"]))
        script = job.script(
            distributor_id_expr=(
                '"$EXAMPLE_JOB_ID"' if job.array is None else '"$EXAMPLE_JOB_ID.$EXAMPLE_TASK_ID"'
            ),
            array_step_expr=job.step_expr("EXAMPLE_TASK_ID"),
            directive_prefix="#EXAMPLE",
            directives=directives,
            generator="distributor-example",
            runtime_backstop=0.0,  # the Example scheduler enforces no limits: the worker does
        )
        path = job.write("job.sh", script)
        return self.client.submit(path, job.job_name, None if job.array is None else job.length)

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``J`` for a single task, ``J.0 .. J.(n-1)`` for an array."""
        return [key] if array is None else [f"{key}.{task}" for task in range(array[1])]

    def job_key(self, distributor_id: str) -> str | None:
        """``"12"`` for ``"12"`` and ``"12.3"``; None for other text."""
        match = TASK_ID.fullmatch(distributor_id)
        return match["job"] if match else None

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, None]:
        """The fake writes a task's output, both streams, to its state directory; a real
        plugin names the files its submit command was told (``-o``/``-e``)."""
        return _state_dir() / f"{key if index is None else f'{key}.{index}'}.log", None

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``example-status`` for all ids."""
        return self.client.status(distributor_ids)

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """The Example scheduler keeps no accounting: its status command remembers all."""
        return {}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The state map: ``DONE 0`` is D, ``KILLED`` after a termination K, else E."""
        if status.state == "KILLED":
            if job.terminated:
                return RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, "terminated on request")
            return RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, "killed by the scheduler")
        if status.state == "DONE" and status.exit_code == 0:
            return RemoteExitInfo(TaskInstanceStatus.DONE, "")
        if status.state == "LOST":
            return RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, "the scheduler lost the task")
        return RemoteExitInfo(TaskInstanceStatus.ERROR, command_phrase(status, record))

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
        """The Example scheduler has no state that can never start."""
        return {}

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``example-cancel``."""
        self.client.cancel(targets)

    def force_cancel(self, targets: Sequence[str]) -> None:
        """Nothing stronger exists: cancel again."""
        self.client.cancel(targets)

    def find_jobs(self, job_names: Collection[str]) -> Sequence[NamedJob]:
        """One ``example-jobs``, filtered by name."""
        return self.client.jobs(job_names)
