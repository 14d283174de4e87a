"""`HTCondorDistributor`: `distributor.batch.BatchDistributor` over an `HTCondorScheduler`.

Everything scheduler-independent (task directories, chunked arrays, tracking, adoption after a
restart, termination, lookup by name, limits enforced by the worker, removal of jobs held for
a limit) is the batch layer's; the HTCondor specifics are in `distributor_htcondor.scheduler`,
`distributor_htcondor.client`, `distributor_htcondor.parsers`, `distributor_htcondor.states`
and `distributor_htcondor.submit`.
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
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.scheduler import DEFAULT_MAX_ARRAY_SIZE, HTCondorScheduler
from distributor_htcondor.submit import DURATION_BACKSTOP

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "HTCondorDistributor"]


class HTCondorDistributor(BatchDistributor):
    """Submits to and tracks an HTCondor pool.

    Args:
        cluster_name: a name for the pool (messages, the default submit root).
        submit_root: directory for job scripts, submit descriptions, logs and records; it must
            be visible at the same path on the execute machines (shared filesystem).
        schedd / pool: ``-name`` and ``-pool`` for every command (default: the local schedd).
        condor_config: ``CONDOR_CONFIG`` for every command (default: the environment's).
        environment: further variables for every HTCondor command.
        transport / retry_policy: where and how commands run (default: locally, transient
            failures retried for at least 35 s, `HTCONDOR_RETRY_POLICY`: a schedd restart).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        max_array_size: jobs per cluster of an array (default `DEFAULT_MAX_ARRAY_SIZE`, HTCondor's
            ``MAX_JOBS_PER_SUBMISSION``).
        retention: seconds a task directory is kept after its last change (default 7 days;
            None keeps all); expired ones are deleted by `start`, once a day.
        memory_policy: add a ``periodic_hold`` that holds jobs exceeding ``request_memory``.
        remove_held: remove jobs held for a resource limit once they are reported ``Z``.
        getenv: give jobs the submitter's environment (``getenv = true``).
        duration_backstop: seconds past the runtime request at which the pool itself holds a
            job the worker could not stop (``allowed_job_duration``, hold code 46; default 60).
        termination_retry: seconds before a terminated job still listed is removed again.
        worker: path of ``distributor-worker`` on the execute machines (default: beside this
            Python).

    Raises:
        ValueError: `max_array_size` below 1, `retention` or `termination_retry` not
            positive, or `duration_backstop` negative.
        SubmitRootError: the submit root's path is unusable.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        schedd: str | None = None,
        pool: str | None = None,
        condor_config: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int = DEFAULT_MAX_ARRAY_SIZE,
        retention: float | None = DEFAULT_RETENTION,
        memory_policy: bool = True,
        remove_held: bool = True,
        getenv: bool = False,
        duration_backstop: float = DURATION_BACKSTOP,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        worker: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        self.client = HTCondorClient(
            schedd=schedd,
            pool=pool,
            condor_config=condor_config,
            environment=environment,
            transport=transport,
            retry_policy=retry_policy,
        )
        super().__init__(
            cluster_name,
            HTCondorScheduler(
                self.client,
                memory_policy=memory_policy,
                remove_held=remove_held,
                getenv=getenv,
                duration_backstop=duration_backstop,
            ),
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
            termination_retry=termination_retry,
            transport=transport,
        )
