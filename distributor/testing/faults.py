"""An in-memory scheduler with faults on demand, for testing code that drives distributors.

`FakeDistributor` implements `ClusterDistributor` and nothing else; `FakeLookupDistributor`
adds the optional ``find_by_name`` (the service's lookup) and ``get_running``. Nothing
runs: a test decides when jobs start and how they end (`run`, `finish`, `lose`), or sets
``instant`` so every job ends ``D`` as soon as it is polled.

Faults are queued per method with `inject` and consumed by the next call:

* ``"error"``: raise `SchedulerError` (the scheduler could not be asked);
* ``"refuse"``: submission only; raise `SubmissionError` (nothing was created);
* ``"lost_answer"``: submission only; create the jobs, then raise `SchedulerError` (the
  caller cannot know whether it worked);
* ``"crash_before"`` / ``"crash_after"``: raise `SimulatedCrash` (a `BaseException`, like
  ``kill -9`` of the caller) before doing anything / after creating the jobs;
* ``"not_final"``: exit info only; answer with ``finalized=False`` once.

`step_command` decodes which command one array step runs, so tests can tell which task a
job belongs to without a shell.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from distributor.exceptions import (
    RemoteExitInfoNotAvailable,
    SchedulerError,
    SubmissionError,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus

__all__ = [
    "Fault",
    "FakeDistributor",
    "FakeJob",
    "FakeLookupDistributor",
    "SimulatedCrash",
    "Submission",
]

Fault = Literal["error", "refuse", "lost_answer", "crash_before", "crash_after", "not_final"]
_BRANCH = re.compile(r"^(\d+)\) (?:export [^\n]*?; )*exec /bin/sh -c (.*) ;;$")


class SimulatedCrash(BaseException):
    """The calling process "dies" here: nothing after the call runs."""


@dataclass
class FakeJob:
    """One job (one array step) the fake scheduler holds."""

    distributor_id: str
    name: str
    step: int | None
    command: str
    resources: dict[str, Any]
    state: Literal["queued", "running", "ended", "lost"] = "queued"
    outcome: RemoteExitInfo | None = None


@dataclass
class Submission:
    """One accepted submission call."""

    name: str
    command: str
    resources: dict[str, Any]
    ids: dict[int, str] = field(default_factory=dict)


class FakeDistributor:
    """A scheduler in memory: jobs change state only when the test says so (or `instant`)."""

    def __init__(
        self, cluster_name: str = "fake", *args: Any, instant: bool = False, **kwargs: Any
    ) -> None:
        self._cluster_name = cluster_name
        self.instant = instant
        self.jobs: dict[str, FakeJob] = {}
        self.submissions: list[Submission] = []
        self.terminated: list[str] = []
        self.faults: dict[str, list[Fault]] = defaultdict(list)
        self.calls: dict[str, int] = defaultdict(int)
        self._ids = itertools.count(1)

    # -- test controls -------------------------------------------------------------------------

    def inject(self, method: str, *faults: Fault) -> None:
        """Queue faults for the next calls of `method` (e.g. ``"submit"``, ``"poll"``)."""
        self.faults[method].extend(faults)

    def _fault(self, method: str) -> Fault | None:
        self.calls[method] += 1
        queue = self.faults.get(method)
        return queue.pop(0) if queue else None

    def run(self, *ids: str) -> None:
        """Mark queued jobs running (all queued jobs when no id is given)."""
        for job in self._select(ids):
            if job.state == "queued":
                job.state = "running"

    def finish(
        self,
        distributor_id: str,
        state: TaskInstanceStatus = TaskInstanceStatus.DONE,
        message: str = "",
    ) -> None:
        """End a queued or running job with `state`."""
        job = self.jobs[distributor_id]
        if job.state in ("queued", "running"):
            job.state = "ended"
            job.outcome = RemoteExitInfo(state, message or ("" if state == "D" else "fake"))

    def lose(self, distributor_id: str) -> None:
        """Make a job vanish without exit information (a lost job)."""
        job = self.jobs[distributor_id]
        if job.state in ("queued", "running"):
            job.state = "lost"

    def active_ids(self) -> list[str]:
        """Ids queued or running."""
        return [i for i, job in self.jobs.items() if job.state in ("queued", "running")]

    def _select(self, ids: Sequence[str]) -> list[FakeJob]:
        return [self.jobs[i] for i in ids] if ids else list(self.jobs.values())

    @staticmethod
    def step_command(job: FakeJob) -> str:
        """The command the job runs: its array step's branch of a dispatching command."""
        if not job.command.startswith("case ") or job.step is None:
            return job.command
        for line in job.command.splitlines():
            match = _BRANCH.match(line)
            if match and int(match.group(1)) == job.step:
                return shlex.split(match.group(2))[0]
        raise AssertionError(f"no branch for step {job.step} in {job.command!r}")

    # -- ClusterDistributor ----------------------------------------------------------------------

    @property
    def worker_node_entry_point(self) -> str:
        """Not used: nothing runs."""
        return "/bin/true"

    @property
    def cluster_name(self) -> str:
        """The name given at construction."""
        return self._cluster_name

    def start(self) -> None:
        """Nothing to acquire."""

    def stop(self) -> None:
        """Nothing to release."""

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Never any."""
        if self._fault("queueing_errors") == "error":
            raise SchedulerError("fake: queueing errors unavailable")
        return {}

    def _poll(self, distributor_ids: Sequence[str] | None) -> dict[str, FakeJob]:
        fault = self._fault("poll")
        if fault == "error":
            raise SchedulerError("fake: scheduler unreachable")
        if fault in ("crash_before", "crash_after"):
            raise SimulatedCrash("poll")
        if self.instant:
            for job in self.jobs.values():
                if job.state in ("queued", "running"):
                    job.state, job.outcome = "ended", RemoteExitInfo(TaskInstanceStatus.DONE, "")
        ids = self.jobs.keys() if distributor_ids is None else distributor_ids
        jobs = (self.jobs.get(i) for i in ids)
        return {
            j.distributor_id: j for j in jobs if j is not None and j.state in ("queued", "running")
        }

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids queued or running."""
        return set(self._poll(distributor_ids))

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """End the jobs ``K``; unknown or ended ids are ignored."""
        fault = self._fault("terminate")
        if fault == "error":
            raise SchedulerError("fake: cannot terminate")
        if fault in ("crash_before", "crash_after"):
            raise SimulatedCrash("terminate")
        for distributor_id in distributor_ids:
            self.terminated.append(distributor_id)
            job = self.jobs.get(distributor_id)
            if job is not None and job.state in ("queued", "running"):
                job.state = "ended"
                job.outcome = RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, "terminated")

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """The outcome a test set with `finish`."""
        fault = self._fault("exit_info")
        if fault == "error":
            raise SchedulerError("fake: accounting unavailable")
        if fault in ("crash_before", "crash_after"):
            raise SimulatedCrash("exit_info")
        job = self.jobs.get(distributor_id)
        if job is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        if job.state in ("queued", "running"):
            raise RemoteExitInfoNotAvailable(distributor_id, f"still {job.state}")
        if job.state == "lost" or job.outcome is None:
            raise RemoteExitInfoNotAvailable(distributor_id, "the scheduler forgot it")
        if fault == "not_final":
            return RemoteExitInfo(job.outcome.error_state, job.outcome.error_message, False)
        return job.outcome

    def _submit(
        self, command: str, name: str, resources: Mapping[str, Any], steps: Sequence[int | None]
    ) -> dict[int, str]:
        fault = self._fault("submit")
        if fault == "error":
            raise SchedulerError("fake: submission timed out before anything happened")
        if fault == "refuse":
            raise SubmissionError(f"fake: refused {name!r}", name=name)
        if fault == "crash_before":
            raise SimulatedCrash("submit (before)")
        submission = Submission(name, command, dict(resources))
        for index, step in enumerate(steps):
            distributor_id = f"{self._cluster_name}-{next(self._ids)}"
            self.jobs[distributor_id] = FakeJob(
                distributor_id, name, step, command, submission.resources
            )
            submission.ids[index] = distributor_id
        self.submissions.append(submission)
        if fault == "crash_after":
            raise SimulatedCrash("submit (after)")
        if fault == "lost_answer":
            raise SchedulerError("fake: submitted, but the answer was lost")
        return submission.ids

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Queue one job."""
        return self._submit(command, name, requested_resources, [None])[0]

    def submit_array_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any], array_length: int
    ) -> dict[int, str]:
        """Queue `array_length` jobs, one per step."""
        return self._submit(command, name, requested_resources, list(range(array_length)))

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """Not used: nothing runs."""
        return "/bin/true"


class FakeLookupDistributor(FakeDistributor):
    """`FakeDistributor` that can look submissions up by name and tell queued from running."""

    def find_by_name(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """Every job ever submitted under each name (ended ones included)."""
        fault = self._fault("lookup")
        if fault == "error":
            raise SchedulerError("fake: lookup unavailable")
        if fault in ("crash_before", "crash_after"):
            raise SimulatedCrash("lookup")
        wanted = set(names)
        found: dict[str, dict[int, str]] = {}
        for job in self.jobs.values():
            if job.name in wanted:
                found.setdefault(job.name, {})[job.step or 0] = job.distributor_id
        return found

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """The subset of `distributor_ids` that is running."""
        if self._fault("running") == "error":
            raise SchedulerError("fake: scheduler unreachable")
        return {i for i in distributor_ids if i in self.jobs and self.jobs[i].state == "running"}
