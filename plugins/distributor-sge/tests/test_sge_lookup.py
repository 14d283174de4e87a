"""On the real Grid Engine: submissions whose answer was lost are found by name with one
qstat, and a job that leaves no trace at all is looked for until the lost-job grace, then
``U`` — decided once, and written to its task directory."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from distributor import RemoteExitInfoNotAvailable, TaskInstanceStatus
from distributor.batch import CommandResult, PollPolicy, RecordingTransport
from distributor.testing import wait_for_exit_info
from distributor.testing.faults import SimulatedCrash
from distributor_sge import SgeDistributor
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
TIMEOUT = 120.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; AssertionError after `TIMEOUT` seconds."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited {TIMEOUT}s for {what}")


def crash_after_qsub(sge: SgeDistributor, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every later qsub of `sge` succeed and then "kill" the caller (`SimulatedCrash`),
    as if the process died before it could record the answer; returns the job numbers."""
    submitted: list[str] = []
    real_submit = sge.client.submit

    def submit_then_crash(script: Path) -> str:
        submitted.append(real_submit(script))
        raise SimulatedCrash("killed right after qsub")

    monkeypatch.setattr(sge.client, "submit", submit_then_crash)
    return submitted


def test_submissions_whose_answer_was_lost_are_found_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new distributor on the same submit root finds, with one qstat for all names, a
    recorded submission (from the index), a lost one still queued (qstat lists it under its
    name) and a lost one that already ended (its records name it); then it answers for their
    ids, and later lookups ask Grid Engine nothing."""
    root = tmp_path / "root"
    go = tmp_path / "go"
    first = dev_distributor(root)
    recorded = first.submit_to_batch_distributor("true", "lookup recorded", {})
    jobs = crash_after_qsub(first, monkeypatch)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("true", "9 lookup ended", {})
    ended = jobs[0]
    ended_dir = next(root.glob("_9_lookup_ended-*"))
    wait_for(lambda: (ended_dir / "exit.json").exists(), "the ended job's exit record")
    wait_for(lambda: first.client.query_status([ended]) == {}, "the ended job to leave qstat")
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor(
            f"while [ ! -e {go} ]; do sleep 0.1; done", "lookup waiting", {}, 2
        )
    waiting = jobs[1]
    try:
        second_looks(root, recorded, waiting, ended)
    finally:
        go.touch()  # the array ends whatever happened
    third = dev_distributor(root)
    found = third.find_by_name(["lookup recorded", "lookup waiting", "9 lookup ended"])
    assert third.client.runner.calls == Counter(), "all of them are recorded by now"
    for steps in found.values():
        for distributor_id in steps.values():
            info = wait_for_exit_info(third, distributor_id, TIMEOUT, 0.2)
            assert info.error_state == TaskInstanceStatus.DONE, (distributor_id, info)
    waiting_dir = next(root.glob("lookup_waiting-*"))
    outcomes = third.submit_root.read_outcomes(waiting_dir)
    assert {did: entry["state"] for did, entry in outcomes.items()} == {
        f"{waiting}.1": "D",
        f"{waiting}.2": "D",
    }


def second_looks(root: Path, recorded: str, waiting: str, ended: str) -> None:
    """What a new distributor on `root` finds by name while the array `waiting` is queued or
    running, and how many commands it takes."""
    second = dev_distributor(root)
    before = second.client.runner.calls
    found = second.find_by_name(
        ["lookup recorded", "lookup waiting", "9 lookup ended", "lookup never"]
    )
    assert second.client.runner.calls - before == Counter({"qstat": 1})
    assert found == {
        "lookup recorded": {0: recorded},
        "lookup waiting": {0: f"{waiting}.1", 1: f"{waiting}.2"},
        "9 lookup ended": {0: ended},
    }
    before = second.client.runner.calls
    assert second.find_by_name(["lookup waiting", "9 lookup ended"]) == {
        "lookup waiting": found["lookup waiting"],
        "9 lookup ended": found["9 lookup ended"],
    }
    assert second.client.runner.calls == before, "recorded submissions need no command"

    ids = set(found["lookup waiting"].values())
    assert second.get_submitted_or_running(list(ids)) == ids


def test_a_job_without_any_trace_is_looked_for_then_lost(tmp_path: Path) -> None:
    """A job that left qstat with no accounting record (qacct says "not found") and no exit
    record (its worker was killed) is "still looking" until the lost-job grace, then a final
    U, which is written to its task directory and answered by a new distributor too."""
    transport = RecordingTransport(
        lambda argv, n: (
            CommandResult(argv, 1, "", "error: job id not found\n") if argv[0] == "qacct" else None
        )
    )
    policy = PollPolicy(
        min_interval=0.2,
        max_interval=0.5,
        accounting_interval=0.5,
        accounting_delay=1.0,
        lost_grace=4.0,
    )
    root = tmp_path / "root"
    sge = dev_distributor(root, transport=transport, poll_policy=policy)
    distributor_id = sge.submit_to_batch_distributor("kill -9 $PPID", "traceless", {})
    looking: list[str] = []

    def still_looking() -> bool:
        try:
            sge.get_remote_exit_info(distributor_id)
        except RemoteExitInfoNotAvailable as exc:
            if "still looking" in str(exc):
                looking.append(str(exc))
                return True
        return False

    wait_for(still_looking, "the job to be looked for")
    info = wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2)
    assert info.error_state == TaskInstanceStatus.UNKNOWN_ERROR and "lost" in info.error_message
    task_dir = next(root.glob("traceless-*"))
    assert not (task_dir / "exit.json").exists() and (task_dir / "started.json").exists()
    assert sge.submit_root.read_outcomes(task_dir)[distributor_id]["state"] == "U"
    again = dev_distributor(root)
    assert again.get_remote_exit_info(distributor_id) == info
    assert again.client.runner.calls == Counter(), "a decided outcome needs no command"
