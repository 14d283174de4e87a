"""`Executor`: Snakemake's remote executor, submitting every job through a distributor plugin.

Each job is the command Snakemake builds for remote execution (``python -m snakemake
--target-jobs … --mode remote``), run from the workflow's directory. Jobs of one rule with equal
requests that are ready together go as one array (a ``case`` on ``DISTRIBUTOR_ARRAY_STEP_ID``
picks each step's command). Status is one `JobTracker.poll` per cycle; a job that did not end
``D`` fails with the distributor's message and the end of its log; Ctrl-C (Snakemake's
``cancel``) terminates every job this executor submitted that has not ended.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from distributor import (
    ClusterQueue,
    DistributorError,
    ResourceError,
    TaskInstanceStatus,
)
from distributor.config import ClusterConfig, resolve_cluster
from snakemake_executor_plugin_distributor.arrays import Ready, batches
from snakemake_executor_plugin_distributor.requests import RequestPolicy, job_request
from snakemake_executor_plugin_distributor.settings import ExecutorSettings
from snakemake_executor_plugin_distributor.tracking import JobTracker

__all__ = ["Executor"]

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")
_FIRST_INTERVAL = 0.25  # seconds to the next status check after news


class Executor(RemoteExecutor):
    """Runs each Snakemake job as a task on the cluster named by ``--distributor-cluster``."""

    def __post_init__(self) -> None:
        # Snakemake's workflow has it; the interface does not declare it
        settings = getattr(self.workflow, "executor_settings", None)
        if not isinstance(settings, ExecutorSettings) or not settings.cluster:
            raise WorkflowError("--distributor-cluster NAME is required (see distributor clusters)")
        self._settings = settings
        try:
            self._cluster: ClusterConfig = resolve_cluster(settings.cluster)
            plugin, _ = self._cluster.load()
            distributor = self._cluster.distributor()
            self._policy = RequestPolicy(
                plugin=plugin.name,
                memory_overhead_mib=settings.memory_overhead_mib,
                defaults={k: v for k, v in self._cluster.defaults.items() if k != "queue"},
            )
            distributor.start()
        except DistributorError as exc:
            raise WorkflowError(f"--distributor-cluster {settings.cluster}: {exc}") from exc
        self._queue_factory = plugin.queue
        # Queues read their limits from the scheduler the distributor uses: its scalar options
        # (slurm_conf, sge_root, sge_cell, memory_resource, ...) go to them too (queues ignore
        # parameters they do not know).
        self._queue_parameters = {
            key: value
            for key, value in self._cluster.options.items()
            if isinstance(value, str | int | float | bool)
        }
        self._default_queue = self._cluster.defaults.get("queue") or (
            "local" if plugin.name == "local" else None
        )
        self._queues: dict[str, ClusterQueue] = {}
        self._tracker = JobTracker(distributor, lost_grace=settings.lost_grace)
        self._workdir = os.getcwd()
        self._unfinished: dict[str, SubmittedJobInfo] = {}
        self._outage_reported = False
        self._interval = _FIRST_INTERVAL

    # --- submission ---------------------------------------------------------------------

    def run_jobs(self, jobs: list[JobExecutorInterface]) -> None:
        """Submit ready jobs: those of one rule with equal requests as one array
        (`snakemake_executor_plugin_distributor.arrays`)."""
        ready = []
        for job in jobs:
            request = self._request(job)
            key = None if job.is_group() else (*_rule_names(job), repr(sorted(request.items())))
            ready.append(Ready((job, request), self._command(job), key))
        for batch in batches(ready, max_count=self._settings.max_array_size):
            for entry in batch:
                self.run_job_pre(entry.item[0])
            if len(batch) == 1:
                (job, request), command = batch[0].item, batch[0].command
                self._submit(job, request, command)
            else:
                self._submit_array([entry.item[0] for entry in batch], batch[0].item[1],
                                   [entry.command for entry in batch])  # fmt: skip

    def run_job(self, job: JobExecutorInterface) -> None:
        """Submit one job (Snakemake calls `run_jobs`; this is the single-job path)."""
        self._submit(job, self._request(job), self._command(job))

    def _submit(self, job: JobExecutorInterface, request: Mapping[str, Any], command: str) -> None:
        name = self._task_name(job)
        try:
            did = self._tracker.submit(command, name, request)
        except DistributorError as exc:
            raise self._refusal(job, exc) from exc
        self._submitted(job, did)
        self.logger.info(
            f"distributor: job {job.jobid} submitted to cluster {self._cluster.name!r} as {did}"
        )

    def _submit_array(
        self, jobs: list[JobExecutorInterface], request: Mapping[str, Any], commands: list[str]
    ) -> None:
        cases = "".join(f"{step}) {command} ;;\n" for step, command in enumerate(commands))
        command = (
            f'case "${{DISTRIBUTOR_ARRAY_STEP_ID:-}}" in\n{cases}'
            '*) echo "unknown array step: ${DISTRIBUTOR_ARRAY_STEP_ID:-unset}" >&2; exit 2 ;;\n'
            "esac"
        )
        name = f"{self._task_name(jobs[0])}_x{len(jobs)}"
        try:
            steps = self._tracker.submit_array(command, name, request, len(jobs))
        except DistributorError as exc:
            raise self._refusal(jobs[0], exc) from exc
        for step, job in enumerate(jobs):
            self._submitted(job, steps[step])
        self.logger.info(
            f"distributor: jobs {', '.join(str(job.jobid) for job in jobs)} of rule "
            f"{', '.join(_rule_names(jobs[0]))} submitted to cluster {self._cluster.name!r} as "
            f"one array: {', '.join(steps[step] for step in range(len(jobs)))}"
        )

    def _submitted(self, job: JobExecutorInterface, did: str) -> None:
        info = SubmittedJobInfo(job=job, external_jobid=did)
        self._unfinished[did] = info
        self.report_job_submission(info)
        self._pace(changed=True)

    def _pace(self, *, changed: bool) -> None:
        """Check again soon after news (a submission, a job that ended), then less and less
        often, up to Snakemake's ``--seconds-between-status-checks``. Distributors cache and
        rate-limit their scheduler queries themselves, so asking soon costs nothing more."""
        ceiling = self.workflow.remote_execution_settings.seconds_between_status_checks
        self._interval = _FIRST_INTERVAL if changed else self._interval * 1.5
        self.next_seconds_between_status_checks = min(self._interval, ceiling)

    def _command(self, job: JobExecutorInterface) -> str:
        return f"cd {shlex.quote(self._workdir)} && {self.format_job_exec(job)}"

    def _task_name(self, job: JobExecutorInterface) -> str:
        rules = "_".join(_rule_names(job))
        return _NAME_UNSAFE.sub("_", f"smk_{rules}_{job.jobid}")[:64]

    def _request(self, job: JobExecutorInterface) -> dict[str, Any]:
        """The job's request, checked and completed by its queue.

        Raises:
            WorkflowError: the request is refused (multi-node, over a limit, unknown key).
        """
        try:
            request = job_request(dict(job.resources), job.threads, self._policy)
            queue = self._queue(request.get("queue") or self._default_queue)
            if queue is None:
                return request
            valid, message = queue.validate_resources(strict=True, **request)
            if not valid:
                raise ResourceError("request", request, message)
            return queue.coerce_resources(**request)
        except DistributorError as exc:
            raise self._refusal(job, exc) from exc

    def _queue(self, name: str | None) -> ClusterQueue | None:
        if name is None:
            return None
        if name not in self._queues:
            self._queues[name] = self._queue_factory(
                len(self._queues) + 1, name, self._queue_parameters
            )
        return self._queues[name]

    def _refusal(self, job: JobExecutorInterface, exc: DistributorError) -> WorkflowError:
        rules = ", ".join(_rule_names(job))
        return WorkflowError(
            f"rule {rules} (job {job.jobid}) cannot go to cluster {self._cluster.name!r}: {exc}"
        )

    # --- status -------------------------------------------------------------------------

    async def check_active_jobs(  # type: ignore[override]  # the interface annotates an async generator as a coroutine returning a generator
        self, active_jobs: list[SubmittedJobInfo]
    ) -> AsyncGenerator[SubmittedJobInfo, None]:
        """One poll for every active job: report those that ended, yield the others."""
        if not active_jobs:
            return
        ids = [str(info.external_jobid) for info in active_jobs]
        async with self.status_rate_limiter:
            poll = self._tracker.poll(ids)
        if poll.outage is not None:
            if not self._outage_reported:
                self.logger.info(
                    f"distributor: cluster {self._cluster.name!r} does not answer "
                    f"({poll.outage}); still tracking {len(ids)} job(s)"
                )
                self._outage_reported = True
        else:
            self._outage_reported = False
        self._pace(changed=bool(poll.ended))
        for info in active_jobs:
            did = str(info.external_jobid)
            outcome = poll.ended.get(did)
            if outcome is None:
                yield info
                continue
            self._unfinished.pop(did, None)
            if outcome.error_state is TaskInstanceStatus.DONE:
                self.report_job_success(info)
            else:
                self.report_job_error(
                    info,
                    msg=self._tracker.failure_message(did, outcome),
                    aux_logs=[str(path) for path in self._tracker.logs(did)],
                )

    # --- cancelling and ending ----------------------------------------------------------

    def cancel_jobs(self, active_jobs: Sequence[SubmittedJobInfo]) -> None:
        """Terminate every job this executor submitted that has not ended (Ctrl-C)."""
        ids = {str(info.external_jobid) for info in active_jobs} | set(self._unfinished)
        problem = self._tracker.terminate(sorted(ids))
        if problem is not None:
            self.logger.error(
                f"distributor: could not terminate {len(ids)} job(s) on cluster "
                f"{self._cluster.name!r}: {problem}"
            )
        elif ids:
            self.logger.info(f"distributor: terminated {len(ids)} job(s) still queued or running")
        self._unfinished.clear()

    def shutdown(self) -> None:
        """Stop status checks, then the distributor."""
        super().shutdown()  # type: ignore[no-untyped-call]  # the interface leaves it unannotated
        self._tracker.stop()


def _rule_names(job: JobExecutorInterface) -> list[str]:
    """The job's rule names, sorted (Snakemake's ``rules`` property holds names, although the
    interface declares a method returning rules)."""
    names: Any = job.rules
    return sorted({str(name) for name in names})
