"""`LsfDistributor`: `distributor.batch.BatchDistributor` over an `LsfScheduler`.

Everything scheduler-independent (task directories, chunked arrays, tracking, adoption after a
restart, termination, lookup by name, limits enforced by the worker) is the batch layer's; the
LSF specifics are in `distributor_lsf.scheduler`, `distributor_lsf.client`,
`distributor_lsf.parsers` and `distributor_lsf.states`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from distributor.batch import (
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    BatchDistributor,
    BatchScheduler,
    PollPolicy,
    RetryPolicy,
    TransportOption,
    open_transport,
)
from distributor_lsf.client import LsfClient
from distributor_lsf.scheduler import LsfScheduler

__all__ = ["LsfDistributor"]


class LsfDistributor(BatchDistributor):
    """Submits to and tracks an LSF cluster.

    Ids are ``<job id>`` for a single task and ``<job id>[<index>]`` for an array element,
    with LSF's 1-based index.

    Args:
        cluster_name: a name for the cluster (messages, the default submit root).
        submit_root: directory for job scripts, logs and records; must be visible at the same
            path on the execution hosts.
        lsf_env: extra environment for every LSF command (``LSF_ENVDIR``, ``PATH``).
        transport / retry_policy: where and how LSF commands run (default: locally, 4 tries).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        max_array_size: at most this many elements per array job (default: the cluster's
            ``MAX_JOB_ARRAY_SIZE``, from ``bparams -a``).
        retention: seconds a task directory is kept after its last change (default 7 days;
            None keeps all); expired ones are deleted by `start`, once a day.
        termination_retry: seconds before a terminated job still listed is killed again with
            ``bkill -r`` (doubling; None: never).
        unit_for_limits: None (default) writes memory with an explicit unit; else the
            cluster's ``LSF_UNIT_FOR_LIMITS`` (see `distributor_lsf.scheduler.memory_limit`).
        worker: path of ``distributor-worker`` on the hosts (default: beside this Python).

    Raises:
        ValueError: `unit_for_limits` is not None, ``KB``, ``MB``, ``GB`` or ``TB``;
            `max_array_size` below 1; `retention` or `termination_retry` not positive.
        SubmitRootError: the submit root's path is unusable.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        lsf_env: Mapping[str, str] | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        unit_for_limits: str | None = None,
        worker: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        self.client = LsfClient(
            env=lsf_env,
            transport=transport,
            retry_policy=retry_policy,
            unit_for_limits=unit_for_limits or "KB",
        )
        scheduler: BatchScheduler = LsfScheduler(self.client, unit_for_limits=unit_for_limits)
        super().__init__(
            cluster_name,
            scheduler,
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
            termination_retry=termination_retry,
            transport=transport,
        )
