"""`SgeDistributor`: submit with qsub, track with one qstat per poll cycle, exit info from qacct.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (``#$`` directives, identity, ``distributor-worker`` around the quoted
  command), its ``<name>.o<job>[.<task>]``/``.e`` logs and exit records. ``qsub -terse``
  returns the job number. Names are made safe for Grid Engine (which rejects whitespace with a
  misleading "Error reading answer list from qmaster", and names that start with a digit).
* **Arrays** are ``-t 1-n`` chunks of at most ``max_aj_tasks`` tasks (``-tc`` caps how many
  run at once). Grid Engine's tasks are 1-based: task ``t`` of the chunk starting at step
  ``offset`` is step ``offset + t - 1``, which the job script exports as
  ``DISTRIBUTOR_ARRAY_STEP_ID``; its id is ``<job>.<t>``. If a chunk is refused, the chunks
  already submitted are deleted before `SubmissionError` is raised.
* **Environment.** Jobs get the exec daemon's environment, not the submitter's. The job script
  therefore exports the submitter's values of `DEFAULT_INHERITED` (``PATH``, ...) and any
  ``environment`` given, shell-quoted; ``inherit_environment=True`` passes everything (``-V``).
* **Tracking** is a `distributor.batch.StatusTracker` over `SgeClient`: one qstat per cycle,
  one qacct for the jobs that left qstat, the worker's record after the accounting delay, lost
  jobs ``U``. Terminations are remembered (a task deleted while pending never gets an
  accounting record).
* **Queueing errors.** A job in an error state (``Eqw``: e.g. a missing working directory or an
  unwritable output file) stays queued forever; `get_queueing_errors` reports it with Grid
  Engine's error reason (``qstat -j``).
* **Restarts.** Ids are recorded in the submit root's index, so a new distributor on the same
  root answers for ids issued by an earlier one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from distributor import (
    ResourceRequest,
    SchedulerError,
)
from distributor.batch import (
    DEFAULT_RETENTION,
    JobScript,
    PollPolicy,
    RetryPolicy,
    TaskDirectory,
    TrackedDistributor,
    Transport,
    check_arguments,
    check_directive_value,
    check_env_name,
    safe_name,
)
from distributor_sge import parsers, states
from distributor_sge.client import JobInfo, SgeClient
from distributor_sge.queue import DECLARED_RESOURCES

__all__ = ["DEFAULT_INHERITED", "SgeDistributor", "sge_job_name"]

DEFAULT_INHERITED: tuple[str, ...] = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "LD_LIBRARY_PATH",
)
"""Variables copied from the submitting process into every job script by default."""

_SINGLE_ID = '"$JOB_ID"'
_ARRAY_ID = '"$JOB_ID.$SGE_TASK_ID"'
_MIB = 2**20
_MAX_AJ_TASKS = 75000  # Grid Engine's default max_aj_tasks


def sge_job_name(name: str) -> str:
    """`name` as a Grid Engine job name: `safe_name`, and never starting with a digit."""
    cleaned = safe_name(name)
    return f"_{cleaned}"[:64] if cleaned[0].isdigit() else cleaned


class SgeDistributor(TrackedDistributor):
    """Submits to and tracks a Grid Engine cell (see the module docstring).

    Args:
        cluster_name: a name for the cluster (messages, default submit root).
        submit_root: directory for job scripts, logs and exit records; must be visible at the
            same path on the execution hosts.
        sge_root / sge_cell: ``SGE_ROOT``/``SGE_CELL`` for every command (default: the
            environment's).
        transport / retry_policy: how Grid Engine commands run (default: locally).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        parallel_environment: the PE multi-core requests use (``-pe PE N``).
        memory_resource: the complex a memory request is given as, per slot (``h_vmem``;
            some sites use ``mem_free`` or ``m_mem_free``).
        runtime_resource: the complex a runtime request is given as (``h_rt``).
        working_directory: where jobs run; None: the directory qsub is run from (``-cwd``).
        environment: extra variables for every job.
        inherit_environment: names copied from this process's environment into every job
            script (default `DEFAULT_INHERITED`), or True for all of it (``qsub -V``).
        rerunnable: let Grid Engine rerun a job after a host failure (``-r y``; default no).
        max_array_size: at most this many tasks per array chunk (default: ``max_aj_tasks``).
        retention: seconds a task directory is kept after its last change (default 7
            days; None keeps all); expired ones are deleted by `start`, once a day.
        worker: path of ``distributor-worker`` on the hosts (default: beside this Python).
        user: whose jobs qstat and qacct list (default: the effective user).

    Raises:
        ResourceError: an option that would be written into job scripts is unsafe (a PE,
            resource or working-directory value that cannot be a directive, an environment
            variable name that is not one).
    """

    scheduler = "sge"
    first_array_index = 1
    declared_resources = DECLARED_RESOURCES

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        sge_root: str | None = None,
        sge_cell: str | None = None,
        transport: Transport | None = None,
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
        worker: str | None = None,
        user: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments("SgeDistributor", args, kwargs, max_array_size)
        for key, value in (
            ("parallel_environment", parallel_environment),
            ("memory_resource", memory_resource),
            ("runtime_resource", runtime_resource),
        ):
            check_directive_value(key, value)
        self.client = SgeClient(
            sge_root=sge_root,
            sge_cell=sge_cell,
            transport=transport,
            retry_policy=retry_policy,
            user=user,
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
        self._pe = parallel_environment
        self._memory_resource = memory_resource
        self._runtime_resource = runtime_resource
        self._workdir = (
            check_directive_value("working_directory", os.fspath(working_directory))
            if working_directory is not None
            else None
        )
        self._environment = {check_env_name(k): v for k, v in (environment or {}).items()}
        self._inherit: tuple[str, ...] | bool
        if isinstance(inherit_environment, bool):
            self._inherit = inherit_environment
        elif isinstance(inherit_environment, str):  # one name, not its characters
            self._inherit = (check_env_name(inherit_environment),)
        else:
            self._inherit = tuple(map(check_env_name, inherit_environment))
        self._rerunnable = rerunnable

    def scheduler_array_limit(self) -> int:
        """``max_aj_tasks`` from the global configuration."""
        value = self.client.global_config().get("max_aj_tasks", "")
        # 0 means unlimited; keep chunks (and qstat task lists) of a sane size anyway
        return int(value) if value.isdigit() and value != "0" else _MAX_AJ_TASKS

    # --- submission ---------------------------------------------------------------------

    def _directives(
        self, request: ResourceRequest, name: str, task_dir: Path, length: int | None
    ) -> list[tuple[str, str | tuple[str, ...] | None]]:
        directives: list[tuple[str, str | tuple[str, ...] | None]] = [
            ("-N", name),
            ("-S", "/bin/sh"),
            ("-o", str(task_dir)),
            ("-e", str(task_dir)),
            ("-r", "y" if self._rerunnable else "n"),
        ]
        directives.append(("-wd", self._workdir) if self._workdir else ("-cwd", None))
        if self._inherit is True:
            directives.append(("-V", None))
        if length is not None:
            directives.append(("-t", f"1-{length}"))
            if "sge.array_cap" in request.extra:
                directives.append(("-tc", request.extra["sge.array_cap"]))
        if request.queue is not None:
            directives.append(("-q", request.queue))
        cores = request.cores or 1
        if cores > 1:
            directives.append(("-pe", (self._pe, str(cores))))
        if request.runtime_seconds is not None:
            directives.append(("-l", f"{self._runtime_resource}={request.runtime_seconds}"))
        if request.memory_bytes is not None:
            per_slot = -(-request.memory_bytes // (cores * _MIB))
            directives.append(("-l", f"{self._memory_resource}={per_slot}M"))
        if "sge.project" in request.extra:
            directives.append(("-P", request.extra["sge.project"]))
        return directives

    def _job_environment(self) -> dict[str, str]:
        inherited: dict[str, str] = {}
        if not isinstance(self._inherit, bool):
            inherited = {key: os.environ[key] for key in self._inherit if key in os.environ}
        return {**inherited, **self._environment}

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
    ) -> tuple[str, Path]:
        """Write and submit one job (array chunk = (offset, length)); return (job, dir)."""
        job_name = sge_job_name(name)
        submitted_at = time.time()
        if array is None:
            record, id_expr, step_expr = "exit.json", _SINGLE_ID, None
        else:
            record, id_expr = "exit-{step}.json", _ARRAY_ID
            step_expr = f"$((SGE_TASK_ID - 1 + {array[0]}))"
        with self.submission(name, "Grid Engine", label=job_name) as task_dir:
            script = JobScript(
                command=command,
                worker=self._worker,
                record=str(task_dir / record),
                distributor_id_expr=id_expr,
                array_step_expr=step_expr,
                directive_prefix="#$",
                directives=self._directives(
                    request, job_name, task_dir, None if array is None else array[1]
                ),
                directive_separator=" ",
                environment=self._job_environment(),
                label=job_name,
                generator="distributor-sge",
            ).render()
            job = self.client.submit(self._root.write_script(task_dir, script))
        self.register_job(
            job,
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            array=array,
            name=job_name,
            submitted_at=submitted_at,
        )
        self.client.remember(job, JobInfo(job_name, submitted_at))
        return job, task_dir

    def array_task_id(self, job_key: str, index: int) -> str:
        """``<job>.<task>`` (task 1-based)."""
        return f"{job_key}.{index}"

    def parse_resources(self, requested_resources: Mapping[str, Any]) -> ResourceRequest:
        """Parse a request; a queue name must also be writable into a directive."""
        request = super().parse_resources(requested_resources)
        if request.queue is not None:
            check_directive_value("queue", request.queue)
        return request

    # --- tracking (the rest is TrackedDistributor's) ------------------------------------

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """``"123.4"`` → ``("123", 4)``, ``"123"`` → ``("123", None)``; None for other text."""
        return parsers.split_id(distributor_id)

    def cancel(self, tokens: Sequence[str]) -> None:
        """One ``qdel`` for these job numbers and ``job.task`` ids (unknown ones ignored)."""
        self.client.delete(tokens)

    def force_cancel(self, tokens: Sequence[str]) -> None:
        """``qdel -f``: for jobs an earlier ``qdel`` left listed (``dr``) because their
        execution daemon never carried out the kill."""
        self.client.delete(tokens, force=True)

    def on_adopt(self, job_key: str, entry: TaskDirectory) -> None:
        """Remember an adopted job's name (its log files) and submission time (accounting)."""
        if self.client.job_info(job_key) is None:
            meta = entry.meta
            info = JobInfo(str(meta.get("name", "")), float(meta.get("submitted_at", 0.0)))
            self.client.remember(job_key, info)

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Queued jobs in a Grid Engine error state (``Eqw``), with the error reason that one
        ``qstat -j`` gives for all of them."""
        active = self.tracker.active([did for did in distributor_ids if self._known(did)])
        stuck = {
            did: status.state
            for did, status in self.tracker.statuses(active).items()
            if states.is_error_state(status.state)
        }
        if not stuck:
            return {}
        jobs = sorted({key for key in map(parsers.job_key, stuck) if key})
        try:
            reasons = self.client.error_reasons(jobs)
        except SchedulerError as exc:
            self._log.warning("error_reasons_unavailable", error=str(exc)[:300])
            reasons = {}
        errors = {}
        for distributor_id, state in stuck.items():
            job, task = parsers.split_id(distributor_id) or (distributor_id, None)
            by_task = reasons.get(job, {})
            reason = by_task.get(task or 1) or next(iter(by_task.values()), "")
            because = f": {reason}" if reason else ""
            errors[distributor_id] = (
                f"in Grid Engine error state {state}{because}; it will not start until the "
                "cause is fixed and the error cleared (qmod -cj), or it is deleted"
            )
        return errors
