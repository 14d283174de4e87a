"""Hostile names, commands, resources and ids: run literally or rejected, never executed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import (
    ResourceError,
    SubmissionError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import PollPolicy, SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor_lsf import LsfDistributor
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)


@pytest.fixture
def distributor(tmp_path: Path) -> Iterator[LsfDistributor]:
    """A started distributor on a private submit root and fake cluster."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
        lsf.start()
        yield lsf


def test_hostile_name_and_command_run_literally(
    distributor: LsfDistributor, tmp_path: Path
) -> None:
    """Quotes, newlines, brackets and $(...) reach sh -c verbatim; the name is never executed."""
    pwned = Path(f"/tmp/pwned-{uuid.uuid4().hex[:8]}")
    out = tmp_path / "out.txt"
    name = f"$(touch {pwned}) `touch {pwned}`; 'x\" [1-9] \n#BSUB -M 1"
    command = f"printf '%s|' \"it's\" 'two\nlines' '$(touch {pwned})' \"$DISTRIBUTOR_ID\" > {out}"
    did = distributor.submit_to_batch_distributor(command, name, {"runtime": 60})
    info = wait_for_exit_info(distributor, did, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.DONE, info
    assert out.read_text() == f"it's|two\nlines|$(touch {pwned})|{did}|"
    assert not pwned.exists()
    script = next(distributor.submit_root.path.glob("*/job.sh")).read_text()
    assert "#BSUB -M" not in script and script.count("#BSUB -J ") == 1
    assert "[1-9]" not in script.split("#BSUB -J ")[1].splitlines()[0]


@pytest.mark.parametrize(
    "resources",
    [
        {"queue": "normal\n#BSUB -M 1"},
        {"queue": "normal -M 1"},
        {"lsf.project": "a; rm -rf ~"},
        {"lsf.app": "$(id)"},
        {"lsf.array_cap": "0"},
        {"lsf.queue": "normal"},
        {"memory": "lots"},
    ],
)
def test_hostile_resources_are_rejected_before_bsub(
    distributor: LsfDistributor, resources: dict[str, str]
) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key."""
    with pytest.raises(ResourceError) as caught:
        distributor.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in resources
    assert distributor.client.runner.calls["bsub"] == 0


@pytest.mark.parametrize(
    ("resources", "stderr"),
    [
        ({"queue": "nosuch"}, "nosuch: No such queue. Job not submitted."),
        ({"queue": "short", "runtime": "1h"}, "Cannot exceed queue's hard limit(s)."),
    ],
)
def test_refusals_carry_bsub_stderr(
    distributor: LsfDistributor, resources: dict[str, str], stderr: str
) -> None:
    """bsub's refusal becomes SubmissionError with its message, and leaves no task directory."""
    with pytest.raises(SubmissionError, match="LSF refused task") as caught:
        distributor.submit_to_batch_distributor("true", "refused", resources)
    assert stderr in caught.value.stderr and caught.value.argv == ("bsub",)
    assert not list(distributor.submit_root.path.glob("refused-*"))


@pytest.mark.parametrize(
    "bogus", ["1;touch /tmp/x", "$(id)", "12 13", "-1", "12[", "12[0]", "0", "", "12[1-3]"]
)
def test_hostile_ids_are_unknown_and_never_reach_lsf(
    distributor: LsfDistributor, bogus: str
) -> None:
    """Ids that are not JOB or JOB[INDEX] are unknown, not running, and not killed."""
    with pytest.raises(UnknownDistributorIdError):
        distributor.get_remote_exit_info(bogus)
    assert distributor.get_submitted_or_running([bogus]) == set()
    distributor.terminate_task_instances([bogus])
    assert distributor.client.runner.calls["bkill"] == 0
    assert distributor.client.runner.calls["bjobs"] == 0


def test_unsafe_submit_root_is_refused(tmp_path: Path) -> None:
    """A submit root that cannot be written into directives is refused at construction."""
    with pytest.raises(SubmitRootError, match="' '"):
        LsfDistributor("fake", submit_root=tmp_path / "with space")


def test_command_lines_that_look_like_directives_stay_command(
    distributor: LsfDistributor, tmp_path: Path
) -> None:
    """bsub reads every stdin line that begins with #BSUB: a command's own lines never do."""
    out = tmp_path / "out.txt"
    command = f"printf '%s' 'a\n#BSUB -q short\n#BSUB -J evil' > {out}"
    did = distributor.submit_to_batch_distributor(command, "lines", {"runtime": 60})
    info = wait_for_exit_info(distributor, did, 30, 0.1)
    assert info.error_state == TaskInstanceStatus.DONE, info
    assert out.read_text() == "a\n#BSUB -q short\n#BSUB -J evil"
    script = next(distributor.submit_root.path.glob("lines-*/job.sh")).read_text()
    assert [line for line in script.splitlines() if line.startswith("#BSUB -q")] == []
