"""The HTCondor plugin for distributor (entry point ``htcondor``).

* `HTCondorQueue` — limits from queue parameters (HTCondor has no queues to ask).
* `HTCondorDistributor` — `distributor.batch.BatchDistributor` over an `HTCondorScheduler`:
  submit descriptions with ``queue N`` (``$(Process)`` is the 0-based step), one ``condor_q
  -json`` per poll cycle, ``condor_history -json`` for jobs that left the queue, hold reasons
  and policy removals in the exit info, lookup by name with one ``condor_q -constraint``.
* `HTCondorWorkerNode` — ids from the job script's variables or ``_CONDOR_JOB_AD``.

The commands are `HTCondorClient`'s; the state map is in `distributor_htcondor.states`.
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
)
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.distributor import HTCondorDistributor
from distributor_htcondor.queue import DECLARED_RESOURCES, HTCondorQueue
from distributor_htcondor.scheduler import HTCondorScheduler
from distributor_htcondor.worker import HTCondorWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "HTCondorClient",
    "HTCondorDistributor",
    "HTCondorQueue",
    "HTCondorScheduler",
    "HTCondorWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = HTCondorQueue
_distributor: ClusterDistributorFactory = HTCondorDistributor
_worker: ClusterWorkerNodeFactory = HTCondorWorkerNode

plugin = Plugin(
    name="htcondor",
    queue=HTCondorQueue,
    distributor=HTCondorDistributor,
    worker_node=HTCondorWorkerNode,
    description="HTCondor: queue N submit descriptions, one condor_q per poll, hold reasons",
)
"""The object the ``htcondor`` entry point names."""
