"""`SlurmDistributor`: `distributor.batch.BatchDistributor` over a `SlurmScheduler`.

Everything scheduler-independent (task directories, chunked arrays, tracking, adoption after a
restart, termination, lookup by name, limits enforced by the worker) is the batch layer's; the
Slurm specifics are in `distributor_slurm.scheduler`, `distributor_slurm.client`,
`distributor_slurm.parsers` and `distributor_slurm.states`.
"""

from __future__ import annotations

import os

from distributor.batch import (
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    BatchDistributor,
    PollPolicy,
    RetryPolicy,
    TransportOption,
    open_transport,
)
from distributor_slurm.client import SlurmClient
from distributor_slurm.scheduler import SlurmScheduler

__all__ = ["SlurmDistributor"]


class SlurmDistributor(BatchDistributor):
    """Submits to and tracks a Slurm cluster.

    Args:
        cluster_name: a name for the cluster (messages, the default submit root).
        submit_root: directory for job scripts, logs and records; must be visible at the same
            path on the compute nodes.
        slurm_conf: ``SLURM_CONF`` for every Slurm command (default: the environment's).
        transport / retry_policy: where and how Slurm commands run (default: locally, 4 tries).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        requeue: let Slurm requeue jobs after a node failure (default: no).
        use_queue_history: read final states of recently ended jobs from squeue.
        max_array_size: at most this many tasks per array chunk (default ``MaxArraySize``).
        retention: seconds a task directory is kept after its last change (default 7 days;
            None keeps all); expired ones are deleted by `start`, once a day.
        termination_retry: seconds before a terminated job still listed is cancelled again.
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        slurm_conf: str | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        requeue: bool = False,
        use_queue_history: bool = True,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        worker: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        self.client = SlurmClient(
            slurm_conf=slurm_conf,
            transport=transport,
            retry_policy=retry_policy,
            use_queue_history=use_queue_history,
        )
        super().__init__(
            cluster_name,
            SlurmScheduler(self.client, requeue=requeue),
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
            termination_retry=termination_retry,
            transport=transport,
        )
