"""`HTCondorScheduler`: HTCondor as a `distributor.batch.BatchScheduler`.

* **Submission.** The job script (`BatchJob.script`: identity, ``distributor-worker`` around the
  quoted command, its records and limits) and a submit description
  (`distributor_htcondor.submit`) are written into the task directory; ``condor_submit``
  prints the cluster id, which is the job key. A cluster with another number of jobs than
  asked for is removed again (`SubmissionError`).
* **Ids.** Job ``P`` of cluster ``C`` is ``C.P``; a single task is ``C.0``, the one job of its
  cluster.
* **Arrays** are ``queue N`` clusters (HTCondor's ``MAX_JOBS_PER_SUBMISSION`` defaults to
  20000); chunk ``(offset, length)`` adds its offset to ``$(Process)`` to give
  ``DISTRIBUTOR_ARRAY_STEP_ID``.
* **Limits** are enforced by the worker at the request itself, on the command's process tree:
  HTCondor 23.9.6 does not enforce ``allowed_execute_duration`` for jobs that transfer no
  files, and a pool without cgroups enforces no memory limit (its ``periodic_hold`` samples
  every few seconds, and missed a 5 s spike of 3 GiB). The description still asks for
  ``request_memory``, and for ``allowed_job_duration`` `duration_backstop` seconds past the
  runtime request (held with code 46 on every version), so the pool stops a job whose worker
  could not, and says why.
* **Status** is one ``condor_q`` per poll cycle and ``condor_history`` for jobs that left the
  queue; each job ad is kept until its job is classified (`distributor_htcondor.states`).
* **Held jobs.** A hold for a resource limit ends the attempt: the job is reported ``Z`` and,
  its status being `JobStatus.lingering`, removed by `BatchDistributor` once settled (unless
  ``remove_held=False``). A hold for another reason that will not clear by itself is a
  queueing error.
* **Lookup by name** is one ``condor_q -constraint ... -af:t ClusterId DistributorName Cmd``:
  ``Cmd``, the job script, lies in the submission's own task directory.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import (
    RemoteExitInfo,
    ResourceRequest,
    SchedulerError,
    SchedulerOutputError,
    SubmissionError,
    TaskInstanceStatus,
)
from distributor.batch import BatchJob, JobStatus, NamedJob, TrackedJob, safe_name
from distributor.worker import ExitRecord
from distributor_htcondor import parsers, states
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.parsers import JobAd
from distributor_htcondor.queue import DECLARED_RESOURCES, SUBMIT_COMMANDS
from distributor_htcondor.submit import (
    CLUSTER_VARIABLE,
    DURATION_BACKSTOP,
    PROC_VARIABLE,
    SubmitDescription,
)

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "HTCondorScheduler"]

DEFAULT_MAX_ARRAY_SIZE = 20000
"""Jobs per cluster: HTCondor's default ``MAX_JOBS_PER_SUBMISSION``."""

_ID_EXPR = f'"${{{CLUSTER_VARIABLE}}}.${{{PROC_VARIABLE}}}"'
_HELD = states.JOB_STATUS_NAMES[5]


