"""Termination signals for a command that must clean up: SIGINT, SIGTERM and SIGHUP alike.

`interruptible` turns each of them into an `Interrupted` exception (a `KeyboardInterrupt`, so
code written for Ctrl-C handles ``kill -TERM`` and a closed terminal the same way) carrying
the signal. `deferred` is for the clean-up itself: a further signal calls ``notice`` (to say
what is still being done) instead of interrupting it. Both restore the previous handlers.
Signal handlers can only be set from the main thread; elsewhere both change nothing.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["SIGNALS", "Interrupted", "deferred", "exit_status", "interruptible"]

SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A termination signal arrived.

    Attributes:
        signum: the signal's number.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name (``SIGTERM``)."""
        return signal.Signals(self.signum).name


def exit_status(signum: int) -> int:
    """The shell's status for a command ended by `signum` (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


@contextmanager
def _handlers(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise `Interrupted`."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    with _handlers(interrupt):
        yield


@contextmanager
def deferred(notice: Callable[[int], None]) -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP call ``notice(signum)`` and nothing else:
    the clean-up goes on."""

    def tell(signum: int, frame: FrameType | None) -> None:
        notice(signum)

    with _handlers(tell):
        yield
