"""The HTCondor state map: phases, hold classification, queueing errors and exit info."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import TaskInstanceStatus
from distributor.batch import JobPhase, TrackedJob
from distributor.worker import ExitRecord
from distributor_htcondor import states
from distributor_htcondor.parsers import JobAd

D, E, K, U, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.UNKNOWN_ERROR,
    TaskInstanceStatus.RESOURCE_ERROR,
)
MEMORY_HOLD = (
    "Error from slot1@node7: Job has gone over memory limit of 64 megabytes. "
    "Peak usage: 70 megabytes."
)
MEMORY_HOLD_NEW = "Error from slot1_40@glidein@node9: memory usage exceeded request_memory"
DURATION_HOLD = "The job exceeded allowed execute duration of 0:00:02"
PERIODIC_MEMORY = (
    "The job attribute PeriodicRemove expression 'MemoryUsage > 2 * RequestMemory' "
    "evaluated to TRUE"
)
PERIODIC_TIME = (
    "The job attribute PeriodicRemove expression '(time() - JobCurrentStartDate) > 7200' "
    "evaluated to TRUE"
)


def ad(status: int, **attributes: object) -> JobAd:
    """A job ad of job 12.3."""
    return JobAd(12, 3, status, **attributes)  # type: ignore[arg-type]  # test shorthand


def record(returncode: int, signal: str | None = None, maxrss: int = 0) -> ExitRecord:
    """A worker exit record."""
    code = None if signal else returncode
    return ExitRecord(returncode=returncode, exit_code=code, signal=signal, maxrss_bytes=maxrss)


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (1, JobPhase.QUEUED),
        (2, JobPhase.RUNNING),
        (3, JobPhase.FINAL),
        (4, JobPhase.FINAL),
        (5, JobPhase.QUEUED),
        (6, JobPhase.RUNNING),
        (7, JobPhase.RUNNING),
        (9, JobPhase.QUEUED),
    ],
)
def test_job_status_codes_map_to_phases(status: int, phase: JobPhase) -> None:
    """Each JobStatus code has its documented phase; unknown codes stay queued."""
    assert states.job_status(ad(status)).phase is phase


@pytest.mark.parametrize(
    ("code", "subcode", "reason", "limit"),
    [
        (34, 102, MEMORY_HOLD, "memory"),
        (34, 0, MEMORY_HOLD, "memory"),
        (34, 102, MEMORY_HOLD_NEW, "memory"),
        (34, 104, "Job has gone over disk usage limit", "disk"),
        (34, 0, "Job resource usage exceeded the provisioned limit", "resources"),
        (46, 0, "The job exceeded allowed job duration of 1:00:00", "runtime"),
        (47, 0, DURATION_HOLD, "runtime"),
        (3, 102, "distributor: memory usage exceeded request_memory", "memory"),
        (21, 0, "Job failed to complete in 72 hrs", "runtime"),
        (26, 0, "SYSTEM_PERIODIC_HOLD: MemoryUsage > 4096", "memory"),
        (
            3,
            0,
            "The job attribute PeriodicHold expression 'NumJobStarts > 3' evaluated to TRUE",
            None,
        ),
        (1, 0, "via condor_hold (by user alice)", None),
        (13, 2, "Transfer input files failure", None),
        (None, None, "", None),
    ],
)
def test_hold_limits(code: int | None, subcode: int | None, reason: str, limit: str | None) -> None:
    """Resource holds are recognised by code, subcode and the words of policy reasons."""
    assert states.hold_limit(code, subcode, reason) == limit
    held = ad(5, hold_code=code, hold_subcode=subcode, hold_reason=reason)
    expected = JobPhase.FINAL if limit else JobPhase.QUEUED
    assert states.job_status(held).phase is expected


@pytest.mark.parametrize(
    ("reason", "limit"),
    [
        (PERIODIC_MEMORY, "memory"),
        (PERIODIC_TIME, "runtime"),
        ("via condor_rm (by user alice)", None),
        ("The job attribute PeriodicRemove expression 'NumJobStarts > 3' evaluated to TRUE", None),
    ],
)
def test_removal_limits(reason: str, limit: str | None) -> None:
    """Only policy removals that name memory or time are resource limits."""
    assert states.removal_limit(reason) == limit


def test_queueing_errors_name_code_label_and_reason() -> None:
    """A job held for a reason that will not clear is a queueing error; benign holds are not."""
    failed = ad(5, hold_code=13, hold_subcode=2, hold_reason="Transfer input files failure")
    message = states.queueing_error(failed)
    assert message is not None
    assert "HoldReasonCode 13 [TransferInputError]" in message and "Transfer input" in message
    for benign in (1, 15, 16):
        assert states.queueing_error(ad(5, hold_code=benign)) is None
    assert states.queueing_error(ad(5, hold_code=34, hold_reason=MEMORY_HOLD)) is None
    assert states.queueing_error(ad(2)) is None


CASES = [
    ("completed 0", ad(4, exit_code=0), None, False, D, ""),
    ("completed 3", ad(4, exit_code=3), record(3), False, E, "exited with status 3"),
    ("completed 137", ad(4, exit_code=137), record(137, "SIGKILL"), False, E, "SIGKILL"),
    ("by signal", ad(4, exit_by_signal=True, exit_signal=9), None, False, E, "SIGKILL"),
    (
        "worker's memory limit",
        ad(4, exit_code=137, resident_set_kb=70 * 1024),
        ExitRecord(
            returncode=137,
            exit_code=None,
            signal="SIGKILL",
            exceeded="memory",
            limit=64 * 2**20,
            used=70 * 2**20,
        ),
        False,
        Z,
        "memory limit of 64.0 MiB exceeded: process tree resident 70.0 MiB",
    ),
    (
        "worker's runtime limit",
        ad(4, exit_code=143),
        ExitRecord(143, None, "SIGTERM", exceeded="runtime", limit=2.0, used=2.0),
        False,
        Z,
        "runtime limit of 2s exceeded: ran 2.0s; stopped with SIGTERM by distributor-worker",
    ),
    (
        "oom kill",
        ad(4, exit_by_signal=True, exit_signal=9, resident_set_kb=70 * 1024),
        None,
        False,
        Z,
        "memory limit of 64.0 MiB",
    ),
    (
        "memory hold",
        ad(5, hold_code=34, hold_subcode=102, hold_reason=MEMORY_HOLD),
        None,
        False,
        Z,
        "HoldReasonCode 34 [JobOutOfResources]",
    ),
    ("duration hold", ad(5, hold_code=47, hold_reason=DURATION_HOLD), None, False, Z, "runtime"),
    (
        "removed after hold",
        ad(
            3,
            hold_code=34,
            hold_subcode=102,
            hold_reason=MEMORY_HOLD,
            remove_reason="via condor_rm",
        ),
        None,
        False,
        Z,
        "memory",
    ),
    ("policy memory", ad(3, remove_reason=PERIODIC_MEMORY), None, False, Z, "PeriodicRemove"),
    ("policy time", ad(3, remove_reason=PERIODIC_TIME), None, False, Z, "runtime limit"),
    (
        "user removal",
        ad(3, remove_reason="via condor_rm (by user alice)"),
        None,
        False,
        K,
        "by user alice",
    ),
    ("other policy", ad(3, remove_reason="SYSTEM_PERIODIC_REMOVE"), None, False, E, "removed"),
    ("terminated", ad(3, remove_reason="via condor_rm (by user me)"), None, True, K, "on request"),
    ("terminated late", ad(4, exit_code=0), None, True, D, ""),
    ("unknown", ad(2), None, False, U, "cannot classify"),
]


@pytest.mark.parametrize(
    ("what", "job_ad", "rec", "terminated", "state", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_exit_matrix_classification(
    what: str,
    job_ad: JobAd,
    rec: ExitRecord | None,
    terminated: bool,
    state: TaskInstanceStatus,
    words: str,
) -> None:
    """Every documented final situation maps to its code with the cause in the message."""
    job = TrackedJob("12.3", memory_bytes=64 * 2**20, runtime_seconds=2, terminated=terminated)
    info = states.classify(job, job_ad, rec)
    assert info.error_state == state, (what, info)
    assert words in info.error_message
    assert info.finalized


@given(
    st.integers(1, 7),
    st.none() | st.integers(0, 60),
    st.none() | st.integers(0, 200),
    st.text(max_size=60),
    st.booleans(),
)
def test_classification_is_total(
    status: int, code: int | None, subcode: int | None, reason: str, terminated: bool
) -> None:
    """Any ad classifies to a final state, and only a clean exit 0 is D."""
    job_ad = ad(status, hold_code=code, hold_subcode=subcode, hold_reason=reason, exit_code=0)
    info = states.classify(TrackedJob("12.3", terminated=terminated), job_ad, None)
    assert info.finalized
    assert (info.error_state == D) == (status == 4)


RUN = {
    "started_at": 1000.0,
    "completed_at": 1012.0,
    "entered_status_at": 1012.0,
    "wall_seconds": 20.0,
    "run_seconds": 12.0,
    "cpu_seconds": 7.5,
    "host": "node7",
}
"""A run's accounting in a job ad: the latest of two runs took 12 of 20 seconds."""


