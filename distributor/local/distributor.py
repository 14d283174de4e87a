"""`LocalDistributor`: run tasks as child processes of this machine, surviving the controller.

Tasks are started by a reaper process (`distributor.local.reaper`) in its own session, so a
controller killed with SIGKILL loses nothing: its reaper finishes the queued and running tasks
and records how each ended under the state directory. A new `LocalDistributor` on the same
directory reads every reaper's files and answers for the tasks the dead controller started,
without rerunning them; a task process is recognised by pid *and* kernel start time, so pid
reuse cannot fool it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from distributor.batch.script import find_worker_executable, worker_node_command
from distributor.exceptions import (
    RemoteExitInfoNotAvailable,
    ResourceError,
    SubmissionError,
    UnknownDistributorIdError,
    UnsupportedPlatformError,
)
from distributor.exit_info import RemoteExitInfo
from distributor.local.cpus import available_cpus
from distributor.local.doorbell import Doorbell
from distributor.local.journal import Appender, Tailer
from distributor.local.outcome import classify_exit, lost_exit
from distributor.local.reaper_view import ReaperView, spawn_reaper
from distributor.logs import get_logger
from distributor.paths import cluster_state_dir
from distributor.resources import parse_request
from distributor.usage import TaskUsage
from distributor.worker.proc import process_start_time

__all__ = ["LocalDistributor", "default_state_dir"]

log = get_logger(__name__)

_REFRESH_COALESCE = 0.002
_UNRUNG_POLL = 0.1  # seconds between looks at tasks whose reaper cannot ring this controller


def default_state_dir(cluster_name: str) -> Path:
    """``$DISTRIBUTOR_LOCAL_STATE_DIR``, else ``$XDG_STATE_HOME/distributor/<cluster>``
    (`distributor.paths`)."""
    explicit = os.environ.get("DISTRIBUTOR_LOCAL_STATE_DIR")
    if explicit:
        return Path(explicit)
    return cluster_state_dir(cluster_name)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass
class _Task:
    reaper: ReaperView
    state: Literal["queued", "running", "exited"] = "queued"
    pid: int = 0
    ticks: int | None = None
    exited: dict[str, Any] | None = None
    name: str = ""
    step: int = 0
    started_at: float | None = None


class LocalDistributor:
    """Runs commands on this machine, at most `parallelism` cores' worth at once.

    Args:
        cluster_name: a label (also the default state directory's name).
        state_dir: where tasks' state and logs live; see `default_state_dir`.
        parallelism: cores available to tasks (default: `available_cpus`, this process's CPU
            affinity mask capped by its cgroup's CPU quota).
        kill_grace: seconds between SIGTERM and SIGKILL for terminations and runtime limits.
        separate_stderr: write ``logs/<id>.out`` and ``.err`` instead of one ``logs/<id>.log``
            holding both streams (as Slurm does by default; one file is cheaper to create).
        retention: seconds after which a finished reaper's records and its tasks' logs are
            deleted at the next `start` (default 7 days), so the state directory stays bounded.

    Raises:
        UnsupportedPlatformError: this is not Linux (the backend reads ``/proc``).
        ResourceError: `parallelism` is below 1.
    """

    def __init__(
        self,
        cluster_name: str = "local",
        *,
        state_dir: str | Path | None = None,
        parallelism: int | None = None,
        kill_grace: float = 5.0,
        separate_stderr: bool = False,
        retention: float = 7 * 86400,
    ) -> None:
        if not sys.platform.startswith("linux"):
            raise UnsupportedPlatformError("local backend", sys.platform)
        self._cluster_name = cluster_name
        self._state_dir = Path(state_dir) if state_dir else default_state_dir(cluster_name)
        self._parallelism = parallelism or available_cpus()
        if self._parallelism < 1:
            raise ResourceError("parallelism", parallelism, "must be at least 1")
        self._grace = kill_grace
        self._separate_stderr = separate_stderr
        self._retention = retention
        self._log = log.bind(cluster=cluster_name)
        self._tasks: dict[str, _Task] = {}
        self._by_name: dict[str, dict[int, str]] = {}
        self._views: dict[str, ReaperView] = {}
        self._terminated: set[str] = set()
        self._terminations = Tailer(self._state_dir / "terminations.jsonl")
        self._token = ""
        self._own: ReaperView | None = None
        self._commands: Appender | None = None
        self._wake_fd = -1
        self._bell: Doorbell | None = None
        self._unrung: dict[ReaperView, set[str]] = {}  # unended tasks of reapers that cannot ring
        self._sequence = 0
        self._last_refresh = -1.0

    # -- contract properties -------------------------------------------------------------------

    @property
    def worker_node_entry_point(self) -> str:
        """The ``distributor-worker`` script beside this interpreter (or on PATH)."""
        return find_worker_executable()

    @property
    def cluster_name(self) -> str:
        """The name given at construction."""
        return self._cluster_name

    @property
    def state_dir(self) -> Path:
        """The directory holding every reaper's files and the task logs."""
        return self._state_dir

    @property
    def parallelism(self) -> int:
        """The cores' worth of tasks run at once (given, else detected by `available_cpus`)."""
        return self._parallelism

    @property
    def lost_grace(self) -> float:
        """0: a task this distributor no longer lists has final exit info at once — its
        reaper recorded how it ended, or the reaper died and the task's own process is gone
        too (an orphan that still runs is listed as running), so it cannot run again
        (`SupportsLostTracking`)."""
        return 0.0

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Load the state directory and start this controller's reaper (idempotent)."""
        if self._wake_fd >= 0:
            return
        reapers = self._state_dir / "reapers"
        reapers.mkdir(parents=True, exist_ok=True)
        (self._state_dir / "logs").mkdir(exist_ok=True)
        self._load_views(prune=True)
        self._token = secrets.token_hex(4)
        own_dir = reapers / self._token
        own_dir.mkdir()
        self._own = self._views[self._token] = ReaperView(own_dir)
        self._commands = Appender(own_dir / "commands.jsonl")
        self._wake_fd, self._bell = spawn_reaper(own_dir, self._parallelism, self._grace)
        self._refresh(force=True)
        self._log.info("local_distributor_started", state_dir=str(self._state_dir),
                       reaper=self._token, recovered=len(self._tasks))  # fmt: skip

    def _load_views(self, *, prune: bool) -> None:
        """Know every reaper of the state directory (`prune`: delete expired ones' files)."""
        reapers = self._state_dir / "reapers"
        if not reapers.is_dir():
            return
        for directory in sorted(reapers.iterdir()):
            if directory.name in self._views:
                continue
            view = ReaperView(directory)
            if prune and self._expired(view):
                self._prune(view)
            else:
                self._views[directory.name] = view

    def _expired(self, view: ReaperView) -> bool:
        """A reaper that is dead and wrote nothing for `retention` seconds is history."""
        newest = max(
            (p.stat().st_mtime for p in view.directory.iterdir() if p.is_file()),
            default=view.directory.stat().st_mtime,
        )
        return time.time() - newest > self._retention and not view.alive()

    def _prune(self, view: ReaperView) -> None:
        """Delete an expired reaper's files and its tasks' logs (all inside the state dir)."""
        logs = self._state_dir / "logs"
        for command in view.commands.read():
            if command.get("op") == "submit":
                for key in ("stdout", "stderr"):
                    path = Path(str(command.get(key, "")))
                    if path.parent == logs:  # never delete outside the state directory
                        path.unlink(missing_ok=True)
        view.close()
        shutil.rmtree(view.directory, ignore_errors=True)
        self._log.info("reaper_pruned", reaper=view.directory.name)

    def stop(self) -> None:
        """Let the reaper finish the submitted tasks and exit; returns at once."""
        if self._wake_fd < 0:
            return
        os.close(self._wake_fd)  # end of file tells the reaper its owner has gone
        self._wake_fd = -1
        if self._bell is not None:
            self._bell.close()
            self._bell = None
        if self._commands is not None:
            self._commands.close()
        for view in self._views.values():
            view.close()
        self._terminations.close()
        self._log.info("local_distributor_stopped", reaper=self._token)

    # -- submission ----------------------------------------------------------------------------

    def submit_to_batch_distributor(
        self, command: str, name: str, requested_resources: Mapping[str, Any]
    ) -> str:
        """Queue `command` (run by ``/bin/sh -c``); returns its distributor id."""
        return self._submit(command, name, requested_resources, [None])[0]

    def submit_array_to_batch_distributor(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        array_length: int,
    ) -> dict[int, str]:
        """Queue `array_length` steps of `command`; step i sees ``DISTRIBUTOR_ARRAY_STEP_ID=i``."""
        if isinstance(array_length, bool) or not isinstance(array_length, int) or array_length < 1:
            raise ResourceError("array_length", array_length, "must be a whole number ≥ 1")
        ids = self._submit(command, name, requested_resources, list(range(array_length)))
        return dict(enumerate(ids))

    def _submit(
        self,
        command: str,
        name: str,
        requested_resources: Mapping[str, Any],
        steps: Sequence[int | None],
    ) -> list[str]:
        if not isinstance(command, str) or not command.strip():
            raise SubmissionError(f"empty command for task {name!r}", name=name)
        if "\0" in command:
            raise SubmissionError(f"command for task {name!r} contains a NUL byte", name=name)
        request = parse_request(requested_resources)
        self.start()
        assert self._commands is not None and self._own is not None
        logs = self._state_dir / "logs"
        out, err = ("out", "err") if self._separate_stderr else ("log", "log")
        commands: list[dict[str, Any]] = []
        ids: list[str] = []
        for step in steps:
            self._sequence += 1
            distributor_id = f"{self._token}.{self._sequence}"
            env = {"DISTRIBUTOR_ID": distributor_id}
            if step is not None:
                env["DISTRIBUTOR_ARRAY_STEP_ID"] = str(step)
            commands.append({
                "op": "submit", "id": distributor_id, "name": name, "command": command,
                "env": env, "stdout": str(logs / f"{distributor_id}.{out}"),
                "stderr": str(logs / f"{distributor_id}.{err}"), "slots": request.cores or 1,
                "memory": request.memory_bytes, "runtime": request.runtime_seconds,
            })  # fmt: skip
            ids.append(distributor_id)
        self._commands.write(commands)  # durable before anyone is told the ids
        for step, distributor_id in zip(steps, ids, strict=True):
            self._remember(distributor_id, _Task(self._own, name=name, step=step or 0))
        self._wake()
        # One line per single submission would cost more than starting the task: sample them.
        if len(ids) > 1 or self._sequence % 1000 == 1:
            self._log.debug("tasks_submitted", name=name, count=len(ids), first=ids[0])
        return ids

    def _wake(self) -> None:
        try:
            os.write(self._wake_fd, b"\n")
        except BlockingIOError:
            pass  # the pipe is full of wake-ups already: the reaper will look
        except BrokenPipeError as exc:
            raise SubmissionError(
                f"the reaper of {self._state_dir} has exited; see {self._own_log()}"
            ) from exc

    def _own_log(self) -> Path:
        return self._state_dir / "reapers" / self._token / "reaper.log"

    # -- tracking ------------------------------------------------------------------------------

    def _refresh(self, force: bool = False) -> None:
        """Read what every reaper has appended since the last call.

        Calls within `_REFRESH_COALESCE` seconds of the previous one are skipped unless forced:
        a poll loop over thousands of ids then costs one read per reaper, not one per id.
        """
        now = time.monotonic()
        if not force and now - self._last_refresh < _REFRESH_COALESCE:
            return
        self._last_refresh = now
        if self._own is None:  # not started: answer read-only from what is on disk
            self._load_views(prune=False)
        for record in self._terminations.read():
            self._terminated.add(str(record.get("id")))
        for view in self._views.values():
            if view is not self._own:
                for command in view.commands.read():
                    if command.get("op") == "submit":
                        step = str(command.get("env", {}).get("DISTRIBUTOR_ARRAY_STEP_ID", "0"))
                        known = self._tasks.get(command["id"]) or _Task(view)
                        known.name, known.step = str(command.get("name", "")), int(step)
                        self._remember(command["id"], known)
                        if known.state != "exited":
                            self._unrung.setdefault(view, set()).add(command["id"])
            for event in view.events.read():
                task = self._tasks.get(event["id"])
                if task is None:
                    task = self._tasks[event["id"]] = _Task(view)
                if event["ev"] == "started":
                    task.state, task.pid, task.ticks = "running", event["pid"], event.get("ticks")
                    task.started_at = event.get("t")
                elif event["ev"] == "exited":
                    task.state, task.exited = "exited", event
                if task.state == "exited":
                    self._unrung.get(task.reaper, set()).discard(event["id"])
                elif view is not self._own:
                    self._unrung.setdefault(view, set()).add(event["id"])
        if self._wake_fd < 0:  # not running (read-only or stopped): hold no file open
            self._terminations.close()
            for view in self._views.values():
                view.close()

    def wait_for_change(self, timeout: float) -> bool:
        """Block until a task has started or ended since the last status call, or `timeout`
        seconds have passed: the way to pause between polls, in place of a sleep.

        This controller's own reaper rings it when it records a start or an end, so the news
        arrives within milliseconds and waiting costs no CPU. Tasks of other reapers (an earlier
        controller's, or any after `stop`) cannot ring: while some have not ended, they are
        looked at every 0.1 s.

        Args:
            timeout: the longest wait, in seconds.

        Returns:
            True if a status call now can see something new (a start, an end, a reaper's
            death); False if `timeout` passed first.
        """
        deadline = time.monotonic() + timeout
        while not self._news():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            bell = self._bell
            if bell is None:
                time.sleep(min(left, _UNRUNG_POLL))
                continue
            bell.wait(min(left, _UNRUNG_POLL) if self._unrung else left)
            if bell.silent and bell is self._bell:  # the reaper died: look for news by polling
                bell.close()
                self._bell = None
                if (own := self._own) is not None:
                    self._unrung[own] = {
                        i for i, t in self._tasks.items() if t.reaper is own and t.state != "exited"
                    }
        self._last_refresh = -1.0  # the next status call must read, not coalesce
        return True

    def _news(self) -> bool:
        """Whether a reaper wrote events not read yet, or an unrung task's reaper and process
        have both gone (which no event will tell)."""
        if self._own is not None and self._own.events.pending():
            return True
        news = False
        for view, ids in list(self._unrung.items()):
            news = news or view.events.pending()
            if ids and view.alive():
                continue  # its events will tell
            for distributor_id in list(ids):
                task = self._tasks[distributor_id]
                if task.state == "exited" or not self._active(task, set()):
                    ids.discard(distributor_id)
                    news = news or task.state != "exited"
            if not ids:
                del self._unrung[view]
        return news

    def _remember(self, distributor_id: str, task: _Task) -> None:
        self._tasks[distributor_id] = task
        if task.name:
            self._by_name.setdefault(task.name, {})[task.step] = distributor_id

    def find_by_name(self, names: Sequence[str]) -> dict[str, dict[int, str]]:
        """The submissions made under each name by any controller on this state directory.

        A submission is written to its reaper's command file before its id is returned, so a
        name absent here was never submitted (the service relies on that for exactly-once).

        Returns:
            name → {array step (0 for a single task) → distributor id}.
        """
        self._refresh(force=True)
        return {name: dict(self._by_name[name]) for name in names if name in self._by_name}

    def _active(self, task: _Task, living: set[ReaperView] | None = None) -> bool:
        """True while the task is queued or running; `living`, if given, is the set of
        reapers known to be alive (so a poll over many ids checks each reaper once)."""
        if task.state == "exited":
            return False
        if task.reaper in living if living is not None else task.reaper.alive():
            return True
        # The reaper is gone: only an orphaned task process that is really ours still counts.
        return task.state == "running" and process_start_time(task.pid) == task.ticks

    def _living(self) -> set[ReaperView]:
        return {view for view in self._views.values() if view.alive()}

    def get_submitted_or_running(self, distributor_ids: Sequence[str] | None = None) -> set[str]:
        """Ids queued or running (including those started by an earlier, dead controller)."""
        self._refresh()
        ids = self._tasks.keys() if distributor_ids is None else distributor_ids
        tasks, living = self._tasks, self._living()
        # Ended tasks are skipped without a call: a poll over thousands of ids stays cheap.
        return {
            i
            for i in ids
            if (task := tasks.get(i)) is not None
            and task.state != "exited"
            and self._active(task, living)
        }

    def get_running(self, distributor_ids: Sequence[str]) -> set[str]:
        """The subset of `distributor_ids` whose process has started and not yet ended."""
        self._refresh()
        tasks, living = self._tasks, self._living()
        return {
            i
            for i in distributor_ids
            if (task := tasks.get(i)) is not None
            and task.state == "running"
            and self._active(task, living)
        }

    def get_queueing_errors(self, distributor_ids: Sequence[str]) -> dict[str, str]:
        """Local tasks never wait on an impossible condition: always empty."""
        return {}

    def get_remote_exit_info(self, distributor_id: str) -> RemoteExitInfo:
        """How the task ended; see `distributor.local.outcome` for the messages.

        Raises:
            RemoteExitInfoNotAvailable: still queued or running.
            UnknownDistributorIdError: no controller on this state directory issued the id.
        """
        self._refresh()
        task = self._tasks.get(distributor_id)
        if task is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        if task.state != "exited" and self._active(task):
            raise RemoteExitInfoNotAvailable(distributor_id, f"still {task.state}")
        self._refresh(force=True)  # the reaper may have written its last events before exiting
        return self._outcome(distributor_id, task)

    def _outcome(self, distributor_id: str, task: _Task) -> RemoteExitInfo:
        if task.exited is not None:
            return classify_exit(task.exited)
        return lost_exit(task.state == "running", distributor_id in self._terminated)

    def log_paths(self, distributor_id: str) -> tuple[Path, Path | None]:
        """The task's (stdout, stderr) files; stderr is None when both streams share one
        (`SupportsTaskOutcome`).

        Raises:
            UnknownDistributorIdError: no controller on this state directory issued the id.
        """
        self._refresh()
        if distributor_id not in self._tasks:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        logs = self._state_dir / "logs"
        if self._separate_stderr:
            return logs / f"{distributor_id}.out", logs / f"{distributor_id}.err"
        return logs / f"{distributor_id}.log", None

    def task_usage(self, distributor_id: str) -> TaskUsage | None:
        """Exit code or signal, start, end, elapsed, peak memory of the process tree, CPU and
        host, from the reaper's records (`SupportsTaskOutcome`); None before it started.

        Raises:
            UnknownDistributorIdError: no controller on this state directory issued the id.
        """
        self._refresh()
        task = self._tasks.get(distributor_id)
        if task is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        host = socket.gethostname()
        ended = task.exited
        if ended is None or not ended.get("started"):
            if task.state == "running":
                return TaskUsage(started_at=task.started_at, host=host)
            return None
        status = ended.get("status")
        exit_code = signal_name = None
        if isinstance(status, int):
            if os.WIFSIGNALED(status):
                signal_name = _signal_name(os.WTERMSIG(status))
            else:
                exit_code = os.WEXITSTATUS(status)
        wall, end = float(ended.get("wall", 0.0)), float(ended.get("t", 0.0))
        return TaskUsage(
            exit_code=exit_code,
            signal=signal_name,
            started_at=round(end - wall, 6) if end else task.started_at,
            ended_at=end or None,
            elapsed=wall,
            max_rss=int(ended.get("maxrss", 0)) or None,
            cpu=float(ended.get("cpu", 0.0)),
            host=host,
        )

    def get_usage(self, distributor_id: str) -> dict[str, float]:
        """Peak RSS (bytes), CPU and wall seconds of a finished task, from ``wait4``."""
        self._refresh()
        task = self._tasks.get(distributor_id)
        if task is None:
            raise UnknownDistributorIdError(distributor_id, self._cluster_name)
        if task.exited is None or not task.exited.get("started"):
            raise RemoteExitInfoNotAvailable(distributor_id, "no usage recorded")
        return {k: float(task.exited.get(k, 0)) for k in ("maxrss", "cpu", "wall")}

    # -- termination ---------------------------------------------------------------------------

    def terminate_task_instances(self, distributor_ids: Sequence[str]) -> None:
        """SIGTERM each task's process group, then SIGKILL after the grace; unknown ids ignored."""
        self._refresh()
        by_reaper: dict[str, list[str]] = {}
        for distributor_id in distributor_ids:
            task = self._tasks.get(distributor_id)
            if task is None or task.state == "exited":
                continue
            by_reaper.setdefault(task.reaper.directory.name, []).append(distributor_id)
        if not by_reaper:
            return
        terminations = Appender(self._state_dir / "terminations.jsonl")
        terminations.write({"id": i} for ids in by_reaper.values() for i in ids)
        terminations.close()
        for token, ids in by_reaper.items():
            view = self._views[token]
            if view is self._own and view.alive():
                assert self._commands is not None
                self._commands.write([{"op": "terminate", "ids": ids}])
                try:
                    self._wake()
                except SubmissionError:  # it died since `alive` last looked
                    view.dead = True
            elif view.alive():
                commands = Appender(view.directory / "commands.jsonl")
                commands.write([{"op": "terminate", "ids": ids}])
                commands.close()
                view.knock()
            if not view.alive():
                for distributor_id in ids:
                    self._kill_orphan(self._tasks[distributor_id])
        self._log.info("tasks_terminated", ids=sorted(distributor_ids))

    @staticmethod
    def _kill_orphan(task: _Task) -> None:
        if task.state == "running" and process_start_time(task.pid) == task.ticks:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(task.pid, signal.SIGKILL)

    def build_worker_node_command(
        self,
        task_instance_id: int | None = None,
        array_id: int | None = None,
        batch_number: int | None = None,
    ) -> str:
        """A ``distributor-worker`` invocation carrying the given ids."""
        return worker_node_command(
            self.worker_node_entry_point, task_instance_id, array_id, batch_number
        )
