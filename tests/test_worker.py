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
from distributor.worker import ExitRecord, read_exit_record, write_exit_record

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
