"""PbsScheduler: the BatchScheduler contract, ids and keys, one-subjob chunks, and lookup by
name with one qstat (submissions whose answer was lost are found by a new distributor)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from distributor import ResourceError, TaskInstanceStatus, parse_request
from distributor.batch import (
    BatchJob,
    BatchScheduler,
    CommandResult,
    NamedJob,
    RecordingTransport,
)
from distributor.testing import wait_for_exit_info, wait_until_running
from distributor.testing.faults import SimulatedCrash
from distributor_pbs import PbsClient, PbsDistributor, PbsScheduler, parsers
from distributor_pbs.testing import FAST_POLLING, fake_environment

FAKES = Path(__file__).parent / "fakes"
FLAVOURS = ["pro", "torque"]
STEP_FILE = 'echo "$DISTRIBUTOR_ID" > "{out}/$DISTRIBUTOR_ARRAY_STEP_ID"'


def server(tmp_path: Path, **settings: object) -> dict[str, str]:
    """A fresh fake server configured with `settings`; the environment its clients need."""
    return fake_environment(FAKES, tmp_path / "pbs", **settings)


def make(tmp_path: Path, env: dict[str, str], flavour: str = "auto") -> PbsDistributor:
    """A started distributor on the fake server of `env`; distributors made again share its
    submit root."""
    pbs = PbsDistributor(
        "fake",
        submit_root=tmp_path / "root",
        flavour=flavour,
        environment=env,
        poll_policy=FAST_POLLING,
    )
    pbs.start()
    return pbs


def lose_answers(pbs: PbsDistributor, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, every qsub of `pbs` succeeds and then the process "dies" before the
    answer is recorded."""
    qsub = pbs.client.submit

    def submitted_then_killed(script: Path) -> str:
        qsub(script)
        raise SimulatedCrash("killed after qsub printed the job id")

    monkeypatch.setattr(pbs.client, "submit", submitted_then_killed)


def scripted_client(flavour: str, *answers: str) -> tuple[PbsClient, RecordingTransport]:
    """A client whose commands print `answers` in turn (exit 0)."""
    queue = list(answers)
    transport = RecordingTransport(
        lambda argv, n: CommandResult(argv, 0, queue.pop(0), ""), fallback=None
    )
    return PbsClient(flavour=flavour, transport=transport), transport


def batch_job(tmp_path: Path, written: dict[str, str], **fields: Any) -> BatchJob:
    """A job whose files are kept in `written` instead of the task directory."""

    def write(name: str, text: str) -> Path:
        written[name] = text
        return tmp_path / name

    defaults: dict[str, Any] = {
        "command": "true",
        "name": "one",
        "job_name": "one",
        "request": parse_request({"runtime": 60}),
        "task_dir": tmp_path,
        "worker": "/opt/distributor-worker",
    }
    return BatchJob(**{**defaults, **fields}, write=write)


# --- the contract, without a server -------------------------------------------------------


def test_it_is_a_batch_scheduler() -> None:
    """PbsScheduler satisfies BatchScheduler (pinned statically in the module as well)."""
    scheduler = PbsScheduler(PbsClient(flavour="pro"))
    assert isinstance(scheduler, BatchScheduler)
    assert (scheduler.name, scheduler.title) == ("pbs", "PBS")
    assert set(scheduler.declared_resources) == {"pbs.account"}


def test_ids_and_keys() -> None:
    """A job is its own key; an array's subjobs are keyed by the array id qsub printed; array
    ids and other text have no key."""
    scheduler = PbsScheduler(PbsClient(flavour="pro"))
    assert scheduler.task_ids("12.srv", None) == ["12.srv"]
    assert scheduler.task_ids("12.srv", (6, 1)) == ["12.srv"]  # a one-subjob chunk, plain
    assert scheduler.task_ids("13[].srv", (3, 3)) == ["13[0].srv", "13[1].srv", "13[2].srv"]
    assert scheduler.task_ids("13[2].srv", (0, 1)) == []  # not a key: the caller refuses it
    assert scheduler.job_key("13[1].srv") == "13[].srv"
    assert scheduler.job_key("12.srv") == "12.srv"
    for text in ("13[].srv", "-1", "1;id", ""):
        assert scheduler.job_key(text) is None


