"""The journal: one controller at a time, reattaching, idempotent adds, events, control requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.exit_info import TaskInstanceStatus
from distributor.service import (
    Cluster,
    DuplicateTaskError,
    Event,
    JournalError,
    JournalLockedError,
    Service,
    TaskSpec,
    TaskStatus,
    UnknownClusterError,
    UnknownTaskError,
)
from distributor.service.journal import Journal
from distributor.testing.faults import FakeLookupDistributor

S = TaskInstanceStatus


def test_a_second_controller_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    """Two controllers on one journal would submit twice: the second one is refused."""
    fake = FakeLookupDistributor("fake")
    with (
        Service(tmp_path / "j.db", Cluster(fake)),
        pytest.raises(JournalLockedError, match=r"pid=\d+"),
    ):
        Service(tmp_path / "j.db", Cluster(fake))
    Service(tmp_path / "j.db", Cluster(fake)).close()


def test_a_new_controller_reattaches_to_work_in_flight(tmp_path: Path) -> None:
    """After a restart, submitted instances are polled, not resubmitted, and finish."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        run_tag = svc.run_tag
        svc.add(TaskSpec(name=f"t{i}", command="x") for i in range(5))
        svc.step()
    assert len(fake.jobs) == 5
    for distributor_id in fake.active_ids():
        fake.finish(distributor_id)
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        assert svc.run_tag == run_tag
        assert svc.summary().active == {"O": 5}
        svc.step()
        assert svc.summary().all_done
    assert len(fake.jobs) == 5


def test_adding_the_same_tasks_again_is_a_no_op(tmp_path: Path) -> None:
    """A restarted engine may add its tasks again: identical definitions are skipped."""
    fake = FakeLookupDistributor("fake")
    specs = [TaskSpec(name=f"t{i}", command=["echo", str(i)], tags=["a"]) for i in range(3)]
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        assert svc.add(specs) == ["t0", "t1", "t2"]
        assert svc.add([*specs, TaskSpec(name="t3", command="x")]) == ["t3"]
        assert svc.summary().total == 4


def test_a_name_reused_for_another_definition_is_refused(tmp_path: Path) -> None:
    """The error names the task and the fields that differ, and nothing is added."""
    with Service(tmp_path / "j.db", Cluster(FakeLookupDistributor("fake"))) as svc:
        svc.add(TaskSpec(name="t", command="x", priority=1))
        with pytest.raises(DuplicateTaskError, match=r"'t'.*command, priority"):
            svc.add([TaskSpec(name="new", command="y"), TaskSpec(name="t", command="z")])
        assert svc.summary().total == 1
        with pytest.raises(DuplicateTaskError, match="given twice"):
            svc.add([TaskSpec(name="u", command="y"), TaskSpec(name="u", command="y")])


def test_tasks_for_an_unknown_cluster_are_refused(tmp_path: Path) -> None:
    """A task naming a cluster the service does not have is refused with the known names."""
    with (
        Service(tmp_path / "j.db", Cluster(FakeLookupDistributor("fake"))) as svc,
        pytest.raises(UnknownClusterError, match=r"'gpu'.*configured: fake"),
    ):
        svc.add(TaskSpec(name="t", command="x", cluster="gpu"))


def test_events_reach_callbacks_and_can_be_read_back_across_restarts(tmp_path: Path) -> None:
    """Callbacks see each committed transition; `events(since)` resumes after a restart."""
    fake = FakeLookupDistributor("fake")
    seen: list[Event] = []
    with Service(tmp_path / "j.db", Cluster(fake), on_event=seen.append) as svc:
        svc.add(TaskSpec(name="t", command="x", tags=["nightly"]))
        svc.step()
        last = seen[-1].seq
    assert [(e.kind, e.new) for e in seen] == [("task", "active"), ("instance", "Q"),
                                               ("instance", "I"), ("instance", "O")]  # fmt: skip
    assert all(e.tags == {"nightly"} for e in seen)
    fake.finish(fake.active_ids()[0])
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        svc.step()
        later = list(svc.events(since=last))
        everything = list(svc.events())
    assert [(e.kind, e.new) for e in later] == [("instance", "D"), ("task", "done")]
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))


def test_a_failing_callback_does_not_stop_the_service(tmp_path: Path) -> None:
    """A callback that raises is logged and the cycle goes on."""

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), on_event=broken) as svc:
        svc.add(TaskSpec(name="t", command="x"))
        svc.step()
        assert len(fake.jobs) == 1


def test_cancel_by_name_and_by_tag(tmp_path: Path) -> None:
    """Cancelling terminates what runs, drops what waits, and leaves finished tasks alone."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        svc.add(TaskSpec(name=f"t{i}", command="x", tags=["batch"] if i else []) for i in range(4))
        svc.step()
        fake.finish(fake.active_ids()[3])
        svc.step()
        assert svc.cancel("t0") == 1
        assert svc.cancel(tag="batch") == 2
        infos = {info.name: info for info in svc.tasks()}
        with pytest.raises(UnknownTaskError, match="'nope'"):
            svc.cancel("nope")
    assert [infos[f"t{i}"].status for i in range(4)] == [TaskStatus.CANCELLED] * 3 + [
        TaskStatus.DONE
    ]
    assert sorted(fake.terminated) == sorted(fake.jobs)[:3]


def test_another_process_cancels_through_a_control_request(tmp_path: Path) -> None:
    """A client adds a request to the journal; the running controller applies it next cycle."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake)) as svc:
        svc.add(TaskSpec(name="t", command="x"))
        svc.step()
        client = Journal(tmp_path / "j.db", role="client")
        client.add_control("cancel", "name", "t")
        client.close()
        svc.step()
        assert svc.task("t").status == TaskStatus.CANCELLED
    assert fake.terminated == list(fake.jobs)


def test_wait_returns_when_the_named_tasks_end(tmp_path: Path) -> None:
    """`wait` runs cycles until the named tasks are terminal, or times out with False."""

    class Instant(FakeLookupDistributor):
        def get_submitted_or_running(self, distributor_ids: object = None) -> set[str]:
            for distributor_id in self.active_ids():
                if self.step_command(self.jobs[distributor_id]) == "quick":
                    self.finish(distributor_id)
            return super().get_submitted_or_running(None)

    with Service(tmp_path / "j.db", Cluster(Instant("fake"))) as svc:
        svc.add([TaskSpec(name="quick", command="quick"), TaskSpec(name="slow", command="slow")])
        assert svc.wait("quick", timeout=10)
        assert not svc.wait(timeout=0.2)
        assert svc.task("slow").instance_status == S.LAUNCHED


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    """Opening something else fails with JournalError naming the file."""
    path = tmp_path / "notes.txt"
    path.write_text("not sqlite at all " * 100)
    with pytest.raises(JournalError, match=r"notes\.txt"):
        Service(path, Cluster(FakeLookupDistributor("fake")))
    with pytest.raises(JournalError, match="does not exist"):
        Journal(tmp_path / "missing.db", role="client")


def test_a_journal_with_tasks_for_a_missing_cluster_is_refused(tmp_path: Path) -> None:
    """Reattaching without a cluster that active tasks need fails, naming it."""
    with Service(tmp_path / "j.db", Cluster(FakeLookupDistributor("a"))) as svc:
        svc.add(TaskSpec(name="t", command="x"))
    with pytest.raises(UnknownClusterError, match="'a'"):
        Service(tmp_path / "j.db", Cluster(FakeLookupDistributor("b")))
    Service(tmp_path / "j.db", Cluster(FakeLookupDistributor("a"))).close()
