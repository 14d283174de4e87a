"""`LocalWorkerNode`: what a task started by the local backend learns about itself."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

from distributor.exit_info import TaskInstanceStatus

__all__ = ["LocalWorkerNode"]


class LocalWorkerNode:
    """Reads ``DISTRIBUTOR_ID`` and ``DISTRIBUTOR_ARRAY_STEP_ID`` from the environment."""

    @property
    def distributor_id(self) -> str | None:
        """The task's distributor id, or None outside a task."""
        return os.environ.get("DISTRIBUTOR_ID")

    @property
    def array_step_id(self) -> int | None:
        """The 0-based array step, or None for a single task."""
        step = os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "")
        return int(step) if step.isdigit() else None

    def get_usage_stats(self) -> dict[str, str]:
        """Peak RSS (bytes) and CPU seconds of this process and its waited-for children."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        maxrss = max(own.ru_maxrss, children.ru_maxrss) * 1024  # Linux reports KiB
        cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        raw = {
            "maxrss_bytes": maxrss,
            "cpu_seconds": round(cpu, 6),
            "self_user": own.ru_utime,
            "self_system": own.ru_stime,
            "children_user": children.ru_utime,
            "children_system": children.ru_stime,
        }
        return {"maxrss": str(maxrss), "cpu": f"{cpu:.6f}", "usage_str": json.dumps(raw)}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """``D`` for 0; ``E`` naming the code (or the signal for 128+N) and the message."""
        if exit_code == 0:
            return TaskInstanceStatus.DONE.value, ""
        what = f"exited with status {exit_code}"
        if 128 < exit_code < 128 + 65:
            what += f" (128+{exit_code - 128}: killed by a signal)"
        return TaskInstanceStatus.ERROR.value, f"{what}: {error_msg}" if error_msg else what

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """``<log_dir>/<name>.<distributor id>.<log_type>``, creating the directory."""
        if log_type not in ("stdout", "stderr"):
            raise ValueError(f"log_type must be 'stdout' or 'stderr', not {log_type!r}")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "task"
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        suffix = self.distributor_id or str(os.getpid())
        return str((directory / f"{safe}.{suffix}.{log_type}").resolve())
