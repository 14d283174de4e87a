"""The README's one command works: what it installs exists, and its Snakemake run of the
example workflow succeeds on the local plugin."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parents[1]

pytestmark = pytest.mark.slow


def _readme_command() -> tuple[list[str], list[str]]:
    """The README's first bash line, split at ``&&`` into the install and the run."""
    text = (PACKAGE / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)\n```", text, re.DOTALL)
    assert block is not None, "README has no bash block"
    install, run = block.group(1).strip().split(" && ")
    return shlex.split(install), shlex.split(run)


def test_readme_install_names_this_repository() -> None:
    """The install part installs Snakemake ≥ 9, the core (the root) and this package."""
    install, _ = _readme_command()
    assert install[:2] == ["pip", "install"]
    assert "snakemake>=9" in install
    paths = [word for word in install[2:] if not word.startswith("snakemake")]
    assert {(ROOT / p).resolve() for p in paths} == {ROOT, PACKAGE}
    assert (ROOT / "pyproject.toml").read_text().count('name = "distributor-core"') == 1


def test_readme_run_completes_the_example_workflow(tmp_path: Path) -> None:
    """The run part, from the repository's root, runs the example workflow to its end (its
    three ``count`` jobs, ready together with equal requests, as one array)."""
    _, run = _readme_command()
    assert run[0] == "snakemake"
    workdir = tmp_path / "wf"
    argv = [sys.executable, "-m", *run]
    argv[argv.index("$(mktemp -d)")] = str(workdir)
    env = {
        **os.environ,
        "DISTRIBUTOR_CONFIG": "",  # no configuration: `local` is the plugin by its name
        "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "local-state"),
    }
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert int((workdir / "total.txt").read_text()) > 0
    assert sorted(p.name for p in (workdir / "counts").iterdir()) == ["a.txt", "b.txt", "c.txt"]
    output = result.stdout + result.stderr
    assert "of rule count submitted to cluster 'local' as one array" in output, output
