"""The local backend: limits, exit info, arrays, termination and recovery after controller death."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import (
    RemoteExitInfo,
    ResourceError,
    SubmissionError,
    TaskInstanceStatus,
    UnknownDistributorIdError,
    load_plugin,
)
from distributor.local import LocalDistributor, LocalQueue, LocalWorkerNode, plugin
from distributor.local.cpus import available_cpus
from distributor.local.reaper import direct_argv
from distributor.testing import ConformanceTarget, wait_for_exit_info, wait_until_gone
from distributor.testing.conformance import PluginConformance
from distributor.worker.proc import process_start_time

D, E, K, U, Z = (
    TaskInstanceStatus.DONE,
    TaskInstanceStatus.ERROR,
    TaskInstanceStatus.KILLED_SELF,
    TaskInstanceStatus.UNKNOWN_ERROR,
    TaskInstanceStatus.RESOURCE_ERROR,
)


class TestLocalConformance(PluginConformance):
    """The local plugin passes the conformance kit."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: LocalDistributor(
                "local", state_dir=tmp_path / "state", kill_grace=1.0
            ),
            make_queue=lambda: LocalQueue(1, "local", {"max_runtime": "1h"}),
            timeout=30,
            poll_interval=0.05,
        )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalDistributor]:
    """A started local distributor on a fresh state directory."""
    distributor = LocalDistributor("local", state_dir=tmp_path / "state", kill_grace=1.0)
    distributor.start()
    yield distributor
    distributor.stop()


def final(distributor: LocalDistributor, distributor_id: str) -> RemoteExitInfo:
    """Wait up to 30 s for the task's final exit info."""
    return wait_for_exit_info(distributor, distributor_id, 30, 0.05)


def test_entry_point_loads_the_builtin_plugin() -> None:
    """`local` is registered through the same entry-point group as every plugin."""
    assert load_plugin("local") is plugin


def test_kill_9_names_the_signal(local: LocalDistributor) -> None:
    """A task killing itself with SIGKILL is E naming the signal."""
    info = final(local, local.submit_to_batch_distributor("kill -9 $$", "k9", {}))
    assert info == RemoteExitInfo(E, "killed by signal SIGKILL (9)")


def test_runtime_limit_is_z_naming_limit_and_overrun(local: LocalDistributor) -> None:
    """A task past its runtime is stopped and reported Z with the limit and how far it ran."""
    info = final(local, local.submit_to_batch_distributor("sleep 30", "slow", {"runtime": 1}))
    assert info.error_state == Z
    assert "runtime limit of 1s exceeded" in info.error_message


def test_runtime_limit_escalates_to_sigkill(local: LocalDistributor) -> None:
    """A task ignoring SIGTERM is killed after the grace period."""
    command = "trap '' TERM; sleep 30"
    began = time.monotonic()
    info = final(local, local.submit_to_batch_distributor(command, "stubborn", {"runtime": 1}))
    assert info.error_state == Z
    assert "SIGKILL" in info.error_message
    assert time.monotonic() - began < 10


def test_memory_limit_counts_the_process_tree(local: LocalDistributor, tmp_path: Path) -> None:
    """A grandchild allocating past the limit gets the task killed and reported Z."""
    hog = tmp_path / "hog.py"
    hog.write_text("import time\nx = bytearray(300 * 2**20)\ntime.sleep(30)\n")
    command = f"{sys.executable} {hog}; echo survived"
    info = final(local, local.submit_to_batch_distributor(command, "hog", {"memory": "100M"}))
    assert info.error_state == Z
    assert "memory limit of 100MiB exceeded" in info.error_message


def test_memory_limit_sees_children_of_every_thread(
    local: LocalDistributor, tmp_path: Path
) -> None:
    """A child started from a non-main thread (as Snakemake runs each rule's shell from a
    thread pool) counts against the limit: the task is killed and reported Z."""
    hog = tmp_path / "hog.py"
    hog.write_text("import time\nx = bytearray(300 * 2**20)\ntime.sleep(30)\n")
    launcher = tmp_path / "launcher.py"
    launcher.write_text(
        textwrap.dedent(
            f"""
            import subprocess, sys, threading
            def run():
                subprocess.run([sys.executable, {str(hog)!r}])
            thread = threading.Thread(target=run)
            thread.start()
            thread.join()
            print("survived")
            """
        )
    )
    command = f"{sys.executable} {launcher}"
    info = final(local, local.submit_to_batch_distributor(command, "hog", {"memory": "100M"}))
    assert info.error_state == Z, info
    assert "memory limit of 100MiB exceeded" in info.error_message


