"""Task-instance status codes and the exit information a distributor reports.

The codes are Jobmon's, so that a Jobmon-style workflow engine can consume them unchanged.
`RemoteExitInfo` is what `ClusterDistributor.get_remote_exit_info` returns; older plugins may
return a bare ``(state, message)`` tuple, which `normalize_exit_info` turns into a finalized
`RemoteExitInfo`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass

from distributor.exceptions import ExitInfoError

__all__ = ["FINAL_STATES", "RemoteExitInfo", "TaskInstanceStatus", "normalize_exit_info"]


class TaskInstanceStatus(enum.StrEnum):
    """Jobmon's task-instance status codes (one letter each)."""

    QUEUED = "Q"
    INSTANTIATED = "I"
    LAUNCHED = "O"
    RUNNING = "R"
    DONE = "D"
    ERROR = "E"
    """Failed with an error that may go away on retry (non-zero exit, signal)."""
    ERROR_FATAL = "F"
    KILLED_SELF = "K"
    """Terminated on request (by the user, the service or an administrator)."""
    TRIAGING = "T"
    UNKNOWN_ERROR = "U"
    """The outcome is unknown: node failure, preemption, lost job; retryable."""
    NO_DISTRIBUTOR_ID = "W"
    NO_HEARTBEAT = "X"
    RESOURCE_ERROR = "Z"
    """Killed for exceeding a resource limit (memory, runtime); retry with more."""


FINAL_STATES: frozenset[TaskInstanceStatus] = frozenset(
    {
        TaskInstanceStatus.DONE,
        TaskInstanceStatus.ERROR,
        TaskInstanceStatus.ERROR_FATAL,
        TaskInstanceStatus.KILLED_SELF,
        TaskInstanceStatus.UNKNOWN_ERROR,
        TaskInstanceStatus.NO_DISTRIBUTOR_ID,
        TaskInstanceStatus.NO_HEARTBEAT,
        TaskInstanceStatus.RESOURCE_ERROR,
    }
)
"""States in which an attempt has ended (whether or not the task will be retried)."""


@dataclass(frozen=True, slots=True)
class RemoteExitInfo:
    """How a task instance ended, as far as the scheduler knows.

    Attributes:
        error_state: the status code (``D`` for success).
        error_message: a human sentence saying what happened (empty only for success).
        finalized: False when the answer may still change (accounting lag, a lost job inside its
            grace period); callers should ask again later.
    """

    error_state: TaskInstanceStatus
    error_message: str
    finalized: bool = True

    def __post_init__(self) -> None:
        try:
            state = TaskInstanceStatus(self.error_state)
        except ValueError:
            raise ExitInfoError(
                self, f"error_state {self.error_state!r} is not a TaskInstanceStatus code"
            ) from None
        object.__setattr__(self, "error_state", state)
        if not isinstance(self.error_message, str):
            raise ExitInfoError(self, "error_message must be a str")

    def __iter__(self) -> Iterator[str]:
        """``state, message = info``: callers written for the legacy ``(error_state,
        error_message)`` tuple (Jobmon 3.4.8's distributor service) unpack it unchanged."""
        return iter((self.error_state, self.error_message))


def normalize_exit_info(value: object) -> RemoteExitInfo:
    """Return `value` as a `RemoteExitInfo`.

    Args:
        value: a `RemoteExitInfo`, or a legacy ``(error_state, error_message)`` tuple of two
            strings, which is taken as finalized.

    Raises:
        ExitInfoError: for anything else, including an unknown state code.
    """
    if isinstance(value, RemoteExitInfo):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        state, message = value
        if isinstance(state, str) and isinstance(message, str):
            if state not in TaskInstanceStatus._value2member_map_:
                raise ExitInfoError(value, f"state {state!r} is not a TaskInstanceStatus code")
            return RemoteExitInfo(TaskInstanceStatus(state), message, finalized=True)
    raise ExitInfoError(value, "expected RemoteExitInfo or a (state: str, message: str) tuple")
