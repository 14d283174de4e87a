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


# -- outages of slurmctld and slurmdbd while a job runs ---------------------------------------

OUTAGE_WORKFLOW = """
rule all:
    input: "done.out"

rule wait_for_release:
    output: "done.out"
    shell: "touch started; while [ ! -e release ]; do sleep 0.2; done; touch {output}"
"""


def _daemon_pid(name: str) -> int | None:
    try:
        pid = int((slurm_testing.cluster_dir() / "run" / f"{name}.pid").read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(exe).name in {name, f"{name}-wlm"} else None


def _answers(argv: list[str], expected: str) -> bool:
    env = slurm_client.slurm_environment(SLURM_CONF)
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False,
                            timeout=30)  # fmt: skip
    return result.returncode == 0 and expected in result.stdout


def _start(name: str, argv: list[str], ready: Callable[[], bool]) -> None:
    """Start daemon `name` as the dev-cluster script does (keeping its saved state) and wait
    until `ready`."""
    if _daemon_pid(name) is None:
        with (slurm_testing.cluster_dir() / "log" / f"{name}.stderr").open("ab") as log:
            env = slurm_client.slurm_environment(SLURM_CONF)
            subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                           check=True)  # fmt: skip
    _wait_for(ready, f"{name} to answer again")


def _stop(name: str) -> None:
    pid = _daemon_pid(name)
    assert pid is not None, f"no {name} to stop"
    os.kill(pid, signal.SIGTERM)
    _wait_for(lambda: not Path(f"/proc/{pid}").exists(), f"{name} to stop")


def _start_slurmctld() -> None:
    _start("slurmctld", ["slurmctld", "-i"], lambda: _answers(["scontrol", "ping"], "is UP"))


def _start_slurmdbd() -> None:
    _start("slurmdbd", ["slurmdbd"], lambda: _answers(["sacct", "-n", "-X", "-j", "1"], ""))


def _wait_for(predicate: Callable[[], bool], what: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def _snakemake_on_slurm(tmp_path: Path, **options: object) -> tuple[subprocess.Popen[bytes], Path]:
    """Start Snakemake on OUTAGE_WORKFLOW with a configured Slurm cluster (`options` over the
    harness's); its output goes to the returned file."""
    workdir = tmp_path / "wf"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(OUTAGE_WORKFLOW, encoding="utf-8")
    config = tmp_path / "distributor.toml"
    merged = {**TestSlurmWorkflows().cluster_options(tmp_path), **options}
    config.write_text(cluster_config("slurm", merged, TestSlurmWorkflows.defaults))
    output = tmp_path / "snakemake.log"
    env = {**os.environ, "DISTRIBUTOR_CONFIG": str(config)}
    with output.open("w") as log:
        run = subprocess.Popen(snakemake_argv(), cwd=workdir, env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    return run, output


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="stopping Slurm's daemons needs root")


@needs_root
def test_slurmctld_outage_keeps_the_job_tracked(tmp_path: Path) -> None:
    """slurmctld stopped while a job runs (and ends): Snakemake is told the cluster does not
    answer, keeps the job, and finishes the workflow once slurmctld is back."""
    # one try per status call: the outage shows at once
    run, output = _snakemake_on_slurm(tmp_path, retry_policy={"attempts": 1, "timeout": 20.0})
    workdir = tmp_path / "wf"
    try:
        _wait_for((workdir / "started").exists, "the job to start")
        _stop("slurmctld")
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


@needs_root
def test_slurmdbd_outage_keeps_the_job_tracked(tmp_path: Path) -> None:
    """slurmdbd stopped while a job runs and ends, with finished jobs read from accounting only
    (use_queue_history = false): the job is kept until its exit is known, ends done, and the
    workflow finishes — an accounting outage fails and loses nothing."""
    run, output = _snakemake_on_slurm(tmp_path, use_queue_history=False)
    workdir = tmp_path / "wf"
    try:
        _wait_for((workdir / "started").exists, "the job to start")
        _stop("slurmdbd")
        try:
            (workdir / "release").touch()  # the job ends while accounting is down
            assert run.wait(timeout=300) == 0, output.read_text()
        finally:
            _start_slurmdbd()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    text = output.read_text()
    assert "2 of 2 steps (100%) done" in text and "Error in rule" not in text, text