def test_usage_comes_from_the_kernel(local: LocalDistributor, tmp_path: Path) -> None:
    """Peak RSS and CPU of a finished task are recorded."""
    code = "x = bytearray(80 * 2**20); sum(range(3_000_000))"
    did = local.submit_to_batch_distributor(f"{sys.executable} -c '{code}'", "use", {})
    assert final(local, did).error_state == D
    usage = local.get_usage(did)
    assert usage["maxrss"] >= 80 * 2**20
    assert usage["cpu"] > 0.0


def test_array_steps_see_their_index_and_id(local: LocalDistributor) -> None:
    """Each array step sees its 0-based index and its own distributor id."""
    command = 'echo "$DISTRIBUTOR_ARRAY_STEP_ID $DISTRIBUTOR_ID"'
    steps = local.submit_array_to_batch_distributor(command, "arr", {}, 4)
    for step, did in steps.items():
        assert final(local, did).error_state == D
        out, err = local.log_paths(did)
        assert out.read_text().split() == [str(step), did] and err is None


def test_parallelism_caps_concurrency(tmp_path: Path) -> None:
    """No more than `parallelism` cores' worth of tasks run at once."""
    distributor = LocalDistributor("local", state_dir=tmp_path / "s", parallelism=2)
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    stamp = f"date +%s.%N > {stamps}/$DISTRIBUTOR_ID"
    command = f"{stamp}.a; sleep 0.4; {stamp}.b"
    ids = list(distributor.submit_array_to_batch_distributor(command, "p", {}, 6).values())
    ids.append(distributor.submit_to_batch_distributor(command, "wide", {"cores": 2}))
    for did in ids:
        assert final(distributor, did).error_state == D
    spans = [
        (float((stamps / f"{i}.a").read_text()), float((stamps / f"{i}.b").read_text()))
        for i in ids
    ]
    weight = {i: (2 if n == len(ids) - 1 else 1) for n, i in enumerate(ids)}
    for start, _ in spans:
        overlapping = sum(weight[i] for i, (a, b) in zip(ids, spans, strict=True) if a <= start < b)
        assert overlapping <= 2
    distributor.stop()


def test_terminating_a_queued_task_never_runs_it(tmp_path: Path) -> None:
    """A task terminated while queued is K and never starts."""
    distributor = LocalDistributor("local", state_dir=tmp_path / "s", parallelism=1)
    marker = tmp_path / "ran"
    blocker = distributor.submit_to_batch_distributor("sleep 30", "blocker", {})
    queued = distributor.submit_to_batch_distributor(f"touch {marker}", "queued", {})
    distributor.terminate_task_instances([queued, blocker])
    assert final(distributor, queued) == RemoteExitInfo(K, "terminated on request (never started)")
    assert final(distributor, blocker).error_state == K
    assert not marker.exists()
    distributor.stop()


def test_terminating_queued_steps_in_any_order_runs_none_of_them(tmp_path: Path) -> None:
    """Steps terminated while queued, last first, are all K; none starts, and the steps
    left alone still run."""
    distributor = LocalDistributor("local", state_dir=tmp_path / "s", parallelism=1)
    markers = tmp_path / "markers"
    markers.mkdir()
    blocker = distributor.submit_to_batch_distributor("sleep 30", "blocker", {})
    steps = distributor.submit_array_to_batch_distributor(
        f"touch {markers}/$DISTRIBUTOR_ARRAY_STEP_ID", "steps", {}, 200
    )
    doomed = [steps[i] for i in range(199, 0, -1)]  # every step but 0, last first
    distributor.terminate_task_instances([*doomed, blocker])
    wait_until_gone(distributor, [*steps.values(), blocker], 30, 0.05)
    assert {distributor.get_remote_exit_info(i).error_state for i in doomed} == {K}
    assert distributor.get_remote_exit_info(steps[0]).error_state == D
    assert [p.name for p in markers.iterdir()] == ["0"]
    distributor.stop()


