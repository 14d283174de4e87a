"""Lookup by name on the fake pool: submissions whose answer was lost are found with one
condor_q, running or already ended, and hostile names are only ever literals."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from distributor.batch import NamedJob, PollPolicy
from distributor.testing import wait_for_exit_info
from distributor.testing.faults import SimulatedCrash
from distributor.testing.hostile import HOSTILE_NAMES
from distributor_htcondor import HTCondorDistributor
from distributor_htcondor.testing import wrapped_environment

FAKE = Path(__file__).with_name("htcondor_fake.py")
FAST = PollPolicy(
    min_interval=0.05,
    max_interval=0.25,
    max_calls_per_minute=100_000,
    accounting_interval=0.1,
    accounting_delay=1.0,
    lost_grace=2.0,
)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The commands of a fresh fake pool; its jobs are removed afterwards."""
    env = wrapped_environment(FAKE, tmp_path, {"FAKE_CONDOR_STATE": str(tmp_path / "pool")})
    yield env
    subprocess.run(["condor_rm", "-all"], env=env, capture_output=True, check=False)
    log = tmp_path / "pool" / "starters.log"
    assert not log.exists() or not log.read_text(), log.read_text()


def make(env: Mapping[str, str], root: Path, **options: object) -> HTCondorDistributor:
    """A started distributor on `root`."""
    distributor = HTCondorDistributor(
        "fake",
        submit_root=root,
        environment=env,
        poll_policy=FAST,
        **options,  # type: ignore[arg-type]  # keyword options of the constructor
    )
    distributor.start()
    return distributor


def crash_after_condor_submit(
    monkeypatch: pytest.MonkeyPatch, distributor: HTCondorDistributor, crashes: list[bool]
) -> None:
    """Make the distributor's process "die" right after condor_submit succeeded, on each call
    whose entry in `crashes` is True (consumed in order)."""
    submit = distributor.client.submit

    def submit_then_maybe_crash(description: Path) -> tuple[int, int]:
        queued = submit(description)
        if crashes.pop(0):
            raise SimulatedCrash("killed after condor_submit answered")
        return queued

    monkeypatch.setattr(distributor.client, "submit", submit_then_maybe_crash)


def wait_for(condition: Path, timeout: float = 20.0) -> None:
    """Wait until the file `condition` exists."""
    deadline = time.monotonic() + timeout
    while not condition.exists():
        assert time.monotonic() < deadline, f"{condition} never appeared"
        time.sleep(0.05)


def test_lost_answers_are_found_by_name_with_one_condor_q(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task and an array chunk whose condor_submit answers were lost are found by a new
    distributor on the same root, in one condor_q, beside the chunk that was recorded; their
    ids are then answered like any other."""
    root, go = tmp_path / "root", tmp_path / "go"
    first = make(env, root, max_array_size=2)
    crash_after_condor_submit(monkeypatch, first, [True, False, True])
    command = f"while [ ! -e {go} ]; do sleep 0.05; done"
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor(command, "lost single", {})
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor(command, "lost array", {}, 3)
    second = make(env, root)
    found = second.find_by_name(["lost single", "lost array", "never submitted"])
    assert found == {"lost single": {0: "1.0"}, "lost array": {0: "2.0", 1: "2.1", 2: "3.0"}}
    assert second.client.runner.calls == {"condor_q": 1}
    assert second.find_by_name(["lost array"]) == {"lost array": found["lost array"]}
    assert second.client.runner.calls == {"condor_q": 1}  # recorded now: answered from the index
    go.touch()
    for did in ("1.0", "2.0", "2.1", "3.0"):
        assert wait_for_exit_info(second, did, 20, 0.05).error_state == "D"


def test_a_lost_answer_of_an_ended_job_is_found_by_its_records(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that already left HTCondor's queue is found by the records its worker wrote, and
    its exit info comes from condor_history."""
    root = tmp_path / "root"
    first = make(env, root)
    crash_after_condor_submit(monkeypatch, first, [True])
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("exit 6", "ended quickly", {})
    wait_for(Path(env["FAKE_CONDOR_STATE"]) / "history" / "1.0.json")  # out of the queue
    second = make(env, root)
    assert second.find_by_name(["ended quickly"]) == {"ended quickly": {0: "1.0"}}
    assert second.client.runner.calls == {"condor_q": 1}
    info = wait_for_exit_info(second, "1.0", 20, 0.05)
    assert info.error_state == "E" and "ExitCode 6" in info.error_message


def test_a_job_of_another_root_under_the_same_name_is_not_taken(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older job of the same name submitted from another submit root is not linked to a
    lost submission: the job script's path says which task directory a job belongs to."""
    other = make(env, tmp_path / "other_root")
    go = tmp_path / "go"
    command = f"while [ ! -e {go} ]; do sleep 0.05; done"
    assert other.submit_to_batch_distributor(command, "shared", {}) == "1.0"
    first = make(env, tmp_path / "root")
    crash_after_condor_submit(monkeypatch, first, [True])
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor(command, "shared", {})
    second = make(env, tmp_path / "root")
    assert second.find_by_name(["shared"]) == {"shared": {0: "2.0"}}
    go.touch()
    assert wait_for_exit_info(second, "2.0", 20, 0.05).error_state == "D"


HOSTILE = [
    *HOSTILE_NAMES,
    'x" || true || "',
    '") || (DistributorName =?= "listed',
    "listed ",
    "LISTED",
    'a"b',
    "a\\b",
    "a\nb",
    "-af",
    "",
]


def test_hostile_names_are_literals_of_one_condor_q(env: dict[str, str], tmp_path: Path) -> None:
    """Names that try to end the string literal, change case, or look like options (and every
    shared hostile name) match nothing, and all the names of one lookup cost one condor_q."""
    distributor = make(env, tmp_path / "root")
    distributor.submit_to_batch_distributor("sleep 300", "listed", {})
    distributor.submit_array_to_batch_distributor("sleep 300", "listed", {}, 2)
    single, array = distributor.submit_root.submissions("listed")
    scheduler = distributor.scheduler
    assert scheduler.find_jobs(HOSTILE) == []
    assert scheduler.find_jobs(["listed", *HOSTILE]) == [
        NamedJob("1", "listed", str(single.task_dir / "job.sh")),
        NamedJob("2", "listed", str(array.task_dir / "job.sh")),
    ]
    assert scheduler.find_jobs([]) == []
    assert distributor.client.runner.calls["condor_q"] == 2
