"""`SlurmDistributor`: submit with sbatch, track with one squeue per poll cycle, exact exit info.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (``#SBATCH`` directives, identity, ``distributor-worker`` around the quoted
  command), logs and exit records. ``sbatch --parsable`` returns the job id.
* **Arrays** are ``--array=0-(n-1)[%cap]`` chunks of at most ``MaxArraySize`` tasks; chunk ``k``
  adds its offset to ``SLURM_ARRAY_TASK_ID`` to give ``DISTRIBUTOR_ARRAY_STEP_ID``. Step ``s``
  maps to ``<chunk job id>_<s - offset>``. If a chunk is refused, the chunks already submitted
  are cancelled before `SubmissionError` is raised.
* **Tracking** is a `distributor.batch.StatusTracker` over `SlurmClient` (see there): one
  squeue per cycle, sacct only for jobs Slurm's controller has forgotten, the worker's record
  after the accounting delay, lost jobs ``U``.
* **Termination** is one ``scancel`` naming whole arrays by their job id where possible, and is
  remembered: a pending array task cancelled by it leaves no trace in squeue or sacct.
* **Restarts.** Ids are recorded in the submit root's index, so a new distributor on the same
  root answers for ids issued by an earlier one.
* Jobs are submitted with ``--no-requeue`` unless ``requeue=True``: a node failure then ends the
  attempt as ``U`` at once instead of a silent requeue held for minutes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from distributor import ResourceRequest, format_seconds
from distributor.batch import (
    DEFAULT_RETENTION,
    JobScript,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    TrackedDistributor,
    Transport,
    check_arguments,
    safe_name,
)
from distributor_slurm import parsers, states
from distributor_slurm.client import SlurmClient
from distributor_slurm.queue import DECLARED_RESOURCES

__all__ = ["SlurmDistributor"]

_SINGLE_ID = '"$SLURM_JOB_ID"'
_ARRAY_ID = '"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"'


class SlurmDistributor(TrackedDistributor):
    """Submits to and tracks a Slurm cluster (see the module docstring).

    Args:
        cluster_name: a name for the cluster (used in messages and the default submit root).
        submit_root: directory for job scripts, logs and exit records; must be visible at the
            same path on the compute nodes.
        slurm_conf: ``SLURM_CONF`` for every Slurm command (default: the environment's).
        transport / retry_policy: how Slurm commands run (default: locally, `SLURM_TRANSIENT`).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        requeue: let Slurm requeue jobs after a node failure (default: no).
        max_array_size: at most this many tasks per array chunk (default: the cluster's
            ``MaxArraySize``).
        retention: seconds a task directory is kept after its last change (default 7
            days; None keeps all); expired ones are deleted by `start`, once a day.
        use_queue_history: read final states of recently ended jobs from squeue.
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
    """

    scheduler = "slurm"
    declared_resources = DECLARED_RESOURCES
    log_submitted_name = True

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        slurm_conf: str | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        requeue: bool = False,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        use_queue_history: bool = True,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments("SlurmDistributor", args, kwargs, max_array_size)
        self.client = SlurmClient(
            slurm_conf=slurm_conf,
            transport=transport,
            retry_policy=retry_policy,
            use_queue_history=use_queue_history,
        )
        super().__init__(
            cluster_name,
            self.client,
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
        )
        self._requeue = requeue

    def scheduler_array_limit(self) -> int:
        """``MaxArraySize`` from ``scontrol show config`` (Slurm's default 1001 if unreadable)."""
        try:
            return int(self.client.config().get("MaxArraySize", "1001"))
        except ValueError:
            return 1001  # Slurm's default

    # --- submission ---------------------------------------------------------------------

    def _directives(
        self, request: ResourceRequest, name: str, task_dir: Path, array: str | None
    ) -> list[tuple[str, str | None]]:
        suffix = "-%a" if array is not None else ""
        directives: list[tuple[str, str | None]] = [
            ("--job-name", safe_name(name)),
            ("--output", f"{task_dir}/stdout{suffix}.log"),
            ("--error", f"{task_dir}/stderr{suffix}.log"),
            ("--nodes", "1"),
            ("--ntasks", "1"),
        ]
        if array is not None:
            directives.append(("--array", array))
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
        for key, flag in (
            ("slurm.account", "--account"),
            ("slurm.qos", "--qos"),
            ("slurm.reservation", "--reservation"),
            ("slurm.constraint", "--constraint"),
        ):
            if key in request.extra:
                directives.append((flag, request.extra[key]))
        return directives

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[str, Path]:
        """Write and submit one job (array chunk = (offset, length)); return (job id, dir)."""
        with self.submission(name, "Slurm") as task_dir:
            if array is None:
                spec, record, id_expr, step_expr = None, task_dir / "exit.json", _SINGLE_ID, None
            else:
                offset, length = array
                cap = request.extra.get("slurm.array_cap")
                spec = f"0-{length - 1}" + (f"%{cap}" if cap else "")
                record = task_dir / "exit-{step}.json"
                id_expr = _ARRAY_ID
                step_expr = f"$((SLURM_ARRAY_TASK_ID + {offset}))"
            script = JobScript(
                command=command,
                worker=self._worker,
                record=str(record),
                distributor_id_expr=id_expr,
                array_step_expr=step_expr,
                directive_prefix="#SBATCH",
                directives=self._directives(request, name, task_dir, spec),
                label=name,
                generator="distributor-slurm",
            ).render()
            path = self._root.write_script(task_dir, script)
            job_id = self.client.submit(path)
        self.register_job(
            job_id,
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            array=array,
        )
        return job_id, task_dir

    def array_task_id(self, job_key: str, index: int) -> str:
        """``<job id>_<index>``."""
        return f"{job_key}_{index}"

    # --- tracking hooks (the rest is TrackedDistributor's) ------------------------------

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """``"123_4"`` → ``("123", 4)``; ``"123"`` → ``("123", None)``; else None."""
        match = parsers.DISTRIBUTOR_ID.fullmatch(distributor_id)
        if match is None:
            return None
        return match["job"], None if match["task"] is None else int(match["task"])

    def cancel(self, tokens: Sequence[str]) -> None:
        """``scancel`` the job ids and array task ids in one call."""
        self.client.cancel(list(tokens))

    def queueing_error(self, status: JobStatus) -> str | None:
        """Pending reasons that never clear (``PartitionTimeLimit``, ...)."""
        return states.queueing_error(status.reason)
