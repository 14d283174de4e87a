"""LocalTransport runs argv lists and reports failures, timeouts and start errors in the result."""

from __future__ import annotations

import os
import time
from pathlib import Path

from distributor.batch import CommandResult, LocalTransport, Transport


def test_runs_argv_and_captures_output() -> None:
    """Output and status of a real command are captured; argv is not shell-parsed."""
    result = LocalTransport().run(["printf", "%s|", "a b", "$(x)"], timeout=10)
    assert result.ok and result.stdout == "a b|$(x)|" and result.returncode == 0


def test_nonzero_status_is_reported_not_raised() -> None:
    """A failing command gives its status and stderr."""
    result = LocalTransport().run(["sh", "-c", "echo nope >&2; exit 4"], timeout=10)
    assert (result.ok, result.returncode, result.stderr) == (False, 4, "nope\n")


def test_timeout_kills_and_is_reported() -> None:
    """A command over its timeout is killed promptly and marked timed out."""
    began = time.monotonic()
    result = LocalTransport().run(["sleep", "30"], timeout=0.3)
    assert result.timed_out and result.returncode is None
    assert time.monotonic() - began < 10


def test_missing_program_is_an_error_in_the_result(tmp_path: Path) -> None:
    """A program that does not exist yields an error text naming it."""
    result = LocalTransport().run([str(tmp_path / "no-such-program")], timeout=5)
    assert result.returncode is None and "no-such-program" in result.error


def test_stdin_and_environment_are_passed() -> None:
    """stdin text and an explicit environment reach the command."""
    env = {"PATH": os.environ["PATH"], "ONLY_THIS": "yes"}
    result = LocalTransport(env=env).run(
        ["sh", "-c", 'read line; echo "$line $ONLY_THIS ${HOME:-nohome}"'],
        timeout=10,
        stdin="hello\n",
    )
    assert result.stdout == "hello yes nohome\n"


def test_local_transport_satisfies_the_protocol() -> None:
    """LocalTransport is a Transport."""
    transport: Transport = LocalTransport()
    assert isinstance(transport, Transport)
    assert isinstance(CommandResult(("x",), 0), CommandResult)


def test_on_start_gets_the_pid_while_the_command_runs(tmp_path: Path) -> None:
    """on_start is called with the command's pid before the transport waits for it."""
    seen: list[tuple[int, bool]] = []

    def note(pid: int) -> None:
        seen.append((pid, Path(f"/proc/{pid}").exists()))

    result = LocalTransport().run(["sh", "-c", "echo $$"], timeout=10, on_start=note)
    assert result.ok and seen == [(int(result.stdout), True)]
