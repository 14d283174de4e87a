"""The exit matrix in HTCondor's terms, against the fake pool: every way a job ends.

All cases are submitted at once by one module-scoped fixture (so the slow limit cases overlap
the others), on five fake pools that differ in how memory is enforced and in how fast jobs
start; each test then checks one case's code and words.

The worker enforces memory and runtime at the request itself. Where the pool enforces memory
too (a cgroup hold, the plugin's ``periodic_hold``, a kernel OOM kill), whichever acts first
decides the words, so those cases check only what both say; holds of known codes are made
with ``fake-hold`` to check HTCondor's words exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from distributor import RemoteExitInfo, TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info
from distributor_htcondor import HTCondorDistributor
from distributor_htcondor.testing import wrapped_environment

FAKE = Path(__file__).with_name("htcondor_fake.py")
FAST = PollPolicy(
    min_interval=0.05,
    max_interval=0.25,
    max_calls_per_minute=100_000,
    accounting_interval=0.1,
    accounting_delay=2.0,
    lost_grace=4.0,
)
HOG = f"{sys.executable} -c \"x = b'x' * (200 * 2**20); import time; time.sleep(30)\""
D, E, K, Z = "D", "E", "K", "Z"


@dataclass
class Pool:
    """One fake pool with its distributor and environment."""

    distributor: HTCondorDistributor
    env: dict[str, str]


@dataclass
class Matrix:
    """The submitted cases, where each ran, and how each ended."""

    pools: dict[str, Pool]
    ids: dict[str, tuple[str, str]] = field(default_factory=dict)
    infos: dict[str, RemoteExitInfo] = field(default_factory=dict)
    queueing_errors: dict[str, str] = field(default_factory=dict)


def make_pool(directory: Path, **config: object) -> Pool:
    """A fake pool configured with `config`, and a started distributor for it."""
    state = directory / "state"
    state.mkdir(parents=True)
    (state / "config.json").write_text(json.dumps(config))
    env = wrapped_environment(FAKE, directory, {"FAKE_CONDOR_STATE": str(state)})
    distributor = HTCondorDistributor(
        "fake", submit_root=directory / "root", environment=env, poll_policy=FAST
    )
    distributor.start()
    return Pool(distributor, env)


def wait_started(pool: Pool, name: str, timeout: float = 20.0) -> None:
    """Wait until the worker of the task submitted as `name` has started its command."""
    (submission,) = pool.distributor.submit_root.submissions(name)
    started = submission.task_dir / "started.json"
    deadline = time.monotonic() + timeout
    while not started.exists():
        assert time.monotonic() < deadline, f"{name!r} never started"
        time.sleep(0.05)


def fake_hold(pool: Pool, did: str, code: int, subcode: int, reason: str) -> None:
    """Hold a job of the fake pool as a daemon would."""
    argv = [sys.executable, str(FAKE), "fake-hold", did, str(code), str(subcode), reason]
    subprocess.run(argv, env=pool.env, check=True)


MEMORY_HOLD = (
    "Error from slot1@fakehost: Job has gone over memory limit of 64 megabytes. "
    "Peak usage: 70 megabytes."
)
CASES: dict[str, tuple[str, str, dict[str, object]]] = {
    "exit 0": ("hold", "true", {}),
    "exit 3": ("hold", "exit 3", {}),
    "command killed -9": ("hold", "kill -9 $$", {}),
    "job killed -9": ("hold", "kill -9 $PPID; sleep 5", {}),
    "memory, pool without enforcement": ("none", HOG, {"memory": "64M"}),
    "memory, cgroup hold or the worker": ("hold", HOG, {"memory": "64M"}),
    "memory, periodic_hold or the worker": ("policy", HOG, {"memory": "64M"}),
    "memory, kernel OOM kill or the worker": ("kill", HOG, {"memory": "64M"}),
    "memory, held 34/102": ("hold", "sleep 300", {"memory": "64M"}),
    "memory, held 3/102 by periodic_hold": ("hold", "sleep 300", {"memory": "64M"}),
    "runtime, held 47 (HTCondor 25)": ("hold", "sleep 300", {"runtime": 300}),
    "runtime, ignored by HTCondor 23.9.6": ("hold", "sleep 30", {"runtime": 2}),
    "runtime, command ignores SIGTERM": ("hold", "trap '' TERM; sleep 30", {"runtime": 2}),
    "terminated while running": ("hold", "sleep 300", {}),
    "terminated while idle": ("slow", "sleep 300", {}),
    "removed by condor_rm elsewhere": ("hold", "sleep 300", {}),
    "held for transfer failure": ("hold", "sleep 300", {}),
}
HOLDS = {
    "memory, held 34/102": (34, 102, MEMORY_HOLD),
    "memory, held 3/102 by periodic_hold": (
        3,
        102,
        "distributor: memory usage exceeded request_memory",
    ),
    "runtime, held 47 (HTCondor 25)": (47, 0, "The job exceeded allowed execute duration of 05:00"),
    "held for transfer failure": (
        13,
        2,
        "Transfer input files failure at execution point slot1@fakehost",
    ),
}
"""case → (pool, command, resources)."""


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Submit every case, act on the ones that need it, and collect the exit info."""
    base = tmp_path_factory.mktemp("matrix")
    pools = {
        "hold": make_pool(base / "hold"),
        "policy": make_pool(base / "policy", memory_enforcement="policy"),
        "kill": make_pool(base / "kill", memory_enforcement="kill"),
        "none": make_pool(base / "none", memory_enforcement="none"),
        "slow": make_pool(base / "slow", start_delay=60),
    }
    result = Matrix(pools)
    for case, (pool, command, resources) in CASES.items():
        did = pools[pool].distributor.submit_to_batch_distributor(command, case, resources)
        result.ids[case] = (pool, did)
    hold = pools["hold"]
    for case in ("terminated while running", "removed by condor_rm elsewhere", *HOLDS):
        wait_started(hold, case)
    hold.distributor.terminate_task_instances([result.ids["terminated while running"][1]])
    subprocess.run(
        ["condor_rm", result.ids["removed by condor_rm elsewhere"][1]], env=hold.env, check=True
    )
    pools["slow"].distributor.terminate_task_instances([result.ids["terminated while idle"][1]])
    for case, (code, subcode, reason) in HOLDS.items():
        fake_hold(hold, result.ids[case][1], code, subcode, reason)
    held = result.ids["held for transfer failure"][1]
    deadline = time.monotonic() + 10
    while held not in result.queueing_errors and time.monotonic() < deadline:
        result.queueing_errors = hold.distributor.get_queueing_errors([held])
        time.sleep(0.05)
    hold.distributor.terminate_task_instances([held])
    for case, (pool, did) in result.ids.items():
        result.infos[case] = wait_for_exit_info(pools[pool].distributor, did, 30.0, 0.05)
    yield result
    for pool_ in pools.values():
        subprocess.run(["condor_rm", "-all"], env=pool_.env, capture_output=True, check=False)
        log = Path(pool_.env["FAKE_CONDOR_STATE"]) / "starters.log"
        assert not log.exists() or not log.read_text(), log.read_text()


