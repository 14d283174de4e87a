"""The example of docs/tasks-file.md loads and runs as written, and the doc names every key."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from distributor.service.journal import Journal
from distributor.service.tasks_file import KEYS, load_tasks

DOC = Path(__file__).resolve().parents[1] / "docs" / "tasks-file.md"


def _example() -> str:
    block = re.search(r"```toml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "docs/tasks-file.md has no toml example"
    return block.group(1)


def test_the_doc_describes_every_key() -> None:
    """Each key a [[task]] table accepts has a row in the doc's table, and no other key does."""
    rows = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), re.M))
    assert rows == KEYS


def test_the_example_loads(tmp_path: Path) -> None:
    """The example is a valid tasks file: five tasks, the dependencies as the comments say."""
    path = tmp_path / "tasks.toml"
    path.write_text(_example())
    specs = {spec.name: spec for spec in load_tasks(path)}
    assert list(specs) == ["fetch", "align[0]", "align[1]", "align[2]", "report"]
    assert specs["align[1]"].depends_on == ("fetch",)
    assert specs["report"].depends_on == ("align[0]", "align[1]", "align[2]")
    assert specs["fetch"].retry_delay == 10.0


def test_the_example_runs_as_written(tmp_path: Path) -> None:
    """`distributor run --tasks tasks.toml` runs the example to the end on the local backend,
    each task after the ones it depends on."""
    (tmp_path / "tasks.toml").write_text(_example())
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", "tasks.toml", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert {t["status"] for t in json.loads(done.stdout)["tasks"]} == {"done"}
    assert (tmp_path / "report.txt").read_text().split() == ["5", "5", "5"]
    journal = Journal(tmp_path / "tasks.toml.journal.db", role="client")
    try:
        ran = journal.attempts()
    finally:
        journal.close()
    for step in range(3):
        assert ran[f"align[{step}]"][0].created_at >= ran["fetch"][-1].status_at
        assert ran["report"][0].created_at >= ran[f"align[{step}]"][-1].status_at
