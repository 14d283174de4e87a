"""Resource requests as Jobmon writes them, and as a distributor plugin takes them.

Jobmon converts a request before a queue or a distributor sees it (``TaskResources``): memory
becomes a whole number of GiB (``int(value)``, or its ``MemUnit``, which rounds ``"500M"`` to 0),
runtime whole seconds; a resource-scaling retry multiplies them and rounds up. Beside the
resources it keeps two keys that are not resources: ``stdout`` and ``stderr``, the directories
its worker writes the command's output to (absent or None when the user set none).

So the bridge takes ``stdout``/``stderr`` out before asking the plugin, puts them back in what
Jobmon stores, refuses a memory of 0 GiB with the reason, and answers memory as whole GiB —
what Jobmon keeps without rounding it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from distributor import ResourceError, parse_memory

__all__ = ["GIB", "JOBMON_LOG_KEYS", "check_memory", "memory_in_gib", "split_log_dirs"]

GIB = 1024**3
JOBMON_LOG_KEYS = ("stdout", "stderr")
"""Keys Jobmon keeps among the resources: its worker's log directories, not resources."""


def split_log_dirs(resources: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Separate Jobmon's log directories from the resources.

    Returns:
        ``(resources without stdout/stderr, {key: directory})`` — keys whose value is None or
        empty are left out of both.

    Raises:
        ResourceError: a log directory that is not a string.
    """
    request = {k: v for k, v in resources.items() if k not in JOBMON_LOG_KEYS}
    log_dirs: dict[str, str] = {}
    for key in JOBMON_LOG_KEYS:
        value = resources.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ResourceError(key, value, "is Jobmon's log directory: a path (a string)")
        log_dirs[key] = value
    return request, log_dirs


def check_memory(request: Mapping[str, Any]) -> None:
    """Refuse the memory Jobmon's rounding made 0, naming the cause.

    Raises:
        ResourceError: ``memory`` is 0 (Jobmon turns anything under half a GiB into 0).
    """
    memory = request.get("memory")
    if memory is not None and not isinstance(memory, bool) and memory in (0, "0"):
        raise ResourceError(
            "memory",
            memory,
            "Jobmon rounds memory to whole GiB, so a request under 0.5 GiB arrives as 0: "
            "ask for at least 1G",
        )


def memory_in_gib(
    request: Mapping[str, Any], fits: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Return the canonical `request` with its memory as a whole number of GiB.

    Rounds up, so that the task gets at least what it asked for, unless the rounded value does
    not `fit` the queue (a limit that is not whole GiB): then down, to at least 1.

    Args:
        request: a plugin queue's canonical request (``memory`` such as ``"1536MiB"``).
        fits: whether a request is within the queue's limits.
    """
    if request.get("memory") is None:
        return dict(request)
    amount = parse_memory(request["memory"])
    up = {**request, "memory": max(1, math.ceil(amount / GIB))}
    if amount % GIB == 0 or fits(up):
        return up
    return {**request, "memory": max(1, amount // GIB)}
