"""The `distributor` command, run as a real process (in-process once, for its effect on the
environment)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import structlog

from distributor import TaskInstanceStatus
from distributor.cli import main
from distributor.local import LocalDistributor


def cli(
    *args: str, state: Path, check: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` with the local state directory under the test's tmp_path."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "distributor.cli", *args],
        capture_output=True, text=True, env=env, check=check, timeout=timeout,
    )  # fmt: skip


def test_readme_array_example_prints_four_done(tmp_path: Path) -> None:
    """The README's first command: four array steps, a table of four D, status 0."""
    result = cli(
        "run", "--array", "4", "--", "sh", "-c", "echo step $DISTRIBUTOR_ARRAY_STEP_ID",
        state=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "│ D " in line]
    assert len(rows) == 4
    assert "done 4" in result.stderr
    logs = sorted(p.read_text() for p in (tmp_path / "logs").iterdir())
    assert logs == [f"step {n}\n" for n in range(4)]


def test_json_summary_and_failure_status(tmp_path: Path) -> None:
    """--json prints one machine-readable summary; a failing task makes the status 1."""
    result = cli("run", "--json", "--array", "2", "--", "sh", "-c",
                 'exit "$DISTRIBUTOR_ARRAY_STEP_ID"', state=tmp_path)  # fmt: skip
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert [(t["step"], t["state"]) for t in summary["tasks"]] == [(0, "D"), (1, "E")]
    assert summary["tasks"][1]["message"] == "exited with status 1"


def test_arguments_are_run_literally(tmp_path: Path) -> None:
    """Arguments after -- reach the program unchanged, shell syntax included."""
    hostile = f"$(touch {tmp_path}/pwned); `id`"
    result = cli("run", "--json", "--", "printf", "%s", hostile, state=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "pwned").exists()
    (log,) = (tmp_path / "logs").iterdir()
    assert log.read_text() == hostile


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "--cluster", "slurmm", "--", "true"), "'slurmm' not found"),
        (("run", "--memory", "900T", "--", "true"), "memory='900TiB' exceeds queue 'local'"),
        (("run", "--runtime", "soon", "--", "true"), "runtime='soon'"),
        (("run", "--"), "no command given"),
        (("run", "--array", "0", "--", "true"), "--array must be at least 1"),
        (("check", "nosuchplugin"), "'nosuchplugin' not found"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    args: tuple[str, ...], needle: str, tmp_path: Path
) -> None:
    """Bad input gives status 2 and one line on stderr naming the problem, never a traceback."""
    result = cli(*args, state=tmp_path)
    assert result.returncode == 2
    assert needle in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_plugins_lists_local_with_distribution(tmp_path: Path) -> None:
    """`plugins --json` lists the built-in local plugin with its distribution."""
    listing = json.loads(cli("plugins", "--json", state=tmp_path, check=True).stdout)
    local = next(p for p in listing if p["name"] == "local")
    assert local["state"] == "ok"
    assert local["distributions"][0]["name"] == "distributor"


@pytest.mark.slow
def test_check_runs_the_live_conformance_checks(tmp_path: Path) -> None:
    """`check local` passes every live check and prints the table."""
    result = cli("check", "local", state=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("pass") >= 8


def test_check_leaves_no_state_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process `check local` uses a scratch state directory and restores the environment,
    so nothing lands in the user's state directory and later distributors are unaffected."""
    monkeypatch.delenv("DISTRIBUTOR_LOCAL_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert main(["check", "local"]) == 0
    assert "DISTRIBUTOR_LOCAL_STATE_DIR" not in os.environ
    assert not (tmp_path / "xdg").exists()
    structlog.reset_defaults()  # main() configured logging for a command-line run


def test_ctrl_c_terminates_what_run_started(tmp_path: Path) -> None:
    """SIGINT stops `run`, which terminates its task and says so (status 130)."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--json", "--", "sleep", "60"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while not list(tmp_path.glob("logs/*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "terminated 1 unfinished task(s)" in stderr
    (log,) = (tmp_path / "logs").iterdir()
    observer = LocalDistributor("local", state_dir=tmp_path)
    observer.start()
    did = log.name.removesuffix(".log")
    deadline = time.monotonic() + 20
    while observer.get_submitted_or_running([did]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert observer.get_remote_exit_info(did).error_state == TaskInstanceStatus.KILLED_SELF
    observer.stop()
