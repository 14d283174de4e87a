"""`BridgeQueue`: a Jobmon queue checked by a distributor plugin's own queue.

Jobmon builds a queue from its row alone — ``(queue_id, queue_name, parameters)``, nothing of
its cluster — so the parameters name the plugin themselves::

    {"plugin": "slurm", "slurm_conf": "/etc/slurm/slurm.conf"}

and the rest are that plugin's queue parameters (`distributor.load_plugin(...).queue`).
"""

from __future__ import annotations

from typing import Any

from jobmon.plugins.distributor.jobmon_resources import check_memory, memory_in_gib, split_log_dirs

from distributor import ClusterQueue, ClusterQueueFactory, ResourceError, load_plugin
from distributor.exceptions import ConfigFileError

__all__ = ["BridgeQueue"]


class BridgeQueue:
    """A Jobmon ``ClusterQueue`` whose checks are the named plugin's queue's.

    Requests are Jobmon's (see `jobmon_resources`): ``stdout``/``stderr`` pass through
    untouched, memory comes and goes as whole GiB.

    Raises:
        ConfigFileError: the parameters do not name a plugin.
        PluginNotFoundError, PluginLoadError: as `distributor.load_plugin`.
        ResourceError, SchedulerError: the plugin's queue refused the queue.
    """

    def __init__(self, queue_id: int, queue_name: str, parameters: dict[str, Any]) -> None:
        options = dict(parameters)
        plugin = options.pop("plugin", None)
        if not isinstance(plugin, str) or not plugin:
            raise ConfigFileError(
                f"Jobmon queue {queue_name!r} (id {queue_id})",
                None,
                "parameters.plugin",
                "must name the distributor plugin, e.g. {'plugin': 'slurm', ...}; "
                f"got {plugin!r}",
            )
        self._id = queue_id
        self._name = queue_name
        self._parameters = dict(parameters)
        self._plugin = plugin
        self._queue: ClusterQueue = load_plugin(plugin).queue(queue_id, queue_name, options)

    @property
    def plugin(self) -> str:
        """The distributor plugin whose queue this is."""
        return self._plugin

    def validate_resources(self, strict: bool = False, **resources: Any) -> tuple[bool, str]:
        """Check a Jobmon request with the plugin's queue (see ``ClusterQueue``)."""
        try:
            request, _ = split_log_dirs(resources)
            check_memory(request)
        except ResourceError as exc:
            return False, str(exc)
        return self._queue.validate_resources(strict, **request)

    def coerce_resources(self, **resources: Any) -> dict[str, Any]:
        """The plugin queue's coerced request, memory in whole GiB, log directories kept.

        Raises:
            ResourceError: unknown keys or malformed values (clamping cannot fix those).
        """
        request, log_dirs = split_log_dirs(resources)
        check_memory(request)
        coerced = memory_in_gib(
            self._queue.coerce_resources(**request),
            lambda candidate: self._queue.validate_resources(True, **candidate)[0],
        )
        return {**coerced, **log_dirs}

    @property
    def parameters(self) -> dict[str, Any]:
        """The queue's parameters as Jobmon stored them (``plugin`` included)."""
        return self._parameters

    @property
    def queue_name(self) -> str:
        """The queue's name (the plugin's queue: a Slurm partition, say)."""
        return self._name

    @property
    def queue_id(self) -> int:
        """Jobmon's id for the queue."""
        return self._id

    @property
    def required_resources(self) -> list[str]:
        """The plugin queue's required resource keys."""
        return self._queue.required_resources


_pinned: ClusterQueueFactory = BridgeQueue
