"""`HTCondorDistributor`: submit descriptions with ``queue N``, one condor_q per poll cycle.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (identity, ``distributor-worker`` around the quoted command), its submit
  description (`distributor_htcondor.submit`), logs and exit records. ``condor_submit`` prints
  the cluster id; job ``P`` of cluster ``C`` has the distributor id ``C.P``.
* **Arrays** are ``queue N`` clusters of at most ``max_array_size`` jobs (HTCondor's
  ``MAX_JOBS_PER_SUBMISSION`` defaults to 20000); chunk ``k`` adds its offset to ``$(Process)``
  to give ``DISTRIBUTOR_ARRAY_STEP_ID``, so step ``s`` maps to ``<cluster of its chunk>.<s -
  offset>``. If a chunk is refused, the chunks already queued are removed first.
* **Tracking** is `distributor.batch.TrackedDistributor` with a `distributor.batch.StatusTracker`
  over `HTCondorClient`: one condor_q per
  cycle, condor_history for jobs that left the queue, the worker's record after the
  accounting delay, lost jobs ``U``. Jobs held for a resource limit are reported ``Z`` and then
  removed from the queue (``remove_held=False`` keeps them for inspection).
* **Termination** is one ``condor_rm`` naming whole clusters where possible, and is remembered.
* **Restarts.** Cluster ids are recorded in the submit root's index, so a new distributor on
  the same root answers for ids issued by an earlier one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from distributor import (
    RemoteExitInfo,
    ResourceRequest,
    SchedulerError,
    SubmissionError,
)
from distributor.batch import (
    DEFAULT_RETENTION,
    JobScript,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    TaskDirectory,
    TrackedDistributor,
    Transport,
    check_arguments,
)
from distributor_htcondor import parsers, states
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.queue import DECLARED_RESOURCES, SUBMIT_COMMANDS
from distributor_htcondor.submit import CLUSTER_VARIABLE, PROC_VARIABLE, SubmitDescription

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "HTCondorDistributor"]

log = structlog.get_logger(__name__)

DEFAULT_MAX_ARRAY_SIZE = 20000
"""Jobs per cluster: HTCondor's default ``MAX_JOBS_PER_SUBMISSION``."""

_ID_EXPR = f'"${{{CLUSTER_VARIABLE}}}.${{{PROC_VARIABLE}}}"'


