"""`SgeQueue`: a Grid Engine cluster queue, with limits read from the cell.

Where the limits come from:

* ``qconf -sq QUEUE``: ``h_rt`` (runtime), the memory resource's per-slot limit (``h_vmem`` by
  default) and ``pe_list``;
* ``qconf -sp PE``: the parallel environment's ``slots`` — multi-core requests are ``-pe PE N``,
  so a queue without the PE in its ``pe_list`` grants one core;
* ``qhost -q -xml``: the largest ``mem_total`` and ``slots`` among the queue's hosts;
* ``qconf -sc``: the memory resource's default request, if it is a consumable (what a job that
  asks for nothing gets per slot).

The memory limit is conservative: the smaller of the largest host and the queue's per-slot
limit, so that a request that validates can be scheduled whatever its core count.

Queue parameters: ``pe`` (default ``smp``), ``memory_resource`` (default ``h_vmem``),
``max_memory``, ``max_runtime``, ``max_cores`` (tighten the discovered limits), ``discover``
(False: use only the parameters, for tests and offline validation), ``sge_root``/``sge_cell``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from distributor import (
    LimitedQueue,
    QueueLimits,
    ResourceError,
    SchedulerError,
    SchedulerOutputError,
    parse_request,
)
from distributor_sge import parsers
from distributor_sge.client import SgeClient

__all__ = ["DECLARED_RESOURCES", "SgeQueue", "queue_limits"]

DECLARED_RESOURCES: Mapping[str, str] = {
    "sge.project": r"[A-Za-z][A-Za-z0-9_.\-]{0,63}",
    "sge.array_cap": r"[1-9][0-9]{0,5}",
}
"""Grid Engine request keys and the regular expression their values must match.

``sge.project`` is ``qsub -P``; ``sge.array_cap`` limits how many tasks of an array run at once
(``qsub -tc``).
"""


def _smallest(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _pe_names(pe_list: str) -> set[str]:
    """The PE names of a ``pe_list`` value (host-specific ``[host=...]`` parts included)."""
    return {name for name in re.split(r"[\s,=\[\]]+", pe_list) if name and name != "NONE"}


def queue_limits(
    queue: Mapping[str, str],
    hosts: list[parsers.HostShape],
    queue_name: str,
    *,
    pe: Mapping[str, str] | None,
    memory_resource: str = "h_vmem",
    default_memory: int | None = None,
) -> QueueLimits:
    """The `QueueLimits` of a queue from its configuration, hosts and parallel environment.

    Args:
        queue: ``qconf -sq`` settings; hosts: ``qhost -q -xml``; pe: ``qconf -sp`` settings of
            the parallel environment, None if the queue does not offer it.
        default_memory: the memory resource's default per-slot request.

    Raises:
        SchedulerOutputError: a setting has an unexpected shape (raw settings kept).
    """
    try:
        mine = [host for host in hosts if queue_name in host.slots]
        host_slots = max((host.slots[queue_name] for host in mine), default=None)
        host_memory = max(
            (host.memory_bytes for host in mine if host.memory_bytes is not None), default=None
        )
        per_slot = (
            parsers.parse_sge_memory(queue[memory_resource]) if memory_resource in queue else None
        )
        max_memory = _smallest(host_memory, per_slot)
        max_cores = _smallest(host_slots, int(pe["slots"])) if pe is not None else 1
        return QueueLimits(
            max_memory_bytes=max_memory,
            max_runtime_seconds=parsers.parse_sge_time(queue.get("h_rt", "INFINITY")),
            max_cores=max_cores,
            max_gpus=0,
            default_memory_bytes=_smallest(default_memory, max_memory) if default_memory else None,
        )
    except (ValueError, KeyError) as exc:
        raw = " ".join(f"{key}={value}" for key, value in queue.items())
        raise SchedulerOutputError(f"unexpected queue settings ({exc})", raw) from exc


def _tighten(limits: QueueLimits, parameters: Mapping[str, Any]) -> QueueLimits:
    asked = parse_request(
        {
            "memory": parameters.get("max_memory"),
            "runtime": parameters.get("max_runtime"),
            "cores": parameters.get("max_cores"),
        }
    )
    max_memory = _smallest(limits.max_memory_bytes, asked.memory_bytes)
    default_memory = limits.default_memory_bytes
    return QueueLimits(
        max_memory_bytes=max_memory,
        max_runtime_seconds=_smallest(limits.max_runtime_seconds, asked.runtime_seconds),
        max_cores=_smallest(limits.max_cores, asked.cores),
        max_gpus=limits.max_gpus,
        default_memory_bytes=None
        if default_memory is None
        else _smallest(default_memory, max_memory),
        default_runtime_seconds=limits.default_runtime_seconds,
    )


class SgeQueue(LimitedQueue):
    """A Grid Engine cluster queue (see the module docstring for its limits).

    Args:
        queue_id: the caller's id for the queue.
        queue_name: the cluster queue name (``all.q``).
        parameters: see the module docstring.
        client: the Grid Engine client to read the queue with (default: a local one).

    Raises:
        ResourceError: the queue does not exist (the message lists those that do).
        SchedulerError: the cell could not be asked.
    """

    def __init__(
        self,
        queue_id: int,
        queue_name: str,
        parameters: Mapping[str, Any],
        *,
        client: SgeClient | None = None,
    ) -> None:
        limits = QueueLimits(max_gpus=0)
        if parameters.get("discover", True):
            sge = client or SgeClient(
                sge_root=parameters.get("sge_root"), sge_cell=parameters.get("sge_cell")
            )
            limits = _discover(sge, queue_name, parameters)
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=_tighten(limits, parameters),
            declared=DECLARED_RESOURCES,
        )


def _discover(sge: SgeClient, queue_name: str, parameters: Mapping[str, Any]) -> QueueLimits:
    try:
        queue = sge.queue_config(queue_name)
    except SchedulerError as exc:
        if exc.returncode != 1:
            raise
        raise ResourceError(
            "queue",
            queue_name,
            "is not a queue of this Grid Engine cell; queues: " + ", ".join(sge.queue_names()),
        ) from exc
    pe_name = str(parameters.get("pe", "smp"))
    pe = sge.pe_config(pe_name) if pe_name in _pe_names(queue.get("pe_list", "")) else None
    memory_resource = str(parameters.get("memory_resource", "h_vmem"))
    return queue_limits(
        queue,
        sge.hosts(),
        queue_name,
        pe=pe,
        memory_resource=memory_resource,
        default_memory=parsers.complex_defaults(sge.complexes(), memory_resource),
    )
