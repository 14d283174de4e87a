"""`LsfQueue`: limits from ``bqueues -l`` (the fake's queues), tightened by queue parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import QueueLimits, ResourceError
from distributor_lsf import LsfQueue
from distributor_lsf.queue import queue_limits
from distributor_lsf.testing import command_environment, unavailable_reason

BIN = Path(__file__).with_name("bin")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The fake cluster's command environment."""
    return command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))


def test_normal_queue_limits(env: dict[str, str]) -> None:
    """RUNLIMIT, MEMLIMIT and TASKLIMIT of the fake's normal queue become QueueLimits."""
    assert LsfQueue(1, "normal", {"lsf_env": env}).limits == QueueLimits(
        max_memory_bytes=4 * 2**30,
        max_runtime_seconds=720 * 60,
        max_cores=4,
        default_runtime_seconds=60 * 60,
        default_cores=1,
    )
    short = LsfQueue(2, "short", {"lsf_env": env}).limits
    assert (short.max_cores, short.default_runtime_seconds) == (2, 300)
    assert LsfQueue(3, "long", {"lsf_env": env}).limits == QueueLimits()


def test_parameters_tighten_and_validation_names_the_limit(env: dict[str, str]) -> None:
    """max_* parameters only tighten; strict validation names key, value and limit."""
    queue = LsfQueue(1, "normal", {"lsf_env": env, "max_memory": "1G", "max_cores": 16})
    assert queue.limits.max_memory_bytes == 2**30 and queue.limits.max_cores == 4
    valid, message = queue.validate_resources(strict=True, memory="2G", runtime="13h")
    assert not valid
    assert "memory='2GiB' exceeds queue 'normal' limit of 1 GiB" in message
    assert "runtime=46800s exceeds queue 'normal' limit of 43200s" in message
    assert queue.coerce_resources(memory="2G", cores=8) == {
        "memory": "1GiB",
        "runtime": 3600,
        "cores": 4,
    }


def test_unknown_queue_lists_the_real_ones(env: dict[str, str]) -> None:
    """A queue that bqueues does not know is a ResourceError naming the queues that exist."""
    with pytest.raises(ResourceError, match="queues: long, normal, short"):
        LsfQueue(1, "nosuch", {"lsf_env": env})


def test_offline_queue_uses_parameters_only() -> None:
    """discover=False asks no command (no LSF needed) and keeps only the parameters."""
    assert unavailable_reason({"PATH": "/nonexistent"}) is not None
    queue = LsfQueue(1, "anything", {"discover": False, "max_runtime": "1h"})
    assert queue.limits == QueueLimits(max_runtime_seconds=3600)
    assert queue_limits(None, {"max_gpus": 2}).max_gpus == 2
    with pytest.raises(ResourceError):
        LsfQueue(1, "anything", {"discover": False, "max_memory": "lots"})
