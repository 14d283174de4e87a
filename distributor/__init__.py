"""distributor: typed contracts and plugins for submitting and tracking work on clusters.

Importing this package scans nothing, imports no plugin and almost nothing else: each public
name is imported from its module on first use (PEP 562), so a program that only imports
``distributor`` pays for what it touches. Use `available_plugins` and `load_plugin` to find
and load plugins.
"""

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (type checkers know it)
if TYPE_CHECKING:  # what the names below are, for type checkers and readers
    from typing import Any

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


def __getattr__(name: str) -> "Any":
    """A public name, imported from its module on first use; ``__version__`` read from the
    installed metadata (importing ``importlib.metadata`` costs more than the whole package)."""
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            found: Any = version("distributor-core")
        except PackageNotFoundError:  # a source tree that was never installed
            found = "0+unknown"
    elif name in _WHERE:
        from importlib import import_module

        found = getattr(import_module(_WHERE[name]), name)
    else:
        raise AttributeError(f"module 'distributor' has no attribute {name!r}")
    globals()[name] = found
    return found


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
