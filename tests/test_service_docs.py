"""The embedding example of docs/service.md runs as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "service.md"


def test_the_embedding_example_runs_as_written(tmp_path: Path) -> None:
    """The first Python block is under 20 lines and runs 100 tasks to done on the local
    backend, printing nothing but its own output: the events it asked for and its summary —
    no log line of the library on stdout or stderr."""
    block = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    code = block.group(1)
    assert len(code.strip().splitlines()) < 20
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    *events, summary = done.stdout.splitlines()
    assert "'done': 100" in summary
    assert len(events) >= 300  # queued, submitted, done… of 100 tasks
    assert all(line.startswith("Event(") for line in events), {
        line for line in events if not line.startswith("Event(")
    }
    assert (tmp_path / "run.journal.db").exists()
