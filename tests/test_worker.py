"""The distributor-worker wrapper: exit status, signals, usage and the atomic exit record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distributor import SchedulerOutputError
from distributor.worker import (
    ExitRecord,
    read_exit_record,
    read_start_record,
    write_exit_record,
)

WORKER = [sys.executable, "-m", "distributor.worker.main"]


def run_worker(*args: str, env: dict[str, str] | None = None) -> int:
    """Run the wrapper as a real process and return its exit status."""
    return subprocess.run(
        [*WORKER, *args], env={**os.environ, **(env or {})}, check=False
    ).returncode


def test_exit_code_is_passed_through_and_recorded(tmp_path: Path) -> None:
    """The wrapper exits with the command's status and records it."""
    record = tmp_path / "exit.json"
    assert run_worker("--record", str(record), "--", "sh", "-c", "exit 3") == 3
    loaded = read_exit_record(record)
    assert loaded is not None
    assert (loaded.returncode, loaded.exit_code, loaded.signal) == (3, 3, None)


def test_killed_by_signal_is_128_plus_n(tmp_path: Path) -> None:
    """A command killed by SIGKILL makes the wrapper exit 137 and record the signal name."""
    record = tmp_path / "exit.json"
    assert run_worker("--record", str(record), "--", "sh", "-c", "kill -9 $$") == 137
    loaded = read_exit_record(record)
    assert loaded is not None and loaded.signal == "SIGKILL" and loaded.exit_code is None


def test_step_and_id_are_substituted(tmp_path: Path) -> None:
    """{step} and {id} in the record path come from the environment."""
    env = {"DISTRIBUTOR_ARRAY_STEP_ID": "4", "DISTRIBUTOR_ID": "77_4"}
    assert run_worker("--record", str(tmp_path / "r-{id}-{step}.json"), "--", "true", env=env) == 0
    loaded = read_exit_record(tmp_path / "r-77_4-4.json")
    assert loaded is not None and loaded.array_step_id == 4 and loaded.distributor_id == "77_4"


def test_unstartable_command_is_127_with_reason(tmp_path: Path) -> None:
    """A command that cannot start gives 127 and a record saying why."""
    record = tmp_path / "exit.json"
    assert run_worker("--record", str(record), "--", str(tmp_path / "missing")) == 127
    loaded = read_exit_record(record)
    assert loaded is not None and "missing" in loaded.error


def test_trapped_signals_are_recorded_and_the_record_is_written(tmp_path: Path) -> None:
    """SIGTERM to the whole group is recorded by the wrapper, which still writes its record."""
    record = tmp_path / "exit.json"
    proc = subprocess.Popen(
        [*WORKER, "--record", str(record), "--", "sleep", "30"], start_new_session=True
    )
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGUSR1)  # the wrapper alone: recorded, not forwarded
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    loaded = read_exit_record(record)
    assert loaded is not None and loaded.signal == "SIGTERM"
    assert loaded.signals_received == ("SIGUSR1", "SIGTERM")


def test_peak_rss_of_a_small_task_is_its_own(tmp_path: Path) -> None:
    """A tiny command's peak RSS is not inflated to the wrapper's size."""
    record = tmp_path / "exit.json"
    code = "import time; x = bytearray(64 * 2**20); time.sleep(0.5)"
    assert run_worker("--record", str(record), "--", sys.executable, "-c", code) == 0
    loaded = read_exit_record(record)
    assert loaded is not None
    assert 64 * 2**20 <= loaded.maxrss_bytes < 200 * 2**20


def test_missing_command_is_a_usage_error() -> None:
    """No command after -- is a usage error (status 2)."""
    assert run_worker("--record", "/tmp/x.json") == 2


def test_record_is_never_half_written(tmp_path: Path) -> None:
    """Writing replaces the file atomically; no temporary file is left behind."""
    path = tmp_path / "exit.json"
    write_exit_record(path, ExitRecord(returncode=0, exit_code=0, signal=None))
    write_exit_record(path, ExitRecord(returncode=1, exit_code=1, signal=None))
    assert [p.name for p in tmp_path.iterdir()] == ["exit.json"]
    loaded = read_exit_record(path)
    assert loaded is not None and loaded.returncode == 1


def test_absent_record_is_none(tmp_path: Path) -> None:
    """No file means no record yet."""
    assert read_exit_record(tmp_path / "none.json") is None


@given(st.text(max_size=200))
def test_garbage_record_raises_output_error_with_raw_text(text: str) -> None:
    """Anything that is not a record raises SchedulerOutputError keeping the raw text."""
    raised: SchedulerOutputError | None = None
    try:
        record = ExitRecord.from_json(text)
    except SchedulerOutputError as exc:
        raised = exc
    if raised is not None:
        assert raised.raw == text
    else:
        assert isinstance(record.returncode, int)


