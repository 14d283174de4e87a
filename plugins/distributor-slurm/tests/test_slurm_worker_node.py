"""SlurmWorkerNode: ids from Slurm's variables inside a real job, usage from the exit record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info
from distributor.worker import ExitRecord, write_exit_record
from distributor_slurm import SlurmDistributor, SlurmWorkerNode
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

PROBE = (
    "import json, sys; from distributor_slurm import SlurmWorkerNode as W; w = W(); "
    "json.dump({'id': w.distributor_id, 'step': w.array_step_id}, open(sys.argv[1], 'w'))"
)


@live
def test_ids_inside_real_array_tasks(tmp_path: Path) -> None:
    """Inside chunked array tasks the worker node sees the distributor's id and global step."""
    distributor = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "root",
        slurm_conf=SLURM_CONF,
        max_array_size=2,
        poll_policy=PollPolicy(min_interval=0.3, max_interval=1.0),
    )
    command = f'{sys.executable} -c "{PROBE}" {tmp_path}/probe-$DISTRIBUTOR_ARRAY_STEP_ID.json'
    steps = distributor.submit_array_to_batch_distributor(command, "probe", {}, 3)
    for step, did in steps.items():
        assert wait_for_exit_info(distributor, did, 120, 0.2).error_state == "D"
        seen = json.loads((tmp_path / f"probe-{step}.json").read_text())
        assert seen == {"id": did, "step": step}


def test_ids_from_slurm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DISTRIBUTOR_* variables the ids come from SLURM_* ones."""
    for name in ("DISTRIBUTOR_ID", "DISTRIBUTOR_ARRAY_STEP_ID", "DISTRIBUTOR_EXIT_RECORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "88")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "80")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "8")
    node = SlurmWorkerNode()
    assert (node.distributor_id, node.array_step_id) == ("80_8", 8)
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    assert (node.distributor_id, node.array_step_id) == ("88", None)
    monkeypatch.delenv("SLURM_JOB_ID")
    assert node.distributor_id is None


def test_usage_from_the_exit_record(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """get_usage_stats reads the record named by DISTRIBUTOR_EXIT_RECORD, else getrusage."""
    node = SlurmWorkerNode()
    monkeypatch.delenv("DISTRIBUTOR_EXIT_RECORD", raising=False)
    assert int(node.get_usage_stats()["maxrss"]) > 0
    write_exit_record(
        tmp_path / "exit-3.json",
        ExitRecord(returncode=0, exit_code=0, signal=None, maxrss_bytes=4096, cpu_seconds=2.5),
    )
    monkeypatch.setenv("DISTRIBUTOR_EXIT_RECORD", str(tmp_path / "exit-{step}.json"))
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "3")
    stats = node.get_usage_stats()
    assert stats["maxrss"] == "4096" and stats["cpu"] == "2.500"
    assert node.get_exit_info(0, "") == (TaskInstanceStatus.DONE.value, "")
    assert node.get_exit_info(3, "oops")[0] == TaskInstanceStatus.ERROR.value
    log = Path(node.initialize_logfile("stdout", str(tmp_path / "logs"), "my task"))
    assert log.parent.is_dir() and log.name.startswith("my_task.stdout.")
