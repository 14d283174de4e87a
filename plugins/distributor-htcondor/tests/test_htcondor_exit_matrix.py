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
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import ExitCase, ExitMatrix
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
D, E, K, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.RESOURCE_ERROR,
)
POOLS: dict[str, dict[str, object]] = {
    "hold": {},
    "policy": {"memory_enforcement": "policy"},
    "kill": {"memory_enforcement": "kill"},
    "none": {"memory_enforcement": "none"},
    "slow": {"start_delay": 60},
}
"""pool → the fake's configuration: memory held for (a cgroup), held by the plugin's
``periodic_hold``, killed by the kernel, or not enforced; jobs that take a minute to start."""

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
"""case → (pool, command, resources)."""
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
"""case → (HoldReasonCode, HoldReasonSubCode, HoldReason) the fake's daemon holds it with."""

Pools = dict[str, tuple[Path, dict[str, str]]]
"""pool → (submit root, environment)."""
Matrices = dict[str, ExitMatrix]
"""pool → the cases submitted there."""


def start_record(distributor: HTCondorDistributor, did: str) -> Path:
    """Where the worker of `did` records that it starts the command: beside its exit record."""
    record = exit_record(distributor, did)
    return record.with_name(record.name.replace("exit", "started", 1))


def exit_record(distributor: HTCondorDistributor, did: str) -> Path:
    """Where the worker of `did` records how its command ended."""
    job = distributor.tracker.get(did)
    assert job is not None and job.record_path is not None, did
    return job.record_path


def fake_hold(env: Mapping[str, str], did: str, code: int, subcode: int, reason: str) -> None:
    """Hold a job of the fake pool as a daemon would."""
    argv = [sys.executable, str(FAKE), "fake-hold", did, str(code), str(subcode), reason]
    subprocess.run(argv, env=env, check=True)


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pools]:
    """The fake pools; afterwards their jobs are removed, and no starter of the fake may have
    died of an error of its own (its job would hang for ever)."""
    base = tmp_path_factory.mktemp("matrix")
    made: Pools = {}
    for pool, config in POOLS.items():
        state = base / pool / "state"
        state.mkdir(parents=True)
        (state / "config.json").write_text(json.dumps(config))
        env = wrapped_environment(FAKE, base / pool, {"FAKE_CONDOR_STATE": str(state)})
        made[pool] = (base / pool / "root", env)
    yield made
    for _, env in made.values():
        subprocess.run(["condor_rm", "-all"], env=env, capture_output=True, check=False)
        log = Path(env["FAKE_CONDOR_STATE"]) / "starters.log"
        assert not log.exists() or not log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def queueing_errors() -> dict[str, str]:
    """What the distributor said about the job held for a transfer failure, before that job
    was terminated (filled by `matrices`)."""
    return {}


@pytest.fixture(scope="module")
def matrices(pools: Pools, queueing_errors: dict[str, str]) -> Matrices:
    """Submit every case, act on the ones that need it, and collect the exit info."""
    made: Matrices = {}
    for pool, (root, env) in pools.items():
        distributor = HTCondorDistributor(
            "fake", submit_root=root, environment=env, poll_policy=FAST
        )
        distributor.start()
        made[pool] = ExitMatrix(distributor, started=partial(start_record, distributor))
    for case, (pool, command, resources) in CASES.items():
        made[pool].submit(case, command, resources)
    hold, hold_env = made["hold"], pools["hold"][1]
    for case in ("terminated while running", "removed by condor_rm elsewhere", *HOLDS):
        hold.wait_running(case, timeout=20)
    hold.distributor.terminate_task_instances([hold.ids["terminated while running"]])
    subprocess.run(
        ["condor_rm", hold.ids["removed by condor_rm elsewhere"]], env=hold_env, check=True
    )
    slow = made["slow"]
    slow.distributor.terminate_task_instances([slow.ids["terminated while idle"]])
    for case, (code, subcode, reason) in HOLDS.items():
        fake_hold(hold_env, hold.ids[case], code, subcode, reason)
    held = hold.ids["held for transfer failure"]
    deadline = time.monotonic() + 10
    while held not in queueing_errors and time.monotonic() < deadline:
        queueing_errors.update(hold.distributor.get_queueing_errors([held]))
        time.sleep(0.05)
    hold.distributor.terminate_task_instances([held])
    for matrix in made.values():
        matrix.collect(timeout=30)
    return made


WORKER_MEMORY = ("memory limit of 64.0 MiB exceeded", "killed with SIGKILL by distributor-worker")
EXPECTED: dict[str, tuple[TaskInstanceStatus, tuple[str, ...]]] = {
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
"""case → its state and every fact its message must name."""


@pytest.mark.parametrize("case", list(CASES))
def test_exit_matrix(matrices: Matrices, case: str) -> None:
    """Each way a job ends gives its code, and the message names the HTCondor facts."""
    state, words = EXPECTED[case]
    matrix = matrices[CASES[case][0]]
    for word in words or ("",):
        matrix.check(ExitCase(case, state, word))


def test_held_jobs_are_reported_then_removed(matrices: Matrices, pools: Pools) -> None:
    """A job held for a resource limit leaves the queue (condor_rm) once it has been reported
    Z; its history ad keeps the hold as LastHoldReason*."""
    state = Path(pools["hold"][1]["FAKE_CONDOR_STATE"])
    for case in ("memory, held 34/102", "runtime, held 47 (HTCondor 25)"):
        did = matrices["hold"].ids[case]
        assert not (state / "queue" / f"{did}.json").exists()
        ad = json.loads((state / "history" / f"{did}.json").read_text())
        assert (ad["JobStatus"], ad["LastJobStatus"]) == (3, 5)
        assert ad["LastHoldReasonCode"] == HOLDS[case][0] and "HoldReasonCode" not in ad


def test_unreleasable_hold_is_a_queueing_error(
    matrices: Matrices, queueing_errors: dict[str, str]
) -> None:
    """A job held for a cause that will not clear is reported with its code and reason."""
    message = queueing_errors[matrices["hold"].ids["held for transfer failure"]]
    assert "HoldReasonCode 13 [TransferInputError], subcode 2" in message
    assert "Transfer input files failure" in message


def test_worker_record_names_the_signals_of_a_removal(matrices: Matrices) -> None:
    """A job removed while running got SIGTERM, and its worker recorded it."""
    hold = matrices["hold"]
    did = hold.ids["terminated while running"]
    assert isinstance(hold.distributor, HTCondorDistributor)
    path = exit_record(hold.distributor, did)
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, "the worker wrote no exit record"
        time.sleep(0.05)
    record = json.loads(path.read_text())
    assert record["signals_received"] == ["SIGTERM"] and record["distributor_id"] == did
