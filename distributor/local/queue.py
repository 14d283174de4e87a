"""`LocalQueue`: this machine's cores and memory, read when the queue is created."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from distributor.resources import (
    QueueLimits,
    coerce_request,
    parse_memory,
    parse_runtime,
    validate_request,
)

__all__ = ["LocalQueue", "machine_memory_bytes"]


def machine_memory_bytes() -> int:
    """Physical memory of this machine in bytes (``MemTotal``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class LocalQueue:
    """The local machine as a queue.

    Parameters (all optional): ``max_runtime`` (a duration), ``max_memory`` (at most the
    machine's memory), ``max_cores`` (at most its cores), ``default_memory``,
    ``default_runtime``.
    """

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        self._id = queue_id
        self._name = queue_name
        self._parameters = dict(parameters)
        memory = machine_memory_bytes()
        cores = _cores()
        if "max_memory" in parameters:
            memory = min(memory, parse_memory(parameters["max_memory"]))
        if "max_cores" in parameters:
            cores = min(cores, int(parameters["max_cores"]))
        self._limits = QueueLimits(
            max_memory_bytes=memory,
            max_runtime_seconds=(
                parse_runtime(parameters["max_runtime"]) if "max_runtime" in parameters else None
            ),
            max_cores=cores,
            max_gpus=0,
            default_memory_bytes=(
                parse_memory(parameters["default_memory"])
                if "default_memory" in parameters
                else None
            ),
            default_runtime_seconds=(
                parse_runtime(parameters["default_runtime"])
                if "default_runtime" in parameters
                else None
            ),
        )

    @property
    def limits(self) -> QueueLimits:
        """The limits requests are checked against."""
        return self._limits

    def validate_resources(self, strict: bool = False, **resources: Any) -> tuple[bool, str]:
        """Check `resources` against this machine (see `ClusterQueue.validate_resources`)."""
        return validate_request(resources, self._limits, self._name, strict=strict)

    def coerce_resources(self, **resources: Any) -> dict[str, Any]:
        """Clamp `resources` into this machine's limits (see `ClusterQueue.coerce_resources`)."""
        return coerce_request(resources, self._limits, self._name)

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The parameters the queue was created with."""
        return self._parameters

    @property
    def queue_name(self) -> str:
        """The queue's name."""
        return self._name

    @property
    def queue_id(self) -> int:
        """The caller's id for the queue."""
        return self._id

    @property
    def required_resources(self) -> list[str]:
        """Nothing is required: every request gets one core and no limits by default."""
        return []