def test_a_queue_that_cannot_be_a_directive_is_refused_before_qsub() -> None:
    """check_request refuses a queue name that would break the #PBS -q line."""
    scheduler = PbsScheduler(PbsClient(flavour="torque"))
    scheduler.check_request(parse_request({"queue": "batch"}))
    with pytest.raises(ResourceError) as caught:
        scheduler.check_request(parse_request({"queue": "batch\n#PBS -l mem=1"}))
    assert caught.value.key == "queue"


def test_cancel_passes_only_job_ids_to_qdel() -> None:
    """Job keys and subjob ids reach one qdel, each once; other text never does."""
    client, transport = scripted_client("pro", "")
    PbsScheduler(client).cancel(["5[].srv", "6.srv", "-W", "5[].srv", "7[2].srv", "$(id)"])
    assert transport.argvs == [("qdel", "5[].srv", "6.srv", "7[2].srv")]


@pytest.mark.parametrize(
    ("flavour", "printed", "present", "absent", "ids"),
    [
        ("pro", "41.srv", ["#PBS -r n\n", "_STEP_ID=7\n"], ["#PBS -J"], ["41.srv"]),
        ("torque", "41[].srv", ["#PBS -t 0-0\n", "=$((PBS_ARRAYID + 7))\n"], [], ["41[0].srv"]),
    ],
)
def test_a_one_subjob_chunk_on_pbs_pro_is_a_plain_job_told_its_step(
    tmp_path: Path,
    flavour: str,
    printed: str,
    present: list[str],
    absent: list[str],
    ids: list[str],
) -> None:
    """PBS Pro refuses ``-J 0-0``, so chunk (7, 1) is a plain, non-rerunnable job whose step is
    7 and whose only id is the job id; Torque takes ``-t 0-0`` and adds 7 to its index."""
    client, _ = scripted_client(flavour, printed + "\n")
    written: dict[str, str] = {}
    scheduler = PbsScheduler(client)
    key = scheduler.submit(batch_job(tmp_path, written, array=(7, 1)))
    script = written["job.sh"]
    assert all(text in script for text in present), script
    assert not any(text in script for text in absent), script
    assert key == printed
    assert scheduler.task_ids(key, (7, 1)) == ids


@pytest.mark.parametrize(("flavour", "limit"), [("pro", 60 + 150), ("torque", 60 + 60)])
def test_runtime_backstop_leaves_the_walltime_kill_to_pbs(
    tmp_path: Path, flavour: str, limit: int
) -> None:
    """The worker's own runtime limit is the walltime plus the flavour's backstop, longer than
    the MoM needs to notice and kill (PBS Pro up to 120 s + kill_delay, Torque 45 s + 2 s)."""
    client, _ = scripted_client(flavour, "1.srv\n")
    written: dict[str, str] = {}
    PbsScheduler(client).submit(batch_job(tmp_path, written))
    assert "#PBS -l walltime=00:01:00" in written["job.sh"]
    assert f"--runtime-limit {limit} " in written["job.sh"]


