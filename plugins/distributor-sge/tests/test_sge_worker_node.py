"""SgeWorkerNode: ids from the job script's variables, else JOB_ID and SGE_TASK_ID."""

from __future__ import annotations

import pytest

from distributor import ClusterWorkerNode
from distributor_sge import SgeWorkerNode


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """No job variables unless a test sets them."""
    for name in ("DISTRIBUTOR_ID", "DISTRIBUTOR_ARRAY_STEP_ID", "JOB_ID", "SGE_TASK_ID"):
        monkeypatch.delenv(name, raising=False)


def test_outside_grid_engine_there_are_no_ids() -> None:
    """Without any variable the ids are None, and the node is a ClusterWorkerNode."""
    node = SgeWorkerNode()
    assert isinstance(node, ClusterWorkerNode)
    assert (node.distributor_id, node.array_step_id) == (None, None)


def test_single_job_has_undefined_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job that is not an array has SGE_TASK_ID=undefined: id JOB_ID, no step."""
    monkeypatch.setenv("JOB_ID", "42")
    monkeypatch.setenv("SGE_TASK_ID", "undefined")
    node = SgeWorkerNode()
    assert (node.distributor_id, node.array_step_id) == ("42", None)


def test_array_task_is_one_based(monkeypatch: pytest.MonkeyPatch) -> None:
    """Task 3 of job 42 is id 42.3 and step 2; the job script's variables win when set."""
    monkeypatch.setenv("JOB_ID", "42")
    monkeypatch.setenv("SGE_TASK_ID", "3")
    assert (SgeWorkerNode().distributor_id, SgeWorkerNode().array_step_id) == ("42.3", 2)
    monkeypatch.setenv("DISTRIBUTOR_ID", "42.3")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "75002")
    assert SgeWorkerNode().array_step_id == 75002
