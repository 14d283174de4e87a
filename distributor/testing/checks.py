"""The live checks of the conformance kit, as plain functions (no pytest, no hypothesis).

Each check takes a `ConformanceTarget` and raises ``AssertionError`` with a sentence saying what
the plugin got wrong. `run_live_checks` runs them all and reports each outcome; the pytest suite
in `distributor.testing.conformance` and ``distributor check`` both use them.
"""

from __future__ import annotations

import shlex
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from distributor.exceptions import (
    DistributorError,
    RemoteExitInfoNotAvailable,
    UnknownDistributorIdError,
)
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.plugin import Plugin
from distributor.protocols import (
    ClusterDistributor,
    ClusterQueue,
    ClusterWorkerNode,
    SupportsRunningQuery,
)
from distributor.registry import check_plugin

__all__ = [
    "LIVE_CHECKS",
    "CheckResult",
    "ConformanceTarget",
    "run_live_checks",
    "wait_for_exit_info",
    "wait_until_gone",
]


@dataclass
class ConformanceTarget:
    """What the kit needs to exercise a plugin.

    Attributes:
        plugin: the plugin under test.
        make_distributor: builds a fresh distributor (the kit calls ``start``/``stop``).
        make_queue: builds a queue that `resources` fits.
        resources: a modest request every check submits with (``{}`` if the queue needs none).
        timeout: seconds to wait for any one task to finish (a real scheduler is slower).
    """

    plugin: Plugin
    make_distributor: Callable[[], ClusterDistributor]
    make_queue: Callable[[], ClusterQueue]
    resources: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    poll_interval: float = 0.1


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome; `error` is empty when it passed."""

    name: str
    passed: bool
    seconds: float
    error: str = ""


@contextmanager
def started(target: ConformanceTarget) -> Iterator[ClusterDistributor]:
    """Yield a started distributor and stop it afterwards."""
    distributor = target.make_distributor()
    distributor.start()
    try:
        yield distributor
    finally:
        distributor.stop()


def wait_for_exit_info(
    distributor: ClusterDistributor, distributor_id: str, timeout: float, interval: float = 0.1
) -> RemoteExitInfo:
    """Poll until `distributor_id` has finalized exit info; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = "never answered"
    while time.monotonic() < deadline:
        try:
            info = normalize_exit_info(distributor.get_remote_exit_info(distributor_id))
        except RemoteExitInfoNotAvailable as exc:
            last = str(exc)
        else:
            if info.finalized:
                return info
            last = f"non-final {info}"
        time.sleep(interval)
    raise AssertionError(f"no final exit info for {distributor_id!r} after {timeout}s ({last})")


