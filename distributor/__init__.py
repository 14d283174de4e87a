"""distributor: typed contracts and plugins for submitting and tracking work on clusters.

Importing this package scans nothing, imports no plugin and almost nothing else: each public
name is imported from its module on first use (PEP 562), so a program that only imports
``distributor`` pays for what it touches. Use `available_plugins` and `load_plugin` to find
and load plugins.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know it)
if TYPE_CHECKING:  # what the names below are, for type checkers and readers
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
        UnsupportedPlatformError,
    )
    from distributor.exit_info import (
        RemoteExitInfo,
        TaskInstanceStatus,
        normalize_exit_info,
    )
    from distributor.limited_queue import LimitedQueue
    from distributor.plugin import Plugin
    from distributor.protocols import (
        ClusterDistributor,
        ClusterDistributorFactory,
        ClusterQueue,
        ClusterQueueFactory,
        ClusterWorkerNode,
        ClusterWorkerNodeFactory,
        SupportsLookupByName,
        SupportsLostTracking,
        SupportsResults,
        SupportsRunningQuery,
        SupportsTaskOutcome,
        SupportsWaitForChange,
    )
    from distributor.registry import (
        PluginInfo,
        PluginStatus,
        available_plugins,
        inspect_plugins,
        load_plugin,
    )
    from distributor.resources import (
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
del TYPE_CHECKING

from distributor._lazy import attach as _attach  # noqa: E402  (after the type-only imports)

_WHERE = {
    "ClusterDistributor": "distributor.protocols",
    "ClusterDistributorFactory": "distributor.protocols",
    "ClusterQueue": "distributor.protocols",
    "ClusterQueueFactory": "distributor.protocols",
    "ClusterWorkerNode": "distributor.protocols",
    "ClusterWorkerNodeFactory": "distributor.protocols",
    "DistributorError": "distributor.exceptions",
    "ExitInfoError": "distributor.exceptions",
    "LimitedQueue": "distributor.limited_queue",
    "Plugin": "distributor.plugin",
    "PluginConflictError": "distributor.exceptions",
    "PluginContractError": "distributor.exceptions",
    "PluginError": "distributor.exceptions",
    "PluginInfo": "distributor.registry",
    "PluginLoadError": "distributor.exceptions",
    "PluginNotFoundError": "distributor.exceptions",
    "PluginStatus": "distributor.registry",
    "QueueLimits": "distributor.resources",
    "RemoteExitInfo": "distributor.exit_info",
    "RemoteExitInfoNotAvailable": "distributor.exceptions",
    "ResourceError": "distributor.exceptions",
    "ResourceRequest": "distributor.resources",
    "SchedulerError": "distributor.exceptions",
    "SchedulerOutputError": "distributor.exceptions",
    "SubmissionError": "distributor.exceptions",
    "SupportsLookupByName": "distributor.protocols",
    "SupportsLostTracking": "distributor.protocols",
    "SupportsRunningQuery": "distributor.protocols",
    "SupportsResults": "distributor.protocols",
    "SupportsTaskOutcome": "distributor.protocols",
    "SupportsWaitForChange": "distributor.protocols",
    "TaskInstanceStatus": "distributor.exit_info",
    "TaskUsage": "distributor.usage",
    "UnknownDistributorIdError": "distributor.exceptions",
    "UnsupportedPlatformError": "distributor.exceptions",
    "available_plugins": "distributor.registry",
    "coerce_request": "distributor.resources",
    "format_bytes": "distributor.resources",
    "format_seconds": "distributor.resources",
    "inspect_plugins": "distributor.registry",
    "load_plugin": "distributor.registry",
    "normalize_exit_info": "distributor.exit_info",
    "parse_memory": "distributor.resources",
    "parse_request": "distributor.resources",
    "parse_runtime": "distributor.resources",
    "validate_request": "distributor.resources",
}
"""The module each public name lives in."""


def _version() -> str:
    """The installed distribution's version (importing ``importlib.metadata`` costs more than
    the whole package, so it is read only when asked for)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("distributor-core")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


__all__ = [
    "ClusterDistributor",
    "ClusterDistributorFactory",
    "ClusterQueue",
    "ClusterQueueFactory",
    "ClusterWorkerNode",
    "ClusterWorkerNodeFactory",
    "DistributorError",
    "ExitInfoError",
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
    "SupportsResults",
    "SupportsRunningQuery",
    "SupportsTaskOutcome",
    "SupportsWaitForChange",
    "TaskInstanceStatus",
    "TaskUsage",
    "UnknownDistributorIdError",
    "UnsupportedPlatformError",
    "__version__",
    "available_plugins",
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

__getattr__, __dir__ = _attach(__name__, _WHERE, globals(), __all__, {"__version__": _version})
