"""Hostile names, commands, resources and ids: run literally or rejected, never executed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from distributor import ResourceError, TaskInstanceStatus, UnknownDistributorIdError
from distributor.batch import SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor_pbs import PbsDistributor
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture(params=["pro", "torque"])
def pbs(request: pytest.FixtureRequest, tmp_path: Path) -> PbsDistributor:
    """A started distributor on a fresh fake server of each flavour."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=request.param)
    distributor = PbsDistributor(
        "fake", submit_root=tmp_path / "root", environment=env, poll_policy=FAST_POLLING
    )
    distributor.start()
    return distributor


def test_hostile_name_and_command_run_literally(pbs: PbsDistributor, tmp_path: Path) -> None:
    """Quotes, newlines, $(...) and a directive smuggled into the name reach sh -c verbatim,
    and the name is never executed or read as a directive."""
    pwned = Path(f"/tmp/pwned-{uuid.uuid4().hex[:8]}")
    out = tmp_path / "out.txt"
    name = f"$(touch {pwned}) `touch {pwned}`; 'x\" \n#PBS -l walltime=1"
    command = f"printf '%s|' \"it's\" 'two\nlines' '$(touch {pwned})' \"$DISTRIBUTOR_ID\" > {out}"
    did = pbs.submit_to_batch_distributor(command, name, {"runtime": 60})
    info = wait_for_exit_info(pbs, did, 30, 0.05)
    assert info.error_state == TaskInstanceStatus.DONE, info
    assert out.read_text() == f"it's|two\nlines|$(touch {pwned})|{did}|"
    assert not pwned.exists()
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert "walltime=1\n" not in script and script.count("#PBS -N ") == 1


def test_name_starting_with_a_digit_gets_a_letter(pbs: PbsDistributor, tmp_path: Path) -> None:
    """Job names start with a letter, as older PBS servers require."""
    pbs.submit_to_batch_distributor("true", "7 samurai", {})
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert "#PBS -N j7_samurai\n" in script


HOSTILE_RESOURCES = [
    {"queue": "workq\n#PBS -l mem=1"},
    {"queue": "workq -l mem=1"},
    {"pbs.account": "a; rm -rf ~"},
    {"pbs.account": "$(id)"},
    {"pbs.queue": "workq"},
    {"memory": "lots"},
    {"runtime": "-5"},
]
HOSTILE_IDS = ["1;touch /tmp/x", "$(id)", "12 13", "-1", "12[]", "12[].fakepbs", "1.other", ""]


def test_hostile_resources_are_rejected_before_qsub(pbs: PbsDistributor) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key."""
    for resources in HOSTILE_RESOURCES:
        with pytest.raises(ResourceError) as caught:
            pbs.submit_to_batch_distributor("true", "x", resources)
        assert caught.value.key in resources
    assert pbs.client.runner.calls["qsub"] == 0


def test_hostile_ids_are_unknown_and_never_reach_pbs(pbs: PbsDistributor) -> None:
    """Ids that are not ones this distributor issued are unknown, not running, not deleted."""
    pbs.submit_to_batch_distributor("true", "real", {})
    for bogus in [*HOSTILE_IDS, "999.fakepbs"]:
        with pytest.raises(UnknownDistributorIdError):
            pbs.get_remote_exit_info(bogus)
        assert pbs.get_submitted_or_running([bogus]) == set()
        pbs.terminate_task_instances([bogus])
    assert pbs.client.runner.calls["qdel"] == 0


def test_unsafe_submit_root_is_refused(tmp_path: Path) -> None:
    """A submit root that cannot be written into directives is refused at construction."""
    with pytest.raises(SubmitRootError, match="' '"):
        PbsDistributor("fake", submit_root=tmp_path / "with space", flavour="pro")
