"""`Executor`: Python calls as tasks on any cluster, behind `concurrent.futures`.

Each call is written (cloudpickle) into its own directory under the executor's folder and
submitted as ``python -m distributor.futures.remote DIRECTORY``; the distributor wraps it in
``distributor-worker`` like every task, so limits, usage and exit information are the same. A
background thread asks the distributor about every pending task once per cycle (one
``get_submitted_or_running`` for all of them) and settles each future from its result file and
exit information. ``folder/index.jsonl`` records every task, so that an executor on the same
folder can `reattach` to a future by its id after the submitting process died.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from distributor.config import ClusterConfig, load_config
from distributor.exceptions import RemoteExitInfoNotAvailable
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.futures.errors import RemoteEnvironmentError, RemoteTraceback, TaskFailedError
from distributor.futures.future import ClusterFuture
from distributor.futures.payload import call_path, dump_call, read_envelope, result_path
from distributor.logs import get_logger
from distributor.paths import cluster_state_dir
from distributor.protocols import SupportsRunningQuery, SupportsTaskOutcome

__all__ = ["Executor"]

P = ParamSpec("P")
R = TypeVar("R")

log = get_logger(__name__)

_NOT_RETRIED = frozenset({TaskInstanceStatus.RESOURCE_ERROR})
"""Ended without a result but not worth another attempt: over a limit, it would be again."""


class Executor(concurrent.futures.Executor):
    """Run Python functions as tasks of a cluster.

    Args:
        cluster: a configured cluster or a plugin name (`distributor.config`), or a
            `ClusterConfig`.
        resources: the request of every task (``{"memory": "2G", "runtime": "1h"}``), over the
            cluster's defaults.
        folder: where calls and results are written; must be visible to the cluster's nodes
            at the same path (default: ``$XDG_STATE_HOME/distributor/<cluster>/futures``).
        max_attempts: attempts of a call whose task ended without a result (lost, killed from
            outside, a node that died); a function that raised is never retried, nor a task
            over its limits.
        poll_interval: the longest pause between two looks at the pending tasks (seconds).

    Raises:
        UnknownClusterError, ConfigFileError: as `distributor.config`.
    """

    def __init__(
        self,
        cluster: str | ClusterConfig = "local",
        *,
        resources: Mapping[str, Any] | None = None,
        folder: str | os.PathLike[str] | None = None,
        max_attempts: int = 1,
        poll_interval: float = 1.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {max_attempts}")
        self._config = load_config().resolve(cluster) if isinstance(cluster, str) else cluster
        self._resources = self._config.resources(resources or {})
        self._folder = Path(folder) if folder else cluster_state_dir(self._config.name) / "futures"
        self._folder.mkdir(parents=True, exist_ok=True)
        self._max_attempts = max_attempts
        self._poll_interval = poll_interval
        self._distributor = self._config.distributor()
        self._distributor.start()
        self._lock = threading.Lock()  # the executor's own state
        self._calls = threading.RLock()  # one call into the distributor at a time (taken first)
        self._tracked: dict[str, ClusterFuture[Any]] = {}
        self._attempts: dict[int, int] = {}  # id(future) → attempts made
        self._all: list[ClusterFuture[Any]] = []
        self._wake = threading.Event()
        self._closing = False
        self._stopped = False
        self._watcher = threading.Thread(
            target=self._watch, name="distributor-futures", daemon=True
        )
        self._watcher.start()
        self._log = log.bind(cluster=self._config.name, folder=str(self._folder))

    @property
    def folder(self) -> Path:
        """Where calls, results and the index are."""
        return self._folder

    # -- submitting ----------------------------------------------------------------------

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> ClusterFuture[R]:
        """Run ``fn(*args, **kwargs)`` as a task.

        Raises:
            PayloadError: the function or an argument cannot be pickled (named).
            RuntimeError: the executor was shut down.
        """
        self._refuse_after_shutdown()
        directory = self._new_directory(fn)
        try:
            dump_call(call_path(directory, None), fn, args, kwargs)
            with self._calls:
                did = self._distributor.submit_to_batch_distributor(
                    self._command(directory, None), _task_name(fn), self._resources
                )
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        future: ClusterFuture[R] = ClusterFuture(did, directory, None, self._terminate)
        self._track([future])
        return future

    def map(
        self,
        fn: Callable[..., R],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[R]:
        """``fn`` over the items of `iterables`, submitted at once as one array (the
        distributor chunks it by the scheduler's limit); results in order. Leaving the
        iterator early, or its `timeout` passing, cancels what has not ended.

        Raises:
            PayloadError: the function or an item cannot be pickled (named).
        """
        self._refuse_after_shutdown()
        items = list(zip(*iterables, strict=False))
        if not items:
            return iter(())
        directory = self._new_directory(fn)
        try:
            for step, item in enumerate(items):
                dump_call(call_path(directory, step), fn, item, {})
            with self._calls:
                steps = self._distributor.submit_array_to_batch_distributor(
                    self._command(directory, None), _task_name(fn), self._resources, len(items)
                )
        except BaseException:
            shutil.rmtree(directory, ignore_errors=True)
            raise
        futures: list[ClusterFuture[R]] = [
            ClusterFuture(steps[step], directory, step, self._terminate)
            for step in range(len(items))
        ]
        self._track(futures)
        deadline = None if timeout is None else time.monotonic() + timeout

        def results() -> Iterator[R]:
            try:
                for future in futures:
                    left = None if deadline is None else max(0.0, deadline - time.monotonic())
                    yield future.result(left)
            finally:
                for future in futures:
                    future.cancel()

        return results()

    def reattach(self, distributor_id: str) -> ClusterFuture[Any]:
        """A future for a task this folder's index records (submitted by an executor that
        may have died).

        Raises:
            KeyError: the index has no such task.
        """
        for line in (self._folder / "index.jsonl").read_text().splitlines():
            entry = json.loads(line)
            if entry["id"] == distributor_id:
                future: ClusterFuture[Any] = ClusterFuture(
                    distributor_id, Path(entry["directory"]), entry["step"], self._terminate
                )
                self._track([future], index=False)
                return future
        raise KeyError(f"{distributor_id!r} is not in {self._folder / 'index.jsonl'}")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls; with `cancel_futures`, terminate the pending ones; with `wait`,
        return when every future is done. The distributor stops once nothing is pending."""
        with self._lock:
            self._closing = True
            pending = list(self._tracked.values())
        if cancel_futures:
            for future in pending:
                future.cancel()
        self._wake.set()
        if wait:
            concurrent.futures.wait(self._all)
            self._watcher.join()

    # -- internals -------------------------------------------------------------------------

    def _refuse_after_shutdown(self) -> None:
        if self._closing:
            raise RuntimeError("cannot schedule new futures after shutdown")

    def _new_directory(self, fn: Callable[..., Any]) -> Path:
        directory = self._folder / f"{_task_name(fn)}-{secrets.token_hex(6)}"
        directory.mkdir(mode=0o700)
        return directory

    def _command(self, directory: Path, step: int | None) -> str:
        argv = [sys.executable, "-m", "distributor.futures.remote", str(directory)]
        return shlex.join(argv if step is None else [*argv, str(step)])

    def _track(self, futures: list[ClusterFuture[Any]], *, index: bool = True) -> None:
        if index:
            lines = "".join(
                json.dumps({"id": f.distributor_id, "directory": str(f.directory), "step": f.step})
                + "\n"
                for f in futures
            )
            with open(self._folder / "index.jsonl", "a") as handle:
                handle.write(lines)
        with self._lock:
            for future in futures:
                self._tracked[future.distributor_id] = future
                self._attempts[id(future)] = 1
                self._all.append(future)
        self._wake.set()

    def _terminate(self, distributor_id: str) -> None:
        with self._calls, self._lock:  # the watcher cannot stop the distributor meanwhile
            if self._stopped:
                return
            self._distributor.terminate_task_instances([distributor_id])
            self._tracked.pop(distributor_id, None)

    def _watch(self) -> None:
        """Settle futures until shut down with nothing pending; then stop the distributor."""
        interval = 0.02
        while True:
            with self._calls:
                with self._lock:
                    ids = list(self._tracked)
                    self._stopped = self._closing and not ids
                if self._stopped:
                    self._distributor.stop()
                    return
            if ids:
                try:
                    with self._calls:
                        self._cycle(ids)
                except Exception:  # a scheduler hiccup: the next cycle asks again
                    self._log.exception("futures_poll_failed", pending=len(ids))
            if self._wake.wait(interval):
                self._wake.clear()
                interval = 0.02
            else:
                interval = min(interval * 1.5, self._poll_interval)

    def _cycle(self, ids: list[str]) -> None:
        active = set(self._distributor.get_submitted_or_running(ids))
        running: set[str] = set()
        if active and isinstance(self._distributor, SupportsRunningQuery):
            running = set(self._distributor.get_running(sorted(active)))
        for did in ids:
            with self._lock:
                future = self._tracked.get(did)
            if future is None:
                continue
            future._task_running = did in running
            if did in active:
                continue
            try:
                info = normalize_exit_info(self._distributor.get_remote_exit_info(did))
            except RemoteExitInfoNotAvailable:
                continue
            if info.finalized:
                self._settle(future, info)

    def _settle(self, future: ClusterFuture[Any], info: RemoteExitInfo) -> None:
        with self._lock:
            if self._tracked.pop(future.distributor_id, None) is None:
                return  # cancelled meanwhile
        future.exit_info = info
        if isinstance(self._distributor, SupportsTaskOutcome):
            with contextlib.suppress(Exception):  # a log it cannot place: none
                future.log = self._distributor.log_paths(future.distributor_id)[0]
        path = result_path(future.directory, future.step)
        if path.exists():
            self._deliver(future, path)
            return
        attempts = self._attempts[id(future)]
        if attempts < self._max_attempts and info.error_state not in _NOT_RETRIED:
            self._retry(future, attempts)
            return
        future.set_exception(TaskFailedError(future.distributor_id, info, future.log))

    def _deliver(self, future: ClusterFuture[Any], path: Path) -> None:
        try:
            outcome = read_envelope(path)
        except RemoteEnvironmentError as exc:
            future.set_exception(exc)
            return
        if outcome[0] == "ok":
            future.set_result(outcome[1])
            return
        error: BaseException = outcome[1]
        error.__cause__ = RemoteTraceback(outcome[2])
        if future.log is not None:
            error.add_note(f"remote log: {future.log}")
        future.set_exception(error)

    def _retry(self, future: ClusterFuture[Any], attempts: int) -> None:
        """Submit the call again; the future follows the new task."""
        old = future.distributor_id
        new = self._distributor.submit_to_batch_distributor(
            self._command(future.directory, future.step), future.directory.name, self._resources
        )
        self._log.warning("futures_call_retried", distributor_id=old, retry=new,
                          attempt=attempts + 1)  # fmt: skip
        future.distributor_id = new
        with open(self._folder / "index.jsonl", "a") as handle:
            entry = {"id": new, "directory": str(future.directory), "step": future.step}
            handle.write(json.dumps(entry) + "\n")
        with self._lock:
            self._attempts[id(future)] = attempts + 1
            self._tracked[new] = future


def _task_name(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", type(fn).__name__)
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:48] or "call"
