"""`LimitedQueue`: a complete `ClusterQueue` whose checks are a `QueueLimits`.

Most plugins' queues differ only in where their limits come from (the machine, a partition's
configuration, queue parameters). Subclass this, work the limits out in ``__init__`` and pass
them on; validation and coercion then follow `distributor.resources` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributor.resources import QueueLimits, coerce_request, validate_request

__all__ = ["LimitedQueue"]


class LimitedQueue:
    """A queue checked against fixed limits.

    Args:
        queue_id / queue_name / parameters: as in `ClusterQueueFactory`.
        limits: the most the queue grants, and its defaults.
        declared: pass-through keys (``slurm.account``) → regular expression of valid values.
        required: resource keys a request must contain.
    """

    def __init__(
        self,
        queue_id: int,
        queue_name: str,
        parameters: Mapping[str, Any],
        *,
        limits: QueueLimits,
        declared: Mapping[str, str] | None = None,
        required: Sequence[str] = (),
    ) -> None:
        self._id = queue_id
        self._name = queue_name
        self._parameters = dict(parameters)
        self._limits = limits
        self._declared = dict(declared or {})
        self._required = list(required)

    @property
    def limits(self) -> QueueLimits:
        """The limits requests are checked against."""
        return self._limits

    def validate_resources(self, strict: bool = False, **resources: Any) -> tuple[bool, str]:
        """Check `resources` against the limits (see `ClusterQueue.validate_resources`)."""
        missing = [key for key in self._required if resources.get(key) is None]
        if missing:
            return False, f"queue {self._name!r} requires {', '.join(missing)}"
        return validate_request(
            resources, self._limits, self._name, strict=strict, declared=self._declared
        )

    def coerce_resources(self, **resources: Any) -> dict[str, Any]:
        """Fill defaults and clamp into the limits (see `ClusterQueue.coerce_resources`)."""
        return coerce_request(resources, self._limits, self._name, declared=self._declared)

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The parameters the queue was created with."""
        return self._parameters

    @property
    def queue_name(self) -> str:
        """The scheduler's name for the queue."""
        return self._name

    @property
    def queue_id(self) -> int:
        """The caller's id for the queue."""
        return self._id

    @property
    def required_resources(self) -> list[str]:
        """Resource keys a request must contain."""
        return list(self._required)
