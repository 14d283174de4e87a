"""`ExampleWorkerNode`: what a running task learns about itself from the scheduler."""

from __future__ import annotations

import os

from distributor.batch import BatchWorkerNode

__all__ = ["ExampleWorkerNode"]


class ExampleWorkerNode(BatchWorkerNode):
    """Ids from ``EXAMPLE_JOB_ID`` and ``EXAMPLE_TASK_ID`` when the job script did not export
    ``DISTRIBUTOR_ID`` (a command started by hand inside a job)."""

    def scheduler_id(self) -> str | None:
        job, task = os.environ.get("EXAMPLE_JOB_ID"), os.environ.get("EXAMPLE_TASK_ID")
        if job is None:
            return None
        return job if task is None else f"{job}.{task}"

    def scheduler_step(self) -> int | None:
        task = os.environ.get("EXAMPLE_TASK_ID", "")
        return int(task) if task.isdigit() else None
