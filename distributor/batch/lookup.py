"""`SubmissionLookup`: which jobs a submit root's submissions under given names created.

The answer for a submission whose job key was recorded comes from the submit root's index.
For one whose answer was never recorded (the submitting process died, or the submit command
timed out), the scheduler is asked once for all of them (`BatchScheduler.find_jobs`), and a
job it lists is matched to its task directory by the path the scheduler reports, else by name
and age; a job the scheduler no longer lists is found by the start or exit record its task
wrote. A submission whose submit command may still be running is not declared "never made":
the lookup raises, to be asked again later. Found submissions are recorded, so that the next
lookup asks nothing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from distributor.batch.scheduler import BatchScheduler, NamedJob
from distributor.batch.submit_root import Submission, SubmitRoot, SubmitRootError, TaskDirectory
from distributor.exceptions import SchedulerError, SchedulerOutputError
from distributor.logs import Logger
from distributor.worker.proc import process_start_time
from distributor.worker.record import ExitRecord, StartRecord

__all__ = ["FOREIGN_SUBMIT_WAIT", "SubmissionLookup"]

FOREIGN_SUBMIT_WAIT = 600.0
"""Seconds after its intent that a submit command run on another host may still be running
(its process cannot be seen from here)."""

Register = Callable[[str, Path, "tuple[int, int] | None", str], list[str]]
"""Records a found job: ``(job key, task directory, array, name)`` → its ids in step order."""


class SubmissionLookup:
    """`find_by_name` for one submit root and scheduler (see the module docstring).

    Args:
        root: the submit root.
        scheduler: asked once per lookup, and only about unrecorded submissions.
        register: records a job found for an unrecorded submission and returns its ids.
        log: the owner's bound logger.
    """

    def __init__(
        self,
        root: SubmitRoot,
        scheduler: BatchScheduler,
        register: Register,
        log: Logger,
    ) -> None:
        self._root = root
        self._scheduler = scheduler
        self._register = register
        self._log = log

    def find(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """name → {step → distributor id} for every submission made under each name.

        Raises:
            SchedulerError: the scheduler could not be asked, or a submit command of one of
                the names may still be running.
        """
        found: dict[str, dict[int, str]] = {}
        unresolved: list[Submission] = []
        for name in dict.fromkeys(names):
            for submission in self._root.submissions(name):
                if submission.keys:
                    for key in submission.keys:
                        self._add_steps(found, name, self._root.lookup(key))
                else:
                    unresolved.append(submission)
        if not unresolved:
            return found
        for submission, key in self._link(unresolved):
            try:
                ids = self._register(key, submission.task_dir, submission.array, submission.name)
            except (SchedulerOutputError, SubmitRootError) as exc:
                self._log.error(
                    "submission_not_linked", name=submission.name, job_key=key, error=str(exc)
                )
                continue
            self._log.warning(
                "submission_linked",
                name=submission.name,
                job_key=key,
                task_dir=str(submission.task_dir),
            )
            offset = 0 if submission.array is None else submission.array[0]
            steps = found.setdefault(submission.name, {})
            for index, distributor_id in enumerate(ids):
                steps[offset + index] = distributor_id
        return found

    @staticmethod
    def _add_steps(
        found: dict[str, dict[int, str]], name: str, entry: TaskDirectory | None
    ) -> None:
        if entry is None or not isinstance(entry.meta.get("ids"), list):
            return
        offset = int(entry.meta.get("offset", 0))
        steps = found.setdefault(name, {})
        for index, distributor_id in enumerate(entry.meta["ids"]):
            steps[offset + index] = str(distributor_id)

    def _link(self, unresolved: list[Submission]) -> list[tuple[Submission, str]]:
        """Pair submissions whose answer was lost with the jobs they created."""
        listed = self._scheduler.find_jobs({sub.job_name for sub in unresolved})
        free: dict[str, list[NamedJob]] = {}
        for job in listed:
            if self._root.lookup(job.key) is None:  # not the job of a recorded submission
                free.setdefault(job.job_name, []).append(job)
        links = []
        for submission in unresolved:
            key = self._pick(free.get(submission.job_name, []), submission)
            if key is None:
                key = self._key_from_records(submission.task_dir)
            if key is not None and self._root.lookup(key) is None:
                links.append((submission, key))
            elif key is None:
                self._check_submit_over(submission)
        return links

    @staticmethod
    def _pick(candidates: list[NamedJob], submission: Submission) -> str | None:
        """Take the job of `submission` out of `candidates` (unrecorded jobs of its name,
        oldest first): the one whose reported path lies in its task directory; else, among
        jobs that report no path (another root's or a hand-made job of the same name reports
        its own), the oldest."""
        inside = str(submission.task_dir) + os.sep
        for index, job in enumerate(candidates):
            if job.path is not None and job.path.startswith(inside):
                return candidates.pop(index).key
        for index, job in enumerate(candidates):
            if job.path is None:
                return candidates.pop(index).key
        return None

    def _check_submit_over(self, submission: Submission) -> None:
        """Raise if the submit command of a submission nobody found may still be running: its
        job may yet appear, so "never submitted" cannot be said now.

        Raises:
            SchedulerError: the recorded submit process still runs here, or ran on another
                host whose processes cannot be seen (then until `FOREIGN_SUBMIT_WAIT`).
        """
        process = self._root.submitter(submission.task_dir)
        if process is None:
            return  # the submitting process died before any submit command started
        pid, ticks = int(process.get("pid", 0)), process.get("ticks")
        if process.get("host") == socket.gethostname():
            running = pid > 0 and ticks is not None and process_start_time(pid) == ticks
        else:
            running = time.time() - submission.created < FOREIGN_SUBMIT_WAIT
        if running:
            raise SchedulerError(
                f"the submit command of {submission.name!r} (pid {pid} on "
                f"{process.get('host')}) may still be running: ask again later"
            )

    def _key_from_records(self, task_dir: Path) -> str | None:
        """The job key named by a start or exit record a task of the submission wrote."""
        named: list[str | None] = []
        for path in self._root.glob(task_dir, "started*.json"):
            with contextlib.suppress(SchedulerOutputError):
                text = self._root.read_file(path)
                start = None if text is None else StartRecord.from_json(text)
                named.append(None if start is None else start.distributor_id)
        for path in self._root.glob(task_dir, "exit*.json"):
            with contextlib.suppress(SchedulerOutputError):
                text = self._root.read_file(path)
                end = None if text is None else ExitRecord.from_json(text)
                named.append(None if end is None else end.distributor_id)
        for distributor_id in named:
            key = None if distributor_id is None else self._scheduler.job_key(distributor_id)
            if key is not None:
                return key
        return None
