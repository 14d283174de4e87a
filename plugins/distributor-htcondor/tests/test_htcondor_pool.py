"""The distributor on the fake pool: polling cost, arrays, fallbacks, restarts, limits, held
jobs, hostile input (that hostile names and commands run literally is certified for every
plugin by the conformance kit)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from distributor import (
    RemoteExitInfoNotAvailable,
    ResourceError,
    SubmissionError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
)
from distributor.batch import (
    PollPolicy,
    RecordingTransport,
    RetryPolicy,
    SubmitRootError,
)
from distributor.testing import wait_for_exit_info, wait_until_running
from distributor.testing.hostile import HOSTILE_IDS, HOSTILE_VALUES
from distributor.worker import read_exit_record
from distributor_htcondor import HTCondorDistributor
from distributor_htcondor.client import HTCONDOR_TRANSIENT
from distributor_htcondor.testing import WithoutExecutable, wrapped_environment

FAKE = Path(__file__).with_name("htcondor_fake.py")
FAST = PollPolicy(
    min_interval=0.05,
    max_interval=0.25,
    max_calls_per_minute=100_000,
    accounting_interval=0.1,
    accounting_delay=1.0,
    lost_grace=2.0,
)
HOSTILE_RESOURCES = [
    *(
        {key: value}
        for key in ("htcondor.accounting_group", "htcondor.concurrency_limits")
        for value in HOSTILE_VALUES
    ),
    {"htcondor.accounting_group": "$(Cluster)"},
    {"htcondor.concurrency_limits": "x\n+Evil = 1"},
    {"htcondor.requirements": "true"},
    {"memory": "lots"},
]
"""Every shared hostile value for each key written into the submit description, and
HTCondor's own: a macro, a command after a newline, an unknown key."""
HTCONDOR_IDS = ["12.", "0.0"]
"""Ids in HTCondor's syntax that are no task's: no proc, cluster 0."""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The commands of a fresh fake pool; its jobs are removed afterwards, and no starter of
    the fake may have died of an error of its own (its job would hang for ever)."""
    env = wrapped_environment(FAKE, tmp_path, {"FAKE_CONDOR_STATE": str(tmp_path / "pool")})
    yield env
    subprocess.run(["condor_rm", "-all"], env=env, capture_output=True, check=False)
    log = tmp_path / "pool" / "starters.log"
    assert not log.exists() or not log.read_text(), log.read_text()


def configure(env: Mapping[str, str], **config: object) -> None:
    """Write the fake pool's configuration."""
    state = Path(env["FAKE_CONDOR_STATE"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "config.json").write_text(json.dumps(config))


def _fake_module() -> Any:
    """The fake pool's module, for tests of the fake itself."""
    spec = importlib.util.spec_from_file_location("htcondor_fake", FAKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_hold(env: Mapping[str, str], did: str, code: int, subcode: int, reason: str) -> None:
    """Hold a job of the fake pool as a daemon would."""
    argv = [sys.executable, str(FAKE), "fake-hold", did, str(code), str(subcode), reason]
    subprocess.run(argv, env=env, check=True)


def queue_ad(env: Mapping[str, str], did: str) -> dict[str, Any] | None:
    """The fake schedd's ad of a job still in its queue, or None."""
    path = Path(env["FAKE_CONDOR_STATE"]) / "queue" / f"{did}.json"
    return json.loads(path.read_text()) if path.exists() else None


def distributor_for(
    env: Mapping[str, str], root: Path, **options: object
) -> tuple[HTCondorDistributor, RecordingTransport]:
    """A started distributor on `root` whose commands are recorded."""
    transport = RecordingTransport()
    distributor = HTCondorDistributor(
        "fake",
        submit_root=root,
        environment=env,
        poll_policy=FAST,
        transport=transport,
        **options,  # type: ignore[arg-type]  # keyword options of the constructor
    )
    distributor.start()
    return distributor, transport


def test_one_condor_q_per_poll_cycle(env: dict[str, str], tmp_path: Path) -> None:
    """However many jobs are tracked, a cycle is one condor_q naming each cluster once."""
    distributor, transport = distributor_for(env, tmp_path / "root")
    singles = [distributor.submit_to_batch_distributor("true", f"s{i}", {}) for i in range(5)]
    steps = distributor.submit_array_to_batch_distributor("true", "arr", {}, 6)
    ids = singles + list(steps.values())
    while distributor.get_submitted_or_running(ids):
        time.sleep(0.05)
    for did in ids:
        assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "D"
    stats = distributor.tracker.stats
    assert distributor.client.runner.calls["condor_q"] == stats.status_commands == stats.cycles
    first = transport.of("condor_q")[0]
    assert first[:3] == ("condor_q", "-json", "-attributes")
    assert sorted(first[4:], key=int) == [str(c) for c in range(1, 7)]  # 5 singles + 1 array


def test_array_steps_map_to_process_across_chunks(env: dict[str, str], tmp_path: Path) -> None:
    """Step s runs as $(Process) s - offset of its chunk's cluster and sees s itself."""
    distributor, transport = distributor_for(env, tmp_path / "root", max_array_size=2)
    out = tmp_path / "steps"
    out.mkdir()
    command = f'echo "$DISTRIBUTOR_ID" > {out}/"$DISTRIBUTOR_ARRAY_STEP_ID"'
    steps = distributor.submit_array_to_batch_distributor(command, "chunks", {}, 5)
    assert steps == {0: "1.0", 1: "1.1", 2: "2.0", 3: "2.1", 4: "3.0"}
    for step, did in steps.items():
        assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "D"
        assert (out / str(step)).read_text().strip() == did
    descriptions = sorted(distributor.submit_root.path.glob("*/job.sub"))
    queues = sorted(d.read_text().splitlines()[-1] for d in descriptions)
    assert queues == ["queue 1", "queue 2", "queue 2"]
    assert len(transport.of("condor_submit")) == 3


def test_terminating_a_whole_array_names_its_cluster(env: dict[str, str], tmp_path: Path) -> None:
    """condor_rm gets the cluster id when every unfinished job of the cluster is named."""
    distributor, transport = distributor_for(env, tmp_path / "root")
    steps = distributor.submit_array_to_batch_distributor("sleep 300", "arr", {}, 3)
    distributor.terminate_task_instances(list(steps.values()))
    assert transport.of("condor_rm") == [("condor_rm", "1")]
    for did in steps.values():
        assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "K"


def test_without_history_the_worker_record_decides(env: dict[str, str], tmp_path: Path) -> None:
    """When condor_history has nothing, the worker's record gives E or D, never a guess."""
    configure(env, history=False)
    distributor, _ = distributor_for(env, tmp_path / "root")
    failed = distributor.submit_to_batch_distributor("exit 3", "fails", {})
    done = distributor.submit_to_batch_distributor("true", "works", {})
    info = wait_for_exit_info(distributor, failed, 20, 0.05)
    assert info.error_state == "E" and "worker's exit record" in info.error_message
    assert wait_for_exit_info(distributor, done, 20, 0.05).error_state == "D"
    assert distributor.client.runner.calls["condor_history"] >= 1


def test_a_job_without_any_trace_is_lost_not_done(env: dict[str, str], tmp_path: Path) -> None:
    """No history and no worker record: no answer during the grace time, then a final U."""
    configure(env, history=False)
    distributor, _ = distributor_for(env, tmp_path / "root")
    did = distributor.submit_to_batch_distributor("kill -9 $PPID; sleep 5", "lost", {})
    waiting: list[str] = []
    deadline = time.monotonic() + 20
    info = None
    while time.monotonic() < deadline:
        try:
            info = distributor.get_remote_exit_info(did)
        except RemoteExitInfoNotAvailable as exc:
            waiting.append(str(exc))
            time.sleep(0.05)
            continue
        break
    assert any("still looking" in reason for reason in waiting)
    assert info is not None and info.error_state == TaskInstanceStatus.UNKNOWN_ERROR
    assert info.finalized and "lost" in info.error_message


def test_a_new_distributor_adopts_issued_ids(env: dict[str, str], tmp_path: Path) -> None:
    """Ids issued on a submit root are answered by a later distributor on the same root."""
    first, _ = distributor_for(env, tmp_path / "root")
    did = first.submit_to_batch_distributor("exit 4", "before restart", {"memory": "1G"})
    steps = first.submit_array_to_batch_distributor("true", "arr", {}, 2)
    second, _ = distributor_for(env, tmp_path / "root")
    info = wait_for_exit_info(second, did, 20, 0.05)
    assert info.error_state == "E" and "status 4" in info.error_message
    assert wait_for_exit_info(second, steps[1], 20, 0.05).error_state == "D"
    for bogus in ("1.1", f"{steps[1].split('.')[0]}.2", "99.0"):
        with pytest.raises(UnknownDistributorIdError):
            second.get_remote_exit_info(bogus)


def test_decided_exit_info_is_kept_in_the_task_directory(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Exit info decided from the worker's record is written to outcomes.jsonl, and a new
    distributor answers from it without asking HTCondor again."""
    configure(env, history=False)
    first, _ = distributor_for(env, tmp_path / "root")
    did = first.submit_to_batch_distributor("exit 5", "kept", {})
    info = wait_for_exit_info(first, did, 20, 0.05)
    assert info.error_state == "E" and "status 5" in info.error_message
    (task_dir,) = first.submit_root.path.glob("kept-*")
    lines = [json.loads(line) for line in (task_dir / "outcomes.jsonl").read_text().splitlines()]
    assert [{k: line[k] for k in ("id", "state", "message")} for line in lines] == [
        {"id": did, "state": "E", "message": info.error_message}
    ]
    assert lines[0]["usage"]["exit_code"] == 5 and lines[0]["usage"]["host"]
    second, transport = distributor_for(env, tmp_path / "root")
    assert second.get_remote_exit_info(did) == info
    assert transport.argvs == []


def test_usage_of_a_finished_job_is_htcondors_accounting(
    env: dict[str, str], tmp_path: Path
) -> None:
    """task_usage of a completed job has condor_history's figures (whole seconds of
    LastRemoteWallClockTime, the start and completion dates, the host of LastRemoteHost)
    rather than the worker's own, and the command's exit code from the worker's record."""
    configure(env, host="exec-node-7")
    distributor, _ = distributor_for(env, tmp_path / "root")
    did = distributor.submit_to_batch_distributor("sleep 1.2; exit 3", "accounted", {})
    assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "E"
    (task_dir,) = distributor.submit_root.path.glob("accounted-*")
    record = read_exit_record(task_dir / "exit.json")
    usage = distributor.task_usage(did)
    assert record is not None and usage is not None
    assert usage.host == "exec-node-7" != record.hostname
    assert usage.elapsed is not None and usage.elapsed.is_integer() and usage.elapsed >= 1
    assert usage.elapsed != record.wall_seconds
    assert usage.started_at is not None and usage.ended_at is not None
    assert usage.started_at.is_integer() and usage.started_at <= record.started_at
    assert usage.ended_at - usage.started_at == usage.elapsed
    assert usage.exit_code == 3 and usage.cpu is not None


def test_a_runtime_limit_htcondor_ignores_is_enforced_by_the_worker(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The worker stops a job at its runtime limit (HTCondor 23.9.6 let jobs run past
    allowed_execute_duration) and the task ends Z, not D; the pool's allowed_job_duration, a
    minute later, never had to act."""
    distributor, _ = distributor_for(env, tmp_path / "root")
    began = time.monotonic()
    did = distributor.submit_to_batch_distributor("sleep 60; exit 0", "slow", {"runtime": 2})
    info = wait_for_exit_info(distributor, did, 30, 0.05)
    assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, info
    assert "runtime limit of 2s exceeded" in info.error_message
    assert "distributor-worker" in info.error_message
    assert time.monotonic() - began < 30
    history = Path(env["FAKE_CONDOR_STATE"]) / "history" / f"{did}.json"
    ad = json.loads(history.read_text())
    assert ad["JobStatus"] == 4 and ad["AllowedJobDuration"] == 62  # HTCondor did nothing


def test_held_jobs_stay_held_without_remove_held(env: dict[str, str], tmp_path: Path) -> None:
    """remove_held=False reports a job held for its memory limit Z but leaves it held."""
    distributor, transport = distributor_for(env, tmp_path / "root", remove_held=False)
    did = distributor.submit_to_batch_distributor("sleep 300", "kept held", {"memory": "64M"})
    wait_until_running(distributor, [did], 20, 0.05)
    fake_hold(env, did, 34, 102, "Error from slot1@fakehost: Job has gone over memory limit")
    info = wait_for_exit_info(distributor, did, 20, 0.05)
    assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, info
    assert "HoldReasonCode 34 [JobOutOfResources], subcode 102" in info.error_message
    distributor.stop()
    assert transport.of("condor_rm") == []
    ad = queue_ad(env, did)
    assert ad is not None and ad["JobStatus"] == 5


def test_queueing_errors_cost_no_more_than_one_command(env: dict[str, str], tmp_path: Path) -> None:
    """Held jobs that need someone's help are reported, each with its own reason, with at
    most one command beyond the polls."""
    distributor, _ = distributor_for(env, tmp_path / "root")
    ids = distributor.submit_array_to_batch_distributor("sleep 300", "stuck", {}, 3)
    held = [ids[0], ids[2]]
    wait_until_running(distributor, list(ids.values()), 20, 0.05)
    fake_hold(env, held[0], 13, 2, "Transfer input files failure")
    fake_hold(env, held[1], 7, 0, "Failed to open output file")
    errors: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while set(errors) != set(held) and time.monotonic() < deadline:
        before = distributor.client.runner.calls["condor_q"]
        polls = distributor.tracker.stats.status_commands
        errors = distributor.get_queueing_errors(list(ids.values()))
        beyond = distributor.client.runner.calls["condor_q"] - before
        assert beyond - (distributor.tracker.stats.status_commands - polls) <= 1
        time.sleep(0.05)
    assert "[TransferInputError], subcode 2" in errors[held[0]]
    assert "[UnableToOpenOutput]" in errors[held[1]]
    assert ids[1] not in errors


def test_transient_failures_are_retried(env: dict[str, str], tmp_path: Path) -> None:
    """An unreachable schedd is retried: condor_submit and condor_q succeed on a later try."""
    configure(env, failures={"condor_submit": 1, "condor_q": 2})
    retry = RetryPolicy(initial_delay=0.01, transient=HTCONDOR_TRANSIENT)
    distributor, transport = distributor_for(env, tmp_path / "root", retry_policy=retry)
    did = distributor.submit_to_batch_distributor("true", "retried", {})
    assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "D"
    assert len(transport.of("condor_submit")) == 2
    assert distributor.client.runner.calls["condor_q"] >= 3


def test_failure_counts_never_tear_the_fake_configuration(tmp_path: Path) -> None:
    """(The fake) counting down failures replaces config.json atomically: a starter reading
    it meanwhile never sees a torn file. A torn read once killed the starter of
    `test_transient_failures_are_retried` under load, leaving its job Running for ever."""
    fake = _fake_module()
    pool = fake.Pool(tmp_path / "pool")
    (pool.root / "config.json").write_text(json.dumps({"failures": {"condor_q": 2000}}))
    torn: list[str] = []
    reads = 0
    done = threading.Event()

    def read() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                reads += len(pool.config)
            except ValueError as exc:
                torn.append(str(exc))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert all(pool.fail("condor_q") for _ in range(2000))
    finally:
        done.set()
        reader.join()
    assert not pool.fail("condor_q") and not torn, torn[:3]
    assert reads > 0


def test_a_refused_submission_raises_with_stderr(env: dict[str, str], tmp_path: Path) -> None:
    """condor_submit's ERROR reaches SubmissionError and the task directory is removed."""
    configure(env, submit_error="ERROR: Submitting jobs is disabled for user alice")
    distributor, _ = distributor_for(env, tmp_path / "root")
    with pytest.raises(SubmissionError) as caught:
        distributor.submit_to_batch_distributor("true", "refused", {})
    assert "disabled for user alice" in caught.value.stderr
    assert caught.value.argv[0] == "condor_submit"
    task_dirs = [p for p in distributor.submit_root.path.iterdir() if p.is_dir()]
    assert {p.name for p in task_dirs} <= {"index", "names"}
    assert distributor.submit_root.submissions("refused") == []


def test_hostile_queue_name_is_written_sanitised(env: dict[str, str], tmp_path: Path) -> None:
    """A queue name is only a label for HTCondor: it is written as a sanitised ClassAd string."""
    distributor, _ = distributor_for(env, tmp_path / "root")
    did = distributor.submit_to_batch_distributor("true", "x", {"queue": "short\nqueue 5"})
    assert wait_for_exit_info(distributor, did, 20, 0.05).error_state == "D"
    description = next(distributor.submit_root.path.glob("*/job.sub")).read_text()
    assert '+DistributorQueue = "short_queue_5"' in description
    assert description.count("\nqueue ") == 1


@pytest.fixture
def offline(tmp_path: Path) -> tuple[HTCondorDistributor, RecordingTransport]:
    """A started distributor whose commands are recorded and never run, for tests in which
    nothing may reach HTCondor."""
    transport = RecordingTransport(fallback=None)
    distributor = HTCondorDistributor(
        "fake", submit_root=tmp_path / "root", transport=transport, poll_policy=FAST
    )
    distributor.start()
    return distributor, transport


@pytest.mark.parametrize("resources", HOSTILE_RESOURCES)
def test_hostile_resources_are_rejected_before_condor_submit(
    offline: tuple[HTCondorDistributor, RecordingTransport], resources: dict[str, str]
) -> None:
    """Malformed or unknown resource values raise ResourceError naming the key, before any
    HTCondor command runs."""
    distributor, transport = offline
    with pytest.raises(ResourceError) as caught:
        distributor.submit_to_batch_distributor("true", "x", resources)
    assert caught.value.key in resources
    assert transport.argvs == []


@pytest.mark.parametrize("bogus", [*HOSTILE_IDS, *HTCONDOR_IDS])
def test_hostile_ids_are_unknown_and_never_reach_htcondor(
    offline: tuple[HTCondorDistributor, RecordingTransport], bogus: str
) -> None:
    """Ids that are not cluster.proc of a task are unknown, not running, and never removed."""
    distributor, transport = offline
    with pytest.raises(UnknownDistributorIdError):
        distributor.get_remote_exit_info(bogus)
    assert distributor.get_submitted_or_running([bogus]) == set()
    distributor.terminate_task_instances([bogus])
    assert transport.argvs == []


def test_unsafe_submit_root_is_refused(tmp_path: Path) -> None:
    """A submit root that cannot be written into a submit description is refused."""
    with pytest.raises(SubmitRootError, match="' '"):
        HTCondorDistributor("fake", submit_root=tmp_path / "with space")


def test_a_missing_executable_is_a_queueing_error(env: dict[str, str], tmp_path: Path) -> None:
    """As on a real pool, a description whose executable is gone is accepted (it is not
    transferred) and the job is held 6/2 when the starter cannot run it: a queueing error
    naming the code and HTCondor's reason."""
    transport = WithoutExecutable(RecordingTransport())
    distributor = HTCondorDistributor("fake", submit_root=tmp_path / "root", environment=env,
                                      poll_policy=FAST, transport=transport)  # fmt: skip
    distributor.start()
    did = distributor.submit_to_batch_distributor("true", "gone", {})
    errors: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while did not in errors:
        assert time.monotonic() < deadline, "no queueing error"
        errors = distributor.get_queueing_errors([did])
        time.sleep(0.05)
    assert "HoldReasonCode 6 [FailedToCreateProcess], subcode 2" in errors[did]
    assert "Failed to execute" in errors[did] and "No such file or directory" in errors[did]


@pytest.mark.parametrize("outage", ["stopped", "crashed"])
def test_a_removal_meeting_an_unreachable_schedd_is_retried(
    env: dict[str, str], tmp_path: Path, outage: str
) -> None:
    """condor_rm against a stopped schedd ("Can't find address for schedd") or one that just
    crashed (SECMAN:2007) is retried until the removal goes through."""
    distributor, transport = distributor_for(
        env, tmp_path / "root", retry_policy=RetryPolicy(initial_delay=0.01)
    )
    did = distributor.submit_to_batch_distributor("sleep 300", "removed", {})
    wait_until_running(distributor, [did], 20, 0.05)
    configure(env, outage=outage, failures={"condor_rm": 2})
    distributor.terminate_task_instances([did])
    assert len(transport.of("condor_rm")) == 3
    info = wait_for_exit_info(distributor, did, 20, 0.05)
    assert info.error_state == TaskInstanceStatus.KILLED_SELF, info


def test_a_removed_running_job_keeps_how_it_exited(env: dict[str, str], tmp_path: Path) -> None:
    """A job removed while it ran keeps the exit HTCondor recorded (the command trapped
    condor_rm's SIGTERM and exited 0): K, never D, with ExitCode 0 in its status and words."""
    distributor, _ = distributor_for(env, tmp_path / "root")
    did = distributor.submit_to_batch_distributor("trap 'exit 0' TERM; sleep 300 & wait", "t", {})
    wait_until_running(distributor, [did], 20, 0.05)
    task_dir = next(distributor.submit_root.path.glob("t-*"))
    deadline = time.monotonic() + 20
    while not (task_dir / "started.json").exists():
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.05)
    subprocess.run(["condor_rm", did], env=env, check=True, capture_output=True)
    info = wait_for_exit_info(distributor, did, 20, 0.05)
    assert info.error_state == TaskInstanceStatus.KILLED_SELF, info
    assert "JobStatus 3 (Removed), ExitCode 0" in info.error_message
    job = distributor.tracker.get(did)
    assert job is not None and job.status is not None and job.status.exit_code == 0


def test_a_job_its_worker_cannot_stop_is_held_by_the_pool(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A worker that cannot enforce the runtime limit (stopped here) leaves it to the pool:
    allowed_job_duration, duration_backstop past the request, holds the job (46): Z."""
    distributor, _ = distributor_for(env, tmp_path / "root", duration_backstop=1)
    command = "kill -STOP $PPID; sleep 60"
    did = distributor.submit_to_batch_distributor(command, "stuck", {"runtime": 1})
    info = wait_for_exit_info(distributor, did, 30, 0.05)
    assert info.error_state == TaskInstanceStatus.RESOURCE_ERROR, info
    assert "The job exceeded allowed job duration of 00:02" in info.error_message
    assert "HoldReasonCode 46 [JobDurationExceeded]" in info.error_message
