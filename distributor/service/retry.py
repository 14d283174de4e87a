"""The retry policy: what follows an attempt that ended.

* ``D`` → the task is done.
* ``E``, ``U``, ``W``, ``X`` → retried with the same request while attempts remain.
* ``Z`` → retried with memory and runtime scaled (see `distributor.service.sizing`) while
  attempts remain and a queue grants the bigger request.
* ``F``, ``K`` → not retried; the task fails (or is cancelled, if cancelling was asked for).

A retry is not submitted at once: it waits `RetrySchedule.delay` seconds (the task's
``retry_delay``, doubled for each further retry up to a cap, shortened by a little jitter). The
controller records the moment in the journal with the new attempt, so a restarted controller
neither submits it early nor forgets it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distributor.exit_info import TaskInstanceStatus
from distributor.service.config import Cluster
from distributor.service.model import TaskStatus
from distributor.service.sizing import scaled_request

__all__ = ["RETRIED_UNCHANGED", "RetryDecision", "RetrySchedule", "decide"]

S = TaskInstanceStatus

RETRIED_UNCHANGED: frozenset[TaskInstanceStatus] = frozenset(
    {S.ERROR, S.UNKNOWN_ERROR, S.NO_DISTRIBUTOR_ID, S.NO_HEARTBEAT}
)
"""Final attempt states retried with the same request."""


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """How long a retry waits: exponential backoff with a cap and a little jitter.

    Attributes:
        base: seconds before the first retry (0: retries go at once).
        multiplier: each further retry waits this many times longer (≥ 1).
        cap: no retry waits longer than ``max(cap, base)``.
        jitter: a delay is shortened by up to this fraction (0 to 1), at random.
    """

    base: float
    multiplier: float = 2.0
    cap: float = 600.0
    jitter: float = 0.0

    def delay(self, retry: int, draw: float = 0.0) -> float:
        """Seconds before retry number `retry` (1 for the retry after the first failed
        attempt), with `draw` in [0, 1) choosing the jitter."""
        if self.base <= 0:
            return 0.0
        limit = max(self.cap, self.base)
        exponent = max(0, retry - 1)
        full = self.base
        if exponent and self.multiplier > 1:
            # in logarithms first: base * multiplier ** exponent need not fit in a float
            grown = math.log(self.base) + exponent * math.log(self.multiplier)
            if grown >= math.log(limit):
                full = limit
            else:
                try:
                    full = self.base * self.multiplier**exponent
                except OverflowError:  # a tiny base: the power alone is too big
                    full = math.exp(grown)
        return min(full, limit) * (1.0 - self.jitter * draw)


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """The task's next status and, for a retry, the next attempt's queue and request.

    Attributes:
        status: `TaskStatus.ACTIVE` for a retry, else the terminal status.
        queue / resources: the retry's queue and request (meaningless when not retried).
        message: a sentence for the journal saying what was decided and why.
    """

    status: TaskStatus
    queue: str | None
    resources: Mapping[str, Any]
    message: str


def decide(
    ended: TaskInstanceStatus,
    message: str,
    *,
    attempt: int,
    max_attempts: int,
    cancel_requested: bool,
    cluster: Cluster,
    queue: str | None,
    resources: Mapping[str, Any],
    scale_factor: float,
) -> RetryDecision:
    """Decide what follows attempt number `attempt` ending in `ended` with `message`."""
    said = f"attempt {attempt}/{max_attempts} ended {ended.value}" + (
        f": {message}" if message else ""
    )
    if ended == S.DONE:
        return RetryDecision(TaskStatus.DONE, queue, resources, "")
    if cancel_requested:
        return RetryDecision(TaskStatus.CANCELLED, queue, resources, "cancelled on request")
    if ended not in RETRIED_UNCHANGED and ended != S.RESOURCE_ERROR:
        return RetryDecision(TaskStatus.FAILED, queue, resources, f"{said}; not retried")
    if attempt >= max_attempts:
        return RetryDecision(TaskStatus.FAILED, queue, resources, f"{said}; no attempts left")
    if ended == S.RESOURCE_ERROR:
        sized = scaled_request(cluster, queue, resources, scale_factor)
        if sized.resources is None:
            return RetryDecision(TaskStatus.FAILED, queue, resources, f"{said}; {sized.message}")
        return RetryDecision(
            TaskStatus.ACTIVE, sized.queue, sized.resources, f"{said}; retry {sized.message}"
        )
    return RetryDecision(TaskStatus.ACTIVE, queue, resources, f"{said}; retried unchanged")
