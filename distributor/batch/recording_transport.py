"""`RecordingTransport`: a transport that records every command and can answer some itself.

For tests, dry runs and audits: it keeps each argv (and the environment it was given), and a
caller-supplied `Answer` may reply to a command instead of running it — a scheduler that fails
transiently, refuses a submission, or accepts a request and ignores it. Commands the answer
declines run on the `fallback` transport (by default `LocalTransport`); with no fallback an
unanswered command is reported as one that could not be started.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from distributor.batch.transport import CommandResult, LocalTransport, Transport

__all__ = ["Answer", "RecordingTransport"]

Answer = Callable[[tuple[str, ...], int], "CommandResult | None"]
"""``answer(argv, n)``: the result to give for `argv`, the program's `n`-th call (from 1), or
None to run it on the fallback."""


class RecordingTransport:
    """Records every command; `answer` may reply instead of running it (module docstring).

    Args:
        answer: see `Answer` (None: run every command).
        fallback: where unanswered commands run (default `LocalTransport()`); None makes an
            unanswered command a start error naming it.

    Attributes:
        argvs: every argv, in order; envs: the environment passed with each.
    """

    def __init__(
        self,
        answer: Answer | None = None,
        *,
        fallback: Transport | None = LocalTransport(),  # noqa: B008 - stateless default
    ) -> None:
        self._answer = answer
        self._fallback = fallback
        self.argvs: list[tuple[str, ...]] = []
        self.envs: list[Mapping[str, str] | None] = []

    def of(self, program: str) -> list[tuple[str, ...]]:
        """The argvs of one program, in order."""
        return [argv for argv in self.argvs if argv[0] == program]

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Record `argv`, then answer it or run it on the fallback (see `Transport.run`); an
        answered command never started a process, so `on_start` is not called for it."""
        command = tuple(argv)
        self.argvs.append(command)
        self.envs.append(env)
        if self._answer is not None:
            result = self._answer(command, len(self.of(command[0])))
            if result is not None:
                return result
        if self._fallback is None:
            return CommandResult(command, None, error=f"no answer for {' '.join(command)!r}")
        return self._fallback.run(command, timeout=timeout, stdin=stdin, env=env, on_start=on_start)
