"""The exit matrix on a real pool: every way a job ends, as HTCondor itself reports it.

All cases are submitted at once by one module-scoped fixture, on three distributors of the
pool: the plain one, one whose ``allowed_job_duration`` backstop is 3 s (so that the pool's own
hold of a job its worker could not stop is seen quickly) and one whose job scripts vanish
before ``condor_submit`` (a missing executable). Held jobs are made the way a pool's policy
holds them (``condor_qedit`` of ``PeriodicHold`` on a job that cannot match: it asks for 64
CPUs). What these tests pin down was seen only on a real pool (HTCondor 23.9.6): the runtime
limit was not enforced (``D``), a 5 s memory spike came back ``D``, a removed held job lost
``HoldReasonCode``, a missing executable is accepted and held, a removed running job keeps
an exit code, and an empty history prints ``[`` ``]``.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.testing import ExitCase, ExitMatrix, collect_all, wait_for_exit_info
from distributor_htcondor import HTCondorDistributor
from distributor_htcondor.client import HTCondorClient
from distributor_htcondor.testing import (
    WithoutExecutable,
    condor,
    pool_distributor,
    start_record,
    unavailable_reason,
)

WHY_NOT = unavailable_reason()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]
D, E, K, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.RESOURCE_ERROR,
)
SPIKE = f"{sys.executable} -c \"x = b'x' * 2**30; import time; time.sleep(5)\""
"""1 GiB held for 5 s: a spike HTCondor's own sampling missed on 23.9.6 (it came back D)."""
HOG = f"{sys.executable} -c \"x = b'x' * (200 * 2**20); import time; time.sleep(60)\""
UNMATCHABLE: dict[str, object] = {"cores": 64}
"""A request no slot of the pool can meet: the job stays idle."""
RUNTIME_RUNS = 3
"""Jobs of the plain runtime case: the limit must hold every time."""

CASES: dict[str, tuple[str, str, dict[str, object]]] = {
    "exit 0": ("plain", "true", {}),
    "exit 3": ("plain", "exit 3", {}),
    "command killed -9": ("plain", "kill -9 $$", {}),
    "job killed -9": ("plain", "kill -9 $PPID; sleep 5", {}),
    **{
        f"runtime, run {run}": ("plain", "sleep 600", {"runtime": 3})
        for run in range(1, RUNTIME_RUNS + 1)
    },
    "runtime, command ignores SIGTERM": ("plain", "trap '' TERM; sleep 60", {"runtime": 3}),
    "runtime, worker stopped: the pool holds it (46)": (
        "backstop",
        "kill -STOP $PPID; sleep 600",
        {"runtime": 2},
    ),
    "memory, a 5 s spike": ("plain", SPIKE, {"memory": "256M"}),
    "memory, held over the request": ("plain", HOG, {"memory": "64M"}),
    "removed by condor_rm elsewhere": ("plain", "sleep 300", {}),
    "removed while running, exits 0 on SIGTERM": (
        "plain",
        "trap 'exit 0' TERM; sleep 300 & wait",
        {},
    ),
    "terminated while running": ("plain", "sleep 300", {}),
    "terminated while idle": ("plain", "sleep 300", UNMATCHABLE),
    "held by a policy": ("plain", "sleep 300", UNMATCHABLE),
    "missing executable": ("missing", "true", {}),
}
"""case → (distributor, command, resources)."""
ARRAY = 3
"""Steps of the array that is terminated as a whole (cases ``terminated array, step N``)."""
LICENCE = "waiting for a licence"


def hold_by_policy(did: str, subcode: int, reason: str) -> None:
    """Make the schedd hold an idle job as a ``periodic_hold`` policy does (code 3)."""
    condor("condor_qedit", did, "PeriodicHoldReason", json.dumps(reason))
    condor("condor_qedit", did, "PeriodicHoldSubCode", str(subcode))
    condor("condor_qedit", did, "PeriodicHold", "true")


