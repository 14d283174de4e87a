"""`MemoryScheduler`: an in-process `BatchScheduler` whose jobs a test moves by hand.

Nothing runs. Submissions are kept as jobs with one state per task; a test starts, ends,
hides and shows them (`run`, `end`, `vanish`, `reappear`) and counts what was asked
(`submissions`, `cancelled`, `calls`). `crash_after_submit` makes the next submission raise
`SimulatedCrash` after the job exists, like a controller killed inside ``sbatch``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest, TaskInstanceStatus
from distributor.batch import BatchJob, JobPhase, JobStatus, NamedJob, TrackedJob, safe_name
from distributor.testing.faults import SimulatedCrash
from distributor.worker import ExitRecord

_ID = re.compile(r"(?P<key>[1-9][0-9]*)(?:\.(?P<task>[0-9]+))?")
_FINAL = {
    "COMPLETED": TaskInstanceStatus.DONE,
    "FAILED": TaskInstanceStatus.ERROR,
    "CANCELLED": TaskInstanceStatus.KILLED_SELF,
    "TIMEOUT": TaskInstanceStatus.RESOURCE_ERROR,
}


@dataclass
class MemoryJob:
    """One submission: its job name and each task's state (``PENDING``, ``RUNNING``, a final
    state, or ``HIDDEN`` while the scheduler does not list it)."""

    key: str
    job_name: str
    array: tuple[int, int] | None
    states: dict[str, str] = field(default_factory=dict)


class MemoryScheduler:
    """A `BatchScheduler` over a dict (see the module docstring)."""

    name = "memory"
    title = "Memory"
    declared_resources: Mapping[str, str] = {}

    def __init__(self, *, limit: int = 1000) -> None:
        self.jobs: dict[str, MemoryJob] = {}
        self.submissions: list[BatchJob] = []
        self.cancelled: list[str] = []
        self.calls: Counter[str] = Counter()
        self.crash_after_submit = False
        self._limit = limit
        self._next = 1

    # --- what the test does --------------------------------------------------------------

    def _set(self, distributor_id: str, state: str) -> None:
        key = self.job_key(distributor_id)
        assert key is not None and distributor_id in self.jobs[key].states
        self.jobs[key].states[distributor_id] = state

    def run(self, distributor_id: str) -> None:
        """The task starts."""
        self._set(distributor_id, "RUNNING")

    def end(self, distributor_id: str, state: str = "COMPLETED") -> None:
        """The task ends in `state` (a key of the state map), still listed."""
        self._set(distributor_id, state)

    def vanish(self, distributor_id: str) -> None:
        """The scheduler stops listing the task, leaving no trace anywhere."""
        self._set(distributor_id, "HIDDEN")

    def reappear(self, distributor_id: str, state: str = "RUNNING") -> None:
        """The task is listed again."""
        self._set(distributor_id, state)

    # --- BatchScheduler ----------------------------------------------------------------

    def job_name(self, name: str) -> str:
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        pass

    def array_limit(self) -> int:
        self.calls["array_limit"] += 1
        return self._limit

    def submit(self, job: BatchJob) -> str:
        self.calls["submit"] += 1
        job.write("job.sh", job.script(distributor_id_expr='"$MEMORY_ID"',
                                       array_step_expr=job.step_expr("MEMORY_INDEX")))  # fmt: skip
        key = str(self._next)
        self._next += 1
        entry = MemoryJob(key, job.job_name, job.array)
        for distributor_id in self.task_ids(key, job.array):
            entry.states[distributor_id] = "PENDING"
        self.jobs[key] = entry
        self.submissions.append(job)
        if self.crash_after_submit:
            self.crash_after_submit = False
            raise SimulatedCrash("killed inside the submit command")
        return key

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        return [key] if array is None else [f"{key}.{index}" for index in range(array[1])]

    def job_key(self, distributor_id: str) -> str | None:
        match = _ID.fullmatch(distributor_id)
        return match["key"] if match else None

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, None]:
        return task_dir / f"out-{0 if index is None else index}.log", None

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        self.calls["status"] += 1
        found = {}
        for distributor_id in distributor_ids:
            key = self.job_key(distributor_id)
            job = self.jobs.get(key) if key is not None else None
            state = job.states.get(distributor_id) if job is not None else None
            if state is None or state == "HIDDEN":
                continue
            phase = {"PENDING": JobPhase.QUEUED, "RUNNING": JobPhase.RUNNING}.get(
                state, JobPhase.FINAL
            )
            found[distributor_id] = JobStatus(distributor_id, phase, state, source="memory")
        return found

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        self.calls["accounting"] += 1
        return {}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        state = _FINAL[status.state]
        return RemoteExitInfo(state, "" if state is TaskInstanceStatus.DONE else status.state)

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
        return {}

    def cancel(self, targets: Sequence[str]) -> None:
        self.calls["cancel"] += 1
        self.cancelled.extend(targets)
        for target in targets:
            job = self.jobs.get(self.job_key(target) or "")
            if job is None:
                continue
            for distributor_id, state in job.states.items():
                if (target in (job.key, distributor_id)) and state in ("PENDING", "RUNNING"):
                    job.states[distributor_id] = "CANCELLED"

    def force_cancel(self, targets: Sequence[str]) -> None:
        self.cancel(targets)

    def find_jobs(self, job_names: Collection[str]) -> Sequence[NamedJob]:
        self.calls["find_jobs"] += 1
        return [
            NamedJob(job.key, job.job_name)
            for job in self.jobs.values()
            if job.job_name in job_names
        ]
