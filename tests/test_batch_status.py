"""Scheduler-independent exit classification: phrases, record fallback, worker-node helpers."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from distributor import TaskInstanceStatus, TaskUsage
from distributor.batch import (
    JobPhase,
    JobStatus,
    command_phrase,
    describe_exit,
    exit_info_from_record,
    exit_info_from_returncode,
    killed_for_memory,
    peak_memory,
    signal_name,
    usage_stats,
)
from distributor.batch.status import task_usage, usage_from_record
from distributor.worker import ExitRecord


def record(**fields: object) -> ExitRecord:
    """An exit record with defaults for the fields not given."""
    base: dict[str, object] = {"returncode": 0, "exit_code": 0, "signal": None}
    base.update(fields)
    return ExitRecord(**base)  # type: ignore[arg-type]  # test helper over known fields


def test_phrases_name_codes_and_signals() -> None:
    """Exit phrases carry the status or the signal name."""
    assert describe_exit(3, None) == "exited with status 3"
    assert describe_exit(None, 9) == "was killed by signal SIGKILL"
    assert "SIGTERM" in describe_exit(143, None)
    assert signal_name(77) == "signal 77"
    assert JobPhase.QUEUED.active and not JobPhase.FINAL.active


def test_record_fallback_classification() -> None:
    """Records map to D, E, U (scheduler signal) and K (terminated) with a message."""
    assert exit_info_from_record(record()).error_state == TaskInstanceStatus.DONE
    failed = exit_info_from_record(record(returncode=3, exit_code=3))
    assert failed.error_state == TaskInstanceStatus.ERROR and "status 3" in failed.error_message
    killed = record(returncode=143, exit_code=None, signal="SIGTERM", signals_received=("SIGTERM",))
    assert exit_info_from_record(killed).error_state == TaskInstanceStatus.UNKNOWN_ERROR
    cancelled = exit_info_from_record(killed, terminated=True)
    assert cancelled.error_state == TaskInstanceStatus.KILLED_SELF
    unstartable = exit_info_from_record(record(returncode=127, exit_code=None, error="nope"))
    assert "could not be started" in unstartable.error_message


@given(st.integers(min_value=-5, max_value=300))
def test_a_record_is_done_only_when_the_command_exited_zero(code: int) -> None:
    """exit_info_from_record never says D for a non-zero status."""
    info = exit_info_from_record(record(returncode=code, exit_code=code))
    assert (info.error_state == TaskInstanceStatus.DONE) == (code == 0)


def test_worker_node_helpers() -> None:
    """get_exit_info and get_usage_stats helpers give Jobmon-shaped answers."""
    assert exit_info_from_returncode(0, "") == ("D", "")
    state, message = exit_info_from_returncode(137, "boom")
    assert state == "E" and "SIGKILL" in message and "boom" in message
    stats = usage_stats(record(maxrss_bytes=2048, cpu_seconds=1.5, wall_seconds=2.0))
    assert stats["maxrss"] == "2048" and stats["cpu"] == "1.500"
    assert json.loads(stats["usage_str"])["wall_seconds"] == 2.0


def test_batch_public_api_is_sorted_and_importable() -> None:
    """distributor.batch.__all__ is sorted and every name exists."""
    import distributor.batch as batch

    assert list(batch.__all__) == sorted(batch.__all__)
    assert all(hasattr(batch, name) for name in batch.__all__)


def test_command_phrase_prefers_the_record() -> None:
    """The worker's record says how the command ended; else the scheduler's code, or nothing."""
    final = JobStatus("1", JobPhase.FINAL, "EXIT", exit_code=137)
    assert command_phrase(final, record(error="no such file")) == (
        "the command could not be started (no such file)"
    )
    killed = record(returncode=137, exit_code=None, signal="SIGKILL")
    assert command_phrase(final, killed) == "the command was killed by signal SIGKILL"
    assert command_phrase(final, record(returncode=3, exit_code=3)) == (
        "the command exited with status 3"
    )
    assert command_phrase(final, None).startswith("the job exited with status 137")
    never = JobStatus("1", JobPhase.FINAL, "EXIT")
    assert command_phrase(never, None) == "no exit status was recorded (it may never have started)"


def test_sigkill_at_the_memory_request_counts_as_a_memory_kill() -> None:
    """SIGKILL with a peak at 90 % of the request is a memory kill; below it, or without a
    request or a SIGKILL, it is not."""
    near = JobStatus("1", JobPhase.FINAL, "FAILED", signal=9, maxrss_bytes=95)
    assert peak_memory(near, record(maxrss_bytes=80)) == 95
    assert killed_for_memory(near, None, 100)
    assert not killed_for_memory(near, None, 1000)
    assert not killed_for_memory(near, None, None)
    by_code = JobStatus("1", JobPhase.FINAL, "EXIT", exit_code=137)
    assert killed_for_memory(by_code, record(maxrss_bytes=99), 100)
    assert not killed_for_memory(JobStatus("1", JobPhase.FINAL, "EXIT", exit_code=1), None, 1)
    assert peak_memory(JobStatus("1", JobPhase.FINAL, "EXIT"), None) is None


def test_usage_prefers_the_schedulers_accounting_and_the_commands_own_exit() -> None:
    """The scheduler's peak memory, elapsed, CPU and host win over the worker's record; the
    exit code and signal are the command's own from the record (the scheduler's are the job
    script's); without a record, the scheduler's are used."""
    record = ExitRecord(returncode=3, exit_code=3, signal=None, maxrss_bytes=10,
                        cpu_seconds=0.5, wall_seconds=1.5, started_at=100.0, ended_at=101.5,
                        hostname="w")  # fmt: skip
    status = JobStatus("1", JobPhase.FINAL, "FAILED", exit_code=1, maxrss_bytes=2048,
                       elapsed=2.0, cpu_seconds=0.75, host="n1")  # fmt: skip
    merged = task_usage(status, record)
    assert merged == TaskUsage(exit_code=3, signal=None, started_at=100.0, ended_at=101.5,
                               elapsed=2.0, max_rss=2048, cpu=0.75, host="n1")  # fmt: skip
    killed = JobStatus("1", JobPhase.FINAL, "OUT_OF_MEMORY", exit_code=0, signal=9)
    alone = task_usage(killed, None)
    assert alone is not None and (alone.exit_code, alone.signal) == (0, "SIGKILL")
    assert task_usage(None, None) is None
    running = JobStatus("1", JobPhase.RUNNING, "RUNNING")
    assert task_usage(running, record) == usage_from_record(record)