@pytest.mark.parametrize(
    "text", ['{"returncode": "0"}', "[]", '{"exit_code": 1}', '{"returncode": true}']
)
def test_wrong_shapes_are_rejected(text: str) -> None:
    """JSON of the wrong shape is not accepted as a record."""
    with pytest.raises(SchedulerOutputError):
        ExitRecord.from_json(text)


def test_sigterm_to_the_wrapper_alone_reaches_the_command(tmp_path: Path) -> None:
    """Slurm signals only the job script: the wrapper passes SIGTERM on to the command."""
    record = tmp_path / "exit.json"
    marker = tmp_path / "trapped"
    script = f"trap 'echo yes > {marker}; exit 7' TERM; sleep 30 & wait"
    proc = subprocess.Popen([*WORKER, "--record", str(record), "--", "sh", "-c", script])
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 7
    assert marker.read_text() == "yes\n"
    loaded = read_exit_record(record)
    assert loaded is not None
    assert loaded.signals_received == ("SIGTERM",)


def test_start_record_names_the_task(tmp_path: Path) -> None:
    """--started writes the task's identity before the command runs."""
    env = {"DISTRIBUTOR_ARRAY_STEP_ID": "2", "DISTRIBUTOR_ID": "88_2"}
    started = tmp_path / "started-{step}.json"
    # the command sees its own start record: it was written before the command started
    check = f"test -s {tmp_path / 'started-2.json'}"
    assert run_worker("--started", str(started), "--", "sh", "-c", check, env=env) == 0
    loaded = read_start_record(tmp_path / "started-2.json")
    assert loaded is not None
    assert (loaded.distributor_id, loaded.array_step_id) == ("88_2", 2)
    assert loaded.pid > 0 and loaded.started_at > 0


def test_memory_limit_kills_the_tree_and_is_recorded(tmp_path: Path) -> None:
    """A grandchild going over --memory-limit is killed; the record says memory, by how much."""
    record = tmp_path / "exit.json"
    hog = f"{sys.executable} -c 'import time; x = bytearray(300 * 2**20); time.sleep(60)'"
    began = time.monotonic()
    status = run_worker(
        "--record", str(record), "--memory-limit", str(100 * 2**20), "--", "sh", "-c", hog
    )
    assert time.monotonic() - began < 30
    loaded = read_exit_record(record)
    assert loaded is not None and status != 0
    assert loaded.exceeded == "memory"
    assert loaded.limit == 100 * 2**20 and loaded.used > loaded.limit


def test_runtime_limit_terms_then_kills(tmp_path: Path) -> None:
    """Past --runtime-limit the command gets SIGTERM, and SIGKILL after the grace if it stays."""
    record = tmp_path / "exit.json"
    stubborn = "trap '' TERM; sleep 60 & wait; sleep 60"
    status = run_worker(
        "--record", str(record), "--runtime-limit", "1", "--kill-grace", "1",
        "--", "sh", "-c", stubborn,
    )  # fmt: skip
    loaded = read_exit_record(record)
    assert loaded is not None and status == 128 + signal.SIGKILL
    assert loaded.exceeded == "runtime" and loaded.limit == 1.0
    assert 1.0 <= loaded.used < 5 and loaded.wall_seconds < 10


def test_no_limit_no_verdict(tmp_path: Path) -> None:
    """A command within its limits ends normally and the record names no limit."""
    record = tmp_path / "exit.json"
    status = run_worker(
        "--record", str(record), "--memory-limit", str(2**30), "--runtime-limit", "30",
        "--", "sh", "-c", "exit 4",
    )  # fmt: skip
    loaded = read_exit_record(record)
    assert status == 4 and loaded is not None and loaded.exceeded == ""


def test_the_record_is_written_even_under_a_rain_of_sigterm(tmp_path: Path) -> None:
    """A scheduler may keep signalling after the command ended (LSF: SIGINT, SIGTERM,
    SIGKILL): the wrapper writes the exit record before it stops trapping signals."""
    record = tmp_path / "exit.json"
    # The rain starts once the command is reaped ($$ and $PPID keep the shell's values in the
    # subshell): exactly while the wrapper writes its record.
    rain = (
        "(while kill -0 $$ 2>/dev/null; do :; done; "
        "while kill -TERM $PPID 2>/dev/null; do sleep 0.001; done) & exit 3"
    )
    run_worker("--record", str(record), "--", "sh", "-c", rain)
    loaded = read_exit_record(record)
    assert loaded is not None and loaded.exit_code == 3
