"""A plugin written against the public API alone; `mypy --strict` must accept it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import distributor as d


class TidyQueue:
    """A queue with fixed limits."""

    def __init__(self, queue_id: int, queue_name: str, parameters: Mapping[str, Any]) -> None:
        self._id, self._name, self._params = queue_id, queue_name, dict(parameters)
        self._limits = d.QueueLimits(max_cores=4)

    def validate_resources(self, strict: bool = False, **resources: Any) -> tuple[bool, str]:
        return d.validate_request(resources, self._limits, self._name, strict=strict)

    def coerce_resources(self, **resources: Any) -> dict[str, Any]:
        return d.coerce_request(resources, self._limits, self._name)

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self._params

    @property
    def queue_name(self) -> str:
        return self._name

    @property
    def queue_id(self) -> int:
        return self._id

    @property
    def required_resources(self) -> list[str]:
        return []


class TidyDistributor:
    """A distributor that refuses every submission (the types are what is under test)."""

    def __init__(self, cluster_name: str, *, verbose: bool = False) -> None:
        self._cluster_name = cluster_name

    @property
    def worker_node_entry_point(self) -> str:
        return "/usr/bin/distributor-worker"

    @property
    def cluster_name(self) -> str:
        return self._cluster_name

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        return {}

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        return set()

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        return None

    def get_remote_exit_info(self, distributor_id: str) -> tuple[str, str]:
        return ("U", "this tidy distributor runs nothing")

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        raise d.SubmissionError("tidy refuses everything", name=name)

    def submit_array_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any], array_length: int
    ) -> dict[int, str]:
        raise d.SubmissionError("tidy refuses everything", name=name)

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        return self.worker_node_entry_point


class TidyWorkerNode:
    """A worker node outside any scheduler."""

    @property
    def distributor_id(self) -> str | None:
        return None

    @property
    def array_step_id(self) -> int | None:
        return None

    def get_usage_stats(self) -> dict[str, str]:
        return {"maxrss": "0", "cpu": "0", "usage_str": "{}"}

    def get_exit_info(self, exit_code: int, error_msg: str) -> tuple[str, str]:
        return ("D", "") if exit_code == 0 else ("E", error_msg)

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        return f"{log_dir}/{name}.{log_type}"


_queue: d.ClusterQueueFactory = TidyQueue
_distributor: d.ClusterDistributorFactory = TidyDistributor
_worker: d.ClusterWorkerNodeFactory = TidyWorkerNode

plugin = d.Plugin("tidy", TidyQueue, TidyDistributor, TidyWorkerNode)
