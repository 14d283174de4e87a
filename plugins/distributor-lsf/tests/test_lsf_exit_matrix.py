"""The exit matrix in LSF's terms, on the fake commands: every way a job can end.

All cases are submitted at once by one module-scoped fixture (which also does the ``bkill``s
from outside and the terminations), and each test then checks one case. The fake runs with
one LSF minute = 1 s, so ``runtime=60`` (``-W 0:01``) hits its run limit after a second.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import PollPolicy, RecordingTransport
from distributor.testing import ExitCase, ExitMatrix
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
WHOLE_ARRAY = [f"whole array step {step}" for step in range(3)]


def start_record(lsf: LsfDistributor, did: str) -> Path:
    """Where the worker of `did` records that it starts the command: beside its exit record."""
    job = lsf.tracker.get(did)
    assert job is not None and job.record_path is not None, did
    return job.record_path.with_name(job.record_path.name.replace("exit", "started", 1))


def bkill_outside(env: dict[str, str], did: str, **extra: str) -> None:
    """``bkill`` a job as its owner would from a shell (or an administrator, with extra env)."""
    subprocess.run(["bkill", did], env={**lsf_environment(env), **extra}, check=True)


def lsf_of(matrix: ExitMatrix) -> LsfDistributor:
    """The matrix's distributor, as the LSF distributor it is."""
    assert isinstance(matrix.distributor, LsfDistributor)
    return matrix.distributor


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExitMatrix]:
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
        lsf = LsfDistributor(
            "fake",
            submit_root=base / "root",
            lsf_env=env,
            poll_policy=FAST,
            transport=RecordingTransport(),
        )
        lsf.start()
        m = ExitMatrix(lsf, started=partial(start_record, lsf))
        m.submit("exit 0", "true", LONG)
        m.submit("exit 3", "exit 3", LONG)
        m.submit("kill -9 $$", "kill -9 $$", LONG)
        m.submit("memory over the request", HOG, {"memory": "150M", **LONG})
        m.submit("TERM_RUNLIMIT", "sleep 600", {"runtime": 60})
        m.submit("bkill (TERM_OWNER)", "sleep 600", LONG)
        m.submit("bkill (TERM_ADMIN)", "sleep 600", LONG)
        one = m.array("sleep 600", 3, {**LONG, "lsf.array_cap": "1"})
        m.add("terminate running element", one[0])
        m.add("terminate last element", one[1])
        m.add("terminate pending element", one[2])
        whole = m.array("sleep 600", len(WHOLE_ARRAY), LONG)
        for step, did in whole.items():
            m.add(WHOLE_ARRAY[step], did)
        m.add("terminate whole array", whole[1])
        m.wait_running("bkill (TERM_OWNER)", timeout=30)
        bkill_outside(env, m.ids["bkill (TERM_OWNER)"])
        m.wait_running("bkill (TERM_ADMIN)", timeout=30)
        bkill_outside(env, m.ids["bkill (TERM_ADMIN)"], FAKE_LSF_ADMIN="1")
        m.wait_running("terminate running element", timeout=30)
        lsf.terminate_task_instances([one[0], one[2]])
        lsf.terminate_task_instances(list(whole.values()))
        lsf.terminate_task_instances([one[1]])
        m.collect(timeout=60)
        yield m


D, E, K, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.RESOURCE_ERROR,
)
CASES = [
    ExitCase("exit 0", D),
    ExitCase("exit 3", E, "the command exited with status 3 (LSF EXIT, exit code 3)"),
    ExitCase("kill -9 $$", E, "the command was killed by signal SIGKILL"),
    ExitCase("memory over the request", Z, "memory limit of 150.0 MiB"),
    ExitCase("TERM_RUNLIMIT", Z, "exceeded its runtime limit of 00:01:00"),
    ExitCase("bkill (TERM_OWNER)", K, "killed by its owner outside"),
    ExitCase("bkill (TERM_ADMIN)", K, "by root or an LSF administrator"),
    ExitCase("terminate running element", K, "terminated on request"),
    ExitCase("terminate pending element", K, "terminated on request"),
    ExitCase("terminate whole array", K, "terminated on request"),
    ExitCase("terminate last element", K, "terminated on request"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_exit_matrix(matrix: ExitMatrix, case: ExitCase) -> None:
    """Each case ends in its expected state with a message that says what happened, and a
    case named for an LSF termination reason names it."""
    matrix.check(case)
    if case.name.startswith("TERM_") or "(TERM_" in case.name:
        reason = case.name.split("(")[-1].rstrip(")")
        matrix.check(ExitCase(case.name, case.state, reason))


def test_memory_is_enforced_by_lsf_or_the_worker(matrix: ExitMatrix) -> None:
    """LSF (``-M``, TERM_MEMLIMIT) and the worker (the request) both watch the memory, at the
    same limit; whichever sees it first ends the task, and the message says which."""
    message = matrix.infos["memory over the request"].error_message
    assert ("TERM_MEMLIMIT" in message) != ("by distributor-worker" in message), message


def test_run_limit_ends_an_unprepared_command_with_sigusr2(matrix: ExitMatrix) -> None:
    """At the run limit LSF sends SIGUSR2, which ends a command that does not catch it: exit
    code 140 = 128 + SIGUSR2, long before the worker's own limit."""
    message = matrix.infos["TERM_RUNLIMIT"].error_message
    assert "exit code 140" in message
    assert "distributor-worker" not in message


def test_whole_array_is_killed_with_one_bkill(matrix: ExitMatrix) -> None:
    """Every element of the terminated array is K, and one bkill named the array by its id
    (no bkill named an element of it)."""
    for case in WHOLE_ARRAY:
        matrix.check(ExitCase(case, K, "terminated on request"))
    job = matrix.ids[WHOLE_ARRAY[0]].partition("[")[0]
    transport = lsf_of(matrix).client.runner.transport
    assert isinstance(transport, RecordingTransport)
    naming = [
        argv
        for argv in transport.of("bkill")
        if any(token.partition("[")[0] == job for token in argv[1:])
    ]
    assert naming == [("bkill", job)]


def test_matrix_report(matrix: ExitMatrix, capsys: pytest.CaptureFixture[str]) -> None:
    """The observed matrix is printed (run with -s to see it) and every id is settled."""
    with capsys.disabled():
        print(matrix.report())
    assert matrix.distributor.get_submitted_or_running(list(matrix.ids.values())) == set()


def test_one_bjobs_per_cycle(matrix: ExitMatrix) -> None:
    """The tracker ran exactly one bjobs per poll cycle for all these jobs; bhist was not needed."""
    lsf = lsf_of(matrix)
    stats = lsf.tracker.stats
    calls = lsf.client.runner.calls
    assert calls["bjobs"] == stats.status_commands == stats.cycles
    assert calls["bhist"] == stats.accounting_commands == 0
