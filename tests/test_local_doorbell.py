"""The reaper's doorbell: one byte per batch of events, never blocking, end of file at its death;
and the journal tailer's cheap look for unread bytes that a waiter checks after each ring."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from distributor.local.doorbell import Doorbell, ring
from distributor.local.journal import Appender, Tailer


def _bell() -> tuple[Doorbell, int]:
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    os.set_blocking(write_end, False)
    return Doorbell(read_end), write_end


def test_a_ring_wakes_the_waiter_and_is_consumed() -> None:
    """A waiter returns at a ring, consuming it: the next wait sees no ring."""
    bell, write_end = _bell()
    for _ in range(3):
        assert ring(write_end)
    bell.wait(60)
    assert not bell.silent
    assert not bell._poller.poll(0)  # every ring was read
    bell.close()
    os.close(write_end)


def test_a_full_pipe_does_not_block_the_ringer() -> None:
    """Rings nobody reads fill the pipe; further rings return at once, still heard."""
    bell, write_end = _bell()
    for _ in range(70_000):  # beyond a 64 KiB pipe
        assert ring(write_end)
    bell.wait(60)
    assert not bell.silent
    bell.close()
    os.close(write_end)


def test_ringing_a_gone_waiter_says_so() -> None:
    """Once the waiter has closed its end, `ring` returns False (the ringer then stops)."""
    bell, write_end = _bell()
    bell.close()
    assert not ring(write_end)
    os.close(write_end)


def test_the_ringers_exit_silences_the_bell() -> None:
    """End of file (every write end closed: the reaper exited) wakes the waiter for good."""
    bell, write_end = _bell()
    os.close(write_end)
    bell.wait(60)
    assert bell.silent
    bell.wait(60)  # returns at once from now on
    bell.close()


def test_the_reaper_moves_its_doorbell_off_stdout() -> None:
    """A reaper whose stdout is a pipe keeps it as a close-on-exec doorbell and puts
    /dev/null on stdout; with stdout not a pipe it has no doorbell."""
    code = (
        "import os, sys\n"
        "from distributor.local.reaper import _take_doorbell\n"
        "fd = _take_doorbell()\n"
        "print(fd >= 0 and not os.get_inheritable(fd), os.readlink('/proc/self/fd/1'),"
        " file=sys.stderr)\n"
        "fd >= 0 and os.write(fd, b'rung')\n"
    )
    piped = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert piped.stderr.decode().split() == ["True", "/dev/null"]
    assert piped.stdout == b"rung"
    plain = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, check=True)  # fmt: skip
    assert plain.stderr.decode().split() == ["False", "/dev/null"]


def test_tailer_pending_sees_unread_bytes_only(tmp_path: Path) -> None:
    """`pending` is True while appended bytes are unread (a torn line too), open or closed."""
    path = tmp_path / "events.jsonl"
    tailer = Tailer(path)
    assert not tailer.pending()  # no file yet
    appender = Appender(path)
    appender.write([{"ev": "started"}])
    assert tailer.pending()
    assert [r["ev"] for r in tailer.read()] == ["started"]
    assert not tailer.pending()
    with open(path, "ab") as handle:
        handle.write(b'{"ev": "exi')
    assert tailer.pending()
    assert list(tailer.read()) == []
    assert not tailer.pending()
    with open(path, "ab") as handle:
        handle.write(b'ted"}\n')
    assert [r["ev"] for r in tailer.read()] == ["exited"]
    tailer.close()
    appender.write([{"ev": "started"}])
    assert tailer.pending()  # closed: looked at by path
    assert [r["ev"] for r in tailer.read()] == ["started"]
    assert not tailer.pending()
    tailer.close()
    appender.close()
