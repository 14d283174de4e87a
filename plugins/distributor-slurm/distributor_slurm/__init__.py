"""The Slurm plugin for distributor (entry point ``slurm``).

* `SlurmQueue` — a partition with limits read from ``scontrol``/``sinfo``.
* `SlurmDistributor` — ``sbatch`` (arrays chunked by ``MaxArraySize``), one ``squeue`` per
  poll cycle, ``sacct`` for what the controller forgot, exact exit states.
* `SlurmWorkerNode` — ids from ``SLURM_*`` variables, usage from the worker's exit record.

Built on `distributor.batch`; the state map is in `distributor_slurm.states`.
"""

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    Plugin,
    SupportsRunningQuery,
)
from distributor_slurm.client import SlurmClient
from distributor_slurm.distributor import SlurmDistributor
from distributor_slurm.queue import DECLARED_RESOURCES, SlurmQueue
from distributor_slurm.worker import SlurmWorkerNode

__all__ = [
    "DECLARED_RESOURCES",
    "SlurmClient",
    "SlurmDistributor",
    "SlurmQueue",
    "SlurmWorkerNode",
    "plugin",
]

_queue: ClusterQueueFactory = SlurmQueue
_distributor: ClusterDistributorFactory = SlurmDistributor
_worker: ClusterWorkerNodeFactory = SlurmWorkerNode


def _supports_running(distributor: SlurmDistributor) -> SupportsRunningQuery:
    return distributor  # mypy checks that SlurmDistributor has get_running


plugin = Plugin(
    name="slurm",
    queue=SlurmQueue,
    distributor=SlurmDistributor,
    worker_node=SlurmWorkerNode,
    description="Slurm: sbatch arrays, one squeue per poll cycle, exact exit states",
)
"""The object the ``slurm`` entry point names."""
