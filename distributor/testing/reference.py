"""A tiny reference plugin that runs commands as local child processes and keeps state in memory.

It exists to show the smallest complete implementation of the contracts and to prove the
conformance kit; use the ``local`` plugin for real work (it survives its controller). Its
"state" is this process's memory, shared by every distributor of one cluster name, so a new
distributor answers for the ids of an earlier one, as the kit requires. Each command runs under
``distributor-worker``, which enforces the memory and runtime requests and records how the
command ended.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor.exceptions import (
    RemoteExitInfoNotAvailable,
    ResourceError,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus
from distributor.limited_queue import LimitedQueue
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
)
from distributor.resources import QueueLimits, ResourceRequest, format_bytes, parse_request
from distributor.worker.record import read_exit_record

__all__ = ["MemoryDistributor", "MemoryQueue", "MemoryWorkerNode", "reference_plugin"]


class MemoryQueue(LimitedQueue):
    """A queue limited by its parameters ``max_memory``, ``max_runtime`` and ``max_cores``."""

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        request = parse_request(
            {
                "memory": parameters.get("max_memory"),
                "runtime": parameters.get("max_runtime"),
                "cores": parameters.get("max_cores"),
            }
        )
        limits = QueueLimits(
            max_memory_bytes=request.memory_bytes,
            max_runtime_seconds=request.runtime_seconds,
            max_cores=request.cores,
            max_gpus=0,
        )
        super().__init__(queue_id, queue_name, parameters, limits=limits)


@dataclass
class _Cluster:
    """What every `MemoryDistributor` of one cluster name shares."""

    records: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    terminated: set[str] = field(default_factory=set)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


_CLUSTERS: dict[str, _Cluster] = {}


class MemoryDistributor:
    """Runs each command under ``distributor-worker`` with ``sh -c`` in its own session; its
    state lives in this process, shared by all distributors of the same cluster name."""

    def __init__(self, cluster_name: str) -> None:
        self._cluster_name = cluster_name
        if cluster_name not in _CLUSTERS:
            _CLUSTERS[cluster_name] = _Cluster(Path(tempfile.mkdtemp(prefix="distributor-ref-")))
        self._state = _CLUSTERS[cluster_name]

    @property
    def worker_node_entry_point(self) -> str:
        """The ``distributor-worker`` script beside this interpreter (or on PATH)."""
        beside = Path(sys.executable).with_name("distributor-worker")
        return str(beside) if beside.exists() else shutil.which("distributor-worker") or str(beside)

    @property
    def cluster_name(self) -> str:
        """The name given at construction."""
        return self._cluster_name

    def start(self) -> None:
        """Nothing to acquire."""

    def stop(self) -> None:
        """Nothing to release; running children keep running."""

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Nothing ever waits in a queue here."""
        return {}

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids whose process has not exited."""
        processes = self._state.processes
        ids = processes if distributor_ids is None else distributor_ids
        return {i for i in ids if i in processes and processes[i].poll() is None}

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """SIGKILL each task's process group."""
        for distributor_id in distributor_ids:
            process = self._state.processes.get(distributor_id)
            if process is None or process.poll() is not None:
                continue
            self._state.terminated.add(distributor_id)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """Classify how the task ended, from the worker's record (a limit it enforced is
        ``Z``) and the process's status."""
        process = self._state.processes.get(distributor_id)
        if process is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        status = process.poll()
        if status is None:
            raise RemoteExitInfoNotAvailable(distributor_id, "still running")
        if distributor_id in self._state.terminated:
            return RemoteExitInfo(TaskInstanceStatus.KILLED_SELF, "terminated on request")
        record = read_exit_record(self._state.records / f"{distributor_id}.json")
        if record is not None and record.exceeded == "memory":
            return RemoteExitInfo(
                TaskInstanceStatus.RESOURCE_ERROR,
                f"memory limit of {format_bytes(int(record.limit))} exceeded",
            )
        if record is not None and record.exceeded == "runtime":
            return RemoteExitInfo(
                TaskInstanceStatus.RESOURCE_ERROR, f"runtime limit of {record.limit:g}s exceeded"
            )
        if status == 0:
            return RemoteExitInfo(TaskInstanceStatus.DONE, "")
        if status < 0:
            name = signal.Signals(-status).name
            return RemoteExitInfo(TaskInstanceStatus.ERROR, f"killed by signal {name}")
        return RemoteExitInfo(TaskInstanceStatus.ERROR, f"exited with status {status}")

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Start `command` now, under its memory and runtime request."""
        return self._spawn(command, {}, parse_request(requested_resources))

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Start `array_length` copies of `command`, each with its step in the environment."""
        request = parse_request(requested_resources)
        if array_length < 1:
            raise ResourceError("array_length", array_length, "must be at least 1")
        return {
            step: self._spawn(command, {"DISTRIBUTOR_ARRAY_STEP_ID": str(step)}, request)
            for step in range(array_length)
        }

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """A ``distributor-worker`` invocation carrying the given ids."""
        argv = [self.worker_node_entry_point]
        for flag, value in (
            ("--task-instance-id", task_instance_id),
            ("--array-id", array_id),
            ("--batch-number", batch_number),
        ):
            if value is not None:
                argv += [flag, str(value)]
        return shlex.join(argv)

    def _spawn(self, command: str, extra_env: Mapping[str, str], request: ResourceRequest) -> str:
        distributor_id = f"mem-{next(self._state.ids)}"
        env = {**os.environ, **extra_env, "DISTRIBUTOR_ID": distributor_id}
        argv = [self.worker_node_entry_point, "--record"]
        argv.append(str(self._state.records / f"{distributor_id}.json"))
        if request.memory_bytes is not None:
            argv += ["--memory-limit", str(request.memory_bytes)]
        if request.runtime_seconds is not None:
            argv += ["--runtime-limit", str(request.runtime_seconds), "--kill-grace", "2"]
        self._state.processes[distributor_id] = subprocess.Popen(
            [*argv, "--", "/bin/sh", "-c", command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return distributor_id


class MemoryWorkerNode:
    """Reads its ids from ``DISTRIBUTOR_ID`` and ``DISTRIBUTOR_ARRAY_STEP_ID``."""

    @property
    def distributor_id(self) -> str | None:
        """``DISTRIBUTOR_ID`` from the environment."""
        return os.environ.get("DISTRIBUTOR_ID")

    @property
    def array_step_id(self) -> int | None:
        """``DISTRIBUTOR_ARRAY_STEP_ID`` from the environment, as an int."""
        step = os.environ.get("DISTRIBUTOR_ARRAY_STEP_ID")
        return int(step) if step is not None and step.isdigit() else None

    def get_usage_stats(self) -> dict[str, str]:
        """Usage of this process and its waited-for children, from ``getrusage``."""
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        maxrss = max(own.ru_maxrss, children.ru_maxrss) * 1024  # Linux reports KiB
        cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
        raw = {"maxrss_bytes": maxrss, "cpu_seconds": cpu}
        return {"maxrss": str(maxrss), "cpu": f"{cpu:.3f}", "usage_str": json.dumps(raw)}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        """``D`` for 0, otherwise ``E`` with the code and message."""
        if exit_code == 0:
            return TaskInstanceStatus.DONE.value, ""
        return TaskInstanceStatus.ERROR.value, f"exited with status {exit_code}: {error_msg}"

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        """``<log_dir>/<name>.<log_type>``, creating the directory."""
        directory = Path(log_dir)
        directory.mkdir(parents=True, exist_ok=True)
        return str((directory / f"{name}.{log_type}").resolve())


_queue: ClusterQueueFactory = MemoryQueue
_distributor: ClusterDistributorFactory = MemoryDistributor
_worker: ClusterWorkerNodeFactory = MemoryWorkerNode

reference_plugin = Plugin(
    name="memory",
    queue=MemoryQueue,
    distributor=MemoryDistributor,
    worker_node=MemoryWorkerNode,
    description="In-memory reference plugin for the conformance kit (not for production).",
)
