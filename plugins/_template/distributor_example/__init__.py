"""The Example scheduler plugin for distributor (template: replace every NotImplementedError)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from distributor import (
    ClusterDistributorFactory,
    ClusterQueueFactory,
    ClusterWorkerNodeFactory,
    LimitedQueue,
    Plugin,
    QueueLimits,
    RemoteExitInfo,
)


class ExampleQueue(LimitedQueue):
    """A queue of the Example scheduler."""

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        limits = QueueLimits()  # read the real limits from the scheduler here
        super().__init__(queue_id, queue_name, parameters, limits=limits)


class ExampleDistributor:
    """Submits to the Example scheduler."""

    def __init__(self, cluster_name: str, *args: Any, **kwargs: Any) -> None:
        self._cluster_name = cluster_name

    @property
    def worker_node_entry_point(self) -> str:
        raise NotImplementedError

    @property
    def cluster_name(self) -> str:
        return self._cluster_name

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        raise NotImplementedError

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        raise NotImplementedError

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        raise NotImplementedError

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        raise NotImplementedError

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        raise NotImplementedError

    def submit_array_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any], array_length: int
    ) -> dict[int, str]:
        raise NotImplementedError

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        raise NotImplementedError


class ExampleWorkerNode:
    """What a task running under the Example scheduler learns about itself."""

    @property
    def distributor_id(self) -> str | None:
        return os.environ.get("EXAMPLE_JOB_ID")

    @property
    def array_step_id(self) -> int | None:
        raise NotImplementedError

    def get_usage_stats(self) -> dict[str, str]:
        raise NotImplementedError

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        raise NotImplementedError

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        raise NotImplementedError


_queue: ClusterQueueFactory = ExampleQueue
_distributor: ClusterDistributorFactory = ExampleDistributor
_worker: ClusterWorkerNodeFactory = ExampleWorkerNode

plugin = Plugin("example", ExampleQueue, ExampleDistributor, ExampleWorkerNode, "Example scheduler")
