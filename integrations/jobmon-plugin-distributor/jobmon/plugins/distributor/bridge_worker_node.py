"""`BridgeWorkerNode`: what Jobmon's worker learns about itself inside a distributor task.

Every distributor plugin starts a task with ``DISTRIBUTOR_ID`` and, for array steps, the 0-based
``DISTRIBUTOR_ARRAY_STEP_ID`` in its environment — the step Jobmon's array batches count from
too — so one worker node serves every plugin; Jobmon builds it without arguments.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
from pathlib import Path

from distributor import ClusterWorkerNodeFactory, TaskInstanceStatus

__all__ = ["BridgeWorkerNode"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_LOG_SUFFIX = {"stdout": "o", "stderr": "e"}


def _describe(exit_code: int) -> str:
    """``exited with status 3``, or the signal for a negative status (asyncio's) or 128+N."""
    number = -exit_code if exit_code < 0 else exit_code - 128 if 128 < exit_code < 193 else 0
    if not number:
        return f"exited with status {exit_code}"
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return f"was killed by {name} (status {exit_code})"


class BridgeWorkerNode:
    """Jobmon's ``ClusterWorkerNode`` for tasks started by any distributor plugin."""

    @property
    def distributor_id(self) -> str | None:
        """``DISTRIBUTOR_ID``, or None outside a distributor task."""
        return os.environ.get("DISTRIBUTOR_ID") or None

    @property
    def array_step_id(self) -> int | None:
        """``DISTRIBUTOR_ARRAY_STEP_ID`` (0-based), or None for a single task."""
        step = os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "")
        return int(step) if step.isdigit() else None

    def get_usage_stats(self) -> dict[str, str]:
        """Peak RSS (bytes) and CPU seconds of this worker and the commands it waited for."""
        usages = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        maxrss = max(usage.ru_maxrss for usage in usages) * 1024  # Linux reports KiB
        cpu = sum(usage.ru_utime + usage.ru_stime for usage in usages)
        raw = {"maxrss_bytes": maxrss, "cpu_seconds": round(cpu, 6)}
        return {"maxrss": str(maxrss), "cpu": f"{cpu:.3f}", "usage_str": json.dumps(raw)}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """``E`` (Jobmon retries it) with the status or signal and the end of the command's
        stderr; ``D`` for 0, which Jobmon's worker never asks about."""
        if exit_code == 0:
            return TaskInstanceStatus.DONE.value, ""
        detail = f": {error_msg.strip()[-2000:]}" if error_msg.strip() else ""
        return TaskInstanceStatus.ERROR.value, f"the command {_describe(exit_code)}{detail}"

    def initialize_logfile(self, log_type: str, log_dir: str | None, name: str) -> str:
        """``<log_dir>/<name>.o<id>`` (``.e<id>`` for stderr), its directory created; ``/dev/null``
        when Jobmon has no directory (the task set no ``stdout``/``stderr`` resource).

        Raises:
            ValueError: `log_type` is neither ``stdout`` nor ``stderr``.
        """
        if log_type not in _LOG_SUFFIX:
            raise ValueError(f"log_type must be 'stdout' or 'stderr', not {log_type!r}")
        if not log_dir:
            return os.devnull
        directory = Path(log_dir).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        safe = _UNSAFE.sub("_", name).lstrip(".-")[:100] or "task"
        suffix = _UNSAFE.sub("_", self.distributor_id or str(os.getpid()))
        return str(directory.resolve() / f"{safe}.{_LOG_SUFFIX[log_type]}{suffix}")


_pinned: ClusterWorkerNodeFactory = BridgeWorkerNode
