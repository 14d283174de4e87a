"""How a reaper tells its controller "I wrote events" without the controller polling.

The controller hands its reaper the write end of a pipe as the reaper's standard output. After
each batch of events appended to ``events.jsonl`` the reaper writes one byte to it (`ring`);
a controller waiting for news blocks on the read end (`Doorbell.wait`) and reads the events
file once it wakes. The byte is written *after* the events, so a ring is never lost: a waiter
either finds the events already in the file or is woken by the byte. A ring may be stale (its
events already read by a poll); waiters must check the file, never count rings.

The pipe is never allowed to block either side: a full pipe already holds a ring, and a
reaper whose controller has gone stops ringing. End of file on the read end means every copy
of the write end is closed: the reaper has exited.
"""

from __future__ import annotations

import math
import os
import select

__all__ = ["Doorbell", "ring"]

_CHUNK = 4096


def ring(fd: int) -> bool:
    """Write one wake-up byte to the non-blocking pipe `fd`.

    Returns:
        False when nobody can hear it any more (the read end is closed): stop ringing.
    """
    try:
        os.write(fd, b"\n")
    except BlockingIOError:
        pass  # full of unread rings already: the waiter will wake anyway
    except OSError:  # BrokenPipeError (SIGPIPE is ignored by Python), or a closed descriptor
        return False
    return True


class Doorbell:
    """The controller's end of a reaper's doorbell pipe (owns the descriptor).

    Args:
        fd: the read end; made non-blocking here.
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._poller = select.poll()  # not select(): a controller may hold over 1024 files
        self._poller.register(fd, select.POLLIN)
        self.silent = False

    def wait(self, timeout: float) -> None:
        """Block until a ring, until the reaper has exited, or for `timeout` seconds; consume
        any rings waiting. Afterwards `silent` is True if the reaper has exited."""
        if self.silent or self._fd < 0:
            return
        if self._poller.poll(max(0, math.ceil(timeout * 1000))):
            self._drain()

    def _drain(self) -> None:
        try:
            while True:
                data = os.read(self._fd, _CHUNK)
                if not data:
                    self.silent = True
                    return
                if len(data) < _CHUNK:
                    return
        except BlockingIOError:
            return

    def close(self) -> None:
        """Close the read end (idempotent); a reaper still ringing then stops."""
        if self._fd >= 0:
            self._poller.unregister(self._fd)
            os.close(self._fd)
            self._fd = -1
            self.silent = True
