"""Infrastructure failures on the real Slurm: a node going DOWN, accounting (slurmdbd) down.

These tests change the shared dev cluster and always restore it: the node is resumed and
waited for, slurmdbd is restarted the way ``scripts/dev-clusters/slurm.sh`` starts it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import RemoteExitInfoNotAvailable, SchedulerError, TaskInstanceStatus
from distributor.batch import JobPhase, PollPolicy
from distributor.testing import wait_for_exit_info, wait_until_gone
from distributor_slurm import SlurmDistributor
from distributor_slurm.client import slurm_environment
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = [
    pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""),
    pytest.mark.skipif(os.geteuid() != 0, reason="changing nodes and daemons needs root"),
    pytest.mark.slow,
]


def slurm(*argv: str, check: bool = True) -> str:
    """Run a Slurm client command against the dev cluster and return its stdout."""
    return subprocess.run(
        list(argv), env=slurm_environment(SLURM_CONF), capture_output=True, text=True, check=check
    ).stdout


def wait_for(what: str, predicate: object, timeout: float) -> None:
    """Poll `predicate` until it is true or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]  # a zero-argument callable
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def node_usable(node: str) -> bool:
    """The node is up for jobs again."""
    state = slurm("sinfo", "--noheader", f"--nodes={node}", "--format=%T", check=False).strip()
    return state.rstrip("+*~#") in {"idle", "mixed", "allocated"}


def test_node_down_while_running_is_unknown_error(tmp_path: Path) -> None:
    """A job on a node set DOWN ends as U (NODE_FAIL, retryable) with a message saying so."""
    distributor = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "root",
        slurm_conf=SLURM_CONF,
        poll_policy=PollPolicy(min_interval=0.3, max_interval=1.0),
    )
    did = distributor.submit_to_batch_distributor("sleep 600", "doomed", {"runtime": 300})
    wait_for(
        "the job to run",
        lambda: (
            (s := distributor.tracker.statuses([did]).get(did)) is not None
            and s.phase is JobPhase.RUNNING
        ),
        120,
    )
    node = slurm("squeue", "--noheader", f"--jobs={did}", "--format=%N").strip()
    try:
        slurm("scontrol", "update", f"nodename={node}", "state=down", "reason=distributor-test")
        info = wait_for_exit_info(distributor, did, 120, 0.3)
        assert info.error_state == TaskInstanceStatus.UNKNOWN_ERROR, info
        assert "node failed" in info.error_message and "NODE_FAIL" in info.error_message
    finally:
        distributor.terminate_task_instances([did])
        # ReturnToService=2 may already have brought it back, so resume may be refused
        slurm("scontrol", "update", f"nodename={node}", "state=resume", check=False)
        wait_for(f"node {node} to be usable", lambda: node_usable(node), 120)


def _slurmdbd_pid() -> int | None:
    run = Path(str(SLURM_CONF)).parent.parent / "run" / "slurmdbd.pid"
    try:
        pid = int(run.read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(exe).name in {"slurmdbd", "slurmdbd-wlm"} else None


def _sacct_works() -> bool:
    result = subprocess.run(
        ["sacct", "--noheader", "--allocations", "--format=JobID", "--starttime=now-1minutes"],
        env=slurm_environment(SLURM_CONF),
        capture_output=True,
        check=False,
        timeout=30,
    )
    return result.returncode == 0


@pytest.fixture
def accounting_down() -> Iterator[None]:
    """Stop slurmdbd (by its recorded pid) for the test, then start it again and wait."""
    pid = _slurmdbd_pid()
    if pid is None:
        pytest.skip("this cluster runs no slurmdbd of its own")
    os.kill(pid, signal.SIGTERM)
    wait_for("slurmdbd to stop", lambda: not Path(f"/proc/{pid}").exists(), 60)
    try:
        yield
    finally:
        if _slurmdbd_pid() is None:  # (unless somebody restarted the whole cluster meanwhile)
            log = Path(str(SLURM_CONF)).parent.parent / "log" / "slurmdbd.stderr"
            with log.open("ab") as stderr:
                subprocess.run(
                    ["slurmdbd"],
                    env=slurm_environment(SLURM_CONF),
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    check=True,
                )
        wait_for("slurmdbd to answer sacct again", _sacct_works, 120)


def test_missing_accounting_uses_queue_history_then_exit_records(
    tmp_path: Path, accounting_down: None
) -> None:
    """With slurmdbd down: squeue's history, then the worker's record, then (after the grace,
    not before) a lost U."""
    assert not _sacct_works()
    with_history = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "history",
        slurm_conf=SLURM_CONF,
        poll_policy=PollPolicy(min_interval=0.3, max_interval=1.0),
    )
    policy = PollPolicy(
        min_interval=0.3,
        max_interval=1.0,
        accounting_interval=1.0,
        accounting_delay=4.0,
        lost_grace=8.0,
    )
    accounting_only = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "accounting",
        slurm_conf=SLURM_CONF,
        poll_policy=policy,
        use_queue_history=False,
    )
    remembered = with_history.submit_to_batch_distributor("exit 3", "remembered", {"runtime": 60})
    failed = accounting_only.submit_to_batch_distributor("exit 5", "failed", {"runtime": 60})
    done = accounting_only.submit_to_batch_distributor("true", "done", {"runtime": 60})
    lost = accounting_only.submit_to_batch_distributor("true", "lost", {"runtime": 60})
    info = wait_for_exit_info(with_history, remembered, 120, 0.3)
    assert info.error_state == TaskInstanceStatus.ERROR and "status 3" in info.error_message
    wait_until_gone(accounting_only, [failed, done, lost], 120, 0.2)
    record = accounting_only.tracker.get(lost).record_path  # type: ignore[union-attr]
    assert record is not None
    record.unlink()  # as if the node had died before the record reached the filesystem
    info = wait_for_exit_info(accounting_only, failed, 60, 0.3)
    assert info.error_state == TaskInstanceStatus.ERROR
    assert "status 5" in info.error_message and "exit record" in info.error_message
    assert wait_for_exit_info(accounting_only, done, 60, 0.3).error_state == "D"
    with pytest.raises(RemoteExitInfoNotAvailable, match="still looking"):
        accounting_only.get_remote_exit_info(lost)  # looked for until the grace ends
    settled = wait_for_exit_info(accounting_only, lost, 60, 0.3)
    assert (
        settled.error_state == TaskInstanceStatus.UNKNOWN_ERROR and "lost" in settled.error_message
    )
    assert accounting_only.tracker.stats.accounting_commands >= 1
    with pytest.raises(SchedulerError):
        accounting_only.client.query_accounting([failed])
