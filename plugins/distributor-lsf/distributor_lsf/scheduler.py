"""`LsfScheduler`: IBM Spectrum LSF as a `distributor.batch.BatchScheduler`.

* **Submission.** The job script (``#BSUB`` directives) goes to ``bsub`` on standard input,
  the form in which every LSF version reads ``#BSUB`` lines (``bsub job.sh`` needs
  ``LSB_BSUB_PARSE_SCRIPT=Y``); the job id is read from ``Job <123> is submitted to queue
  <normal>.`` Memory is ``-M`` plus ``-R rusage[mem=...]`` (`memory_limit`), runtime ``-W H:MM``
  rounded up to whole minutes, cores ``-n N -R span[hosts=1]``, GPUs ``-gpu num=N``.
* **Arrays** are ``-J "name[1-n]%cap"`` chunks of at most ``MAX_JOB_ARRAY_SIZE`` elements
  (``bparams -a``). LSF indices are 1-based: element ``i`` of the chunk at offset ``o`` is
  step ``o + i - 1``, and its id is ``<job id>[i]``; a single task's id is its job id.
* **Limits.** LSF enforces the run limit itself (SIGUSR2, then, ten minutes later, SIGINT,
  SIGTERM and SIGKILL: ``TERM_RUNLIMIT``) and, where configured, memory: the worker stops a
  command only `RUNTIME_BACKSTOP` seconds after LSF's own run limit.
* **Status** is `LsfClient`: one ``bjobs`` per poll cycle, ``bhist`` for jobs mbatchd cleaned.
* **Lookup** is one ``bjobs -a`` of the user's jobs, filtered by job name.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest
from distributor.batch import (
    BatchJob,
    JobStatus,
    NamedJob,
    TrackedJob,
    check_directive_value,
    safe_name,
)
from distributor.worker import ExitRecord
from distributor_lsf import parsers, states
from distributor_lsf.client import LsfClient
from distributor_lsf.queue import DECLARED_RESOURCES

__all__ = ["RUNTIME_BACKSTOP", "LsfScheduler", "memory_limit", "run_limit"]

RUNTIME_BACKSTOP = 90.0
"""Seconds past LSF's run limit (``-W`` rounded up to whole minutes) before the worker stops
the command itself. sbatchd checks a job's limits once per ``SBD_SLEEP_TIME`` (30 s by
default) and then sends SIGUSR2, which ends any command that does not catch it, so LSF's own
``TERM_RUNLIMIT`` comes first. Only a command that catches SIGUSR2 would run on for LSF's ten
minutes of grace; the worker ends it after this margin instead (``Z`` either way)."""

_SINGLE_ID = '"$LSB_JOBID"'
_ARRAY_ID = '"${LSB_JOBID}[${LSB_JOBINDEX}]"'
_UNITS = {"KB": 2**10, "MB": 2**20, "GB": 2**30, "TB": 2**40}


def memory_limit(amount: int, unit_for_limits: str | None = None) -> str:
    """An amount of bytes for ``-M`` and ``rusage[mem=...]``, rounded up.

    Args:
        amount: bytes.
        unit_for_limits: None writes an explicit ``MB`` (LSF 10.1.0.2 and later); ``KB``,
            ``MB``, ``GB`` or ``TB`` write a bare number in that unit, for older clusters
            whose ``LSF_UNIT_FOR_LIMITS`` it must match.
    """
    if unit_for_limits is None:
        return f"{math.ceil(amount / 2**20)}MB"
    return str(math.ceil(amount / _UNITS[unit_for_limits]))


def run_limit(seconds: int) -> tuple[str, int]:
    """``-W [hours:]minutes`` for a runtime, rounded up to whole minutes, and the seconds
    that stands for."""
    minutes = math.ceil(seconds / 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours}:{rest:02d}", minutes * 60


class LsfScheduler:
    """An LSF cluster as `BatchDistributor` drives it (see the module docstring).

    Args:
        client: runs and parses the LSF commands.
        unit_for_limits: None (default) writes memory with an explicit unit; else the
            cluster's ``LSF_UNIT_FOR_LIMITS`` (see `memory_limit`).

    Raises:
        ValueError: `unit_for_limits` is not None, ``KB``, ``MB``, ``GB`` or ``TB``.
    """

    name = "lsf"
    title = "LSF"
    declared_resources: Mapping[str, str] = DECLARED_RESOURCES

    def __init__(self, client: LsfClient, *, unit_for_limits: str | None = None) -> None:
        if unit_for_limits is not None and unit_for_limits not in _UNITS:
            raise ValueError(
                f"unit_for_limits={unit_for_limits!r}: must be None or one of {sorted(_UNITS)}"
            )
        self.client = client
        self._unit = unit_for_limits

    def job_name(self, name: str) -> str:
        """`safe_name` of the task name (``-J``; an array's shows as ``name[i]``)."""
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """The queue must be writable into ``#BSUB -q`` (the error names ``queue``).

        Raises:
            ResourceError: it is not.
        """
        if request.queue is not None:
            check_directive_value("queue", request.queue)

    def array_limit(self) -> int:
        """``MAX_JOB_ARRAY_SIZE`` from ``bparams -a`` (`LsfClient.max_array_size`)."""
        return self.client.max_array_size()

    def submit(self, job: BatchJob) -> str:
        """Write the job script and feed it to ``bsub`` on standard input; return the job id."""
        backstop = RUNTIME_BACKSTOP
        if job.request.runtime_seconds is not None:
            # the worker's limit counts from the request; LSF's from -W, rounded up
            backstop += run_limit(job.request.runtime_seconds)[1] - job.request.runtime_seconds
        script = job.script(
            distributor_id_expr=_SINGLE_ID if job.array is None else _ARRAY_ID,
            array_step_expr=job.step_expr("LSB_JOBINDEX", 1),
            directive_prefix="#BSUB",
            directives=self._directives(job),
            directive_separator=" ",
            generator="distributor-lsf",
            runtime_backstop=backstop,
        )
        job.write("job.sh", script)
        return self.client.submit(script)

    def _directives(self, job: BatchJob) -> list[tuple[str, str | None]]:
        request = job.request
        if job.array is None:
            job_name, suffix = job.job_name, ""
        else:
            cap = request.extra.get("lsf.array_cap")
            job_name = f"{job.job_name}[1-{job.length}]" + (f"%{cap}" if cap else "")
            suffix = "-%I"
        directives: list[tuple[str, str | None]] = [
            ("-J", job_name),
            ("-o", f"{job.task_dir}/stdout{suffix}.log"),
            ("-e", f"{job.task_dir}/stderr{suffix}.log"),
        ]
        if request.queue is not None:
            directives.append(("-q", request.queue))
        if request.cores is not None:
            directives += [("-n", str(request.cores)), ("-R", "span[hosts=1]")]
        if request.memory_bytes is not None:
            amount = memory_limit(request.memory_bytes, self._unit)
            directives += [("-M", amount), ("-R", f"rusage[mem={amount}]")]
        if request.runtime_seconds is not None:
            directives.append(("-W", run_limit(request.runtime_seconds)[0]))
        if request.gpus:
            directives.append(("-gpu", f"num={request.gpus}"))
        for key, flag in (("lsf.project", "-P"), ("lsf.app", "-app")):
            if key in request.extra:
                directives.append((flag, request.extra[key]))
        return directives

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``J`` for a single task, ``J[1] .. J[n]`` (LSF's 1-based indices) for a chunk."""
        if array is None:
            return [key]
        return [f"{key}[{index}]" for index in range(1, array[1] + 1)]

    def job_key(self, distributor_id: str) -> str | None:
        """``"123"`` for ``"123"`` and ``"123[4]"``; None for other text."""
        return parsers.job_key(distributor_id)

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path]:
        """``stdout[-%I].log`` and ``stderr[-%I].log`` (``%I``: LSF's 1-based index)."""
        suffix = "" if index is None else f"-{index + 1}"
        return task_dir / f"stdout{suffix}.log", task_dir / f"stderr{suffix}.log"

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``bjobs -a`` (`LsfClient.query_status`)."""
        return self.client.query_status(distributor_ids)

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One ``bhist -a -l`` (`LsfClient.query_accounting`)."""
        return self.client.query_accounting(distributor_ids)

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The LSF state map (`distributor_lsf.states.classify`)."""
        return states.classify(job, status, record)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> dict[str, str]:
        """Pending reasons that never clear (an impossible dependency); no command."""
        errors = {}
        for distributor_id, status in statuses.items():
            reason = states.queueing_error(status.reason)
            if reason is not None:
                errors[distributor_id] = reason
        return errors

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``bkill`` of the job ids and array elements (``123``, ``123[4]``)."""
        self.client.cancel(list(targets))

    def force_cancel(self, targets: Sequence[str]) -> None:
        """``bkill -r``: LSF removes the jobs at once, without waiting for their processes
        (``TERM_FORCE_OWNER``)."""
        self.client.cancel(list(targets), force=True)

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """One ``bjobs -a`` of the user's jobs, filtered by name (`LsfClient.find_jobs`)."""
        return self.client.find_jobs(job_names)
