"""docs/jobs.md's example, as written, on the real Slurm dev cluster: eleven files split over
four subjobs that read them with get_input_data(), one array, outputs collected (CI's Slurm
group)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from distributor.service.journal import Journal

slurm_testing = pytest.importorskip("distributor_slurm.testing")

SLURM_CONF = slurm_testing.find_slurm_conf()
WHY_NOT = slurm_testing.unavailable_reason(SLURM_CONF)
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]

DOC = Path(__file__).resolve().parents[1] / "docs" / "jobs.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def _hpc_config(tmp_path: Path) -> Path:
    """The configured cluster the example names: this machine's Slurm, fast polling."""
    config = tmp_path / "config.toml"
    config.write_text(f"""
[clusters.hpc]
plugin = "slurm"
slurm_conf = {json.dumps(SLURM_CONF)}
submit_root = {json.dumps(str(tmp_path / "root"))}

[clusters.hpc.poll_policy]
min_interval = 0.3
max_interval = 1.0
accounting_delay = 15.0
lost_grace = 60.0
""")
    return config


def test_the_docs_example_splits_files_over_subjobs_on_slurm(tmp_path: Path) -> None:
    """The example and its count.py run as written: 11 files over 4 subjobs (3, 3, 3, 2) in
    one Slurm array; each subjob counts the words of exactly its files (get_input_data) and
    its counts.json is collected into output/<id>/."""
    example, count_py = _blocks("python")[:2]
    assert "get_input_data()" in count_py and "MaxSubjobsSplitter" in example
    (tmp_path / "count.py").write_text(count_py)
    (tmp_path / "data").mkdir()
    for i in range(1, 12):
        (tmp_path / "data" / f"{i:02d}.txt").write_text(f"event common file{i:02d}\n")
    bin_dir = str(Path(sys.executable).parent)  # `python3` on the node: this venv's
    env = {**os.environ, "DISTRIBUTOR_CONFIG": str(_hpc_config(tmp_path)),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}  # fmt: skip
    done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "completed [3, 3, 3, 2]", (done.stdout, done.stderr)
    shares = [range(1, 4), range(4, 7), range(7, 10), range(10, 12)]
    for subjob_id, share in enumerate(shares):
        counts = json.loads((tmp_path / "output" / str(subjob_id) / "counts.json").read_text())
        expected = Counter({"event": len(share), "common": len(share)})
        expected.update(f"file{i:02d}" for i in share)
        assert counts == dict(expected)
    client = Journal(tmp_path / "wordcount.journal.db", role="client")
    try:
        ids = [info.distributor_id for info in client.task_infos()]
    finally:
        client.close()
    arrays = {str(did).split("_")[0] for did in ids}
    assert len(ids) == 4 and len(arrays) == 1, ids  # one array: <job id>_0 … _3
