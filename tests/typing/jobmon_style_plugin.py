"""A plugin written to Jobmon's documented ``cluster_protocol`` signatures; `mypy --strict` must
accept it against the factory protocols.

The types are Jobmon's: ``List[str]`` and ``Dict[str, Any]`` parameters, ``Optional``, and the
``(cluster_name: str, *args: str, **kwargs: str)`` constructor. Where Jobmon writes a bare
``Dict`` or ``List`` this file writes ``Dict[Any, Any]`` / ``List[Any]``, which is what the bare
form means (``mypy --strict`` refuses the bare form in any module, ours or not).
"""

# ruff: noqa: UP006, UP007, UP035, UP045 - Jobmon's spelling (typing.List, Dict, Optional, Union) on purpose

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple, Union

import distributor as d


class JobmonStyleQueue:
    """A queue typed as Jobmon documents ``ClusterQueue``."""

    def __init__(self, queue_id: int, queue_name: str, parameters: Dict[Any, Any]) -> None:
        self._id, self._name, self._params = queue_id, queue_name, parameters

    def validate_resources(
        self, strict: bool = False, **kwargs: Union[str, int, float]
    ) -> Tuple[bool, str]:
        return True, ""

    def coerce_resources(self, **kwargs: Union[str, int, float]) -> Dict[Any, Any]:
        return dict(kwargs)

    @property
    def parameters(self) -> Dict[Any, Any]:
        return self._params

    @property
    def queue_name(self) -> str:
        return self._name

    @property
    def queue_id(self) -> int:
        return self._id

    @property
    def required_resources(self) -> List[Any]:
        return []


class JobmonStyleDistributor:
    """A distributor typed as Jobmon documents ``ClusterDistributor``."""

    def __init__(self, cluster_name: str, *args: str, **kwargs: str) -> None:
        self._cluster_name = cluster_name

    @property
    def worker_node_entry_point(self) -> str:
        return "/usr/bin/worker_node_entry_point"

    @property
    def cluster_name(self) -> str:
        return self._cluster_name

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def get_queueing_errors(self, distributor_ids: List[str]) -> Dict[str, str]:
        return {}

    def get_submitted_or_running(self, distributor_ids: Optional[List[str]] = None) -> Set[str]:
        return set()

    def terminate_task_instances(self, distributor_ids: List[str]) -> None:
        return None

    def get_remote_exit_info(self, distributor_id: str) -> Union[d.RemoteExitInfo, Tuple[str, str]]:
        return ("U", "this distributor runs nothing")

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Dict[str, Any]
    ) -> str:
        raise d.SubmissionError("refuses everything", name=name)

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Dict[str, Any],
        array_length: int,
    ) -> Dict[int, str]:
        raise d.SubmissionError("refuses everything", name=name)

    def build_worker_node_command(
        self,
        task_instance_id: Optional[int] = None,
        array_id: Optional[int] = None,
        batch_number: Optional[int] = None,
    ) -> str:
        return self.worker_node_entry_point


class JobmonStyleWorkerNode:
    """A worker node typed as Jobmon documents ``ClusterWorkerNode``."""

    @property
    def distributor_id(self) -> Optional[str]:
        return None

    def get_usage_stats(self) -> Dict[Any, Any]:
        return {}

    def get_exit_info(self, exit_code: int, error_msg: str) -> Tuple[str, str]:
        return ("D", "") if exit_code == 0 else ("E", error_msg)

    def initialize_logfile(self, log_type: str, log_dir: str, name: str) -> str:
        return f"{log_dir}/{name}.{log_type}"

    @property
    def array_step_id(self) -> Optional[int]:
        return None


_queue: d.ClusterQueueFactory = JobmonStyleQueue
_distributor: d.ClusterDistributorFactory = JobmonStyleDistributor
_worker: d.ClusterWorkerNodeFactory = JobmonStyleWorkerNode

plugin = d.Plugin("jobmon_style", JobmonStyleQueue, JobmonStyleDistributor, JobmonStyleWorkerNode)
