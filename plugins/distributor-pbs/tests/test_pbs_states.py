"""The PBS state map: each documented Exit_status meaning, per flavour, without a server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import TaskInstanceStatus
from distributor.batch import JobPhase, JobStatus, TrackedJob
from distributor.worker import ExitRecord
from distributor_pbs import parsers, states
from distributor_pbs.codes import JOB_STATES, PRO_EXIT_CODES, TORQUE_EXIT_CODES
from distributor_pbs.flavours import PRO, TORQUE, Flavour

D, E, K, U, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.UNKNOWN_ERROR,
    TaskInstanceStatus.RESOURCE_ERROR,
)
MIB = 2**20


def final(flavour: Flavour, exit_status: int | None, **attributes: str) -> parsers.PbsJobStatus:
    """A final status as qstat would report it."""
    attrs = {"job_state": "F" if flavour is PRO else "C", **attributes}
    if exit_status is not None:
        attrs["Exit_status"] = str(exit_status)
    return parsers.status_from_attributes("1.server", attrs, "qstat")


def record(**fields: Any) -> ExitRecord:
    """A worker exit record."""
    return ExitRecord(**{"returncode": 0, "exit_code": 0, "signal": None, **fields})


def job(**fields: Any) -> TrackedJob:
    """A tracked job."""
    return TrackedJob("1.server", **fields)


SIGTERMED = record(returncode=143, exit_code=None, signal="SIGTERM", signals_received=("SIGTERM",))
WORKER_MEMORY = record(  # the worker stopped the command at its memory request
    returncode=137,
    exit_code=None,
    signal="SIGKILL",
    exceeded="memory",
    limit=100 * MIB,
    used=120 * MIB,
)
WORKER_RUNTIME = record(  # the worker stopped the command at runtime + backstop
    returncode=143,
    exit_code=None,
    signal="SIGTERM",
    exceeded="runtime",
    limit=120.0,
    used=120.4,
)
CASES = [
    # (flavour, Exit_status, extra attributes, job, record, expected code, words)
    (PRO, 0, {}, job(), None, D, ""),
    (PRO, 0, {}, job(terminated=True), None, D, ""),
    (PRO, 3, {}, job(), record(returncode=3, exit_code=3), E, "the command exited with status 3"),
    (PRO, 3, {}, job(), None, E, "the job exited with status 3"),
    (TORQUE, 137, {}, job(), None, E, "a shell's way of saying SIGKILL"),
    (PRO, 271, {"substate": "92"}, job(), None, E, "killed by signal SIGTERM"),
    (PRO, -29, {}, job(runtime_seconds=60), None, Z, "runtime limit of 00:01:00"),
    (PRO, -28, {}, job(), None, Z, "JOB_EXEC_KILL_CPUT"),
    (PRO, -27, {}, job(memory_bytes=100 * MIB), None, Z, "memory limit of 100.0 MiB"),
    (PRO, -26, {}, job(), None, Z, "JOB_EXEC_KILL_VMEM"),
    (PRO, -25, {}, job(), None, Z, "more CPUs"),
    (PRO, -11, {}, job(), None, U, "-11 JOB_EXEC_RERUN"),  # not a walltime kill in PBS Pro
    (TORQUE, -11, {}, job(), None, Z, "-11 JOB_EXEC_OVERLIMIT_WT"),
    (TORQUE, -10, {}, job(memory_bytes=MIB), None, Z, "memory limit of 1.0 MiB"),
    (TORQUE, -12, {}, job(), None, Z, "JOB_EXEC_OVERLIMIT_CPUT"),
    (TORQUE, -29, {}, job(), None, U, "-29 (undocumented)"),
    (PRO, -3, {}, job(), None, U, "JOB_EXEC_RETRY"),
    (TORQUE, -9, {}, job(), None, U, "JOB_EXEC_STDOUTFAIL"),
    (
        TORQUE,
        271,
        {"resources_used.walltime": "00:01:05", "Resource_List.walltime": "00:01:00"},
        job(),
        None,
        Z,
        "runtime limit of 00:01:00 and was killed after 00:01:05",
    ),
    (
        PRO,
        143,
        {"resources_used.walltime": "00:00:10", "Resource_List.walltime": "00:00:10"},
        job(),
        SIGTERMED,
        Z,
        "runtime limit",
    ),
    (
        TORQUE,
        265,
        {"resources_used.mem": "97000kb"},
        job(memory_bytes=100 * MIB),
        None,
        Z,
        "peak seen 94.7 MiB",
    ),
    (TORQUE, 265, {"resources_used.mem": "9000kb"}, job(memory_bytes=100 * MIB), None, E, ""),
    (PRO, 143, {"substate": "91"}, job(), SIGTERMED, K, "deleted (qdel) outside"),
    (PRO, None, {"substate": "91"}, job(), None, K, "no exit status was recorded"),
    (PRO, 143, {"substate": "92"}, job(), SIGTERMED, E, "killed by signal SIGTERM"),
    (TORQUE, 271, {}, job(), None, K, "deleted (qdel) outside"),
    (TORQUE, 143, {}, job(), SIGTERMED, K, "deleted (qdel) outside"),
    (TORQUE, 143, {}, job(), record(returncode=143, exit_code=None, signal="SIGTERM"), E, ""),
    (PRO, 143, {}, job(terminated=True), SIGTERMED, K, "terminated on request"),
    (TORQUE, None, {}, job(), record(returncode=3, exit_code=3), E, "worker's exit record"),
    (TORQUE, None, {}, job(), record(), D, ""),
    (TORQUE, None, {}, job(), None, U, "completed without an exit status"),
    (PRO, None, {"job_state": "X"}, job(), None, U, "expired subjob without an exit status"),
    (PRO, None, {"job_state": "M"}, job(), None, U, "moved to another server"),
    (PRO, 137, {}, job(memory_bytes=100 * MIB), WORKER_MEMORY, Z, "SIGKILL by distributor-worker"),
    (TORQUE, 143, {}, job(runtime_seconds=60), WORKER_RUNTIME, Z, "SIGTERM by distributor-worker"),
    (PRO, -29, {}, job(runtime_seconds=60), WORKER_RUNTIME, Z, "-29 JOB_EXEC_KILL_WALLTIME"),
]


@pytest.mark.parametrize(
    ("flavour", "exit_status", "attributes", "tracked", "exit_record", "expected", "words"),
    CASES,
)
def test_state_map(
    flavour: Flavour,
    exit_status: int | None,
    attributes: dict[str, str],
    tracked: TrackedJob,
    exit_record: ExitRecord | None,
    expected: TaskInstanceStatus,
    words: str,
) -> None:
    """Each documented meaning of Exit_status maps to its code with a sentence naming it."""
    info = states.classify(flavour, tracked, final(flavour, exit_status, **attributes), exit_record)
    assert info.finalized
    assert info.error_state == expected, info
    assert words in info.error_message, info.error_message
    assert (info.error_message == "") == (expected is D)


@pytest.mark.parametrize(("flavour", "table"), [(PRO, PRO_EXIT_CODES), (TORQUE, TORQUE_EXIT_CODES)])
def test_every_documented_negative_code_is_named(
    flavour: Flavour, table: dict[int, tuple[str, str]]
) -> None:
    """Every negative code of the flavour's table appears by name in the message."""
    for code, (name, _) in table.items():
        info = states.classify(flavour, job(), final(flavour, code), None)
        assert info.error_state in (U, Z)
        assert f"{code} {name}" in info.error_message


