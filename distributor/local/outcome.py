"""Turning a reaper's ``exited`` event into `RemoteExitInfo` and usage figures."""

from __future__ import annotations

import os
import signal
from typing import Any

from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.resources import format_bytes

__all__ = ["classify_exit", "describe_status", "lost_exit"]


def _signal_name(signum: int) -> str:
    try:
        return f"{signal.Signals(signum).name} ({signum})"
    except ValueError:
        return f"signal {signum}"


def describe_status(status: int) -> tuple[int | None, str]:
    """Return (exit code or None, human description) of a ``wait`` status."""
    if os.WIFSIGNALED(status):
        return None, f"killed by signal {_signal_name(os.WTERMSIG(status))}"
    code = os.WEXITSTATUS(status)
    return code, f"exited with status {code}"


def _mib(amount: int) -> str:
    return f"{amount / 2**20:.1f} MiB"


def classify_exit(event: dict[str, Any]) -> RemoteExitInfo:
    """Classify an ``exited`` event (see `distributor.local.reaper`)."""
    reason = event.get("reason") or ""
    status = event.get("status")
    how = describe_status(status)[1] if isinstance(status, int) else "never started"
    if reason == "terminated":
        return RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, f"terminated on request ({how})")
    if reason == "runtime":
        limit, used = event.get("limit", 0), event.get("used", 0.0)
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"runtime limit of {limit}s exceeded: ran {used:.1f}s, {used - limit:.1f}s over; "
            f"stopped with SIGTERM ({how})",
        )
    if reason == "memory":
        limit, used = int(event.get("limit", 0)), int(event.get("used", 0))
        return RemoteExitInfo(
            TaskInstanceStatus.RESOURCE_ERROR,
            f"memory limit of {format_bytes(limit)} exceeded: process tree resident "
            f"{_mib(used)}, {_mib(used - limit)} over; killed with SIGKILL",
        )
    if reason == "spawn_failed":
        return RemoteExitInfo(
            TaskInstanceStatus.ERROR, f"could not start: {event.get('error', 'unknown error')}"
        )
    if not isinstance(status, int):
        return RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, "ended without an exit status")
    code, how = describe_status(status)
    if code == 0:
        return RemoteExitInfo(TaskInstanceStatus.DONE, "")
    return RemoteExitInfo(TaskInstanceStatus.ERROR, how)


def lost_exit(started: bool, terminated: bool) -> RemoteExitInfo:
    """Exit info of a task whose reaper died before recording how it ended."""
    if terminated:
        return RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, "terminated on request")
    if started:
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            "lost: the task's reaper process died, so its exit status was never recorded",
        )
    return RemoteExitInfo(
        TaskInstanceStatus.UNKNOWN_ERROR,
        "lost: the task's reaper process died before starting it (it never ran)",
    )
