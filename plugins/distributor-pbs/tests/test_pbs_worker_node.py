"""PbsWorkerNode: ids from the job script's variables, else from PBS Pro's or Torque's."""

from __future__ import annotations

import pytest

from distributor_pbs import PbsWorkerNode

CLEAR = (
    "DISTRIBUTOR_ID",
    "DISTRIBUTOR_ARRAY_STEP_ID",
    "PBS_JOBID",
    "PBS_ARRAY_INDEX",
    "PBS_ARRAYID",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    """No identity variables unless a test sets them."""
    for name in CLEAR:
        monkeypatch.delenv(name, raising=False)


def test_outside_pbs_there_are_no_ids() -> None:
    """Without any variable the node has no id and no step."""
    node = PbsWorkerNode()
    assert (node.distributor_id, node.array_step_id) == (None, None)


@pytest.mark.parametrize("variable", ["PBS_ARRAY_INDEX", "PBS_ARRAYID"])
def test_pbs_variables_of_either_flavour(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """PBS_JOBID and the flavour's subjob index are read when the job script's are absent."""
    monkeypatch.setenv("PBS_JOBID", "123[4].server")
    monkeypatch.setenv(variable, "4")
    node = PbsWorkerNode()
    assert (node.distributor_id, node.array_step_id) == ("123[4].server", 4)


def test_job_script_variables_win(monkeypatch: pytest.MonkeyPatch) -> None:
    """DISTRIBUTOR_ID and DISTRIBUTOR_ARRAY_STEP_ID (chunk offset included) win over PBS's."""
    monkeypatch.setenv("PBS_JOBID", "9[1].server")
    monkeypatch.setenv("PBS_ARRAY_INDEX", "1")
    monkeypatch.setenv("DISTRIBUTOR_ID", "9[1].server")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "1001")
    assert PbsWorkerNode().array_step_id == 1001


def test_exit_info_and_usage() -> None:
    """Exit status 0 is D, 137 names SIGKILL, and usage has the documented keys."""
    node = PbsWorkerNode()
    assert node.get_exit_info(0, "") == ("D", "")
    state, message = node.get_exit_info(137, "")
    assert state == "E" and "SIGKILL" in message
    assert {"maxrss", "cpu", "usage_str"} <= set(node.get_usage_stats())