def test_another_backends_status_is_accepted() -> None:
    """A plain JobStatus (no PBS attributes) is classified rather than crashing."""
    status = JobStatus("1.server", JobPhase.FINAL, "F", exit_code=2)
    assert states.classify(PRO, job(), status, None).error_state is U


def test_queueing_error_reads_can_never_run() -> None:
    """PBS Pro's "Can never run" comment is a queueing error; other comments are not."""
    stuck = parsers.status_from_attributes(
        "1.s",
        {"job_state": "Q", "comment": "Can never run: Insufficient amount of resource: ncpus"},
        "qstat",
    )
    waiting = parsers.status_from_attributes(
        "1.s",
        {"job_state": "Q", "comment": "Not Running: Insufficient amount of resource"},
        "qstat",
    )
    assert "Can never run" in str(states.queueing_error(stuck))
    assert states.queueing_error(waiting) is None


@given(
    flavour=st.sampled_from([PRO, TORQUE]),
    state=st.sampled_from(sorted(s for s, (p, _) in JOB_STATES.items() if p is JobPhase.FINAL)),
    exit_status=st.none() | st.integers(-40, 400),
    substate=st.none() | st.sampled_from(["91", "92", "93"]),
    terminated=st.booleans(),
    memory=st.none() | st.integers(1, 2**34),
    used=st.none() | st.integers(0, 10**5),
)
def test_every_final_status_is_classified(
    flavour: Flavour,
    state: str,
    exit_status: int | None,
    substate: str | None,
    terminated: bool,
    memory: int | None,
    used: int | None,
) -> None:
    """Any final status gets finalized exit info; only Exit_status 0 or the worker's 0 is D."""
    attributes = {"job_state": state}
    if exit_status is not None:
        attributes["Exit_status"] = str(exit_status)
    if substate is not None:
        attributes["substate"] = substate
    if used is not None:
        attributes["resources_used.walltime"] = str(used)
        attributes["Resource_List.walltime"] = "60"
    status = parsers.status_from_attributes("1.server", attributes, "qstat")
    tracked = job(terminated=terminated, memory_bytes=memory)
    info = states.classify(flavour, tracked, status, None)
    assert info.finalized
    assert (info.error_state is D) == (exit_status == 0)
