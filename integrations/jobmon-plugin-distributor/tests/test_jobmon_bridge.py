"""The bridge's parts, against the real local plugin (and Jobmon's own loader where installed):
what Jobmon hands it and what it hands back."""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jobmon.plugins.distributor import (
    get_cluster_distributor_class,
    get_cluster_queue_class,
    get_cluster_worker_node_class,
)
from jobmon.plugins.distributor.bridge_distributor import (
    WORKER_ENTRY_POINT_ENV,
    DistributorBridge,
    jobmon_worker_argv,
)
from jobmon.plugins.distributor.bridge_queue import BridgeQueue
from jobmon.plugins.distributor.bridge_worker_node import BridgeWorkerNode
from jobmon.plugins.distributor.jobmon_exit_info import JOBMON_TRIAGE_STATES, exit_info_for_jobmon
from jobmon.plugins.distributor.jobmon_resources import (
    GIB,
    check_memory,
    memory_in_gib,
    split_log_dirs,
)

from distributor import (
    RemoteExitInfo,
    RemoteExitInfoNotAvailable,
    ResourceError,
    TaskInstanceStatus,
)
from distributor.exceptions import ConfigFileError, PluginNotFoundError

JOBMON = importlib.util.find_spec("jobmon.core") is not None
needs_jobmon = pytest.mark.skipif(
    not JOBMON, reason="jobmon-core is not installed (scripts/test.sh installs it with its wheels)"
)


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Jobmon worker command named the way Jobmon's client names one (quoted once)."""
    monkeypatch.setenv(WORKER_ENTRY_POINT_ENV, '"singularity run --app jobmon_command /img.sif"')


def local_bridge(tmp_path: Path, **extra: Any) -> DistributorBridge:
    return DistributorBridge(
        "jm-local", plugin="local", state_dir=str(tmp_path / "state"), kill_grace=0.5, **extra
    )


# -- the module Jobmon imports ----------------------------------------------------------------


def test_the_module_gives_jobmon_its_three_classes() -> None:
    """``jobmon.plugins.distributor`` has the three functions Jobmon's ``ClusterType`` needs."""
    assert get_cluster_queue_class() is BridgeQueue
    assert get_cluster_distributor_class() is DistributorBridge
    assert get_cluster_worker_node_class() is BridgeWorkerNode


def test_no_namespace_init_files() -> None:
    """``jobmon`` and ``jobmon.plugins`` stay PEP 420 namespace packages (no ``__init__.py``)."""
    root = Path(__file__).parent.parent / "jobmon"
    assert not (root / "__init__.py").exists()
    assert not (root / "plugins" / "__init__.py").exists()
    assert (root / "plugins" / "distributor" / "__init__.py").is_file()
    assert (root / "plugins" / "distributor" / "py.typed").is_file()


_BROKEN_CORE = """
import sys
sys.modules["distributor"] = None  # distributor-core missing or broken: importing it fails
import jobmon.plugins.distributor as bridge
try:
    bridge.get_cluster_distributor_class()
except ImportError as exc:
    print("bridge:", exc)
"""