def test_bad_input_is_rejected_precisely(local: LocalDistributor) -> None:
    """Empty commands, bad resources and bad array lengths raise errors naming the value."""
    with pytest.raises(SubmissionError, match="empty command"):
        local.submit_to_batch_distributor("  ", "blank", {})
    with pytest.raises(ResourceError, match="memory"):
        local.submit_to_batch_distributor("true", "x", {"memory": "-2G"})
    with pytest.raises(ResourceError, match="array_length"):
        local.submit_array_to_batch_distributor("true", "x", {}, 0)
    with pytest.raises(UnknownDistributorIdError, match="nope"):
        local.get_remote_exit_info("nope")


def test_hostile_names_are_only_labels(local: LocalDistributor, tmp_path: Path) -> None:
    """A name full of shell syntax is never executed."""
    name = f"$(touch {tmp_path}/pwned); `touch {tmp_path}/pwned2`\n'\""
    assert final(local, local.submit_to_batch_distributor("true", name, {})).error_state == D
    assert not list(tmp_path.glob("pwned*"))


CONTROLLER = textwrap.dedent(
    """
    import json, sys
    import structlog
    from distributor.local import LocalDistributor
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    state, markers, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    distributor = LocalDistributor("local", state_dir=state, parallelism=2)
    ids = []
    for n in range(count):
        command = f"sleep 0.2; echo ran >> {markers}/m{n}"
        ids.append(distributor.submit_to_batch_distributor(command, f"t{n}", {}))
    print(json.dumps(ids), flush=True)
    import time
    time.sleep(3600)
    """
)


@pytest.mark.slow
def test_controller_sigkill_loses_nothing_and_reruns_nothing(tmp_path: Path) -> None:
    """A controller killed mid-run: a new one reports every task, none runs twice."""
    state, markers = tmp_path / "state", tmp_path / "markers"
    markers.mkdir()
    count = 20
    controller = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, str(state), str(markers), str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert controller.stdout is not None
    ids = json.loads(controller.stdout.readline())
    time.sleep(0.7)  # a few tasks done, two running, the rest queued
    controller.send_signal(signal.SIGKILL)
    controller.wait()
    controller.stdout.close()
    successor = LocalDistributor("local", state_dir=state, parallelism=2)
    successor.start()
    active = successor.get_submitted_or_running(ids)
    assert active, "the dead controller's unfinished tasks are reported"
    assert active < set(ids)
    wait_until_gone(successor, ids, 60, 0.1)
    assert {successor.get_remote_exit_info(i).error_state for i in ids} == {D}
    assert sorted(p.read_text() for p in markers.iterdir()) == ["ran\n"] * count
    successor.stop()


def test_a_running_task_is_announced_with_its_kernel_start_time(
    local: LocalDistributor,
) -> None:
    """`started` carries pid and start ticks read from /proc; a quick task may skip it."""
    quick = local.submit_to_batch_distributor("true", "quick", {})
    assert final(local, quick).error_state == D
    slow = local.submit_to_batch_distributor("sleep 30", "slow", {})
    deadline = time.monotonic() + 10
    while slow not in local.get_running([slow]):
        assert time.monotonic() < deadline, "the running task was never announced"
        time.sleep(0.01)
    events = [
        json.loads(line)
        for path in (local.state_dir / "reapers").glob("*/events.jsonl")
        for line in path.read_text().splitlines()
    ]
    started = [e for e in events if e["ev"] == "started" and e["id"] == slow]
    assert len(started) == 1
    stat = Path(f"/proc/{started[0]['pid']}/stat").read_text()
    assert started[0]["ticks"] == int(stat.rsplit(")", 1)[1].split()[19])
    assert [e["ev"] for e in events if e["id"] == quick][-1] == "exited"
    local.terminate_task_instances([slow])
    assert final(local, slow).error_state == K


