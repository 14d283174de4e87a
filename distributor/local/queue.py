"""`LocalQueue`: the CPUs this process may use and this machine's memory, read when the queue
is created."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from distributor.limited_queue import LimitedQueue
from distributor.local.cpus import available_cpus
from distributor.resources import QueueLimits, parse_cores, parse_memory, parse_runtime

__all__ = ["LocalQueue", "machine_memory_bytes"]


def machine_memory_bytes() -> int:
    """Physical memory of this machine in bytes (``MemTotal``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class LocalQueue(LimitedQueue):
    """The local machine as a queue.

    Parameters (all optional): ``max_runtime`` (a duration), ``max_memory`` (at most the
    machine's memory), ``max_cores`` (at most `available_cpus`: the affinity mask capped by the
    cgroup CPU quota), ``default_memory``, ``default_runtime``. Nothing is required: a request
    gets one core and no limits.
    """

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        memory = machine_memory_bytes()
        cores = available_cpus()
        if "max_memory" in parameters:
            memory = min(memory, parse_memory(parameters["max_memory"]))
        if "max_cores" in parameters:
            cores = min(cores, parse_cores(parameters["max_cores"]))
        limits = QueueLimits(
            max_memory_bytes=memory,
            max_runtime_seconds=_optional(parse_runtime, parameters.get("max_runtime")),
            max_cores=cores,
            max_gpus=0,
            default_memory_bytes=_optional(parse_memory, parameters.get("default_memory")),
            default_runtime_seconds=_optional(parse_runtime, parameters.get("default_runtime")),
        )
        super().__init__(queue_id, queue_name, parameters, limits=limits)


def _optional(parse: Callable[[object], int], value: object) -> int | None:
    return None if value is None else parse(value)
