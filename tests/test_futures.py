"""`distributor.futures` on the local backend: the shared checks, plus what only a local
run can show cheaply — concurrent.futures and asyncio interplay, bad input at submit, a
Python/cloudpickle mismatch, reattaching after the submitting process died."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distributor.config import ClusterConfig
from distributor.futures import Executor, PayloadError, RemoteEnvironmentError, TaskFailedError
from distributor.futures import payload as payload_module
from distributor.testing.futures_checks import FuturesConformance


def local_config(tmp_path: Path) -> ClusterConfig:
    return ClusterConfig("futures-local", "local", options={"state_dir": str(tmp_path / "state")})


class TestLocalFutures(FuturesConformance):
    """The shared checks on the built-in `local` backend."""

    def make_executor(self, tmp_path: Path, resources: dict[str, Any] | None) -> Executor:
        return Executor(local_config(tmp_path), resources=resources, folder=tmp_path / "calls")


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    with Executor(local_config(tmp_path), folder=tmp_path / "calls") as ex:
        yield ex


def test_futures_work_with_wait_as_completed_and_asyncio(executor: Executor) -> None:
    """The standard helpers and asyncio accept its futures."""
    futures = [executor.submit(pow, 2, n) for n in range(5)]
    done, not_done = concurrent.futures.wait(futures, timeout=120)
    assert (len(done), not_done) == (5, set())
    assert sorted(f.result() for f in concurrent.futures.as_completed(futures)) == [1, 2, 4, 8, 16]

    async def gather() -> list[Any]:
        return list(await asyncio.gather(*(asyncio.wrap_future(executor.submit(abs, -n))
                                           for n in range(3))))  # fmt: skip

    assert asyncio.run(gather()) == [0, 1, 2]


def test_a_cancelled_future_is_reported_by_wait(executor: Executor) -> None:
    """`wait` and `as_completed` see a cancelled call as done."""
    slow = executor.submit(time.sleep, 600)
    assert slow.cancel()
    done, _ = concurrent.futures.wait([slow], timeout=30)
    assert done == {slow}
    assert list(concurrent.futures.as_completed([slow], timeout=30)) == [slow]


def test_what_cannot_be_pickled_is_named_at_submit(executor: Executor, tmp_path: Path) -> None:
    """A lock as the second argument: PayloadError naming it, and nothing submitted."""
    lock = threading.Lock()
    with pytest.raises(PayloadError) as caught:
        executor.submit(print, "fine", lock)
    assert caught.value.what == "argument 2"
    assert "lock" in caught.value.kind
    assert "argument 2 (a lock) cannot be pickled" in str(caught.value)
    with pytest.raises(PayloadError, match="keyword 'handle'"):
        executor.submit(_keep, handle=lock)
    assert not [p for p in (tmp_path / "calls").iterdir() if p.is_dir()]


def test_a_version_mismatch_is_reported_as_such(
    executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call written by another Python/cloudpickle: the task answers with the mismatch, and
    the caller gets RemoteEnvironmentError naming both, not an unpickling error."""
    real = payload_module.ENVIRONMENT
    monkeypatch.setattr(payload_module, "ENVIRONMENT", "python 3.99, cloudpickle 0.1")
    future = executor.submit(abs, -1)
    with pytest.raises(RemoteEnvironmentError) as caught:
        future.result(timeout=120)
    assert (caught.value.local, caught.value.remote) == ("python 3.99, cloudpickle 0.1", real)
    assert "use the same Python and cloudpickle" in str(caught.value)


def test_a_task_killed_from_outside_raises_with_its_exit_info(executor: Executor) -> None:
    """A task ended by a signal has no result: TaskFailedError with the exit info and log."""
    killer = executor.submit(_kill_myself)
    with pytest.raises(TaskFailedError) as caught:
        killer.result(timeout=120)
    assert caught.value.exit_info.error_state.value == "E"
    assert "SIGKILL" in str(caught.value) or "signal 9" in str(caught.value)
    assert caught.value.log is not None


def _keep(**values: object) -> None:
    pass


def _kill_myself() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_reattach_after_the_submitting_process_died(tmp_path: Path) -> None:
    """A process submits, records the id and is SIGKILLed; an executor on the same folder
    reattaches by id and gets the result."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from distributor.config import ClusterConfig
        from distributor.futures import Executor
        config = ClusterConfig("futures-local", "local",
                               options={{"state_dir": {str(tmp_path / "state")!r}}})
        executor = Executor(config, folder={str(tmp_path / "calls")!r})
        future = executor.submit(sum, [1, 2, 3])
        print(future.distributor_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == -signal.SIGKILL
    distributor_id = done.stdout.strip()
    with Executor(local_config(tmp_path), folder=tmp_path / "calls") as again:
        assert again.reattach(distributor_id).result(timeout=120) == 6
        with pytest.raises(KeyError):
            again.reattach("nosuch.1")


def test_shutdown_cancel_futures_and_no_submit_after(tmp_path: Path) -> None:
    """shutdown(cancel_futures=True) terminates what is pending; submitting after is refused."""
    executor = Executor(local_config(tmp_path), folder=tmp_path / "calls")
    pending = executor.submit(time.sleep, 600)
    executor.shutdown(wait=True, cancel_futures=True)
    assert pending.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(abs, 1)
