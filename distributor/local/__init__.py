"""The built-in ``local`` plugin: tasks as child processes of this machine.

Registered through the ``distributor.plugins`` entry-point group like every other plugin. Each
public name is imported on first use (PEP 562): the reaper (``python -m
distributor.local.reaper``) imports this package too, and a controller's `start` waits for it,
so it must not load the controller's machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distributor._lazy import attach as _attach

if TYPE_CHECKING:
    from distributor.local.distributor import LocalDistributor, default_state_dir
    from distributor.local.queue import LocalQueue
    from distributor.local.worker_node import LocalWorkerNode
    from distributor.plugin import Plugin
    from distributor.protocols import (
        ClusterDistributorFactory,
        ClusterQueueFactory,
        ClusterWorkerNodeFactory,
    )

    plugin: Plugin
    _queue: ClusterQueueFactory = LocalQueue
    _distributor: ClusterDistributorFactory = LocalDistributor
    _worker: ClusterWorkerNodeFactory = LocalWorkerNode

__all__ = ["LocalDistributor", "LocalQueue", "LocalWorkerNode", "default_state_dir", "plugin"]

_WHERE = {
    "LocalDistributor": "distributor.local.distributor",
    "LocalQueue": "distributor.local.queue",
    "LocalWorkerNode": "distributor.local.worker_node",
    "default_state_dir": "distributor.local.distributor",
}
"""The module each public name but `plugin` lives in."""


def _plugin() -> Plugin:
    from distributor.plugin import Plugin

    return Plugin(
        name="local",
        queue=__getattr__("LocalQueue"),
        distributor=__getattr__("LocalDistributor"),
        worker_node=__getattr__("LocalWorkerNode"),
        description="Runs tasks as processes on this machine; survives its controller",
    )


__getattr__, __dir__ = _attach(__name__, _WHERE, globals(), __all__, {"plugin": _plugin})
