"""`SgeScheduler`: Grid Engine as a `distributor.batch.BatchScheduler`.

* **Submission.** ``qsub -terse`` of a job script with ``#$`` directives: ``-N`` the job name
  (`sge_job_name`: Grid Engine rejects whitespace with a misleading "Error reading answer list
  from qmaster", and names that start with a digit), ``-S /bin/sh``, logs
  ``<name>.o<job>[.<task>]``/``.e…`` in the task directory, ``-r n`` unless ``rerunnable``,
  ``-cwd`` unless a ``working_directory`` is given (``-wd``). Requests: ``memory`` is
  ``-l h_vmem=<memory / cores>M`` per slot, ``runtime`` ``-l h_rt=<s>``, ``cores > 1``
  ``-pe smp N``, ``queue`` ``-q``; ``sge.project`` ``-P``, ``sge.array_cap`` ``-tc``.
* **Arrays** are ``-t 1-n`` chunks of at most ``max_aj_tasks`` tasks. Grid Engine's tasks are
  1-based: task ``t`` of the chunk starting at step ``offset`` is step ``offset + t - 1``,
  which the job script exports as ``DISTRIBUTOR_ARRAY_STEP_ID``; its id is ``<job>.<t>``.
* **Environment.** Jobs get the execution daemon's environment, not the submitter's. The job
  script therefore exports the submitter's values of `DEFAULT_INHERITED` (``PATH``, ...) and
  any ``environment`` given, shell-quoted; ``inherit_environment=True`` passes all (``-V``).
* **Status** is `SgeClient`: one qstat per poll cycle, one qacct for the jobs that left it.
  The state map (`distributor_sge.states`) reads the tail of a failed job's stderr file, named
  after the ``-N`` of the task directory's job script, so a new process needs nothing
  remembered (`stderr_path`).
* **Queueing errors.** A job in an error state (``Eqw``: a missing working directory, an
  unwritable output file) stays queued forever; it is reported with the error reason that one
  ``qstat -j`` gives for all of them.
* **Lookup** is one ``qstat -xml -u USER`` filtered by job name; jobs that already ended are
  found by the batch layer in the records they wrote.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest, SchedulerError
from distributor.batch import (
    BatchJob,
    JobStatus,
    NamedJob,
    TrackedJob,
    check_directive_value,
    check_env_name,
    safe_name,
)
from distributor.batch.files import Files, LocalFiles
from distributor.logs import get_logger
from distributor.worker import ExitRecord
from distributor_sge import parsers, states
from distributor_sge.client import MAX_ERROR_REASON_JOBS, SgeClient
from distributor_sge.queue import DECLARED_RESOURCES

__all__ = ["DEFAULT_INHERITED", "RUNTIME_BACKSTOP", "SgeScheduler", "sge_job_name", "stderr_path"]

log = get_logger(__name__)

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

RUNTIME_BACKSTOP = 60.0
"""Seconds past ``h_rt`` before the worker enforces the runtime itself: the execution daemon
kills a job at ``h_rt`` within a few seconds (and the qmaster does, as ``failed 37``, when the
daemon does not), so Grid Engine's own verdict comes first whenever it enforces the limit."""

_SINGLE_ID = '"$JOB_ID"'
_ARRAY_ID = '"$JOB_ID.$SGE_TASK_ID"'
_MIB = 2**20
_MAX_AJ_TASKS = 75000  # Grid Engine's default max_aj_tasks
_STDERR_TAIL = 4096
_SCRIPT_HEAD = 8192  # bytes of a job script that hold its directives
_NAME_DIRECTIVE = "#$ -N "


def sge_job_name(name: str) -> str:
    """`name` as a Grid Engine job name: `safe_name`, and never starting with a digit."""
    cleaned = safe_name(name)
    return f"_{cleaned}"[:64] if cleaned[0].isdigit() else cleaned


