"""The exit matrix in PBS's terms, on the fake PBS Pro and the fake Torque.

Every way a job can end is submitted at once per flavour by one module-scoped fixture (so the
slow limit cases overlap), which also performs the deletions; each test then checks one case.
The fake runs the jobs for real and reports them as the PBS documentation says: limit kills as
``Exit_status`` -29/-27 (PBS Pro) and -11/-10 (Torque), or — on a second server configured with
``limit_codes = "signal"`` — as the raw signal status older servers report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distributor import RemoteExitInfo, TaskInstanceStatus
from distributor.batch import JobPhase
from distributor.testing import wait_for_exit_info
from distributor_pbs import PbsDistributor
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
HOG = (
    f'{sys.executable} -c "import time; x = []\n'
    "for _ in range(60): x.append(b'x' * (20 * 2**20)); time.sleep(0.02)\""
)
LIMITS = {
    "resources_max.walltime": "24:00:00",
    "resources_max.mem": "8gb",
    "resources_max.ncpus": "8",
}


@dataclass
class Matrix:
    """The submitted cases and how each ended."""

    flavour: str
    ids: dict[str, str] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)


def wait_running(pbs: PbsDistributor, did: str, timeout: float = 20.0) -> None:
    """Wait until PBS runs `did`, plus a moment for the worker to start the command."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = pbs.tracker.statuses([did]).get(did)
        if status is not None and status.phase is JobPhase.RUNNING:
            time.sleep(0.3)
            return
        time.sleep(0.05)
    raise AssertionError(f"{did} did not start within {timeout}s")


def fake(tmp: Path, flavour: str, **settings: object) -> tuple[PbsDistributor, dict[str, str]]:
    """A started distributor on a fresh fake server with a running and a stopped queue."""
    queues = {"main": LIMITS, "stopped": {**LIMITS, "started": "False"}}
    env = fake_environment(
        FAKES, tmp / "pbs", flavour=flavour, server=tmp.name, queues=queues, **settings
    )
    pbs = PbsDistributor(
        "fake", submit_root=tmp / "root", environment=env, poll_policy=FAST_POLLING
    )
    pbs.start()
    return pbs, env


def qdel_outside(env: dict[str, str], did: str) -> None:
    """Delete a job with the fake's qdel, as a user at a shell would."""
    subprocess.run(["qdel", did], env={**os.environ, **env}, check=True)


@pytest.fixture(scope="module", params=["pro", "torque"])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    """Submit every case to both fakes of one flavour, delete what needs it, wait for all."""
    flavour: str = request.param
    tmp = tmp_path_factory.mktemp(f"matrix-{flavour}")
    pbs, env = fake(tmp / "documented", flavour)
    old, _ = fake(tmp / "signal", flavour, limit_codes="signal")
    gone, _ = fake(tmp / "forgetful", flavour, history=False, keep_completed=0)
    m = Matrix(flavour)
    main = {"queue": "main", "runtime": 60}
    submit = pbs.submit_to_batch_distributor
    m.ids["exit 0"] = submit("true", "exit0", main)
    m.ids["exit 3"] = submit("exit 3", "exit3", main)
    m.ids["kill -9 $$"] = submit("kill -9 $$", "kill9", main)
    m.ids["memory limit"] = submit(HOG, "hog", {**main, "memory": "100M"})
    m.ids["time limit"] = submit("sleep 60", "timeout", {**main, "runtime": 2})
    m.ids["qdel outside, running"] = submit("sleep 60", "outside", main)
    m.ids["qdel outside, queued"] = submit("sleep 60", "outside", {"queue": "stopped"})
    m.ids["terminate running"] = submit("sleep 60", "term", main)
    m.ids["terminate queued"] = submit("sleep 60", "term", {"queue": "stopped"})
    m.ids["old server: memory limit"] = old.submit_to_batch_distributor(
        HOG, "hog", {**main, "memory": "100M"}
    )
    m.ids["old server: time limit"] = old.submit_to_batch_distributor(
        "sleep 60", "timeout", {**main, "runtime": 2}
    )
    forget = gone.submit_to_batch_distributor
    m.ids["no history: exit 0"] = forget("true", "exit0", main)
    m.ids["no history: exit 3"] = forget("exit 3", "exit3", main)
    m.ids["no history, no record"] = forget("kill -9 $PPID", "lost", main)
    whole = pbs.submit_array_to_batch_distributor("sleep 60", "whole", main, 3)
    owner = {did: pbs for did in m.ids.values()}
    owner.update({m.ids[c]: old for c in m.ids if c.startswith("old server")})
    owner.update({m.ids[c]: gone for c in m.ids if c.startswith("no history")})
    try:
        wait_running(pbs, m.ids["qdel outside, running"])
        qdel_outside(env, m.ids["qdel outside, running"])
        qdel_outside(env, m.ids["qdel outside, queued"])
        wait_running(pbs, m.ids["terminate running"])
        pbs.terminate_task_instances([m.ids["terminate running"], m.ids["terminate queued"]])
        wait_running(pbs, whole[1])
        m.ids["terminate whole array"] = whole[1]
        owner[whole[1]] = pbs
        pbs.terminate_task_instances(list(whole.values()))
        for case, did in m.ids.items():
            m.infos[case] = wait_for_exit_info(owner[did], did, 30.0, 0.05)
        for step, did in whole.items():
            m.infos[f"whole array step {step}"] = wait_for_exit_info(pbs, did, 30.0, 0.05)
        yield m
    finally:
        for distributor in (pbs, old, gone):
            distributor.terminate_task_instances(distributor.tracker.tracked())


