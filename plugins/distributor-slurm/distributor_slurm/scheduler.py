"""`SlurmScheduler`: Slurm as a `distributor.batch.BatchScheduler`.

* **Submission.** ``sbatch --parsable`` of a job script with ``#SBATCH`` directives; ``--nodes
  1 --ntasks 1`` and ``--no-requeue`` unless ``requeue`` (a node failure then ends the attempt
  at once instead of a silent requeue held for minutes).
* **Arrays** are ``--array=0-(n-1)[%cap]`` chunks of at most ``MaxArraySize`` tasks; chunk ``k``
  adds its offset to ``SLURM_ARRAY_TASK_ID`` to give ``DISTRIBUTOR_ARRAY_STEP_ID``. Task ``i``
  of job ``J`` is ``J_i``; a single task is ``J``.
* **Status** is `SlurmClient`: one squeue per poll cycle, sacct for what the controller forgot.
* **Lookup** is one ``squeue --states=all --name=...``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest, format_seconds
from distributor.batch import BatchJob, JobStatus, NamedJob, TrackedJob, safe_name
from distributor.worker import ExitRecord
from distributor_slurm import parsers, states
from distributor_slurm.client import SlurmClient
from distributor_slurm.queue import DECLARED_RESOURCES

__all__ = ["MEMORY_BACKSTOP", "RUNTIME_BACKSTOP", "SlurmScheduler"]

MEMORY_BACKSTOP = 0.1
"""Share of ``--mem`` the worker allows on top before it kills: with cgroups Slurm kills at
``--mem`` itself (``OUT_OF_MEMORY``); without, it samples every ``JobAcctGatherFrequency``
(30 s) and the worker's kill at 110 % is what stops a short spike."""

RUNTIME_BACKSTOP = 90.0
"""Seconds past ``--time`` before the worker enforces the runtime itself: slurmctld checks
time limits about every 30 s and then gives ``KillWait`` (30 s) before SIGKILL, so its own
``TIMEOUT`` verdict comes first whenever Slurm enforces the limit at all."""

_SINGLE_ID = '"$SLURM_JOB_ID"'
_ARRAY_ID = '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'
_PASS_THROUGH = (
    ("slurm.account", "--account"),
    ("slurm.qos", "--qos"),
    ("slurm.reservation", "--reservation"),
    ("slurm.constraint", "--constraint"),
)


class SlurmScheduler:
    """A Slurm cluster as `BatchDistributor` drives it.

    Args:
        client: runs and parses the Slurm commands.
        requeue: let Slurm requeue jobs after a node failure.
    """

    name = "slurm"
    title = "Slurm"
    declared_resources: Mapping[str, str] = DECLARED_RESOURCES

    def __init__(self, client: SlurmClient, *, requeue: bool = False) -> None:
        self.client = client
        self._requeue = requeue

    def job_name(self, name: str) -> str:
        """`safe_name` of the task name (``--job-name``)."""
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """Nothing beyond the directive checks made while rendering."""

    def array_limit(self) -> int:
        """``MaxArraySize`` from ``scontrol show config`` (Slurm's default 1001 if unreadable)."""
        try:
            return int(self.client.config().get("MaxArraySize", "1001"))
        except ValueError:
            return 1001

    def submit(self, job: BatchJob) -> str:
        """Write the job script and ``sbatch`` it; return the job id."""
        script = job.script(
            distributor_id_expr=_SINGLE_ID if job.array is None else _ARRAY_ID,
            array_step_expr=job.step_expr("SLURM_ARRAY_TASK_ID"),
            directive_prefix="#SBATCH",
            directives=self._directives(job),
            generator="distributor-slurm",
            runtime_backstop=RUNTIME_BACKSTOP,
            memory_backstop=MEMORY_BACKSTOP,
        )
        return self.client.submit(job.write("job.sh", script))

    def _directives(self, job: BatchJob) -> list[tuple[str, str | None]]:
        request = job.request
        suffix = "" if job.array is None else "-%a"
        directives: list[tuple[str, str | None]] = [
            ("--job-name", job.job_name),
            ("--output", f"{job.task_dir}/stdout{suffix}.log"),
            ("--error", f"{job.task_dir}/stderr{suffix}.log"),
            ("--nodes", "1"),
            ("--ntasks", "1"),
        ]
        if job.array is not None:
            cap = request.extra.get("slurm.array_cap")
            directives.append(("--array", f"0-{job.length - 1}" + (f"%{cap}" if cap else "")))
        if not self._requeue:
            directives.append(("--no-requeue", None))
        if request.queue is not None:
            directives.append(("--partition", request.queue))
        if request.cores is not None:
            directives.append(("--cpus-per-task", str(request.cores)))
        if request.memory_bytes is not None:
            directives.append(("--mem", f"{-(-request.memory_bytes // 2**20)}M"))
        if request.runtime_seconds is not None:
            directives.append(("--time", format_seconds(request.runtime_seconds)))
        if request.gpus:
            directives.append(("--gres", f"gpu:{request.gpus}"))
        for key, flag in _PASS_THROUGH:
            if key in request.extra:
                directives.append((flag, request.extra[key]))
        return directives

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``J`` for a single task, ``J_0 .. J_(n-1)`` for an array chunk."""
        return [key] if array is None else [f"{key}_{index}" for index in range(array[1])]

    def job_key(self, distributor_id: str) -> str | None:
        """``"123"`` for ``"123"`` and ``"123_4"``; None for other text."""
        return parsers.job_key(distributor_id)

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path]:
        """``stdout[-%a].log`` and ``stderr[-%a].log`` (``%a``: the array task index)."""
        suffix = "" if index is None else f"-{index}"
        return task_dir / f"stdout{suffix}.log", task_dir / f"stderr{suffix}.log"

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One squeue (`SlurmClient.query_status`)."""
        return self.client.query_status(distributor_ids)

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One sacct (`SlurmClient.query_accounting`)."""
        return self.client.query_accounting(distributor_ids)

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The Slurm state map (`distributor_slurm.states.classify`)."""
        return states.classify(job, status, record)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> dict[str, str]:
        """Pending reasons that never clear (``PartitionTimeLimit``, ...); no command."""
        errors = {}
        for distributor_id, status in statuses.items():
            reason = states.queueing_error(status.reason)
            if reason is not None:
                errors[distributor_id] = reason
        return errors

    def cancel(self, targets: Sequence[str]) -> None:
        """``scancel`` the job ids and array task ids."""
        self.client.cancel(list(targets))

    def force_cancel(self, targets: Sequence[str]) -> None:
        """Slurm has nothing stronger than ``scancel`` for a user: cancel again."""
        self.client.cancel(list(targets))

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """One ``squeue --states=all --name=...`` (jobs ended less than ``MinJobAge`` ago
        included), oldest job first."""
        return self.client.find_jobs(job_names)
