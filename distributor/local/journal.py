"""Append-only JSON-lines files shared by the local controller and its reaper.

Each reaper owns a directory ``<state_dir>/reapers/<token>/`` holding:

* ``reaper.json`` — the reaper's pid and kernel start time (to detect death and pid reuse);
* ``commands.jsonl`` — appended by controllers: ``submit`` and ``terminate`` commands; a
  submission is written here before the reaper is woken, so it is durable once `submit` returns;
* ``events.jsonl`` — appended by the reaper only: ``started``, ``exited``.

Lines are written whole by a single ``write`` on an ``O_APPEND`` descriptor; a reader keeps its
offset and never consumes a line without its trailing newline, so a torn tail is read later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from distributor.logs import get_logger

__all__ = ["Appender", "Tailer"]

log = get_logger(__name__)


class Appender:
    """Appends JSON lines to one file with a single write per batch."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Append `records`, one JSON object per line, in one ``write`` call."""
        data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records).encode()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Tailer:
    """Reads the complete lines appended to a file since the previous call.

    `close` releases the file but keeps the place: a later `read` reopens it and goes on
    from there, never yielding a line twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: BinaryIO | None = None
        self._offset = 0
        self._partial = b""

    def read(self) -> Iterator[dict[str, Any]]:
        """Yield each new complete record; a malformed line is logged and skipped."""
        if self._handle is None:
            try:
                self._handle = open(self.path, "rb")  # noqa: SIM115 - kept open to tail cheaply
            except FileNotFoundError:
                return
            self._handle.seek(self._offset)
        chunk = self._handle.read()
        if not chunk:
            return
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if not line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                log.error("journal_line_unreadable", path=str(self.path), line=line[:200])
                continue
            if isinstance(record, dict):
                yield record

    def pending(self) -> bool:
        """True if the file holds bytes `read` has not consumed yet (one ``stat``, no read)."""
        try:
            if self._handle is not None:
                size = os.fstat(self._handle.fileno()).st_size
            else:
                size = os.stat(self.path).st_size
        except FileNotFoundError:
            return False
        return size > self._offset

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