def test_pid_reuse_does_not_fool_recovery(tmp_path: Path) -> None:
    """A recorded pid now used by another process is not taken for the task."""
    reaper = tmp_path / "state" / "reapers" / "deadbeef"
    reaper.mkdir(parents=True)
    (reaper / "reaper.jsonl").write_text(json.dumps({"pid": os.getpid(), "ticks": 1}) + "\n")
    (reaper / "commands.jsonl").write_text(json.dumps({"op": "submit", "id": "deadbeef.1"}) + "\n")
    started = {"ev": "started", "id": "deadbeef.1", "pid": os.getpid(), "ticks": 1}
    (reaper / "events.jsonl").write_text(json.dumps(started) + "\n")
    successor = LocalDistributor("local", state_dir=tmp_path / "state")
    successor.start()
    assert successor.get_submitted_or_running(["deadbeef.1"]) == set()
    info = successor.get_remote_exit_info("deadbeef.1")
    assert info.error_state == U
    assert "exit status was never recorded" in info.error_message
    successor.stop()


def test_queue_limits_are_this_machine() -> None:
    """The local queue's limits are the available CPUs, the memory and a configured runtime."""
    queue = LocalQueue(3, "local", {"max_runtime": "2h"})
    assert queue.limits.max_cores == available_cpus()
    ok, message = queue.validate_resources(strict=True, memory="100T")
    assert not ok
    assert "memory='100TiB' exceeds queue 'local'" in message
    assert queue.coerce_resources(runtime="3h") == {"runtime": 7200, "cores": 1}


