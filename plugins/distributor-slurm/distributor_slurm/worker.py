"""`SlurmWorkerNode`: what a task running under Slurm learns about itself."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

from distributor import SchedulerOutputError
from distributor.batch import exit_info_from_returncode, safe_name, usage_stats
from distributor.worker import read_exit_record

__all__ = ["SlurmWorkerNode"]


class SlurmWorkerNode:
    """Reads ids from Slurm's variables and usage from the worker's exit record."""

    @property
    def distributor_id(self) -> str | None:
        """``<SLURM_ARRAY_JOB_ID>_<SLURM_ARRAY_TASK_ID>`` for array tasks, else
        ``SLURM_JOB_ID`` (``DISTRIBUTOR_ID`` wins when the job script exported it)."""
        exported = os.environ.get("DISTRIBUTOR_ID")
        if exported:
            return exported
        array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
        task = os.environ.get("SLURM_ARRAY_TASK_ID")
        if array_job and task:
            return f"{array_job}_{task}"
        return os.environ.get("SLURM_JOB_ID") or None

    @property
    def array_step_id(self) -> int | None:
        """``DISTRIBUTOR_ARRAY_STEP_ID`` (which includes the chunk offset), else
        ``SLURM_ARRAY_TASK_ID``; None outside arrays."""
        for name in ("DISTRIBUTOR_ARRAY_STEP_ID", "SLURM_ARRAY_TASK_ID"):
            value = os.environ.get(name, "")
            if value.isdigit():
                return int(value)
        return None

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
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        maxrss = max(own.ru_maxrss, children.ru_maxrss) * 1024  # Linux reports KiB
        cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        raw = {"maxrss_bytes": maxrss, "cpu_seconds": cpu}
        return {"maxrss": str(maxrss), "cpu": f"{cpu:.3f}", "usage_str": json.dumps(raw)}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """``D`` for 0; ``E`` naming the status or signal (128+N) otherwise."""
        return exit_info_from_returncode(exit_code, error_msg)

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """``<log_dir>/<name>.<log_type>.<distributor id>``, creating the directory."""
        directory = Path(log_dir).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        suffix = safe_name(self.distributor_id or "local")
        path = directory / f"{safe_name(name)}.{safe_name(log_type)}.{suffix}"
        return str(path.resolve())
