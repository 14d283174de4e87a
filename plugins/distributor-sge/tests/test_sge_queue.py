"""SgeQueue: limits read from the real cell, tightened by parameters, and checked requests."""

from __future__ import annotations

from typing import Any

import pytest

from distributor import ClusterQueue, ResourceError, SchedulerOutputError
from distributor_sge import SgeQueue
from distributor_sge.parsers import HostShape, parse_sge_memory
from distributor_sge.queue import queue_limits
from distributor_sge.testing import cell_environment, unavailable_reason

ENV = cell_environment()
QUEUE = ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q")
WHY_NOT = unavailable_reason(QUEUE)
live = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
GIB = 2**30


@live
def test_limits_come_from_the_cell() -> None:
    """Cores are the queue's slots (PE smp offered), the default memory is h_vmem's default,
    runtime is unlimited, and no GPU exists."""
    queue = SgeQueue(3, QUEUE, {})
    assert isinstance(queue, ClusterQueue) and queue.queue_id == 3 and queue.queue_name == QUEUE
    limits = queue.limits
    assert limits.max_cores == int(ENV["DISTRIBUTOR_SGE_SLOTS"])
    assert limits.default_memory_bytes == parse_sge_memory(ENV["DISTRIBUTOR_SGE_VMEM_DEFAULT"])
    assert limits.max_runtime_seconds is None and limits.max_gpus == 0
    assert limits.max_memory_bytes is not None and limits.max_memory_bytes > GIB


@live
def test_parameters_tighten_and_requests_are_checked() -> None:
    """max_* parameters lower the limits; strict validation names the queue and the limit."""
    queue = SgeQueue(1, QUEUE, {"max_memory": "1G", "max_runtime": "1h", "max_cores": 1})
    ok, message = queue.validate_resources(strict=True, memory="2G", runtime=60)
    assert not ok and QUEUE in message and "memory" in message
    coerced = queue.coerce_resources(memory="2G", cores=4, runtime="2h")
    assert coerced == {"memory": "1GiB", "runtime": 3600, "cores": 1}
    assert queue.validate_resources(strict=True, **coerced) == (True, "")
    hostile: dict[str, Any] = {"sge.project": "$(id)"}
    ok, message = queue.validate_resources(strict=False, **hostile)
    assert not ok and "sge.project" in message


@live
def test_unknown_queue_lists_the_real_ones() -> None:
    """A queue the cell does not have raises ResourceError listing those it has."""
    with pytest.raises(ResourceError, match=QUEUE.replace(".", r"\.")) as caught:
        SgeQueue(1, "no-such.q", {})
    assert caught.value.key == "queue" and caught.value.value == "no-such.q"


def test_offline_queue_uses_parameters_only() -> None:
    """discover=False needs no cell: only the parameters limit requests."""
    queue = SgeQueue(1, "any.q", {"discover": False, "max_cores": 8})
    assert queue.limits.max_cores == 8 and queue.limits.max_memory_bytes is None


def test_queue_limits_from_settings() -> None:
    """h_rt and h_vmem of the queue, its hosts' memory and slots, and the PE's slots count."""
    hosts = [
        HostShape("a", 64 * GIB, 16, {"long.q": 16}, {"long.q": ""}),
        HostShape("b", 128 * GIB, 32, {"long.q": 32, "other.q": 64}, {"long.q": "u"}),
        HostShape("c", 512 * GIB, 64, {"other.q": 64}, {"other.q": ""}),
    ]
    settings = {"h_rt": "48:00:00", "h_vmem": "96G", "pe_list": "smp"}
    limits = queue_limits(settings, hosts, "long.q", pe={"slots": "24"}, default_memory=GIB)
    assert (limits.max_runtime_seconds, limits.max_cores) == (48 * 3600, 24)
    assert (limits.max_memory_bytes, limits.default_memory_bytes) == (96 * GIB, GIB)
    single = queue_limits({"h_rt": "INFINITY"}, hosts, "long.q", pe=None)
    assert (single.max_cores, single.max_memory_bytes, single.max_runtime_seconds) == (
        1,
        128 * GIB,
        None,
    )
    with pytest.raises(SchedulerOutputError):
        queue_limits({"h_rt": "soon"}, hosts, "long.q", pe=None)
