"""Running jobs through the service: `JobRunner`, CAF's backend on any plugin.

`JobRunner.submit` splits each job (`Job.split`), prepares every subjob's working directory
through its `Staging` (the sandbox, the input-data JSON `get_input_data` reads, the script that
runs the setup commands and then the command), and adds one service task per subjob:
``<job>_<id>``, tagged ``job:<job>``, owned by the job (jobs share submissions fairly), in the
subjob's working directory, asking for the job's ``backend_args``. Subjobs asking for the same
queue and resources are submitted together as one array by the service. CAF's
``global_job_limit`` is the service's global cap on jobs in the schedulers
(`ServiceConfig.max_active`).

`JobRunner.wait` runs the service's cycles and, after each, brings the subjobs' statuses up to
date (`distributor.jobs.status.subjob_status`) and collects the outputs of each subjob that
ended done: it is ``completed`` once they are in ``output_dir/<id>`` (``failed``, with the
reason in `SubJob.message`, if they cannot be collected).

After a crash, run the same code again: the service reattaches to everything in flight (no
subjob is lost or run twice), prepared working directories are kept, and the outputs of
subjobs that ended meanwhile are collected.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from distributor.jobs.errors import JobError
from distributor.jobs.model import EXIT_STATUSES, Job, JobStatus, SubJob
from distributor.jobs.staging import SharedFilesystem, Staging, SubjobPlan
from distributor.jobs.status import job_tag, subjob_status
from distributor.logs import get_logger
from distributor.service.config import Cluster, ServiceConfig
from distributor.service.events import EventSink
from distributor.service.model import TaskInfo, TaskSpec
from distributor.service.service import Service

__all__ = ["BASH", "JobRunner", "task_spec"]

log = get_logger(__name__)

BASH = "/bin/bash"
"""The shell that runs a subjob's script (CAF's scripts are bash too)."""
_PAUSE = 1.0
"""Longest time between two status updates in `JobRunner.wait`."""


def task_spec(plan: SubjobPlan, backend_args: dict[str, Any], max_attempts: int | None) -> TaskSpec:
    """The service task that runs the subjob of `plan`.

    Raises:
        JobError: ``backend_args["queue"]`` is not a string.
    """
    resources = {key: value for key, value in backend_args.items() if key != "queue"}
    queue = backend_args.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise JobError(plan.job, "backend_args['queue']", queue, "must be a queue name")
    return TaskSpec(
        name=plan.name,
        command=[BASH, str(plan.script_path)],
        queue=queue,
        resources=resources,
        max_attempts=max_attempts,
        tags=[job_tag(plan.job)],
        owner=plan.job,
        cwd=str(plan.working_dir),
    )


class JobRunner:
    """Runs `Job` objects through a `Service` on one journal.

    Args:
        journal: the service journal (created if missing; reattached after a crash).
        cluster: a configured cluster's or a plugin's name (`distributor.config`), or the
            service's `Cluster` object(s); the subjobs go to the first.
        global_job_limit: at most this many subjobs in the schedulers at once, over all
            clusters (CAF's ``global_job_limit``); None: the clusters' throttles alone.
        config: the service's settings (its ``max_active`` is replaced by `global_job_limit`
            when that is given).
        max_attempts: attempts per subjob (1: a failed subjob stays failed, as in CAF); None:
            the config's (3).
        staging: how files reach the subjobs and come back (default `SharedFilesystem`).
        on_event: receives every service event (`distributor.service.Event`).

    Raises:
        JobError: `global_job_limit` is not a whole number from 1.
        JournalLockedError: another controller holds the journal.
    """

    def __init__(
        self,
        journal: str | os.PathLike[str],
        cluster: str | Cluster | Sequence[Cluster],
        *,
        global_job_limit: int | None = None,
        config: ServiceConfig | None = None,
        max_attempts: int | None = None,
        staging: Staging | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        config = config or ServiceConfig()
        if global_job_limit is not None:
            if (
                isinstance(global_job_limit, bool)
                or not isinstance(global_job_limit, int)
                or (global_job_limit < 1)
            ):
                raise JobError("*", "global_job_limit", global_job_limit,
                               "must be a whole number from 1")  # fmt: skip
            config = replace(config, max_active=global_job_limit)
        if isinstance(cluster, str):
            from distributor.config import resolve_cluster

            cluster = resolve_cluster(cluster).service_cluster()
        self.staging: Staging = staging or SharedFilesystem()
        self.max_attempts = max_attempts
        self.service = Service(Path(journal), cluster, config=config, on_event=on_event)
        self.jobs: list[Job] = []
        self.outputs: dict[str, list[str]] = {}
        """Subjob name → its collected outputs, relative to its output directory."""
        self._plans: dict[str, tuple[SubJob, SubjobPlan]] = {}

    # -- submitting ------------------------------------------------------------------------------

    def submit(self, jobs: Job | Iterable[Job]) -> None:
        """Split the jobs, prepare their subjobs' working directories and add their tasks.

        Submitting the same jobs again (after a restart) changes nothing already done.

        Raises:
            JobError: a job without a command, two jobs of one name, a working directory
                holding another definition, a missing sandbox file, a bad queue.
            SplitterError: a job that its splitter cannot split.
            DuplicateTaskError: the journal holds one of the subjobs, defined otherwise.
        """
        batch = [jobs] if isinstance(jobs, Job) else list(jobs)
        known = {job.name for job in self.jobs}
        plans: list[tuple[Job, SubJob, SubjobPlan]] = []
        for job in batch:
            if job.name in known:
                raise JobError(job.name, "name", job.name, "is the name of another job here")
            known.add(job.name)
            job.split()
            plans.extend((job, sub, SubjobPlan.of(sub)) for sub in job.subjobs.values())
        specs = [task_spec(plan, job.backend_args, self.max_attempts) for job, _, plan in plans]
        for _, _, plan in plans:
            self.staging.stage_in(plan)
        self.service.add(specs)
        self.jobs.extend(batch)
        for _, subjob, plan in plans:
            self._plans[plan.name] = (subjob, plan)
        log.info("jobs_submitted", jobs=len(batch), subjobs=len(plans))

    # -- following -------------------------------------------------------------------------------

    def update_status(self) -> list[SubJob]:
        """Bring every subjob's status up to date from the journal, collecting the outputs of
        those that ended done.

        Returns:
            The subjobs that finished (completed or failed) in this update.
        """
        pending = [
            name for name, (sub, _) in self._plans.items() if sub.status not in EXIT_STATUSES
        ]
        if not pending:
            return []
        infos = {info.name: info for info in self.service.tasks(pending)}
        finished = []
        for name in pending:
            subjob, plan = self._plans[name]
            info = infos.get(name)
            status = subjob_status(info)
            if status is JobStatus.COMPLETED:
                status = self._collect(subjob, plan)
            elif status is JobStatus.FAILED:
                subjob.message = _why(info)
            subjob.status = status
            if status in EXIT_STATUSES:
                finished.append(subjob)
        return finished

    def _collect(self, subjob: SubJob, plan: SubjobPlan) -> JobStatus:
        try:
            self.outputs[plan.name] = self.staging.collect(plan)
        except (OSError, JobError) as exc:
            subjob.message = f"outputs not collected: {exc}"
            log.error("outputs_not_collected", job=plan.job, subjob=plan.subjob_id,
                      error=str(exc))  # fmt: skip
            return JobStatus.FAILED
        return JobStatus.COMPLETED

    def ready(self) -> bool:
        """True once every submitted job has finished (each subjob completed or failed)."""
        return all(job.ready() for job in self.jobs)

    def step(self) -> list[SubJob]:
        """One service cycle, then `update_status`; the subjobs that finished."""
        self.service.step()
        return self.update_status()

    def wait(self, timeout: float | None = None) -> bool:
        """Run cycles until every submitted job has finished, updating statuses and collecting
        outputs as subjobs end.

        Returns:
            True if they all finished, False if `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        names = list(self._plans)
        self.update_status()
        while not self.ready():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.service.wait(names, timeout=_PAUSE if left is None else min(_PAUSE, left))
            self.update_status()
        return True

    run = wait

    def subjob_info(self, subjob: SubJob) -> TaskInfo:
        """The service's record of `subjob`'s task (attempts, exit, log paths)."""
        return self.service.task(subjob.name)

    # -- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the service (running subjobs go on; a new runner reattaches to them)."""
        self.service.close()

    def __enter__(self) -> JobRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _why(info: TaskInfo | None) -> str:
    if info is None:
        return ""
    code = info.instance_status.value if info.instance_status else "?"
    return f"{info.status.value} ({code}): {info.message}".rstrip(": ")
