"""The built-in ``local`` plugin: tasks as child processes of this machine.

Registered through the ``distributor.plugins`` entry-point group like every other plugin.
"""

from distributor.local.distributor import LocalDistributor, default_state_dir
from distributor.local.queue import LocalQueue
from distributor.local.worker_node import LocalWorkerNode
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
)

__all__ = ["LocalDistributor", "LocalQueue", "LocalWorkerNode", "default_state_dir", "plugin"]

_queue: ClusterQueueFactory = LocalQueue
_distributor: ClusterDistributorFactory = LocalDistributor
_worker: ClusterWorkerNodeFactory = LocalWorkerNode

plugin = Plugin(
    name="local",
    queue=LocalQueue,
    distributor=LocalDistributor,
    worker_node=LocalWorkerNode,
    description="Runs tasks as processes on this machine; survives its controller",
)
