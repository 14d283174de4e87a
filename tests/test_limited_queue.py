"""LimitedQueue: a complete ClusterQueue from limits, declared keys and required keys."""

from __future__ import annotations

from distributor import ClusterQueue, LimitedQueue, QueueLimits


def make() -> LimitedQueue:
    """A queue with a 4-core limit, one declared key and `runtime` required."""
    return LimitedQueue(
        7, "batch", {"site": "x"}, limits=QueueLimits(max_cores=4),
        declared={"site.project": r"[a-z]+"}, required=["runtime"],
    )  # fmt: skip


def test_is_a_cluster_queue() -> None:
    """It satisfies the protocol and reports what it was given."""
    queue = make()
    assert isinstance(queue, ClusterQueue)
    assert (queue.queue_id, queue.queue_name, dict(queue.parameters)) == (7, "batch", {"site": "x"})
    assert queue.required_resources == ["runtime"]


def test_required_keys_are_enforced() -> None:
    """A request without a required key is invalid and the message names it."""
    assert make().validate_resources(cores=1) == (False, "queue 'batch' requires runtime")


def test_declared_keys_pass_and_limits_clamp() -> None:
    """Declared keys are accepted with the right shape; values are clamped into the limits."""
    queue = make()
    assert queue.validate_resources(strict=True, runtime=60, **{"site.project": "abc"}) == (
        True,
        "",
    )
    coerced = queue.coerce_resources(runtime=60, cores=16, **{"site.project": "abc"})
    assert coerced == {"runtime": 60, "cores": 4, "site.project": "abc"}
