"""CommandRunner: retries transient failures with backoff, fails definite ones at once."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from distributor import SchedulerError
from distributor.batch import (
    CommandResult,
    CommandRunner,
    LocalTransport,
    RecordingTransport,
    RetryPolicy,
)


def scripted(results: Sequence[CommandResult]) -> RecordingTransport:
    """A transport that answers with `results` in order and runs nothing."""
    queue = list(results)
    return RecordingTransport(lambda argv, n: queue.pop(0), fallback=None)


def failure(stderr: str, code: int = 1) -> CommandResult:
    """A failed result with the given stderr."""
    return CommandResult(("squeue",), code, "", stderr)


OK = CommandResult(("squeue",), 0, "out", "")


def test_transient_failure_is_retried_with_growing_delays() -> None:
    """Two transient failures then success: three attempts, delays grow, one warning each."""
    transport = scripted([failure("Socket timed out"), failure("Socket timed out"), OK])
    delays: list[float] = []
    runner = CommandRunner(
        transport,
        RetryPolicy(initial_delay=1.0, multiplier=2.0, jitter=0.0),
        sleep=delays.append,
    )
    with capture_logs() as logs:
        assert runner.run(["squeue"]).stdout == "out"
    assert delays == [1.0, 2.0]
    assert [e["event"] for e in logs] == ["scheduler_command_retry"] * 2
    assert runner.calls["squeue"] == 3


def test_definite_failure_is_not_retried() -> None:
    """An error that matches no transient pattern raises at once with argv, status and stderr."""
    transport = scripted([failure("Invalid partition name specified")])
    runner = CommandRunner(transport, sleep=lambda _: None)
    with pytest.raises(SchedulerError) as caught:
        runner.run(["squeue"])
    assert caught.value.argv == ("squeue",) and caught.value.returncode == 1
    assert "Invalid partition" in caught.value.stderr and len(transport.argvs) == 1


def test_retries_stop_after_the_attempt_limit() -> None:
    """A failure that stays transient raises after `attempts` tries, saying so."""
    transport = scripted([failure("Connection refused")] * 3)
    runner = CommandRunner(transport, RetryPolicy(attempts=3), sleep=lambda _: None)
    with pytest.raises(SchedulerError, match="after 3 attempts"):
        runner.run(["squeue"])
    assert len(transport.argvs) == 3


def test_timeout_is_retried_only_for_queries() -> None:
    """A timed-out submission is not repeated (it may have been accepted) and says so."""
    timed_out = CommandResult(("sbatch",), None, timed_out=True)
    transport = scripted([timed_out, OK])
    runner = CommandRunner(transport, sleep=lambda _: None, submit_transient=("timed out",))
    with pytest.raises(SchedulerError, match="timed out") as caught:
        runner.submit(["sbatch", "job.sh"])
    assert caught.value.returncode is None and caught.value.timed_out
    assert len(transport.argvs) == 1
    assert runner.run(["squeue"]).ok  # the next prepared result, after no retry
    transport = scripted([timed_out, OK])
    assert CommandRunner(transport, sleep=lambda _: None).run(["squeue"]).ok


def test_jittered_delays_stay_within_bounds() -> None:
    """Every delay lies within the jitter band around the capped exponential."""
    policy = RetryPolicy(initial_delay=0.5, multiplier=2.0, max_delay=4.0, jitter=0.25)
    rng = random.Random(7)  # noqa: S311 - jitter, not crypto
    for retry in range(1, 12):
        base = min(4.0, 0.5 * 2 ** (retry - 1))
        assert base * 0.75 <= policy.delay(retry, rng) <= base * 1.25


def test_policy_rejects_nonsense() -> None:
    """Zero attempts, a non-positive timeout, a shrinking multiplier, full jitter and a
    pattern that is no regular expression are refused."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)
    with pytest.raises(ValueError, match="unclosed"):
        RetryPolicy(transient=("(unclosed",))
    with pytest.raises(ValueError, match="timeout"):
        RetryPolicy(timeout=0)
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=1.0)


def test_real_command_failing_once_transiently_succeeds(tmp_path: Path) -> None:
    """A real program that fails with a transient message once is retried and succeeds."""
    flag = tmp_path / "flag"
    script = (
        f"if [ -e {flag} ]; then echo ok; "
        f'else touch {flag}; echo "Socket timed out" >&2; exit 1; fi'
    )
    runner = CommandRunner(LocalTransport(), RetryPolicy(initial_delay=0.01))
    assert runner.run(["sh", "-c", script]).stdout == "ok\n"
    assert runner.calls["sh"] == 2


def test_missing_program_raises_without_retry(tmp_path: Path) -> None:
    """A program that cannot start raises a SchedulerError naming it, without retries."""
    runner = CommandRunner(LocalTransport())
    with pytest.raises(SchedulerError, match="could not be started"):
        runner.run([str(tmp_path / "sbatch")])
    assert runner.calls["sbatch"] == 1


def test_environment_factory_is_called_per_command() -> None:
    """The env callable supplies each command's environment."""
    runner = CommandRunner(LocalTransport(), env=lambda: {"PATH": "/usr/bin:/bin", "X": "1"})
    assert runner.run(["sh", "-c", "echo $X"]).stdout == "1\n"


def test_submissions_retry_only_on_the_schedulers_submit_patterns() -> None:
    """A generic transient message does not make a submission retried; the scheduler's own
    proof that nothing was created does, with the user's delays."""
    transport = scripted([failure("Socket timed out"), OK])
    runner = CommandRunner(
        transport, sleep=lambda _: None, submit_transient=(r"unable to contact",)
    )
    with pytest.raises(SchedulerError) as caught:
        runner.submit(["sbatch"])
    assert len(transport.argvs) == 1 and not caught.value.timed_out
    delays: list[float] = []
    transport = scripted([failure("Unable to contact slurm controller")] * 3 + [OK])
    policy = RetryPolicy(initial_delay=1.0, multiplier=3.0, max_delay=5.0, jitter=0.0)
    runner = CommandRunner(
        transport, policy, sleep=delays.append, submit_transient=(r"unable to contact",)
    )
    assert runner.submit(["sbatch"]).ok
    assert delays == [1.0, 3.0, 5.0]


def test_scheduler_and_user_patterns_both_count_for_queries() -> None:
    """The scheduler's patterns and the policy's extra ones both make a query transient."""
    transport = scripted([failure("slurm_receive_msg"), failure("site wrapper hiccup"), OK])
    runner = CommandRunner(
        transport,
        RetryPolicy(transient=(r"wrapper hiccup",)),
        transient=(r"slurm_receive_msg",),
        sleep=lambda _: None,
    )
    assert runner.run(["squeue"]).ok and len(transport.argvs) == 3
