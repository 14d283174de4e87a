"""Hostile names, resources and ids: written safely or refused, never executed.

That hostile names and commands run literally is certified for every plugin by the
conformance kit; these are what only PBS's own directives and ids can show.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from distributor import ResourceError, UnknownDistributorIdError
from distributor.batch import RecordingTransport, SubmitRootError
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_NAMES, HOSTILE_VALUES
from distributor_pbs import PbsDistributor
from distributor_pbs.scheduler import pbs_job_name
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
HOSTILE_RESOURCES = [
    *({key: value} for key in ("queue", "pbs.account") for value in HOSTILE_VALUES),
    {"queue": "workq\n#PBS -l mem=1"},
    {"queue": "workq -l mem=1"},
    {"pbs.queue": "workq"},
    {"memory": "lots"},
    {"runtime": "-5"},
]
"""Every shared hostile value for each key written into a directive, and PBS's own."""
PBS_IDS = ["12[].fakepbs", "1.other", "999.fakepbs"]
"""Ids in PBS's syntax that this distributor never issued."""


@pytest.fixture(params=["pro", "torque"])
def pbs(request: pytest.FixtureRequest, tmp_path: Path) -> PbsDistributor:
    """A started distributor on a fresh fake server of each flavour, its commands recorded."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=request.param)
    distributor = PbsDistributor(
        "fake",
        submit_root=tmp_path / "root",
        environment=env,
        poll_policy=FAST_POLLING,
        transport=RecordingTransport(),
    )
    distributor.start()
    return distributor


def test_name_starting_with_a_digit_gets_a_letter(pbs: PbsDistributor, tmp_path: Path) -> None:
    """Job names start with a letter, as older PBS servers require."""
    pbs.submit_to_batch_distributor("true", "7 samurai", {})
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert "#PBS -N j7_samurai\n" in script


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_become_one_plain_job_name(name: str) -> None:
    """A name is only ever written as one ``-N`` value of safe characters starting with a
    letter: no newline (a directive of its own), space, quote or ``$`` survives."""
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_.\-]{0,59}", pbs_job_name(name)), name


def test_hostile_resources_are_rejected_before_qsub(pbs: PbsDistributor) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key."""
    for resources in HOSTILE_RESOURCES:
        with pytest.raises(ResourceError) as caught:
            pbs.submit_to_batch_distributor("true", "x", resources)
        assert caught.value.key in resources, resources
    assert pbs.client.runner.calls["qsub"] == 0


def test_hostile_ids_are_unknown_and_never_reach_pbs(pbs: PbsDistributor) -> None:
    """Ids that are not ones this distributor issued are unknown, not running, not deleted,
    and never an argument of a PBS command."""
    pbs.submit_to_batch_distributor("true", "real", {})
    for bogus in [*HOSTILE_IDS, *PBS_IDS]:
        with pytest.raises(UnknownDistributorIdError):
            pbs.get_remote_exit_info(bogus)
        assert pbs.get_submitted_or_running([bogus]) == set(), bogus
        pbs.terminate_task_instances([bogus])
    assert pbs.client.runner.calls["qdel"] == 0
    transport = pbs.client.runner.transport
    assert isinstance(transport, RecordingTransport)
    assert not [argv for argv in transport.argvs if set(argv) & {*HOSTILE_IDS, *PBS_IDS}]


def test_unsafe_submit_root_is_refused(tmp_path: Path) -> None:
    """A submit root that cannot be written into directives is refused at construction."""
    with pytest.raises(SubmitRootError, match="' '"):
        PbsDistributor("fake", submit_root=tmp_path / "with space", flavour="pro")
