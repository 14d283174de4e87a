"""`PbsWorkerNode`: what a task running under PBS Pro or Torque learns about itself.

Both flavours set ``PBS_JOBID`` (``123.server``; ``123[4].server`` for a subjob); the subjob
index is ``PBS_ARRAY_INDEX`` in PBS Pro and ``PBS_ARRAYID`` in Torque. The job scripts of this
plugin also export ``DISTRIBUTOR_ID`` and the 0-based ``DISTRIBUTOR_ARRAY_STEP_ID`` (chunk offset
included), which win.
"""

from __future__ import annotations

import os

from distributor.batch import BatchWorkerNode

__all__ = ["PbsWorkerNode"]


class PbsWorkerNode(BatchWorkerNode):
    """Reads ids from the job script's variables, else from PBS's."""

    def scheduler_id(self) -> str | None:
        """``PBS_JOBID``; None outside PBS."""
        return os.environ.get("PBS_JOBID") or None

    def scheduler_step(self) -> int | None:
        """``PBS_ARRAY_INDEX`` (PBS Pro) or ``PBS_ARRAYID`` (Torque), without the chunk offset
        of arrays split into chunks; None outside arrays."""
        for name in ("PBS_ARRAY_INDEX", "PBS_ARRAYID"):
            value = os.environ.get(name, "")
            if value.isdigit():
                return int(value)
        return None
