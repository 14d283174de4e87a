"""docs/jobs.md's job file and arguments generator run as written (the Python example runs on
the real Slurm in tests/test_jobs_slurm.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from distributor.jobs import ArgumentsGenerator, ArgumentsSplitter, Job

DOC = Path(__file__).resolve().parents[1] / "docs" / "jobs.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.skipif(sys.platform != "linux", reason="the local backend needs Linux")
def test_the_job_file_example_runs_with_distributor_run_job(tmp_path: Path) -> None:
    """The TOML example and the example's count.py run through `distributor run --job` on
    the local backend: four subjobs (3, 3, 3, 2 files), each one's counts collected."""
    (toml,) = _blocks("toml")
    count_py = _blocks("python")[1]
    (tmp_path / "wordcount.toml").write_text(toml)
    (tmp_path / "count.py").write_text(count_py)
    (tmp_path / "data").mkdir()
    for i in range(1, 12):
        (tmp_path / "data" / f"{i:02d}.txt").write_text(f"word{i:02d}\n")
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    env = {**os.environ, "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "state"), "PATH": path}
    done = subprocess.run(
        [sys.executable, "-m", "distributor.cli", "run", "--job", "wordcount.toml", "--cluster",
         "local", "--global-job-limit", "100", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)["jobs"]
    assert [len(s["input_files"]) for s in job["subjobs"]] == [3, 3, 3, 2]
    counts = {}
    for subjob_id in range(4):
        counts.update(
            json.loads((tmp_path / "output" / str(subjob_id) / "counts.json").read_text())
        )
    assert counts == {f"word{i:02d}": 1 for i in range(1, 12)}


def test_the_arguments_generator_example_follows_the_protocol() -> None:
    """The hand-written generator of the doc gives one subjob per run number, in order."""
    namespace: dict[str, Any] = {}
    exec(_blocks("python")[2], namespace)  # noqa: S102 - the documentation's own example
    splitter = ArgumentsSplitter(arguments_generator=ArgumentsGenerator(namespace["runs"], 12,
                                                                        [1, 5, 9]))  # fmt: skip
    job = Job("runs", command=["sim"], splitter=splitter)
    job.split()
    assert [job.subjobs[i].args for i in sorted(job.subjobs)] == [[12, 1], [12, 5], [12, 9]]