K, Z, E, D, U = (
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.RESOURCE_ERROR,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.UNKNOWN_ERROR,
)
CASES = [
    ("exit 0", D, D, ""),
    ("exit 3", E, E, "the command exited with status 3"),
    ("kill -9 $$", E, E, "killed by signal SIGKILL"),
    ("memory limit", Z, Z, "exceeded its memory limit of 100.0 MiB"),
    ("time limit", Z, Z, "exceeded its runtime limit of 00:00:02"),
    ("qdel outside, running", K, K, "deleted (qdel) outside this distributor"),
    ("qdel outside, queued", K, U, ""),
    ("terminate running", K, K, "terminated on request"),
    ("terminate queued", K, K, "terminated on request"),
    ("terminate whole array", K, K, "terminated on request"),
    ("old server: memory limit", Z, Z, "exceeded its memory limit of 100.0 MiB"),
    ("old server: time limit", Z, Z, "exceeded its runtime limit of 00:00:02"),
    ("no history: exit 0", D, D, ""),
    ("no history: exit 3", E, E, "from the worker's exit record"),
    ("no history, no record", U, U, "lost: the job left the queue"),
]


@pytest.mark.parametrize(("case", "pro", "torque", "words"), CASES, ids=[case[0] for case in CASES])
def test_exit_matrix(
    matrix: Matrix,
    case: str,
    pro: TaskInstanceStatus,
    torque: TaskInstanceStatus,
    words: str,
) -> None:
    """Each case ends in its flavour's expected state with a message that says what happened
    (Torque keeps no trace of who deleted a queued job, so that one is U there)."""
    info = matrix.infos[case]
    expected = pro if matrix.flavour == "pro" else torque
    assert info.finalized
    assert info.error_state == expected, f"{case}: {info}"
    assert words in info.error_message, f"{case}: {info.error_message!r}"


def test_documented_codes_are_named(matrix: Matrix) -> None:
    """Limit kills name the documented Exit_status code of the flavour."""
    memory, runtime = (
        ("-27 JOB_EXEC_KILL_MEM", "-29 JOB_EXEC_KILL_WALLTIME")
        if matrix.flavour == "pro"
        else ("-10 JOB_EXEC_OVERLIMIT_MEM", "-11 JOB_EXEC_OVERLIMIT_WT")
    )
    assert memory in matrix.infos["memory limit"].error_message
    assert runtime in matrix.infos["time limit"].error_message


def test_whole_array_is_killed(matrix: Matrix) -> None:
    """Every step of the deleted array is K."""
    steps = [info for case, info in matrix.infos.items() if case.startswith("whole array")]
    assert len(steps) == 3
    assert all(info.error_state == K for info in steps)


def test_matrix_report(matrix: Matrix, capsys: pytest.CaptureFixture[str]) -> None:
    """The observed matrix is printed (run with -s to see it)."""
    with capsys.disabled():
        print(f"\n--- {matrix.flavour}")
        for case, info in matrix.infos.items():
            did = matrix.ids.get(case, "")
            print(f"{case:28} {did:>18} {info.error_state.value} {info.error_message}")
