"""`HTCondorWorkerNode`: what a task running under HTCondor learns about itself."""

from __future__ import annotations

import json
import os
import re
import resource
from pathlib import Path

from distributor.batch import exit_info_from_returncode, safe_name
from distributor_htcondor.submit import CLUSTER_VARIABLE, PROC_VARIABLE

__all__ = ["HTCondorWorkerNode"]

_AD_LINE = re.compile(r"^\s*(ClusterId|ProcId)\s*=\s*(\d+)\s*$", re.MULTILINE)


def _job_ad_id() -> str | None:
    """``ClusterId.ProcId`` from the job ad file HTCondor names in ``_CONDOR_JOB_AD``."""
    path = os.environ.get("_CONDOR_JOB_AD")
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = dict(_AD_LINE.findall(text))
    if "ClusterId" in found and "ProcId" in found:
        return f"{int(found['ClusterId'])}.{int(found['ProcId'])}"
    return None


class HTCondorWorkerNode:
    """Reads the job id from the job script's variables or HTCondor's job ad file."""

    @property
    def distributor_id(self) -> str | None:
        """``DISTRIBUTOR_ID`` if the job script exported it, else ``cluster.proc`` from the
        submit description's variables, else from the ``_CONDOR_JOB_AD`` file."""
        exported = os.environ.get("DISTRIBUTOR_ID", "")
        if exported and exported != ".":
            return exported
        cluster = os.environ.get(CLUSTER_VARIABLE, "")
        proc = os.environ.get(PROC_VARIABLE, "")
        if cluster.isdigit() and proc.isdigit():
            return f"{int(cluster)}.{int(proc)}"
        return _job_ad_id()

    @property
    def array_step_id(self) -> int | None:
        """``DISTRIBUTOR_ARRAY_STEP_ID`` (``$(Process)`` plus the chunk offset); None outside
        arrays."""
        step = os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID", "")
        return int(step) if step.isdigit() else None

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
        """``D`` for 0; ``E`` naming the status or signal (128+N) otherwise."""
        return exit_info_from_returncode(exit_code, error_msg)

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """``<log_dir>/<name>.<log_type>.<cluster.proc>``, creating the directory."""
        directory = Path(log_dir).expanduser()
        directory.mkdir(parents=True, exist_ok=True)
        suffix = safe_name(self.distributor_id or str(os.getpid()))
        return str((directory / f"{safe_name(name)}.{safe_name(log_type)}.{suffix}").resolve())
