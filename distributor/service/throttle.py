"""How many instances a cluster may take this cycle, and the pause after a failed submission.

After IceProd's ``queue()``: with ``max_queued`` (IceProd's *min*), ``max_active`` (its *max*)
and ``submit_chunk`` (its *change*), a cycle submits
``min(submit_chunk, max_active - active, max_queued - queued, global room)``, never below zero.
The global room is ``ServiceConfig.max_active`` minus the instances in every scheduler (basf2
CAF's ``can_submit`` against a global job limit).
"""

from __future__ import annotations

from dataclasses import dataclass

from distributor.service.config import Throttle

__all__ = ["Backoff", "room"]


def room(throttle: Throttle, *, queued: int, active: int, global_room: int | None) -> int:
    """Instances this cluster may be sent now.

    Args:
        throttle: the cluster's limits.
        queued: its instances submitted (or being submitted) and not known to run.
        active: its instances submitted (or being submitted) and not yet ended.
        global_room: what the global cap still allows (None = no global cap).
    """
    allowed = throttle.submit_chunk
    if throttle.max_active is not None:
        allowed = min(allowed, throttle.max_active - active)
    if throttle.max_queued is not None:
        allowed = min(allowed, throttle.max_queued - queued)
    if global_room is not None:
        allowed = min(allowed, global_room)
    return max(0, allowed)


@dataclass(slots=True)
class Backoff:
    """Exponential pause (1 s doubling up to `limit`) after failed submissions to a cluster."""

    limit: float
    delay: float = 0.0
    until: float = 0.0

    def ready(self, now: float) -> bool:
        """True when submitting is allowed again."""
        return now >= self.until

    def failed(self, now: float) -> float:
        """Note a failure; return the pause before the next try (seconds)."""
        self.delay = min(self.limit, max(1.0, self.delay * 2))
        self.until = now + self.delay
        return self.delay

    def succeeded(self) -> None:
        """Note a success: no pause."""
        self.delay = 0.0
        self.until = 0.0
