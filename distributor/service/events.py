"""The stream of transitions: one `Event` per change of a task or task-instance status.

Every event is a row of the journal's ``transitions`` table, written in the same transaction
as the change it describes, and numbered by `Event.seq` (increasing, without gaps within one
journal). Callbacks see events right after their transaction commits; `Service.events` reads
them back from the journal, so a reader can resume from the last ``seq`` it saw, even across
controller restarts.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from dataclasses import dataclass

from distributor.logs import get_logger
from distributor.usage import TaskUsage

__all__ = ["AttemptOutcome", "Event", "EventKind", "EventSink", "Subscribers"]

log = get_logger(__name__)


class EventKind(enum.StrEnum):
    """What changed: a task's `TaskStatus` or an instance's status code."""

    TASK = "task"
    INSTANCE = "instance"


@dataclass(frozen=True, slots=True)
class Event:
    """One transition.

    Attributes:
        seq: position in the journal's stream (1, 2, …).
        at: when it was recorded (seconds since the epoch).
        kind: `EventKind.TASK` (``old``/``new`` are `TaskStatus` values) or
            `EventKind.INSTANCE` (``old``/``new`` are `TaskInstanceStatus` codes).
        task: the task's name; attempt: the instance's attempt number (task events: the
            latest attempt).
        old: the previous status (None when the task or instance was created).
        distributor_id: the scheduler's id, once known.
        tags: the task's tags.
        outcome: for an attempt that ended, what it did and where its output is
            (`AttemptOutcome`), where the distributor can tell (`SupportsTaskOutcome`).
    """

    seq: int
    at: float
    kind: EventKind
    task: str
    attempt: int
    old: str | None
    new: str
    message: str
    distributor_id: str | None
    tags: frozenset[str]
    outcome: AttemptOutcome | None = None


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What an ended attempt did, and where its output is.

    Attributes:
        usage: exit code, signal, times, elapsed, peak memory, CPU and host.
        log / stderr_log: its output files (stderr_log None when both streams share one).
    """

    usage: TaskUsage
    log: str | None = None
    stderr_log: str | None = None

    def to_json(self) -> str:
        """One line of JSON (the journal's ``outcomes`` row)."""
        return json.dumps({"usage": self.usage.to_dict(), "log": self.log,
                           "stderr_log": self.stderr_log})  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> AttemptOutcome:
        """The inverse of `to_json` (unknown keys ignored)."""
        data = json.loads(text)
        return cls(TaskUsage.from_dict(data.get("usage") or {}), data.get("log"),
                   data.get("stderr_log"))  # fmt: skip


EventSink = Callable[[Event], None]
"""A callback receiving events; it runs in the controller's thread and must not block."""


class Subscribers:
    """The callbacks to notify; one that raises is logged and kept (it cannot stop the service)."""

    def __init__(self) -> None:
        self._sinks: list[EventSink] = []

    def __bool__(self) -> bool:
        return bool(self._sinks)

    def add(self, sink: EventSink) -> Callable[[], None]:
        """Register `sink`; return a function that unregisters it."""
        self._sinks.append(sink)

        def remove() -> None:
            if sink in self._sinks:
                self._sinks.remove(sink)

        return remove

    def publish(self, events: list[Event]) -> None:
        """Hand every event to every callback, in order."""
        for event in events:
            for sink in list(self._sinks):
                try:
                    sink(event)
                except Exception as exc:
                    log.warning(
                        "event_callback_failed", callback=repr(sink), seq=event.seq, error=repr(exc)
                    )
