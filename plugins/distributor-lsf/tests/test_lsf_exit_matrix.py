"""The exit matrix in LSF's terms, on the fake commands: every way a job can end.

All cases are submitted at once by one module-scoped fixture (which also does the ``bkill``s
from outside and the terminations), and each test then checks one case. The fake runs with
one LSF minute = 1 s, so ``runtime=60`` (``-W 0:01``) hits its run limit after a second.
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
from distributor_lsf import LsfDistributor
from distributor_lsf.client import lsf_environment
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(
    min_interval=0.1,
    max_interval=0.5,
    accounting_interval=0.5,
    accounting_delay=3.0,
    lost_grace=6.0,
)
HOG = (
    f'{sys.executable} -c "import time; x = []\n'
    "for _ in range(60): x.append(b'x' * (50 * 2**20)); time.sleep(0.05)\""
)
LONG = {"runtime": 3600}


@dataclass
class Matrix:
    """The submitted cases and how each ended."""

    distributor: LsfDistributor
    ids: dict[str, str] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)


def wait_running(distributor: LsfDistributor, did: str, timeout: float = 30.0) -> None:
    """Wait until LSF runs `did` and the worker recorded that it starts the command."""
    job = distributor.tracker.get(did)
    assert job is not None and job.record_path is not None
    started = job.record_path.with_name(job.record_path.name.replace("exit", "started", 1))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = distributor.tracker.statuses([did]).get(did)
        if status is not None and status.phase is JobPhase.RUNNING and started.exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"{did} did not start within {timeout}s")


def bkill_outside(env: dict[str, str], did: str, **extra: str) -> None:
    """``bkill`` a job as its owner would from a shell (or an administrator, with extra env)."""
    subprocess.run(["bkill", did], env={**lsf_environment(env), **extra}, check=True)


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Submit every case, kill the ones that need it, and wait for all exit infos."""
    base = tmp_path_factory.mktemp("matrix")
    env = command_environment(
        BIN,
        FAKE_LSF_STATE=str(base / "lsf"),
        FAKE_LSF_MINUTE="1",
        FAKE_LSF_TERMINATE_INTERVAL="0.3",
        FAKE_LSF_RUNLIMIT_GRACE="1",
        FAKE_LSF_SLOTS="16",
    )
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=base / "root", lsf_env=env, poll_policy=FAST)
        lsf.start()
        m = Matrix(lsf)
        submit = lsf.submit_to_batch_distributor
        m.ids["exit 0"] = submit("true", "exit0", LONG)
        m.ids["exit 3"] = submit("exit 3", "exit3", LONG)
        m.ids["kill -9 $$"] = submit("kill -9 $$", "kill9", LONG)
        m.ids["memory over the request"] = submit(HOG, "hog", {"memory": "150M", **LONG})
        m.ids["TERM_RUNLIMIT"] = submit("sleep 600", "runlimit", {"runtime": 60})
        m.ids["bkill (TERM_OWNER)"] = submit("sleep 600", "owner", LONG)
        m.ids["bkill (TERM_ADMIN)"] = submit("sleep 600", "admin", LONG)
        capped = {**LONG, "lsf.array_cap": "1"}
        one = lsf.submit_array_to_batch_distributor("sleep 600", "one", capped, 3)
        whole = lsf.submit_array_to_batch_distributor("sleep 600", "whole", LONG, 3)
        wait_running(lsf, m.ids["bkill (TERM_OWNER)"])
        bkill_outside(env, m.ids["bkill (TERM_OWNER)"])
        wait_running(lsf, m.ids["bkill (TERM_ADMIN)"])
        bkill_outside(env, m.ids["bkill (TERM_ADMIN)"], FAKE_LSF_ADMIN="1")
        wait_running(lsf, one[0])
        m.ids["terminate running element"] = one[0]
        m.ids["terminate pending element"] = one[2]
        lsf.terminate_task_instances([one[0], one[2]])
        m.ids["terminate whole array"] = whole[1]
        before = lsf.client.runner.calls["bkill"]
        lsf.terminate_task_instances(list(whole.values()))
        m.ids["bkills for a whole array"] = str(lsf.client.runner.calls["bkill"] - before)
        m.ids["terminate last element"] = one[1]
        lsf.terminate_task_instances([one[1]])
        for case, did in m.ids.items():
            if not case.startswith("bkills"):
                m.infos[case] = wait_for_exit_info(lsf, did, 60.0, 0.1)
        for step, did in whole.items():
            m.infos[f"whole array step {step}"] = wait_for_exit_info(lsf, did, 30.0, 0.1)
        yield m


