"""distributor: typed contracts and plugins for submitting and tracking work on clusters.

Importing this package scans nothing and imports no plugin; use `available_plugins` and
`load_plugin` for that.
"""

from distributor.exceptions import (
    DistributorError,
    ExitInfoError,
    PluginConflictError,
    PluginContractError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
    RemoteExitInfoNotAvailable,
    ResourceError,
    SchedulerError,
    SchedulerOutputError,
    SubmissionError,
    UnknownDistributorIdError,
)
from distributor.exit_info import (
    FINAL_STATES,
    RemoteExitInfo,
    TaskInstanceStatus,
    normalize_exit_info,
)
from distributor.limited_queue import LimitedQueue
from distributor.plugin import ENTRY_POINT_GROUP, Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterDistributorFactory,
    ClusterQueue,
    ClusterQueueFactory,
    ClusterWorkerNode,
    ClusterWorkerNodeFactory,
    SupportsLookupByName,
    SupportsLostTracking,
    SupportsRunningQuery,
    SupportsTaskOutcome,
)
from distributor.registry import (
    PluginInfo,
    PluginStatus,
    available_plugins,
    check_plugin,
    inspect_plugins,
    load_plugin,
)
from distributor.resources import (
    KNOWN_RESOURCES,
    QueueLimits,
    ResourceRequest,
    coerce_request,
    format_bytes,
    format_seconds,
    parse_memory,
    parse_request,
    parse_runtime,
    validate_request,
)
from distributor.usage import TaskUsage


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata on first use (importing
    ``importlib.metadata`` costs more than the rest of the package)."""
    if name != "__version__":
        raise AttributeError(f"module 'distributor' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("distributor")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0+unknown"
    globals()["__version__"] = found
    return found


__all__ = [
    "ClusterDistributor",
    "ClusterDistributorFactory",
    "ClusterQueue",
    "ClusterQueueFactory",
    "ClusterWorkerNode",
    "ClusterWorkerNodeFactory",
    "DistributorError",
    "ENTRY_POINT_GROUP",
    "ExitInfoError",
    "FINAL_STATES",
    "KNOWN_RESOURCES",
    "LimitedQueue",
    "Plugin",
    "PluginConflictError",
    "PluginContractError",
    "PluginError",
    "PluginInfo",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginStatus",
    "QueueLimits",
    "RemoteExitInfo",
    "RemoteExitInfoNotAvailable",
    "ResourceError",
    "ResourceRequest",
    "SchedulerError",
    "SchedulerOutputError",
    "SubmissionError",
    "SupportsLookupByName",
    "SupportsLostTracking",
    "SupportsRunningQuery",
    "SupportsTaskOutcome",
    "TaskInstanceStatus",
    "TaskUsage",
    "UnknownDistributorIdError",
    "__version__",
    "available_plugins",
    "check_plugin",
    "coerce_request",
    "format_bytes",
    "format_seconds",
    "inspect_plugins",
    "load_plugin",
    "normalize_exit_info",
    "parse_memory",
    "parse_request",
    "parse_runtime",
    "validate_request",
]
