"""HTCondorQueue: limits and defaults from queue parameters, declared pass-through keys."""

from __future__ import annotations

from typing import Any

import pytest

from distributor import ResourceError
from distributor_htcondor import HTCondorQueue


def test_limits_come_from_parameters() -> None:
    """max_* bound a request and default_* fill in what it leaves out."""
    queue = HTCondorQueue(
        3,
        "short",
        {
            "max_memory": "8G",
            "max_runtime": "2h",
            "max_cores": 16,
            "max_gpus": 0,
            "default_memory": "1G",
            "default_runtime": "10m",
        },
    )
    assert queue.queue_name == "short" and queue.queue_id == 3
    assert queue.required_resources == []
    assert queue.coerce_resources() == {"memory": "1GiB", "runtime": 600, "cores": 1}
    valid, message = queue.validate_resources(strict=True, memory="9G")
    assert not valid and "'short'" in message and "8 GiB" in message
    assert queue.coerce_resources(memory="9G", runtime="3h", cores=32, gpus=2) == {
        "memory": "8GiB",
        "runtime": 7200,
        "cores": 16,
        "gpus": 0,
    }


def test_defaults_are_clamped_into_the_maxima() -> None:
    """A default above its maximum is lowered to it."""
    queue = HTCondorQueue(1, "q", {"max_memory": "1G", "default_memory": "4G", "max_cores": 2})
    assert queue.coerce_resources() == {"memory": "1GiB", "cores": 1}


def test_no_parameters_means_no_limits() -> None:
    """Without parameters anything well-formed is valid and only cores get a default."""
    queue = HTCondorQueue(1, "htcondor", {})
    assert queue.validate_resources(strict=True, memory="4T", runtime="30d", cores=512) == (
        True,
        "",
    )
    assert queue.coerce_resources() == {"cores": 1}


def test_declared_keys_are_validated() -> None:
    """accounting_group and concurrency_limits pass through when they have a safe shape."""
    queue = HTCondorQueue(1, "q", {})
    good: dict[str, Any] = {"htcondor.accounting_group": "group_cms.alice"}
    assert queue.validate_resources(**good)[0]
    bad: dict[str, Any] = {"htcondor.accounting_group": "a b"}
    valid, message = queue.validate_resources(**bad)
    assert not valid and "htcondor.accounting_group" in message
    unknown: dict[str, Any] = {"htcondor.requirements": "true"}
    valid, message = queue.validate_resources(**unknown)
    assert not valid and "unknown resource key" in message


@pytest.mark.parametrize(
    ("parameters", "key"),
    [({"max_memory": "lots"}, "max_memory"), ({"maxmemory": "1G"}, "maxmemory")],
)
def test_bad_parameters_are_refused(parameters: dict[str, str], key: str) -> None:
    """Unknown or malformed parameters raise ResourceError naming the parameter."""
    with pytest.raises(ResourceError) as caught:
        HTCondorQueue(1, "q", parameters)
    assert caught.value.key == key
