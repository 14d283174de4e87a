"""`SlurmWorkerNode`: what a task running under Slurm learns about itself."""

from __future__ import annotations

import os
from pathlib import Path

from distributor import SchedulerOutputError
from distributor.batch import BatchWorkerNode, usage_stats
from distributor.worker import read_exit_record

__all__ = ["SlurmWorkerNode"]


class SlurmWorkerNode(BatchWorkerNode):
    """Ids from the job script (else Slurm's variables), usage from the worker's exit record."""

    def scheduler_id(self) -> str | None:
        """``<SLURM_ARRAY_JOB_ID>_<SLURM_ARRAY_TASK_ID>`` for array tasks, else
        ``SLURM_JOB_ID``."""
        array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        if array_job and task:
            return f"{array_job}_{task}"
        return os.environ.get("SLURM_JOB_ID") or None

    def scheduler_step(self) -> int | None:
        """``SLURM_ARRAY_TASK_ID`` (the step within its chunk), None outside arrays."""
        task = os.environ.get("SLURM_ARRAY_TASK_ID", "")
        return int(task) if task.isdigit() else None

    def get_usage_stats(self) -> dict[str, str]:
        """Usage from the exit record named by ``DISTRIBUTOR_EXIT_RECORD`` once the worker has
        written it, else this process's and its children's ``getrusage``."""
        template = os.environ.get("DISTRIBUTOR_EXIT_RECORD")
        if template:
            path = template.replace("{step}", str(self.array_step_id)).replace(
                "{id}", self.distributor_id or "none"
            )
            try:
                record = read_exit_record(Path(path))
            except (SchedulerOutputError, OSError):
                record = None
            if record is not None:
                return usage_stats(record)
        return super().get_usage_stats()
