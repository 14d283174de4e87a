"""`LsfQueue`: an LSF queue, with limits read from ``bqueues -l``.

Limits come from the queue's ``MAXIMUM LIMITS`` and ``DEFAULT LIMITS`` (RUNLIMIT, MEMLIMIT,
PROCLIMIT/TASKLIMIT), so a request is validated against what the queue will accept
(``bsub`` refuses a job above a hard queue limit: "Cannot exceed queue's hard limit(s)").
Queue parameters may tighten them: ``max_memory``, ``max_runtime``, ``max_cores``,
``max_gpus``; ``discover=False`` skips the cluster and uses only the parameters (offline
validation); ``lsf_env`` (a mapping) is the extra environment of the query (``LSF_ENVDIR``);
``unit_for_limits`` is the cluster's ``LSF_UNIT_FOR_LIMITS`` (default ``KB``).

Declared pass-through keys (`DECLARED_RESOURCES`) are validated for shape and written as
``#BSUB`` directives by the distributor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributor import LimitedQueue, QueueLimits, ResourceError, parse_request
from distributor_lsf.client import LsfClient
from distributor_lsf.parsers import QueueInfo

__all__ = ["DECLARED_RESOURCES", "LsfQueue", "queue_limits"]

DECLARED_RESOURCES: Mapping[str, str] = {
    "lsf.project": r"[A-Za-z0-9_.\-]{1,64}",
    "lsf.app": r"[A-Za-z0-9_.\-]{1,64}",
    "lsf.array_cap": r"[1-9][0-9]{0,5}",
}
"""LSF-specific request keys and the regular expression their values must match.

``lsf.project`` is ``bsub -P``, ``lsf.app`` is ``bsub -app`` (an application profile), and
``lsf.array_cap`` limits how many elements of an array run at once (``-J "name[1-n]%cap"``).
"""


def _least(*values: int | None) -> int | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def queue_limits(info: QueueInfo | None, parameters: Mapping[str, Any]) -> QueueLimits:
    """The `QueueLimits` of a queue: its ``bqueues -l`` limits, tightened by `parameters`.

    Raises:
        ResourceError: a ``max_*`` parameter is malformed.
    """
    tighter = parse_request(
        {
            "memory": parameters.get("max_memory"),
            "runtime": parameters.get("max_runtime"),
            "cores": parameters.get("max_cores"),
            "gpus": parameters.get("max_gpus"),
        }
    )
    found = info if info is not None else QueueInfo("")
    memory = _least(found.max_memory_bytes, tighter.memory_bytes)
    runtime = _least(found.max_runtime_seconds, tighter.runtime_seconds)
    cores = _least(found.max_tasks, tighter.cores)
    return QueueLimits(
        max_memory_bytes=memory,
        max_runtime_seconds=runtime,
        max_cores=cores,
        max_gpus=tighter.gpus,
        default_memory_bytes=None
        if found.default_memory_bytes is None
        else _least(found.default_memory_bytes, memory),
        default_runtime_seconds=None
        if found.default_runtime_seconds is None
        else _least(found.default_runtime_seconds, runtime),
        default_cores=_least(found.default_tasks or 1, cores),
    )


class LsfQueue(LimitedQueue):
    """An LSF queue (see the module docstring for where its limits come from).

    Args:
        queue_id: the caller's id for the queue.
        queue_name: the LSF queue name.
        parameters: optional ``max_*`` limits, ``discover``, ``lsf_env``, ``unit_for_limits``.
        client: the LSF client to read the queue with (default: one built from `parameters`).

    Raises:
        ResourceError: the queue does not exist (the message lists those that do), or a
            parameter is malformed.
        SchedulerError: the cluster could not be asked.
    """

    def __init__(
        self,
        queue_id: int,
        queue_name: str,
        parameters: Mapping[str, Any],
        *,
        client: LsfClient | None = None,
    ) -> None:
        info: QueueInfo | None = None
        if parameters.get("discover", True):
            lsf = client or LsfClient(
                env=parameters.get("lsf_env"),
                unit_for_limits=str(parameters.get("unit_for_limits", "KB")),
            )
            queues = lsf.queues()
            if queue_name not in queues:
                raise ResourceError(
                    "queue",
                    queue_name,
                    "is not a queue of this LSF cluster; queues: " + ", ".join(sorted(queues)),
                )
            info = queues[queue_name]
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=queue_limits(info, parameters),
            declared=DECLARED_RESOURCES,
        )
