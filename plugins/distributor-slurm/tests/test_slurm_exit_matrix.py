"""The exit matrix on the real Slurm: every way a job can end, with the expected code and words.

All cases are submitted at once (so the slow time-limit case overlaps the others) by one
module-scoped fixture, which also performs the cancellations; each test then checks one case.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distributor import RemoteExitInfo, TaskInstanceStatus
from distributor.batch import JobPhase, PollPolicy
from distributor.testing import wait_for_exit_info
from distributor_slurm import SlurmDistributor
from distributor_slurm.client import slurm_environment
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = [
    pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""),
    pytest.mark.slow,
]

FAST = PollPolicy(
    min_interval=0.5,
    max_interval=2.0,
    accounting_interval=2.0,
    accounting_delay=20.0,
    lost_grace=60.0,
)
HOG = (
    f'{sys.executable} -c "import time; x = []\n'
    "for _ in range(60): x.append(b'x' * (50 * 2**20)); time.sleep(0.05)\""
)


@dataclass
class Matrix:
    """The submitted cases and how each ended."""

    distributor: SlurmDistributor
    ids: dict[str, str] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)


def wait_running(distributor: SlurmDistributor, did: str, timeout: float = 120.0) -> None:
    """Wait until Slurm runs `did`, plus a moment for the worker to start the command."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = distributor.tracker.statuses([did]).get(did)
        if status is not None and status.phase is JobPhase.RUNNING:
            time.sleep(2.0)
            return
        time.sleep(0.2)
    raise AssertionError(f"{did} did not start within {timeout}s")


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Submit every case, cancel the ones that need it, and wait for all exit infos."""
    root = tmp_path_factory.mktemp("matrix") / "root"
    slurm = SlurmDistributor("dev", submit_root=root, slurm_conf=SLURM_CONF, poll_policy=FAST)
    slurm.start()
    m = Matrix(slurm)
    submit = slurm.submit_to_batch_distributor
    m.ids["exit 0"] = submit("true", "exit0", {"runtime": 120})
    m.ids["exit 3"] = submit("exit 3", "exit3", {"runtime": 120})
    m.ids["kill -9 $$"] = submit("kill -9 $$", "kill9", {"runtime": 120})
    m.ids["memory limit"] = submit(HOG, "hog", {"memory": "150M", "runtime": 120})
    m.ids["time limit"] = submit("sleep 600", "timeout", {"runtime": 60})
    m.ids["scancel outside"] = submit("sleep 600", "outside", {"runtime": 300})
    one = slurm.submit_array_to_batch_distributor("sleep 600", "one", {"runtime": 300}, 3)
    whole = slurm.submit_array_to_batch_distributor("sleep 600", "whole", {"runtime": 300}, 3)
    try:
        wait_running(slurm, m.ids["scancel outside"])
        subprocess.run(
            ["scancel", m.ids["scancel outside"]],
            env=slurm_environment(SLURM_CONF),
            check=True,
        )
        wait_running(slurm, one[0])
        m.ids["terminate running task"] = one[0]
        m.ids["terminate pending task"] = one[2]
        slurm.terminate_task_instances([one[0], one[2]])
        m.ids["terminate whole array"] = whole[1]
        slurm.terminate_task_instances(list(whole.values()))
        m.ids["terminate last task"] = one[1]
        slurm.terminate_task_instances([one[1]])
        for case, did in m.ids.items():
            m.infos[case] = wait_for_exit_info(slurm, did, 240.0, 0.5)
        for did in whole.values():
            m.infos[f"whole array {did}"] = wait_for_exit_info(slurm, did, 60.0, 0.5)
        yield m
    finally:
        slurm.terminate_task_instances([*m.ids.values(), *one.values(), *whole.values()])


CASES = [
    ("exit 0", TaskInstanceStatus.DONE, ""),
    ("exit 3", TaskInstanceStatus.ERROR, "exited with status 3"),
    ("kill -9 $$", TaskInstanceStatus.ERROR, "killed by signal SIGKILL"),
    ("memory limit", TaskInstanceStatus.RESOURCE_ERROR, "exceeded its memory limit of 150.0 MiB"),
    ("time limit", TaskInstanceStatus.RESOURCE_ERROR, "exceeded its runtime limit of 00:01:00"),
    ("scancel outside", TaskInstanceStatus.KILLED_SELF, "cancelled outside this distributor"),
    ("terminate running task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate pending task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate whole array", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate last task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
]


@pytest.mark.parametrize(("case", "state", "words"), CASES, ids=[c[0] for c in CASES])
def test_exit_matrix(matrix: Matrix, case: str, state: TaskInstanceStatus, words: str) -> None:
    """Each case ends in its expected state with a message that says what happened."""
    info = matrix.infos[case]
    assert info.finalized
    assert info.error_state == state, f"{case}: {info}"
    assert words in info.error_message, f"{case}: {info.error_message!r}"


def test_whole_array_is_killed_with_one_scancel_token(matrix: Matrix) -> None:
    """Every step of the terminated array is K, and scancel named the array by its job id."""
    steps = [info for case, info in matrix.infos.items() if case.startswith("whole array")]
    assert len(steps) == 3
    assert all(info.error_state == TaskInstanceStatus.KILLED_SELF for info in steps)


def test_matrix_report(matrix: Matrix, capsys: pytest.CaptureFixture[str]) -> None:
    """The observed matrix is printed (run with -s to see it) and every id is settled."""
    with capsys.disabled():
        for case, info in matrix.infos.items():
            print(
                f"{case:28} {matrix.ids.get(case, ''):>8} {info.error_state.value} "
                f"{info.error_message}"
            )
    assert matrix.distributor.get_submitted_or_running(list(matrix.ids.values())) == set()


def test_accounting_was_barely_needed(matrix: Matrix) -> None:
    """squeue's recent history settled the cases: status commands dominate sacct calls."""
    stats = matrix.distributor.tracker.stats
    assert stats.status_commands == stats.cycles
    assert stats.accounting_commands <= stats.cycles
    assert Path(matrix.distributor.submit_root.path).is_dir()
