"""BatchWorkerNode: the job script's variables win, the scheduler's are the fallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distributor import ClusterWorkerNode, TaskInstanceStatus
from distributor.batch import BatchWorkerNode


class _Scheduler(BatchWorkerNode):
    """A worker node of a scheduler that sets JOB and TASK (1-based)."""

    def scheduler_id(self) -> str | None:
        return os.environ.get("JOB")

    def scheduler_step(self) -> int | None:
        task = os.environ.get("TASK", "")
        return int(task) - 1 if task.isdigit() else None


def test_it_is_a_cluster_worker_node() -> None:
    """The base class has every ClusterWorkerNode member."""
    assert isinstance(BatchWorkerNode(), ClusterWorkerNode)


def test_job_script_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISTRIBUTOR_ID and DISTRIBUTOR_ARRAY_STEP_ID take precedence over the scheduler's."""
    monkeypatch.setenv("JOB", "7")
    monkeypatch.setenv("TASK", "3")
    monkeypatch.setenv("DISTRIBUTOR_ID", "7.3")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "1002")
    node = _Scheduler()
    assert (node.distributor_id, node.array_step_id) == ("7.3", 1002)


def test_scheduler_variables_are_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the job script's variables, the subclass's derivation is used."""
    monkeypatch.delenv("DISTRIBUTOR_ID", raising=False)
    monkeypatch.delenv("DISTRIBUTOR_ARRAY_STEP_ID", raising=False)
    monkeypatch.setenv("JOB", "7")
    monkeypatch.setenv("TASK", "3")
    node = _Scheduler()
    assert (node.distributor_id, node.array_step_id) == ("7", 2)
    assert (BatchWorkerNode().distributor_id, BatchWorkerNode().array_step_id) == (None, None)


def test_usage_exit_info_and_log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Usage has the documented keys, exit codes map to D/E, log files are named safely."""
    monkeypatch.setenv("DISTRIBUTOR_ID", "7.3")
    node = BatchWorkerNode()
    usage = node.get_usage_stats()
    assert int(usage["maxrss"]) > 0 and float(usage["cpu"]) >= 0 and "usage_str" in usage
    assert node.get_exit_info(0, "")[0] == TaskInstanceStatus.DONE
    state, message = node.get_exit_info(137, "boom")
    assert state == TaskInstanceStatus.ERROR and "SIGKILL" in message and "boom" in message
    path = Path(node.initialize_logfile("stdout", str(tmp_path / "logs"), "a b/../c"))
    assert path.parent == tmp_path / "logs" and path.name == "a_b_.._c.stdout.7.3"
