"""RecordingTransport: records every command; an answer may reply instead of running it."""

from __future__ import annotations

from distributor.batch import CommandResult, RecordingTransport, Transport


def test_unanswered_commands_run_locally_and_everything_is_recorded() -> None:
    """The answer sees each program's call number; declined commands really run."""
    seen: list[tuple[tuple[str, ...], int]] = []

    def answer(argv: tuple[str, ...], n: int) -> CommandResult | None:
        seen.append((argv, n))
        return CommandResult(argv, 7, "", "refused") if argv[0] == "false" else None

    recording = RecordingTransport(answer)
    transport: Transport = recording  # it satisfies the protocol
    ran = transport.run(["sh", "-c", "echo $X"], timeout=10, env={"X": "hi", "PATH": "/bin"})
    refused = transport.run(["false"], timeout=10)
    again = transport.run(["sh", "-c", "exit 3"], timeout=10)
    assert (ran.returncode, ran.stdout) == (0, "hi\n")
    assert (refused.returncode, refused.stderr) == (7, "refused")
    assert again.returncode == 3
    assert [n for _, n in seen] == [1, 1, 2]
    assert recording.of("sh") == [("sh", "-c", "echo $X"), ("sh", "-c", "exit 3")]
    assert recording.envs == [{"X": "hi", "PATH": "/bin"}, None, None]


def test_without_fallback_an_unanswered_command_is_a_start_error() -> None:
    """Nothing runs: the result says which command had no answer."""
    transport = RecordingTransport(lambda argv, n: None, fallback=None)
    result = transport.run(["rm", "-rf", "/nonexistent"], timeout=10)
    assert result.returncode is None and not result.ok
    assert "no answer for 'rm -rf /nonexistent'" in result.error