# --- lookup by name, against the fake -----------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_find_jobs_lists_the_names_asked_for_oldest_first(tmp_path: Path, flavour: str) -> None:
    """Queued, running and finished jobs and arrays listed under the names asked for, oldest
    first, one entry per array, with one qstat."""
    queues = {
        "main": {"resources_max.walltime": "01:00:00"},
        "stopped": {"resources_max.walltime": "01:00:00", "started": "False"},
    }
    pbs = make(tmp_path, server(tmp_path, flavour=flavour, queues=queues))
    done = pbs.submit_to_batch_distributor("true", "wanted", {"queue": "main"})
    running = pbs.submit_to_batch_distributor("sleep 30", "wanted", {"queue": "main"})
    other = pbs.submit_to_batch_distributor("sleep 30", "other", {"queue": "main"})
    array = pbs.submit_array_to_batch_distributor("sleep 30", "arr", {"queue": "main"}, 2)
    queued = pbs.submit_to_batch_distributor("true", "wanted", {"queue": "stopped"})
    assert wait_for_exit_info(pbs, done, 30, 0.05).error_state is TaskInstanceStatus.DONE
    wait_until_running(pbs, [running, array[1]], 30, 0.05)
    before = pbs.client.runner.calls
    listed = pbs.scheduler.find_jobs({"wanted", "arr", "never"})
    assert pbs.client.runner.calls - before == Counter({"qstat": 1})
    assert listed == [
        NamedJob(done, "wanted"),
        NamedJob(running, "wanted"),
        NamedJob(str(parsers.job_key(array[0])), "arr"),
        NamedJob(queued, "wanted"),
    ]
    assert other not in {job.key for job in listed}
    assert pbs.scheduler.find_jobs(set()) == []
    assert pbs.client.runner.calls - before == Counter({"qstat": 1})  # no names, no command
    pbs.terminate_task_instances([running, other, queued, *array.values()])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_submission_whose_answer_was_lost_is_found_by_a_new_distributor(
    tmp_path: Path, flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after qsub succeeded, a job, an array and a one-step array (a plain job on PBS
    Pro) are found by name by a new distributor on the same submit root, which then answers
    their exit info; the steps' ids are the ones the jobs ran under."""
    out = tmp_path / "steps"
    out.mkdir()
    env = server(tmp_path, flavour=flavour)
    first = make(tmp_path, env)
    lose_answers(first, monkeypatch)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("exit 3", "lost_job", {})
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor(STEP_FILE.format(out=out), "lost_array", {}, 3)
    with pytest.raises(SimulatedCrash):
        first.submit_array_to_batch_distributor("true", "lost_one", {}, 1)

    again = make(tmp_path, env)  # flavour "auto": detected before the lookup's qstat
    found = again.find_by_name(["lost_job", "lost_array", "lost_one", "never"])
    assert found == {
        "lost_job": {0: "1.fakepbs"},
        "lost_array": {step: f"2[{step}].fakepbs" for step in range(3)},
        "lost_one": {0: "3.fakepbs" if flavour == "pro" else "3[0].fakepbs"},
    }
    assert again.client.runner.calls == Counter({"qstat": 2})  # --version, then the listing
    info = wait_for_exit_info(again, found["lost_job"][0], 30, 0.05)
    assert info.error_state is TaskInstanceStatus.ERROR
    assert "the command exited with status 3" in info.error_message
    for did in [*found["lost_array"].values(), found["lost_one"][0]]:
        assert wait_for_exit_info(again, did, 30, 0.05).error_state is TaskInstanceStatus.DONE
    for step, did in found["lost_array"].items():
        assert (out / str(step)).read_text().strip() == did


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_lookup_costs_one_qstat_and_only_for_lost_answers(
    tmp_path: Path, flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recorded submissions are found without a command; any number of lost ones cost one
    qstat together, and none once linked."""
    env = server(tmp_path, flavour=flavour)
    first = make(tmp_path, env, flavour)
    kept = first.submit_to_batch_distributor("true", "kept", {})
    lose_answers(first, monkeypatch)
    for name in ("lost_a", "lost_b", "lost_c"):
        with pytest.raises(SimulatedCrash):
            first.submit_array_to_batch_distributor("true", name, {}, 2)

    again = make(tmp_path, env, flavour)
    assert again.find_by_name(["kept"]) == {"kept": {0: kept}}
    assert again.client.runner.calls == Counter()
    found = again.find_by_name(["kept", "lost_a", "lost_b", "lost_c", "never"])
    assert again.client.runner.calls == Counter({"qstat": 1})
    assert sorted(found) == ["kept", "lost_a", "lost_b", "lost_c"]
    assert again.find_by_name(["lost_a", "lost_b", "lost_c"]) == {
        name: found[name] for name in ("lost_a", "lost_b", "lost_c")
    }
    assert again.client.runner.calls == Counter({"qstat": 1})


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_lost_answer_of_a_job_pbs_forgot_is_found_by_its_records(
    tmp_path: Path, flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without history (PBS Pro) or keep_completed (Torque), a finished job is no longer
    listed; its start and exit records still link it, and its exit info comes from them."""
    env = server(tmp_path, flavour=flavour, history=False, keep_completed=0)
    first = make(tmp_path, env, flavour)
    lose_answers(first, monkeypatch)
    with pytest.raises(SimulatedCrash):
        first.submit_to_batch_distributor("exit 4", "forgotten", {})
    deadline = time.monotonic() + 30
    while first.scheduler.find_jobs({"forgotten"}) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.scheduler.find_jobs({"forgotten"}) == [], "the fake still lists the job"

    again = make(tmp_path, env, flavour)
    assert again.find_by_name(["forgotten"]) == {"forgotten": {0: "1.fakepbs"}}
    info = wait_for_exit_info(again, "1.fakepbs", 30, 0.05)
    assert info.error_state is TaskInstanceStatus.ERROR
    assert "exit record" in info.error_message
