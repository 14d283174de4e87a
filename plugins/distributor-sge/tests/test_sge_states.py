"""The Grid Engine state map: qstat letters → phases, qacct records → exit info (the table in
distributor_sge.states), without a cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import JobPhase, TrackedJob
from distributor.worker import ExitRecord
from distributor_sge import states
from distributor_sge.accounting import AccountingRecord

D, E, K, U, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.UNKNOWN_ERROR,
    TaskInstanceStatus.RESOURCE_ERROR,
)
MIB = 2**20


@pytest.mark.parametrize(
    ("letters", "phase"),
    [
        ("qw", JobPhase.QUEUED),
        ("hqw", JobPhase.QUEUED),
        ("Eqw", JobPhase.QUEUED),
        ("Rq", JobPhase.QUEUED),
        ("t", JobPhase.RUNNING),
        ("r", JobPhase.RUNNING),
        ("Rr", JobPhase.RUNNING),
        ("dr", JobPhase.RUNNING),
        ("s", JobPhase.RUNNING),
        ("S", JobPhase.RUNNING),
        ("zz", JobPhase.QUEUED),
    ],
)
def test_phase_of_state_letters(letters: str, phase: JobPhase) -> None:
    """Error and waiting states are queued, running/transferring/suspended ones running."""
    assert states.phase_of(letters) is phase
    assert states.is_error_state(letters) == ("E" in letters)


def record(**fields: object) -> AccountingRecord:
    """A qacct record of job 7 with the given fields (success by default)."""
    defaults: dict[str, object] = {
        "job": "7",
        "task": None,
        "failed": 0,
        "failed_reason": "",
        "exit_status": 0,
        "wallclock_seconds": 2.0,
        "cpu_seconds": 0.1,
        "maxvmem_bytes": 5 * MIB,
        "maxrss_bytes": 4 * MIB,
        "elapsed_seconds": 2,
    }
    return AccountingRecord(**{**defaults, **fields})  # type: ignore[arg-type]  # test helper


def exit_record(returncode: int, signal: str | None = None, maxrss: int = MIB) -> ExitRecord:
    """The worker's record of a command that ended with `returncode`."""
    code = None if signal else returncode
    return ExitRecord(returncode=returncode, exit_code=code, signal=signal, maxrss_bytes=maxrss)


def job(**fields: object) -> TrackedJob:
    """A tracked job of id 7 with a record path."""
    return TrackedJob("7", record_path=Path("/nowhere/exit.json"), **fields)  # type: ignore[arg-type]


def test_success_is_done() -> None:
    """failed 0, exit_status 0 and a worker record saying 0 is D."""
    info = states.classify(job(), record().to_status(), exit_record(0))
    assert (info.error_state, info.error_message) == (D, "")


def test_exit_3_is_error_with_code() -> None:
    """A command exiting 3 is E, and the message carries the status and Grid Engine's view."""
    info = states.classify(job(), record(exit_status=3).to_status(), exit_record(3), "oops\n")
    assert info.error_state == E
    assert "status 3" in info.error_message and "exit_status 3" in info.error_message
    assert "'oops'" in info.error_message


def test_command_killed_by_sigkill_is_error() -> None:
    """The worker survives its command's SIGKILL and exits 137 with failed 0: E, naming it."""
    info = states.classify(job(), record(exit_status=137).to_status(), exit_record(137, "SIGKILL"))
    assert info.error_state == E and "SIGKILL" in info.error_message


def test_h_rt_is_resource_error() -> None:
    """failed 37 past the runtime request is Z about runtime."""
    status = record(failed=37, exit_status=137, wallclock_seconds=4.0).to_status()
    info = states.classify(job(runtime_seconds=3), status, None)
    assert info.error_state == Z and "runtime limit (h_rt) of 00:00:03" in info.error_message


def test_h_vmem_enforced_by_qmaster_is_resource_error() -> None:
    """failed 37 with the peak at the memory request is Z about memory."""
    status = record(failed=37, exit_status=137, maxvmem_bytes=199 * MIB).to_status()
    info = states.classify(job(memory_bytes=200 * MIB, runtime_seconds=60), status, None)
    assert info.error_state == Z and "memory limit (h_vmem)" in info.error_message


def test_failed_allocation_under_h_vmem_is_resource_error() -> None:
    """An ordinary exit 1 with MemoryError in stderr, under a memory request, is Z."""
    status = record(exit_status=1, maxvmem_bytes=0, maxrss_bytes=20 * MIB).to_status()
    tail = "Traceback (most recent call last):\nMemoryError\n"
    info = states.classify(job(memory_bytes=200 * MIB), status, exit_record(1), tail)
    assert info.error_state == Z and "allocation failed" in info.error_message
    assert "MemoryError" in info.error_message


def test_exit_1_near_the_memory_request_is_resource_error() -> None:
    """An exit 1 whose peak reached 90 % of the memory request is Z even without a message."""
    status = record(exit_status=1, maxrss_bytes=188 * MIB).to_status()
    assert states.classify(job(memory_bytes=200 * MIB), status, None).error_state == Z
    assert states.classify(job(), status, None).error_state == E


def test_external_qdel_is_killed() -> None:
    """failed 100 (a signal from outside) without our termination is K, saying so."""
    status = record(failed=100, failed_reason="assumedly after job", exit_status=137).to_status()
    info = states.classify(job(), status, None)
    assert info.error_state == K and "outside this distributor" in info.error_message
    assert "SIGKILL" in info.error_message


def test_terminated_is_killed_unless_it_succeeded() -> None:
    """After terminate_task_instances anything but a success is K."""
    killed = record(failed=100, exit_status=137).to_status()
    assert states.classify(job(terminated=True), killed, None).error_state == K
    done = states.classify(job(terminated=True), record().to_status(), exit_record(0))
    assert done.error_state == D


def test_forced_deletion_is_not_done() -> None:
    """qdel -f records failed 0 / exit 0 without usage: U, or K if we asked for it."""
    status = record(wallclock_seconds=0.0, cpu_seconds=0.0, elapsed_seconds=4).to_status()
    info = states.classify(job(), status, None)
    assert info.error_state == U and "qdel -f" in info.error_message
    assert states.classify(job(terminated=True), status, None).error_state == K
    quick = record(wallclock_seconds=0.0, cpu_seconds=0.0, elapsed_seconds=0).to_status()
    assert states.classify(job(), quick, None).error_state == D


@pytest.mark.parametrize("failed", [1, 11, 19, 26, 27, 28, 99])
def test_shepherd_failures_are_unknown_and_retryable(failed: int) -> None:
    """Failures around the job (output file, working directory, prolog...) are U."""
    status = record(failed=failed, failed_reason="whatever").to_status()
    info = states.classify(job(), status, None)
    assert info.error_state == U and "retryable" in info.error_message
    assert f"failed {failed}" in info.error_message


def test_record_disagreeing_with_success_is_error() -> None:
    """If Grid Engine says 0 but the worker recorded a failure, the record wins."""
    info = states.classify(job(), record().to_status(), exit_record(2))
    assert info.error_state == E and "status 2" in info.error_message
