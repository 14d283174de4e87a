"""`ExitMatrix`: every way a task can end, submitted at once, for a plugin's exit-state tests.

Each batch plugin proves its state map the same way: submit one task per case (exit 0, exit
3, killed by a signal, over its memory, over its runtime, cancelled from outside, terminated
running, pending, as a whole array...), do to them what the cases need, wait until every one
has final exit info, then check each case's state and words::

    matrix = ExitMatrix(distributor)
    matrix.submit("exit 3", "exit 3")
    matrix.submit("time limit", "sleep 600", {"runtime": 60})
    matrix.wait_running("time limit")                      # before killing something from outside
    matrix.collect(timeout=240)
    for case in CASES:                                      # ExitCase("exit 3", E, "status 3")
        matrix.check(case)

Submitting everything first lets the slow cases (a runtime limit) overlap the others;
`collect` waits for all of them in one loop.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributor.exceptions import RemoteExitInfoNotAvailable
from distributor.exit_info import RemoteExitInfo, TaskInstanceStatus, normalize_exit_info
from distributor.protocols import ClusterDistributor, SupportsRunningQuery

__all__ = ["ExitCase", "ExitMatrix", "collect_all"]


@dataclass(frozen=True, slots=True)
class ExitCase:
    """How one case must end.

    Attributes:
        name: the case, as submitted to `ExitMatrix`.
        state: the exit state it must have.
        words: text its message must contain; a tuple means any one of them (two enforcers
            of one limit may race, each with its own wording).
        also: further texts the message must all contain.
    """

    name: str
    state: TaskInstanceStatus
    words: str | tuple[str, ...] = ""
    also: tuple[str, ...] = ()


@dataclass
class ExitMatrix:
    """Tasks standing for cases, and how each ended.

    Attributes:
        distributor: the started distributor the cases go to.
        ids: case → distributor id.
        infos: case → final exit info (filled by `collect`).
        started: optional: the path of the start record a task's worker writes, by id, so
            that `wait_running` also waits for the command itself to run.
    """

    distributor: ClusterDistributor
    ids: dict[str, str] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)
    started: Callable[[str], Path] | None = None

    def submit(self, case: str, command: str, resources: Mapping[str, Any] | None = None) -> str:
        """Submit `command` for `case` (its name is derived from the case) and return its id."""
        name = "case_" + "".join(c if c.isalnum() else "_" for c in case)[:40]
        did = self.distributor.submit_to_batch_distributor(command, name, dict(resources or {}))
        self.ids[case] = did
        return did

    def array(
        self, command: str, length: int, resources: Mapping[str, Any] | None = None
    ) -> dict[int, str]:
        """Submit an array whose steps become cases with `add`; return step → id."""
        name = f"array_{uuid.uuid4().hex[:8]}"
        return self.distributor.submit_array_to_batch_distributor(
            command, name, dict(resources or {}), length
        )

    def add(self, case: str, distributor_id: str) -> None:
        """Make an id submitted otherwise (an array step) a case."""
        self.ids[case] = distributor_id

    def wait_running(self, case: str, timeout: float = 120.0, interval: float = 0.1) -> None:
        """Wait until the scheduler runs the case's task (and, with `started`, until its
        worker has started the command).

        Raises:
            AssertionError: it did not within `timeout` seconds.
        """
        did = self.ids[case]
        running = self.distributor
        assert isinstance(running, SupportsRunningQuery), "the distributor cannot say"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.started is None or self.started(did).exists()
            if ready and did in running.get_running([did]):
                return
            time.sleep(interval)
        raise AssertionError(f"case {case!r} ({did}) did not start within {timeout}s")

    def collect(self, timeout: float, interval: float = 0.2) -> None:
        """Wait until every case has final exit info, polling all of them in one loop.

        Raises:
            AssertionError: some had none after `timeout` seconds (named, with the last reason).
        """
        collect_all([self], timeout, interval)

    def _poll(self) -> dict[str, str]:
        """Ask once about every case still waiting; return case → why it still waits."""
        waiting = {}
        for case in self.ids:
            if case in self.infos:
                continue
            try:
                info = normalize_exit_info(self.distributor.get_remote_exit_info(self.ids[case]))
            except RemoteExitInfoNotAvailable as exc:
                waiting[case] = str(exc)
                continue
            if info.finalized:
                self.infos[case] = info
            else:
                waiting[case] = f"non-final {info}"
        return waiting

    def check(self, case: ExitCase) -> None:
        """Assert that `case` ended in its state with its words, saying what it got instead."""
        info = self.infos[case.name]
        assert info.finalized, f"{case.name}: {info} is not final"
        assert info.error_state == case.state, f"{case.name}: {info}"
        alternatives = (case.words,) if isinstance(case.words, str) else case.words
        assert any(words in info.error_message for words in alternatives), (
            f"{case.name}: {info.error_message!r} says none of {alternatives}"
        )
        missing = [words for words in case.also if words not in info.error_message]
        assert not missing, f"{case.name}: {info.error_message!r} does not say {missing}"

    def report(self) -> str:
        """The matrix as a table for a test's output: case, id, state and message."""
        width = max((len(case) for case in self.infos), default=4)
        id_width = max((len(self.ids.get(case, "?")) for case in self.infos), default=2)
        lines = [f"{'case':<{width}}  {'id':<{id_width}}  state  message"]
        for case, info in self.infos.items():
            line = (f"{case:<{width}}  {self.ids.get(case, '?'):<{id_width}}  "
                    f"{info.error_state.value:<5}  {info.error_message}")  # fmt: skip
            lines.append(line.rstrip())
        return "\n".join(lines)


def collect_all(matrices: Sequence[ExitMatrix], timeout: float, interval: float = 0.2) -> None:
    """Wait until every case of every matrix (each on its own distributor) has final exit
    info, polling all of them in one loop, so that their waits overlap.

    Raises:
        AssertionError: some had none after `timeout` seconds (named, with the last reason).
    """
    deadline = time.monotonic() + timeout
    while True:
        waiting = {case: why for matrix in matrices for case, why in matrix._poll().items()}
        if not waiting or time.monotonic() >= deadline:
            break
        time.sleep(interval)
    assert not waiting, f"no final exit info after {timeout}s: {waiting}"
