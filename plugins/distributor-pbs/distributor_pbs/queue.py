"""`PbsQueue`: a PBS queue, with limits read from ``qstat -Q -f``.

Limits come from the queue's ``resources_max.walltime``, ``resources_max.mem``,
``resources_max.ncpus`` and ``resources_max.ngpus`` (both flavours print them in the
``qstat -Q -f`` block of the queue); defaults from ``resources_default.walltime``/``mem``/
``ncpus``. Queue parameters may tighten them: ``max_memory``, ``max_runtime``, ``max_cores``,
``max_gpus``. ``discover=False`` skips the server and uses only the parameters; ``flavour``,
``server`` and ``environment`` are passed to the `PbsClient` that asks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields, replace
from typing import Any

from distributor import LimitedQueue, QueueLimits, SchedulerOutputError, parse_request
from distributor_pbs import parsers
from distributor_pbs.client import PbsClient

__all__ = ["DECLARED_RESOURCES", "PbsQueue", "queue_limits"]

DECLARED_RESOURCES: Mapping[str, str] = {"pbs.account": r"[A-Za-z0-9_.\-]{1,64}"}
"""PBS-specific request keys and the regular expression their values must match
(``pbs.account`` is written as ``#PBS -A``)."""


def queue_limits(attributes: Mapping[str, str]) -> QueueLimits:
    """The `QueueLimits` of a queue from its ``qstat -Q -f`` attributes.

    Raises:
        SchedulerOutputError: a limit is malformed (the attributes are kept as raw text).
    """

    def read(key: str, parse: Callable[[str], int]) -> int | None:
        value = attributes.get(key)
        return parse(value) if value else None

    try:
        return QueueLimits(
            max_memory_bytes=read("resources_max.mem", parsers.parse_size),
            max_runtime_seconds=read("resources_max.walltime", parsers.parse_duration),
            max_cores=read("resources_max.ncpus", int),
            max_gpus=read("resources_max.ngpus", int),
            default_memory_bytes=read("resources_default.mem", parsers.parse_size),
            default_runtime_seconds=read("resources_default.walltime", parsers.parse_duration),
            default_cores=read("resources_default.ncpus", int) or 1,
        )
    except ValueError as exc:
        raw = "\n".join(f"{key} = {value}" for key, value in attributes.items())
        raise SchedulerOutputError(f"unexpected queue attributes ({exc})", raw) from exc


def _narrowest(first: int | None, second: int | None) -> int | None:
    return second if first is None else first if second is None else min(first, second)


def _with_parameters(limits: QueueLimits, parameters: Mapping[str, Any]) -> QueueLimits:
    """`limits` narrowed by the ``max_*`` parameters, with defaults kept inside the maxima."""
    asked = parse_request(
        {key: parameters.get(f"max_{key}") for key in ("memory", "runtime", "cores", "gpus")}
    )
    maxima = {
        "max_memory_bytes": asked.memory_bytes,
        "max_runtime_seconds": asked.runtime_seconds,
        "max_cores": asked.cores,
        "max_gpus": asked.gpus,
    }
    narrowed = replace(
        limits, **{key: _narrowest(getattr(limits, key), value) for key, value in maxima.items()}
    )
    defaults = {}
    for field in fields(QueueLimits):
        if field.name.startswith("default_"):
            ceiling = getattr(narrowed, "max_" + field.name.removeprefix("default_"))
            value = getattr(narrowed, field.name)
            defaults[field.name] = None if value is None else _narrowest(value, ceiling)
    return replace(narrowed, **defaults)


class PbsQueue(LimitedQueue):
    """A PBS queue (see the module docstring for where its limits come from).

    Args:
        queue_id: the caller's id for the queue.
        queue_name: the queue's name (``workq`` is PBS Pro's default, ``batch`` Torque's).
        parameters: optional ``max_*`` limits, ``discover``, ``flavour``, ``server`` and
            ``environment``.
        client: the PBS client to ask (default: one built from the parameters).

    Raises:
        ResourceError: the queue does not exist (the message lists those that do), or a
            parameter is malformed.
        SchedulerError: the server could not be asked.
    """

    def __init__(
        self,
        queue_id: int,
        queue_name: str,
        parameters: Mapping[str, Any],
        *,
        client: PbsClient | None = None,
    ) -> None:
        limits = QueueLimits()
        if parameters.get("discover", True):
            pbs = client or PbsClient(
                flavour=parameters.get("flavour", "auto"),
                server=parameters.get("server"),
                environment=parameters.get("environment"),
            )
            limits = queue_limits(pbs.queue_attributes(queue_name))
        super().__init__(
            queue_id,
            queue_name,
            parameters,
            limits=_with_parameters(limits, parameters),
            declared=DECLARED_RESOURCES,
        )