WORKER_MEMORY = ("memory limit of 64.0 MiB exceeded", "killed with SIGKILL by distributor-worker")
EXPECTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "exit 0": (D, ()),
    "exit 3": (E, ("exited with status 3", "ExitCode 3")),
    "command killed -9": (E, ("SIGKILL", "ExitCode 137")),
    "job killed -9": (E, ("killed by signal SIGKILL", "ExitBySignal true, ExitSignal 9")),
    "memory, pool without enforcement": (Z, WORKER_MEMORY),
    "memory, cgroup hold or the worker": (Z, ("memory limit of 64.0 MiB",)),
    "memory, periodic_hold or the worker": (Z, ("memory limit of 64.0 MiB",)),
    "memory, kernel OOM kill or the worker": (Z, ("memory limit of 64.0 MiB",)),
    "memory, held 34/102": (
        Z,
        ("memory limit of 64.0 MiB", "HoldReasonCode 34 [JobOutOfResources], subcode 102"),
    ),
    "memory, held 3/102 by periodic_hold": (
        Z,
        ("memory usage exceeded request_memory", "HoldReasonCode 3 [JobPolicy], subcode 102"),
    ),
    "runtime, held 47 (HTCondor 25)": (
        Z,
        ("runtime limit of 00:05:00", "allowed execute duration of 05:00", "[JobExecuteExceeded]"),
    ),
    "runtime, ignored by HTCondor 23.9.6": (
        Z,
        ("runtime limit of 2s exceeded", "stopped with SIGTERM by distributor-worker"),
    ),
    "runtime, command ignores SIGTERM": (
        Z,
        ("runtime limit of 2s exceeded", "killed by signal SIGKILL"),
    ),
    "terminated while running": (K, ("terminated on request", "JobStatus 3 (Removed)")),
    "terminated while idle": (K, ("terminated on request",)),
    "removed by condor_rm elsewhere": (K, ("removed by user tester with condor_rm",)),
    "held for transfer failure": (K, ("terminated on request", "[TransferInputError]")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_exit_matrix(matrix: Matrix, case: str) -> None:
    """Each way a job ends gives its code, and the message names the HTCondor facts."""
    info = matrix.infos[case]
    state, words = EXPECTED[case]
    assert info.error_state == TaskInstanceStatus(state), info
    for word in words:
        assert word in info.error_message, (word, info.error_message)


def test_held_jobs_are_reported_then_removed(matrix: Matrix) -> None:
    """A job held for a resource limit leaves the queue (condor_rm) once it has been reported
    Z; its history ad keeps the hold as LastHoldReason*."""
    state = Path(matrix.pools["hold"].env["FAKE_CONDOR_STATE"])
    for case in ("memory, held 34/102", "runtime, held 47 (HTCondor 25)"):
        did = matrix.ids[case][1]
        assert not (state / "queue" / f"{did}.json").exists()
        ad = json.loads((state / "history" / f"{did}.json").read_text())
        assert (ad["JobStatus"], ad["LastJobStatus"]) == (3, 5)
        assert ad["LastHoldReasonCode"] == HOLDS[case][0] and "HoldReasonCode" not in ad


def test_unreleasable_hold_is_a_queueing_error(matrix: Matrix) -> None:
    """A job held for a cause that will not clear is reported with its code and reason."""
    held = matrix.ids["held for transfer failure"][1]
    message = matrix.queueing_errors[held]
    assert "HoldReasonCode 13 [TransferInputError], subcode 2" in message
    assert "Transfer input files failure" in message


def test_worker_record_names_the_signals_of_a_removal(matrix: Matrix) -> None:
    """A job removed while running got SIGTERM, and its worker recorded it."""
    pool, did = matrix.ids["terminated while running"]
    (submission,) = matrix.pools[pool].distributor.submit_root.submissions(
        "terminated while running"
    )
    path = submission.task_dir / "exit.json"
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, "the worker wrote no exit record"
        time.sleep(0.05)
    record = json.loads(path.read_text())
    assert record["signals_received"] == ["SIGTERM"] and record["distributor_id"] == did
