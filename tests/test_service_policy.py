"""Priorities with aging and fair share between owners, alone and inside the service."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from distributor.service import Cluster, FairQueue, Service, ServiceConfig, TaskSpec, Throttle
from distributor.testing.faults import FakeDistributor


def test_higher_priority_goes_first_and_lower_still_progresses() -> None:
    """With base 2, priority 2 gets four submissions for each one of priority 0, and goes first."""
    queue = FairQueue(priority_base=2)
    for item in range(100):
        queue.push(item, "owner", 2)
    for item in range(100, 200):
        queue.push(item, "owner", 0)
    order = queue.take(50)
    assert order[:4] == [0, 1, 2, 3]
    assert sum(1 for item in order if item >= 100) == 10


def test_owners_share_equally_whatever_their_backlog() -> None:
    """Two owners alternate even when one has queued a thousand times more work."""
    queue = FairQueue()
    for item in range(10_000):
        queue.push(item, "big", 5)
    for item in range(10_000, 10_010):
        queue.push(item, "small", 0)
    taken = queue.take(20)
    assert sum(1 for item in taken if item >= 10_000) == 10


def test_owner_weights_set_the_shares() -> None:
    """An owner of weight 3 gets three submissions for each one of an owner of weight 1."""
    queue = FairQueue(owner_weights={"a": 3})
    for item in range(400):
        queue.push(item, "a" if item % 2 else "b", 0)
    counts = Counter("a" if item % 2 else "b" for item in queue.take(200))
    assert counts == {"a": 150, "b": 50}


def test_idle_classes_earn_no_credit() -> None:
    """Work arriving after others ran starts now: it does not take over the queue."""
    queue = FairQueue()
    for item in range(100):
        queue.push(item, "early", 0)
    queue.take(60)
    for item in range(100, 200):
        queue.push(item, "late", 0)
    taken = queue.take(20)
    assert 9 <= sum(1 for item in taken if item >= 100) <= 11


def test_discarded_items_are_skipped() -> None:
    """A discarded item never comes out and does not count."""
    queue = FairQueue()
    for item in range(5):
        queue.push(item, "o", 0)
    queue.discard(0)
    queue.discard(3)
    assert len(queue) == 3
    assert queue.take(10) == [1, 2, 4]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(-3, 3)), max_size=200))
def test_every_item_comes_out_once_and_fifo_within_a_class(
    pushes: list[tuple[str, int]],
) -> None:
    """Whatever is pushed comes out exactly once, in arrival order within each class."""
    queue = FairQueue(priority_base=3, owner_weights={"a": 2.5})
    for item, (owner, priority) in enumerate(pushes):
        queue.push(item, owner, priority)
    out = queue.take(len(pushes) + 5)
    assert sorted(out) == list(range(len(pushes)))
    for cls in set(pushes):
        members = [item for item in out if pushes[item] == cls]
        assert members == sorted(members)


def test_long_low_priority_workflow_progresses_while_high_priority_waits(tmp_path: Path) -> None:
    """In the service, a low-priority workflow finishes tasks while high-priority work queues."""
    fake = FakeDistributor("fake")
    cluster = Cluster(fake, throttle=Throttle(max_active=2, submit_chunk=2))
    with Service(tmp_path / "j.db", cluster, config=ServiceConfig()) as svc:
        svc.add(TaskSpec(name=f"low{i}", command="sleep 3600", priority=0, owner="wf-low")
                for i in range(20))  # fmt: skip
        svc.add(TaskSpec(name=f"high{i}", command="true", priority=3, owner="wf-high")
                for i in range(100))  # fmt: skip
        for _ in range(40):
            svc.step()
            for distributor_id in fake.active_ids():
                fake.finish(distributor_id)
        done = {info.name for info in svc.tasks() if info.terminal}
    low_done = sum(1 for name in done if name.startswith("low"))
    high_done = sum(1 for name in done if name.startswith("high"))
    assert high_done < 100, "high-priority work is still queued"
    assert low_done >= 15, f"the low-priority workflow progressed ({low_done} of 20 done)"


def test_priority_within_one_owner_orders_but_does_not_starve(tmp_path: Path) -> None:
    """Within one owner, priority 2 work gets ~4/5 of submissions and priority 0 the rest."""
    fake = FakeDistributor("fake")
    cluster = Cluster(fake, throttle=Throttle(max_active=5, submit_chunk=5))
    with Service(tmp_path / "j.db", cluster) as svc:
        svc.add(TaskSpec(name=f"low{i}", command="a", priority=0) for i in range(100))
        svc.add(TaskSpec(name=f"high{i}", command="b", priority=2) for i in range(100))
        for _ in range(10):
            svc.step()
            for distributor_id in fake.active_ids():
                fake.finish(distributor_id)
    commands = Counter(FakeDistributor.step_command(job) for job in fake.jobs.values())
    assert commands == {"a": 10, "b": 40}
