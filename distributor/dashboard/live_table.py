"""The server's copy of a journal's task table, kept up to date by one poller and shared by
every open event stream (PARK's message stream for the job queue).

`LiveTable.run` reads the whole table once, then looks at the journal's position every
`poll_interval` seconds and, when it moved, reads only the tasks with new events, updates its
copy and hands every subscriber one ``changes`` message. `LiveTable.subscribe` gives a new
stream the whole table as its first message (``snapshot``, encoded once per position however
many readers ask) and, from that very position on, every ``changes`` message: both happen
between two awaits of the event loop, so no change is missed or sent twice.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

import anyio
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from distributor.dashboard.view import JournalView, TaskRow
from distributor.logs import get_logger

__all__ = ["COLUMNS", "LiveTable", "encode"]

COLUMNS = (
    "id", "name", "status", "state", "attempt", "max_attempts", "cluster", "owner", "tags",
    "message", "cancel_requested", "queue", "distributor_id", "exit_code", "signal",
    "started_at", "ended_at", "elapsed", "max_rss", "cpu", "memory", "cores",
)  # fmt: skip
"""The fields of a task in the stream's messages (`distributor.dashboard.view.TaskRow`)."""

log = get_logger(__name__)

_BACKLOG = 1000
"""Messages a slow reader may fall behind before its stream is closed (it reconnects and
starts again from a whole table)."""


def encode(kind: str, seq: int, rows: list[list[object]]) -> str:
    """One server-sent event: ``{"seq", "now", "columns", "rows"}``, each row a list in the
    order of ``columns`` (a third of the size of objects). JSON has no raw newline, so the
    data is one line."""
    data = {"seq": seq, "now": time.time(), "columns": COLUMNS, "rows": rows}
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _values(row: TaskRow) -> list[object]:
    return [row[key] for key in COLUMNS]


class LiveTable:
    """A journal's task table in memory, with subscribers to its changes.

    Args:
        journal: the journal's file.
        poll_interval: seconds between two looks at the journal's position.
    """

    def __init__(self, journal: Path, poll_interval: float) -> None:
        self.journal = journal
        self.poll_interval = poll_interval
        self.seq = -1
        self.ready = anyio.Event()
        self._rows: dict[int, list[object]] = {}
        self._encoded: tuple[int, str] | None = None
        self._subscribers: set[MemoryObjectSendStream[str]] = set()

    async def run(self) -> None:
        """Keep the table up to date until cancelled."""
        view = await anyio.to_thread.run_sync(JournalView, self.journal)
        try:
            await self._reload(view)
            self.ready.set()
            self.snapshot()  # encoded before the first reader asks
            while True:
                await anyio.sleep(self.poll_interval)
                try:
                    await self._update(view)
                except sqlite3.Error as exc:  # a journal being replaced: keep what we have
                    log.warning("dashboard_journal_unreadable", journal=str(self.journal),
                                error=str(exc))  # fmt: skip
        finally:
            view.close()
            for subscriber in list(self._subscribers):
                subscriber.close()

    async def _update(self, view: JournalView) -> None:
        latest = await anyio.to_thread.run_sync(view.seq)
        if latest < self.seq:  # another journal at that path: start over
            await self._reload(view)
            self._publish(self.snapshot())
        elif latest > self.seq:
            seq, changed = await anyio.to_thread.run_sync(view.changes, self.seq)
            values = [_values(row) for row in changed]
            for row in values:
                self._rows[int(str(row[0]))] = row
            self.seq = seq
            if values:
                self._publish(encode("changes", seq, values))

    async def _reload(self, view: JournalView) -> None:
        seq, rows = await anyio.to_thread.run_sync(view.snapshot)
        self._rows = {int(row["id"]): _values(row) for row in rows}
        self.seq = seq

    def snapshot(self) -> str:
        """The ``snapshot`` message of the whole table at the current position."""
        if self._encoded is None or self._encoded[0] != self.seq:
            self._encoded = (self.seq, encode("snapshot", self.seq, list(self._rows.values())))
        return self._encoded[1]

    def _publish(self, message: str) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.send_nowait(message)
            except anyio.WouldBlock:  # too far behind: it reconnects for a whole table
                self._drop(subscriber)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._drop(subscriber)

    def _drop(self, subscriber: MemoryObjectSendStream[str]) -> None:
        self._subscribers.discard(subscriber)
        subscriber.close()

    async def subscribe(self) -> tuple[str, MemoryObjectReceiveStream[str]]:
        """(the whole table now, a stream of every later ``changes`` message). Close the
        stream when done."""
        await self.ready.wait()
        send, receive = anyio.create_memory_object_stream[str](_BACKLOG)
        self._subscribers.add(send)  # no await between this and the snapshot below
        return self.snapshot(), receive

    def unsubscribe(self, receive: MemoryObjectReceiveStream[str]) -> None:
        """Forget a stream's subscription (its reader went away)."""
        receive.close()
        for subscriber in list(self._subscribers):
            with contextlib.suppress(Exception):
                if subscriber.statistics().open_receive_streams == 0:
                    self._drop(subscriber)
