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
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distributor import RemoteExitInfo, RemoteExitInfoNotAvailable, TaskInstanceStatus
from distributor.batch import JobPhase
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
    """One flavour's three fake servers, the submitted cases and how each ended."""

    flavour: str
    pbs: PbsDistributor
    old: PbsDistributor
    gone: PbsDistributor
    env: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    owner: dict[str, PbsDistributor] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)
    envs: dict[Path, dict[str, str]] = field(default_factory=dict)  # submit root → server


def started_record(pbs: PbsDistributor, did: str) -> Path:
    """Where the worker of `did` writes its start record (found through the submit root's
    index)."""
    entry = pbs.submit_root.lookup(str(pbs.scheduler.job_key(did)))
    assert entry is not None, did
    if "offset" not in entry.meta:
        return entry.path / "started.json"
    step = int(entry.meta["offset"]) + list(entry.meta["ids"]).index(did)
    return entry.path / f"started-{step}.json"


def wait_running(pbs: PbsDistributor, did: str, timeout: float = 20.0) -> None:
    """Wait until PBS runs `did` and its worker wrote its start record (from then on the
    worker traps SIGTERM and passes it on to the command)."""
    record = started_record(pbs, did)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = pbs.tracker.statuses([did]).get(did)
        if status is not None and status.phase is JobPhase.RUNNING and record.exists():
            return
        time.sleep(0.05)
    raise AssertionError(f"{did} did not start within {timeout}s")


def fake(tmp: Path, flavour: str, **settings: object) -> tuple[PbsDistributor, dict[str, str]]:
    """A started distributor on a fresh fake server with a running and a stopped queue."""
    queues = {"main": LIMITS, "stopped": {**LIMITS, "started": "False"}}
    env = fake_environment(
        FAKES, tmp / "pbs", flavour=flavour, server=tmp.name, queues=queues, **settings
    )
    return restarted(tmp / "root", env), env


def restarted(root: Path, env: dict[str, str]) -> PbsDistributor:
    """A started distributor on `root` (a new one answers for the ids of earlier ones)."""
    pbs = PbsDistributor("fake", submit_root=root, environment=env, poll_policy=FAST_POLLING)
    pbs.start()
    return pbs


def qdel_outside(env: dict[str, str], did: str) -> None:
    """Delete a job with the fake's qdel, as a user at a shell would."""
    subprocess.run(["qdel", did], env={**os.environ, **env}, check=True)


def submit_all(tmp: Path, flavour: str) -> Matrix:
    """Submit every case of one flavour (a documented, an old and a forgetful server)."""
    pbs, env = fake(tmp / "documented", flavour)
    old, old_env = fake(tmp / "signal", flavour, limit_codes="signal")
    gone, gone_env = fake(tmp / "forgetful", flavour, history=False, keep_completed=0)
    m = Matrix(flavour, pbs, old, gone, env)
    for distributor, server_env in ((pbs, env), (old, old_env), (gone, gone_env)):
        m.envs[distributor.submit_root.path] = server_env
    main = {"queue": "main", "runtime": 60}
    hog = {**main, "memory": "100M"}
    cases: list[tuple[str, PbsDistributor, str, dict[str, object]]] = [
        ("exit 0", pbs, "true", main),
        ("exit 3", pbs, "exit 3", main),
        ("kill -9 $$", pbs, "kill -9 $$", main),
        ("memory limit", pbs, HOG, hog),
        ("time limit", pbs, "sleep 60", {**main, "runtime": 2}),
        ("qdel outside, running", pbs, "sleep 60", main),
        ("qdel outside, queued", pbs, "sleep 60", {"queue": "stopped"}),
        ("terminate running", pbs, "sleep 60", main),
        ("terminate queued", pbs, "sleep 60", {"queue": "stopped"}),
        ("old server: memory limit", old, HOG, hog),
        ("old server: time limit", old, "sleep 60", {**main, "runtime": 2}),
        ("no history: exit 0", gone, "true", main),
        ("no history: exit 3", gone, "exit 3", main),
        ("no history, no record", gone, "kill -9 $PPID", main),
    ]
    for case, server, command, resources in cases:
        m.ids[case] = server.submit_to_batch_distributor(command, "case", resources)
        m.owner[m.ids[case]] = server
    for step, did in pbs.submit_array_to_batch_distributor("sleep 60", "whole", main, 3).items():
        m.ids[f"whole array step {step}"] = did
        m.owner[did] = pbs
    return m


