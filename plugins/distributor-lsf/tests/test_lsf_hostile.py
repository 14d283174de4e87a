"""Hostile names, resources and ids: written safely or refused, never executed.

That hostile names and commands run literally is certified for every plugin by the
conformance kit; these are what only LSF's own directives, array syntax and ids can show.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import (
    ResourceError,
    SubmissionError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import PollPolicy, RecordingTransport, SubmitRootError
from distributor.testing import wait_for_exit_info
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_NAMES, HOSTILE_VALUES
from distributor_lsf import LsfClient, LsfDistributor, LsfScheduler
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(min_interval=0.1, max_interval=0.3, accounting_delay=2.0, lost_grace=4.0)
HOSTILE_RESOURCES = [
    *(
        {key: value}
        for key in ("queue", "lsf.project", "lsf.app", "lsf.array_cap")
        for value in HOSTILE_VALUES
    ),
    {"queue": "normal\n#BSUB -M 1"},
    {"queue": "normal -M 1"},
    {"lsf.array_cap": "0"},
    {"lsf.queue": "normal"},
    {"memory": "lots"},
]
"""Every shared hostile value for each key written into a directive, and LSF's own."""
LSF_IDS = ["12[", "12[0]", "0", "12[1-3]"]
"""Ids in LSF's syntax that are no task's: index 0 (LSF counts from 1), a range, and job 0
(``bkill 0`` kills every job of the user)."""
LSF_NAMES = ["x [1-9]", "x[1-9]%2"]
"""Names that ``-J`` would read as an array of its own."""


@pytest.fixture
def distributor(tmp_path: Path) -> Iterator[LsfDistributor]:
    """A started distributor on a private submit root and fake cluster."""
    env = command_environment(BIN, FAKE_LSF_STATE=str(tmp_path / "lsf"))
    with killing_all_jobs(env):
        lsf = LsfDistributor("fake", submit_root=tmp_path / "root", lsf_env=env, poll_policy=FAST)
        lsf.start()
        yield lsf


@pytest.fixture
def offline(tmp_path: Path) -> tuple[LsfDistributor, RecordingTransport]:
    """A started distributor whose commands are recorded and never run, for tests in which
    nothing may reach LSF."""
    transport = RecordingTransport(fallback=None)
    lsf = LsfDistributor(
        "fake", submit_root=tmp_path / "root", transport=transport, poll_policy=FAST
    )
    lsf.start()
    return lsf, transport


@pytest.mark.parametrize("name", [*HOSTILE_NAMES, *LSF_NAMES])
def test_hostile_names_become_one_plain_job_name(name: str) -> None:
    """A name is only ever written as one ``-J`` value of safe characters: no newline (a
    directive of its own), space, quote, ``$`` or brackets (an array) survives."""
    job_name = LsfScheduler(LsfClient()).job_name(name)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}", job_name), name


@pytest.mark.parametrize("resources", HOSTILE_RESOURCES)
def test_hostile_resources_are_rejected_before_bsub(
    offline: tuple[LsfDistributor, RecordingTransport], resources: dict[str, str]
) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key, before any
    LSF command runs."""
    lsf, transport = offline
    with pytest.raises(ResourceError) as caught:
        lsf.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in resources
    assert lsf.client.runner.calls["bsub"] == 0
    assert transport.argvs == []


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


@pytest.mark.parametrize("bogus", [*HOSTILE_IDS, *LSF_IDS])
def test_hostile_ids_are_unknown_and_never_reach_lsf(
    offline: tuple[LsfDistributor, RecordingTransport], bogus: str
) -> None:
    """Ids that are not JOB or JOB[INDEX] of a task are unknown, not running, and not killed:
    no LSF command runs for them."""
    lsf, transport = offline
    with pytest.raises(UnknownDistributorIdError):
        lsf.get_remote_exit_info(bogus)
    assert lsf.get_submitted_or_running([bogus]) == set()
    lsf.terminate_task_instances([bogus])
    assert lsf.client.runner.calls["bkill"] == 0
    assert lsf.client.runner.calls["bjobs"] == 0
    assert transport.argvs == []


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
