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
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.testing import ExitCase, ExitMatrix
from distributor_pbs import PbsDistributor
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
FLAVOURS = ("pro", "torque")
HOG = (
    f'{sys.executable} -c "import time; x = []\n'
    "for _ in range(60): x.append(b'x' * (20 * 2**20)); time.sleep(0.02)\""
)
LIMITS = {
    "resources_max.walltime": "24:00:00",
    "resources_max.mem": "8gb",
    "resources_max.ncpus": "8",
}
SERVERS: dict[str, dict[str, object]] = {
    "documented": {},
    "signal": {"limit_codes": "signal"},
    "forgetful": {"history": False, "keep_completed": 0},
}
"""Each flavour's fake servers: one as documented, an older one reporting limit kills as raw
signal statuses, and one that forgets ended jobs at once."""
MAIN = {"queue": "main", "runtime": 60}
HOGGING = {**MAIN, "memory": "100M"}
STOPPED = {"queue": "stopped"}
SUBMISSIONS: dict[str, tuple[str, str, Mapping[str, object]]] = {
    "exit 0": ("documented", "true", MAIN),
    "exit 3": ("documented", "exit 3", MAIN),
    "kill -9 $$": ("documented", "kill -9 $$", MAIN),
    "memory limit": ("documented", HOG, HOGGING),
    "time limit": ("documented", "sleep 60", {**MAIN, "runtime": 2}),
    "qdel outside, running": ("documented", "sleep 60", MAIN),
    "qdel outside, queued": ("documented", "sleep 60", STOPPED),
    "terminate running": ("documented", "sleep 60", MAIN),
    "terminate queued": ("documented", "sleep 60", STOPPED),
    "old server: memory limit": ("signal", HOG, HOGGING),
    "old server: time limit": ("signal", "sleep 60", {**MAIN, "runtime": 2}),
    "no history: exit 0": ("forgetful", "true", MAIN),
    "no history: exit 3": ("forgetful", "exit 3", MAIN),
    "no history, no record": ("forgetful", "kill -9 $PPID", MAIN),
}
"""case → (server, command, resources); the documented server also runs a whole array."""
WHOLE_ARRAY = [f"whole array step {step}" for step in range(3)]

Servers = dict[tuple[str, str], tuple[Path, dict[str, str]]]
"""(flavour, server) → (submit root, environment)."""
Matrices = dict[tuple[str, str], ExitMatrix]
"""(flavour, server) → the cases submitted there."""


def restarted(root: Path, env: dict[str, str]) -> PbsDistributor:
    """A started distributor on `root` (a new one answers for the ids of earlier ones)."""
    pbs = PbsDistributor("fake", submit_root=root, environment=env, poll_policy=FAST_POLLING)
    pbs.start()
    return pbs


def start_record(pbs: PbsDistributor, did: str) -> Path:
    """Where the worker of `did` records that it starts the command (from then on it traps
    SIGTERM and passes it on): beside its exit record."""
    job = pbs.tracker.get(did)
    assert job is not None and job.record_path is not None, did
    return job.record_path.with_name(job.record_path.name.replace("exit", "started", 1))


def qdel_outside(env: dict[str, str], did: str) -> None:
    """Delete a job with the fake's qdel, as a user at a shell would."""
    subprocess.run(["qdel", did], env={**os.environ, **env}, check=True)


def delete(matrix: ExitMatrix, env: dict[str, str]) -> None:
    """Delete with qdel at a shell, and terminate through the distributor, once running."""
    matrix.wait_running("qdel outside, running", timeout=20)
    qdel_outside(env, matrix.ids["qdel outside, running"])
    qdel_outside(env, matrix.ids["qdel outside, queued"])
    matrix.wait_running("terminate running", timeout=20)
    terminate = matrix.distributor.terminate_task_instances
    terminate([matrix.ids["terminate running"], matrix.ids["terminate queued"]])
    matrix.wait_running(WHOLE_ARRAY[1], timeout=20)
    terminate([matrix.ids[case] for case in WHOLE_ARRAY])


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Servers:
    """Each flavour's fake servers, with a running and a stopped queue."""
    queues = {"main": LIMITS, "stopped": {**LIMITS, "started": "False"}}
    made: Servers = {}
    for flavour in FLAVOURS:
        base = tmp_path_factory.mktemp(f"matrix-{flavour}")
        for server, settings in SERVERS.items():
            state = base / server / "pbs"
            env = fake_environment(
                FAKES, state, flavour=flavour, server=server, queues=queues, **settings
            )
            made[flavour, server] = (base / server / "root", env)
    return made