class SgeScheduler:
    """A Grid Engine cell as `distributor.batch.BatchDistributor` drives it (see the module
    docstring).

    Args:
        client: runs and parses the Grid Engine commands.
        parallel_environment: the PE multi-core requests use (``-pe PE N``).
        memory_resource: the complex a memory request is given as, per slot (``h_vmem``;
            some sites use ``mem_free`` or ``m_mem_free``).
        runtime_resource: the complex a runtime request is given as (``h_rt``).
        working_directory: where jobs run; None: the directory qsub is run from (``-cwd``).
        environment: extra variables for every job.
        inherit_environment: names copied from this process's environment into every job
            script (default `DEFAULT_INHERITED`), or True for all of it (``qsub -V``).
        rerunnable: let Grid Engine rerun a job after a host failure (``-r y``).

    Raises:
        ResourceError: an option that would be written into job scripts is unsafe (a PE,
            resource or working-directory value that cannot be a directive, an environment
            variable name that is not one).
    """

    name = "sge"
    title = "Grid Engine"
    declared_resources: Mapping[str, str] = DECLARED_RESOURCES

    def __init__(
        self,
        client: SgeClient,
        *,
        parallel_environment: str = "smp",
        memory_resource: str = "h_vmem",
        runtime_resource: str = "h_rt",
        working_directory: str | os.PathLike[str] | None = None,
        environment: Mapping[str, str] | None = None,
        inherit_environment: Sequence[str] | bool = DEFAULT_INHERITED,
        rerunnable: bool = False,
        files: Files | None = None,
    ) -> None:
        self.client = client
        self._files: Files = files if files is not None else LocalFiles()
        self._pe = check_directive_value("parallel_environment", parallel_environment)
        self._memory_resource = check_directive_value("memory_resource", memory_resource)
        self._runtime_resource = check_directive_value("runtime_resource", runtime_resource)
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

    def job_name(self, name: str) -> str:
        """`sge_job_name` of the task name (``-N``)."""
        return sge_job_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """Refuse a queue name that cannot be written into a ``-q`` directive."""
        if request.queue is not None:
            check_directive_value("queue", request.queue)

    def array_limit(self) -> int:
        """``max_aj_tasks`` from the global configuration (75000 if it is 0, unlimited, or
        unreadable: chunks and qstat task lists of a sane size anyway)."""
        value = self.client.global_config().get("max_aj_tasks", "")
        return int(value) if value.isdigit() and value != "0" else _MAX_AJ_TASKS

    # --- submission -------------------------------------------------------------------------

    def submit(self, job: BatchJob) -> str:
        """Write the job script and ``qsub -terse`` it; return the job number."""
        script = job.script(
            distributor_id_expr=_SINGLE_ID if job.array is None else _ARRAY_ID,
            array_step_expr=job.step_expr("SGE_TASK_ID", 1),
            directive_prefix="#$",
            directives=self._directives(job),
            directive_separator=" ",
            environment=self._job_environment(),
            generator="distributor-sge",
            runtime_backstop=RUNTIME_BACKSTOP,
        )
        return self.client.submit(job.write("job.sh", script))

    def _directives(self, job: BatchJob) -> list[tuple[str, str | tuple[str, ...] | None]]:
        request = job.request
        directives: list[tuple[str, str | tuple[str, ...] | None]] = [
            ("-N", job.job_name),
            ("-S", "/bin/sh"),
            ("-o", str(job.task_dir)),
            ("-e", str(job.task_dir)),
            ("-r", "y" if self._rerunnable else "n"),
            ("-wd", self._workdir) if self._workdir else ("-cwd", None),
        ]
        if self._inherit is True:
            directives.append(("-V", None))
        if job.array is not None:
            directives.append(("-t", f"1-{job.length}"))
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

    # --- ids --------------------------------------------------------------------------------

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``J`` for a single task, ``J.1 .. J.n`` (Grid Engine's 1-based tasks) for an array
        chunk of n steps."""
        return [key] if array is None else [f"{key}.{task}" for task in range(1, array[1] + 1)]

    def job_key(self, distributor_id: str) -> str | None:
        """``"123"`` for ``"123"`` and ``"123.4"``; None for other text."""
        return parsers.job_key(distributor_id)

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path]:
        """``<job name>.o<job>[.<task>]`` and ``.e``: Grid Engine's own names in the task
        directory (the job name read back from the job script)."""
        name = _job_name_of(task_dir, self._files) or "job"
        task = "" if index is None else f".{index + 1}"
        return task_dir / f"{name}.o{key}{task}", task_dir / f"{name}.e{key}{task}"

    # --- status -----------------------------------------------------------------------------

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One qstat (`SgeClient.query_status`)."""
        return self.client.query_status(distributor_ids)

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One qacct (`SgeClient.query_accounting`)."""
        return self.client.query_accounting(distributor_ids)

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The Grid Engine state map (`distributor_sge.states.classify`), with the tail of
        the job's stderr for anything but a success."""
        succeeded = status.exit_code == 0 and status.state == "failed 0"
        tail = "" if succeeded else _stderr_tail(stderr_path(job, self._files), self._files)
        return states.classify(job, status, record, tail)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> dict[str, str]:
        """Jobs in a Grid Engine error state (``Eqw``), with the error reason one ``qstat -j``
        gives for all of them (reported without a reason if qstat cannot say)."""
        stuck = {
            distributor_id: status.state
            for distributor_id, status in statuses.items()
            if states.is_error_state(status.state)
        }
        if not stuck:
            return {}
        jobs = sorted({key for key in map(parsers.job_key, stuck) if key}, key=int)
        try:
            reasons = self.client.error_reasons(jobs)
        except SchedulerError as exc:
            log.warning("error_reasons_unavailable", jobs=len(jobs), error=str(exc)[:300])
            reasons = {}
        if len(jobs) > MAX_ERROR_REASON_JOBS:
            log.info("error_reasons_truncated", jobs=len(jobs), asked=MAX_ERROR_REASON_JOBS)
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

    # --- ending and finding jobs ------------------------------------------------------------

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``qdel`` for these job numbers and ``job.task`` ids (unknown ones ignored)."""
        self.client.delete(targets)

    def force_cancel(self, targets: Sequence[str]) -> None:
        """``qdel -f``: for jobs an earlier ``qdel`` left listed (``dr``) because their
        execution daemon never carried out the kill."""
        self.client.delete(targets, force=True)

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """One ``qstat -xml -u USER`` (`SgeClient.find_jobs`): queued and running jobs, oldest
        first; Grid Engine lists no ended jobs."""
        return self.client.find_jobs(job_names)


def stderr_path(job: TrackedJob, files: Files | None = None) -> Path | None:
    """The job's stderr file, ``<task dir>/<job name>.e<job>[.<task>]``, with the job name
    read from the ``-N`` directive of the task directory's job script (so that a process that
    adopted the job knows it too); None if it cannot be named."""
    split = parsers.split_id(job.distributor_id)
    if split is None or job.record_path is None:
        return None
    task_dir = job.record_path.parent
    name = _job_name_of(task_dir, files if files is not None else LocalFiles())
    if name is None:
        return None
    task = f".{split[1]}" if split[1] is not None else ""
    return task_dir / f"{name}.e{split[0]}{task}"


def _job_name_of(task_dir: Path, files: Files) -> str | None:
    """The ``-N`` directive of the task directory's job script; None if unreadable, or not a
    name this plugin writes."""
    try:
        head = files.read(task_dir / "job.sh", 0, _SCRIPT_HEAD).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in head.splitlines():
        # directives come first, and no line of the user's command starts with "#$"
        if line.startswith(_NAME_DIRECTIVE):
            name = line[len(_NAME_DIRECTIVE) :].strip()
            return name if name == safe_name(name) else None
    return None


def _stderr_tail(path: Path | None, files: Files) -> str:
    if path is None:
        return ""
    try:
        return files.read(path, -_STDERR_TAIL).decode("utf-8", errors="replace")
    except OSError:
        return ""
