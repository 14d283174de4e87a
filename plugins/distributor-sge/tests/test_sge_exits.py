"""The exit matrix on the real Grid Engine: every way a job can end, and the state it is given.

The short cases are submitted together at the start of the module (the dev cell has as many
slots as cores), the deletions after them, so the whole module takes a few seconds per slot.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distributor import RemoteExitInfo, TaskInstanceStatus
from distributor.testing import ExitCase, ExitMatrix, wait_for_exit_info, wait_until_gone
from distributor_sge import SgeDistributor
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

ENV = cell_environment()
QUEUE = ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q")
WHY_NOT = unavailable_reason(QUEUE)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

D, E, K, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.RESOURCE_ERROR,
)
TIMEOUT = 120.0
HOG = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
    "import time\nblocks = []\nwhile True:\n"
    "    blocks.append(bytearray(10 * 2**20))\n    time.sleep(0.01)\n"
)
SUBMITTED: dict[str, tuple[str, dict[str, Any]]] = {
    "exit 0": ("true", {}),
    "exit 3": ("exit 3", {}),
    "kill -9": ("kill -9 $$", {}),
    "h_rt": ("sleep 120", {"runtime": 3}),
    "h_vmem": (HOG, {"memory": "200M"}),
    "external qdel": ("sleep 300", {}),
}


@pytest.fixture(scope="module")
def sge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SgeDistributor]:
    """A distributor on a private submit root; whatever is left is deleted afterwards."""
    distributor = dev_distributor(tmp_path_factory.mktemp("exits") / "root")
    yield distributor
    distributor.terminate_task_instances(distributor.tracker.tracked())


@pytest.fixture(scope="module")
def matrix(sge: SgeDistributor) -> ExitMatrix:
    """The short cases, all submitted at once; the running one deleted from outside."""
    m = ExitMatrix(sge)
    for case, (command, resources) in SUBMITTED.items():
        m.submit(case, command, {"queue": QUEUE, **resources})
    m.wait_running("external qdel", TIMEOUT)
    subprocess.run(["qdel", m.ids["external qdel"]], check=True, capture_output=True)
    m.collect(TIMEOUT)
    print(m.report())
    return m


CASES = [
    ExitCase("exit 0", D),
    ExitCase("exit 3", E, "status 3"),
    ExitCase("kill -9", E, "SIGKILL"),
    # Grid Engine kills at h_rt itself (failed 37) before the worker's backstop.
    ExitCase("h_rt", Z, "runtime limit (h_rt)"),
    ExitCase("h_rt", Z, "failed 37"),
    # An allocation failing under h_vmem (RLIMIT_AS, not a kill) is Z about memory.
    ExitCase("h_vmem", Z, "h_vmem"),
    ExitCase("h_vmem", Z, "MemoryError"),
    ExitCase("external qdel", K, "outside this distributor"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.name}: {c.words}" for c in CASES])
def test_exit_matrix(matrix: ExitMatrix, case: ExitCase) -> None:
    """Each case ends in its state with words that say what happened."""
    matrix.check(case)


def outcome(sge: SgeDistributor, distributor_id: str, case: str) -> RemoteExitInfo:
    """Wait for the final exit info of `distributor_id`, printing it for the report."""
    info = wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2)
    print(f"{case}: {info.error_state.value} {info.error_message}")
    return info


def wait_running(sge: SgeDistributor, ids: list[str], count: int = 1) -> set[str]:
    """Wait until at least `count` of `ids` run; return those that do."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        running = sge.get_running(ids)
        if len(running) >= count:
            return running
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} of {ids} started within {TIMEOUT}s")


def test_qdel_of_one_array_task_is_killed(sge: SgeDistributor) -> None:
    """Terminating one task of an array makes it K and leaves its siblings running."""
    steps = sge.submit_array_to_batch_distributor("sleep 300", "one of three", {}, 3)
    target = steps[0]
    wait_running(sge, [target])
    sge.terminate_task_instances([target])
    info = outcome(sge, target, "qdel of a running array task")
    assert info.error_state == K and "terminated on request" in info.error_message
    assert sge.get_submitted_or_running([steps[1], steps[2]]) == {steps[1], steps[2]}
    sge.terminate_task_instances([steps[1], steps[2]])
    for step in (1, 2):
        outcome(sge, steps[step], f"qdel of array task {step} (rest of the array)")


def test_qdel_of_a_whole_array_is_killed(sge: SgeDistributor) -> None:
    """Terminating every task deletes the array with one qdel of its job number: all K, the
    running tasks through accounting, the pending ones (never accounted) from memory."""
    steps = sge.submit_array_to_batch_distributor("sleep 300", "whole", {}, 4)
    ids = list(steps.values())
    wait_running(sge, ids)
    before = sge.client.runner.calls["qdel"]
    sge.terminate_task_instances(ids)
    assert sge.client.runner.calls["qdel"] == before + 1
    wait_until_gone(sge, ids, TIMEOUT, 0.2)
    for step, distributor_id in steps.items():
        info = outcome(sge, distributor_id, f"qdel of a whole array, step {step}")
        assert info.error_state == K


def test_eqw_is_a_queueing_error_until_deleted(tmp_path: Path) -> None:
    """A job whose working directory does not exist goes Eqw: reported with Grid Engine's
    reason while it waits, K once terminated."""
    missing = tmp_path / "no-such-dir"
    sge = dev_distributor(tmp_path / "root", working_directory=missing)
    distributor_id = sge.submit_to_batch_distributor("true", "eqw", {})
    deadline = time.monotonic() + TIMEOUT
    errors: dict[str, str] = {}
    while not errors and time.monotonic() < deadline:
        errors = sge.get_queueing_errors([distributor_id])
        time.sleep(0.3)
    assert distributor_id in errors, "the job never went into an error state"
    print(f"Eqw: {errors[distributor_id]}")
    assert "Eqw" in errors[distributor_id] and str(missing) in errors[distributor_id]
    assert distributor_id in sge.get_submitted_or_running([distributor_id])
    sge.terminate_task_instances([distributor_id])
    info = outcome(sge, distributor_id, "Eqw, then deleted")
    assert info.error_state == K
