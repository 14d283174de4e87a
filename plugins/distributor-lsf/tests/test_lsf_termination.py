"""A termination that does not take effect is repeated with ``bkill -r`` (fake cluster)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from distributor import TaskInstanceStatus
from distributor.batch import CommandResult, PollPolicy, RecordingTransport
from distributor.testing import wait_for_exit_info, wait_until_gone, wait_until_running
from distributor_lsf import LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)


def processes_mentioning(text: str) -> list[int]:
    """The pids of processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def deaf() -> RecordingTransport:
    """Runs commands locally, except the first ``bkill``: it reports success and does nothing,
    as when the request never reaches the job's execution host."""
    return RecordingTransport(
        lambda argv, n: (
            CommandResult(argv, 0, "Job <1> is being terminated\n", "")
            if argv[0] == "bkill" and n == 1
            else None
        )
    )


def test_a_termination_without_effect_is_forced(tmp_path: Path) -> None:
    """A running job still listed `termination_retry` seconds after its bkill is removed
    with ``bkill -r`` and ends K "without time for cleanup"; its process is gone."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))
    transport = deaf()
    with killing_all_jobs(env):
        lsf = LsfDistributor(
            "fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST,
            transport=transport, termination_retry=1.0,
        )  # fmt: skip
        lsf.start()
        marker = tmp_path / "alive"
        did = lsf.submit_to_batch_distributor(
            f"while :; do touch {marker}; sleep 0.1; done", "deaf", {}
        )
        wait_until_running(lsf, [did], 30)
        lsf.terminate_task_instances([did])
        wait_until_gone(lsf, [did], 30, 0.1)
        assert [argv[:2] for argv in transport.of("bkill")] == [("bkill", did), ("bkill", "-r")]
        info = wait_for_exit_info(lsf, did, 30, 0.1)
        assert info.error_state == TaskInstanceStatus.KILLED_SELF
        assert "without time for cleanup" in info.error_message
        deadline = time.monotonic() + 10
        while processes_mentioning(str(marker)):
            assert time.monotonic() < deadline, "the job's processes outlived bkill -r"
            time.sleep(0.05)
