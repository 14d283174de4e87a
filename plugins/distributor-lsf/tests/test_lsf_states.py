"""The LSF state map: every STAT, every TERM_* reason, the memory heuristic and the worker node."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import TaskInstanceStatus
from distributor.batch import JobPhase, JobStatus, TrackedJob
from distributor.worker import ExitRecord
from distributor_lsf import LsfWorkerNode, states
from distributor_lsf.scheduler import memory_limit

Z, K, U, E, D = (
    TaskInstanceStatus.RESOURCE_ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.UNKNOWN_ERROR,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.DONE,
)


def final(
    state: str = "EXIT", reason: str = "", code: int | None = 1, maxrss: int | None = None
) -> JobStatus:
    """A final status as bjobs or bhist would report it."""
    return JobStatus("7", JobPhase.FINAL, state, reason=reason, exit_code=code, maxrss_bytes=maxrss)


def record(exit_code: int | None = 1, signal: str | None = None, error: str = "") -> ExitRecord:
    """A worker record of a command that exited, was signalled or could not start."""
    returncode = 127 if error else (exit_code if signal is None else 130) or 0
    return ExitRecord(returncode, None if signal else exit_code, signal, error=error)


@pytest.mark.parametrize(
    ("reason", "expected", "words"),
    [
        ("TERM_RUNLIMIT", Z, "exceeded its runtime limit of 00:10:00"),
        ("TERM_MEMLIMIT", Z, "exceeded its memory limit of 100.0 MiB"),
        ("TERM_SWAP", Z, "swap limit"),
        ("TERM_CPULIMIT", Z, "CPU time limit"),
        ("TERM_PROCESSLIMIT", Z, "process limit"),
        ("TERM_THREADLIMIT", Z, "thread limit"),
        ("TERM_DEADLINE", Z, "deadline"),
        ("TERM_OWNER", K, "killed by its owner outside this distributor"),
        ("TERM_FORCE_OWNER", K, "by its owner"),
        ("TERM_ADMIN", K, "by root or an LSF administrator"),
        ("TERM_FORCE_ADMIN", K, "administrator"),
        ("TERM_REQUEUE_OWNER", K, "owner"),
        ("TERM_BUCKET_KILL", K, "bkill -b"),
        ("TERM_PREEMPT", U, "job killed after preemption; retryable"),
        ("TERM_LOAD", U, "load exceeds threshold"),
        ("TERM_WINDOW", U, "run window closed"),
        ("TERM_ZOMBIE", U, "while LSF is not available"),
        ("TERM_CWD_NOTEXIST", U, "working directory"),
        ("TERM_CHKPNT", U, "checkpointing"),
        ("TERM_EXTERNAL_SIGNAL", E, "the job exited with status 1"),
        ("TERM_UNKNOWN", E, "exited with status 1"),
        ("TERM_FROM_THE_FUTURE", U, "does not know (TERM_FROM_THE_FUTURE)"),
        ("", E, "the job exited with status 1 (LSF EXIT, exit code 1)"),
    ],
)
def test_termination_reasons(reason: str, expected: TaskInstanceStatus, words: str) -> None:
    """Each TERM_* keyword maps to its documented meaning, with the keyword in the message."""
    job = TrackedJob("7", memory_bytes=100 * 2**20, runtime_seconds=600)
    info = states.classify(job, final(reason=reason), None)
    assert info.error_state == expected and info.finalized
    assert words in info.error_message
    if reason:
        assert reason in info.error_message


def test_done_and_terminations() -> None:
    """DONE is D even after a termination request; any other end of a terminated job is K."""
    job = TrackedJob("7", terminated=True)
    assert states.classify(job, final("DONE", code=0), None).error_state == D
    info = states.classify(job, final(reason="TERM_RUNLIMIT"), record(signal="SIGINT"))
    assert info.error_state == K and "the command was killed by signal SIGINT" in info.error_message


def test_sigkill_near_the_memory_request_is_a_memory_kill() -> None:
    """Exit 137 with a peak at ≥90 % of the requested memory is Z (a cgroup OOM kill)."""
    job = TrackedJob("7", memory_bytes=100 * 2**20)
    near = final(code=137, maxrss=95 * 2**20)
    assert states.classify(job, near, None).error_state == Z
    far = final(code=137, maxrss=10 * 2**20)
    assert states.classify(job, far, None).error_state == E
    assert states.classify(TrackedJob("7"), near, None).error_state == E


def test_a_limit_the_worker_enforced_is_z_unless_lsf_named_one() -> None:
    """The worker's record of an enforced limit gives Z with its numbers; LSF's own TERM_*
    limit, a bkill and a termination request still decide first."""
    job = TrackedJob("7", memory_bytes=100 * 2**20)
    killed = replace(
        record(signal="SIGKILL"), exceeded="memory", limit=100 * 2**20, used=120 * 2**20
    )
    info = states.classify(job, final(code=137), killed)
    assert info.error_state == Z
    assert "killed with SIGKILL by distributor-worker" in info.error_message
    assert (
        "20.0 MiB over" in info.error_message and "(LSF EXIT, exit code 137)" in info.error_message
    )
    lsf_said = states.classify(job, final(reason="TERM_MEMLIMIT", code=137), killed)
    assert lsf_said.error_state == Z and "TERM_MEMLIMIT" in lsf_said.error_message
    assert states.classify(job, final(reason="TERM_OWNER"), killed).error_state == K
    terminated = TrackedJob("7", memory_bytes=100 * 2**20, terminated=True)
    assert states.classify(terminated, final(code=137), killed).error_state == K


def test_record_phrases() -> None:
    """The worker's record says how the command ended, in preference to LSF's exit code."""
    job = TrackedJob("7")
    status = final(code=127)
    assert (
        "could not be started (boom)"
        in states.classify(job, status, record(error="boom")).error_message
    )
    assert "exited with status 3" in states.classify(job, status, record(exit_code=3)).error_message


@given(st.text(max_size=12))
def test_every_state_word_has_a_phase(word: str) -> None:
    """Known STAT values map to their documented phase; unknown words are still active."""
    phase = states.phase_of(word)
    if word in states.FINAL_STATES:
        assert phase is JobPhase.FINAL
    elif word in states.RUNNING_STATES:
        assert phase is JobPhase.RUNNING
    else:
        assert phase is JobPhase.QUEUED


def test_queueing_errors() -> None:
    """A dependency that can never be satisfied is reported; ordinary pending reasons are not."""
    assert states.queueing_error("Dependency condition invalid or never satisfied")
    assert states.queueing_error("New job is waiting for scheduling") is None
    assert states.queueing_error("Not enough job slot(s)") is None


def test_worker_node_reads_lsf_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """LSB_JOBID/LSB_JOBINDEX give the id and 0-based step; the job script's exports win."""
    for name in ("DISTRIBUTOR_ID", "DISTRIBUTOR_ARRAY_STEP_ID", "LSB_JOBID", "LSB_JOBINDEX"):
        monkeypatch.delenv(name, raising=False)
    node = LsfWorkerNode()
    assert (node.distributor_id, node.array_step_id) == (None, None)
    monkeypatch.setenv("LSB_JOBID", "12")
    monkeypatch.setenv("LSB_JOBINDEX", "0")
    assert (node.distributor_id, node.array_step_id) == ("12", None)
    monkeypatch.setenv("LSB_JOBINDEX", "3")
    assert (node.distributor_id, node.array_step_id) == ("12[3]", 2)
    monkeypatch.setenv("DISTRIBUTOR_ID", "12[3]")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "1002")
    assert (node.distributor_id, node.array_step_id) == ("12[3]", 1002)


def test_memory_limit_units() -> None:
    """Memory is written with an explicit MB unit, or as a bare number in the site's unit."""
    assert memory_limit(150 * 2**20) == "150MB"
    assert memory_limit(150 * 2**20 + 1) == "151MB"
    assert memory_limit(3 * 2**30, "GB") == "3"
    assert memory_limit(1, "KB") == "1"