def wait_until_gone(
    distributor: ClusterDistributor, ids: list[str], timeout: float, interval: float = 0.1
) -> None:
    """Poll until none of `ids` is reported submitted or running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not distributor.get_submitted_or_running(ids):
            return
        time.sleep(interval)
    left = sorted(distributor.get_submitted_or_running(ids))
    raise AssertionError(f"still submitted or running after {timeout}s: {left}")


def wait_until_running(
    distributor: SupportsRunningQuery, ids: list[str], timeout: float, interval: float = 0.1
) -> None:
    """Poll until every one of `ids` is reported running (`SupportsRunningQuery`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if distributor.get_running(ids) >= set(ids):
            return
        time.sleep(interval)
    left = sorted(set(ids) - distributor.get_running(ids))
    raise AssertionError(f"not running after {timeout}s: {left}")


def _marker() -> str:
    return f"conformance-{uuid.uuid4().hex[:8]}"


def check_plugin_shape(target: ConformanceTarget) -> None:
    """The plugin object and the objects its factories build have every contract member."""
    check_plugin(target.plugin)
    queue = target.make_queue()
    assert isinstance(queue, ClusterQueue), "queue lacks ClusterQueue members"
    distributor = target.make_distributor()
    assert isinstance(distributor, ClusterDistributor), (
        "distributor lacks ClusterDistributor members"
    )
    worker = target.plugin.worker_node()
    assert isinstance(worker, ClusterWorkerNode), "worker node lacks ClusterWorkerNode members"
    assert isinstance(queue.queue_name, str)
    assert isinstance(queue.queue_id, int)
    assert isinstance(queue.required_resources, list)


def check_worker_node_command(target: ConformanceTarget) -> None:
    """build_worker_node_command returns a shell-parsable invocation of the entry point."""
    distributor = target.make_distributor()
    command = distributor.build_worker_node_command(task_instance_id=7, array_id=3, batch_number=1)
    argv = shlex.split(command)
    assert argv, "build_worker_node_command returned an empty command"
    assert argv[0] == distributor.worker_node_entry_point, (
        f"command {command!r} does not start with worker_node_entry_point "
        f"{distributor.worker_node_entry_point!r}"
    )
    assert "7" in argv, f"task_instance_id 7 missing from {command!r}"


def check_submit_done(target: ConformanceTarget) -> None:
    """A command exiting 0 ends with exit info D."""
    with started(target) as distributor:
        did = distributor.submit_to_batch_distributor("true", _marker(), target.resources)
        assert isinstance(did, str) and did, f"submit returned {did!r}, not a non-empty str"
        info = wait_for_exit_info(distributor, did, target.timeout, target.poll_interval)
        assert info.error_state == TaskInstanceStatus.DONE, f"exit 0 reported as {info}"


def check_submit_exit_3(target: ConformanceTarget) -> None:
    """A command exiting 3 ends with exit info E whose message carries the code."""
    with started(target) as distributor:
        did = distributor.submit_to_batch_distributor("exit 3", _marker(), target.resources)
        info = wait_for_exit_info(distributor, did, target.timeout, target.poll_interval)
        assert info.error_state == TaskInstanceStatus.ERROR, f"exit 3 reported as {info}"
        assert "3" in info.error_message, f"exit code missing from message {info.error_message!r}"


def check_array(target: ConformanceTarget) -> None:
    """An array of 3 returns steps 0..2 with unique ids, each finishing D."""
    with started(target) as distributor:
        steps = distributor.submit_array_to_batch_distributor(
            'test -n "$DISTRIBUTOR_ARRAY_STEP_ID"', _marker(), target.resources, 3
        )
        assert sorted(steps) == [0, 1, 2], f"array steps {sorted(steps)} are not 0..2"
        assert len(set(steps.values())) == 3, f"array ids are not unique: {steps}"
        for did in steps.values():
            info = wait_for_exit_info(distributor, did, target.timeout, target.poll_interval)
            assert info.error_state == TaskInstanceStatus.DONE, f"array step {did}: {info}"


def check_submitted_or_running(target: ConformanceTarget) -> None:
    """A sleeping task is reported submitted/running, and not any more once it has ended."""
    with started(target) as distributor:
        did = distributor.submit_to_batch_distributor("sleep 2", _marker(), target.resources)
        assert did in distributor.get_submitted_or_running([did]), "fresh task not reported"
        assert did in distributor.get_submitted_or_running(), "ids=None does not include task"
        wait_until_gone(distributor, [did], target.timeout, target.poll_interval)
        wait_for_exit_info(distributor, did, target.timeout, target.poll_interval)


def check_terminate(target: ConformanceTarget) -> None:
    """A terminated task leaves the queue and ends with exit info K."""
    with started(target) as distributor:
        did = distributor.submit_to_batch_distributor("sleep 300", _marker(), target.resources)
        time.sleep(min(1.0, target.poll_interval * 5))
        distributor.terminate_task_instances([did])
        wait_until_gone(distributor, [did], target.timeout, target.poll_interval)
        info = wait_for_exit_info(distributor, did, target.timeout, target.poll_interval)
        assert info.error_state == TaskInstanceStatus.KILLED_SELF, f"terminated task: {info}"
        distributor.terminate_task_instances([did])  # finished ids are ignored


def check_unknown_id(target: ConformanceTarget) -> None:
    """Unknown ids are not running, and asking their exit info raises a distributor error."""
    with started(target) as distributor:
        bogus = "no-such-id-4242"
        assert bogus not in distributor.get_submitted_or_running([bogus])
        try:
            distributor.get_remote_exit_info(bogus)
        except (UnknownDistributorIdError, RemoteExitInfoNotAvailable):
            return
        except DistributorError as exc:  # another precise error is acceptable
            assert bogus in str(exc), f"error for unknown id does not name it: {exc}"
            return
        raise AssertionError("get_remote_exit_info of an unknown id returned instead of raising")


LIVE_CHECKS: tuple[tuple[str, Callable[[ConformanceTarget], None]], ...] = (
    ("plugin shape", check_plugin_shape),
    ("worker node command", check_worker_node_command),
    ("exit 0 → D", check_submit_done),
    ("exit 3 → E", check_submit_exit_3),
    ("array of 3", check_array),
    ("submitted or running", check_submitted_or_running),
    ("terminate → K", check_terminate),
    ("unknown id", check_unknown_id),
)
"""Every live check, with a short name for reports."""


def run_live_checks(target: ConformanceTarget) -> list[CheckResult]:
    """Run every live check; an exception in one is recorded and the next one still runs."""
    results: list[CheckResult] = []
    for name, check in LIVE_CHECKS:
        began = time.monotonic()
        try:
            check(target)
        except Exception as exc:  # report, don't stop: this is a diagnostic run
            error = f"{type(exc).__name__}: {exc}"
            results.append(CheckResult(name, False, time.monotonic() - began, error))
        else:
            results.append(CheckResult(name, True, time.monotonic() - began))
    return results
