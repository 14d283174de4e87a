"""The service against a fault-injecting fake scheduler, with crashes and restarts at any step."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from distributor.exit_info import TaskInstanceStatus
from distributor.resources import parse_memory, parse_runtime
from distributor.service import (
    Cluster,
    InDoubtPolicy,
    Service,
    ServiceConfig,
    TaskSpec,
    TaskStatus,
    Throttle,
)
from distributor.testing.faults import (
    FakeDistributor,
    FakeLookupDistributor,
    SimulatedCrash,
)
from distributor.testing.reference import MemoryQueue

S = TaskInstanceStatus
QUEUES = {
    "small": {"max_memory": "8G", "max_runtime": 3600},
    "big": {"max_memory": "32G", "max_runtime": 4 * 3600},
}
OUTCOMES = st.sampled_from([S.DONE, S.DONE, S.ERROR, S.RESOURCE_ERROR, S.UNKNOWN_ERROR,
                            S.ERROR_FATAL, S.KILLED_SELF])  # fmt: skip
FAULTS = st.sampled_from(
    [
        ("submit", "error"),
        ("submit", "refuse"),
        ("submit", "lost_answer"),
        ("submit", "crash_before"),
        ("submit", "crash_after"),
        ("poll", "error"),
        ("poll", "crash_before"),
        ("exit_info", "error"),
        ("exit_info", "not_final"),
        ("exit_info", "crash_before"),
        ("terminate", "error"),
        ("terminate", "crash_before"),
        ("lookup", "error"),
        ("lookup", "crash_before"),
    ]
)


class ServiceMachine(RuleBasedStateMachine):
    """Random tasks, scheduler behaviour, faults and controller crashes; invariants always hold."""

    lookup = True

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="svc-machine-"))
        self.now = 1_000_000.0
        self.fake: FakeDistributor = (FakeLookupDistributor if self.lookup else FakeDistributor)(
            "fake"
        )
        self.specs: dict[str, TaskSpec] = {}
        self.cancelled: set[str] = set()
        self.restarts = 0
        self.svc = self._open()

    def _clock(self) -> float:
        return self.now

    def _open(self) -> Service:
        cluster = Cluster(
            self.fake,
            queue_factory=MemoryQueue,
            queues=QUEUES,
            default_queue="small",
            fallback_queues={"small": ["big"]},
            throttle=Throttle(max_active=6, submit_chunk=4, max_array_size=3),
        )
        config = ServiceConfig(
            lost_grace=30,
            exit_info_deadline=20,
            reconcile_interval=10,
            submit_backoff_max=5,
            synchronous="NORMAL",
            in_doubt=InDoubtPolicy.RETRY,
        )
        return Service(self.dir / "journal.db", cluster, config=config, clock=self._clock)

    def _crash(self) -> None:
        """What kill -9 leaves behind: the journal as committed, nothing in memory."""
        self.svc._journal.close()
        self.restarts += 1
        self.svc = self._open()

    def _do(self, action: Callable[[], object]) -> None:
        try:
            action()
        except SimulatedCrash:
            self._crash()

    def _step(self) -> None:
        self._do(self.svc.step)

    # -- rules ---------------------------------------------------------------------------------

    @rule(
        count=st.integers(1, 4),
        attempts=st.integers(1, 3),
        memory=st.sampled_from(["1G", "3G", "6G"]),
        runtime=st.sampled_from([60, 1800, 3000]),
        priority=st.integers(-1, 2),
    )
    def add_tasks(
        self, count: int, attempts: int, memory: str, runtime: int, priority: int
    ) -> None:
        """Add a few tasks."""
        specs = []
        for _ in range(count):
            name = f"t{len(self.specs)}"
            spec = TaskSpec(name=name, command=f"task-{name}", max_attempts=attempts,
                            priority=priority, owner=f"o{len(self.specs) % 2}",
                            resources={"memory": memory, "runtime": runtime})  # fmt: skip
            self.specs[name] = spec
            specs.append(spec)
        self._do(lambda: self.svc.add(specs))

    @rule()
    def step(self) -> None:
        """Run one cycle."""
        self._step()

    @rule(fault=FAULTS)
    def inject(self, fault: tuple[str, Any]) -> None:
        """Make the next call of one scheduler method misbehave."""
        self.fake.inject(fault[0], fault[1])

    @rule(data=st.data())
    def scheduler_runs(self, data: st.DataObject) -> None:
        """Start some queued jobs."""
        active = self.fake.active_ids()
        if active:
            self.fake.run(*data.draw(st.lists(st.sampled_from(active), max_size=3, unique=True)))

    @rule(data=st.data(), outcome=OUTCOMES)
    def scheduler_ends(self, data: st.DataObject, outcome: TaskInstanceStatus) -> None:
        """End one job the way a scheduler might."""
        active = self.fake.active_ids()
        if active:
            self.fake.finish(data.draw(st.sampled_from(active)), outcome)

    @rule(data=st.data())
    def scheduler_loses(self, data: st.DataObject) -> None:
        """A job vanishes without exit information."""
        active = self.fake.active_ids()
        if active:
            self.fake.lose(data.draw(st.sampled_from(active)))

    @rule(seconds=st.sampled_from([1, 15, 40]))
    def time_passes(self, seconds: int) -> None:
        """The clock moves on (grace periods and deadlines expire)."""
        self.now += seconds

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """Cancel one task."""
        if self.specs:
            name = data.draw(st.sampled_from(sorted(self.specs)))
            self.cancelled.add(name)
            self._do(lambda: self.svc.cancel(name))

    @rule()
    def crash_and_restart(self) -> None:
        """The controller is killed and a new one reattaches to the journal."""
        self._crash()

    # -- invariants ----------------------------------------------------------------------------

    def _rows(self) -> list[tuple[str, int, str, str | None, str, str, str | None]]:
        with sqlite3.connect(self.dir / "journal.db") as db:
            return db.execute(
                "SELECT t.name, i.attempt, i.status, i.distributor_id, i.resources, i.message, "
                "i.queue FROM instances i JOIN tasks t ON t.id = i.task_id ORDER BY t.name, "
                "i.attempt"
            ).fetchall()

    @invariant()
    def attempts_are_bounded_and_submitted_once(self) -> None:
        """Attempts never exceed max_attempts and no scheduler job is unaccounted for."""
        rows = self._rows()
        recorded: dict[str, str] = {}
        attempts: dict[str, list[int]] = {}
        doubtful: dict[str, int] = {}
        for name, attempt, status, did, _, message, _ in rows:
            attempts.setdefault(name, []).append(attempt)
            if did is not None:
                assert did not in recorded, f"{did} recorded twice"
                recorded[did] = name
            if status == S.UNKNOWN_ERROR and "in doubt" in message:
                doubtful[name] = doubtful.get(name, 0) + 1
        for name, numbers in attempts.items():
            assert numbers == list(range(1, len(numbers) + 1)), (name, numbers)
            allowed = self.specs[name].max_attempts or ServiceConfig().max_attempts
            assert len(numbers) <= allowed, (name, numbers)
        with sqlite3.connect(self.dir / "journal.db") as db:
            in_doubt = {name for (name,) in db.execute("SELECT name FROM batches WHERE "
                                                       "state = 'intent'")}  # fmt: skip
        extra: dict[str, int] = {}
        for job in self.fake.jobs.values():
            task = FakeDistributor.step_command(job).removeprefix("task-")
            if job.name in in_doubt:
                continue  # the controller has not seen the answer yet: settled next cycle
            if job.distributor_id in recorded:
                assert recorded[job.distributor_id] == task, (job, recorded[job.distributor_id])
            elif job.distributor_id in self.fake.terminated and task in self.cancelled:
                continue  # submitted while being cancelled, then terminated
            else:
                extra[task] = extra.get(task, 0) + 1
        if self.lookup:
            assert not extra, f"jobs the journal does not know: {extra}"
        else:
            for task, count in extra.items():
                assert count <= doubtful.get(task, 0), (task, count, doubtful)

    @invariant()
    def resource_retries_scale_within_limits(self) -> None:
        """An attempt after Z asks for more memory or runtime, within its queue's limits."""
        rows = self._rows()
        for before, after in itertools.pairwise(rows):
            if before[0] != after[0] or before[2] != S.RESOURCE_ERROR:
                continue
            old, new = json.loads(before[4]), json.loads(after[4])
            grew = parse_memory(new["memory"]) > parse_memory(old["memory"]) or parse_runtime(
                new["runtime"]
            ) > parse_runtime(old["runtime"])
            assert grew, (before, after)
            queue = MemoryQueue(1, after[6] or "", QUEUES[after[6] or "small"])
            assert queue.validate_resources(strict=True, **new) == (True, ""), new

    @invariant()
    def task_states_are_consistent(self) -> None:
        """A terminal task has no live attempt; an active task has exactly one."""
        with sqlite3.connect(self.dir / "journal.db") as db:
            rows = db.execute(
                "SELECT t.name, t.status, SUM(i.status IN ('Q','I','O','R','T')) FROM tasks t "
                "JOIN instances i ON i.task_id = t.id GROUP BY t.id"
            ).fetchall()
        for name, status, live in rows:
            assert live == (1 if status == TaskStatus.ACTIVE else 0), (name, status, live)

    def teardown(self) -> None:
        """Drain: with faults cleared and every job ending D, every task reaches one end state."""
        try:
            self.fake.faults.clear()
            for _ in range(200):
                for distributor_id in self.fake.active_ids():
                    self.fake.finish(distributor_id)
                self.now += 50
                self._step()
                if self.svc.summary().finished:
                    break
            summary = self.svc.summary()
            assert summary.finished, summary
            assert summary.total == len(self.specs)
            infos = {info.name: info for info in self.svc.tasks()}
            ends: dict[str, int] = {}
            for event in self.svc.events():
                if event.kind == "task" and event.new != TaskStatus.ACTIVE:
                    ends[event.task] = ends.get(event.task, 0) + 1
            for name in self.specs:
                assert infos[name].terminal
                assert ends.get(name) == 1, (name, ends.get(name))
                if (
                    name not in self.cancelled
                    and infos[name].status == TaskStatus.CANCELLED
                    and not infos[name].message.startswith("not run: dependency ")
                ):
                    raise AssertionError(f"{name} cancelled without a request")
            self.attempts_are_bounded_and_submitted_once()
        finally:
            self.svc.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class ServiceMachineWithoutLookup(ServiceMachine):
    """The same, against a scheduler that cannot look submissions up by name."""

    lookup = False


_settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestServiceMachine = ServiceMachine.TestCase
TestServiceMachine.settings = _settings
TestServiceMachineWithoutLookup = ServiceMachineWithoutLookup.TestCase
TestServiceMachineWithoutLookup.settings = _settings
