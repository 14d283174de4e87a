"""PbsQueue: limits from ``qstat -Q -f`` of the fake server, tightened by queue parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import ResourceError, SchedulerOutputError
from distributor_pbs import PbsClient, PbsQueue
from distributor_pbs.queue import queue_limits
from distributor_pbs.testing import fake_environment

FAKES = Path(__file__).parent / "fakes"
GIB = 2**30


@pytest.fixture(params=["pro", "torque"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> PbsClient:
    """A client of a fake server with a 2-hour, 16 GiB, 8-core queue ``short``."""
    queues = {
        "short": {
            "resources_max.walltime": "02:00:00",
            "resources_max.mem": "16gb",
            "resources_max.ncpus": "8",
            "resources_default.walltime": "00:30:00",
            "resources_default.mem": "1gb",
        },
        "route": {"queue_type": "Route"},
    }
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=request.param, queues=queues)
    return PbsClient(environment=env)


def test_limits_come_from_the_queue(client: PbsClient) -> None:
    """resources_max and resources_default of the queue become its limits and defaults."""
    limits = PbsQueue(1, "short", {}, client=client).limits
    assert (limits.max_runtime_seconds, limits.max_memory_bytes, limits.max_cores) == (
        7200,
        16 * GIB,
        8,
    )
    assert (limits.default_runtime_seconds, limits.default_memory_bytes) == (1800, GIB)


def test_parameters_tighten_the_limits(client: PbsClient) -> None:
    """max_* parameters narrow the server's limits and pull the defaults inside them."""
    queue = PbsQueue(1, "short", {"max_memory": "512M", "max_runtime": "20m"}, client=client)
    assert (queue.limits.max_memory_bytes, queue.limits.max_runtime_seconds) == (2**29, 1200)
    assert (queue.limits.default_memory_bytes, queue.limits.default_runtime_seconds) == (
        2**29,
        1200,
    )
    assert queue.limits.max_cores == 8


def test_validation_names_the_queue_limit(client: PbsClient) -> None:
    """A request over a limit is invalid when strict, and coerced into the limit otherwise."""
    queue = PbsQueue(1, "short", {}, client=client)
    valid, message = queue.validate_resources(strict=True, memory="32G", runtime="3h")
    assert not valid
    assert "memory='32GiB' exceeds queue 'short' limit of 16 GiB" in message
    assert "runtime=10800s exceeds queue 'short' limit of 7200s" in message
    assert queue.coerce_resources(memory="32G", runtime="3h") == {
        "memory": "16GiB",
        "runtime": 7200,
        "cores": 1,
    }


def test_unknown_queue_lists_the_real_ones(client: PbsClient) -> None:
    """Asking for a queue the server lacks names the queues it has."""
    with pytest.raises(ResourceError, match="queues: route, short"):
        PbsQueue(1, "nosuch", {}, client=client)


def test_queue_without_limits_is_unlimited(client: PbsClient) -> None:
    """A queue that states no resources_max has no limits (one core by default)."""
    limits = PbsQueue(1, "route", {}, client=client).limits
    assert (limits.max_memory_bytes, limits.max_runtime_seconds, limits.default_cores) == (
        None,
        None,
        1,
    )


def test_discover_false_uses_only_parameters() -> None:
    """discover=False never runs a command: the parameters are the limits."""
    queue = PbsQueue(1, "workq", {"discover": False, "max_cores": 4, "max_gpus": 1})
    assert (queue.limits.max_cores, queue.limits.max_gpus, queue.limits.max_memory_bytes) == (
        4,
        1,
        None,
    )


def test_malformed_limits_raise_with_the_attributes() -> None:
    """A limit PBS would never print raises SchedulerOutputError carrying the attributes."""
    with pytest.raises(SchedulerOutputError, match=r"resources_max\.mem = lots"):
        queue_limits({"resources_max.mem": "lots"})
