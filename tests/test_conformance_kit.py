"""The conformance kit certifies: a correct batch plugin passes every check, and two plugins
broken in ways that matter (every array step sees step 0; limits silently ignored) fail it —
on the checks that name their fault and only those — leaving no task behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distributor import ClusterDistributor, Plugin, normalize_exit_info
from distributor.batch import BatchDistributor, BatchWorkerNode, PollPolicy
from distributor.testing import ConformanceTarget, MemoryQueue, run_live_checks, wait_until_gone
from distributor.testing.checks import check_array, check_memory_limit, check_runtime_limit
from distributor.testing.conformance import PluginConformance
from tests.spawn_scheduler import NoLimitsScheduler, SameStepScheduler, SpawnScheduler

POLICY = PollPolicy(min_interval=0.05, max_interval=0.2, accounting_interval=0.1,
                    accounting_delay=0.5, lost_grace=5.0)  # fmt: skip
CHUNK = 2


def spawn_target(tmp_path: Path, scheduler: SpawnScheduler) -> ConformanceTarget:
    """A target whose distributors all share `scheduler` and one submit root."""

    def make(cluster_name: str = "spawn") -> ClusterDistributor:
        return BatchDistributor(
            cluster_name,
            scheduler,
            submit_root=tmp_path / "root",
            poll_policy=POLICY,
            max_array_size=CHUNK,
        )

    plugin = Plugin("spawn", MemoryQueue, make, BatchWorkerNode, "local processes")
    return ConformanceTarget(
        plugin=plugin,
        make_distributor=make,
        make_queue=lambda: MemoryQueue(1, "default", {"max_memory": "8G", "max_runtime": "1h"}),
        timeout=30,
        poll_interval=0.05,
        scratch=tmp_path / "scratch",
        chunk_size=CHUNK,
        limit_timeout=30,
        limit_hold=3,
    )


@pytest.fixture
def scheduler_factory() -> Iterator[Callable[[type[SpawnScheduler]], SpawnScheduler]]:
    """Builds schedulers and kills whatever they still run at the end."""
    made: list[SpawnScheduler] = []

    def make(kind: type[SpawnScheduler]) -> SpawnScheduler:
        made.append(kind(limit=1000))
        return made[-1]

    yield make
    for scheduler in made:
        scheduler.close()


class TestSpawnPluginPasses(PluginConformance):
    """A correct batch plugin (the worker enforces the limits) passes every check."""

    @pytest.fixture
    def target(self, tmp_path: Path) -> Iterator[ConformanceTarget]:
        scheduler = SpawnScheduler()
        yield spawn_target(tmp_path, scheduler)
        scheduler.close()


def _failed(target: ConformanceTarget) -> dict[str, str]:
    return {r.name: r.error for r in run_live_checks(target) if not r.passed}


def test_a_plugin_whose_steps_all_see_step_0_fails(
    tmp_path: Path, scheduler_factory: Callable[[type[SpawnScheduler]], SpawnScheduler]
) -> None:
    """Every array step told it is step 0 (writing step 0's exit record): the array checks
    fail, saying why, and nothing else does."""
    target = spawn_target(tmp_path, scheduler_factory(SameStepScheduler))
    with pytest.raises(AssertionError, match=r"exited 1 but is reported|never saw their own"):
        check_array(target)
    failed = _failed(target)
    assert set(failed) == {
        "array steps: own index, id and exit info",
        "array longer than the chunk size",
        "task outcome: logs and usage (if claimed)",  # each step's log says "step 0"
    }, failed


def test_a_plugin_that_ignores_limits_fails(
    tmp_path: Path, scheduler_factory: Callable[[type[SpawnScheduler]], SpawnScheduler]
) -> None:
    """Limits neither enforced nor refused: the two limit checks fail, saying so, and only
    they do."""
    target = spawn_target(tmp_path, scheduler_factory(NoLimitsScheduler))
    target.limit_timeout = 10  # what is ignored never comes: do not wait long for it
    with pytest.raises(AssertionError, match="the memory limit was ignored"):
        check_memory_limit(target)
    with pytest.raises(AssertionError, match=r"the limit was ignored|no final exit info"):
        check_runtime_limit(target)
    failed = _failed(target)
    assert set(failed) == {
        "memory limit enforced or refused",
        "runtime limit enforced or refused",
    }, failed


def test_a_failing_check_leaves_no_task_behind(
    tmp_path: Path, scheduler_factory: Callable[[type[SpawnScheduler]], SpawnScheduler]
) -> None:
    """The runtime check times out on a plugin ignoring limits; its task is terminated."""
    scheduler = scheduler_factory(NoLimitsScheduler)
    target = spawn_target(tmp_path, scheduler)
    target.limit_timeout = 2
    with pytest.raises(AssertionError):
        check_runtime_limit(target)
    distributor = target.make_distributor()
    (entry,) = (tmp_path / "root" / "index").iterdir()
    did = entry.name.removesuffix(".json")
    wait_until_gone(distributor, [did], 10, 0.05)
    assert normalize_exit_info(distributor.get_remote_exit_info(did)).error_state == "K"
