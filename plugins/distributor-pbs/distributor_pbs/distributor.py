"""`PbsDistributor`: `distributor.batch.BatchDistributor` over a `PbsScheduler`.

Everything scheduler-independent (task directories, chunked arrays, tracking, adoption after a
restart, termination, lookup by name, limits enforced by the worker) is the batch layer's; the
PBS specifics are in `distributor_pbs.scheduler`, `distributor_pbs.client`,
`distributor_pbs.flavours`, `distributor_pbs.parsers` and `distributor_pbs.states`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from distributor.batch import (
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    BatchDistributor,
    PollPolicy,
    RetryPolicy,
    TransportOption,
    open_transport,
)
from distributor_pbs.client import PbsClient
from distributor_pbs.scheduler import PbsScheduler

__all__ = ["PbsDistributor"]


class PbsDistributor(BatchDistributor):
    """Submits to and tracks a PBS Pro / OpenPBS or Torque server.

    Args:
        cluster_name: a name for the cluster (messages, the default submit root).
        submit_root: directory for job scripts, logs and records; must be visible at the same
            path on the compute nodes.
        flavour: ``pro``, ``torque`` or ``auto`` (``qstat --version`` before the first command
            that depends on it).
        server: the PBS server (``PBS_DEFAULT``); default: the clients' configuration.
        environment: extra variables for every PBS command.
        transport / retry_policy: where and how PBS commands run (default: locally, 4 tries).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        max_array_size: at most this many subjobs per array chunk (default: the server's
            limit, else `distributor_pbs.scheduler.DEFAULT_MAX_ARRAY_SIZE`).
        retention: seconds a task directory is kept after its last change (default 7 days;
            None keeps all); expired ones are deleted by `start`, once a day.
        termination_retry: seconds before a terminated job still listed is deleted again with
            the forced qdel (None: never).
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).

    Raises:
        ResourceError: `flavour` is not one of the three.
        ValueError: `max_array_size`, `retention` or `termination_retry` out of range.
        SubmitRootError: the submit root's path is unusable.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        flavour: str = "auto",
        server: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        worker: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        self.client = PbsClient(
            flavour=flavour,
            server=server,
            environment=environment,
            transport=transport,
            retry_policy=retry_policy,
        )
        super().__init__(
            cluster_name,
            PbsScheduler(self.client),
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
            termination_retry=termination_retry,
            transport=transport,
        )
