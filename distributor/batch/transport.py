"""How batch plugins run scheduler commands: the `Transport` interface and `LocalTransport`.

A transport runs one argv list (never a shell string) with a timeout and returns a
`CommandResult`. It does not retry, classify or raise on a non-zero status: that is
`distributor.batch.runner.CommandRunner`'s job. Like httpx's transports, the interface is tiny and
the implementations are kept apart, so an SSH transport (commands run on a login node) can be
added without touching a plugin. A plugin never calls `subprocess` itself.

Contract for implementations:

* ``run`` never raises for a command that fails, times out or cannot be started; it reports it
  in the result (``returncode``, ``timed_out``, ``error``).
* A timed-out command is killed before ``run`` returns.
* Output is decoded as UTF-8 with undecodable bytes replaced.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import AnyStr, Protocol, runtime_checkable

__all__ = ["CommandResult", "ExecResult", "LocalTransport", "Transport"]


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one run of one command produced.

    Attributes:
        argv: the command as run.
        returncode: its exit status; None if it timed out or could not be started.
        stdout / stderr: its output, decoded.
        seconds: wall time of the call.
        timed_out: True if the transport killed it after the timeout.
        error: why the command could not be started (empty if it ran).
    """

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    error: str = ""

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0."""
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What one command run with bytes in and out produced (file operations).

    Attributes:
        returncode: its exit status; None if it timed out.
        stdout: its output, raw; stderr: its error output, decoded.
    """

    returncode: int | None
    stdout: bytes = b""
    stderr: str = ""


@runtime_checkable
class Transport(Protocol):
    """Runs scheduler commands somewhere (this machine, a login node)."""

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Run `argv` once and report what happened.

        Args:
            argv: program and arguments; the program is looked up on PATH.
            timeout: seconds after which the command is killed.
            stdin: text fed to standard input (None: no input).
            env: the complete environment of the command (None: the transport's default).
            on_start: called with the pid of the local process that carries the command as
                soon as it exists (before waiting for it), so that a caller can record it: a
                submission whose caller died can then be known to be still running, or over.

        Returns:
            The result; failures, timeouts and start errors are reported in it, never raised
            (an exception raised by `on_start` propagates; the command is left running).
        """
        ...


class LocalTransport:
    """Runs commands as child processes of this one.

    Args:
        env: the default environment of every command (None: this process's environment at
            the time of each call).
        cwd: working directory of every command (None: the current one).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self._env = dict(env) if env is not None else None
        self._cwd = cwd

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> CommandResult:
        """Run `argv` locally (see `Transport.run`)."""
        command = tuple(argv)
        environment = env if env is not None else self._env
        began = time.monotonic()
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=dict(environment) if environment is not None else None,
                cwd=self._cwd,
            )
        except OSError as exc:
            return CommandResult(
                command, None, seconds=time.monotonic() - began, error=_os_error(exc)
            )
        if on_start is not None:
            on_start(process.pid)
        stdout, stderr, timed_out = _communicate(process, stdin, timeout)
        returncode = None if timed_out else process.returncode
        return CommandResult(
            command, returncode, stdout, stderr, time.monotonic() - began, timed_out=timed_out
        )

    def exec_bytes(self, argv: Sequence[str], *, stdin: bytes | None, timeout: float) -> ExecResult:
        """Run `argv` here with bytes in and out (the channel of
        `distributor.batch.shell_files.ShellFiles`); a program that cannot start exits 127."""
        return _exec_bytes(argv, stdin, timeout)


def _exec_bytes(argv: Sequence[str], stdin: bytes | None, timeout: float) -> ExecResult:
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        return ExecResult(127, b"", _os_error(exc))
    stdout, stderr, timed_out = _communicate(process, stdin, timeout)
    returncode = None if timed_out else process.returncode
    return ExecResult(returncode, stdout, stderr.decode("utf-8", "replace"))


def _communicate(
    process: subprocess.Popen[AnyStr], stdin: AnyStr | None, timeout: float
) -> tuple[AnyStr, AnyStr, bool]:
    """`process`'s output and whether it timed out (then it is killed and its output so far
    kept); the process is waited for in every case."""
    with process:
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            return stdout, stderr, True
    return stdout, stderr, False


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _os_error(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    name = exc.filename if exc.filename is not None else ""
    return f"{reason}: {os.fsdecode(name)}" if name else reason
