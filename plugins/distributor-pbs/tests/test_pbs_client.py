"""PbsClient: flavour detection, one qstat per poll cycle, qstat's and qdel's expected
failures tolerated, real failures raised, and the environment PBS commands see."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from distributor import (
    RemoteExitInfoNotAvailable,
    SchedulerError,
    SchedulerOutputError,
    TaskInstanceStatus,
)
from distributor.batch import CommandResult, RecordingTransport, RetryPolicy
from distributor.testing import wait_until_gone
from distributor_pbs import PbsClient, PbsDistributor
from distributor_pbs.client import pbs_environment
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
QUICK = RetryPolicy(attempts=2, initial_delay=0.01, timeout=10)


def scripted(*answers: tuple[int, str, str]) -> RecordingTransport:
    """A transport that answers each command with the next (status, stdout, stderr)."""
    queue = list(answers)
    return RecordingTransport(lambda argv, n: CommandResult(argv, *queue.pop(0)), fallback=None)


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_flavour_is_detected_from_qstat_version(tmp_path: Path, flavour: str) -> None:
    """``auto`` asks ``qstat --version`` once and remembers the answer."""
    client = PbsClient(environment=fake_environment(FAKES, tmp_path, flavour=flavour))
    assert client.flavour.name == flavour
    assert client.flavour.name == flavour
    assert client.runner.calls["qstat"] == 1


def test_a_qstat_that_is_not_pbs_is_refused() -> None:
    """Another scheduler's qstat first on PATH (Grid Engine's here) is named as the problem."""
    transport = scripted((0, "", 'error: invalid option argument "--version"\n'))
    client = PbsClient(transport=transport)
    with pytest.raises(SchedulerOutputError, match="pass flavour='pro' or 'torque'"):
        _ = client.flavour


def test_one_qstat_per_poll_cycle(tmp_path: Path) -> None:
    """Three jobs and an array of three cost one qstat per poll cycle."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour="pro")
    pbs = PbsDistributor(
        "fake", submit_root=tmp_path / "r", environment=env, poll_policy=FAST_POLLING
    )
    pbs.start()
    ids = [pbs.submit_to_batch_distributor("sleep 5", "j", {}) for _ in range(3)]
    ids += pbs.submit_array_to_batch_distributor("sleep 5", "a", {}, 3).values()
    before = pbs.client.runner.calls["qstat"]
    assert pbs.tracker.refresh(force=True)
    assert pbs.client.runner.calls["qstat"] == before + 1
    assert pbs.get_submitted_or_running(ids) == set(ids)
    pbs.terminate_task_instances(ids)