def queueing_error(distributor: HTCondorDistributor, did: str, timeout: float = 120) -> str:
    """Wait until the distributor reports a queueing error for `did`; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        errors = distributor.get_queueing_errors([did])
        if did in errors:
            return errors[did]
        time.sleep(0.2)
    raise AssertionError(f"no queueing error for {did} within {timeout}s")


Matrices = dict[str, ExitMatrix]


@pytest.fixture(scope="module")
def queueing_errors() -> dict[str, str]:
    """case → the queueing error the distributor reported before the task was terminated."""
    return {}


@pytest.fixture(scope="module")
def matrices(
    tmp_path_factory: pytest.TempPathFactory, queueing_errors: dict[str, str]
) -> Iterator[Matrices]:
    """Submit every case, act on each long-running one as soon as it runs (so that a pool of
    two slots gets through them too), and collect the exit info; afterwards whatever is left
    of the cases' clusters is removed."""
    base = tmp_path_factory.mktemp("real-matrix")
    distributors = {
        "plain": pool_distributor(base / "plain"),
        "backstop": pool_distributor(base / "backstop", duration_backstop=3),
        "missing": pool_distributor(base / "missing", transport=WithoutExecutable()),
    }
    made = {
        name: ExitMatrix(distributor, started=partial(start_record, distributor))
        for name, distributor in distributors.items()
    }
    try:
        for case, (where, command, resources) in CASES.items():
            made[where].submit(case, command, resources)
        plain = made["plain"]
        for step, did in plain.array("sleep 300", ARRAY).items():
            plain.add(f"terminated array, step {step}", did)
        hold_by_policy(plain.ids["held by a policy"], 7, LICENCE)
        for case in ("removed by condor_rm elsewhere", "removed while running, exits 0 on SIGTERM"):
            plain.wait_running(case, timeout=300)
            condor("condor_rm", plain.ids[case])
        plain.wait_running("terminated while running", timeout=300)
        plain.distributor.terminate_task_instances(
            [plain.ids["terminated while running"], plain.ids["terminated while idle"]]
        )
        plain.wait_running("terminated array, step 0", timeout=300)  # the others may be idle
        plain.distributor.terminate_task_instances(
            [plain.ids[f"terminated array, step {step}"] for step in range(ARRAY)]
        )
        for where, case in (("plain", "held by a policy"), ("missing", "missing executable")):
            matrix = made[where]
            assert isinstance(matrix.distributor, HTCondorDistributor)
            queueing_errors[case] = queueing_error(matrix.distributor, matrix.ids[case])
            matrix.distributor.terminate_task_instances([matrix.ids[case]])
        collect_all(list(made.values()), timeout=600)
        yield made
    finally:
        clusters = {did.split(".")[0] for matrix in made.values() for did in matrix.ids.values()}
        if clusters:
            condor("condor_rm", *sorted(clusters, key=int), check=False)
        for distributor in distributors.values():
            distributor.stop()


WORKER_RUNTIME = ("runtime limit of 3s exceeded", "stopped with SIGTERM by distributor-worker")
EXPECTED: dict[str, tuple[TaskInstanceStatus, tuple[str, ...]]] = {
    "exit 0": (D, ()),
    "exit 3": (E, ("exited with status 3", "ExitCode 3")),
    "command killed -9": (E, ("SIGKILL", "ExitCode 137")),
    "job killed -9": (E, ("killed by signal SIGKILL", "ExitBySignal true, ExitSignal 9")),
    **{f"runtime, run {run}": (Z, WORKER_RUNTIME) for run in range(1, RUNTIME_RUNS + 1)},
    "runtime, command ignores SIGTERM": (
        Z,
        ("runtime limit of 3s exceeded", "killed by signal SIGKILL"),
    ),
    "runtime, worker stopped: the pool holds it (46)": (
        Z,
        (
            "exceeded its runtime limit of 00:00:02",
            "The job exceeded allowed job duration of 00:05",
            "HoldReasonCode 46 [JobDurationExceeded]",
        ),
    ),
    # the worker kills at once; the plugin's periodic_hold may have sampled the peak before
    # (both say the limit)
    "memory, a 5 s spike": (Z, ("memory limit of 256.0 MiB",)),
    "memory, held over the request": (Z, ("memory limit of 64.0 MiB",)),
    "removed by condor_rm elsewhere": (
        K,
        (f"removed by user {getpass.getuser()} with condor_rm outside this distributor",),
    ),
    "removed while running, exits 0 on SIGTERM": (K, ("JobStatus 3 (Removed), ExitCode 0",)),
    # (its history ad may come after the tracker has seen it leave the queue: then the
    # words are the batch layer's)
    "terminated while running": (K, ("terminated on request",)),
    "terminated while idle": (K, ("terminated on request",)),
    # (the history may not have the held job's ad yet when the tracker sees it gone)
    "held by a policy": (K, ("terminated on request",)),
    "missing executable": (K, ("terminated on request",)),
    **{f"terminated array, step {step}": (K, ("terminated on request",)) for step in range(ARRAY)},
}
"""case → its state and every fact its message must name."""


