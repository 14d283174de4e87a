"""`SpawnScheduler`: a `BatchScheduler` that runs every task as a local background process.

It stands for a scheduler with no limits of its own (like HTCondor without cgroups), so it
lets the worker enforce them (``runtime_backstop=0``). One instance is "the cluster": every
distributor of a test shares it. Two deliberately broken variants exist to prove that the
conformance kit fails what matters:

* `SameStepScheduler`: every array task is told it is step 0 (and so writes step 0's exit
  record), as a plugin with a wrong index expression would;
* `NoLimitsScheduler`: the job script runs the command without the worker's limits, and the
  scheduler enforces none either: requests are silently ignored.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import subprocess
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from distributor import RemoteExitInfo, ResourceRequest, TaskInstanceStatus
from distributor.batch import (
    BatchJob,
    JobPhase,
    JobScript,
    JobStatus,
    NamedJob,
    TrackedJob,
    command_phrase,
    safe_name,
)
from distributor.worker import ExitRecord

_ID = re.compile(r"(?P<key>[1-9][0-9]*)(?:\.(?P<task>[0-9]+))?")


class SpawnScheduler:
    """Runs each task with ``/bin/sh job.sh`` in its own session (see the module docstring)."""

    name = "spawn"
    title = "Spawn"
    declared_resources: Mapping[str, str] = {}

    def __init__(self, *, limit: int = 1000) -> None:
        self._limit = limit
        self._keys = itertools.count(1)
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._names: dict[str, str] = {}

    def close(self) -> None:
        """Kill every task still running (the end of a test)."""
        for process in self._processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def render(self, job: BatchJob) -> str:
        """The job script (the broken variants change this)."""
        return job.script(
            distributor_id_expr='"$SPAWN_ID"',
            array_step_expr=job.step_expr("SPAWN_INDEX"),
            runtime_backstop=0.0,
            generator="spawn",
        )

    def job_name(self, name: str) -> str:
        return safe_name(name)

    def check_request(self, request: ResourceRequest) -> None:
        pass

    def array_limit(self) -> int:
        return self._limit

    def submit(self, job: BatchJob) -> str:
        script = job.write("job.sh", self.render(job))
        key = str(next(self._keys))
        self._names[key] = job.job_name
        for index, distributor_id in enumerate(self.task_ids(key, job.array)):
            with (job.task_dir / f"out-{index}.log").open("wb") as log:
                self._processes[distributor_id] = subprocess.Popen(
                    ["/bin/sh", str(script)],
                    env={**os.environ, "SPAWN_ID": distributor_id, "SPAWN_INDEX": str(index)},
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        return key

    def task_ids(self, key: str, array: tuple[int, int] | None) -> list[str]:
        return [key] if array is None else [f"{key}.{index}" for index in range(array[1])]

    def job_key(self, distributor_id: str) -> str | None:
        match = _ID.fullmatch(distributor_id)
        return match["key"] if match else None

    def log_paths(self, key: str, task_dir: Path, index: int | None) -> tuple[Path, None]:
        return task_dir / f"out-{0 if index is None else index}.log", None

    def query_status(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        found = {}
        for distributor_id in distributor_ids:
            process = self._processes.get(distributor_id)
            if process is None:
                continue
            code = process.poll()
            if code is None:
                found[distributor_id] = JobStatus(distributor_id, JobPhase.RUNNING, "RUNNING")
            elif code < 0:
                found[distributor_id] = JobStatus(
                    distributor_id, JobPhase.FINAL, "KILLED", signal=-code
                )
            else:
                found[distributor_id] = JobStatus(
                    distributor_id, JobPhase.FINAL, "EXITED", exit_code=code
                )
        return found

    def query_accounting(self, distributor_ids: Sequence[str]) -> Mapping[str, JobStatus]:
        return {}

    def classify(
        self, job: TrackedJob, status: JobStatus, record: ExitRecord | None
    ) -> RemoteExitInfo:
        if job.terminated:
            return RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, "terminated on request")
        if status.exit_code == 0 and (record is None or record.returncode == 0):
            return RemoteExitInfo(TaskInstanceStatus.DONE, "")
        return RemoteExitInfo(TaskInstanceStatus.ERROR, command_phrase(status, record))

    def queueing_errors(self, statuses: Mapping[str, JobStatus]) -> Mapping[str, str]:
        return {}

    def cancel(self, targets: Sequence[str]) -> None:
        for target in targets:
            for distributor_id, process in self._processes.items():
                mine = target in (distributor_id, self.job_key(distributor_id))
                if mine and process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGTERM)

    def force_cancel(self, targets: Sequence[str]) -> None:
        self.cancel(targets)

    def find_jobs(self, job_names: Collection[str]) -> Sequence[NamedJob]:
        return [NamedJob(key, name) for key, name in self._names.items() if name in job_names]


class SameStepScheduler(SpawnScheduler):
    """Broken: every array task is told it is step 0."""

    def render(self, job: BatchJob) -> str:
        return job.script(
            distributor_id_expr='"$SPAWN_ID"',
            array_step_expr=None if job.array is None else "0",
            runtime_backstop=0.0,
        )


class NoLimitsScheduler(SpawnScheduler):
    """Broken: the command runs without the worker's limits, and nothing else enforces any."""

    def render(self, job: BatchJob) -> str:
        return JobScript(
            command=job.command,
            worker=job.worker,
            record=job.record,
            started=job.started,
            distributor_id_expr='"$SPAWN_ID"',
            array_step_expr=job.step_expr("SPAWN_INDEX"),
            label=job.name,
        ).render()
