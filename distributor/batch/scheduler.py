"""`BatchScheduler`: what a batch plugin implements — a client, its parsers and a state map.

A plugin hands one `BatchScheduler` object to `distributor.batch.BatchDistributor`, which does
everything that is the same on every scheduler (task directories, arrays in chunks, tracking,
adoption after a restart, termination, lookup by name, limits enforced by the worker). The
scheduler object only talks to its scheduler::

    class SlurmScheduler:                       # satisfies BatchScheduler
        name, title = "slurm", "Slurm"
        declared_resources = {"slurm.account": r"[A-Za-z0-9_.-]{1,64}"}

        def submit(self, job: BatchJob) -> str:         # write job.script(...), run sbatch
        def task_ids(self, key, array) -> list[str]:    # "12", (0, 3) -> ["12_0", "12_1", "12_2"]
        def job_key(self, distributor_id) -> str | None:  # "12_1" -> "12"; None if not ours
        def query_status(self, ids) / query_accounting(self, ids) / classify(...)
        def cancel(self, targets) / force_cancel(self, targets)
        def find_jobs(self, job_names) -> list[NamedJob]  # one squeue --name=...
        ...

Every member is called from one thread at a time per distributor, except where noted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from distributor.batch.polling import TrackedJob
from distributor.batch.script import JobScript
from distributor.batch.status import JobStatus
from distributor.exit_info import RemoteExitInfo
from distributor.resources import ResourceRequest
from distributor.worker.record import ExitRecord

__all__ = ["BatchJob", "BatchScheduler", "NamedJob"]


@dataclass(frozen=True, slots=True)
class BatchJob:
    """One submission a scheduler is asked to make: a single task or one array chunk.

    Attributes:
        command: the user's command line (run by ``/bin/sh -c`` under the worker).
        name: the user's name for the task; hostile text, for messages only.
        job_name: the scheduler's job name for it (`BatchScheduler.job_name` of `name`); the
            scheduler must show exactly this name, `BatchScheduler.find_jobs` looks for it.
        request: the parsed resource request.
        task_dir: the submission's own directory (scripts, logs, records), on the shared
            filesystem.
        worker: absolute path of ``distributor-worker`` on the nodes.
        write: ``write(file_name, text)`` creates a new 0700 file in `task_dir` and returns its
            path (never overwrites).
        array: ``(offset, length)`` for an array chunk of steps ``offset .. offset+length-1``;
            None for a single task.
        workdir: where the job runs, if not where the scheduler starts it (a task that stages
            files runs in `task_dir`); `script` changes into it.
    """

    command: str
    name: str
    job_name: str
    request: ResourceRequest
    task_dir: Path
    worker: str
    write: Callable[[str, str], Path] = field(repr=False, compare=False)
    array: tuple[int, int] | None = None
    workdir: Path | None = None

    @property
    def length(self) -> int:
        """How many tasks the submission holds (1 for a single task)."""
        return 1 if self.array is None else self.array[1]

    @property
    def record(self) -> str:
        """The exit-record path for ``--record`` (``{step}`` filled in by the worker)."""
        return str(self.task_dir / ("exit.json" if self.array is None else "exit-{step}.json"))

    @property
    def started(self) -> str:
        """The start-record path for ``--started``."""
        name = "started.json" if self.array is None else "started-{step}.json"
        return str(self.task_dir / name)

    def step_expr(self, index_variable: str, first_index: int = 0) -> str | None:
        """The shell word giving a task's 0-based step from the scheduler's array index
        variable (trusted plugin text, never user input); None for a single task."""
        if self.array is None:
            return None
        shift = self.array[0] - first_index
        if shift == 0:
            return f"${index_variable}"
        sign = "+" if shift > 0 else "-"
        return f"$(({index_variable} {sign} {abs(shift)}))"

    def script(
        self,
        *,
        distributor_id_expr: str,
        array_step_expr: str | None = None,
        directive_prefix: str = "#",
        directives: Sequence[tuple[str, str | tuple[str, ...] | None]] = (),
        directive_separator: str = "=",
        environment: Mapping[str, str] | None = None,
        generator: str = "distributor",
        runtime_backstop: float = 0.0,
        memory_backstop: float = 0.0,
    ) -> str:
        """The job script: directives, identity, and ``distributor-worker`` running the
        command with this job's records and limits (see `distributor.batch.script.JobScript`).

        Args:
            distributor_id_expr: trusted shell word giving ``DISTRIBUTOR_ID``.
            array_step_expr: trusted shell word giving the step; default `step_expr` cannot be
                guessed, so arrays must pass one (a single task standing for one step of an
                array may pass the step as a literal).
            directive_prefix / directives / directive_separator: see `JobScript`.
            environment: extra variables for the job.
            generator: the plugin's name, for the header comment.
            runtime_backstop: seconds past the runtime limit before the worker enforces it
                itself: 0 where the scheduler does not enforce limits reliably; about a minute
                where it does, so that the scheduler's own verdict is the one reported.
            memory_backstop: the share of the memory request the worker allows on top before
                it kills: 0 where the scheduler does not enforce memory; about 0.1 where it
                does (cgroups), so that its own verdict is the one reported.

        Raises:
            ResourceError: a directive or environment name is unsafe.
        """
        if self.array is not None and array_step_expr is None:
            raise ValueError("an array chunk needs array_step_expr (see BatchJob.step_expr)")
        return JobScript(
            command=self.command,
            worker=self.worker,
            record=self.record,
            started=self.started,
            memory_limit=(
                None
                if self.request.memory_bytes is None
                else int(self.request.memory_bytes * (1 + memory_backstop))
            ),
            runtime_limit=(
                None
                if self.request.runtime_seconds is None
                else self.request.runtime_seconds + runtime_backstop
            ),
            distributor_id_expr=distributor_id_expr,
            array_step_expr=array_step_expr,
            directive_prefix=directive_prefix,
            directives=directives,
            directive_separator=directive_separator,
            environment=dict(environment or {}),
            label=self.name,
            generator=generator,
            workdir=None if self.workdir is None else str(self.workdir),
        ).render()


@dataclass(frozen=True, slots=True)
class NamedJob:
    """A job the scheduler lists under one of the names asked for.

    Attributes:
        key: its job key, as `BatchScheduler.submit` returned it.
        job_name: the name the scheduler shows.
        path: a path the scheduler reports for the job, if the same command shows one cheaply
            (its script, output file or working directory); it lets the lookup match the job
            to its own task directory, not only by name and order.
    """

    key: str
    job_name: str
    path: str | None = None


@runtime_checkable
class BatchScheduler(Protocol):
    """One batch scheduler, as `distributor.batch.BatchDistributor` drives it.

    Ids: `submit` returns a **job key** (what the scheduler calls the job or array, and what
    `cancel` accepts to end all of it); `task_ids` derives the **distributor ids** of its tasks.
    """

    @property
    def name(self) -> str:
        """Short lower-case name (``"slurm"``): the default submit root's directory."""
        ...

    @property
    def title(self) -> str:
        """The scheduler's name for messages (``"Slurm"``, ``"Grid Engine"``)."""
        ...

    @property
    def declared_resources(self) -> Mapping[str, str]:
        """Pass-through request keys this scheduler understands (``"slurm.account"``) and the
        regular expression their values must match in full."""
        ...

    def job_name(self, name: str) -> str:
        """The job name the scheduler will show for a task named `name` (hostile text in, a
        name safe for directives out); equal names give equal job names."""
        ...

    def check_request(self, request: ResourceRequest) -> None:
        """Refuse what this scheduler cannot be asked for.

        Raises:
            ResourceError: naming the key and value (a queue name that cannot be written into
                a directive, say).
        """
        ...

    def array_limit(self) -> int:
        """The most tasks one array may hold (asked once per distributor).

        Raises:
            SchedulerError: the scheduler could not be asked.
        """
        ...

    def submit(self, job: BatchJob) -> str:
        """Write the job's files with `BatchJob.write` and submit it; return its job key.

        Raises:
            SchedulerError: the submit command failed; a definite refusal carries the exit
                status, a timeout ``timed_out`` (the job may exist).
            SubmissionError: the scheduler accepted something it should not have and the plugin
                removed it again (nothing of the submission remains).
            ResourceError: the request cannot be written for this scheduler.
        """
        ...

    def task_ids(self, key: str, array: tuple[int, int] | None) -> Sequence[str]:
        """The distributor ids of job `key`'s tasks, in step order: one id for a single task,
        ``array[1]`` ids for an array chunk ``(offset, length)``."""
        ...

    def job_key(self, distributor_id: str) -> str | None:
        """The job key of a distributor id this scheduler could have issued; None for any
        other text (hostile ids never reach a command line)."""
        ...

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, Path | None]:
        """Where the scheduler writes a task's output, as `submit` asked it to.

        Args:
            key: the job key; task_dir: the submission's directory.
            index: the task's 0-based position in its array chunk (``task_ids(key, ...)[index]``),
                None for a single task.

        Returns:
            ``(stdout, stderr)``; stderr None when both streams share the first file.
        """
        ...

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One status command for all ids (see `distributor.batch.StatusBackend`)."""
        ...

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        """One accounting command for all ids (see `distributor.batch.StatusBackend`)."""
        ...

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        """The state map: a final status (and the worker's record) to finalized exit info."""
        ...

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
        """Of these queued jobs, those that can never start, with the reason (at most one
        further scheduler command for all of them).

        Raises:
            SchedulerError: the scheduler could not be asked.
        """
        ...

    def cancel(self, targets: Sequence[str]) -> None:
        """End these jobs: job keys (the whole job or array) and distributor ids, in as few
        commands as the scheduler allows; unknown or ended ones are ignored.

        Raises:
            SchedulerError: the command failed.
        """
        ...

    def force_cancel(self, targets: Sequence[str]) -> None:
        """End jobs that an earlier `cancel` did not end (``qdel -f``, ``bkill -r``); the plain
        `cancel` where the scheduler has nothing stronger.

        Raises:
            SchedulerError: the command failed (perhaps for lack of privileges).
        """
        ...

    def find_jobs(self, job_names: Collection[str]) -> Sequence[NamedJob]:
        """The jobs the scheduler lists under any of `job_names` — queued, running or recently
        ended — in the order they were submitted, with **one** scheduler command.

        Raises:
            SchedulerError: the scheduler could not be asked.
        """
        ...
