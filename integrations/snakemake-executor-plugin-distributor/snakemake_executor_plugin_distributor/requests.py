"""A Snakemake job's resources as a distributor resource request.

The mapping (everything else Snakemake keeps among a job's resources — ``_cores``, ``_nodes``,
``tmpdir``, ``disk_mb``, … — is not the scheduler's business and is left out):

* ``threads`` → ``cores``.
* ``mem_mib`` (or ``mem_mb``, decimal megabytes, which Snakemake derives from ``mem``) plus the
  configured overhead → ``memory``, in MiB. No memory resource: no ``memory`` key.
* ``runtime`` (minutes, as Snakemake keeps it) → ``runtime`` in seconds.
* ``gpus`` or ``gpu`` → ``gpus``.
* ``queue``, ``partition``, ``<plugin>_queue`` or ``<plugin>_partition`` → ``queue``.
* ``<plugin>_<key>`` → the plugin's pass-through key ``<plugin>.<key>`` (``slurm_account`` →
  ``slurm.account`` on a Slurm cluster). Keys of other plugins (``sge_project`` on that Slurm
  cluster) are left out, so one workflow carries settings for several clusters.
* Multi-node and MPI requests (``nodes`` over 1, ``mpi``, ``tasks`` over 1) are refused: each
  job is one process tree on one node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from distributor import ResourceError

__all__ = ["RequestPolicy", "job_request"]

_MIB = 1024**2
_GENERIC_QUEUE_KEYS = ("queue", "partition")
_MULTI_NODE_HINT = (
    "multi-node and MPI jobs are not supported: the distributor executor runs each job as one "
    "process tree on one node (ask for cores with threads, or use an MPI-aware executor)"
)


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """How requests are built for one cluster.

    Attributes:
        plugin: the cluster's plugin name; its prefix (``slurm_``) marks pass-through keys.
        memory_overhead_mib: MiB added to each job's memory (the nested Snakemake process).
        defaults: the cluster's configured defaults, under the job's own resources.
    """

    plugin: str
    memory_overhead_mib: int = 0
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.memory_overhead_mib, bool) or self.memory_overhead_mib < 0:
            raise ResourceError(
                "memory_overhead_mib", self.memory_overhead_mib, "must be zero or more MiB"
            )


def _whole(key: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ResourceError(key, value, f"expected a number, not {type(value).__name__}")
    if not math.isfinite(value) or value < minimum:
        raise ResourceError(key, value, f"must be at least {minimum}")
    return math.ceil(value)


def _refuse_multi_node(resources: Mapping[str, object]) -> None:
    for key in ("nodes", "tasks"):
        value = resources.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 1:
            raise ResourceError(key, value, _MULTI_NODE_HINT)
    mpi = resources.get("mpi")
    if mpi not in (None, False, "", 0):
        raise ResourceError("mpi", mpi, _MULTI_NODE_HINT)


def _memory_mib(resources: Mapping[str, object]) -> int | None:
    if resources.get("mem_mib") is not None:
        return _whole("mem_mib", resources["mem_mib"], minimum=0)
    if resources.get("mem_mb") is not None:
        megabytes = _whole("mem_mb", resources["mem_mb"], minimum=0)
        return math.ceil(megabytes * 1_000_000 / _MIB)
    return None


def _queue(resources: Mapping[str, object], plugin: str) -> str | None:
    keys = (*_GENERIC_QUEUE_KEYS, f"{plugin}_queue", f"{plugin}_partition")
    given = {key: resources[key] for key in keys if resources.get(key) not in (None, "")}
    names = set(given.values())
    if len(names) > 1:
        shown = ", ".join(f"{key}={value!r}" for key, value in given.items())
        raise ResourceError("queue", shown, "names more than one queue; give one")
    if not names:
        return None
    (name,) = names
    if not isinstance(name, str):
        raise ResourceError("queue", name, "must be a queue (partition) name")
    return name


def job_request(
    resources: Mapping[str, object], threads: int, policy: RequestPolicy
) -> dict[str, Any]:
    """The distributor request for a job with these Snakemake `resources` and `threads`.

    Returns:
        A request in the distributor's terms (``cores``, ``memory``, ``runtime``, ``gpus``,
        ``queue`` and namespaced keys), over the policy's defaults; not yet checked against a
        queue.

    Raises:
        ResourceError: a multi-node or MPI request, a value of the wrong kind, or two queues.
    """
    _refuse_multi_node(resources)
    request: dict[str, Any] = {"cores": max(1, _whole("threads", threads, minimum=0))}
    memory = _memory_mib(resources)
    if memory is not None:
        request["memory"] = f"{memory + policy.memory_overhead_mib}M"
    if resources.get("runtime") is not None:
        request["runtime"] = _whole("runtime", resources["runtime"], minimum=1) * 60
    gpus = resources.get("gpus", resources.get("gpu"))
    if gpus is not None and gpus != 0:
        request["gpus"] = _whole("gpus", gpus, minimum=0)
    queue = _queue(resources, policy.plugin)
    if queue is not None:
        request["queue"] = queue
    prefix = f"{policy.plugin}_"
    for key, value in resources.items():
        if not key.startswith(prefix) or key in (f"{prefix}queue", f"{prefix}partition"):
            continue
        if value is None or key[len(prefix) :] == "":
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ResourceError(key, value, "a pass-through value must be a string or integer")
        request[f"{policy.plugin}.{key[len(prefix) :]}"] = value
    return {**policy.defaults, **request}
