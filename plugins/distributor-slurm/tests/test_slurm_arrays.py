"""Arrays: chunked by MaxArraySize, step ids map back, whole arrays terminate in one scancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import ResourceError, TaskInstanceStatus
from distributor.batch import PollPolicy
from distributor.testing import wait_for_exit_info, wait_until_gone
from distributor.worker import read_exit_record
from distributor_slurm import SlurmDistributor
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

FAST = PollPolicy(min_interval=0.3, max_interval=1.0, accounting_delay=15.0, lost_grace=60.0)


def make(tmp_path: Path, **options: object) -> SlurmDistributor:
    """A started distributor on a private submit root."""
    slurm = SlurmDistributor(
        "dev",
        submit_root=tmp_path / "root",
        slurm_conf=SLURM_CONF,
        poll_policy=FAST,
        **options,  # type: ignore[arg-type]  # the keyword options of SlurmDistributor
    )
    slurm.start()
    return slurm


def test_chunks_map_steps_back(tmp_path: Path) -> None:
    """Seven steps in chunks of three: each step sees its global index and its own id."""
    slurm = make(tmp_path, max_array_size=3)
    out = tmp_path / "out"
    out.mkdir()
    command = f'echo "$DISTRIBUTOR_ID" > {out}/$DISTRIBUTOR_ARRAY_STEP_ID'
    steps = slurm.submit_array_to_batch_distributor(command, "chunks", {"runtime": 60}, 7)
    assert sorted(steps) == list(range(7))
    jobs = [steps[s].split("_")[0] for s in range(7)]
    assert jobs[0] == jobs[2] != jobs[3] == jobs[5] != jobs[6]
    assert [steps[s].split("_")[1] for s in range(7)] == ["0", "1", "2", "0", "1", "2", "0"]
    assert slurm.client.runner.calls["sbatch"] == 3
    for step, did in steps.items():
        assert wait_for_exit_info(slurm, did, 120, 0.3).error_state == TaskInstanceStatus.DONE
        assert (out / str(step)).read_text() == f"{did}\n"
        record = read_exit_record(slurm.tracker.get(did).record_path)  # type: ignore[arg-type,union-attr]
        assert record is not None and record.array_step_id == step


def test_array_over_max_array_size_is_chunked_and_terminated_at_once(tmp_path: Path) -> None:
    """MaxArraySize+1 tasks make two chunks; terminating all is one scancel of two job ids."""
    slurm = make(tmp_path)
    size = int(slurm.client.config()["MaxArraySize"])
    steps = slurm.submit_array_to_batch_distributor("sleep 600", "big", {"runtime": 60}, size + 1)
    first, second = steps[0].split("_")[0], steps[size].split("_")[0]
    assert first != second and steps[size - 1] == f"{first}_{size - 1}"
    assert steps[size] == f"{second}_0" and len(set(steps.values())) == size + 1
    slurm.terminate_task_instances(list(steps.values()))
    assert slurm.client.runner.calls["scancel"] == 1
    wait_until_gone(slurm, list(steps.values()), 120, 0.5)
    infos = [wait_for_exit_info(slurm, did, 60, 0.1) for did in steps.values()]
    assert {info.error_state for info in infos} == {TaskInstanceStatus.KILLED_SELF}


def test_array_cap_is_passed_and_bad_lengths_are_refused(tmp_path: Path) -> None:
    """slurm.array_cap becomes %N on --array; a length below 1 is a ResourceError."""
    slurm = make(tmp_path)
    steps = slurm.submit_array_to_batch_distributor(
        "true", "capped", {"slurm.array_cap": 1, "runtime": 60}, 2
    )
    script = next((tmp_path / "root").glob("capped-*/job.sh")).read_text()
    assert "#SBATCH --array=0-1%1" in script
    for did in steps.values():
        assert wait_for_exit_info(slurm, did, 120, 0.3).error_state == TaskInstanceStatus.DONE
    with pytest.raises(ResourceError, match="array_length"):
        slurm.submit_array_to_batch_distributor("true", "none", {}, 0)


def test_a_new_distributor_on_the_same_root_adopts_old_ids(tmp_path: Path) -> None:
    """Ids issued by an earlier distributor are answered from the submit root's index."""
    first = make(tmp_path)
    single = first.submit_to_batch_distributor("exit 4", "old", {"runtime": 60})
    steps = first.submit_array_to_batch_distributor("true", "olds", {"runtime": 60}, 2)
    second = make(tmp_path)
    info = wait_for_exit_info(second, single, 120, 0.3)
    assert info.error_state == TaskInstanceStatus.ERROR and "status 4" in info.error_message
    assert wait_for_exit_info(second, steps[1], 120, 0.3).error_state == TaskInstanceStatus.DONE
    bogus_task = f"{steps[0].split('_')[0]}_99"
    assert second.get_submitted_or_running([bogus_task, f"{single}_0"]) == set()
