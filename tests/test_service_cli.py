"""`distributor run --tasks`, `status`, `cancel` and `resume`, run as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distributor.service import TaskSpecError
from distributor.service.cli_commands import load_tasks


def cli(*args: str, state: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `distributor ARGS` with the local backend's state under the test's tmp_path."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(state), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "distributor.cli", *args], capture_output=True,
                          text=True, env=env, check=False, timeout=timeout)  # fmt: skip


TASKS = """
[[task]]
name = "hello"
command = ["sh", "-c", "echo hi > {out}/hello"]

[[task]]
name = "steps"
command = "echo $DISTRIBUTOR_ARRAY_STEP_ID > {out}/step-$DISTRIBUTOR_ARRAY_STEP_ID"
array = 3
memory = "100M"
tags = ["stage1"]
"""


def test_run_tasks_runs_every_task_and_reports_json(tmp_path: Path) -> None:
    """Every task and array step runs once; --json lists each with its final status; exit 0."""
    (tmp_path / "out").mkdir()
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(TASKS.format(out=tmp_path / "out"))
    result = cli("run", "--tasks", str(tasks), "--json", state=tmp_path / "state")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [(t["name"], t["status"], t["attempts"]) for t in summary["tasks"]] == [
        ("hello", "done", 1), ("steps[0]", "done", 1), ("steps[1]", "done", 1),
        ("steps[2]", "done", 1),
    ]  # fmt: skip
    outputs = {p.name: p.read_text() for p in (tmp_path / "out").iterdir()}
    assert outputs == {"hello": "hi\n", "step-0": "0\n", "step-1": "1\n", "step-2": "2\n"}
    status = cli("status", str(tmp_path / "tasks.toml.journal.db"), "--json",
                 state=tmp_path / "state")  # fmt: skip
    assert json.loads(status.stdout)["tasks"] == summary["tasks"]
    again = cli("run", "--tasks", str(tasks), "--json", state=tmp_path / "state")
    assert again.returncode == 0 and json.loads(again.stdout) == summary, "a finished run is kept"


def test_a_failing_task_makes_the_status_one(tmp_path: Path) -> None:
    """The exit status is 0 only if every task ends done."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "bad"\ncommand = "exit 3"\nmax_attempts = 2\n')
    result = cli("run", "--tasks", str(tasks), "--json", state=tmp_path / "state")
    assert result.returncode == 1
    (task,) = json.loads(result.stdout)["tasks"]
    assert (task["status"], task["attempts"], task["state"]) == ("failed", 2, "E")


def test_cancel_reaches_a_running_controller_and_resume_finishes(tmp_path: Path) -> None:
    """`cancel` goes through the live controller's journal; after a kill, `resume` ends the run."""
    tasks = tmp_path / "t.toml"
    tasks.write_text('[[task]]\nname = "slow"\ncommand = "sleep 600"\n\n'
                     '[[task]]\nname = "quick"\ncommand = "sleep 2"\n')  # fmt: skip
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    controller = subprocess.Popen(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", str(tasks), "--json"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    journal = str(tmp_path / "t.toml.journal.db")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = cli("status", journal, "--json", state=tmp_path / "state")
        if status.returncode == 0 and all(t["distributor_id"] for t in
                                          json.loads(status.stdout)["tasks"]):  # fmt: skip
            break
        time.sleep(0.2)
    cancel = cli("cancel", journal, "slow", state=tmp_path / "state")
    assert cancel.returncode == 0, cancel.stderr
    assert "running controller" in cancel.stdout
    while time.monotonic() < deadline:
        tasks_now = json.loads(cli("status", journal, "--json", state=tmp_path / "state").stdout)
        if tasks_now["tasks"][0]["status"] == "cancelled":
            break
        time.sleep(0.2)
    controller.kill()  # dies with "quick" still running; its backend keeps it going
    controller.wait()
    resumed = cli("resume", journal, "--json", state=tmp_path / "state")
    final = {t["name"]: t["status"] for t in json.loads(resumed.stdout)["tasks"]}
    assert final == {"slow": "cancelled", "quick": "done"}
    assert resumed.returncode == 1, "a cancelled task is not done"


def test_bad_tasks_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    """Unknown keys, bad arrays and broken TOML name the task and the key; exit status 2."""
    cases = {
        '[[task]]\nname = "a"\ncommand = "x"\nmemroy = "1G"\n': "did you mean 'memory'",
        '[[task]]\nname = "a"\ncommand = "x"\narray = 0\n': "array=0",
        "[[task]\n": "cannot be read as TOML",
        "[run]\nx = 1\n": "only [[task]] tables",
        '[[task]]\nname = "a"\n': "command",
        '[[task]]\nname = "a"\ncommand = "x"\nresources = 3\n': "resources=3",
        '[[task]]\nname = "a"\ncommand = "x"\nresources = { memory = "2G" }\n': "memory = …",
    }
    for text, message in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(TaskSpecError, match=message.replace("[", r"\[")):
            load_tasks(path)
    result = cli("run", "--tasks", str(path), state=tmp_path / "state")
    assert result.returncode == 2 and "error" in result.stderr


def test_gpus_and_pass_through_keys_reach_the_request(tmp_path: Path) -> None:
    """`gpus` and the `resources` table (a plugin's namespaced keys) go into the task's
    resources; a cluster that does not know such a key refuses the file in one line."""
    path = tmp_path / "t.toml"
    path.write_text('[[task]]\nname = "a"\ncommand = ["true"]\ngpus = 2\ncores = 1\n'
                    'resources = { "slurm.account" = "lab", "slurm.qos" = "long" }\n')  # fmt: skip
    (spec,) = load_tasks(path)
    assert spec.resources == {"slurm.account": "lab", "slurm.qos": "long", "gpus": 2, "cores": 1}
    result = cli("run", "--tasks", str(path), state=tmp_path / "state")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "slurm.account='lab': unknown resource key" in lines[0], lines
