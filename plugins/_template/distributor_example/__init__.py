"""The Example scheduler plugin for distributor (entry point ``example``).

* `ExampleQueue` — a queue and its limits.
* `ExampleDistributor` — `distributor.batch.BatchDistributor` over `ExampleScheduler`.
* `ExampleWorkerNode` — ids from the scheduler's variables.

Generated plugins keep this shape: a client (`distributor_example.client`), a scheduler object
(`distributor_example.scheduler`) and a typed constructor, each pinned to its contract below so
that mypy checks them.
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
    SupportsLookupByName,
    SupportsRunningQuery,
)
from distributor.batch import BatchScheduler
from distributor_example.client import ExampleClient
from distributor_example.distributor import ExampleDistributor
from distributor_example.queue import ExampleQueue
from distributor_example.scheduler import DECLARED_RESOURCES, ExampleScheduler
from distributor_example.worker import ExampleWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "ExampleClient",
    "ExampleDistributor",
    "ExampleQueue",
    "ExampleScheduler",
    "ExampleWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = ExampleQueue
_distributor: ClusterDistributorFactory = ExampleDistributor
_worker: ClusterWorkerNodeFactory = ExampleWorkerNode


def _contracts(scheduler: ExampleScheduler, distributor: ExampleDistributor) -> None:
    """Never called: mypy checks here that the classes satisfy the protocols."""
    _scheduler: BatchScheduler = scheduler
    _running: SupportsRunningQuery = distributor
    _lookup: SupportsLookupByName = distributor


plugin = Plugin(
    name="example",
    queue=ExampleQueue,
    distributor=ExampleDistributor,
    worker_node=ExampleWorkerNode,
    description="Example: a template to copy (scripts/new-plugin.py NAME)",
)
"""The object the ``example`` entry point names."""
