"""`HTCondorWorkerNode`: what a task running under HTCondor learns about itself."""

from __future__ import annotations

import os
import re
from pathlib import Path

from distributor.batch import BatchWorkerNode
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


class HTCondorWorkerNode(BatchWorkerNode):
    """Ids from the job script's variables, else the submit description's, else the job ad."""

    def scheduler_id(self) -> str | None:
        """``cluster.proc`` from the variables the submit description's ``environment`` sets
        (``$(Cluster)``, ``$(Process)``), else from the ``_CONDOR_JOB_AD`` file."""
        cluster = os.environ.get(CLUSTER_VARIABLE, "")
        proc = os.environ.get(PROC_VARIABLE, "")
        if cluster.isdigit() and proc.isdigit():
            return f"{int(cluster)}.{int(proc)}"
        return _job_ad_id()