class HTCondorDistributor(TrackedDistributor):
    """Submits to and tracks an HTCondor pool (see the module docstring).

    Args:
        cluster_name: a name for the pool (used in messages and the default submit root).
        submit_root: directory for job scripts, submit descriptions, logs and exit records;
            it must be visible at the same path on the execute machines (shared filesystem).
        schedd / pool: ``-name`` and ``-pool`` for every command (default: the local schedd).
        condor_config: ``CONDOR_CONFIG`` for every command (default: the environment's).
        environment: further variables for every HTCondor command.
        transport / retry_policy: how commands run (default: locally, `HTCONDOR_TRANSIENT`).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        max_array_size: jobs per cluster of an array (default `DEFAULT_MAX_ARRAY_SIZE`).
        retention: seconds a task directory is kept after its last change (default 7
            days; None keeps all); expired ones are deleted by `start`, once a day.
        memory_policy: add a ``periodic_hold`` that holds jobs exceeding ``request_memory``.
        remove_held: remove jobs held for a resource limit once they are reported ``Z``.
        getenv: give jobs the submitter's environment (``getenv = true``).
        worker: path of ``distributor-worker`` on the execute machines (default: beside this
            Python).
    """

    scheduler = "htcondor"
    declared_resources = DECLARED_RESOURCES
    log_submitted_name = True

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        schedd: str | None = None,
        pool: str | None = None,
        condor_config: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int = DEFAULT_MAX_ARRAY_SIZE,
        retention: float | None = DEFAULT_RETENTION,
        memory_policy: bool = True,
        remove_held: bool = True,
        getenv: bool = False,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments("HTCondorDistributor", args, kwargs, max_array_size)
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
            self.client,
            submit_root=submit_root,
            poll_policy=poll_policy,
            worker=worker,
            max_array_size=max_array_size,
            retention=retention,
        )
        self._log = log.bind(cluster=cluster_name)
        self._memory_policy = memory_policy
        self._remove_held = remove_held
        self._getenv = getenv

    # --- submission ---------------------------------------------------------------------

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[str, Path]:
        """Write and submit one cluster (array chunk = (offset, length)); return (id, dir)."""
        offset, length = array if array is not None else (0, 1)
        with self.submission(name, "HTCondor") as task_dir:
            script = JobScript(
                command=command,
                worker=self._worker,
                record=str(task_dir / ("exit.json" if array is None else "exit-{step}.json")),
                distributor_id_expr=_ID_EXPR,
                array_step_expr=None if array is None else f"$(({PROC_VARIABLE} + {offset}))",
                label=name,
                generator="distributor-htcondor",
            ).render()
            executable = self._root.write_script(task_dir, script)
            description = SubmitDescription(
                executable=executable,
                task_dir=task_dir,
                count=length,
                request=request,
                label=name,
                memory_policy=self._memory_policy,
                getenv=self._getenv,
                commands={
                    SUBMIT_COMMANDS[key]: value
                    for key, value in request.extra.items()
                    if key in SUBMIT_COMMANDS
                },
            ).render()
            path = self._root.write_script(task_dir, description, "job.sub")
            cluster, count = self.client.submit(path)
            if count != length:
                self.client.remove([str(cluster)])
                raise SubmissionError(
                    f"condor_submit queued {count} jobs in cluster {cluster}, not {length} "
                    "(the cluster was removed)",
                    name=name,
                )
        # a single task is job 0 of a one-job cluster: registered as such, flagged "single"
        self.register_job(
            str(cluster),
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            array=(offset, length),
            single=array is None,
        )
        return str(cluster), task_dir

    def array_task_id(self, job_key: str, index: int) -> str:
        """``<cluster>.<proc>``."""
        return f"{job_key}.{index}"

    def single_task_id(self, job_key: str) -> str:
        """A single task is job ``<cluster>.0``."""
        return f"{job_key}.0"

    # --- tracking (the rest is TrackedDistributor's) ------------------------------------

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """``"123.4"`` → ``("123", 4)``; None for text that is not ``cluster.proc``."""
        parts = parsers.split_id(distributor_id)
        return None if parts is None else (str(parts[0]), parts[1])

    def cancel(self, tokens: Sequence[str]) -> None:
        """One ``condor_rm`` for these clusters and ``cluster.proc`` ids (gone ones ignored)."""
        self.client.remove(tokens)

    def adopted_record(self, entry: TaskDirectory, task: int | None) -> Path:
        """``exit.json`` for a single task, ``exit-<offset + proc>.json`` for an array job."""
        if entry.meta.get("single"):
            return entry.path / "exit.json"
        return super().adopted_record(entry, task)

    def queueing_error(self, status: JobStatus) -> str | None:
        """A held job that will not run without help: code, label and ``HoldReason``."""
        ad = self.client.ads([status.distributor_id]).get(status.distributor_id)
        return None if ad is None else states.queueing_error(ad)

    def _reap_held(self) -> None:
        """Remove the jobs the last poll found held for a resource limit (one condor_rm)."""
        held = self.client.take_held()
        if not held or not self._remove_held:
            return
        try:
            self.client.remove(held)
        except SchedulerError as exc:
            self._log.warning("held_jobs_not_removed", ids=held, error=str(exc)[:300])
        else:
            self._log.info("held_jobs_removed", ids=held)

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids still queued or running; resource-held jobs the poll found are then removed."""
        try:
            return super().get_submitted_or_running(distributor_ids)
        finally:
            self._reap_held()

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """Ids running, suspended or transferring output; resource-held jobs are then removed."""
        try:
            return super().get_running(distributor_ids)
        finally:
            self._reap_held()

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """How the job ended (see `ClusterDistributor.get_remote_exit_info`).

        Raises:
            UnknownDistributorIdError: the id was never issued on this submit root.
            RemoteExitInfoNotAvailable: still queued or running, or history is pending.
        """
        try:
            return super().get_remote_exit_info(distributor_id)
        finally:
            self._reap_held()
