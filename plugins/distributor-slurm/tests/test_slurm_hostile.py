"""Hostile names, commands, resources and ids: run literally or rejected, never executed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from distributor import ResourceError, TaskInstanceStatus, UnknownDistributorIdError
from distributor.batch import PollPolicy, SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor_slurm import SlurmDistributor
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

FAST = PollPolicy(min_interval=0.3, max_interval=1.0, accounting_delay=15.0, lost_grace=60.0)


@pytest.fixture
def distributor(tmp_path: Path) -> SlurmDistributor:
    """A started distributor on a private submit root."""
    slurm = SlurmDistributor(
        "dev", submit_root=tmp_path / "root", slurm_conf=SLURM_CONF, poll_policy=FAST
    )
    slurm.start()
    return slurm


def test_hostile_name_and_command_run_literally(
    distributor: SlurmDistributor, tmp_path: Path
) -> None:
    """Quotes, newlines and $(...) reach sh -c verbatim and the name is never executed."""
    pwned = Path(f"/tmp/pwned-{uuid.uuid4().hex[:8]}")
    out = tmp_path / "out.txt"
    name = f"$(touch {pwned}) `touch {pwned}`; 'x\" \n#SBATCH --mem=1"
    command = f"printf '%s|' \"it's\" 'two\nlines' '$(touch {pwned})' \"$DISTRIBUTOR_ID\" > {out}"
    did = distributor.submit_to_batch_distributor(command, name, {"runtime": 60})
    info = wait_for_exit_info(distributor, did, 120, 0.2)
    assert info.error_state == TaskInstanceStatus.DONE, info
    assert out.read_text() == f"it's|two\nlines|$(touch {pwned})|{did}|"
    assert not pwned.exists()
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert "#SBATCH --mem" not in script and script.count("#SBATCH --job-name=") == 1


@pytest.mark.parametrize(
    "resources",
    [
        {"queue": "debug\n#SBATCH --mem=1"},
        {"queue": "debug --mem=1"},
        {"slurm.account": "a; rm -rf ~"},
        {"slurm.qos": "$(id)"},
        {"slurm.constraint": "a b"},
        {"slurm.array_cap": "0"},
        {"slurm.partition": "debug"},
        {"memory": "lots"},
    ],
)
def test_hostile_resources_are_rejected_before_sbatch(
    distributor: SlurmDistributor, resources: dict[str, str]
) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key."""
    with pytest.raises(ResourceError) as caught:
        distributor.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in {*resources, "partition"}
    assert distributor.client.runner.calls["sbatch"] == 0


@pytest.mark.parametrize("bogus", ["1;touch /tmp/x", "$(id)", "12 13", "-1", "12_", "0", ""])
def test_hostile_ids_are_unknown_and_never_reach_slurm(
    distributor: SlurmDistributor, bogus: str
) -> None:
    """Ids that are not JOB or JOB_TASK are unknown, not running, and not cancelled."""
    with pytest.raises(UnknownDistributorIdError):
        distributor.get_remote_exit_info(bogus)
    assert distributor.get_submitted_or_running([bogus]) == set()
    distributor.terminate_task_instances([bogus])
    assert distributor.client.runner.calls["scancel"] == 0


def test_unsafe_submit_root_is_refused(tmp_path: Path) -> None:
    """A submit root that cannot be written into directives is refused at construction."""
    with pytest.raises(SubmitRootError, match="' '"):
        SlurmDistributor("dev", submit_root=tmp_path / "with space", slurm_conf=SLURM_CONF)
