"""get_queueing_errors reports pending jobs whose reason can never clear, on the real Slurm."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from distributor.batch import JobPhase, PollPolicy
from distributor.testing import wait_for_exit_info
from distributor_slurm import SlurmDistributor, SlurmQueue
from distributor_slurm.client import slurm_environment
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def test_dependency_never_satisfied_is_a_queueing_error(tmp_path: Path) -> None:
    """A job pending on a dependency that can never be met is reported; waiting ones are not."""
    slurm = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "root",
        slurm_conf=SLURM_CONF,
        poll_policy=PollPolicy(min_interval=0.3, max_interval=1.0),
    )
    cores = SlurmQueue(1, "debug", {"slurm_conf": SLURM_CONF}).limits.max_cores or 1
    failed = slurm.submit_to_batch_distributor("exit 1", "failed", {"runtime": 60})
    wait_for_exit_info(slurm, failed, 120, 0.3)
    blocker = slurm.submit_to_batch_distributor("sleep 600", "blocker", {"cores": cores})
    target = slurm.submit_to_batch_distributor("true", "target", {"runtime": 60})
    try:
        deadline = time.monotonic() + 60
        while slurm.tracker.statuses([blocker]).get(blocker, None) is None or (
            slurm.tracker.statuses([blocker])[blocker].phase is not JobPhase.RUNNING
        ):
            assert time.monotonic() < deadline, "the blocker did not start"
            time.sleep(0.3)
        assert slurm.get_queueing_errors([blocker, target]) == {}
        assert slurm.get_running([blocker, target, failed]) == {blocker}
        subprocess.run(
            ["scontrol", "update", f"jobid={target}", f"dependency=afterok:{failed}"],
            env=slurm_environment(SLURM_CONF),
            check=True,
        )
        errors: dict[str, str] = {}
        while not errors and time.monotonic() < deadline:
            time.sleep(0.5)
            errors = slurm.get_queueing_errors([blocker, target, "nonsense"])
        assert list(errors) == [target]
        assert "DependencyNeverSatisfied" in errors[target] and "never start" in errors[target]
    finally:
        slurm.terminate_task_instances([blocker, target])
