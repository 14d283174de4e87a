"""`CommandRunner`: run scheduler commands with a timeout, bounded retries and precise errors.

Every scheduler command of a batch plugin goes through one runner::

    runner = CommandRunner(transport, retry_policy,
                           transient=SLURM_TRANSIENT, submit_transient=SLURM_SUBMIT_TRANSIENT)
    result = runner.run(["squeue", "-h", "-j", "12"])      # CommandResult, or SchedulerError
    job_id = runner.submit(["sbatch", "--parsable", path]).stdout

The **policy** (`RetryPolicy`: attempts, timeout, delays, jitter) is the user's; the **patterns**
that make a failure worth retrying are facts about the scheduler, given by the plugin. The
runner is the one place that combines them, for every command a plugin runs:

* argv lists only; the runner never builds a shell command.
* Each attempt has a timeout (`RetryPolicy.timeout`, or ``timeout=`` per call).
* `CommandRunner.run` (queries, cancellations): a failure is **transient** when its output
  matches one of the scheduler's `transient` patterns or the policy's extra ones (controller
  unreachable, socket timed out, ...), or when it timed out.
* `CommandRunner.submit` (anything that creates jobs): only the scheduler's `submit_transient`
  patterns count — failures after which the scheduler certainly created nothing — and a timeout
  is never retried: the submission may have been accepted. The error then says
  `SchedulerError.timed_out`, which callers treat as "in doubt", not "refused".
* Transient failures are retried up to `RetryPolicy.attempts` tries, waiting
  `RetryPolicy.initial_delay`, then `RetryPolicy.multiplier` times longer each time, capped at
  `RetryPolicy.max_delay`, scaled by ``1 ± RetryPolicy.jitter``; anything else fails at once.
* A command that still fails raises `SchedulerError` carrying argv, exit status (None after a
  timeout or when it could not start), stderr and stdout.
* `CommandRunner.calls` counts every attempt by program name, so benchmarks and tests can verify
  how many scheduler commands a poll cycle cost.
"""

from __future__ import annotations

import contextvars
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePath

from distributor.batch.transport import CommandResult, LocalTransport, Transport
from distributor.exceptions import SchedulerError
from distributor.logs import get_logger

__all__ = ["GENERIC_TRANSIENT", "CommandRunner", "RetryPolicy", "submitting"]

log = get_logger(__name__)

GENERIC_TRANSIENT: tuple[str, ...] = (
    r"timed? ?out",
    r"connection (refused|reset|timed out)",
    r"temporar(il)?y (failure|unavailable)",
    r"resource temporarily unavailable",
    r"try again",
    r"transport endpoint is not connected",
    r"network is unreachable",
)
"""Regular expressions (case-insensitive) of failures worth retrying on any scheduler."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long each attempt may take and how failures are retried.

    Attributes:
        attempts: tries in total (1 = no retry).
        timeout: seconds per attempt.
        initial_delay: seconds before the first retry; each further delay is `multiplier`
            times the previous one, capped at `max_delay`.
        jitter: each delay is scaled by a random factor in ``[1 - jitter, 1 + jitter]``.
        transient: extra regular expressions (case-insensitive), matched against stderr and
            stdout of queries and cancellations, that make a failure transient besides the
            scheduler's own patterns (a site's flaky wrapper, say). Never applied to
            submissions.
    """

    attempts: int = 4
    timeout: float = 60.0
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 15.0
    jitter: float = 0.25
    transient: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts={self.attempts!r}: must be at least 1")
        if self.timeout <= 0:
            raise ValueError(f"timeout={self.timeout!r}: must be positive")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("initial_delay and max_delay must not be negative")
        if self.multiplier < 1:
            raise ValueError(f"multiplier={self.multiplier!r}: must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter={self.jitter!r}: must be in [0, 1)")
        for pattern in self.transient:  # a bad pattern fails here, not at the first failure
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"transient pattern {pattern!r}: {exc}") from None

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


_SUBMITTING: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "distributor_submitting", default=None
)


@contextmanager
def submitting(on_start: Callable[[int], None]) -> Iterator[None]:
    """Within this block (in this thread or task), every `CommandRunner.submit` passes the pid
    of the process that carries its command to `on_start` as soon as it exists.

    `distributor.batch.BatchDistributor` wraps each submission in it to record the submit
    command's process beside the submission's intent, without the plugin's help.
    """
    token = _SUBMITTING.set(on_start)
    try:
        yield
    finally:
        _SUBMITTING.reset(token)


