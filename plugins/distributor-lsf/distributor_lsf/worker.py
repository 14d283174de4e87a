"""`LsfWorkerNode`: what a task running under LSF learns about itself.

LSF sets ``LSB_JOBID`` (the job id, also for array elements) and ``LSB_JOBINDEX`` (the 1-based
array index, ``0`` for a job that is not an array element). The job scripts of this plugin
also export ``DISTRIBUTOR_ID`` and the 0-based ``DISTRIBUTOR_ARRAY_STEP_ID``, which win
(`distributor.batch.BatchWorkerNode`).
"""

from __future__ import annotations

import os

from distributor.batch import BatchWorkerNode

__all__ = ["LsfWorkerNode"]


def _index() -> int:
    value = os.environ.get("LSB_JOBINDEX", "")
    return int(value) if value.isdigit() else 0


class LsfWorkerNode(BatchWorkerNode):
    """Ids from the job script's variables, else from ``LSB_JOBID``/``LSB_JOBINDEX``."""

    def scheduler_id(self) -> str | None:
        """``<LSB_JOBID>[<LSB_JOBINDEX>]`` for array elements, ``LSB_JOBID`` otherwise."""
        job = os.environ.get("LSB_JOBID")
        if not job:
            return None
        return f"{job}[{_index()}]" if _index() > 0 else job

    def scheduler_step(self) -> int | None:
        """``LSB_JOBINDEX - 1`` for array elements (without any chunk offset), else None."""
        return _index() - 1 if _index() > 0 else None
