"""What the dashboard's tests share: a real run on the local backend whose tasks wait for
files the test creates, and a real ``distributor dashboard`` process serving its journal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor.service.background import lock_holder
from distributor.service.errors import JournalError

__all__ = ["Dashboard", "Run", "cli", "gated", "until"]


def cli(*args: str, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` with the local backend's state under `state`."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "distributor.cli", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=timeout)  # fmt: skip


def gated(go: Path, then: str = "true") -> str:
    """A shell line that waits until the file `go` exists, then runs `then` (it gives up
    after five minutes, so that a failed test leaves nothing running for long)."""
    return f"i=0; while [ ! -e {go} ] && [ $i -lt 6000 ]; do sleep 0.05; i=$((i+1)); done; {then}"


def until(condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll `condition()` until it returns something true, and return that (a
    synchronisation on an event, never an assertion on time)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(JournalError):
            found = condition()
            if found:
                return found
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@dataclass
class Run:
    """A tasks file run by a background controller (``run --tasks --detach``).

    Attributes:
        root: the test's directory; state: the local backend's state directory there.
        journal: the run's journal (set by `start`).
    """

    root: Path
    state: Path = field(init=False)
    journal: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.root / "state"
        self.journal = self.root / "tasks.toml.journal.db"

    def start(self, tasks: str, parallelism: int = 16) -> Path:
        """Write `tasks` (TOML) and start its controller in the background, running up to
        `parallelism` of them at once (they mostly wait for a file)."""
        path = self.root / "tasks.toml"
        path.write_text(tasks)
        started = cli("run", "--tasks", str(path), "--detach", "--parallelism", str(parallelism),
                      state=self.state)  # fmt: skip
        assert started.returncode == 0, started.stderr
        return self.journal

    def stop(self) -> None:
        """End the background controller if it still runs (it is ours)."""
        holder = lock_holder(self.journal) if self.journal.exists() else None
        if holder is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(holder[1], signal.SIGKILL)

    def status(self) -> dict[str, dict[str, Any]]:
        """name → task of ``distributor status --json``."""
        shown = cli("status", str(self.journal), "--json", state=self.state)
        assert shown.returncode == 0, shown.stderr
        return {t["name"]: t for t in json.loads(shown.stdout)["tasks"]}


@dataclass
class Dashboard:
    """A ``distributor dashboard`` process on a free port.

    Attributes:
        url: its address as printed (with the token when there is one).
        process: the process.
    """

    url: str
    process: subprocess.Popen[str]

    @classmethod
    @contextlib.contextmanager
    def serving(cls, journal: Path, state: Path, *options: str) -> Iterator[Dashboard]:
        """Start the dashboard of `journal`, yield it once it listens, then end it."""
        env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(state)}
        process = subprocess.Popen(
            [sys.executable, "-m", "distributor.cli", "dashboard", str(journal), "--port", "0",
             *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "http://" in line, (line, process.stderr.read() if process.stderr else "")
            yield cls(line.split(": ", 1)[1].strip(), process)
        finally:
            process.terminate()
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()

    @property
    def base(self) -> str:
        """The address without its query (the token)."""
        return self.url.split("?", 1)[0]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body) of a GET of `path` (relative to the base address)."""
        request = urllib.request.Request(self.base + path, headers=headers or {})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http only
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()