def test_a_final_job_carries_the_accounting_of_its_latest_run() -> None:
    """Completed: LastRemoteWallClockTime, the CPU, JobCurrentStartDate, CompletionDate and
    the host; a job held for a limit ends at its hold (EnteredCurrentStatus)."""
    done = states.job_status(ad(4, exit_code=0, **RUN))
    assert (done.elapsed, done.cpu_seconds, done.started_at, done.ended_at, done.host) == (
        12.0, 7.5, 1000.0, 1012.0, "node7",
    )  # fmt: skip
    at_hold = {**RUN, "completed_at": None, "entered_status_at": 1011.0}
    held = states.job_status(ad(5, hold_code=34, hold_subcode=102, **at_hold))
    assert held.phase is JobPhase.FINAL and (held.ended_at, held.host) == (1011.0, "node7")
    older = states.job_status(ad(4, exit_code=0, **{**RUN, "run_seconds": None}))
    assert older.elapsed == 20.0  # without LastRemoteWallClockTime: every run's seconds


def test_a_job_that_never_ran_claims_no_run() -> None:
    """A job removed while idle (RemoteWallClockTime 0.0 from submission, no start date) has
    no elapsed time, CPU, start, end or host; queued and running jobs carry none either."""
    idle_removed = ad(3, remove_reason="via condor_rm (by user u)", wall_seconds=0.0,
                      cpu_seconds=0.0, entered_status_at=1012.0)  # fmt: skip
    status = states.job_status(idle_removed)
    assert status.phase is JobPhase.FINAL
    assert (status.elapsed, status.cpu_seconds, status.started_at, status.ended_at,
            status.host) == (None,) * 5  # fmt: skip
    for code in (1, 2):
        active = states.job_status(ad(code, **RUN))
        assert (active.elapsed, active.host, active.ended_at) == (None, None, None)


def test_a_job_removed_while_it_runs_is_final_once_stopped() -> None:
    """condor_q lists a job removed while it ran (JobStatus 3, RemoteHost still set) until its
    execute machine has stopped it: still running; the history ad, with the exit HTCondor
    recorded after condor_rm's SIGTERM, is final and keeps that exit (recorded on 23.9.6)."""
    removed = "via condor_rm (by user u)"
    stopping = states.job_status(ad(3, remove_reason=removed, in_run=True, source="condor_q"))
    assert (stopping.phase, stopping.state) == (JobPhase.RUNNING, "Removed")
    final = ad(3, remove_reason=removed, exit_code=0, host="vm", source="condor_history")
    status = states.job_status(final)
    assert (status.phase, status.exit_code, status.signal) == (JobPhase.FINAL, 0, None)
    job = TrackedJob("12.3")
    info = states.classify(job, final, None)
    assert info.error_state == K and "JobStatus 3 (Removed), ExitCode 0" in info.error_message
    by_signal = ad(3, remove_reason=removed, exit_by_signal=True, exit_signal=15)
    assert states.job_status(by_signal).signal == 15
    assert "ExitBySignal true, ExitSignal 15" in states.classify(job, by_signal, None).error_message
