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
    """The README's first command: four array steps, "4 done", status 0; --all adds the
    table of every task."""
    result = cli(
        "run", "--array", "4", "--", "sh", "-c", "echo step $DISTRIBUTOR_ARRAY_STEP_ID",
        state=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["4 done"]
    assert "done 4" in result.stderr
    table = cli("run", "--all", "--array", "2", "--", "true", state=tmp_path / "again")
    assert len([line for line in table.stdout.splitlines() if "D done" in line]) == 2
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
    assert summary["tasks"][1]["exit_code"] == 1 and summary["tasks"][1]["state_name"] == "error"


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
        (("run", "--cluster", "slurmm", "--", "true"), "no cluster or plugin named 'slurmm'"),
        (("run", "--memory", "900T", "--", "true"), "memory='900TiB' exceeds queue 'local'"),
        (("run", "--runtime", "soon", "--", "true"), "runtime='soon'"),
        (("run", "--"), "no command given"),
        (("run", "--array", "0", "--", "true"), "--array must be at least 1"),
        (("check", "nosuchplugin"), "no cluster or plugin named 'nosuchplugin'"),
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
    assert local["distributions"][0]["name"] == "distributor-core"


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


FIELDS = {"name", "distributor_id", "step", "state", "state_name", "message", "exit_code",
          "signal", "started_at", "ended_at", "elapsed", "max_rss", "cpu", "host", "log",
          "stderr_log"}  # fmt: skip


def test_what_happened_to_my_task(tmp_path: Path) -> None:
    """run --json of ``echo hello; exit 3``: exit code 3 and a log holding hello, which
    ``distributor logs ID`` prints; every field is there; a memory-limited task has its peak."""
    result = cli("run", "--json", "--", "sh", "-c", "echo hello; exit 3", state=tmp_path)
    assert result.returncode == 1, result.stderr
    (task,) = json.loads(result.stdout)["tasks"]
    assert set(task) >= FIELDS
    assert (task["state"], task["state_name"], task["exit_code"]) == ("E", "error", 3)
    assert Path(task["log"]).read_text() == "hello\n"
    assert task["elapsed"] >= 0 and task["host"] and task["started_at"] <= task["ended_at"]
    logs = cli("logs", task["distributor_id"], state=tmp_path)
    assert logs.returncode == 0 and logs.stdout == "hello\n", logs.stderr
    assert cli("logs", task["distributor_id"], "--tail", "1", state=tmp_path).stdout == "hello\n"
    hog = f"{sys.executable} -c 'x = bytearray(60 * 2**20)'"
    limited = cli("run", "--json", "--memory", "1G", "--", "sh", "-c", hog, state=tmp_path)
    (peak,) = json.loads(limited.stdout)["tasks"]
    assert peak["state"] == "D" and peak["max_rss"] > 60 * 2**20


def test_a_large_array_with_one_failure_fits_on_a_screen(tmp_path: Path) -> None:
    """2,000 steps, one failing: a summary line and the one failure with its log's tail."""
    command = 'if [ "$DISTRIBUTOR_ARRAY_STEP_ID" = 1234 ]; then echo broken; exit 7; fi'
    result = cli("run", "--array", "2000", "--", "sh", "-c", command, state=tmp_path,
                 timeout=600)  # fmt: skip
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "1999 done, 1 failed (1 E error)"
    assert len(lines) <= 10, result.stdout
    text = result.stdout
    assert "step 1234" in text and "exit 7" in text and "broken" in text and "log:" in text


def test_status_shows_the_outcome_of_every_attempt(tmp_path: Path) -> None:
    """A journal's task that failed twice: status --json has the fields for the task and
    for each attempt; logs --journal prints the last attempt's output."""
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        '[[task]]\nname = "flaky"\ncommand = "echo try; exit 5"\nmax_attempts = 2\n'
        '[[task]]\nname = "fine"\ncommand = "echo ok"\n'
    )
    journal = tmp_path / "j.db"
    ran = cli("run", "--tasks", str(tasks), "--journal", str(journal), state=tmp_path)
    assert ran.returncode == 1, ran.stderr
    assert ran.stdout.splitlines()[0] == "1 done, 1 failed (1 E error)"
    status = json.loads(cli("status", "--json", str(journal), state=tmp_path).stdout)
    flaky = next(t for t in status["tasks"] if t["name"] == "flaky")
    assert set(flaky) >= FIELDS and flaky["exit_code"] == 5 and flaky["attempts"] == 2
    assert [a["attempt"] for a in flaky["attempt_list"]] == [1, 2]
    for attempt in flaky["attempt_list"]:
        assert set(attempt) >= FIELDS and attempt["exit_code"] == 5
        assert Path(attempt["log"]).read_text() == "try\n"
    logs = cli("logs", "flaky", "--journal", str(journal), state=tmp_path)
    assert logs.stdout == "try\n", logs.stderr


