"""Checks that `distributor.futures` works on a cluster (``check_*`` functions raise
AssertionError on failure), and `FuturesConformance`, the pytest base class that runs them all
from a plugin's tests::

    class TestSlurmFutures(FuturesConformance):
        def make_executor(self, tmp_path: Path, resources: dict[str, Any] | None) -> Executor:
            return Executor(ClusterConfig("dev", "slurm", options={...}), resources=resources,
                            folder=tmp_path / "calls")

Every call made here is small; `check_memory_limit` needs a cluster that enforces memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from distributor.exit_info import TaskInstanceStatus, normalize_exit_info
from distributor.futures import Executor, RemoteTraceback, TaskFailedError

__all__ = [
    "FuturesConformance",
    "check_cancel",
    "check_closure_and_keywords",
    "check_exception_keeps_type_and_traceback",
    "check_map_is_one_array_in_order",
    "check_memory_limit",
]


def check_closure_and_keywords(executor: Executor) -> None:
    """A closure over a local variable, called with a keyword argument."""
    base = 40

    def add(x: int, *, extra: int = 0) -> int:
        return base + x + extra

    future = executor.submit(add, 1, extra=1)
    assert future.result(timeout=300) == 42
    assert future.exit_info is not None
    assert future.exit_info.error_state == TaskInstanceStatus.DONE


def check_map_is_one_array_in_order(executor: Executor, items: int = 100) -> None:
    """`map` over `items` values submits one array (no single submissions) and yields the
    results in order."""
    distributor: Any = executor._distributor
    calls: list[str] = []
    array, single = (
        distributor.submit_array_to_batch_distributor,
        distributor.submit_to_batch_distributor,
    )

    def counting_array(*args: Any, **kwargs: Any) -> Any:
        calls.append("array")
        return array(*args, **kwargs)

    def counting_single(*args: Any, **kwargs: Any) -> Any:
        calls.append("single")
        return single(*args, **kwargs)

    distributor.submit_array_to_batch_distributor = counting_array
    distributor.submit_to_batch_distributor = counting_single
    try:
        results = list(executor.map(_square, range(items), timeout=600))
    finally:
        del distributor.submit_array_to_batch_distributor
        del distributor.submit_to_batch_distributor
    assert results == [i * i for i in range(items)]
    assert calls == ["array"], calls


def _square(x: int) -> int:
    return x * x


class ComputationFailed(ValueError):
    """An exception type of the caller's own."""


def _fail(label: str) -> None:
    raise ComputationFailed(f"no result for {label}")


def check_exception_keeps_type_and_traceback(executor: Executor) -> None:
    """The remote exception is raised here as the same type, its remote traceback as cause."""
    future = executor.submit(_fail, "sample-7")
    try:
        future.result(timeout=300)
    except ComputationFailed as exc:
        assert str(exc) == "no result for sample-7"
        assert isinstance(exc.__cause__, RemoteTraceback)
        assert "_fail" in exc.__cause__.text
        assert "ComputationFailed" in exc.__cause__.text
    else:
        raise AssertionError("the remote exception was not raised")


def check_cancel(executor: Executor, wait_running: float = 300) -> None:
    """`cancel` of a running call terminates its task: the future is cancelled and the
    distributor reports the task killed (``K``)."""
    future = executor.submit(time.sleep, 600)
    deadline = time.monotonic() + wait_running
    while not future.running():
        assert time.monotonic() < deadline, "the call never started"
        time.sleep(0.1)
    assert future.cancel()
    assert future.cancelled()
    distributor: Any = executor._distributor
    while True:
        try:
            info = normalize_exit_info(distributor.get_remote_exit_info(future.distributor_id))
        except Exception:  # not final yet
            info = None
        if info is not None and info.finalized:
            break
        assert time.monotonic() < deadline, "the cancelled task never ended"
        time.sleep(0.2)
    assert info.error_state == TaskInstanceStatus.KILLED_SELF, info


def _hog(mebibytes: int) -> int:
    block = bytearray(mebibytes * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(2)  # hold it while the limit is enforced
    return len(block)


def check_memory_limit(make_executor: Callable[[dict[str, Any]], Executor]) -> None:
    """A call over its memory request raises with the limit: `TaskFailedError` saying so
    (``Z``) where the limit kills the task, or the function's own `MemoryError` noting the
    limit where it is an address-space limit (Grid Engine's ``h_vmem``)."""
    with make_executor({"memory": "256M"}) as executor:
        future = executor.submit(_hog, 1024)
        try:
            future.result(timeout=300)
        except TaskFailedError as exc:
            assert exc.exit_info.error_state == TaskInstanceStatus.RESOURCE_ERROR, exc
            assert "memory" in str(exc).lower(), exc
        except MemoryError as exc:
            notes = " ".join(getattr(exc, "__notes__", []))
            assert "memory limit (address space) is" in notes, notes
        else:
            raise AssertionError("a call over its memory limit returned")


class FuturesConformance:
    """Base class running every check above; override `make_executor`."""

    def make_executor(self, tmp_path: Path, resources: dict[str, Any] | None) -> Executor:
        """An executor on the cluster under test, its files under `tmp_path` (fresh per test)."""
        raise NotImplementedError("subclasses of FuturesConformance must override make_executor")

    @pytest.fixture
    def executor(self, tmp_path: Path) -> Iterator[Executor]:
        """An executor without resource requests, shut down after the test."""
        with self.make_executor(tmp_path, None) as executor:
            yield executor

    def test_closure_and_keywords(self, executor: Executor) -> None:
        check_closure_and_keywords(executor)

    def test_map_of_100_is_one_array_in_order(self, executor: Executor) -> None:
        check_map_is_one_array_in_order(executor, items=100)

    def test_exception_keeps_type_and_traceback(self, executor: Executor) -> None:
        check_exception_keeps_type_and_traceback(executor)

    def test_cancel_terminates_the_task(self, executor: Executor) -> None:
        check_cancel(executor)

    def test_memory_limit(self, tmp_path: Path) -> None:
        check_memory_limit(lambda resources: self.make_executor(tmp_path, resources))