def _compile(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


def _matches(patterns: Sequence[re.Pattern[str]], result: CommandResult) -> bool:
    text = f"{result.stderr}\n{result.stdout}"
    return any(pattern.search(text) for pattern in patterns)


class CommandRunner:
    """Runs scheduler commands through a `Transport` (see the module docstring).

    Args:
        transport: where commands run (default: `LocalTransport`).
        policy: the user's timeouts and retries (default `RetryPolicy()`).
        transient: the scheduler's patterns of failures worth retrying for queries and
            cancellations (default `GENERIC_TRANSIENT`).
        submit_transient: the scheduler's patterns of submission failures after which it
            certainly created nothing (default: none, so submissions are not retried).
        env: called before each command to build its environment (default: the transport's).
        sleep / rng: injectable for tests.

    Thread-safe: several threads may run commands through one runner.
    """

    def __init__(
        self,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        *,
        transient: Sequence[str] = GENERIC_TRANSIENT,
        submit_transient: Sequence[str] = (),
        env: Callable[[], Mapping[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.transport: Transport = transport if transport is not None else LocalTransport()
        self.policy = policy if policy is not None else RetryPolicy()
        self._transient = _compile([*transient, *self.policy.transient])
        self._submit_transient = _compile(submit_transient)
        self._env = env
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()  # noqa: S311 - jitter, not crypto
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    @property
    def calls(self) -> Counter[str]:
        """Attempts made so far, by program name (``{"squeue": 12, "sacct": 1}``); a copy."""
        with self._lock:
            return Counter(self._calls)

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: str | None = None,
        timeout: float | None = None,
        attempts: int | None = None,
    ) -> CommandResult:
        """Run a query or cancellation until it succeeds, fails definitely, or runs out of
        attempts (timeouts and transient failures are retried).

        Args:
            argv: the command; must be non-empty.
            stdin: text for standard input.
            timeout: seconds per attempt (default: the policy's).
            attempts: tries in total (default: the policy's); 1 to fail fast.

        Returns:
            The result of the successful attempt (exit status 0).

        Raises:
            SchedulerError: the last attempt failed; it carries argv, exit status, stderr
                and stdout.
        """
        return self._run(argv, stdin, timeout, attempts, submission=False)

    def submit(self, argv: Sequence[str], *, stdin: str | None = None) -> CommandResult:
        """Run a command that creates jobs: retried only after failures the scheduler's
        `submit_transient` patterns prove harmless, never after a timeout. Inside `submitting`,
        the command's pid is reported as soon as it runs.

        Raises:
            SchedulerError: it failed; ``timed_out`` (or ``returncode is None``) means the
                scheduler may have accepted it.
        """
        return self._run(argv, stdin, None, None, submission=True)

    def _run(
        self,
        argv: Sequence[str],
        stdin: str | None,
        timeout: float | None,
        attempts: int | None,
        *,
        submission: bool,
    ) -> CommandResult:
        command = tuple(argv)
        if not command:
            raise ValueError("argv must not be empty")
        program = PurePath(command[0]).name
        limit = attempts if attempts is not None else self.policy.attempts
        per_call = timeout if timeout is not None else self.policy.timeout
        patterns = self._submit_transient if submission else self._transient
        on_start = _SUBMITTING.get() if submission else None
        for attempt in range(1, limit + 1):
            environment = self._env() if self._env is not None else None
            result = self.transport.run(
                command, timeout=per_call, stdin=stdin, env=environment, on_start=on_start
            )
            with self._lock:
                self._calls[program] += 1
            if result.ok:
                return result
            if result.error:
                transient = False  # the program is missing or not executable
            elif result.timed_out:
                transient = not submission  # a submission may have been accepted
            else:
                transient = _matches(patterns, result)
            if not transient or attempt == limit:
                raise _error(program, result, per_call, attempt)
            delay = self.policy.delay(attempt, self._rng)
            log.warning(
                "scheduler_command_retry",
                program=program,
                attempt=attempt,
                returncode=result.returncode,
                timed_out=result.timed_out,
                stderr=result.stderr.strip()[-500:],
                delay=round(delay, 3),
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover


def _error(program: str, result: CommandResult, timeout: float, attempts: int) -> SchedulerError:
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if result.error:
        message = f"{program} could not be started: {result.error} (is it installed and on PATH?)"
    elif result.timed_out:
        message = f"{program} timed out after {timeout:g}s{tries}"
    else:
        message = f"{program} failed{tries}"
    return SchedulerError(
        message,
        argv=result.argv,
        returncode=result.returncode,
        stderr=result.stderr,
        stdout=result.stdout,
        timed_out=result.timed_out,
    )
