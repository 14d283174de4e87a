"""`SlurmQueue`: a Slurm partition, with limits read from the cluster.

Limits come from ``scontrol show partition -o`` (MaxTime, DefaultTime, MaxMemPerNode or
MaxMemPerCPU, DefMemPerCPU/DefMemPerNode, MaxCPUsPerNode) and ``sinfo`` (the largest node's
CPUs, memory and GPUs), so a request is validated against what the partition can really grant.
Queue parameters may tighten them: ``max_memory``, ``max_runtime``, ``max_cores``,
``max_gpus``; ``discover=False`` skips the cluster and uses only the parameters (for tests and
offline validation); ``slurm_conf`` selects the cluster.

Declared pass-through keys (`DECLARED_RESOURCES`) are validated for shape and written as
``sbatch`` directives by the distributor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributor import (
    LimitedQueue,
    QueueLimits,
    ResourceError,
    SchedulerOutputError,
    parse_request,
)
from distributor_slurm import parsers
from distributor_slurm.client import SlurmClient

__all__ = ["DECLARED_RESOURCES", "SlurmQueue", "partition_limits"]

DECLARED_RESOURCES: Mapping[str, str] = {
    "slurm.account": r"[A-Za-z0-9_.\-]{1,64}",
    "slurm.qos": r"[A-Za-z0-9_.\-]{1,64}",
    "slurm.reservation": r"[A-Za-z0-9_.\-]{1,64}",
    "slurm.constraint": r"[A-Za-z0-9_.&|\[\]*:\-]{1,256}",
    "slurm.array_cap": r"[1-9][0-9]{0,5}",
}
"""Slurm-specific request keys and the regular expression their values must match.

``slurm.array_cap`` limits how many tasks of an array run at once (``--array=...%N``).
"""


def _largest(values: list[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None


def _smallest(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def partition_limits(settings: Mapping[str, str], nodes: list[parsers.NodeShape]) -> QueueLimits:
    """The `QueueLimits` of a partition from its settings and node shapes.

    Raises:
        SchedulerOutputError: a setting has an unexpected shape (raw settings kept).
    """
    try:
        node_cpus = _largest([node.cpus for node in nodes])
        max_cores = _smallest(
            node_cpus,
            None
            if settings.get("MaxCPUsPerNode", "UNLIMITED") == "UNLIMITED"
            else int(settings["MaxCPUsPerNode"]),
        )
        node_memory = _largest([node.memory_bytes for node in nodes])
        per_node = parsers.parse_memory_mb(settings.get("MaxMemPerNode", "UNLIMITED"))
        per_cpu = parsers.parse_memory_mb(settings.get("MaxMemPerCPU", "UNLIMITED"))
        if per_cpu is not None and max_cores is not None:
            per_node = _smallest(per_node, per_cpu * max_cores)
        default_node = parsers.parse_memory_mb(settings.get("DefMemPerNode", "UNLIMITED"))
        default_cpu = parsers.parse_memory_mb(settings.get("DefMemPerCPU", "UNLIMITED"))
        return QueueLimits(
            max_memory_bytes=_smallest(node_memory, per_node),
            max_runtime_seconds=parsers.parse_duration(settings.get("MaxTime", "UNLIMITED")),
            max_cores=max_cores,
            max_gpus=_largest([node.gpus for node in nodes]) or 0,
            default_memory_bytes=default_node if default_node is not None else default_cpu,
            default_runtime_seconds=parsers.parse_duration(settings.get("DefaultTime", "NONE")),
        )
    except ValueError as exc:
        raw = " ".join(f"{key}={value}" for key, value in settings.items())
        raise SchedulerOutputError(f"unexpected partition settings ({exc})", raw) from exc


def _default(default: int | None, limit: int | None) -> int | None:
    """A default clamped into its limit; no default stays no default."""
    return None if default is None else _smallest(default, limit)


def _tighten(limits: QueueLimits, parameters: Mapping[str, Any]) -> QueueLimits:
    request = parse_request(
        {
            "memory": parameters.get("max_memory"),
            "runtime": parameters.get("max_runtime"),
            "cores": parameters.get("max_cores"),
            "gpus": parameters.get("max_gpus"),
        }
    )
    max_memory = _smallest(limits.max_memory_bytes, request.memory_bytes)
    max_runtime = _smallest(limits.max_runtime_seconds, request.runtime_seconds)
    max_cores = _smallest(limits.max_cores, request.cores)
    return QueueLimits(
        max_memory_bytes=max_memory,
        max_runtime_seconds=max_runtime,
        max_cores=max_cores,
        max_gpus=_smallest(limits.max_gpus, request.gpus),
        default_memory_bytes=_default(limits.default_memory_bytes, max_memory),
        default_runtime_seconds=_default(limits.default_runtime_seconds, max_runtime),
        default_cores=_default(limits.default_cores, max_cores),
    )


class SlurmQueue(LimitedQueue):
    """A Slurm partition (see the module docstring for where its limits come from).

    Args:
        queue_id: the caller's id for the queue.
        queue_name: the partition name.
        parameters: optional ``max_*`` limits, ``discover`` and ``slurm_conf``.
        client: the Slurm client to read the partition with (default: a local one).

    Raises:
        ResourceError: the partition does not exist (the message lists those that do).
        SchedulerError: the cluster could not be asked.
    """

    def __init__(
        self,
        queue_id: int,
        queue_name: str,
        parameters: Mapping[str, Any],
        *,
        client: SlurmClient | None = None,
    ) -> None:
        limits = QueueLimits()
        if parameters.get("discover", True):
            slurm = (
                client
                if client is not None
                else SlurmClient(slurm_conf=parameters.get("slurm_conf"))
            )
            partitions = slurm.partitions()
            if queue_name not in partitions:
                raise ResourceError(
                    "queue",
                    queue_name,
                    "is not a partition of this Slurm cluster; partitions: "
                    + ", ".join(sorted(partitions)),
                )
            limits = partition_limits(partitions[queue_name], slurm.node_shapes(queue_name))
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=_tighten(limits, parameters),
            declared=DECLARED_RESOURCES,
        )
