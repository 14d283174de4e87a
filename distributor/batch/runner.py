"""`CommandRunner`: run scheduler commands with a timeout, bounded retries and precise errors.

Every scheduler command of a batch plugin goes through one runner::

    runner = CommandRunner(LocalTransport(), RetryPolicy(transient=SLURM_TRANSIENT))
    result = runner.run(["squeue", "-h", "-j", "12"])      # CommandResult, or SchedulerError

Rules:

* argv lists only; the runner never builds a shell command.
* Each attempt has a timeout (`RetryPolicy.timeout`, or ``timeout=`` per call).
* A failure is **transient** when its output matches one of the policy's patterns (controller
  unreachable, socket timed out, ...) or, for idempotent commands, when it timed out. Transient
  failures are retried with exponential backoff and jitter, up to `RetryPolicy.attempts` tries;
  anything else fails at once. A non-idempotent command (a submission) is never retried after a
  timeout: it may have been accepted.
* A command that still fails raises `SchedulerError` carrying argv, exit status (None after a
  timeout or when it could not start), stderr and stdout.
* `CommandRunner.calls` counts every attempt by program name, so benchmarks and tests can verify
  how many scheduler commands a poll cycle cost.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

import structlog

from distributor.batch.transport import CommandResult, LocalTransport, Transport
from distributor.exceptions import SchedulerError

__all__ = ["GENERIC_TRANSIENT", "CommandRunner", "RetryPolicy"]

log = structlog.get_logger(__name__)

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
        transient: regular expressions (case-insensitive) matched against stderr and stdout;
            a match makes a failure transient.
    """

    attempts: int = 4
    timeout: float = 60.0
    initial_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 15.0
    jitter: float = 0.25
    transient: tuple[str, ...] = GENERIC_TRANSIENT
    _compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts={self.attempts!r}: must be at least 1")
        if self.timeout <= 0:
            raise ValueError(f"timeout={self.timeout!r}: must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter={self.jitter!r}: must be in [0, 1)")
        compiled = tuple(re.compile(pattern, re.IGNORECASE) for pattern in self.transient)
        object.__setattr__(self, "_compiled", compiled)

    def delay(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1))
        return base * (1 + rng.uniform(-self.jitter, self.jitter))

    def is_transient(self, result: CommandResult, *, idempotent: bool) -> bool:
        """Whether `result` is a failure worth retrying."""
        if result.error:
            return False  # the program is missing or not executable: retrying cannot help
        if result.timed_out:
            return idempotent
        text = f"{result.stderr}\n{result.stdout}"
        return any(pattern.search(text) for pattern in self._compiled)


class CommandRunner:
    """Runs scheduler commands through a `Transport` (see the module docstring).

    Args:
        transport: where commands run (default: `LocalTransport`).
        policy: timeouts and retries.
        env: called before each command to build its environment (default: the transport's).
        sleep / rng: injectable for tests.

    Thread-safe: several threads may run commands through one runner.
    """

    def __init__(
        self,
        transport: Transport | None = None,
        policy: RetryPolicy | None = None,
        *,
        env: Callable[[], Mapping[str, str]] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.transport: Transport = transport if transport is not None else LocalTransport()
        self.policy = policy if policy is not None else RetryPolicy()
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
        idempotent: bool = True,
        policy: RetryPolicy | None = None,
    ) -> CommandResult:
        """Run `argv` until it succeeds, fails definitely, or runs out of attempts.

        Args:
            argv: the command; must be non-empty.
            stdin: text for standard input.
            timeout: seconds per attempt (default: the policy's).
            attempts: tries in total (default: the policy's).
            idempotent: False for commands that must not be repeated after a timeout.
            policy: replaces the runner's policy for this call (for example narrower
                transient patterns for a submission).

        Returns:
            The result of the successful attempt (exit status 0).

        Raises:
            SchedulerError: the last attempt failed; it carries argv, exit status, stderr
                and stdout.
        """
        command = tuple(argv)
        if not command:
            raise ValueError("argv must not be empty")
        program = PurePath(command[0]).name
        rules = policy if policy is not None else self.policy
        limit = attempts if attempts is not None else rules.attempts
        per_call = timeout if timeout is not None else rules.timeout
        for attempt in range(1, limit + 1):
            environment = self._env() if self._env is not None else None
            result = self.transport.run(command, timeout=per_call, stdin=stdin, env=environment)
            with self._lock:
                self._calls[program] += 1
            if result.ok:
                return result
            transient = rules.is_transient(result, idempotent=idempotent)
            if not transient or attempt == limit:
                raise _error(program, result, per_call, attempt)
            delay = rules.delay(attempt, self._rng)
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
    )
