"""Resource requests for task instances: the first attempt's, and a bigger one after ``Z``.

A request here is the canonical mapping a queue's ``coerce_resources`` returns (memory as an
exact binary-unit string, runtime in seconds), with the ``queue`` key set when a queue is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from distributor.exceptions import ResourceError
from distributor.resources import format_bytes, parse_memory, parse_runtime
from distributor.service.config import Cluster
from distributor.service.errors import TaskSpecError, UnknownClusterError
from distributor.service.model import TaskSpec

__all__ = ["FirstRequests", "Sized", "canonical", "initial_request", "scaled_request"]

_MIB = 1024**2


def canonical(resources: Mapping[str, Any]) -> str:
    """The JSON text of a request: equal requests give equal text (the grouping key)."""
    return json.dumps(dict(resources), sort_keys=True, separators=(",", ":"))


def initial_request(
    task: str, cluster: Cluster, queue: str | None, resources: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a task's request — over the cluster's `Cluster.defaults` — against its queue and
    return it coerced (clamped, defaults filled).

    Raises:
        TaskSpecError: the request is malformed, lacks a key the queue requires, or (without
            a queue object) names no known resource shape; the message is the queue's.
    """
    request = {key: value for key, value in cluster.defaults.items() if key != "queue"}
    request.update((key, value) for key, value in resources.items() if value is not None)
    if queue is not None:
        request["queue"] = queue
    queue_object = cluster.queue(queue)
    if queue_object is None:
        return request
    missing = [key for key in queue_object.required_resources if key not in request]
    if missing:
        raise TaskSpecError(
            task, "resources", dict(resources), f"queue {queue!r} requires {', '.join(missing)}"
        )
    valid, message = queue_object.validate_resources(strict=False, **request)
    if not valid:
        raise TaskSpecError(task, "resources", dict(resources), message)
    try:
        return dict(queue_object.coerce_resources(**request))
    except ResourceError as exc:
        raise TaskSpecError(task, "resources", dict(resources), str(exc)) from exc


class FirstRequests:
    """The queue and checked request of tasks' first attempts, remembered per distinct
    (cluster, queue, resources): a hundred thousand alike tasks are checked once."""

    def __init__(self, clusters: Mapping[str, Cluster]) -> None:
        self._clusters = clusters
        self._known: dict[tuple[str, str | None, str], str] = {}

    def first(self, spec: TaskSpec, cluster_name: str) -> tuple[str | None, str]:
        """The queue and the request (canonical JSON) of `spec`'s first attempt.

        Raises:
            UnknownClusterError: no such cluster; TaskSpecError: the queue refuses the request.
        """
        cluster = self._clusters.get(cluster_name)
        if cluster is None:
            raise UnknownClusterError(cluster_name, list(self._clusters))
        queue = spec.queue or cluster.default_queue
        key = (cluster_name, queue, canonical(spec.resources))
        found = self._known.get(key)
        if found is None:
            found = canonical(initial_request(spec.name, cluster, queue, spec.resources))
            self._known[key] = found
        return queue, found


@dataclass(frozen=True, slots=True)
class Sized:
    """The request for a retry after a resource error, or why there is none.

    Attributes:
        resources: the next attempt's request (None when it cannot grow).
        queue: the next attempt's queue.
        message: what changed (or, when `resources` is None, why the task must fail).
    """

    resources: dict[str, Any] | None
    queue: str | None
    message: str


def _grow(resources: Mapping[str, Any], factor: float) -> dict[str, Any]:
    grown = dict(resources)
    if resources.get("memory") is not None:
        amount = parse_memory(resources["memory"]) * factor
        grown["memory"] = format_bytes(math.ceil(amount / _MIB) * _MIB)
    if resources.get("runtime") is not None:
        grown["runtime"] = math.ceil(parse_runtime(resources["runtime"]) * factor)
    return grown


def _bigger(new: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """True if `new` asks for more memory or runtime than `old` (and no less of either)."""
    pairs = [
        (
            parse_memory(new[key]) if key == "memory" else parse_runtime(new[key]),
            parse_memory(old[key]) if key == "memory" else parse_runtime(old[key]),
        )
        for key in ("memory", "runtime")
        if new.get(key) is not None and old.get(key) is not None
    ]
    return any(a > b for a, b in pairs) and all(a >= b for a, b in pairs)


def _shown(resources: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={resources[key]}" for key in ("memory", "runtime") if key in resources)


def scaled_request(
    cluster: Cluster, queue: str | None, resources: Mapping[str, Any], factor: float
) -> Sized:
    """The request for the attempt after a ``Z``: memory and runtime × `factor`, made to fit.

    In order: the scaled request if it fits `queue`; else if it fits one of the cluster's
    fallback queues for `queue` (strictly, first match); else the request clamped into the
    first of those queues where clamping still grows it; else no request (the task fails, and
    the message says which queues were tried and why none fits).
    """
    if resources.get("memory") is None and resources.get("runtime") is None:
        return Sized(
            None,
            queue,
            "resource error (Z), but the request names neither memory nor runtime, so there "
            "is nothing to scale; give the task explicit memory and runtime",
        )
    grown = _grow(resources, factor)
    candidates = [queue, *cluster.fallbacks(queue)]
    problems: list[str] = []
    for name in candidates:
        queue_object = cluster.queue(name)
        request = dict(grown)
        if name is not None:
            request["queue"] = name
        if queue_object is None:
            return Sized(request, name, f"scaled ×{factor:g} to {_shown(request)}")
        fits, message = queue_object.validate_resources(strict=True, **request)
        if fits:
            coerced = dict(queue_object.coerce_resources(**request))
            where = "" if name == queue else f" in fallback queue {name!r}"
            return Sized(coerced, name, f"scaled ×{factor:g} to {_shown(coerced)}{where}")
        problems.append(message)
    for name in candidates:
        queue_object = cluster.queue(name)
        assert queue_object is not None  # the first loop returned otherwise
        request = {**grown, "queue": name} if name is not None else dict(grown)
        clamped = dict(queue_object.coerce_resources(**request))
        if _bigger(clamped, resources):
            return Sized(
                clamped,
                name,
                f"scaled ×{factor:g} and clamped to the limits of queue {name!r}: "
                f"{_shown(clamped)}",
            )
    tried = ", ".join(repr(name) for name in candidates)
    return Sized(
        None,
        queue,
        f"resource error (Z) at {_shown(resources)}; ×{factor:g} gives {_shown(grown)}, which "
        f"no queue grants (tried {tried}: {'; '.join(problems)}); configure a bigger fallback "
        "queue or reduce the task's needs",
    )
