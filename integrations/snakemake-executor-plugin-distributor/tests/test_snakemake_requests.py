"""Snakemake resources become distributor requests (the executor plugin's ``requests``)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import ResourceError, load_plugin, parse_memory, parse_request
from snakemake_executor_plugin_distributor import RequestPolicy, job_request

SLURM = RequestPolicy(plugin="slurm", memory_overhead_mib=256)


def test_threads_memory_runtime_gpus_and_queue_are_mapped() -> None:
    """threads → cores, mem_mib + overhead → memory, runtime minutes → seconds, gpu → gpus,
    partition → queue."""
    request = job_request(
        {"mem_mib": 1000, "mem_mb": 1049, "runtime": 90, "gpu": 2, "partition": "debug"},
        4,
        SLURM,
    )
    assert request == {
        "cores": 4,
        "memory": "1256M",
        "runtime": 5400,
        "gpus": 2,
        "queue": "debug",
    }


def test_without_memory_no_memory_is_asked() -> None:
    """A job without mem_mb asks for no memory: the cluster's default applies."""
    assert job_request({"_cores": 1, "_nodes": 1, "tmpdir": "/tmp"}, 1, SLURM) == {"cores": 1}


@given(megabytes=st.integers(min_value=1, max_value=10**9))
def test_mem_mb_is_decimal_megabytes_rounded_up_to_mib(megabytes: int) -> None:
    """mem_mb (decimal MB) becomes at least as many bytes, less than one MiB more, plus the
    overhead."""
    policy = RequestPolicy(plugin="local", memory_overhead_mib=130)
    asked = parse_memory(job_request({"mem_mb": megabytes}, 1, policy)["memory"])
    wanted = megabytes * 10**6 + 130 * 2**20
    assert wanted <= asked < wanted + 2**20


@given(minutes=st.integers(min_value=1, max_value=10**6))
def test_runtime_minutes_round_trip_through_the_parser(minutes: int) -> None:
    """The runtime request parses back to the job's minutes."""
    request = job_request({"runtime": minutes}, 1, SLURM)
    assert parse_request(request).runtime_seconds == minutes * 60


def test_own_plugin_keys_pass_through_and_others_are_left_out() -> None:
    """slurm_account → slurm.account on Slurm; sge_project is left out there; slurm_partition
    names the queue."""
    request = job_request(
        {"slurm_account": "proj42", "sge_project": "p", "slurm_partition": "long"}, 1, SLURM
    )
    assert request == {"cores": 1, "slurm.account": "proj42", "queue": "long"}


def test_pass_through_keys_are_checked_by_the_plugin_queue() -> None:
    """The request validates against the real Slurm queue's declared keys, without asking a
    cluster (discover = False)."""
    queue = load_plugin("slurm").queue(1, "debug", {"discover": False})
    request = job_request({"slurm_account": "proj42", "slurm_qos": "high"}, 2, SLURM)
    assert queue.validate_resources(strict=True, **request) == (True, "")
    bad = job_request({"slurm_acount": "proj42"}, 2, SLURM)
    valid, message = queue.validate_resources(strict=True, **bad)
    assert not valid and "slurm.acount" in message


def test_cluster_defaults_lie_under_the_job_resources() -> None:
    """The cluster's defaults fill what the job does not set."""
    policy = RequestPolicy(plugin="slurm", defaults={"slurm.account": "a", "runtime": "1h"})
    assert job_request({"runtime": 5}, 1, policy) == {
        "cores": 1,
        "slurm.account": "a",
        "runtime": 300,
    }


@pytest.mark.parametrize(
    ("resources", "key"),
    [({"nodes": 2}, "nodes"), ({"tasks": 8}, "tasks"), ({"mpi": "mpiexec"}, "mpi")],
)
def test_multi_node_and_mpi_are_refused(resources: dict[str, object], key: str) -> None:
    """Multi-node and MPI requests raise ResourceError naming the key and saying why."""
    with pytest.raises(ResourceError, match="multi-node and MPI jobs are not supported") as info:
        job_request(resources, 1, SLURM)
    assert info.value.key == key


def test_one_node_and_one_task_are_fine() -> None:
    """nodes=1 and tasks=1 are single-node requests."""
    assert job_request({"nodes": 1, "tasks": 1}, 1, SLURM) == {"cores": 1}


def test_two_queues_are_refused() -> None:
    """queue and partition naming different queues is an error naming both."""
    with pytest.raises(ResourceError, match="more than one queue"):
        job_request({"queue": "a", "partition": "b"}, 1, SLURM)


@given(value=st.one_of(st.text(max_size=5), st.floats(allow_nan=True), st.booleans()))
def test_malformed_runtime_is_a_resource_error(value: object) -> None:
    """A runtime that is not a positive number is a ResourceError, never a crash."""
    if isinstance(value, float) and math.isfinite(value) and value >= 1:
        return
    with pytest.raises(ResourceError):
        job_request({"runtime": value}, 1, SLURM)