def test_unknown_ids_do_not_hide_known_ones(tmp_path: Path) -> None:
    """qstat exits 153 for an id it does not know; the jobs it printed still count."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour="torque")
    pbs = PbsDistributor("fake", submit_root=tmp_path / "r", environment=env)
    did = pbs.submit_to_batch_distributor("sleep 5", "j", {})
    found = pbs.client.query_status([did, "4242.fakepbs"])
    assert set(found) == {did}
    pbs.terminate_task_instances([did])


def test_transient_failures_are_retried_then_raised() -> None:
    """ "Cannot connect to server" is retried; when it persists, SchedulerError says so."""
    down = (1, "", "qstat: cannot connect to server pbs (errno=111) Connection refused\n")
    transport = scripted(down, down)
    client = PbsClient(flavour="pro", transport=transport, retry_policy=QUICK)
    with pytest.raises(SchedulerError, match="cannot connect to server"):
        client.query_status(["1.pbs"])
    assert len(transport.argvs) == 2


def test_other_qstat_errors_raise_at_once() -> None:
    """A failure that is neither transient nor an unknown id is raised without retrying."""
    transport = scripted((2, "", "qstat: invalid option -- 'F'\n"))
    client = PbsClient(flavour="pro", transport=transport, retry_policy=QUICK)
    with pytest.raises(SchedulerError, match="invalid option"):
        client.query_status(["1.pbs"])
    assert len(transport.argvs) == 1


def test_qdel_of_ended_jobs_is_not_an_error() -> None:
    """qdel's documented messages for unknown and finished jobs of both flavours are ignored,
    anything else is raised."""
    transport = scripted(
        (153, "", "qdel: Unknown Job Id 1.pbs\n"),
        (35, "", "qdel: Job 2.pbs has finished\n"),
        (170, "", "qdel: Request invalid for state of job MSG=invalid state for job - "
         "COMPLETE 3.pbs\n"),
        (15, "", "qdel: Unauthorized Request  4.pbs\n"),
    )  # fmt: skip
    client = PbsClient(flavour="torque", transport=transport, retry_policy=QUICK)
    for job in ("1.pbs", "2.pbs", "3.pbs"):
        client.delete([job])
    with pytest.raises(SchedulerError, match="Unauthorized"):
        client.delete(["4.pbs"])


def test_environment_of_pbs_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """PBS_QSTAT_NO_COMPLETE (which hides Torque's completed jobs) is dropped; the server is
    PBS_DEFAULT; extra variables are added."""
    monkeypatch.setenv("PBS_QSTAT_NO_COMPLETE", "1")
    env = pbs_environment("pbs.example.org", {"PATH": "/fake:/usr/bin"})
    assert "PBS_QSTAT_NO_COMPLETE" not in env
    assert (env["PBS_DEFAULT"], env["PATH"]) == ("pbs.example.org", "/fake:/usr/bin")


def test_job_that_can_never_run_is_a_queueing_error(tmp_path: Path) -> None:
    """A PBS Pro job asking more CPUs than any node has is reported by get_queueing_errors."""
    queues = {"workq": {"resources_max.walltime": "01:00:00"}}
    env = fake_environment(FAKES, tmp_path / "pbs", flavour="pro", queues=queues, node_ncpus=2)
    pbs = PbsDistributor(
        "fake", submit_root=tmp_path / "r", environment=env, poll_policy=FAST_POLLING
    )
    big = pbs.submit_to_batch_distributor("true", "big", {"cores": 4})
    small = pbs.submit_to_batch_distributor("sleep 5", "small", {"cores": 1})
    deadline = time.monotonic() + 10
    errors: dict[str, str] = {}
    while not errors and time.monotonic() < deadline:
        errors = pbs.get_queueing_errors([big, small])
        time.sleep(0.05)
    assert list(errors) == [big]
    assert "Can never run: Insufficient amount of resource: ncpus (R: 4" in errors[big]
    pbs.terminate_task_instances([big, small])


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_a_job_pbs_forgot_without_a_record_is_looked_for_then_lost(
    tmp_path: Path, flavour: str
) -> None:
    """Without history or keep_completed, a job whose worker died leaves no trace: its exit
    info is not available (waiting for accounting, then "still looking") until the lost-job
    grace has passed, then it is a final U."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=flavour, history=False,
                           keep_completed=0)  # fmt: skip
    pbs = PbsDistributor(
        "fake", submit_root=tmp_path / "r", environment=env, poll_policy=FAST_POLLING
    )
    did = pbs.submit_to_batch_distributor("kill -9 $PPID", "orphan", {})
    wait_until_gone(pbs, [did], 30, 0.05)
    gone = time.monotonic()
    waits: list[str] = []
    deadline = gone + 30
    while time.monotonic() < deadline:
        try:
            info = pbs.get_remote_exit_info(did)
        except RemoteExitInfoNotAvailable as exc:
            waits.append(str(exc))
            time.sleep(0.05)
            continue
        break
    else:
        raise AssertionError(f"no exit info for {did} after 30s: {waits[-1:]}")
    assert time.monotonic() - gone >= FAST_POLLING.lost_grace - 1.0
    assert any("still looking" in wait for wait in waits), waits[-1:]
    assert info.finalized and info.error_state is TaskInstanceStatus.UNKNOWN_ERROR
    assert "lost" in info.error_message
