"""Dependencies: a task starts after its dependencies end done, and is cancelled if one cannot."""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from distributor.exit_info import TaskInstanceStatus
from distributor.service import (
    Cluster,
    DependencyError,
    Service,
    ServiceConfig,
    TaskSpec,
    TaskStatus,
)
from distributor.service.dependencies import Waiting, order
from distributor.testing.faults import FakeDistributor, FakeLookupDistributor
from tests.test_service_machine import ServiceMachine

S = TaskInstanceStatus
CONFIG = ServiceConfig(retry_delay=0.0)


@st.composite
def dags(draw: st.DrawFn, max_size: int = 12) -> dict[str, list[str]]:
    """A random acyclic graph: each task depends only on tasks with a smaller number."""
    size = draw(st.integers(1, max_size))
    graph: dict[str, list[str]] = {}
    for i in range(size):
        earlier = [f"t{j}" for j in range(i)]
        needs = draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else []
        graph[f"t{i}"] = needs
    names = draw(st.permutations(sorted(graph)))
    return {name: graph[name] for name in names}


def _descendants(graph: dict[str, list[str]], roots: set[str]) -> set[str]:
    dependants: dict[str, set[str]] = {}
    for name, needs in graph.items():
        for need in needs:
            dependants.setdefault(need, set()).add(name)
    found, frontier = set(), list(roots)
    while frontier:
        for dependant in dependants.get(frontier.pop(), ()):
            if dependant not in found:
                found.add(dependant)
                frontier.append(dependant)
    return found


# -- the graph ------------------------------------------------------------------------------


@given(dags())
def test_order_puts_every_task_after_its_dependencies(graph: dict[str, list[str]]) -> None:
    """Every task of an acyclic graph appears once, after each task it depends on."""
    ordered = order(graph)
    assert sorted(ordered) == sorted(graph)
    position = {name: i for i, name in enumerate(ordered)}
    for name, needs in graph.items():
        assert all(position[need] < position[name] for need in needs)