CASES = [
    ("exit 0", TaskInstanceStatus.DONE, ""),
    (
        "exit 3",
        TaskInstanceStatus.ERROR,
        "the command exited with status 3 (LSF EXIT, exit code 3)",
    ),
    ("kill -9 $$", TaskInstanceStatus.ERROR, "the command was killed by signal SIGKILL"),
    ("memory over the request", TaskInstanceStatus.RESOURCE_ERROR, "memory limit of 150.0 MiB"),
    ("TERM_RUNLIMIT", TaskInstanceStatus.RESOURCE_ERROR, "exceeded its runtime limit of 00:01:00"),
    ("bkill (TERM_OWNER)", TaskInstanceStatus.KILLED_SELF, "killed by its owner outside"),
    ("bkill (TERM_ADMIN)", TaskInstanceStatus.KILLED_SELF, "by root or an LSF administrator"),
    ("terminate running element", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate pending element", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate whole array", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
    ("terminate last element", TaskInstanceStatus.KILLED_SELF, "terminated on request"),
]


@pytest.mark.parametrize(("case", "state", "words"), CASES, ids=[c[0] for c in CASES])
def test_exit_matrix(matrix: Matrix, case: str, state: TaskInstanceStatus, words: str) -> None:
    """Each case ends in its expected state with a message that says what happened."""
    info = matrix.infos[case]
    assert info.finalized
    assert info.error_state == state, f"{case}: {info}"
    assert words in info.error_message, f"{case}: {info.error_message!r}"
    if case.startswith("TERM_") or "(TERM_" in case:
        assert case.split("(")[-1].rstrip(")") in info.error_message


def test_memory_is_enforced_by_lsf_or_the_worker(matrix: Matrix) -> None:
    """LSF (``-M``, TERM_MEMLIMIT) and the worker (the request) both watch the memory, at the
    same limit; whichever sees it first ends the task, and the message says which."""
    message = matrix.infos["memory over the request"].error_message
    assert ("TERM_MEMLIMIT" in message) != ("by distributor-worker" in message), message


def test_run_limit_ends_an_unprepared_command_with_sigusr2(matrix: Matrix) -> None:
    """At the run limit LSF sends SIGUSR2, which ends a command that does not catch it: exit
    code 140 = 128 + SIGUSR2, long before the worker's own limit."""
    info = matrix.infos["TERM_RUNLIMIT"]
    assert "exit code 140" in info.error_message
    assert "distributor-worker" not in info.error_message


def test_whole_array_is_killed_with_one_bkill(matrix: Matrix) -> None:
    """Every element of the terminated array is K, and one bkill named the array by its id."""
    steps = [info for case, info in matrix.infos.items() if case.startswith("whole array")]
    assert len(steps) == 3
    assert all(info.error_state == TaskInstanceStatus.KILLED_SELF for info in steps)
    assert matrix.ids["bkills for a whole array"] == "1"


def test_matrix_report(matrix: Matrix, capsys: pytest.CaptureFixture[str]) -> None:
    """The observed matrix is printed (run with -s to see it) and every id is settled."""
    with capsys.disabled():
        for case, info in matrix.infos.items():
            did = matrix.ids.get(case, "")
            print(f"{case:28} {did:>8} {info.error_state.value} {info.error_message}")
    ids = [did for case, did in matrix.ids.items() if not case.startswith("bkills")]
    assert matrix.distributor.get_submitted_or_running(ids) == set()


def test_one_bjobs_per_cycle(matrix: Matrix) -> None:
    """The tracker ran exactly one bjobs per poll cycle for all these jobs; bhist was not needed."""
    stats = matrix.distributor.tracker.stats
    calls = matrix.distributor.client.runner.calls
    assert calls["bjobs"] == stats.status_commands == stats.cycles
    assert calls["bhist"] == stats.accounting_commands == 0
