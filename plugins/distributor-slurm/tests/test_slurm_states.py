"""The Slurm state map: every final state, the worker record, terminations, pending reasons."""

from __future__ import annotations

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import JobPhase, JobStatus, TrackedJob
from distributor.worker import ExitRecord
from distributor_slurm.states import FINAL_STATES, classify, phase_of, queueing_error

MIB = 2**20


def status(state: str, **fields: object) -> JobStatus:
    """A final status in `state`."""
    return JobStatus("7", JobPhase.FINAL, state, **fields)  # type: ignore[arg-type]  # known fields


@pytest.mark.parametrize(
    ("state", "expected", "words"),
    [
        ("COMPLETED", TaskInstanceStatus.DONE, ""),
        ("FAILED", TaskInstanceStatus.ERROR, "status 3"),
        ("OUT_OF_MEMORY", TaskInstanceStatus.RESOURCE_ERROR, "memory limit of 200.0 MiB"),
        ("TIMEOUT", TaskInstanceStatus.RESOURCE_ERROR, "runtime limit of 00:01:00"),
        ("DEADLINE", TaskInstanceStatus.RESOURCE_ERROR, "deadline"),
        ("CANCELLED", TaskInstanceStatus.KILLED_SELF, "cancelled by 0 outside"),
        ("NODE_FAIL", TaskInstanceStatus.UNKNOWN_ERROR, "node failed"),
        ("BOOT_FAIL", TaskInstanceStatus.UNKNOWN_ERROR, "boot"),
        ("PREEMPTED", TaskInstanceStatus.UNKNOWN_ERROR, "preempted"),
        ("REVOKED", TaskInstanceStatus.UNKNOWN_ERROR, "sibling"),
        ("LUNCH_BREAK", TaskInstanceStatus.UNKNOWN_ERROR, "does not know (LUNCH_BREAK)"),
    ],
)
def test_every_final_state_has_a_code_and_a_sentence(
    state: str, expected: TaskInstanceStatus, words: str
) -> None:
    """Each Slurm final state maps to its code with a message saying what happened."""
    job = TrackedJob("7", memory_bytes=200 * MIB, runtime_seconds=60)
    info = classify(job, status(state, exit_code=3, reason="by 0"), None)
    assert info.error_state == expected and info.finalized
    assert words in info.error_message
    if expected != TaskInstanceStatus.DONE:
        assert f"Slurm state {state}" in info.error_message


def test_all_known_final_states_are_final_phase() -> None:
    """Every state of the table is final; unknown states are active in squeue only."""
    assert all(phase_of(state) is JobPhase.FINAL for state in FINAL_STATES)
    assert phase_of("PENDING") is JobPhase.QUEUED and phase_of("COMPLETING") is JobPhase.RUNNING
    assert phase_of("NEW_STATE") is JobPhase.QUEUED
    assert phase_of("NEW_STATE", unknown=JobPhase.FINAL) is JobPhase.FINAL


def test_the_worker_record_names_what_the_command_did() -> None:
    """FAILED uses the record's signal or code rather than the wrapper's 128+N."""
    record = ExitRecord(returncode=137, exit_code=None, signal="SIGKILL")
    info = classify(TrackedJob("7"), status("FAILED", exit_code=137), record)
    assert info.error_state == TaskInstanceStatus.ERROR
    assert "killed by signal SIGKILL" in info.error_message and "137:0" in info.error_message


def test_sigkill_at_the_memory_request_is_a_resource_error() -> None:
    """FAILED by SIGKILL with peak memory near the request is Z (memory killed by polling)."""
    job = TrackedJob("7", memory_bytes=200 * MIB)
    near = status("FAILED", signal=9, maxrss_bytes=190 * MIB)
    assert classify(job, near, None).error_state == TaskInstanceStatus.RESOURCE_ERROR
    far = status("FAILED", signal=9, maxrss_bytes=20 * MIB)
    assert classify(job, far, None).error_state == TaskInstanceStatus.ERROR
    unknown_request = TrackedJob("7")
    assert classify(unknown_request, near, None).error_state == TaskInstanceStatus.ERROR


def test_termination_wins_unless_the_job_completed() -> None:
    """A terminated job is K in every state but COMPLETED."""
    job = TrackedJob("7", terminated=True)
    for state in sorted(FINAL_STATES - {"COMPLETED"}):
        info = classify(job, status(state), None)
        assert info.error_state == TaskInstanceStatus.KILLED_SELF
        assert "terminated on request" in info.error_message
    assert classify(job, status("COMPLETED"), None).error_state == TaskInstanceStatus.DONE


def test_unstartable_command_says_so() -> None:
    """A record with a start error is reported as such."""
    record = ExitRecord(returncode=127, exit_code=None, signal=None, error="No such file")
    info = classify(TrackedJob("7"), status("FAILED", exit_code=127), record)
    assert "could not be started (No such file)" in info.error_message


@pytest.mark.parametrize(
    ("reason", "never_clears"),
    [
        ("PartitionTimeLimit", True),
        ("QOSMaxMemoryPerJob", True),
        ("AssocMaxWallDurationPerJobLimit", True),
        ("DependencyNeverSatisfied", True),
        ("BadConstraints", True),
        ("Resources", False),
        ("Priority", False),
        ("ReqNodeNotAvail, UnavailableNodes:vm", False),
        ("JobArrayTaskLimit", False),
        ("", False),
    ],
)
def test_pending_reasons_that_never_clear(reason: str, never_clears: bool) -> None:
    """Only reasons waiting cannot fix are queueing errors, with the reason named."""
    message = queueing_error(reason)
    assert (message is not None) == never_clears
    if message is not None:
        assert reason in message and "never start" in message
