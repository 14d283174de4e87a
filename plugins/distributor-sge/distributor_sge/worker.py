"""`SgeWorkerNode`: what a task running under Grid Engine learns about itself.

Grid Engine sets ``JOB_ID`` and ``SGE_TASK_ID`` (the 1-based array task, the word ``undefined``
for a job that is not an array). The job scripts of this plugin also export ``DISTRIBUTOR_ID``
and the 0-based ``DISTRIBUTOR_ARRAY_STEP_ID`` (chunk offset included), which win.
"""

from __future__ import annotations

import os

from distributor.batch import BatchWorkerNode

__all__ = ["SgeWorkerNode"]


def _task() -> int | None:
    value = os.environ.get("SGE_TASK_ID", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


class SgeWorkerNode(BatchWorkerNode):
    """Reads ids from the job script's variables, else from Grid Engine's."""

    def scheduler_id(self) -> str | None:
        """``<JOB_ID>.<SGE_TASK_ID>`` for array tasks, ``JOB_ID`` otherwise; None outside Grid
        Engine."""
        job = os.environ.get("JOB_ID", "")
        if not job.isdigit():
            return None
        task = _task()
        return f"{job}.{task}" if task is not None else job

    def scheduler_step(self) -> int | None:
        """``SGE_TASK_ID - 1`` (without the chunk offset of arrays split into chunks); None
        outside arrays."""
        task = _task()
        return task - 1 if task is not None else None
