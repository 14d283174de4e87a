"""The IBM Spectrum LSF plugin for distributor (entry point ``lsf``).

* `LsfQueue` — an LSF queue with limits read from ``bqueues -l``.
* `LsfDistributor` — `distributor.batch.BatchDistributor` over an `LsfScheduler`:
  ``bsub < job.sh`` with ``#BSUB`` directives (arrays as ``-J "name[1-n]"``), one
  ``bjobs -a -o ... -json`` per poll cycle, ``bhist -l`` for what mbatchd has cleaned,
  ``TERM_*`` exit reasons mapped to exit info, lookup by name with one ``bjobs -a``.
* `LsfWorkerNode` — ids from ``LSB_JOBID``/``LSB_JOBINDEX``.

The state map is in `distributor_lsf.states`. Verified against LSF's documented output formats
with fake commands, not a live cluster (see the README).
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
)
from distributor_lsf.client import LsfClient
from distributor_lsf.distributor import LsfDistributor
from distributor_lsf.queue import DECLARED_RESOURCES, LsfQueue
from distributor_lsf.scheduler import LsfScheduler
from distributor_lsf.worker import LsfWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "LsfClient",
    "LsfDistributor",
    "LsfQueue",
    "LsfScheduler",
    "LsfWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = LsfQueue
_distributor: ClusterDistributorFactory = LsfDistributor
_worker: ClusterWorkerNodeFactory = LsfWorkerNode

plugin = Plugin(
    name="lsf",
    queue=LsfQueue,
    distributor=LsfDistributor,
    worker_node=LsfWorkerNode,
    description="IBM Spectrum LSF: #BSUB arrays, one bjobs per poll cycle, TERM_* exit reasons",
)
"""The object the ``lsf`` entry point names."""
