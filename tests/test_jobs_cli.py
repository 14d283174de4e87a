"""`distributor run --job FILE` and `distributor status` on jobs, as real processes on the
local backend (`distributor.jobs.command`, `distributor.jobs.job_file`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the local backend needs Linux")

READ = (
    "import json; from distributor.jobs import get_input_data; "
    "files = get_input_data(); open('count.out', 'w').write(str(len(files)))"
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` in `cwd` with the local backend's state under it."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(cwd / "state"), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "distributor.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, check=False, timeout=180)  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Status 2 and one line on stderr saying each of `needles`; no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _data(tmp_path: Path, count: int) -> list[str]:
    (tmp_path / "data").mkdir()
    for i in range(count):
        (tmp_path / "data" / f"{i}.txt").write_text(f"{i}\n")
    return [f"data/{i}.txt" for i in range(count)]


def test_a_toml_job_file_runs_with_per_subjob_progress_and_status_per_job(tmp_path: Path) -> None:
    """Two jobs: five files over subjobs of at most two (relative paths from the file's
    directory), and one subjob per argument of which one fails; each finished subjob gets a
    line, each job a summary, outputs are collected; status 1; `status` shows each job."""
    files = _data(tmp_path, 5)
    (tmp_path / "jobs.toml").write_text(f"""
[[job]]
name = "count"
command = ["{sys.executable}", "-c", "{READ}"]
input_files = {json.dumps(files)}
max_files_per_subjob = 2
output_patterns = ["*.out"]
backend_args = {{ memory = "200M" }}

[[job]]
name = "mc"
command = ["sh", "-c", 'echo "$0" > run.out; test "$0" != 2']
arguments_range = {{ start = 0, stop = 4 }}
output_patterns = ["run.out"]
""")
    result = cli("run", "--job", "jobs.toml", "--max-attempts", "1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    for line in ("count_2 completed: 1 output(s) in", "mc_2 failed: failed (E)"):
        assert line in result.stderr, result.stderr
    assert "job count: completed — 3 subjobs: completed 3" in result.stdout
    assert "job mc: failed — 4 subjobs: failed 1 · completed 3" in result.stdout
    counts = [(tmp_path / "count.out" / str(i) / "count.out").read_text() for i in range(3)]
    assert counts == ["2", "2", "1"]
    assert (tmp_path / "mc.out" / "3" / "run.out").read_text() == "3\n"
    assert not (tmp_path / "mc.out" / "2").exists()
    status = cli("status", "jobs.toml.journal.db", cwd=tmp_path)
    assert "job count: completed — 3 subjobs: completed 3" in status.stdout
    assert "job mc: failed — 4 subjobs: failed 1 · completed 3" in status.stdout
    data = json.loads(cli("status", "--json", "jobs.toml.journal.db", cwd=tmp_path).stdout)
    assert [(job["name"], job["status"]) for job in data["jobs"]] == [
        ("count", "completed"), ("mc", "failed")]  # fmt: skip
    assert data["jobs"][1]["subjobs"]["mc_2"] == "failed"


def test_cafs_json_job_runs_its_subjobs_as_written(tmp_path: Path) -> None:
    """A job dumped by CAF (already split, relative paths) runs subjob by subjob; --json says
    each subjob's files, arguments, outputs and task."""
    files = _data(tmp_path, 3)
    caf = {
        "name": "caf", "input_sandbox_files": [], "working_dir": "w", "output_dir": "o",
        "output_patterns": ["count.out"], "cmd": [sys.executable, "-c", READ], "args": [],
        "input_files": files, "setup_cmds": [], "backend_args": {},
        "subjobs": [{"id": 0, "input_files": files[:1], "args": []},
                    {"id": 1, "input_files": files[1:], "args": ["x"]}],
    }  # fmt: skip
    (tmp_path / "caf.json").write_text(json.dumps(caf))
    result = cli("run", "--job", "caf.json", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)["jobs"][0]
    assert job["status"] == "completed"
    assert [s["outputs"] for s in job["subjobs"]] == [["count.out"], ["count.out"]]
    assert job["subjobs"][1]["input_files"] == [str(tmp_path / f) for f in files[1:]]
    assert job["subjobs"][1]["task"]["state"] == "D"
    assert (tmp_path / "o" / "1" / "count.out").read_text() == "2"


@pytest.mark.parametrize(
    ("content", "name", "needles"),
    [
        ('[[job]]\nname = "a"\ncomand = ["x"]\n', "j.toml",
         ("j.toml: a", "comand", "did you mean 'command'")),
        ('[[job]]\nname = "a"\ncommand = ["x"]\nmax_files_per_subjob = 2\n', "j.toml",
         ("input_files=[] is empty",)),
        ('[[job]]\nname = "a"\ncommand = ["x"]\nmax_subjobs = 0\n', "j.toml",
         ("max_subjobs=0 must be a whole number from 1",)),
        ('{"name": "a", "cmd": ["x"], "arg": []}', "j.json", ("arg", "CAF's job JSON")),
        ("not toml [", "j.toml", ("is not TOML",)),
    ],
)  # fmt: skip
def test_a_bad_job_file_is_one_line_and_status_2(
    tmp_path: Path, content: str, name: str, needles: tuple[str, ...]
) -> None:
    """Every mistake in a job file is one line naming the file or job and the key."""
    (tmp_path / name).write_text(content)
    one_line_error(cli("run", "--job", name, cwd=tmp_path), *needles)


def test_job_excludes_a_command_and_tasks(tmp_path: Path) -> None:
    """--job with a command, --tasks or --detach is a usage error (one line, status 2)."""
    (tmp_path / "j.toml").write_text('[[job]]\nname = "a"\ncommand = ["true"]\n')
    one_line_error(cli("run", "--job", "j.toml", "--", "echo", cwd=tmp_path), "a command")
    one_line_error(cli("run", "--job", "j.toml", "--detach", cwd=tmp_path), "--detach")
    one_line_error(cli("run", "--global-job-limit", "3", "--", "true", cwd=tmp_path),
                   "--global-job-limit goes with --job")  # fmt: skip


def test_an_interrupted_run_is_picked_up_by_running_the_file_again(tmp_path: Path) -> None:
    """SIGTERM while subjobs run: status 143 and how to go on; the subjobs keep running, and
    the same command again finishes the job without running any subjob twice."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "j.toml").write_text(f"""
[[job]]
name = "slow"
command = ["sh", "-c", 'echo ran >> "$0/$DISTRIBUTOR_SUBJOB_ID"; sleep 2; echo ok > done.out',
           "{tmp_path / "runs"}"]
arguments_range = {{ start = 0, stop = 3 }}
output_patterns = ["done.out"]
""")
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    first = subprocess.Popen([sys.executable, "-m", "distributor.cli", "run", "--job", "j.toml"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list((tmp_path / "runs").iterdir())) < 3:  # every subjob has started
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    first.send_signal(signal.SIGTERM)
    _, stderr = first.communicate(timeout=60)
    assert first.returncode == 143, stderr
    assert "interrupted: subjobs keep running; pick them up again with: distributor run --job" in (
        stderr
    )
    again = cli("run", "--job", "j.toml", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "job slow: completed — 3 subjobs: completed 3" in again.stdout
    assert [(tmp_path / "runs" / str(i)).read_text() for i in range(3)] == ["ran\n"] * 3
    assert all((tmp_path / "slow.out" / str(i) / "done.out").exists() for i in range(3))
