"""`SgeDistributor`: `distributor.batch.BatchDistributor` over an `SgeScheduler`.

Everything scheduler-independent (task directories, chunked arrays, tracking, adoption after a
restart, termination, lookup by name, limits enforced by the worker) is the batch layer's; the
Grid Engine specifics are in `distributor_sge.scheduler`, `distributor_sge.client`,
`distributor_sge.parsers`, `distributor_sge.accounting` and `distributor_sge.states`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from distributor.batch import (
    DEFAULT_RETENTION,
    DEFAULT_TERMINATION_RETRY,
    BatchDistributor,
    PollPolicy,
    RetryPolicy,
    SSHTransport,
    TransportOption,
    files_for,
    open_transport,
)
from distributor_sge.client import SgeClient
from distributor_sge.scheduler import DEFAULT_INHERITED, SgeScheduler

__all__ = ["SgeDistributor"]


class SgeDistributor(BatchDistributor):
    """Submits to and tracks a Grid Engine cell.

    Args:
        cluster_name: a name for the cluster (messages, the default submit root).
        submit_root: directory for job scripts, logs and records; must be visible at the same
            path on the execution hosts.
        sge_root / sge_cell: ``SGE_ROOT``/``SGE_CELL`` for every command (default: the
            environment's).
        transport / retry_policy: where and how Grid Engine commands run (default: locally,
            4 tries).
        poll_policy: poll intervals, rate cap, accounting delay and the lost-job grace.
        parallel_environment: the PE multi-core requests use (``-pe PE N``).
        memory_resource: the complex a memory request is given as, per slot (``h_vmem``).
        runtime_resource: the complex a runtime request is given as (``h_rt``).
        working_directory: where jobs run; None: the directory qsub is run from (``-cwd``).
        environment: extra variables for every job.
        inherit_environment: names copied from this process's environment into every job
            script (default `DEFAULT_INHERITED`), or True for all of it (``qsub -V``).
        rerunnable: let Grid Engine rerun a job after a host failure (``-r y``; default no).
        max_array_size: at most this many tasks per array chunk (default ``max_aj_tasks``).
        retention: seconds a task directory is kept after its last change (default 7 days;
            None keeps all); expired ones are deleted by `start`, once a day.
        termination_retry: seconds before a terminated job still listed is deleted again with
            ``qdel -f`` (doubling; None: never).
        worker: path of ``distributor-worker`` on the hosts (default: beside this Python).
        user: whose jobs qstat and qacct list (default: the effective user).

    Raises:
        ResourceError: an option that would be written into job scripts is unsafe.
        SubmitRootError: the submit root's path is unusable.
        ValueError: `max_array_size`, `retention` or `termination_retry` out of range.
    """

    def __init__(
        self,
        cluster_name: str,
        *,
        submit_root: str | os.PathLike[str] | None = None,
        sge_root: str | None = None,
        sge_cell: str | None = None,
        transport: TransportOption = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        parallel_environment: str = "smp",
        memory_resource: str = "h_vmem",
        runtime_resource: str = "h_rt",
        working_directory: str | os.PathLike[str] | None = None,
        environment: Mapping[str, str] | None = None,
        inherit_environment: Sequence[str] | bool = DEFAULT_INHERITED,
        rerunnable: bool = False,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        termination_retry: float | None = DEFAULT_TERMINATION_RETRY,
        worker: str | None = None,
        user: str | None = None,
    ) -> None:
        transport = open_transport(transport)
        if user is None and isinstance(transport, SSHTransport):
            user = transport.login_name()  # qstat and qacct list that user's jobs
        self.client = SgeClient(
            sge_root=sge_root,
            sge_cell=sge_cell,
            transport=transport,
            retry_policy=retry_policy,
            user=user,
        )
        files = files_for(transport)
        if files.remote and inherit_environment is DEFAULT_INHERITED:
            inherit_environment = ()  # this machine's PATH means nothing on the cluster
        scheduler = SgeScheduler(
            self.client,
            files=files,
            parallel_environment=parallel_environment,
            memory_resource=memory_resource,
            runtime_resource=runtime_resource,
            working_directory=working_directory,
            environment=environment,
            inherit_environment=inherit_environment,
            rerunnable=rerunnable,
        )
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
