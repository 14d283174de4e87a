"""A future for a call running as a task: a `concurrent.futures.Future` that knows its task."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from distributor.exit_info import RemoteExitInfo

__all__ = ["ClusterFuture"]

R = TypeVar("R")


class ClusterFuture(Future[R]):
    """The result of one call on a cluster.

    Works with `concurrent.futures.wait`, `concurrent.futures.as_completed` and
    `asyncio.wrap_future`. `cancel` terminates the task (a call that already ended cannot be
    cancelled).

    Attributes:
        distributor_id: the task's id; step: its step in a `map` (None for `submit`);
        directory: where its call and result are; exit_info: how the task ended, once it has;
        log: its output file, where the distributor can tell.
    """

    def __init__(
        self,
        distributor_id: str,
        directory: Path,
        step: int | None,
        terminate: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.distributor_id = distributor_id
        self.directory = directory
        self.step = step
        self.exit_info: RemoteExitInfo | None = None
        self.log: Path | None = None
        self._terminate = terminate
        self._task_running = False

    def running(self) -> bool:
        """Whether the task is running on the cluster (not queued, not ended)."""
        return self._task_running and not self.done()

    def cancel(self) -> bool:
        """Terminate the task; True unless the call had already ended."""
        if self.done():
            return self.cancelled()
        self._terminate(self.distributor_id)
        if not super().cancel():
            return False
        self.set_running_or_notify_cancel()  # tells wait() and as_completed()
        return True

    def __repr__(self) -> str:
        return f"<ClusterFuture {self.distributor_id} {self._state.lower()}>"