@pytest.mark.parametrize("case", list(EXPECTED))
def test_exit_matrix(matrices: Matrices, case: str) -> None:
    """Each way a job ends on the real pool gives its code, and the message names the facts."""
    state, words = EXPECTED[case]
    matrix = next(m for m in matrices.values() if case in m.ids)
    for word in words or ("",):
        matrix.check(ExitCase(case, state, word))


def test_a_removed_running_job_keeps_how_it_exited(matrices: Matrices) -> None:
    """HTCondor records the exit of a job removed while it ran (its worker passed SIGTERM on;
    the command exited 0): the plugin keeps it in the job's status and still says K, not D."""
    plain = matrices["plain"]
    assert isinstance(plain.distributor, HTCondorDistributor)
    job = plain.distributor.tracker.get(plain.ids["removed while running, exits 0 on SIGTERM"])
    assert job is not None and job.status is not None
    assert (job.status.state, job.status.exit_code, job.status.signal) == ("Removed", 0, None)


def test_held_jobs_are_queueing_errors_with_their_reason(queueing_errors: dict[str, str]) -> None:
    """A job held by a policy and one whose executable is missing (accepted by condor_submit,
    held when the starter cannot run it) are queueing errors naming HTCondor's code and
    reason."""
    held = queueing_errors["held by a policy"]
    assert f"HoldReasonCode 3 [JobPolicy], subcode 7): {LICENCE}" in held
    missing = queueing_errors["missing executable"]
    assert "HoldReasonCode 6 [FailedToCreateProcess], subcode 2" in missing
    assert "Failed to execute" in missing and "No such file or directory" in missing


def test_a_held_job_removed_unseen_is_classified_from_its_last_hold(tmp_path: Path) -> None:
    """A job held for its memory and removed while no distributor watched is Z when a new
    distributor adopts it: condor_rm moved HoldReason* to LastHoldReason*."""
    first = pool_distributor(tmp_path / "root")
    did = first.submit_to_batch_distributor(
        "sleep 300", "held_then_removed", {"memory": "64M", **UNMATCHABLE}
    )
    first.stop()
    hold_by_policy(did, 102, "distributor: memory usage exceeded request_memory")
    deadline = time.monotonic() + 120
    while condor("condor_q", did, "-af", "JobStatus").stdout.strip() != "5":
        assert time.monotonic() < deadline, "the policy did not hold the job"
        time.sleep(0.2)
    condor("condor_rm", did)
    second = pool_distributor(tmp_path / "root")
    info = wait_for_exit_info(second, did, 120, 0.2)
    assert info.error_state == Z, info
    assert "exceeded its memory limit of 64.0 MiB" in info.error_message
    assert "HoldReasonCode 3 [JobPolicy], subcode 102" in info.error_message
    assert "memory usage exceeded request_memory" in info.error_message


def test_an_empty_history_and_gone_ids_are_no_errors() -> None:
    """condor_history prints [ and ] when nothing matches, condor_rm of ids the schedd does not
    have fails with messages without a final period: the client reads both as "nothing"."""
    raw = condor("condor_history", "-json", "-constraint", "ClusterId == 999999999")
    assert raw.stdout.split() == ["[", "]"]
    client = HTCondorClient()
    assert client.history_ads(["999999999.0"]) == {}
    gone = condor("condor_rm", "999999999", "999999999.0", check=False)
    assert gone.returncode == 1
    assert "Couldn't find/remove all jobs in cluster 999999999\n" in gone.stderr
    client.remove(["999999999", "999999999.0"])  # ignored, no error