def delete(m: Matrix) -> None:
    """Delete with qdel at a shell, and terminate through the distributor, once running."""
    wait_running(m.pbs, m.ids["qdel outside, running"])
    qdel_outside(m.env, m.ids["qdel outside, running"])
    qdel_outside(m.env, m.ids["qdel outside, queued"])
    wait_running(m.pbs, m.ids["terminate running"])
    m.pbs.terminate_task_instances([m.ids["terminate running"], m.ids["terminate queued"]])
    whole = [did for case, did in m.ids.items() if case.startswith("whole array")]
    wait_running(m.pbs, whole[1])
    m.pbs.terminate_task_instances(whole)


def collect(runs: list[Matrix], timeout: float) -> None:
    """Poll every case of every run together until all have final exit info."""
    deadline = time.monotonic() + timeout
    waiting = {(m.flavour, case) for m in runs for case in m.ids}
    while waiting and time.monotonic() < deadline:
        for m in runs:
            for case, did in m.ids.items():
                if (m.flavour, case) not in waiting:
                    continue
                try:
                    info = m.owner[did].get_remote_exit_info(did)
                except RemoteExitInfoNotAvailable:
                    continue
                if info.finalized:
                    m.infos[case] = info
                    waiting.discard((m.flavour, case))
        time.sleep(0.05)
    assert not waiting, f"no final exit info after {timeout}s: {sorted(waiting)}"


@pytest.fixture(scope="module")
def matrices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Matrix]]:
    """Both flavours' cases, submitted together so their waits overlap, all ended."""
    runs = {f: submit_all(tmp_path_factory.mktemp(f"matrix-{f}"), f) for f in ("pro", "torque")}
    try:
        for m in runs.values():
            delete(m)
        collect(list(runs.values()), timeout=60.0)
        yield runs
    finally:
        for m in runs.values():
            for distributor in (m.pbs, m.old, m.gone):
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
    ("whole array step 1", K, K, "terminated on request"),
    ("old server: memory limit", Z, Z, "exceeded its memory limit of 100.0 MiB"),
    ("old server: time limit", Z, Z, "exceeded its runtime limit of 00:00:02"),
    ("no history: exit 0", D, D, ""),
    ("no history: exit 3", E, E, "from the worker's exit record"),
    ("no history, no record", U, U, "lost: the job left the queue"),
]


@pytest.mark.parametrize("flavour", ["pro", "torque"])
@pytest.mark.parametrize(("case", "pro", "torque", "words"), CASES, ids=[case[0] for case in CASES])
def test_exit_matrix(
    matrices: dict[str, Matrix],
    flavour: str,
    case: str,
    pro: TaskInstanceStatus,
    torque: TaskInstanceStatus,
    words: str,
) -> None:
    """Each case ends in its flavour's expected state with a message that says what happened
    (Torque keeps no trace of who deleted a queued job, so that one is U there)."""
    info = matrices[flavour].infos[case]
    expected = pro if flavour == "pro" else torque
    assert info.finalized
    assert info.error_state == expected, f"{case}: {info}"
    assert words in info.error_message, f"{case}: {info.error_message!r}"


@pytest.mark.parametrize(
    ("flavour", "memory", "runtime"),
    [
        ("pro", "-27 JOB_EXEC_KILL_MEM", "-29 JOB_EXEC_KILL_WALLTIME"),
        ("torque", "-10 JOB_EXEC_OVERLIMIT_MEM", "-11 JOB_EXEC_OVERLIMIT_WT"),
    ],
)
def test_documented_codes_are_named(
    matrices: dict[str, Matrix], flavour: str, memory: str, runtime: str
) -> None:
    """Limit kills name the documented Exit_status code of the flavour."""
    infos = matrices[flavour].infos
    assert memory in infos["memory limit"].error_message
    assert runtime in infos["time limit"].error_message


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_whole_array_is_killed(matrices: dict[str, Matrix], flavour: str) -> None:
    """Every step of the deleted array is K."""
    infos = matrices[flavour].infos
    steps = [info for case, info in infos.items() if case.startswith("whole array")]
    assert len(steps) == 3
    assert all(info.error_state == K for info in steps)


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_decided_exit_info_outlives_the_distributor(
    matrices: dict[str, Matrix], flavour: str
) -> None:
    """Every case's exit info was written to its task directory's outcome log: new
    distributors on the same submit roots answer each at once and identically, without a
    single PBS command — the lost job included, of which neither PBS nor the worker left a
    trace."""
    m = matrices[flavour]
    fresh = {root: restarted(root, env) for root, env in m.envs.items()}
    for case, did in m.ids.items():
        again = fresh[m.owner[did].submit_root.path].get_remote_exit_info(did)
        decided = m.infos[case]
        assert (again.error_state, again.error_message, again.finalized) == (
            decided.error_state,
            decided.error_message,
            True,
        ), case
    assert all(distributor.client.runner.calls == Counter() for distributor in fresh.values())
