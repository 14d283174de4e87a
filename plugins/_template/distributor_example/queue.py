"""`ExampleQueue`: a queue of the Example scheduler and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributor import LimitedQueue, QueueLimits, parse_request

__all__ = ["ExampleQueue"]


class ExampleQueue(LimitedQueue):
    """A queue whose limits come from its parameters ``max_memory``, ``max_runtime`` and
    ``max_cores`` (a real plugin reads them from the scheduler)."""

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        limits = parse_request(
            {
                "memory": parameters.get("max_memory", "64G"),
                "runtime": parameters.get("max_runtime", "7d"),
                "cores": parameters.get("max_cores", 64),
            }
        )
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=QueueLimits(
                max_memory_bytes=limits.memory_bytes,
                max_runtime_seconds=limits.runtime_seconds,
                max_cores=limits.cores,
                max_gpus=0,
            ),
        )
