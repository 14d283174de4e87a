"""`PbsDistributor`: submit with qsub, track with one qstat per poll cycle, exact exit info.

* **Submission.** Each task (or array chunk) gets a task directory under the submit root with
  its job script (``#PBS`` directives, identity, ``distributor-worker`` around the quoted
  command), logs and exit records. qsub prints the job id. Jobs run under ``-S /bin/sh`` (the
  script is POSIX sh whatever the user's login shell) and are not rerunnable (``-r n``) except
  PBS Pro arrays, which PBS Pro refuses unless rerunnable.
* **Arrays** are chunks of at most the server's ``max_array_size`` (PBS Pro) /
  ``max_job_array_size`` (Torque) subjobs, each submitted as ``-J 0-(n-1)`` / ``-t 0-(n-1)``;
  chunk ``k`` adds its offset to ``PBS_ARRAY_INDEX`` / ``PBS_ARRAYID`` to give
  ``DISTRIBUTOR_ARRAY_STEP_ID``, and step ``s`` is subjob ``<chunk>[s - offset].server``. PBS
  Pro refuses one-subjob arrays, so a chunk of one is a plain job told its step. If a chunk is
  refused, the chunks already submitted are deleted before `SubmissionError` is raised.
* **Tracking** is `distributor.batch.TrackedDistributor` over a `StatusTracker` of `PbsClient`:
  one qstat per cycle (history included), the worker's record after the accounting delay, lost
  jobs ``U``; ids issued by an earlier distributor on the same submit root are adopted.
* **Termination** is one qdel naming whole arrays (``123[].server``) where possible, and is
  remembered: a subjob deleted before it ran may leave no trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from distributor import ResourceRequest
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
    safe_name,
)
from distributor_pbs import parsers, states
from distributor_pbs.client import PbsClient
from distributor_pbs.queue import DECLARED_RESOURCES

__all__ = ["DEFAULT_MAX_ARRAY_SIZE", "PbsDistributor"]

log = structlog.get_logger(__name__)

DEFAULT_MAX_ARRAY_SIZE = 10000
"""Subjobs per array when the server states no limit (PBS Pro's default ``max_array_size``)."""


def pbs_job_name(name: str) -> str:
    """A PBS job name: safe characters, starting with a letter (older servers insist)."""
    cleaned = safe_name(name, max_length=60)
    return cleaned if cleaned[0].isalpha() else f"j{cleaned}"


class PbsDistributor(TrackedDistributor):
    """Submits to and tracks a PBS Pro / OpenPBS or Torque server (see the module docstring).

    Args:
        cluster_name: a name for the cluster (messages and the default submit root).
        submit_root: directory for job scripts, logs and exit records; must be visible at the
            same path on the compute nodes.
        flavour: ``pro``, ``torque`` or ``auto`` (``qstat --version`` at `start`).
        server: the PBS server (``PBS_DEFAULT``); environment: extra variables for every PBS
            command.
        transport / retry_policy: how PBS commands run (default: locally, `PBS_TRANSIENT`).
        poll_policy: poll intervals, rate cap, accounting delay and lost-job grace.
        max_array_size: at most this many subjobs per array chunk (default: the server's
            limit, else `DEFAULT_MAX_ARRAY_SIZE`).
        retention: seconds a task directory is kept after its last change (default 7
            days; None keeps all); expired ones are deleted by `start`, once a day.
        worker: path of ``distributor-worker`` on the nodes (default: beside this Python).
    """

    scheduler = "pbs"
    declared_resources = DECLARED_RESOURCES

    def __init__(
        self,
        cluster_name: str,
        *args: Any,
        submit_root: str | os.PathLike[str] | None = None,
        flavour: str = "auto",
        server: str | None = None,
        environment: Mapping[str, str] | None = None,
        transport: Transport | None = None,
        retry_policy: RetryPolicy | None = None,
        poll_policy: PollPolicy | None = None,
        max_array_size: int | None = None,
        retention: float | None = DEFAULT_RETENTION,
        worker: str | None = None,
        **kwargs: Any,
    ) -> None:
        check_arguments("PbsDistributor", args, kwargs, max_array_size)
        self.client = PbsClient(
            flavour=flavour,
            server=server,
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
        self._issued: dict[str, str] = {}  # job key (sequence number) -> the id qsub printed

    def scheduler_array_limit(self) -> int:
        """The server's ``max_array_size`` / ``max_job_array_size`` (or the PBS Pro default)."""
        return self.client.max_array_size() or DEFAULT_MAX_ARRAY_SIZE

    # --- submission -----------------------------------------------------------------------

    def _script(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        task_dir: Path,
        array: tuple[int, int] | None,
        step: int | None,
    ) -> str:
        """The job script of a job (`step`: a one-subjob chunk) or of an array chunk."""
        flavour = self.client.flavour
        if array is None:
            suffix = ""
            step_expr = None if step is None else str(step)
            record = "exit.json" if step is None else "exit-{step}.json"
        else:
            # PBS Pro substitutes ^array_index^ in -o/-e; Torque appends -<index> itself
            suffix = "-^array_index^" if flavour.name == "pro" else ""
            step_expr = f"$(({flavour.index_variable} + {array[0]}))"
            record = "exit-{step}.json"
        directives: list[tuple[str, str | tuple[str, ...] | None]] = [
            ("-N", pbs_job_name(name)),
            ("-S", "/bin/sh"),
            ("-o", str(task_dir / f"stdout{suffix}.log")),
            ("-e", str(task_dir / f"stderr{suffix}.log")),
            *flavour.directives(request, array_length=None if array is None else array[1]),
        ]
        return JobScript(
            command=command,
            worker=self._worker,
            record=str(task_dir / record),
            distributor_id_expr='"$PBS_JOBID"',
            array_step_expr=step_expr,
            directive_prefix="#PBS",
            directives=directives,
            directive_separator=" ",
            label=name,
            generator="distributor-pbs",
        ).render()

    def submit_job(
        self,
        command: str,
        name: str,
        request: ResourceRequest,
        *,
        array: tuple[int, int] | None,
        step: int | None = None,
    ) -> tuple[str, Path]:
        """Write and submit one job or array chunk (``(offset, length)``); return the id qsub
        printed and the task directory."""
        with self.submission(name, "PBS") as task_dir:
            script = self._script(command, name, request, task_dir, array, step)
            job_id = self.client.submit(self._root.write_script(task_dir, script))
        key = str(parsers.job_key(job_id))
        extra: dict[str, Any] = {"id": job_id} if step is None else {"id": job_id, "step": step}
        self.register_job(
            key,
            task_dir,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
            array=array,
            **extra,
        )
        self._issued[key] = job_id
        return job_id, task_dir

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Submit an array in chunks of the server's array limit (see the module docstring).

        Raises:
            ResourceError: the request is malformed or ``array_length < 1``.
            SubmissionError: qsub refused a chunk (earlier chunks are deleted first).
        """
        request = self.parse_resources(requested_resources)
        shortest = self.client.flavour.min_array_length

        def submit_chunk(offset: int, length: int) -> tuple[str, Path]:
            if length < shortest:  # a plain job told its step
                job_id, task_dir = self.submit_job(command, name, request, array=None, step=offset)
            else:
                job_id, task_dir = self.submit_job(command, name, request, array=(offset, length))
            return str(parsers.job_key(job_id)), task_dir

        def task_id(key: str, index: int) -> str:
            issued = self._issued[key]
            return issued if "[" not in issued else parsers.subjob_id(issued, index)

        return self.submit_array_chunks(
            array_length,
            self.array_chunk_size(),
            submit_chunk,
            task_id,
            memory_bytes=request.memory_bytes,
            runtime_seconds=request.runtime_seconds,
        )

    # --- tracking (the rest is TrackedDistributor's) ------------------------------------

    def _issued_id(self, key: str) -> str | None:
        """The id qsub printed for job `key`, from memory or the submit root's index."""
        issued = self._issued.get(key)
        if issued is None:
            entry = self._root.lookup(key)
            text = str(entry.meta.get("id", "")) if entry is not None else ""
            if parsers.parse_job_id(text) is None:
                return None
            issued = self._issued.setdefault(key, text)
        return issued

    def split_id(self, distributor_id: str) -> tuple[str, int | None] | None:
        """``123[4].server`` → ``("123", 4)``, ``123.server`` → ``("123", None)``; None for
        text that is not a job or subjob id issued here (other servers included)."""
        parsed = parsers.parse_job_id(distributor_id)
        if parsed is None or parsed.array:
            return None
        issued = parsers.parse_job_id(self._issued_id(parsed.seq) or "")
        if issued is None or parsed.server != issued.server:
            return None
        return parsed.seq, parsed.index

    def adopted_record(self, entry: TaskDirectory, task: int | None) -> Path:
        """``exit-<step>.json`` for a one-subjob chunk submitted as a plain job, else the
        default (``exit.json``, ``exit-<offset + index>.json``)."""
        if task is None and "step" in entry.meta:
            return entry.path / f"exit-{int(entry.meta['step'])}.json"
        return super().adopted_record(entry, task)

    def cancel(self, tokens: Sequence[str]) -> None:
        """One ``qdel`` for these jobs (a job key names its whole array, ``123[].server``)."""
        self.client.delete(self._qdel_names(tokens))

    def force_cancel(self, tokens: Sequence[str]) -> None:
        """``qdel -W force`` (PBS Pro) / ``qdel -p`` (Torque): for jobs an earlier ``qdel``
        did not end, as when their MoM is unreachable."""
        self.client.delete(self._qdel_names(tokens), force=True)

    def _qdel_names(self, tokens: Sequence[str]) -> list[str]:
        """The ids qsub printed for job keys (``123[].server`` for an array); others as given."""
        return [self._issued.get(token, token) for token in tokens]

    def queueing_error(self, status: JobStatus) -> str | None:
        """PBS Pro's ``Can never run`` comment (`distributor_pbs.states.queueing_error`)."""
        return states.queueing_error(status)