@given(dags(), st.data())
def test_a_cycle_is_refused_naming_a_real_one(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    """An edge back from a task to one of its ancestors makes a cycle; the error names a
    cycle of the graph, in order, its first task repeated at the end."""
    low = data.draw(st.sampled_from(sorted(graph)))
    below = sorted(_descendants(graph, {low}))  # the tasks that depend, in the end, on low
    assume(below)
    graph = {**graph, low: [*graph[low], data.draw(st.sampled_from(below))]}
    with pytest.raises(DependencyError, match="a cycle") as caught:
        order(graph)
    cycle = list(caught.value.tasks)
    assert cycle[0] == cycle[-1] and len(cycle) >= 3
    for task, need in itertools.pairwise(cycle):
        assert need in graph[task], (task, need, cycle)


def test_unknown_dependencies_name_the_task_and_the_names() -> None:
    """A dependency that is neither given nor known names the dependant and the unknown name."""
    with pytest.raises(DependencyError, match=r"task 'b' depends on 'nosuch'") as caught:
        order({"a": [], "b": ["a", "nosuch"]}, source="tasks.toml")
    assert caught.value.tasks == ("b", "nosuch")
    assert str(caught.value).startswith("tasks.toml: ")
    assert order({"b": ["a"]}, known={"a"}.__contains__) == ["b"]


@given(dags(), st.data())
def test_waiting_releases_and_cancels_like_the_graph_says(
    graph: dict[str, list[str]], data: st.DataObject
) -> None:
    """Tasks end in a random order the graph allows: a task becomes ready exactly when all it
    depends on ended done, and is doomed (transitively) when one of them did not."""
    ids = {name: i for i, name in enumerate(graph)}
    names = {i: name for name, i in ids.items()}
    waiting = Waiting()
    ready = {
        name
        for name, needs in graph.items()
        if not waiting.wait(ids[name], [ids[n] for n in needs])
    }
    ended: dict[str, bool] = {}
    cancelled: set[str] = set()
    while ready:
        name = data.draw(st.sampled_from(sorted(ready)))
        ready.discard(name)
        done = data.draw(st.booleans())
        ended[name] = done
        frontier = [(name, done)]
        while frontier:
            task, task_done = frontier.pop()
            now_ready, doomed = waiting.ended(ids[task], task_done)
            for i in now_ready:
                assert all(ended.get(n) for n in graph[names[i]]), names[i]
                ready.add(names[i])
            for i in doomed:
                cancelled.add(names[i])
                frontier.append((names[i], False))
    failed = {name for name, done in ended.items() if not done}
    assert cancelled == _descendants(graph, failed) - set(ended)
    assert set(ended) | cancelled == set(graph), "every task ran or was cancelled"
    assert not set(ended) & cancelled
    assert len(waiting) == 0


# -- in the service -------------------------------------------------------------------------


def _finish_all(fake: FakeDistributor, failing: set[str]) -> list[str]:
    """End every active job: D, or E for the tasks in `failing`; return the tasks ended."""
    ended = []
    for distributor_id in fake.active_ids():
        task = FakeDistributor.step_command(fake.jobs[distributor_id]).removeprefix("run-")
        fake.finish(distributor_id, S.ERROR if task in failing else S.DONE)
        ended.append(task)
    return ended


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(max_size=8), st.sets(st.sampled_from([f"t{i}" for i in range(8)])))
def test_the_service_runs_a_graph_in_dependency_order(
    graph: dict[str, list[str]], failing: set[str]
) -> None:
    """Each task runs only after its dependencies ended done; the dependants of a failed task
    are cancelled, with a message naming a dependency, without running; every task ends once."""
    fake = FakeLookupDistributor("fake")
    with tempfile.TemporaryDirectory() as tmp, Service(Path(tmp) / "j.db", Cluster(fake),
                                                       config=CONFIG) as svc:  # fmt: skip
        svc.add(TaskSpec(name=name, command=f"run-{name}", max_attempts=1, depends_on=needs)
                for name, needs in graph.items())  # fmt: skip
        ran: list[str] = []
        for _ in range(3 * len(graph) + 2):
            svc.step()
            ended = _finish_all(fake, failing)
            for task in ended:
                assert all(need in ran and need not in failing for need in graph[task]), task
            ran.extend(ended)
            if svc.summary().finished:
                break
        infos = {info.name: info for info in svc.tasks()}
        ends = [e.task for e in svc.events() if e.kind == "task" and e.new != "active"]
    assert sorted(ends) == sorted(graph), "one end per task"
    failed = {name for name in ran if name in failing}
    doomed = _descendants(graph, failed)
    for name, info in infos.items():
        if name in doomed:
            assert info.status == TaskStatus.CANCELLED and info.attempts == 0, info
            assert info.message.startswith("not run: dependency "), info.message
        else:
            assert info.status == (TaskStatus.FAILED if name in failing else TaskStatus.DONE)
    assert sorted(ran) == sorted(set(graph) - doomed), "each task that could run ran once"


def test_a_waiting_task_shows_what_it_waits_for_and_survives_a_restart(tmp_path: Path) -> None:
    """A task waits without an attempt, says for whom, and still waits for them, then runs,
    under a new controller."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add([TaskSpec(name="a", command="run-a"), TaskSpec(name="b", command="run-b"),
                 TaskSpec(name="c", command="run-c", depends_on=["a", "b"])])  # fmt: skip
        svc.step()
        info = svc.task("c")
        assert (info.attempts, info.instance_status, info.waiting_for) == (0, None, ("a", "b"))
        assert info.message == "waiting for 'a', 'b'"
        assert svc.summary().active == {"O": 2, "waiting": 1}
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.step()
        assert svc.task("c").waiting_for == ("a", "b")
        assert sorted(_finish_all(fake, set())) == ["a", "b"]
        svc.step()  # a and b end; c is submitted in the same cycle
        assert svc.task("c").waiting_for == ()
        assert _finish_all(fake, set()) == ["c"]
        svc.step()
        assert svc.task("c").status == TaskStatus.DONE


def test_dependencies_on_tasks_already_in_the_journal(tmp_path: Path) -> None:
    """A new task that depends on a task that already ended done starts at once; one that
    depends on a failed one is cancelled at once; an unknown name is refused."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add([TaskSpec(name="good", command="run-good", max_attempts=1),
                 TaskSpec(name="bad", command="run-bad", max_attempts=1)])  # fmt: skip
        svc.step()
        _finish_all(fake, {"bad"})
        svc.step()
        svc.add([TaskSpec(name="after-good", command="x", depends_on=["good"]),
                 TaskSpec(name="after-bad", command="x", depends_on=["bad"])])  # fmt: skip
        assert svc.task("after-good").instance_status == S.QUEUED
        info = svc.task("after-bad")
        assert info.status == TaskStatus.CANCELLED
        assert info.message == "not run: dependency 'bad' ended failed"
        with pytest.raises(DependencyError, match=r"'nosuch'.*or the journal"):
            svc.add(TaskSpec(name="x", command="x", depends_on=["nosuch"]))
        with pytest.raises(DependencyError, match=r"a cycle: 'p' → 'q' → 'p'"):
            svc.add([TaskSpec(name="p", command="p", depends_on=["q"]),
                     TaskSpec(name="q", command="q", depends_on=["p"])])  # fmt: skip
        assert [info.name for info in svc.tasks()] == ["good", "bad", "after-good", "after-bad"]


