"""``snakemake --executor distributor`` on the local backend: Snakemake's own harness, a rule that
fails, Ctrl-C, and ``kill -9`` of Snakemake followed by a rerun."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from snakemake_executor_plugin_distributor.testing import (
    DistributorWorkflows,
    cluster_config,
    run_snakemake,
    snakemake_argv,
)

pytestmark = pytest.mark.slow


class TestLocalWorkflows(DistributorWorkflows):
    """Snakemake's harness workflows pass on a configured cluster of the local plugin."""

    __test__ = True
    plugin = "local"

    def cluster_options(self, tmp_path: Path) -> dict[str, object]:
        return {"parallelism": 4}


@pytest.fixture
def workflow(tmp_path: Path) -> Callable[[str], tuple[Path, dict[str, str]]]:
    """Write a Snakefile into a fresh directory with a configured local cluster; return the
    directory and the environment to run Snakemake with."""

    def make(snakefile: str) -> tuple[Path, dict[str, str]]:
        workdir = tmp_path / "wf"
        workdir.mkdir()
        (workdir / "Snakefile").write_text(snakefile, encoding="utf-8")
        config = tmp_path / "distributor.toml"
        config.write_text(cluster_config("local", {"parallelism": 4}), encoding="utf-8")
        env = {
            "DISTRIBUTOR_CONFIG": str(config),
            "DISTRIBUTOR_LOCAL_STATE_DIR": str(tmp_path / "local-state"),
        }
        return workdir, env

    return make


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


FAILING = """
rule all:
    input: "good.out", "bad.out"

rule good:
    output: "good.out"
    shell: "touch {output}"

rule bad:
    output: "bad.out"
    shell: "echo 'the input was not what bad expected' >&2; exit 3"
"""


def test_failing_rule_fails_the_run_and_says_why(
    workflow: Callable[[str], tuple[Path, dict[str, str]]],
) -> None:
    """A rule that exits 3 fails the run; Snakemake's error names the distributor's verdict
    (state E: the job's nested Snakemake exited 1) and shows the end of the job's log, where
    the rule's exit status 3 and its message are."""
    workdir, env = workflow(FAILING)
    result = run_snakemake(workdir, "--keep-going", env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Error in rule bad" in output, output
    assert "ended E (error)" in output, output
    assert "exited with status 1" in output.split("ended E (error)", 1)[1].splitlines()[0]
    assert "returned non-zero exit status 3" in output, output
    assert "the input was not what bad expected" in output, output
    assert (workdir / "good.out").exists(), "the rule that succeeded still ran (--keep-going)"
    assert not (workdir / "bad.out").exists()


MULTI_NODE = """
rule all:
    input: "x.out"

rule x:
    output: "x.out"
    resources: nodes=2
    shell: "touch {output}"
"""


def test_multi_node_request_is_refused_with_a_clear_message(
    workflow: Callable[[str], tuple[Path, dict[str, str]]],
) -> None:
    """A rule asking for two nodes is refused before anything is submitted, naming the rule."""
    workdir, env = workflow(MULTI_NODE)
    result = run_snakemake(workdir, env=env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "rule x" in output and "nodes=2" in output, output
    assert "multi-node and MPI jobs are not supported" in output, output


KILLABLE = """
rule all:
    input: expand("a{i}.out", i=range(3)), "b.out"

rule a:
    output: "a{i}.out"
    shell: "echo {wildcards.i} >> runs_a.txt; touch {output}"

rule b:
    input: expand("a{i}.out", i=range(3))
    output: "b.out"
    shell: "echo $$ >> runs_b.txt; while [ ! -e release ]; do sleep 0.1; done; touch {output}"
"""


def test_kill_9_then_rerun_runs_nothing_twice_that_had_finished(
    workflow: Callable[[str], tuple[Path, dict[str, str]]],
) -> None:
    """Snakemake killed with SIGKILL while a job runs: the rerun (after --unlock) completes the
    workflow and runs none of the jobs that had finished."""
    workdir, env = workflow(KILLABLE)
    first = subprocess.Popen(
        snakemake_argv(), cwd=workdir, env={**os.environ, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for((workdir / "runs_b.txt").exists, "rule b to start")
    finally:
        first.kill()
        first.wait()
    assert sorted((workdir / "runs_a.txt").read_text().split()) == ["0", "1", "2"]
    (workdir / "release").touch()  # the orphaned b (still running) may end now
    unlock = run_snakemake(workdir, "--unlock", env=env)
    assert unlock.returncode == 0, unlock.stdout + unlock.stderr
    second = run_snakemake(workdir, "--rerun-incomplete", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert (workdir / "b.out").exists()
    assert sorted((workdir / "runs_a.txt").read_text().split()) == ["0", "1", "2"]
    # b ran once or twice: the orphan may finish (and record b.out as complete) before the
    # rerun reads the metadata; if not, the rerun runs it again, as it must.
    assert len((workdir / "runs_b.txt").read_text().split()) in (1, 2)


SLOW = """
rule all:
    input: "slow.out"

rule slow:
    output: "slow.out"
    shell: "echo $$ > pid; while true; do sleep 0.1; done"
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_terminates_what_it_submitted(
    workflow: Callable[[str], tuple[Path, dict[str, str]]],
) -> None:
    """SIGINT to Snakemake (Ctrl-C) terminates the job it submitted: its process ends."""
    workdir, env = workflow(SLOW)
    run = subprocess.Popen(
        snakemake_argv(), cwd=workdir, env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        pid_file = workdir / "pid"
        _wait_for(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the job")
        pid = int(pid_file.read_text())
        assert _alive(pid)
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode != 0, output
    assert "terminated 1 job(s)" in output, output
    _wait_for(lambda: not _alive(pid), f"the job's process {pid} to end", timeout=60)
