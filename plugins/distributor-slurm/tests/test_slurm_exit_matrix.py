"""The exit matrix on the real Slurm: every way a job can end, with the expected code and words.

All cases are submitted at once (so the slow time-limit case overlaps the others) by one
module-scoped fixture, which also performs the cancellations; each test then checks one case.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import ExitCase, ExitMatrix
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


def started_record(slurm: SlurmDistributor) -> Callable[[str], Path]:
    """The start record each task's worker writes (so a kill reaches the command itself)."""

    def path(did: str) -> Path:
        job = slurm.tracker.get(did)
        assert job is not None and job.record_path is not None
        return job.record_path.with_name(job.record_path.name.replace("exit", "started", 1))

    return path


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExitMatrix]:
    """Submit every case, cancel the ones that need it, and wait for all exit infos."""
    root = tmp_path_factory.mktemp("matrix") / "root"
    slurm = SlurmDistributor("dev", submit_root=root, slurm_conf=SLURM_CONF, poll_policy=FAST)
    slurm.start()
    m = ExitMatrix(slurm, started=started_record(slurm))
    try:
        m.submit("exit 0", "true", {"runtime": 120})
        m.submit("exit 3", "exit 3", {"runtime": 120})
        m.submit("kill -9 $$", "kill -9 $$", {"runtime": 120})
        m.submit("memory limit", HOG, {"memory": "150M", "runtime": 120})
        m.submit("time limit", "sleep 600", {"runtime": 60})
        outside = m.submit("scancel outside", "sleep 600", {"runtime": 300})
        one = m.array("sleep 600", 3, {"runtime": 300})
        whole = m.array("sleep 600", 3, {"runtime": 300})
        m.wait_running("scancel outside")
        subprocess.run(["scancel", outside], env=slurm_environment(SLURM_CONF), check=True)
        m.add("terminate running task", one[0])
        m.add("terminate pending task", one[2])
        m.wait_running("terminate running task")
        slurm.terminate_task_instances([one[0], one[2]])
        m.add("terminate whole array", whole[1])
        for step, did in whole.items():
            m.add(f"whole array step {step}", did)
        slurm.terminate_task_instances(list(whole.values()))
        m.add("terminate last task", one[1])
        slurm.terminate_task_instances([one[1]])
        m.collect(timeout=300.0, interval=0.5)
        yield m
    finally:
        slurm.terminate_task_instances(list(m.ids.values()))


CASES = [
    ExitCase("exit 0", TaskInstanceStatus.DONE),
    ExitCase("exit 3", TaskInstanceStatus.ERROR, "exited with status 3"),
    ExitCase("kill -9 $$", TaskInstanceStatus.ERROR, "killed by signal SIGKILL"),
    ExitCase("memory limit", TaskInstanceStatus.RESOURCE_ERROR,
             ("exceeded its memory limit of 150.0 MiB", "memory limit of 165.0 MiB exceeded")),
    ExitCase("time limit", TaskInstanceStatus.RESOURCE_ERROR,
             "exceeded its runtime limit of 00:01:00"),
    ExitCase("scancel outside", TaskInstanceStatus.KILLED_SELF,
             "cancelled outside this distributor"),
    ExitCase("terminate running task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ExitCase("terminate pending task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ExitCase("terminate whole array", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ExitCase("terminate last task", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    *(ExitCase(f"whole array step {step}", TaskInstanceStatus.KILLED_SELF) for step in range(3)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_exit_matrix(matrix: ExitMatrix, case: ExitCase) -> None:
    """Each case ends in its expected state with a message that says what happened."""
    matrix.check(case)


def test_matrix_report(matrix: ExitMatrix, capsys: pytest.CaptureFixture[str]) -> None:
    """The observed matrix is printed (run with -s to see it) and every id is settled."""
    with capsys.disabled():
        print(matrix.report())
    assert matrix.distributor.get_submitted_or_running(list(matrix.ids.values())) == set()


def test_accounting_was_barely_needed(matrix: ExitMatrix) -> None:
    """squeue's recent history settled the cases: status commands dominate sacct calls."""
    distributor = matrix.distributor
    assert isinstance(distributor, SlurmDistributor)
    stats = distributor.tracker.stats
    assert stats.status_commands == stats.cycles
    assert stats.accounting_commands <= stats.cycles