def test_worker_node_reads_its_ids(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The local worker node takes its ids from the environment and sanitises log names."""
    monkeypatch.setenv("DISTRIBUTOR_ID", "ab.7")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "3")
    node = LocalWorkerNode()
    assert (node.distributor_id, node.array_step_id) == ("ab.7", 3)
    assert node.get_exit_info(0, "") == ("D", "")
    assert node.get_exit_info(137, "boom")[0] == "E"
    path = node.initialize_logfile("stdout", str(tmp_path / "logs"), "a/../b c")
    assert Path(path).parent == (tmp_path / "logs").resolve()
    assert set(node.get_usage_stats()) == {"maxrss", "cpu", "usage_str"}


@given(st.text(max_size=40))
def test_direct_exec_only_for_plain_commands(command: str) -> None:
    """Commands are exec'd without a shell only when sh would run exactly the same argv."""
    argv = direct_argv(command, os.defpath)
    if argv is not None:
        assert not set(command) & set("$`'\"\\;&|<>(){}*?[]~#!\n")
        assert argv[1:] == command.split()[1:]
        assert os.path.isabs(argv[0])


def test_expired_history_is_pruned(tmp_path: Path) -> None:
    """Records and logs of reapers finished longer ago than the retention are deleted."""
    state = tmp_path / "state"
    first = LocalDistributor("local", state_dir=state)
    did = first.submit_to_batch_distributor("echo old", "old", {})
    assert final(first, did).error_state == D
    first.stop()
    log, _ = first.log_paths(did)
    deadline = time.monotonic() + 10
    while len(list((state / "reapers").iterdir())) and time.monotonic() < deadline:
        successor = LocalDistributor("local", state_dir=state, retention=0)
        successor.start()
        successor.stop()
        if not log.exists():
            break
        time.sleep(0.2)
    assert not log.exists()
    fresh = LocalDistributor("local", state_dir=state)
    fresh.start()
    with pytest.raises(UnknownDistributorIdError):
        fresh.get_remote_exit_info(did)
    fresh.stop()


def test_find_by_name_sees_every_controllers_submissions(tmp_path: Path) -> None:
    """Submissions are found by name, array steps included, by a later controller too."""
    state = tmp_path / "state"
    first = LocalDistributor("local", state_dir=state)
    single = first.submit_to_batch_distributor("true", "dsv_one", {})
    steps = first.submit_array_to_batch_distributor("true", "dsv_arr", {}, 3)
    assert first.find_by_name(["dsv_one", "dsv_arr", "dsv_never"]) == {
        "dsv_one": {0: single},
        "dsv_arr": steps,
    }
    first.stop()
    second = LocalDistributor("local", state_dir=state)
    second.start()
    assert second.find_by_name(["dsv_arr"]) == {"dsv_arr": steps}
    second.stop()


def test_a_task_whose_reaper_died_runs_on_until_it_ends(tmp_path: Path) -> None:
    """The reaper SIGKILLed under a running task: the orphan is still listed as running (so
    nothing retries it beside itself); terminated, its process is killed and it is K; one
    that ends by itself is a final lost U (`SupportsLostTracking` with a grace of 0)."""
    local = LocalDistributor("local", state_dir=tmp_path / "state", kill_grace=1.0)
    local.start()
    try:
        assert local.lost_grace == 0.0
        orphan = local.submit_to_batch_distributor("sleep 300", "orphan", {})
        ending = local.submit_to_batch_distributor("sleep 300", "ending", {})
        deadline = time.monotonic() + 20
        while local.get_running([orphan, ending]) != {orphan, ending}:
            assert time.monotonic() < deadline, "the tasks never started"
            time.sleep(0.01)
        (reaper_dir,) = (local.state_dir / "reapers").iterdir()
        reaper_pid = json.loads((reaper_dir / "reaper.jsonl").read_text().splitlines()[0])["pid"]
        lines = (reaper_dir / "events.jsonl").read_text().splitlines()
        pids = {e["id"]: e["pid"] for e in map(json.loads, lines) if e["ev"] == "started"}
        os.kill(reaper_pid, signal.SIGKILL)
        while process_start_time(reaper_pid) is not None:
            assert time.monotonic() < deadline, "the reaper did not die"
            time.sleep(0.01)
        assert local.get_running([orphan, ending]) == {orphan, ending}
        local.terminate_task_instances([orphan])
        assert final(local, orphan).error_state == K
        os.kill(pids[ending], signal.SIGKILL)  # the task ends with nobody to record how
        info = final(local, ending)
        assert info.error_state == U and "reaper process died" in info.error_message
        assert process_start_time(pids[orphan]) is None
    finally:
        local.stop()


def test_outcome_exit_code_times_memory_host_and_log(
    local: LocalDistributor, tmp_path: Path
) -> None:
    """task_usage and log_paths (`SupportsTaskOutcome`): the numeric exit code, start, end,
    elapsed, peak memory of the tree, CPU and host; the log holds the output."""
    did = local.submit_to_batch_distributor("echo hello; exit 3", "out", {})
    assert final(local, did).error_state == E
    usage = local.task_usage(did)
    assert usage is not None and usage.exit_code == 3 and usage.signal is None
    assert usage.started_at is not None and usage.ended_at is not None
    assert usage.elapsed is not None and 0 <= usage.elapsed < 10
    assert abs(usage.ended_at - usage.started_at - usage.elapsed) < 0.01
    assert usage.host == socket.gethostname() and usage.cpu is not None
    stdout, stderr = local.log_paths(did)
    assert stdout.read_text() == "hello\n" and stderr is None
    hog = f"{sys.executable} -c 'x = bytearray(80 * 2**20)'"
    big = local.submit_to_batch_distributor(hog, "big", {"memory": "1G"})
    assert final(local, big).error_state == D
    peak = local.task_usage(big)
    assert peak is not None and peak.max_rss is not None and peak.max_rss > 80 * 2**20
    killed = local.submit_to_batch_distributor("kill -9 $$", "killed", {})
    final(local, killed)
    signalled = local.task_usage(killed)
    assert signalled is not None and signalled.signal == "SIGKILL"
    assert signalled.exit_code is None
    with pytest.raises(UnknownDistributorIdError):
        local.task_usage("nope.1")


def test_a_tiny_task_does_not_report_the_reapers_memory(local: LocalDistributor) -> None:
    """wait4's peak of a child spawned on the reaper's memory is the reaper's: a task that
    ended before it could be sampled reports no peak rather than the reaper's."""
    for _ in range(3):  # the reaper grows a little with each task it tracks
        did = local.submit_to_batch_distributor("exit 0", "tiny", {})
        assert final(local, did).error_state == D
        usage = local.task_usage(did)
        assert usage is not None and (usage.max_rss is None or usage.max_rss < 8 * 2**20), usage


def test_wait_for_change_is_woken_by_the_tasks_end(local: LocalDistributor) -> None:
    """`wait_for_change` returns once per batch of news (a start, an end), long before its
    timeout; with nothing new it returns False when the timeout passes."""
    did = local.submit_to_batch_distributor("sleep 0.3", "short", {})
    wakes = 0
    while local.get_submitted_or_running([did]):
        assert local.wait_for_change(60), "woken by the timeout, not by the reaper"
        wakes += 1
    assert wakes <= 2  # `started` and `exited`, each read once: no spinning on stale rings
    assert local.get_remote_exit_info(did).error_state == D
    assert local.wait_for_change(0.05) is False


def test_wait_for_change_after_the_reaper_died(local: LocalDistributor) -> None:
    """With its reaper SIGKILLed, the controller still learns by looking when the orphaned
    task ends, and reports it lost."""
    did = local.submit_to_batch_distributor("sleep 300", "orphan", {})
    while did not in local.get_running([did]):
        assert local.wait_for_change(60)
    (reaper_dir,) = (local.state_dir / "reapers").iterdir()
    records = [json.loads(line) for line in (reaper_dir / "events.jsonl").read_text().split()]
    (task_pid,) = [e["pid"] for e in records if e["ev"] == "started"]
    reaper_pid = json.loads((reaper_dir / "reaper.jsonl").read_text())["pid"]
    os.kill(reaper_pid, signal.SIGKILL)
    assert local.wait_for_change(0.2) is False  # the orphan still runs: nothing to tell
    os.kill(task_pid, signal.SIGKILL)
    while local.get_submitted_or_running([did]):
        assert local.wait_for_change(60), "the orphan's end went unnoticed"
    assert local.get_remote_exit_info(did).error_state == U


def test_another_controller_follows_and_ends_a_living_reapers_task(tmp_path: Path) -> None:
    """A second controller on the same state directory terminates a task of the first one's
    reaper (which it wakes) and learns of the end, though that reaper cannot ring it."""
    first = LocalDistributor("local", state_dir=tmp_path / "s", kill_grace=1.0)
    second = LocalDistributor("local", state_dir=tmp_path / "s", kill_grace=1.0)
    did = first.submit_to_batch_distributor("sleep 300", "long", {})
    try:
        while did not in first.get_running([did]):
            assert first.wait_for_change(60)
        second.start()
        assert second.get_running([did]) == {did}
        second.terminate_task_instances([did])
        while second.get_submitted_or_running([did]):
            assert second.wait_for_change(60), "the end went unnoticed"
        assert second.get_remote_exit_info(did).error_state == K
    finally:
        first.stop()
        second.stop()


def test_tasks_inherit_none_of_the_reapers_pipes(local: LocalDistributor) -> None:
    """A task's only pipes are those its controller let be inherited: the reaper's wake-up,
    doorbell and signal pipes stay closed in it."""
    did = local.submit_to_batch_distributor("ls -l /proc/$$/fd", "fds", {})
    assert final(local, did).error_state == D
    inherited = {
        os.readlink(f"/proc/self/fd/{fd}")
        for fd in map(int, os.listdir("/proc/self/fd"))
        if _inheritable(fd)
    }
    listing = local.log_paths(did)[0].read_text()
    pipes = {word for word in listing.split() if word.startswith("pipe:")}
    assert pipes <= inherited, listing


def _inheritable(fd: int) -> bool:
    try:
        return os.get_inheritable(fd)
    except OSError:  # the descriptor listdir itself used, closed by now
        return False


def test_the_reaper_starts_without_the_controllers_machinery() -> None:
    """``python -m distributor.local.reaper`` (which `start` waits for) imports neither the
    controller nor the batch machinery; the package's names still load on first use."""
    code = (
        "import sys, json, distributor.local.reaper\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('distributor'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not {m for m in loaded if m.startswith(("distributor.batch", "distributor.service"))}
    assert "distributor.local.distributor" not in loaded
    assert plugin.distributor is LocalDistributor
    assert {"LocalDistributor", "plugin"} <= set(dir(importlib.import_module("distributor.local")))
