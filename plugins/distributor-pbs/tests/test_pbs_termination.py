"""A termination that does not take effect is repeated with the flavour's forced qdel
(``-W force`` on PBS Pro, ``-p`` on Torque), against the fake server."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import CommandResult, RecordingTransport
from distributor.testing import wait_for_exit_info, wait_until_gone, wait_until_running
from distributor_pbs import PbsDistributor
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"


def deaf() -> RecordingTransport:
    """Runs commands locally, except the first ``qdel``: it reports success and does nothing,
    as when the MoM never hears of it."""
    return RecordingTransport(
        lambda argv, n: CommandResult(argv, 0, "", "") if argv[0] == "qdel" and n == 1 else None
    )


@pytest.mark.parametrize(("flavour", "forced"), [("pro", ("-W", "force")), ("torque", ("-p",))])
def test_a_termination_without_effect_is_forced(
    tmp_path: Path, flavour: str, forced: tuple[str, ...]
) -> None:
    """A job still running `termination_retry` seconds after its qdel is deleted with the
    flavour's forced qdel, ends K, and its process is gone."""
    transport = deaf()
    pbs = PbsDistributor(
        "fake",
        submit_root=tmp_path / "root",
        environment=fake_environment(FAKES, tmp_path / "pbs", flavour=flavour),
        poll_policy=FAST_POLLING,
        transport=transport,
        termination_retry=1.0,
    )
    pbs.start()
    pid_file = tmp_path / "pid"
    did = pbs.submit_to_batch_distributor(
        f"echo $$ > {pid_file}; while :; do sleep 0.1; done", "deaf", {}
    )
    wait_until_running(pbs, [did], 30, 0.05)
    pid = int(wait_for_file(pid_file, 30))
    pbs.terminate_task_instances([did])
    wait_until_gone(pbs, [did], 30, 0.05)
    assert [argv[1:-1] for argv in transport.of("qdel")] == [(), forced]
    assert wait_for_exit_info(pbs, did, 30, 0.05).error_state == TaskInstanceStatus.KILLED_SELF
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the job's process outlived the forced qdel"


def wait_for_file(path: Path, timeout: float) -> str:
    """The text of `path` once it has a complete line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError):
            text = path.read_text()
            if text.endswith("\n"):
                return text
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written within {timeout}s")


def alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"