def test_a_broken_core_does_not_break_importing_the_module() -> None:
    """Importing the module needs nothing but the standard library; asking it for a class
    says what is missing."""
    done = subprocess.run([sys.executable, "-c", _BROKEN_CORE], capture_output=True, text=True,
                          check=False, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "cannot load DistributorBridge" in done.stdout, done.stdout
    assert "pip install jobmon-plugin-distributor" in done.stdout


@needs_jobmon
def test_jobmon_other_cluster_types_survive_a_broken_core() -> None:
    """Jobmon imports every ``jobmon.plugins`` module for any cluster type: with the core
    unimportable, ``multiprocess`` still loads and ``distributor`` fails alone, saying why."""
    code = _BROKEN_CORE + (
        "from jobmon.core.cluster_type import ClusterType\n"
        "print(ClusterType('multiprocess').cluster_distributor_class.__name__)\n"
        "try:\n"
        "    ClusterType('distributor').cluster_distributor_class\n"
        "except ImportError as exc:\n"
        "    print('jobmon:', exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "MultiprocessDistributor" in done.stdout, done.stdout
    assert "jobmon: Jobmon cluster type 'distributor' cannot load" in done.stdout, done.stdout


# -- resources --------------------------------------------------------------------------------


@given(
    st.dictionaries(st.sampled_from(["cores", "runtime", "queue"]), st.integers(1, 99)),
    st.sampled_from([None, "", "/logs/out"]),
    st.sampled_from([None, "", "/logs/err"]),
)
def test_log_directories_come_out_and_only_they(
    request: dict[str, Any], stdout: str | None, stderr: str | None
) -> None:
    """``stdout``/``stderr`` leave the request; a None or empty directory is no directory."""
    rest, dirs = split_log_dirs({**request, "stdout": stdout, "stderr": stderr})
    assert rest == request
    assert dirs == {k: v for k, v in (("stdout", stdout), ("stderr", stderr)) if v}


def test_a_log_directory_that_is_not_a_path_is_named() -> None:
    """A non-string log directory is a `ResourceError` naming the key."""
    with pytest.raises(ResourceError, match="stdout"):
        split_log_dirs({"stdout": 3})


@given(st.integers(1, 2**50), st.integers(1, 2**50))
def test_memory_is_whole_gib_at_least_the_request_unless_over_the_limit(
    amount: int, limit: int
) -> None:
    """Memory goes back to Jobmon as whole GiB: rounded up when that fits, else down, ≥ 1."""
    got = memory_in_gib({"memory": f"{amount}B", "cores": 2}, lambda r: r["memory"] * GIB <= limit)
    assert isinstance(got["memory"], int)
    assert got["cores"] == 2
    up = -(-amount // GIB)
    if amount % GIB == 0 or up * GIB <= limit:
        assert got["memory"] == up
    else:
        assert got["memory"] == max(1, amount // GIB)


def test_jobmons_zero_memory_is_refused_with_its_cause() -> None:
    """Jobmon turns ``"500M"`` into 0 GiB; the bridge says so instead of a bare "zero"."""
    with pytest.raises(ResourceError, match="Jobmon rounds memory to whole GiB"):
        check_memory({"memory": 0})
    check_memory({"memory": 1})


# -- the queue --------------------------------------------------------------------------------


def test_queue_takes_jobmon_requests(tmp_path: Path) -> None:
    """Jobmon's request (memory in GiB, log directories) is checked and coerced by the
    plugin's queue; log directories are kept, cores clamped, memory whole GiB."""
    queue = BridgeQueue(7, "local", {"plugin": "local", "max_cores": 1})
    request = {"queue": "local", "cores": 64, "memory": 1, "runtime": 90, "stdout": str(tmp_path)}
    assert queue.validate_resources(False, **request)[0]
    valid, message = queue.validate_resources(True, **request)
    assert not valid
    assert "cores=64" in message
    coerced = queue.coerce_resources(**request)
    assert coerced == {"queue": "local", "cores": 1, "memory": 1, "runtime": 90,
                       "stdout": str(tmp_path)}  # fmt: skip
    assert queue.validate_resources(True, **coerced) == (True, "")
    assert (queue.queue_id, queue.queue_name, queue.plugin) == (7, "local", "local")
    assert queue.parameters == {"plugin": "local", "max_cores": 1}


def test_queue_names_what_is_wrong() -> None:
    """An unknown key, Jobmon's zero memory and a queue without a plugin each say so."""
    queue = BridgeQueue(1, "local", {"plugin": "local"})
    valid, message = queue.validate_resources(False, num_cores=2)
    assert not valid
    assert "num_cores" in message
    assert not queue.validate_resources(False, memory=0)[0]
    with pytest.raises(ResourceError, match="num_cores"):
        queue.coerce_resources(num_cores=2)
    with pytest.raises(ConfigFileError, match=r"Jobmon queue 'q' \(id 3\).*parameters\.plugin"):
        BridgeQueue(3, "q", {"max_cores": 1})
    with pytest.raises(PluginNotFoundError, match="slurmm"):
        BridgeQueue(3, "q", {"plugin": "slurmm"})


# -- the distributor --------------------------------------------------------------------------


@pytest.mark.usefixtures("worker_env")
def test_connection_parameters_are_checked(tmp_path: Path) -> None:
    """No plugin, a positional parameter and an option the plugin does not take are errors
    naming the cluster and the key."""
    with pytest.raises(ConfigFileError, match=r"Jobmon cluster 'c' connection_parameters: plugin"):
        DistributorBridge("c", state_dir=str(tmp_path))
    with pytest.raises(ConfigFileError, match="keywords only"):
        DistributorBridge("c", "local")
    with pytest.raises(
        ConfigFileError, match=r"connection_parameters: slurm_conf: .*no such option"
    ):
        DistributorBridge("c", plugin="local", slurm_conf="/etc/slurm.conf")


def test_worker_entry_point_as_jobmon_names_it(tmp_path: Path) -> None:
    """Jobmon's client quotes a replacement command once; a plain path stays one word; with
    nothing configured the entry point is found beside Python or on PATH."""
    quoted = '"singularity run --app jobmon_command /img.sif"'
    assert jobmon_worker_argv({WORKER_ENTRY_POINT_ENV: quoted}) == [
        "singularity", "run", "--app", "jobmon_command", "/img.sif"
    ]  # fmt: skip
    spaced = tmp_path / "my dir" / "worker_node_entry_point"
    spaced.parent.mkdir()
    spaced.write_text("#!/bin/sh\n")
    assert jobmon_worker_argv({WORKER_ENTRY_POINT_ENV: shlex.quote(str(spaced))}) == [str(spaced)]
    beside = Path(sys.executable).parent / "worker_node_entry_point"
    if not beside.exists():
        with pytest.raises(ConfigFileError, match=WORKER_ENTRY_POINT_ENV):
            jobmon_worker_argv({"PATH": str(tmp_path)})


@needs_jobmon
@pytest.mark.usefixtures("worker_env")
def test_worker_command_is_jobmons_quoted_and_prefixed(tmp_path: Path) -> None:
    """``build_worker_node_command`` gives Jobmon's worker arguments (no executable), quoted;
    the entry point goes in front only when submitting."""
    from jobmon.core import __version__

    bridge = local_bridge(tmp_path)
    hostile = DistributorBridge("it's; rm -rf /", plugin="local", state_dir=str(tmp_path / "h"))
    assert shlex.split(bridge.build_worker_node_command(task_instance_id=12)) == [
        "worker_node_job", "--task_instance_id", "12", "--expected_jobmon_version", __version__,
        "--cluster_name", "jm-local",
    ]  # fmt: skip
    assert shlex.split(hostile.build_worker_node_command(array_id=3, batch_number=1)) == [
        "worker_node_array", "--array_id", "3", "--batch_number", "1",
        "--expected_jobmon_version", __version__, "--cluster_name", "it's; rm -rf /",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="task_instance_id"):
        bridge.build_worker_node_command(array_id=3)
    assert bridge.worker_node_entry_point == "singularity run --app jobmon_command /img.sif"


_QUIET_START = """
import logging, sys
logging.basicConfig(level=logging.DEBUG)  # an application that logs to stderr
from jobmon.plugins.distributor.bridge_distributor import DistributorBridge
bridge = DistributorBridge("quiet", plugin="local", state_dir=sys.argv[1])
bridge.start()
sys.stderr.write("ALIVE")
sys.stderr.flush()
bridge.stop()
print(repr(bridge.captured_output))
"""


def test_start_writes_nothing_on_stderr_and_leaves_no_one_holding_it(tmp_path: Path) -> None:
    """Jobmon reads five bytes from its distributor's stderr and wants ``ALIVE``: even with
    logging configured to stderr, `start` writes nothing there, and no process it started
    keeps the pipe open (this run would not return before it closed; Jobmon waits for its end
    when it stops the distributor)."""
    env = {**os.environ, WORKER_ENTRY_POINT_ENV: "/bin/true"}
    done = subprocess.run(
        [sys.executable, "-c", _QUIET_START, str(tmp_path / "state")],
        capture_output=True, check=False, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"ALIVE", done.stderr
    assert b"local_distributor_started" in done.stdout  # caught, not on Jobmon's pipe


def test_submission_drops_log_dirs_and_prefixes_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Jobmon request (log directories, memory in GiB) reaches the local plugin without the
    log directories, the command behind the worker entry point; exit info comes back as the
    tuple Jobmon unpacks."""
    monkeypatch.setenv(WORKER_ENTRY_POINT_ENV, "sh -c")  # the "worker" runs its one argument
    bridge = local_bridge(tmp_path)
    bridge.start()
    try:
        ids = bridge.submit_array_to_batch_distributor(
            "'exit 3'", "jm-array", {"queue": "local", "memory": 1, "stdout": None,
                                     "stderr": str(tmp_path / "logs")}, 2,
        )  # fmt: skip
        assert sorted(ids) == [0, 1]
        single = bridge.submit_to_batch_distributor("'exit 0'", "jm-one", {"memory": 1})
        pending = {*ids.values(), single}
        while pending & bridge.get_submitted_or_running(sorted(pending)):
            getattr(bridge.inner, "wait_for_change", lambda _: None)(1.0)
        state, message = bridge.get_remote_exit_info(ids[0])
        assert (state, "status 3" in message) == ("U", True)  # E: Jobmon's triage takes U
        assert bridge.get_remote_exit_info(single)[0] == "U"  # D, its worker silent: U too
        state, message = bridge.get_remote_exit_info("deadbeef.1")  # never issued: retried
        assert (state, "unknown" in message) == ("U", True)
    finally:
        bridge.stop()


# -- exit information -------------------------------------------------------------------------


@given(st.sampled_from(list(TaskInstanceStatus)), st.text(max_size=40))
def test_exit_info_is_a_state_jobmons_triage_takes(state: TaskInstanceStatus, words: str) -> None:
    """Every state becomes R, Z, U or F as a plain tuple; R/Z/U/F pass unchanged, the others
    become U naming what the plugin said."""
    got = exit_info_for_jobmon("7", RemoteExitInfo(state, words))
    assert type(got) is tuple
    assert got[0] in JOBMON_TRIAGE_STATES
    if state.value in JOBMON_TRIAGE_STATES:
        assert got == (state.value, words)
    else:
        assert got[0] == "U"
        assert f"the distributor said {state.value} ({state.name})" in got[1]
    assert exit_info_for_jobmon("7", (state.value, words))[0] == got[0]  # legacy tuples too


def test_provisional_exit_info_is_not_final_for_jobmon() -> None:
    """A `RemoteExitInfo` that may still change is "not available": Jobmon asks again."""
    with pytest.raises(RemoteExitInfoNotAvailable, match="provisional U"):
        exit_info_for_jobmon("7", RemoteExitInfo(TaskInstanceStatus.UNKNOWN_ERROR, "lost?", False))


# -- the worker node --------------------------------------------------------------------------


def test_worker_node_reads_the_distributor_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids come from ``DISTRIBUTOR_ID``/``DISTRIBUTOR_ARRAY_STEP_ID`` (0-based, as Jobmon's
    batches count); logs go to Jobmon's directory, or /dev/null when it has none."""
    node = BridgeWorkerNode()
    monkeypatch.delenv("DISTRIBUTOR_ID", raising=False)
    monkeypatch.delenv("DISTRIBUTOR_ARRAY_STEP_ID", raising=False)
    assert (node.distributor_id, node.array_step_id) == (None, None)
    monkeypatch.setenv("DISTRIBUTOR_ID", "123_4")
    monkeypatch.setenv("DISTRIBUTOR_ARRAY_STEP_ID", "0")
    assert (node.distributor_id, node.array_step_id) == ("123_4", 0)
    assert node.initialize_logfile("stdout", None, "t") == os.devnull  # Jobmon passes None
    out = Path(node.initialize_logfile("stderr", str(tmp_path / "new" / "dir"), "../evil name"))
    assert out == tmp_path / "new" / "dir" / "_evil_name.e123_4"
    with pytest.raises(ValueError, match="log_type"):
        node.initialize_logfile("stdin", str(tmp_path), "t")
    assert set(node.get_usage_stats()) == {"maxrss", "cpu", "usage_str"}


@pytest.mark.parametrize(
    ("code", "words"),
    [(3, "exited with status 3"), (-9, "killed by SIGKILL (status -9)"),
     (143, "killed by SIGTERM (status 143)")],
)  # fmt: skip
def test_worker_exit_info_names_status_or_signal(code: int, words: str) -> None:
    """Jobmon's worker passes asyncio's return code (negative for a signal)."""
    state, message = BridgeWorkerNode().get_exit_info(code, "boom\n")
    assert state == "E"
    assert words in message
    assert message.endswith(": boom")


def test_terminated_task_is_retried_by_jobmon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobmon's KILL_SELF path ends tasks through the bridge; a task terminated outside
    Jobmon's own bookkeeping (the plugin says K) reaches triage as U, and the plugin's queueing
    errors pass through."""
    monkeypatch.setenv(WORKER_ENTRY_POINT_ENV, "sh -c")
    bridge = local_bridge(tmp_path)
    bridge.start()
    try:
        task = bridge.submit_to_batch_distributor("'sleep 600'", "jm-sleep", {"memory": 1})
        assert bridge.get_queueing_errors([task]) == {}
        assert task in bridge.get_submitted_or_running([task])
        bridge.terminate_task_instances([task])
        while task in bridge.get_submitted_or_running([task]):
            getattr(bridge.inner, "wait_for_change", lambda _: None)(1.0)
        state, message = bridge.get_remote_exit_info(task)
        assert state == "U"
        assert "the distributor said K (KILLED_SELF)" in message
    finally:
        bridge.stop()