def test_cwd_and_env_reach_the_command_as_data(tmp_path: Path) -> None:
    """--cwd and --env (run and a task file alike): the command runs there with the values,
    which are never read as shell; a missing directory fails the task with status 126."""
    work = tmp_path / "a dir"
    work.mkdir()
    value = f"x y $(touch {tmp_path}/pwned) `id` 'q'"
    result = cli("run", "--json", "--cwd", str(work), "--env", f"A={value}", "--",
                 "sh", "-c", 'pwd; printf %s "$A"', state=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    (task,) = json.loads(result.stdout)["tasks"]
    assert Path(task["log"]).read_text() == f"{work}\n{value}"
    assert not (tmp_path / "pwned").exists()
    missing = cli("run", "--json", "--cwd", str(tmp_path / "nowhere"), "--", "true",
                  state=tmp_path)  # fmt: skip
    assert json.loads(missing.stdout)["tasks"][0]["exit_code"] == 126
    assert cli("run", "--env", "1A=x", "--", "true", state=tmp_path).returncode == 2
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(
        f'[[task]]\nname = "here"\ncommand = \'pwd; printf %s "$B"\'\ncwd = "{work}"\n'
        f'env = {{ B = "two words" }}\n'
    )
    journal = tmp_path / "j.db"
    assert cli("run", "--tasks", str(tasks), "--journal", str(journal),
               state=tmp_path).returncode == 0  # fmt: skip
    status = json.loads(cli("status", "--json", str(journal), state=tmp_path).stdout)
    assert Path(status["tasks"][0]["log"]).read_text() == f"{work}\ntwo words"


def test_logs_follow_writes_until_the_task_ends(tmp_path: Path) -> None:
    """``logs --follow`` of a running task prints its lines as they come and returns when it
    has ended, with everything it wrote."""
    local = LocalDistributor("local", state_dir=tmp_path)
    local.start()
    try:
        go = tmp_path / "go"
        did = local.submit_to_batch_distributor(
            f"echo first; while [ ! -e {go} ]; do sleep 0.05; done; echo last", "f", {}
        )
        follower = subprocess.Popen(
            [sys.executable, "-m", "distributor.cli", "logs", did, "--follow"],
            env={**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path)},
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"  # while the task still runs
        go.touch()
        rest, _ = follower.communicate(timeout=60)
        assert rest == "last\n" and follower.returncode == 0
    finally:
        local.stop()


def test_another_os_is_one_clear_line(tmp_path: Path) -> None:
    """The local backend reads Linux's /proc: elsewhere `run` says so in one line, status 2,
    and the library raises UnsupportedPlatformError naming the platform."""
    code = (
        "import sys; sys.platform = 'darwin'\n"
        "from distributor.cli import main\n"
        "raise SystemExit(main(['run', '--', 'true']))\n"
    )
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "needs linux" in result.stderr
    assert "'darwin'" in result.stderr
    assert not (tmp_path / "logs").exists()


def test_local_distributor_refuses_another_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Constructing the local backend off Linux raises the project's error, with the facts."""
    from distributor import UnsupportedPlatformError

    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(UnsupportedPlatformError) as caught:
        LocalDistributor(state_dir=tmp_path)
    assert (caught.value.backend, caught.value.platform) == ("local backend", "win32")
