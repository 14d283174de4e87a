"""`PbsScheduler`: PBS Pro / OpenPBS and Torque as a `distributor.batch.BatchScheduler`.

* **Submission.** ``qsub`` of a job script with ``#PBS`` directives (`distributor_pbs.flavours`
  writes the resources); qsub prints the job id, which is the job key (``123.server``,
  ``123[].server`` for an array). Jobs run under ``-S /bin/sh`` (the script is POSIX sh whatever
  the user's login shell) and are not rerunnable (``-r n``) except PBS Pro arrays, which PBS Pro
  refuses unless rerunnable.
* **Arrays** are chunks of at most the server's ``max_array_size`` (PBS Pro) /
  ``max_job_array_size`` (Torque) subjobs, each ``-J 0-(n-1)`` / ``-t 0-(n-1)``; chunk ``k``
  adds its offset to ``PBS_ARRAY_INDEX`` / ``PBS_ARRAYID``, and step ``s`` is subjob
  ``<chunk>[s - offset].server``. PBS Pro refuses one-subjob arrays, so a chunk of one is a
  plain job told its step: its only id is the job id.
* **Status** is `PbsClient`: one qstat per poll cycle, history included; no accounting.
* **Termination** is one qdel naming whole arrays (``123[].server``) where possible; the forced
  delete is ``qdel -W force`` (PBS Pro) / ``qdel -p`` (Torque).
* **Lookup** is one qstat listing every job, filtered by ``Job_Name``.

The flavour of an ``auto`` client is detected by its first command that needs it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest
from distributor.batch import (
    BatchJob,
    BatchScheduler,
    JobStatus,
    NamedJob,
    TrackedJob,
    check_directive_value,
    safe_name,
)
from distributor.worker import ExitRecord
from distributor_pbs import parsers, states
from distributor_pbs.client import PbsClient
from distributor_pbs.queue import DECLARED_RESOURCES

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "PbsScheduler", "pbs_job_name"]

DEFAULT_MAX_ARRAY_SIZE = 10000
"""Subjobs per array when the server states no limit (PBS Pro's default ``max_array_size``)."""

_ID_EXPR = '"$PBS_JOBID"'  # the subjob's own id inside an array, in both flavours


def pbs_job_name(name: str) -> str:
    """A PBS job name: safe characters, at most 60, starting with a letter (older servers
    insist)."""
    cleaned = safe_name(name, max_length=60)
    return cleaned if cleaned[0].isalpha() else f"j{cleaned}"


class PbsScheduler:
    """A PBS Pro / OpenPBS or Torque server as `BatchDistributor` drives it.

    Args:
        client: runs and parses the PBS commands (and knows the flavour).
    """

    name = "pbs"
    title = "PBS"
    declared_resources: Mapping[str, str] = DECLARED_RESOURCES

    def __init__(self, client: PbsClient) -> None:
        self.client = client

    def job_name(self, name: str) -> str:
        """`pbs_job_name` of the task name (``-N``)."""
        return pbs_job_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        """Refuse a queue name that cannot be written into ``#PBS -q`` (the account is checked
        by its declared pattern; sizes and times are rendered from numbers).

        Raises:
            ResourceError: naming the queue.
        """
        if request.queue is not None:
            check_directive_value("queue", request.queue)

    def array_limit(self) -> int:
        """The server's ``max_array_size`` / ``max_job_array_size`` (``qstat -B -f``), or
        `DEFAULT_MAX_ARRAY_SIZE` when it sets none."""
        return self.client.max_array_size() or DEFAULT_MAX_ARRAY_SIZE

    def submit(self, job: BatchJob) -> str:
        """Write the job script and ``qsub`` it; return the id qsub printed."""
        flavour = self.client.flavour
        plain = job.array is None or job.length < flavour.min_array_length
        if job.array is None:
            step_expr = None
        elif plain:  # a one-subjob chunk PBS Pro would refuse as an array: told its step
            step_expr = str(job.array[0])
        else:
            step_expr = job.step_expr(flavour.index_variable)
        # PBS Pro substitutes ^array_index^ in -o/-e; Torque appends -<index> itself
        suffix = "-^array_index^" if not plain and flavour.name == "pro" else ""
        directives: list[tuple[str, str | tuple[str, ...] | None]] = [
            ("-N", job.job_name),
            ("-S", "/bin/sh"),
            ("-o", f"{job.task_dir}/stdout{suffix}.log"),
            ("-e", f"{job.task_dir}/stderr{suffix}.log"),
            *flavour.directives(job.request, array_length=None if plain else job.length),
        ]
        script = job.script(
            distributor_id_expr=_ID_EXPR,
            array_step_expr=step_expr,
            directive_prefix="#PBS",
            directives=directives,
            directive_separator=" ",
            generator="distributor-pbs",
            runtime_backstop=flavour.runtime_backstop,
        )
        return self.client.submit(job.write("job.sh", script))

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        """``123.server`` for a job (a one-subjob chunk submitted plain included);
        ``123[0].server .. 123[n-1].server`` for array ``123[].server`` of ``n`` steps."""
        parsed = parsers.parse_job_id(key)
        if parsed is None or parsed.index is not None:
            return []  # not a key this scheduler hands out: the caller refuses it
        if not parsed.array:
            return [key]
        length = 0 if array is None else array[1]
        return [parsers.subjob_id(key, index) for index in range(length)]

    def job_key(self, distributor_id: str) -> str | None:
        """``123[].server`` for ``123[4].server``, ``123.server`` for itself; None for other
        text (`distributor_pbs.parsers.job_key`)."""
        return parsers.job_key(distributor_id)

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path]:
        """``stdout.log``/``stderr.log`` of a job (one-subjob chunks included); a subjob's
        are ``stdout-<index>.log`` on PBS Pro (``^array_index^``) and ``stdout.log-<index>`` on
        Torque (which appends the index itself)."""
        if index is None or "[]" not in key:
            return task_dir / "stdout.log", task_dir / "stderr.log"
        if self.client.flavour.name == "pro":
            return task_dir / f"stdout-{index}.log", task_dir / f"stderr-{index}.log"
        return task_dir / f"stdout.log-{index}", task_dir / f"stderr.log-{index}"

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One qstat (`PbsClient.query_status`)."""
        return self.client.query_status(distributor_ids)

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """Nothing: qstat's history is the accounting PBS offers users."""
        return self.client.query_accounting(distributor_ids)

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The PBS state map for the server's flavour (`distributor_pbs.states.classify`)."""
        return self.client.classify(job, status, record)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> dict[str, str]:
        """PBS Pro's ``Can never run`` comments (`distributor_pbs.states.queueing_error`); no
        command."""
        errors = {}
        for distributor_id, status in statuses.items():
            reason = states.queueing_error(status)
            if reason is not None:
                errors[distributor_id] = reason
        return errors

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``qdel`` of the jobs, whole arrays (``123[].server``) and subjobs."""
        self.client.delete(_job_ids(targets))

    def force_cancel(self, targets: Sequence[str]) -> None:
        """``qdel -W force`` (PBS Pro) / ``qdel -p`` (Torque): for jobs an earlier ``qdel`` did
        not end, as when their MoM is unreachable."""
        self.client.delete(_job_ids(targets), force=True)

    def find_jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """One qstat listing every job (`PbsClient.find_jobs`), oldest first."""
        return self.client.find_jobs(job_names)


def _job_ids(targets: Sequence[str]) -> list[str]:
    """The targets that are PBS job ids, each once (nothing else reaches qdel's argv)."""
    return [target for target in dict.fromkeys(targets) if parsers.parse_job_id(target)]


def _conforms(scheduler: PbsScheduler) -> BatchScheduler:
    return scheduler  # mypy checks here that PbsScheduler satisfies BatchScheduler
