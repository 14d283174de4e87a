"""The PBS plugin for distributor (entry point ``pbs``): PBS Professional / OpenPBS and Torque.

* `PbsQueue` — a queue with limits read from ``qstat -Q -f``.
* `PbsDistributor` — `distributor.batch.BatchDistributor` over a `PbsScheduler`: ``qsub`` with
  ``#PBS`` directives (arrays ``-J``/``-t`` chunked by the server's array limit), one ``qstat``
  per poll cycle, documented ``Exit_status`` codes, lookup by name with one ``qstat``.
* `PbsWorkerNode` — ids from ``PBS_JOBID``/``PBS_ARRAY_INDEX``/``PBS_ARRAYID``, usage from the
  worker's exit record.

The flavour (``pro`` or ``torque``) is chosen per distributor or detected with
``qstat --version``; see `distributor_pbs.flavours`. The state map is in
`distributor_pbs.states`.
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
)
from distributor_pbs.client import PbsClient
from distributor_pbs.distributor import PbsDistributor
from distributor_pbs.queue import DECLARED_RESOURCES, PbsQueue
from distributor_pbs.scheduler import PbsScheduler
from distributor_pbs.worker import PbsWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "PbsClient",
    "PbsDistributor",
    "PbsQueue",
    "PbsScheduler",
    "PbsWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = PbsQueue
_distributor: ClusterDistributorFactory = PbsDistributor
_worker: ClusterWorkerNodeFactory = PbsWorkerNode

plugin = Plugin(
    name="pbs",
    queue=PbsQueue,
    distributor=PbsDistributor,
    worker_node=PbsWorkerNode,
    description="PBS Pro / OpenPBS and Torque: qsub arrays, one qstat per poll cycle",
)
"""The object the ``pbs`` entry point names."""
