"""The Grid Engine plugin for distributor (entry point ``sge``).

* `SgeQueue` — a cluster queue with limits read from ``qconf``/``qhost`` (``h_rt``, ``h_vmem``,
  slots and the parallel environment).
* `SgeDistributor` — `distributor.batch.BatchDistributor` over an `SgeScheduler`: ``qsub
  -terse`` of ``#$`` job scripts (arrays ``-t 1-n``, 1-based tasks mapped to 0-based steps),
  one ``qstat -xml`` per poll cycle, exit info from ``qacct``, ``Eqw`` reported as a queueing
  error, ``qdel`` batched, lookup by name with one ``qstat``.
* `SgeWorkerNode` — ids from ``JOB_ID`` and ``SGE_TASK_ID``.

The state map is in `distributor_sge.states`, the commands in `distributor_sge.client`.
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
)
from distributor_sge.client import SgeClient
from distributor_sge.distributor import SgeDistributor
from distributor_sge.queue import DECLARED_RESOURCES, SgeQueue
from distributor_sge.scheduler import DEFAULT_INHERITED, SgeScheduler
from distributor_sge.worker import SgeWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "DEFAULT_INHERITED",
    "SgeClient",
    "SgeDistributor",
    "SgeQueue",
    "SgeScheduler",
    "SgeWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = SgeQueue
_distributor: ClusterDistributorFactory = SgeDistributor
_worker: ClusterWorkerNodeFactory = SgeWorkerNode

plugin = Plugin(
    name="sge",
    queue=SgeQueue,
    distributor=SgeDistributor,
    worker_node=SgeWorkerNode,
    description="Grid Engine: qsub arrays, one qstat per poll cycle, exit info from qacct",
)
"""The object the ``sge`` entry point names."""
