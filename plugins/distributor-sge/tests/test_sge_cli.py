"""What happened to my task, on the real Grid Engine through the command: ``run --json`` gives the
exit code and a log holding the output, ``logs`` prints it, a memory-limited task its peak,
and a large array with one failure fits on a screen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from distributor_sge.testing import cell_environment, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]


def cli(*args: str, root: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``distributor ARGS --cluster sge`` with the dev cell and a private submit root."""
    env = {**os.environ, **ENV, "DISTRIBUTOR_SUBMIT_ROOT": str(root)}
    return subprocess.run([sys.executable, "-m", "distributor.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def test_exit_code_log_and_peak_memory(tmp_path: Path) -> None:
    """Exit code 3 and a log holding hello, printed by ``logs``; the peak of a 200 MiB task."""
    ran = cli("run", "--json", "--cluster", "sge", "--", "sh", "-c", "echo hello; exit 3",
              root=tmp_path)  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    (task,) = json.loads(ran.stdout)["tasks"]
    assert (task["state"], task["exit_code"]) == ("E", 3)
    assert Path(task["log"]).read_text() == "hello\n"
    logs = cli("logs", "--cluster", "sge", task["distributor_id"], root=tmp_path)
    assert logs.stdout == "hello\n", logs.stderr
    hog = f"{sys.executable} -c 'import time; x = bytearray(200 * 2**20); time.sleep(2)'"
    limited = cli("run", "--json", "--cluster", "sge", "--memory", "1G", "--", "sh", "-c",
                  hog, root=tmp_path)  # fmt: skip
    (peak,) = json.loads(limited.stdout)["tasks"]
    assert peak["state"] == "D" and peak["max_rss"] >= 200 * 2**20, peak


def test_a_large_array_with_one_failure_fits_on_a_screen(tmp_path: Path) -> None:
    """300 steps on Grid Engine, one failing: the summary and that one failure, nothing more."""
    command = 'if [ "$DISTRIBUTOR_ARRAY_STEP_ID" = 123 ]; then echo broken; exit 7; fi'
    ran = cli("run", "--cluster", "sge", "--array", "300", "--", "sh", "-c", command,
              root=tmp_path)  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == "299 done, 1 failed (1 E error)" and len(lines) <= 10, ran.stdout
    assert "step 123" in ran.stdout and "exit 7" in ran.stdout and "broken" in ran.stdout