def test_cancelling_a_dependency_cancels_its_dependants_transitively(tmp_path: Path) -> None:
    """a ← b ← c: cancelling a cancels b (naming a) and c (naming b, and a as the cause)."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add([TaskSpec(name="a", command="run-a"),
                 TaskSpec(name="b", command="run-b", depends_on=["a"]),
                 TaskSpec(name="c", command="run-c", depends_on=["b"])])  # fmt: skip
        svc.step()
        svc.cancel("a")
        infos = {info.name: info for info in svc.tasks()}
    assert {name: info.status for name, info in infos.items()} == {
        "a": TaskStatus.CANCELLED, "b": TaskStatus.CANCELLED, "c": TaskStatus.CANCELLED,
    }  # fmt: skip
    assert infos["b"].message == "not run: dependency 'a' ended cancelled"
    assert infos["c"].message == (
        "not run: dependency 'b' ended cancelled (because 'a' ended cancelled)"
    )


def test_a_dependency_in_a_later_chunk_is_recorded_first(tmp_path: Path) -> None:
    """Tasks given dependants first are recorded dependencies first (a crash leaves a prefix
    that is closed under dependencies), and run in that order."""
    fake = FakeLookupDistributor("fake")
    with Service(tmp_path / "j.db", Cluster(fake), config=CONFIG) as svc:
        svc.add([TaskSpec(name="late", command="run-late", depends_on=["early"]),
                 TaskSpec(name="early", command="run-early")])  # fmt: skip
        assert [info.name for info in svc.tasks()] == ["early", "late"]


# -- with faults and crashes ------------------------------------------------------------------


class DependentServiceMachine(ServiceMachine):
    """The service machine (faults, crashes at any step, restarts), with tasks that depend
    on earlier ones; delayed retries come with the clock the machine moves."""

    @rule(data=st.data(), count=st.integers(1, 3))
    def add_dependent_tasks(self, data: st.DataObject, count: int) -> None:
        """Add a few tasks, each depending on some tasks added before (in any state)."""
        if not self.specs:
            return
        specs = []
        for _ in range(count):
            name = f"t{len(self.specs)}"
            needs = data.draw(st.lists(st.sampled_from(sorted(self.specs)), max_size=3))
            spec = TaskSpec(name=name, command=f"task-{name}", max_attempts=2, depends_on=needs,
                            resources={"memory": "1G", "runtime": 60})  # fmt: skip
            self.specs[name] = spec
            specs.append(spec)
        self._do(lambda: self.svc.add(specs))

    @invariant()
    def dependencies_hold(self) -> None:
        """A task has an attempt only if every dependency ended done; an active task depends
        only on active or done tasks; a task cancelled by a dependency never ran."""
        with sqlite3.connect(self.dir / "journal.db") as db:
            rows = db.execute(
                "SELECT w.name, w.status, w.attempts, w.message, n.status FROM dependencies d "
                "JOIN tasks w ON w.id = d.task_id JOIN tasks n ON n.id = d.needs"
            ).fetchall()
        for name, status, attempts, message, need in rows:
            if attempts:
                assert need == TaskStatus.DONE, (name, need)
            if status == TaskStatus.ACTIVE:
                assert need in (TaskStatus.ACTIVE, TaskStatus.DONE), (name, need)
            if message.startswith("not run: dependency "):
                assert (status, attempts) == (TaskStatus.CANCELLED, 0), (name, status)


TestDependentServiceMachine = DependentServiceMachine.TestCase
TestDependentServiceMachine.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
