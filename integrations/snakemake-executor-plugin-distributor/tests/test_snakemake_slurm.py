"""Snakemake's own executor-plugin harness through the distributor executor on the real Slurm
dev cluster (``scripts/dev-clusters/slurm.sh``), as a configured cluster; and a job kept
through an outage of slurmctld."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest

from snakemake_executor_plugin_distributor.testing import (
    DistributorWorkflows,
    cluster_config,
    snakemake_argv,
)

slurm_testing = pytest.importorskip("distributor_slurm.testing")
slurm_client = pytest.importorskip("distributor_slurm.client")

SLURM_CONF = slurm_testing.find_slurm_conf()
WHY_NOT = slurm_testing.unavailable_reason(SLURM_CONF)
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]


class TestSlurmWorkflows(DistributorWorkflows):
    """The harness workflows pass on the dev cluster's ``debug`` partition."""

    __test__ = True
    plugin = "slurm"
    defaults: ClassVar[dict[str, object]] = {"queue": "debug", "memory": "1G", "runtime": "10m"}

    def cluster_options(self, tmp_path: Path) -> dict[str, object]:
        return {
            "slurm_conf": str(SLURM_CONF),
            "submit_root": str(tmp_path / "submit-root"),
            "poll_policy": {
                "min_interval": 0.5,
                "max_interval": 2.0,
                "accounting_interval": 2.0,
                "accounting_delay": 15.0,
                "lost_grace": 60.0,
            },
        }


# -- an outage of slurmctld while a job runs ------------------------------------------------

OUTAGE_WORKFLOW = """
rule all:
    input: "done.out"

rule wait_for_release:
    output: "done.out"
    shell: "touch started; while [ ! -e release ]; do sleep 0.2; done; touch {output}"
"""


def _slurmctld_pid() -> int | None:
    try:
        pid = int((slurm_testing.cluster_dir() / "run" / "slurmctld.pid").read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(exe).name in {"slurmctld", "slurmctld-wlm"} else None


def _ping() -> bool:
    env = slurm_client.slurm_environment(SLURM_CONF)
    result = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True,
                            check=False, timeout=30)  # fmt: skip
    return "is UP" in result.stdout


def _start_slurmctld() -> None:
    """Start slurmctld as the dev-cluster script does (keeping its saved state) and wait."""
    if _slurmctld_pid() is None:
        with (slurm_testing.cluster_dir() / "log" / "slurmctld.stderr").open("ab") as log:
            env = slurm_client.slurm_environment(SLURM_CONF)
            subprocess.run(["slurmctld", "-i"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                           stderr=log, check=True)  # fmt: skip
    _wait_for(_ping, "slurmctld to answer again")


def _stop_slurmctld() -> None:
    pid = _slurmctld_pid()
    assert pid is not None, "no slurmctld to stop"
    os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not Path(f"/proc/{pid}").exists(), "slurmctld to stop")


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


@pytest.mark.skipif(os.geteuid() != 0, reason="stopping slurmctld needs root")
def test_slurmctld_outage_keeps_the_job_tracked(tmp_path: Path) -> None:
    """slurmctld stopped while a job runs (and ends): Snakemake is told the cluster does not
    answer, keeps the job, and finishes the workflow once slurmctld is back."""
    workdir = tmp_path / "wf"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(OUTAGE_WORKFLOW, encoding="utf-8")
    config = tmp_path / "distributor.toml"
    options = TestSlurmWorkflows().cluster_options(tmp_path)
    options["retry_policy"] = {"attempts": 1, "timeout": 20.0}  # see the outage at once
    config.write_text(cluster_config("slurm", options, TestSlurmWorkflows.defaults))
    output = tmp_path / "snakemake.log"
    env = {**os.environ, "DISTRIBUTOR_CONFIG": str(config)}
    with output.open("w") as log:
        run = subprocess.Popen(snakemake_argv(), cwd=workdir, env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        _wait_for((workdir / "started").exists, "the job to start")
        _stop_slurmctld()
        try:
            _wait_for(lambda: "does not answer" in output.read_text(), "the outage to be seen")
            (workdir / "release").touch()  # the job ends while slurmctld is down
            _wait_for((workdir / "done.out").exists, "the job's command to end")
            assert run.poll() is None, output.read_text()
        finally:
            _start_slurmctld()
        assert run.wait(timeout=300) == 0, output.read_text()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    text = output.read_text()
    assert "still tracking 1 job(s)" in text, text
    assert "1 of 2 steps (50%) done" in text and "2 of 2 steps (100%) done" in text, text
