"""Hostile names, resources and ids (`distributor.testing.hostile`): labels only, or refused,
never executed and never on Slurm's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import ResourceError, TaskInstanceStatus, UnknownDistributorIdError
from distributor.batch import PollPolicy, SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_VALUES, hostile_name
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


def test_a_hostile_name_never_becomes_a_directive(
    distributor: SlurmDistributor, tmp_path: Path
) -> None:
    """The name's newlines and other schedulers' directive lines stay out of the job script:
    exactly one ``--job-name`` and no injected ``#SBATCH``. (That such names and commands
    run literally is the conformance kit's `check_hostile_input`.)"""
    pwned = tmp_path / "pwned"
    did = distributor.submit_to_batch_distributor("true", hostile_name(pwned), {"runtime": 60})
    assert wait_for_exit_info(distributor, did, 120, 0.2).error_state == TaskInstanceStatus.DONE
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert "#SBATCH --mem" not in script and script.count("#SBATCH --job-name=") == 1
    assert not pwned.exists()


HOSTILE_RESOURCES = [
    *({key: value} for key in ("queue", "slurm.account", "slurm.qos", "slurm.constraint")
      for value in HOSTILE_VALUES),
    {"slurm.array_cap": "0"},
    {"slurm.partition": "debug"},
    {"memory": "lots"},
]  # fmt: skip


@pytest.mark.parametrize("resources", HOSTILE_RESOURCES)
def test_hostile_resources_are_rejected_before_sbatch(
    distributor: SlurmDistributor, resources: dict[str, str]
) -> None:
    """Values no directive may carry, and keys Slurm does not know, raise ResourceError
    naming the key, before sbatch runs."""
    with pytest.raises(ResourceError) as caught:
        distributor.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in {*resources, "partition"}
    assert distributor.client.runner.calls["sbatch"] == 0


@pytest.mark.parametrize("bogus", [*HOSTILE_IDS, "12_", "0"])
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
