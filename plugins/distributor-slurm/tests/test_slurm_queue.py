"""SlurmQueue: partition limits read from the cluster, tightened by parameters, keys checked."""

from __future__ import annotations

from typing import Any

import pytest

from distributor import ResourceError, SchedulerOutputError
from distributor_slurm import SlurmQueue
from distributor_slurm.parsers import NodeShape
from distributor_slurm.queue import partition_limits
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
GIB = 2**30


@live
def test_limits_come_from_the_partition_and_its_nodes() -> None:
    """The dev cluster's debug partition: 1 h, 10 min default, the node's CPUs and memory."""
    queue = SlurmQueue(1, "debug", {"slurm_conf": SLURM_CONF})
    limits = queue.limits
    assert limits.max_runtime_seconds == 3600 and limits.default_runtime_seconds == 600
    assert limits.max_cores is not None and limits.max_cores >= 1
    assert limits.max_memory_bytes is not None and limits.max_memory_bytes > 0
    assert limits.max_gpus == 0
    ok, message = queue.validate_resources(strict=True, runtime="2h")
    assert not ok and "runtime=7200s exceeds queue 'debug' limit of 3600s" in message
    assert queue.coerce_resources(runtime="2h")["runtime"] == 3600
    assert SlurmQueue(2, "long", {"slurm_conf": SLURM_CONF}).limits.max_runtime_seconds == 172800


@live
def test_unknown_partition_names_the_real_ones() -> None:
    """A partition that does not exist raises ResourceError listing those that do."""
    with pytest.raises(ResourceError, match="partitions: debug, long, urgent"):
        SlurmQueue(1, "nosuch", {"slurm_conf": SLURM_CONF})


def test_parameters_tighten_without_a_cluster() -> None:
    """discover=False uses only the parameters; they are limits, not defaults."""
    queue = SlurmQueue(1, "p", {"discover": False, "max_memory": "4G", "max_cores": 8})
    assert queue.limits.max_memory_bytes == 4 * GIB and queue.limits.max_cores == 8
    assert queue.limits.default_memory_bytes is None
    assert queue.coerce_resources(memory="9G", cores=2) == {"memory": "4GiB", "cores": 2}
    assert queue.required_resources == [] and queue.queue_name == "p" and queue.queue_id == 1


def test_pass_through_keys_are_checked_for_shape() -> None:
    """Declared Slurm keys validate by shape; unknown ones are errors with a suggestion."""
    queue = SlurmQueue(1, "p", {"discover": False})
    good: dict[str, Any] = {"slurm.account": "proj_1", "slurm.array_cap": 5}
    assert queue.validate_resources(False, **good) == (True, "")
    typo: dict[str, Any] = {"slurm.acount": "x"}
    ok, message = queue.validate_resources(False, **typo)
    assert not ok and "did you mean 'slurm.account'" in message
    spaced: dict[str, Any] = {"slurm.qos": "a b"}
    ok, message = queue.validate_resources(False, **spaced)
    assert not ok and "slurm.qos" in message


def test_partition_limits_from_settings() -> None:
    """Per-CPU memory limits scale with the cores; defaults come from DefMemPerCPU/DefaultTime."""
    settings = {
        "PartitionName": "p",
        "MaxTime": "2-00:00:00",
        "DefaultTime": "00:30:00",
        "MaxMemPerCPU": "2048",
        "DefMemPerCPU": "1024",
        "MaxCPUsPerNode": "16",
    }
    limits = partition_limits(settings, [NodeShape(32, 256 * GIB, 4), NodeShape(8, 64 * GIB, 0)])
    assert limits.max_cores == 16 and limits.max_memory_bytes == 32 * GIB
    assert limits.max_gpus == 4 and limits.default_memory_bytes == GIB
    assert limits.max_runtime_seconds == 172800 and limits.default_runtime_seconds == 1800
    with pytest.raises(SchedulerOutputError, match="MaxTime=forever"):
        partition_limits({"MaxTime": "forever"}, [])
