"""Jobmon cluster type ``distributor``: Jobmon workflows run through any distributor plugin.

Jobmon finds a cluster type as the module ``jobmon.plugins.<cluster type name>`` and asks it for
three classes. Jobmon imports every module under ``jobmon.plugins`` whenever it looks up any
cluster type, so importing this one must never fail: it imports nothing but the standard library,
and `distributor` only when Jobmon asks for a class of this cluster type.

A cluster of this type names the distributor plugin in its ``connection_parameters``, with that
plugin's distributor options beside it (``{"plugin": "slurm", "slurm_conf": "..."}``), and so does
each of its queues' ``parameters`` (``{"plugin": "slurm"}`` plus the plugin's queue parameters).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at Jobmon's scan
if TYPE_CHECKING:
    from jobmon.plugins.distributor.bridge_distributor import DistributorBridge
    from jobmon.plugins.distributor.bridge_queue import BridgeQueue
    from jobmon.plugins.distributor.bridge_worker_node import BridgeWorkerNode

__all__ = [
    "get_cluster_distributor_class",
    "get_cluster_queue_class",
    "get_cluster_worker_node_class",
]


def _cannot_load(name: str, exc: ImportError) -> ImportError:
    """The error for a class of this cluster type that cannot be imported: what to install."""
    return ImportError(
        f"Jobmon cluster type 'distributor' cannot load {name}: {exc} (it needs distributor-core "
        "and the distributor plugin its clusters name: pip install jobmon-plugin-distributor "
        "distributor-slurm, say)"
    )


def get_cluster_queue_class() -> type[BridgeQueue]:
    """The queue class Jobmon builds from a queue's ``(queue_id, queue_name, parameters)``."""
    try:
        from jobmon.plugins.distributor.bridge_queue import BridgeQueue
    except ImportError as exc:
        raise _cannot_load("BridgeQueue", exc) from exc
    return BridgeQueue


def get_cluster_distributor_class() -> type[DistributorBridge]:
    """The distributor class Jobmon builds as ``(cluster_name, **connection_parameters)``."""
    try:
        from jobmon.plugins.distributor.bridge_distributor import DistributorBridge
    except ImportError as exc:
        raise _cannot_load("DistributorBridge", exc) from exc
    return DistributorBridge


def get_cluster_worker_node_class() -> type[BridgeWorkerNode]:
    """The worker-node class Jobmon's worker builds (no arguments) inside each task."""
    try:
        from jobmon.plugins.distributor.bridge_worker_node import BridgeWorkerNode
    except ImportError as exc:
        raise _cannot_load("BridgeWorkerNode", exc) from exc
    return BridgeWorkerNode
