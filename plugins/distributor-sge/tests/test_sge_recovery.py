"""When a Grid Engine command fails: a refused array chunk rolls back the chunks already
submitted, unreadable accounting falls back to the worker's exit record, and a ``qdel`` that
never takes effect is followed by ``qdel -f``. The real cell runs every command except the one
made to fail."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from distributor import SubmissionError, TaskInstanceStatus
from distributor.batch import CommandResult, PollPolicy, RecordingTransport
from distributor.testing import wait_for_exit_info, wait_until_gone, wait_until_running
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
TIMEOUT = 120.0


def failing(program: str, fail_from: int, stderr: str) -> RecordingTransport:
    """Runs commands locally, except that calls of `program` number `fail_from` onwards fail
    the way Grid Engine fails (exit 1, a message on stderr)."""
    return RecordingTransport(
        lambda argv, n: (
            CommandResult(argv, 1, "", stderr) if argv[0] == program and n >= fail_from else None
        )
    )


def test_refused_chunk_deletes_the_chunks_already_submitted(tmp_path: Path) -> None:
    """If qsub refuses the second chunk, the first is deleted and SubmissionError names the
    task with qsub's message; the first chunk's tasks end K."""
    transport = failing("qsub", 2, "Unable to run job: job rejected: too many jobs")
    sge = dev_distributor(tmp_path / "root", max_array_size=2, transport=transport)
    with pytest.raises(SubmissionError, match="too many jobs") as caught:
        sge.submit_array_to_batch_distributor("sleep 300", "chunked", {}, 3)
    assert caught.value.name == "chunked" and caught.value.returncode == 1
    first = [did for did in sge.tracker.tracked()]
    assert len(first) == 2 and sge.client.runner.calls["qdel"] == 1
    wait_until_gone(sge, first, TIMEOUT, 0.2)
    for distributor_id in first:
        assert wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2).error_state == (
            TaskInstanceStatus.KILLED_SELF
        )
    assert len(list((tmp_path / "root").glob("chunked-*"))) == 1  # the refused one is gone


def test_unreadable_accounting_falls_back_to_the_exit_record(tmp_path: Path) -> None:
    """With qacct failing, a job that left qstat is classified from the worker's record once
    the accounting delay has passed."""
    transport = failing("qacct", 1, "error: can't open accounting file")
    policy = PollPolicy(min_interval=0.3, max_interval=1.0, accounting_delay=2.0, lost_grace=30)
    sge = dev_distributor(tmp_path / "root", transport=transport, poll_policy=policy)
    distributor_id = sge.submit_to_batch_distributor("exit 3", "no-accounting", {})
    began = time.monotonic()
    info = wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2)
    assert info.error_state == TaskInstanceStatus.ERROR and "status 3" in info.error_message
    assert "exit record" in info.error_message and len(transport.of("qacct")) >= 1
    assert time.monotonic() - began >= policy.accounting_delay


def deaf() -> RecordingTransport:
    """Runs commands locally, except the first ``qdel``: it reports success and does nothing,
    as when the kill never reaches the execution daemon (the job stays ``dr``)."""
    return RecordingTransport(
        lambda argv, n: CommandResult(argv, 0, "", "") if argv[0] == "qdel" and n == 1 else None
    )


def test_a_termination_without_effect_is_forced(tmp_path: Path) -> None:
    """A running job still listed `termination_retry` seconds after its qdel is deleted with
    ``qdel -f`` and ends K; its process is gone."""
    transport = deaf()
    sge = dev_distributor(tmp_path / "root", transport=transport, termination_retry=2.0)
    pid_file = tmp_path / "pid"
    distributor_id = sge.submit_to_batch_distributor(
        f"echo $$ > {pid_file}; while :; do sleep 0.2; done", "deaf", {}
    )
    wait_until_running(sge, [distributor_id], TIMEOUT, 0.2)
    wait_for(lambda: pid_file.exists() and pid_file.read_text().endswith("\n"), "its pid")
    pid = int(pid_file.read_text())
    sge.terminate_task_instances([distributor_id])
    assert sge.get_submitted_or_running([distributor_id]) == {distributor_id}
    wait_until_gone(sge, [distributor_id], TIMEOUT, 0.2)
    assert [argv[:2] for argv in transport.of("qdel")] == [("qdel", distributor_id), ("qdel", "-f")]
    info = wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2)
    assert info.error_state == TaskInstanceStatus.KILLED_SELF
    wait_for(lambda: not _alive(pid), "the job's process to end after qdel -f")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds; AssertionError after `TIMEOUT` seconds."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"waited {TIMEOUT}s for {what}")