class HTCondorScheduler:
    """An HTCondor pool as `BatchDistributor` drives it (see the module docstring).

    Args:
        client: runs and parses the HTCondor commands.
        memory_policy: add a ``periodic_hold`` that holds jobs exceeding ``request_memory``.
        remove_held: remove jobs held for a resource limit once they are reported ``Z``.
        getenv: give jobs the submitter's environment (``getenv = true``).
        duration_backstop: seconds past the runtime request at which the pool holds a job
            (``allowed_job_duration``; default `DURATION_BACKSTOP`).

    Raises:
        ValueError: `duration_backstop` is negative.
    """

    name = "htcondor"
    title = "HTCondor"
    declared_resources: Mapping[str, str] = DECLARED_RESOURCES

    def __init__(
        self,
        client: HTCondorClient,
        *,
        memory_policy: bool = True,
        remove_held: bool = True,
        getenv: bool = False,
        duration_backstop: float = DURATION_BACKSTOP,
    ) -> None:
        if not duration_backstop >= 0:
            raise ValueError(f"duration_backstop={duration_backstop!r}: must not be negative")
        self.client = client
        self._duration_backstop = duration_backstop
        self._memory_policy = memory_policy
        self._remove_held = remove_held
        self._getenv = getenv
        self._ads: dict[str, JobAd] = {}  # the last ad of each id, until it is classified
        self._lock = threading.Lock()

    def job_name(self, name: str) -> str:
        """`safe_name` of the task name: ``batch_name`` and ``+DistributorName``."""
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """Nothing beyond the declared keys' patterns and the description's own checks (made
        while rendering, before anything is submitted)."""

    def array_limit(self) -> int:
        """`DEFAULT_MAX_ARRAY_SIZE` (a pool's own ``MAX_JOBS_PER_SUBMISSION`` is not asked)."""
        return DEFAULT_MAX_ARRAY_SIZE

    def submit(self, job: BatchJob) -> str:
        """Write ``job.sh`` and ``job.sub`` and ``condor_submit`` them; return the cluster id.

        Raises:
            SchedulerError: condor_submit failed or answered unreadably.
            SubmissionError: it queued another number of jobs than asked for; the cluster
                was removed.
            SchedulerOutputError: that cluster could not be removed (it may still run).
            ResourceError: a path or value cannot be written into the description.
        """
        script = job.script(
            distributor_id_expr=_ID_EXPR,
            array_step_expr=job.step_expr(PROC_VARIABLE),
            generator="distributor-htcondor",
            runtime_backstop=0.0,
        )
        executable = job.write("job.sh", script)
        description = SubmitDescription(
            executable=executable,
            task_dir=job.task_dir,
            count=job.length,
            request=job.request,
            label=job.job_name,
            memory_policy=self._memory_policy,
            getenv=self._getenv,
            duration_backstop=self._duration_backstop,
            commands={
                SUBMIT_COMMANDS[key]: value
                for key, value in job.request.extra.items()
                if key in SUBMIT_COMMANDS
            },
        ).render()
        cluster, count = self.client.submit(job.write("job.sub", description))
        if count == job.length:
            return str(cluster)
        message = f"condor_submit queued {count} jobs in cluster {cluster}, not {job.length}"
        try:
            self.client.remove([str(cluster)])
        except SchedulerError as exc:
            raise SchedulerOutputError(
                f"{message}, and condor_rm of the cluster failed: {exc}",
                f"{count} job(s) submitted to cluster {cluster}.",
            ) from exc
        raise SubmissionError(f"{message} (the cluster was removed)", name=job.name)

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``C.0`` for a single task, ``C.0 .. C.(n-1)`` for an array chunk of ``n`` tasks."""
        length = 1 if array is None else array[1]
        return [f"{key}.{proc}" for proc in range(length)]

    def job_key(self, distributor_id: str) -> str | None:
        """The cluster of a ``cluster.proc`` id; None for any other text."""
        return parsers.job_key(distributor_id)

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path]:
        """``stdout-$(Process).log`` and ``stderr-$(Process).log`` (a single task is job 0)."""
        process = 0 if index is None else index
        return task_dir / f"stdout-{process}.log", task_dir / f"stderr-{process}.log"

    def _statuses(self, ads: Mapping[str, JobAd]) -> dict[str, JobStatus]:
        with self._lock:
            self._ads.update(ads)
        statuses = {}
        for distributor_id, ad in ads.items():
            status = states.job_status(ad)
            if status.lingering and not self._remove_held:
                status = dataclasses.replace(status, lingering=False)
            statuses[distributor_id] = status
        return statuses

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``condor_q`` (`HTCondorClient.queue_ads`) for every unsettled id.

        The tracker asks about all of its unsettled jobs each time, so ads of other ids
        belong to settled or forgotten jobs and are dropped here: memory stays flat.
        """
        with self._lock:
            wanted = set(distributor_ids)
            self._ads = {did: ad for did, ad in self._ads.items() if did in wanted}
        return self._statuses(self.client.queue_ads(distributor_ids))

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """``condor_history`` (`HTCondorClient.history_ads`) for jobs that left the queue."""
        return self._statuses(self.client.history_ads(distributor_ids))

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The HTCondor state map (`distributor_htcondor.states.classify`) on the job's ad."""
        with self._lock:
            ad = self._ads.pop(job.distributor_id, None)
        if ad is None:  # pragma: no cover - every status the tracker holds came from an ad
            return RemoteExitInfo(
                TaskInstanceStatus.UNKNOWN_ERROR,
                f"no job ad for {job.distributor_id} ({status.state}); retryable",
            )
        return states.classify(job, ad, record)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> dict[str, str]:
        """Held jobs that will not run unless someone releases them, with code and reason,
        from the ads of the last poll (one ``condor_q`` for held ids without one)."""
        held = [did for did, status in statuses.items() if status.state == _HELD]
        with self._lock:
            ads = {did: self._ads[did] for did in held if did in self._ads}
        missing = [did for did in held if did not in ads]
        if missing:
            ads.update(self.client.queue_ads(missing))
        errors = {}
        for distributor_id, ad in ads.items():
            reason = states.queueing_error(ad)
            if reason is not None:
                errors[distributor_id] = reason
        return errors

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``condor_rm`` for these clusters and ``cluster.proc`` ids (gone ones ignored)."""
        self.client.remove(list(targets))

    def force_cancel(self, targets: Sequence[str]) -> None:
        """``condor_rm`` again: its ``-forcex`` only drops jobs already in the removed (X)
        state from the queue without cleaning up on the execute machine, so it is not used."""
        self.client.remove(list(targets))

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """One ``condor_q -constraint ... -af:t ClusterId DistributorName Cmd``
        (`HTCondorClient.find_jobs`): queued, running and held clusters, oldest first, with
        their job script's path. Completed jobs have left HTCondor's queue;
        `BatchDistributor` finds them by the records their tasks wrote."""
        return self.client.find_jobs(job_names)
