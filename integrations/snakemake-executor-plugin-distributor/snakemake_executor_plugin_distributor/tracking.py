"""`JobTracker`: what the executor asks of a distributor — submit, one status call per cycle,
final exit information, logs, termination — with one call at a time.

Snakemake submits from its main thread and checks status from a thread of its own; distributors
are not required to be thread-safe, so every call goes through one lock.

A poll cycle makes one ``get_submitted_or_running`` call for every job it is given. An id the
scheduler no longer lists gets its exit information; until that is final (accounting lag, a job
being looked for) the job stays pending. A failing status or accounting call (the scheduler or
its database down) leaves every job pending: nothing is dropped and nothing is guessed. A job
the distributor declares lost ends ``U`` — never a success. For a plugin without
`SupportsLostTracking`, this tracker owns that decision: an id absent from the listing without
exit information for ``lost_grace`` seconds ends ``U`` and is terminated, so that it cannot
run beside a rerun.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor import (
    ClusterDistributor,
    DistributorError,
    RemoteExitInfo,
    RemoteExitInfoNotAvailable,
    SupportsLostTracking,
    SupportsTaskOutcome,
    TaskInstanceStatus,
    UnknownDistributorIdError,
    normalize_exit_info,
)

__all__ = ["JobTracker", "Poll"]

_LOG_TAIL_LINES = 20
_LOG_TAIL_BYTES = 8192


@dataclass
class Poll:
    """The outcome of one poll cycle.

    Attributes:
        pending: ids still queued, running, or without final exit information yet.
        ended: id → final exit information.
        outage: why the scheduler could not be asked (every id is then pending), else None.
    """

    pending: set[str] = field(default_factory=set)
    ended: dict[str, RemoteExitInfo] = field(default_factory=dict)
    outage: str | None = None


class JobTracker:
    """One distributor, used one call at a time (see the module docstring).

    Args:
        distributor: a started distributor.
        lost_grace: seconds before an unlisted id without exit information is lost (only for
            distributors without `SupportsLostTracking`).
        clock: monotonic seconds (injectable for tests).
    """

    def __init__(
        self,
        distributor: ClusterDistributor,
        *,
        lost_grace: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.distributor = distributor
        self._lock = threading.Lock()
        self._lost_grace = lost_grace
        self._clock = clock
        self._unlisted_since: dict[str, float] = {}
        self._owns_lost = not isinstance(distributor, SupportsLostTracking)

    def submit(self, command: str, name: str, request: Mapping[str, Any]) -> str:
        """Submit one command; its distributor id (errors as the distributor raises them)."""
        with self._lock:
            return self.distributor.submit_to_batch_distributor(command, name, dict(request))

    def submit_array(
        self, command: str, name: str, request: Mapping[str, Any], length: int
    ) -> dict[int, str]:
        """Submit `length` steps of `command` as one array: step → distributor id."""
        with self._lock:
            return self.distributor.submit_array_to_batch_distributor(
                command, name, dict(request), length
            )

    def poll(self, ids: Sequence[str]) -> Poll:
        """One cycle over `ids` (see the module docstring); never raises a `DistributorError`."""
        poll = Poll()
        if not ids:
            return poll
        with self._lock:
            try:
                listed = self.distributor.get_submitted_or_running(list(ids))
            except DistributorError as exc:
                return Poll(pending=set(ids), outage=f"{type(exc).__name__}: {exc}")
            for did in ids:
                if did in listed:
                    self._unlisted_since.pop(did, None)
                    poll.pending.add(did)
                    continue
                info = self._exit_info(did)
                if info is None:
                    poll.pending.add(did)
                else:
                    self._unlisted_since.pop(did, None)
                    poll.ended[did] = info
        return poll

    def _exit_info(self, did: str) -> RemoteExitInfo | None:
        try:
            info = normalize_exit_info(self.distributor.get_remote_exit_info(did))
        except UnknownDistributorIdError as exc:
            return RemoteExitInfo(
                TaskInstanceStatus.UNKNOWN_ERROR, f"lost: the cluster does not know it ({exc})"
            )
        except RemoteExitInfoNotAvailable:
            return self._maybe_lost(did)
        except DistributorError:  # accounting unreachable: ask again next cycle
            return None
        if info.finalized:
            return info
        return self._maybe_lost(did)

    def _maybe_lost(self, did: str) -> RemoteExitInfo | None:
        if not self._owns_lost:
            return None  # the distributor decides, within its own grace
        now = self._clock()
        since = self._unlisted_since.setdefault(did, now)
        if now - since < self._lost_grace:
            return None
        with contextlib.suppress(DistributorError):  # not listed: the attempt is what matters
            self.distributor.terminate_task_instances([did])
        return RemoteExitInfo(
            TaskInstanceStatus.UNKNOWN_ERROR,
            f"lost: not listed by the scheduler and no exit information for "
            f"{self._lost_grace:g} s (terminated in case it shows up again)",
        )

    def terminate(self, ids: Sequence[str]) -> str | None:
        """Ask the scheduler to end `ids`; None, or why it could not be asked."""
        if not ids:
            return None
        with self._lock:
            try:
                self.distributor.terminate_task_instances(list(ids))
            except DistributorError as exc:
                return f"{type(exc).__name__}: {exc}"
        return None

    def logs(self, did: str) -> list[Path]:
        """The job's output files that exist (stdout, then stderr when it is separate)."""
        if not isinstance(self.distributor, SupportsTaskOutcome):
            return []
        with self._lock:
            try:
                out, err = self.distributor.log_paths(did)
            except DistributorError:
                return []
        return [path for path in (out, err) if path is not None and path.is_file()]

    def failure_message(self, did: str, info: RemoteExitInfo) -> str:
        """What to tell the user about a job that did not end ``D``: its state, the
        distributor's message, and the last lines of its log."""
        text = (
            f"distributor job {did} on cluster {self.distributor.cluster_name!r} ended "
            f"{info.error_state.value} ({info.error_state.name.lower()}): "
            f"{info.error_message or 'no message'}"
        )
        for path in self.logs(did):
            tail = _tail(path)
            if tail:
                text += f"\nlast lines of {path}:\n{tail}"
        return text + "\n"

    def stop(self) -> None:
        """Stop the distributor (tasks already submitted keep running)."""
        with self._lock:
            self.distributor.stop()


def _tail(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - _LOG_TAIL_BYTES))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()[-_LOG_TAIL_LINES:]
    return "\n".join(f"    {line}" for line in lines)
