"""`TerminationRetries`: cancel again, harder, what a termination request did not end.

A cancel can be lost: Grid Engine leaves a job in ``dr`` when its execution daemon never
carried out the kill, a PBS MoM may be unreachable. A terminated job that the scheduler still
lists `retry` seconds after the request is cancelled again with `BatchScheduler.force_cancel`
(the plain cancel if the forced one is refused for lack of privileges), waiting twice as long
each time, at most `TERMINATION_ATTEMPTS` requests in all; then ``termination_ineffective`` is
logged and the job left to the scheduler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from distributor.batch.polling import StatusTracker
from distributor.batch.scheduler import BatchScheduler
from distributor.exceptions import SchedulerError
from distributor.logs import Logger

__all__ = ["DEFAULT_TERMINATION_RETRY", "TERMINATION_ATTEMPTS", "TerminationRetries"]

DEFAULT_TERMINATION_RETRY = 60.0
"""Seconds after a termination request before a job the scheduler still lists is cancelled
again (`BatchScheduler.force_cancel`); the wait doubles after each request."""

TERMINATION_ATTEMPTS = 4
"""Termination requests per job, the first included, before the distributor gives up."""


class TerminationRetries:
    """The termination requests of one distributor and their repeats (module docstring).

    Args:
        scheduler: cancels and force-cancels.
        tracker: whether a job is settled, and whether the scheduler still lists it.
        retry: seconds before the first repeat (doubling); None: never repeat.
        clock: monotonic seconds.
        targets: ids → what to name in one cancel (whole jobs by their key where possible).
        log: the owner's bound logger.
    """

    def __init__(
        self,
        scheduler: BatchScheduler,
        tracker: StatusTracker,
        retry: float | None,
        clock: Callable[[], float],
        targets: Callable[[Sequence[str]], list[str]],
        log: Logger,
    ) -> None:
        self._scheduler = scheduler
        self._tracker = tracker
        self._retry = retry
        self._clock = clock
        self._targets = targets
        self._log = log
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[float, int]] = {}  # id → (next request, requests)
        self._next = float("inf")  # the earliest "next request" in `_pending`

    def requested(self, distributor_ids: Iterable[str]) -> None:
        """A first termination request was just made for these ids."""
        if self._retry is None:
            return
        due = self._clock() + self._retry
        with self._lock:
            for distributor_id in distributor_ids:
                self._pending[distributor_id] = (due, 1)
            self._next = min(self._next, due)

    def settled(self, distributor_ids: Iterable[str]) -> None:
        """These ids ended: nothing more to repeat for them."""
        with self._lock:
            for distributor_id in distributor_ids:
                self._pending.pop(distributor_id, None)

    def repeat_due(self) -> None:
        """Cancel again whatever is due (cheap when nothing is: called after every poll)."""
        now = self._clock()
        if self._retry is None or now < self._next:
            return
        due: list[str] = []
        with self._lock:
            for distributor_id, (when, attempts) in list(self._pending.items()):
                job = self._tracker.get(distributor_id)
                if job is None or job.settled:
                    del self._pending[distributor_id]
                    continue
                if now < when or job.status is None or job.left_queue_at is not None:
                    continue  # not due, never seen listed, or gone and being settled
                if attempts >= TERMINATION_ATTEMPTS:
                    del self._pending[distributor_id]
                    self._log.error("termination_ineffective", distributor_id=distributor_id,
                                    attempts=attempts, state=job.status.state)  # fmt: skip
                    continue
                self._pending[distributor_id] = (now + self._retry * 2**attempts, attempts + 1)
                due.append(distributor_id)
            # A job seen neither settled nor listed yet is looked at again within a second.
            pending = [when for when, _ in self._pending.values()]
            self._next = max(min(pending), now + 1.0) if pending else float("inf")
        if not due:
            return
        targets = self._targets(due)
        try:
            self._scheduler.force_cancel(targets)
        except SchedulerError as exc:
            # A forced variant may need privileges (qdel -f, qdel -p): ask plainly instead.
            self._log.warning("termination_force_refused", ids=targets, error=str(exc))
            try:
                self._scheduler.cancel(targets)
            except SchedulerError as again:
                self._log.warning("termination_repeat_failed", ids=targets, error=str(again))
                return
        self._log.warning("termination_repeated", ids=targets)
