"""`ExampleDistributor`: `distributor.batch.BatchDistributor` over an `ExampleScheduler`."""

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
from distributor_example.client import ExampleClient
from distributor_example.scheduler import ExampleScheduler

__all__ = ["ExampleDistributor"]


class ExampleDistributor(BatchDistributor):
    """Submits to and tracks the Example scheduler.

    Args:
        cluster_name: a name for the cluster (messages, the default submit root).
        submit_root: directory for job scripts, logs and records, visible to the nodes.
        transport / retry_policy: where and how commands run (default: locally, 4 tries).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        max_array_size: at most this many tasks per array chunk (default 1000).
        retention: seconds a task directory is kept after its last change (None: forever).
        termination_retry: seconds before a terminated job still listed is cancelled again.
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int = 1000,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        worker: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        self.client = ExampleClient(transport=transport, retry_policy=retry_policy)
        super().__init__(
            cluster_name,
            ExampleScheduler(self.client, array_limit=max_array_size),
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
            termination_retry=termination_retry,
            transport=transport,
        )
