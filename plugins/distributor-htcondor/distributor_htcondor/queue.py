"""`HTCondorQueue`: limits for requests to an HTCondor pool, from queue parameters.

HTCondor has no queues or partitions a client could ask for limits: a job matches whatever
machines its requirements fit, and a pool's largest slot or its policies are site knowledge. So
the queue's name is a label the caller chooses, and its limits come from its parameters (all
optional; None = no limit):

``max_memory``, ``max_runtime``, ``max_cores``, ``max_gpus``
    the most a request may ask for (memory and runtime in any spelling `distributor.resources`
    accepts).
``default_memory``, ``default_runtime``, ``default_cores``
    what a request that is silent gets (clamped into the maxima; cores default to 1).

Declared pass-through keys (`DECLARED_RESOURCES`) become submit commands.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from distributor import LimitedQueue, QueueLimits, ResourceError
from distributor.resources import parse_cores, parse_gpus, parse_memory, parse_runtime

__all__ = ["DECLARED_RESOURCES", "SUBMIT_COMMANDS", "HTCondorQueue", "queue_limits"]

DECLARED_RESOURCES: Mapping[str, str] = {
    "htcondor.accounting_group": r"[A-Za-z0-9_.@\-]{1,128}",
    "htcondor.concurrency_limits": r"[A-Za-z0-9_.:,\-]{1,256}",
}
"""HTCondor-specific request keys and the regular expression their values must match."""

SUBMIT_COMMANDS: Mapping[str, str] = {
    "htcondor.accounting_group": "accounting_group",
    "htcondor.concurrency_limits": "concurrency_limits",
}
"""Declared key → the submit command it is written as."""

_KNOWN = frozenset(
    {
        "max_memory",
        "max_runtime",
        "max_cores",
        "max_gpus",
        "default_memory",
        "default_runtime",
        "default_cores",
    }
)


def _optional(
    parse: Callable[[object], int], parameters: Mapping[str, Any], key: str
) -> int | None:
    value = parameters.get(key)
    if value is None:
        return None
    try:
        return parse(value)
    except ResourceError as exc:
        raise ResourceError(key, value, f"invalid queue parameter ({exc.reason})") from exc


def _clamped(value: int | None, limit: int | None) -> int | None:
    if value is None or limit is None:
        return value
    return min(value, limit)


def queue_limits(parameters: Mapping[str, Any]) -> QueueLimits:
    """The `QueueLimits` that queue parameters describe (see the module docstring).

    Raises:
        ResourceError: a parameter has a malformed value (the message names it).
    """
    max_memory = _optional(parse_memory, parameters, "max_memory")
    max_runtime = _optional(parse_runtime, parameters, "max_runtime")
    max_cores = _optional(parse_cores, parameters, "max_cores")
    max_gpus = _optional(parse_gpus, parameters, "max_gpus")
    default_cores = _optional(parse_cores, parameters, "default_cores")
    return QueueLimits(
        max_memory_bytes=max_memory,
        max_runtime_seconds=max_runtime,
        max_cores=max_cores,
        max_gpus=max_gpus,
        default_memory_bytes=_clamped(
            _optional(parse_memory, parameters, "default_memory"), max_memory
        ),
        default_runtime_seconds=_clamped(
            _optional(parse_runtime, parameters, "default_runtime"), max_runtime
        ),
        default_cores=_clamped(default_cores if default_cores is not None else 1, max_cores),
    )


class HTCondorQueue(LimitedQueue):
    """A named set of limits for requests to an HTCondor pool (see the module docstring).

    Args:
        queue_id: the caller's id for the queue.
        queue_name: a label (HTCondor itself has no queues).
        parameters: the limits and defaults.

    Raises:
        ResourceError: a parameter is unknown or malformed.
    """

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        unknown = sorted(set(parameters) - _KNOWN)
        if unknown:
            raise ResourceError(
                unknown[0],
                parameters[unknown[0]],
                f"unknown HTCondor queue parameter (known: {', '.join(sorted(_KNOWN))})",
            )
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=queue_limits(parameters),
            declared=DECLARED_RESOURCES,
        )
