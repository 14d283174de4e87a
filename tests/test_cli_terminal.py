"""The command in a real terminal (a pseudo-terminal driven by pexpect): the progress bar
names the task, and Ctrl-C typed at the keyboard — the terminal's SIGINT to the foreground
process group — terminates what `run` started."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect

from distributor.local import LocalDistributor


def test_ctrl_c_at_the_terminal_terminates_the_run(tmp_path: Path) -> None:
    """The bar shows the task's name while it runs; ^C ends the command with status 130,
    saying what it terminated, and the task is gone."""
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path), "COLUMNS": "120",
           "TERM": "xterm"}  # fmt: skip
    child = pexpect.spawn(
        sys.executable,
        ["-m", "distributor.cli", "run", "--name", "long-sleeper", "--", "sleep", "60"],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(24, 120),
    )
    try:
        child.expect("long-sleeper")
        child.expect("running 1")
        child.sendintr()  # the terminal's interrupt character: ^C
        child.expect(r"interrupted \(SIGINT\): terminated 1 unfinished task\(s\) of 1")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 130
    observer = LocalDistributor("local", state_dir=tmp_path)
    observer.start()
    try:
        (log,) = (tmp_path / "logs").iterdir()
        task_id = log.name.removesuffix(".log")
        deadline = time.monotonic() + 30
        while observer.get_submitted_or_running([task_id]):
            assert time.monotonic() < deadline, "the task was left running"
            time.sleep(0.1)
        assert observer.get_remote_exit_info(task_id).error_state == "K"
    finally:
        observer.stop()
