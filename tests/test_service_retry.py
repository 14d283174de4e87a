"""Retries: which end states are retried, and how resources grow after a resource error (Z)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.exit_info import TaskInstanceStatus
from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, TaskStatus
from distributor.service.retry import decide
from distributor.service.sizing import scaled_request
from distributor.testing.faults import FakeDistributor
from distributor.testing.reference import MemoryQueue

S = TaskInstanceStatus


def _cluster(fallbacks: list[str] | None = None) -> Cluster:
    return Cluster(
        FakeDistributor("fake"),
        queue_factory=MemoryQueue,
        queues={
            "small": {"max_memory": "8G", "max_runtime": 3600},
            "medium": {"max_memory": "12G", "max_runtime": 7200},
            "big": {"max_memory": "64G", "max_runtime": 86400},
        },
        default_queue="small",
        fallback_queues={"small": fallbacks if fallbacks is not None else ["medium", "big"]},
    )


def test_scaling_multiplies_memory_and_runtime() -> None:
    """Memory and runtime grow by the factor (memory rounded up to MiB) in the same queue."""
    sized = scaled_request(_cluster(), "small", {"memory": "2GiB", "runtime": 600,
                                                 "queue": "small"}, 1.5)  # fmt: skip
    assert sized.resources == {"memory": "3GiB", "runtime": 900, "queue": "small", "cores": 1}
    assert sized.queue == "small"
    assert "scaled ×1.5" in sized.message


def test_scaling_past_the_limit_moves_to_the_first_fallback_that_fits() -> None:
    """A request that outgrows its queue goes to the first fallback queue that grants it."""
    sized = scaled_request(_cluster(), "small", {"memory": "7GiB", "runtime": 600,
                                                 "queue": "small"}, 1.5)  # fmt: skip
    assert sized.queue == "medium"
    assert sized.resources == {"memory": "10752MiB", "runtime": 900, "queue": "medium", "cores": 1}
    assert "fallback queue 'medium'" in sized.message


def test_without_a_fitting_fallback_the_request_is_clamped_if_that_still_grows_it() -> None:
    """With no fallback, the scaled request is clamped to the queue's limit when that is bigger."""
    sized = scaled_request(_cluster([]), "small", {"memory": "6GiB", "runtime": 3000,
                                                   "queue": "small"}, 1.5)  # fmt: skip
    assert sized.resources == {"memory": "8GiB", "runtime": 3600, "queue": "small", "cores": 1}
    assert "clamped" in sized.message


def test_at_the_limit_with_nothing_bigger_the_task_fails_with_the_reason() -> None:
    """A Z at the biggest request any queue grants is not retried, and the message says why."""
    sized = scaled_request(_cluster([]), "small", {"memory": "8GiB", "runtime": 3600,
                                                   "queue": "small"}, 1.5)  # fmt: skip
    assert sized.resources is None
    assert "no queue grants" in sized.message and "'small'" in sized.message
    assert "memory=8GiB" in sized.message


def test_nothing_to_scale_is_said_plainly() -> None:
    """A Z without memory or runtime in the request cannot be scaled; the message says so."""
    sized = scaled_request(_cluster(), "small", {"cores": 1, "queue": "small"}, 1.5)
    assert sized.resources is None
    assert "neither memory nor runtime" in sized.message


@pytest.mark.parametrize(
    ("ended", "attempt", "expected"),
    [
        (S.DONE, 1, TaskStatus.DONE),
        (S.ERROR, 1, TaskStatus.ACTIVE),
        (S.UNKNOWN_ERROR, 2, TaskStatus.ACTIVE),
        (S.NO_DISTRIBUTOR_ID, 1, TaskStatus.ACTIVE),
        (S.RESOURCE_ERROR, 1, TaskStatus.ACTIVE),
        (S.ERROR, 3, TaskStatus.FAILED),
        (S.ERROR_FATAL, 1, TaskStatus.FAILED),
        (S.KILLED_SELF, 1, TaskStatus.FAILED),
    ],
)
def test_which_end_states_are_retried(
    ended: TaskInstanceStatus, attempt: int, expected: TaskStatus
) -> None:
    """E, U, W and Z are retried while attempts remain; F and K never; D ends the task."""
    decision = decide(ended, "why", attempt=attempt, max_attempts=3, cancel_requested=False,
                      cluster=_cluster(), queue="small",
                      resources={"memory": "1GiB", "runtime": 60, "queue": "small"},
                      scale_factor=1.5)  # fmt: skip
    assert decision.status == expected


def test_a_cancel_request_wins_over_a_retry() -> None:
    """An attempt of a task being cancelled is never retried."""
    decision = decide(S.ERROR, "", attempt=1, max_attempts=3, cancel_requested=True,
                      cluster=_cluster(), queue=None, resources={}, scale_factor=1.5)  # fmt: skip
    assert decision.status == TaskStatus.CANCELLED


def test_resource_errors_walk_up_the_queues_in_the_service(tmp_path: Path) -> None:
    """Z after Z: 6G in small → 9G in medium → 13.5G in big, each attempt journaled."""
    cluster = _cluster()
    fake = cluster.distributor
    assert isinstance(fake, FakeDistributor)
    with Service(tmp_path / "j.db", cluster, config=ServiceConfig(retry_delay=0)) as svc:
        svc.add(TaskSpec(name="hungry", command="x", max_attempts=4,
                         resources={"memory": "6G", "runtime": 60}))  # fmt: skip
        seen: list[dict[str, object]] = []
        for _ in range(4):
            svc.step()
            (distributor_id,) = fake.active_ids()
            seen.append(fake.jobs[distributor_id].resources)
            fake.finish(distributor_id, S.RESOURCE_ERROR, "out of memory")
        svc.step()
        info = svc.task("hungry")
    assert [(r["queue"], r["memory"]) for r in seen] == [
        ("small", "6GiB"), ("medium", "9GiB"), ("big", "13824MiB"), ("big", "20736MiB"),
    ]  # fmt: skip
    assert info.status == TaskStatus.FAILED
    assert info.attempts == 4
    assert "no attempts left" in info.message
