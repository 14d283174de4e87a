"""Arrays on the real Grid Engine: 1-based tasks map to 0-based steps across chunks, the
concurrency cap holds, and ids survive a restart of the distributor."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.testing import wait_for_exit_info
from distributor_sge.testing import cell_environment, dev_distributor, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

TIMEOUT = 120.0
PROBE = shlex.quote(
    "import os\nfrom distributor_sge import SgeWorkerNode as W\n"
    "print(os.environ['DISTRIBUTOR_ARRAY_STEP_ID'], os.environ['DISTRIBUTOR_ID'],"
    " os.environ['SGE_TASK_ID'], W().distributor_id, W().array_step_id)"
)


def test_steps_map_to_tasks_across_chunks(tmp_path: Path) -> None:
    """Five steps in chunks of two: step s is task s-offset+1 of its chunk, and the job sees
    DISTRIBUTOR_ARRAY_STEP_ID = s and DISTRIBUTOR_ID = the id returned for s."""
    sge = dev_distributor(tmp_path / "root", max_array_size=2)
    out = tmp_path / "out"
    out.mkdir()
    command = f'{shlex.quote(sys.executable)} -c {PROBE} > {out}/"$DISTRIBUTOR_ARRAY_STEP_ID"'
    steps = sge.submit_array_to_batch_distributor(command, "steps", {}, 5)
    jobs = sorted({did.split(".")[0] for did in steps.values()}, key=int)
    assert len(jobs) == 3 and sge.client.runner.calls["qsub"] == 3
    assert [steps[s].split(".")[1] for s in range(5)] == ["1", "2", "1", "2", "1"]
    for step, distributor_id in steps.items():
        info = wait_for_exit_info(sge, distributor_id, TIMEOUT, 0.2)
        assert info.error_state == TaskInstanceStatus.DONE, (step, info)
        seen = (out / str(step)).read_text().split()
        task = distributor_id.split(".")[1]
        assert seen == [str(step), distributor_id, task, distributor_id, str(step)]


def test_concurrency_cap_and_restart(tmp_path: Path) -> None:
    """sge.array_cap=1 runs one task at a time; a new distributor on the same submit root
    answers for the ids of the old one."""
    first = dev_distributor(tmp_path / "root")
    steps = first.submit_array_to_batch_distributor("sleep 1", "capped", {"sge.array_cap": 1}, 3)
    ids = list(steps.values())
    assert "#$ -tc 1" in next((tmp_path / "root").glob("capped-*/job.sh")).read_text()
    most = 0
    deadline = time.monotonic() + TIMEOUT
    while first.get_submitted_or_running(ids) and time.monotonic() < deadline:
        most = max(most, len(first.get_running(ids)))
        time.sleep(0.2)
    assert most == 1
    second = dev_distributor(tmp_path / "root")
    for distributor_id in ids:
        info = wait_for_exit_info(second, distributor_id, TIMEOUT, 0.2)
        assert info.error_state == TaskInstanceStatus.DONE
    job = ids[0].split(".")[0]
    for bogus in (f"{job}.4", f"{job}.0", job):
        assert second.get_submitted_or_running([bogus]) == set()
