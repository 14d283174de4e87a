"""`BatchWorkerNode`: the `ClusterWorkerNode` of a task started by a batch plugin's job script.

Every job script rendered by `distributor.batch.JobScript` exports ``DISTRIBUTOR_ID`` and, for
array tasks, the 0-based ``DISTRIBUTOR_ARRAY_STEP_ID``, so a worker node reads those first. A
plugin's subclass only says how to work both out from the scheduler's own variables, for
commands started some other way::

    class SgeWorkerNode(BatchWorkerNode):
        def scheduler_id(self) -> str | None:
            return os.environ.get("JOB_ID")
"""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

from distributor.batch.script import safe_name
from distributor.batch.status import exit_info_from_returncode

__all__ = ["BatchWorkerNode"]


class BatchWorkerNode:
    """Ids from the job script's variables (else the scheduler's), usage from ``getrusage``."""

    def scheduler_id(self) -> str | None:
        """The task's id from the scheduler's own variables; None here (override it)."""
        return None

    def scheduler_step(self) -> int | None:
        """The 0-based array step from the scheduler's own variables; None here (override it)."""
        return None

    @property
    def distributor_id(self) -> str | None:
        """``DISTRIBUTOR_ID`` if the job script exported it, else `scheduler_id`."""
        return os.environ.get("DISTRIBUTOR_ID") or self.scheduler_id()

    @property
    def array_step_id(self) -> int | None:
        """``DISTRIBUTOR_ARRAY_STEP_ID`` (0-based, chunk offset included), else
        `scheduler_step`; None outside arrays."""
        step = os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "")
        return int(step) if step.isdigit() else self.scheduler_step()

    def get_usage_stats(self) -> dict[str, str]:
        """Peak RSS (bytes) and CPU seconds of this process and its waited-for children."""
        usages = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        maxrss = max(usage.ru_maxrss for usage in usages) * 1024  # Linux reports KiB
        cpu = sum(usage.ru_utime + usage.ru_stime for usage in usages)
        raw = {"maxrss_bytes": maxrss, "cpu_seconds": round(cpu, 6)}
        return {"maxrss": str(maxrss), "cpu": f"{cpu:.3f}", "usage_str": json.dumps(raw)}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """``D`` for 0; ``E`` naming the status, or the signal for 128+N, otherwise."""
        return exit_info_from_returncode(exit_code, error_msg)

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """``<log_dir>/<name>.<log_type>.<distributor id or pid>``, creating the directory."""
        directory = Path(log_dir).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        suffix = safe_name(self.distributor_id or str(os.getpid()))
        return str((directory / f"{safe_name(name)}.{safe_name(log_type)}.{suffix}").resolve())