@pytest.fixture(scope="module")
def matrices(servers: Servers) -> Iterator[Matrices]:
    """Both flavours' cases, submitted together so their waits overlap, all ended."""
    made: Matrices = {}
    for key, (root, env) in servers.items():
        pbs = restarted(root, env)
        made[key] = ExitMatrix(pbs, started=partial(start_record, pbs))
    try:
        for flavour in FLAVOURS:
            for case, (server, command, resources) in SUBMISSIONS.items():
                made[flavour, server].submit(case, command, resources)
            documented = made[flavour, "documented"]
            for step, did in documented.array("sleep 60", len(WHOLE_ARRAY), MAIN).items():
                documented.add(WHOLE_ARRAY[step], did)
        for flavour in FLAVOURS:
            delete(made[flavour, "documented"], servers[flavour, "documented"][1])
        # A distributor decides only while it is asked: collecting one matrix after another
        # would wait out the lost-job grace of each forgetful server in turn.
        with ThreadPoolExecutor(len(made)) as pool:
            for collected in [pool.submit(m.collect, timeout=60) for m in made.values()]:
                collected.result()
        yield made
    finally:
        for matrix in made.values():
            matrix.distributor.terminate_task_instances(list(matrix.ids.values()))


def matrix_of(matrices: Matrices, flavour: str, case: str) -> ExitMatrix:
    """The matrix of `flavour` that holds `case`."""
    return next(m for (f, _), m in matrices.items() if f == flavour and case in m.ids)


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
"""case → its state on PBS Pro, on Torque, and words its message must contain."""


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("case", "pro", "torque", "words"), CASES, ids=[case[0] for case in CASES])
def test_exit_matrix(
    matrices: Matrices,
    flavour: str,
    case: str,
    pro: TaskInstanceStatus,
    torque: TaskInstanceStatus,
    words: str,
) -> None:
    """Each case ends in its flavour's expected state with a message that says what happened
    (Torque keeps no trace of who deleted a queued job, so that one is U there)."""
    expected = pro if flavour == "pro" else torque
    matrix_of(matrices, flavour, case).check(ExitCase(case, expected, words))


@pytest.mark.parametrize(
    ("flavour", "memory", "runtime"),
    [
        ("pro", "-27 JOB_EXEC_KILL_MEM", "-29 JOB_EXEC_KILL_WALLTIME"),
        ("torque", "-10 JOB_EXEC_OVERLIMIT_MEM", "-11 JOB_EXEC_OVERLIMIT_WT"),
    ],
)
def test_documented_codes_are_named(
    matrices: Matrices, flavour: str, memory: str, runtime: str
) -> None:
    """Limit kills name the documented Exit_status code of the flavour."""
    documented = matrices[flavour, "documented"]
    documented.check(ExitCase("memory limit", Z, memory))
    documented.check(ExitCase("time limit", Z, runtime))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_whole_array_is_killed(matrices: Matrices, flavour: str) -> None:
    """Every step of the deleted array is K."""
    for case in WHOLE_ARRAY:
        matrices[flavour, "documented"].check(ExitCase(case, K, "terminated on request"))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_decided_exit_info_outlives_the_distributor(
    matrices: Matrices, servers: Servers, flavour: str
) -> None:
    """Every case's exit info was written to its task directory's outcome log: new
    distributors on the same submit roots answer each at once and identically, without a
    single PBS command — the lost job included, of which neither PBS nor the worker left a
    trace."""
    fresh = {server: restarted(*servers[flavour, server]) for server in SERVERS}
    for server, pbs in fresh.items():
        matrix = matrices[flavour, server]
        for case, did in matrix.ids.items():
            again = pbs.get_remote_exit_info(did)
            decided = matrix.infos[case]
            assert (again.error_state, again.error_message, again.finalized) == (
                decided.error_state,
                decided.error_message,
                True,
            ), case
    assert all(pbs.client.runner.calls == Counter() for pbs in fresh.values())
