"""HTCondorWorkerNode: ids from the job script's variables or HTCondor's job ad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distributor_htcondor import HTCondorWorkerNode

VARIABLES = (
    "DISTRIBUTOR_ID",
    "DISTRIBUTOR_ARRAY_STEP_ID",
    "DISTRIBUTOR_CONDOR_CLUSTER",
    "DISTRIBUTOR_CONDOR_PROC",
    "_CONDOR_JOB_AD",
)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch) -> HTCondorWorkerNode:
    """A worker node in an environment without any job variables."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return HTCondorWorkerNode()


def test_ids_from_the_job_script(node: HTCondorWorkerNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """DISTRIBUTOR_ID and DISTRIBUTOR_ARRAY_STEP_ID win."""
    monkeypatch.setenv("DISTRIBUTOR_ID", "41.2")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "20002")
    assert (node.distributor_id, node.array_step_id) == ("41.2", 20002)


def test_ids_from_the_submit_description(
    node: HTCondorWorkerNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the script's variables, $(Cluster).$(Process) from the environment command."""
    monkeypatch.setenv("DISTRIBUTOR_CONDOR_CLUSTER", "41")
    monkeypatch.setenv("DISTRIBUTOR_CONDOR_PROC", "2")
    assert (node.distributor_id, node.array_step_id) == ("41.2", None)


def test_ids_from_the_job_ad_file(
    node: HTCondorWorkerNode, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Outside this plugin's scripts, ClusterId and ProcId come from _CONDOR_JOB_AD."""
    assert HTCondorWorkerNode().distributor_id is None
    ad = tmp_path / ".job.ad"
    ad.write_text('Cmd = "/bin/true"\nClusterId = 77\nProcId = 5\nJobStatus = 2\n')
    monkeypatch.setenv("_CONDOR_JOB_AD", str(ad))
    assert node.distributor_id == "77.5"
    ad.write_text("garbage\n")
    assert HTCondorWorkerNode().distributor_id is None


def test_usage_exit_info_and_log_files(node: HTCondorWorkerNode, tmp_path: Path) -> None:
    """Usage is numeric, exit codes classify, and log files are named after the job."""
    usage = node.get_usage_stats()
    assert int(usage["maxrss"]) > 0 and float(usage["cpu"]) >= 0
    assert json.loads(usage["usage_str"])["maxrss_bytes"] == int(usage["maxrss"])
    assert node.get_exit_info(0, "") == ("D", "")
    state, message = node.get_exit_info(137, "boom")
    assert state == "E" and "SIGKILL" in message and "boom" in message
    path = Path(node.initialize_logfile("stdout", str(tmp_path / "logs"), "my task"))
    assert path.parent.is_dir() and path.name.startswith("my_task.stdout.")
