"""Array step mapping on the fake PBS Pro and Torque: -J/-t 0..n-1, chunks, one-step chunks,
whole-array deletion, and adoption of subjob ids by a restarted distributor."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import SubmissionError, TaskInstanceStatus
from distributor.batch import CommandResult, RecordingTransport
from distributor.testing import wait_for_exit_info
from distributor_pbs import PbsDistributor
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
STEP_FILE = 'echo "$DISTRIBUTOR_ARRAY_STEP_ID $DISTRIBUTOR_ID" > "{out}/$DISTRIBUTOR_ARRAY_STEP_ID"'


def refusing_qsub(nth: int) -> RecordingTransport:
    """Runs commands locally, except that the `nth` qsub is refused as a queue limit."""
    return RecordingTransport(
        lambda argv, n: (
            CommandResult(argv, 1, "", "qsub: Job exceeds queue resource limits\n")
            if argv[0] == "qsub" and n == nth
            else None
        )
    )


def make(
    tmp_path: Path,
    flavour: str,
    transport: RecordingTransport | None = None,
    *,
    max_array_size: int | None = None,
    server_max: int = 10000,
) -> PbsDistributor:
    """A started distributor on a fresh fake server of `flavour`."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=flavour, max_array_size=server_max)
    pbs = PbsDistributor(
        "fake",
        submit_root=tmp_path / "root",
        environment=env,
        poll_policy=FAST_POLLING,
        transport=transport,
        max_array_size=max_array_size,
    )
    pbs.start()
    return pbs


def run_steps(pbs: PbsDistributor, tmp_path: Path, length: int) -> dict[int, str]:
    """Submit an array writing each step's file, wait for all, return step → id."""
    out = tmp_path / "steps"
    out.mkdir()
    steps = pbs.submit_array_to_batch_distributor(STEP_FILE.format(out=out), "arr", {}, length)
    assert sorted(steps) == list(range(length))
    for did in steps.values():
        info = wait_for_exit_info(pbs, did, 30.0, 0.05)
        assert info.error_state is TaskInstanceStatus.DONE, (did, info)
    for step, did in steps.items():
        assert (out / str(step)).read_text().split() == [str(step), did]
    return steps


@pytest.mark.parametrize(("flavour", "flag"), [("pro", "-J"), ("torque", "-t")])
def test_steps_are_subjob_indices(tmp_path: Path, flavour: str, flag: str) -> None:
    """Step s is subjob s of one ``-J/-t 0-(n-1)`` array and sees s in its environment."""
    pbs = make(tmp_path, flavour)
    steps = run_steps(pbs, tmp_path, 4)
    array = steps[0].replace("[0]", "[]")
    assert steps == {s: array.replace("[]", f"[{s}]") for s in range(4)}
    script = next((tmp_path / "root").glob("*/job.sh")).read_text()
    assert f"#PBS {flag} 0-3" in script
    assert ("#PBS -r y" in script) == (flavour == "pro")  # PBS Pro refuses non-rerunable arrays


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_chunks_add_their_offset(tmp_path: Path, flavour: str) -> None:
    """Seven steps in chunks of three: 0-2, 3-5 and a last chunk of one, which PBS Pro (no
    one-subjob arrays) gets as a plain job told its step."""
    pbs = make(tmp_path, flavour, max_array_size=3)
    steps = run_steps(pbs, tmp_path, 7)
    assert steps[4].startswith(f"{steps[3].split('[')[0]}[1]")
    last = steps[6]
    assert ("[" not in last) == (flavour == "pro"), last


def test_server_array_limit_is_read(tmp_path: Path) -> None:
    """The server's max_array_size (qstat -B -f) caps the chunks."""
    pbs = make(tmp_path, "pro", server_max=2)
    steps = pbs.submit_array_to_batch_distributor("true", "arr", {}, 4)
    assert len({did.split("[")[0] for did in steps.values()}) == 2


def test_array_of_one_on_pbs_pro_is_a_plain_job(tmp_path: Path) -> None:
    """An array of length 1 is a plain job whose step is 0 (``-J 0-0`` is illegal)."""
    pbs = make(tmp_path, "pro")
    steps = run_steps(pbs, tmp_path, 1)
    assert "[" not in steps[0]


@pytest.mark.parametrize("flavour", ["pro", "torque"])
def test_whole_array_deleted_by_its_array_id(tmp_path: Path, flavour: str) -> None:
    """Terminating every step names the array once (``123[].server``) in one qdel."""
    transport = RecordingTransport()
    pbs = make(tmp_path, flavour, transport)
    steps = pbs.submit_array_to_batch_distributor("sleep 60", "arr", {}, 3)
    pbs.terminate_task_instances(list(steps.values()))
    qdels = transport.of("qdel")
    assert qdels == [("qdel", steps[0].replace("[0]", "[]"))]
    for did in steps.values():
        info = wait_for_exit_info(pbs, did, 30.0, 0.05)
        assert info.error_state is TaskInstanceStatus.KILLED_SELF


def test_refused_chunk_deletes_earlier_chunks(tmp_path: Path) -> None:
    """When the second chunk is refused, the first is deleted and SubmissionError raised."""
    transport = refusing_qsub(2)
    pbs = make(tmp_path, "torque", transport, max_array_size=2)
    with pytest.raises(SubmissionError, match="exceeds queue resource limits"):
        pbs.submit_array_to_batch_distributor("sleep 60", "arr", {}, 4)
    assert transport.of("qdel") == [("qdel", "1[].fakepbs")]


def test_restarted_distributor_adopts_subjob_ids(tmp_path: Path) -> None:
    """A new distributor on the same submit root answers for the ids of an earlier one, and
    refuses ids of other servers or outside the array."""
    first = make(tmp_path, "pro", max_array_size=2)
    steps = run_steps(first, tmp_path, 3)
    env = fake_environment(FAKES, tmp_path / "pbs", flavour="pro")
    again = PbsDistributor(
        "fake", submit_root=tmp_path / "root", environment=env, poll_policy=FAST_POLLING
    )
    for did in steps.values():
        assert wait_for_exit_info(again, did, 30.0, 0.05).error_state is TaskInstanceStatus.DONE
    assert again.get_submitted_or_running([steps[0].replace("fakepbs", "other")]) == set()
    assert again.get_submitted_or_running([steps[0].replace("[0]", "[7]")]) == set()
