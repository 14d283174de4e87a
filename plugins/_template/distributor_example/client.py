"""`ExampleClient`: every command of the Example scheduler, run as argv and parsed.

Replace the four commands with your scheduler's: submit (prints the job id), status (one line
per task), cancel, and a listing of jobs with their names. Keep to the rules that make a plugin
safe: argv lists only (the runner never uses a shell), one status command for all ids, and a
parser per output that raises `SchedulerOutputError` with the raw text when it cannot parse.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

from distributor import SchedulerOutputError
from distributor.batch import (
    GENERIC_TRANSIENT,
    CommandRunner,
    JobPhase,
    JobStatus,
    NamedJob,
    RetryPolicy,
    Transport,
)

__all__ = [
    "EXAMPLE_SUBMIT_TRANSIENT",
    "EXAMPLE_TRANSIENT",
    "ExampleClient",
    "parse_jobs",
    "parse_status",
    "parse_submit",
]

EXAMPLE_TRANSIENT: tuple[str, ...] = (*GENERIC_TRANSIENT, r"scheduler is busy")
"""Failures of queries and cancellations worth retrying."""

EXAMPLE_SUBMIT_TRANSIENT: tuple[str, ...] = (r"scheduler is busy",)
"""Submission failures after which the scheduler certainly created nothing."""

TASK_ID = re.compile(r"(?P<job>[1-9][0-9]{0,11})(?:\.(?P<task>[0-9]{1,9}))?")
"""A distributor id this plugin issues: ``12`` (a job) or ``12.3`` (task 3 of array 12)."""

_SUBMITTED = re.compile(r"Submitted job ([1-9][0-9]{0,11})\s*")
_PHASES = {"PENDING": JobPhase.QUEUED, "RUNNING": JobPhase.RUNNING}


def parse_submit(stdout: str, argv: Sequence[str] = ()) -> str:
    """The job id from ``Submitted job 12``.

    Raises:
        SchedulerOutputError: the output has no job id.
    """
    match = _SUBMITTED.fullmatch(stdout)
    if match is None:
        raise SchedulerOutputError("example-submit printed no job id", stdout, argv=argv)
    return match[1]


def parse_status(stdout: str, argv: Sequence[str] = ()) -> dict[str, JobStatus]:
    """Statuses from ``example-status`` lines ``ID STATE EXIT`` (``-`` for no exit code).

    Raises:
        SchedulerOutputError: a line is not of that form.
    """
    statuses: dict[str, JobStatus] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not TASK_ID.fullmatch(parts[0]) or not parts[1].isalpha():
            raise SchedulerOutputError(
                f"example-status line {number} is not 'ID STATE EXIT': {line!r}", stdout, argv=argv
            )
        distributor_id, state, code = parts
        phase = _PHASES.get(state, JobPhase.FINAL)
        exit_code = int(code) if code.lstrip("-").isdigit() else None
        statuses[distributor_id] = JobStatus(
            distributor_id, phase, state, exit_code=exit_code, source="example-status"
        )
    return statuses


def parse_jobs(stdout: str, argv: Sequence[str] = ()) -> list[NamedJob]:
    """Jobs from ``example-jobs`` lines ``ID NAME``, oldest first.

    Raises:
        SchedulerOutputError: a line is not of that form.
    """
    found: dict[int, NamedJob] = {}
    for number, line in enumerate(stdout.splitlines(), 1):
        parts = line.split(" ", 1)
        if not line.strip():
            continue
        if len(parts) != 2 or not TASK_ID.fullmatch(parts[0]) or "." in parts[0]:
            raise SchedulerOutputError(
                f"example-jobs line {number} is not 'ID NAME': {line!r}", stdout, argv=argv
            )
        found[int(parts[0])] = NamedJob(parts[0], parts[1])
    return [found[job] for job in sorted(found)]


class ExampleClient:
    """Runs and parses the Example scheduler's commands.

    Args:
        transport / retry_policy: where and how commands run (default: locally, 4 tries).
    """

    def __init__(
        self, *, transport: Transport | None = None, retry_policy: RetryPolicy | None = None
    ) -> None:
        self.runner = CommandRunner(
            transport,
            retry_policy,
            transient=EXAMPLE_TRANSIENT,
            submit_transient=EXAMPLE_SUBMIT_TRANSIENT,
        )

    def submit(self, script: Path, job_name: str, length: int | None) -> str:
        """Submit `script` (an array of `length` tasks, if given); return the job id."""
        argv = ["example-submit", f"--name={job_name}"]
        if length is not None:
            argv.append(f"--array={length}")
        argv.append(str(script))
        return parse_submit(self.runner.submit(argv).stdout, argv)

    def status(self, distributor_ids: Sequence[str]) -> dict[str, JobStatus]:
        """One ``example-status`` for all ids."""
        if not distributor_ids:
            return {}
        argv = ["example-status", *distributor_ids]
        return parse_status(self.runner.run(argv).stdout, argv)

    def cancel(self, targets: Sequence[str]) -> None:
        """One ``example-cancel`` for jobs and tasks."""
        if targets:
            self.runner.run(["example-cancel", *targets])

    def jobs(self, job_names: Collection[str]) -> list[NamedJob]:
        """The jobs listed under any of `job_names`, oldest first (one ``example-jobs``)."""
        argv = ["example-jobs"]
        listed = parse_jobs(self.runner.run(argv).stdout, argv)
        return [job for job in listed if job.job_name in job_names]
