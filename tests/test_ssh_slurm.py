"""The Slurm plugin through an SSH transport: the conformance kit against the real dev
cluster, driven from a login node (``scripts/dev-clusters/sshd.sh``) whose filesystem holds the
submit root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from distributor.batch import PollPolicy, SSHTransport
from distributor.cli import main
from distributor.config import load_config
from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle
from distributor.service.tasks_file import load_tasks
from distributor.testing import ConformanceTarget
from distributor.testing.checks import wait_until_gone
from distributor.testing.conformance import PluginConformance
from distributor_slurm import SlurmDistributor, SlurmQueue, plugin
from distributor_slurm.testing import find_slurm_conf
from distributor_slurm.testing import unavailable_reason as slurm_unavailable
from tests.ssh_login import login, unavailable_reason
from tests.staging_scenario import run_staging_scenario

PORT = 2  # sshd's port of this module (tests.ssh_login)

WHY_NOT = unavailable_reason() or slurm_unavailable(find_slurm_conf())
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

FAST = PollPolicy(
    min_interval=0.5,
    max_interval=2.0,
    accounting_interval=2.0,
    accounting_delay=15.0,
    lost_grace=60.0,
)


class TestSlurmOverSSH(PluginConformance):
    """Every conformance check, every command and file going through SSH."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        node = login(PORT)
        transport = SSHTransport(node.config())
        root = node.scratch("slurm-root")
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: SlurmDistributor(
                "dev-ssh",
                submit_root=root,
                transport=transport,
                poll_policy=FAST,
                max_array_size=2,
            ),
            make_queue=lambda: SlurmQueue(1, "debug", {}),
            resources={"memory": "200M", "runtime": 300},
            timeout=120.0,
            poll_interval=0.2,
            scratch=node.scratch("slurm-kit"),
            chunk_size=2,
            files=transport.files,
            python=node.python,
        )


def test_link_cut_for_30_s_during_a_service_run_loses_no_task() -> None:
    """The service drives 20 tasks over SSH; once some are done the link to the login node is
    cut for 30 s: commands fail and are retried (or the poll fails and the service polls
    again), a new master connection is made afterwards, and every task ends done on its first
    attempt."""
    node = login(PORT)
    transport = SSHTransport(node.config())
    distributor = SlurmDistributor(
        "dev-ssh-cut", submit_root=node.scratch("cut"), transport=transport, poll_policy=FAST
    )
    cluster = Cluster(distributor, throttle=Throttle(max_active=6, submit_chunk=3))
    config = ServiceConfig(poll_interval=1.0, min_poll_interval=0.2, lost_grace=300)
    masters = transport.masters_started
    cut_over = threading.Event()

    def cut() -> None:
        with node.link_cut():
            time.sleep(30.0)  # the outage itself: its length is what is tested
        cut_over.set()

    outage = threading.Thread(target=cut, daemon=True)
    with (
        tempfile.TemporaryDirectory() as work,
        capture_logs() as logs,
        Service(Path(work) / "j.db", cluster, config=config) as service,
    ):
        service.add(TaskSpec(name=f"t{i}", command="sleep 3",
                             resources={"memory": "50M", "runtime": 300}, max_attempts=3)
                    for i in range(20))  # fmt: skip
        deadline = time.monotonic() + 600
        while not service.wait(timeout=1.0):
            assert time.monotonic() < deadline, service.summary()
            if outage.ident is None and service.summary().tasks["done"] >= 4:
                outage.start()
        outage.join()
        summary = service.summary()
        infos = service.tasks()
    assert cut_over.is_set(), "the run ended before the link came back"
    assert summary.all_done, summary
    assert [info.name for info in infos if info.attempts != 1] == []
    felt = {e["event"] for e in logs} & {"poll_failed", "scheduler_command_retry"}
    assert felt, "no command failed while the link was cut"
    assert transport.masters_started > masters


def test_staging_results_peek_and_free_over_ssh(tmp_path: Path) -> None:
    """An array with hostile input names staged in and outputs fetched after D, get_results
    in its three modes, peek with offsets and sizes, and free — all through SSH."""
    node = login(PORT)
    distributor = SlurmDistributor(
        "dev-ssh-staging",
        submit_root=node.scratch("staging"),
        transport=SSHTransport(node.config()),
        poll_policy=FAST,
    )
    run_staging_scenario(distributor, tmp_path, {"memory": "100M", "runtime": 300})


def test_cli_results_and_peek_over_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """``distributor results ID DIR``, ``distributor peek ID FILE --tail N`` and ``distributor
    logs`` on a cluster configured with an SSH transport; a missing file and an unknown host
    key are one line."""
    structlog.reset_defaults()  # unconfigured, as in a command (capture_logs leaves it set)
    node = login(PORT)
    empty = tmp_path / "known_hosts"
    empty.touch()
    config = tmp_path / "distributor.toml"
    ssh = f"url = '{node.url}'\nkeyfile = '{node.key}'\n"
    config.write_text(
        f"[clusters.hpc]\nplugin = 'slurm'\nsubmit_root = '{node.scratch('cli')}'\n"
        f"[clusters.hpc.transport]\n{ssh}known_hosts = '{node.known_hosts}'\n"
        f"[clusters.stranger]\nplugin = 'slurm'\n"
        f"[clusters.stranger.transport]\n{ssh}known_hosts = '{empty}'\n"
    )
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(config))
    distributor = load_config().resolve("hpc").distributor(poll_policy=FAST)
    distributor.start()
    did = distributor.submit_to_batch_distributor(
        "printf 'line1\\nline2\\n'; printf done > r.txt",
        "cli",
        {"memory": "100M", "runtime": 60, "outputs": ["r.txt"]},
    )
    wait_until_gone(distributor, [did], 120.0, 0.5)
    out = tmp_path / "out"
    out.mkdir()
    capsysbinary.readouterr()
    assert main(["results", did, str(out), "--cluster", "hpc"]) == 0
    listed = capsysbinary.readouterr().out.decode().split()
    assert "r.txt" in listed and (out / "r.txt").read_text() == "done"
    assert main(["peek", did, "stdout.log", "--cluster", "hpc", "--tail", "6"]) == 0
    assert capsysbinary.readouterr().out == b"line2\n"
    assert main(["logs", did, "--cluster", "hpc", "--tail", "1"]) == 0
    assert capsysbinary.readouterr().out == b"line2\n"
    assert main(["logs", did, "--cluster", "hpc"]) == 0
    assert capsysbinary.readouterr().out == b"line1\nline2\n"
    assert main(["peek", did, "no such file", "--cluster", "hpc"]) == 2
    assert len(capsysbinary.readouterr().err.decode().strip().splitlines()) == 1
    assert main(["peek", did, "stdout.log", "--cluster", "stranger"]) == 2
    error = capsysbinary.readouterr().err.decode().strip()
    assert len(error.splitlines()) == 1 and "host key" in error and "ignore_ssh_host_keys" in error


def _tasks_toml(entries: list[dict[str, object]]) -> str:
    """A tasks file: JSON's scalars and arrays are TOML's (strings escaped alike)."""
    return "".join(
        "[[task]]\n" + "".join(f"{key} = {json.dumps(value)}\n" for key, value in entry.items())
        for entry in entries
    )


def test_service_stages_a_tasks_file_over_ssh_and_a_resumed_controller_fetches(
    tmp_path: Path,
) -> None:
    """A tasks file run by the service on Slurm behind SSH: a two-step array table whose input
    file and directory have spaces and quotes in their names is uploaded, its outputs and logs
    are fetched into results/{step} once each step ended done, and each staged task is a
    submission of its own. Then a staged task submitted by a controller that stops before it
    ends is fetched by the controller resumed on the journal."""
    node = login(PORT)
    root = node.scratch("svc-staging")

    def cluster() -> Cluster:
        transport = SSHTransport(node.config())
        distributor = SlurmDistributor(
            "dev-ssh-svc", submit_root=root, transport=transport, poll_policy=FAST
        )
        return Cluster(distributor, throttle=Throttle(max_active=8, max_array_size=4))

    hostile = 'it\'s a "data" file $HOME;.txt'
    (tmp_path / hostile).write_text("line one\n")
    (tmp_path / "in dir").mkdir()
    (tmp_path / "in dir" / "inner.txt").write_text("line two\n")
    script = 'cat -- "$0" "$1/inner.txt" > "out $DISTRIBUTOR_ARRAY_STEP_ID.txt"; echo ran'
    common = {"memory": "50M", "runtime": 300}
    tasks = tmp_path / "tasks.toml"
    tasks.write_text(_tasks_toml([
        {"name": "count", "array": 2, "command": ["sh", "-c", script, hostile, "in dir"],
         "inputs": [hostile, "in dir"], "outputs": ["out *.txt"],
         "output_dir": "results/{step}", **common},
        {"name": "plain", "command": "echo plain", **common},
        {"name": "later", "command": ["sh", "-c", "sleep 2; echo late > 'late \"1\".txt'"],
         "outputs": ["late*"], "output_dir": "late out", **common},
    ]))  # fmt: skip
    specs = {spec.name: spec for spec in load_tasks(tasks)}
    config = ServiceConfig(poll_interval=1.0, min_poll_interval=0.2, lost_grace=300)
    journal = tmp_path / "j.db"
    with Service(journal, cluster(), config=config) as service:
        service.add([specs["count[0]"], specs["count[1]"], specs["plain"]])
        assert service.wait(timeout=300), service.summary()
        infos = {info.name: info for info in service.tasks()}
        assert {info.status.value for info in infos.values()} == {"done"}, infos
        service.add(specs["later"])
        while service.task("later").distributor_id is None:
            service.step()
    for step in (0, 1):
        fetched = tmp_path / "results" / str(step)
        assert (fetched / f"out {step}.txt").read_text() == "line one\nline two\n"
        assert (fetched / "stdout.log").read_text() == "ran\n"
        assert infos[f"count[{step}]"].step in (0, None)  # alone, not a step of one array
    assert infos["count[0]"].distributor_id != infos["count[1]"].distributor_id
    assert not (tmp_path / "late out").exists()  # the first controller stopped before its end
    with Service(journal, cluster(), config=config) as resumed:
        assert resumed.wait(timeout=300), resumed.summary()
        assert resumed.task("later").status.value == "done"
    assert (tmp_path / "late out" / 'late "1".txt').read_text() == "late\n"


def test_run_tasks_file_stages_on_a_configured_cluster_behind_ssh(tmp_path: Path) -> None:
    """``distributor run --tasks FILE --cluster hpc`` (a cluster configured with an SSH
    transport): the input is uploaded, the output and the logs are fetched into output_dir."""
    node = login(PORT)
    config = tmp_path / "distributor.toml"
    config.write_text(
        f"[clusters.hpc]\nplugin = 'slurm'\nsubmit_root = '{node.scratch('svc-cli')}'\n"
        f"[clusters.hpc.transport]\nurl = '{node.url}'\nkeyfile = '{node.key}'\n"
        f"known_hosts = '{node.known_hosts}'\n[clusters.hpc.poll_policy]\nmin_interval = 0.5\n"
        "max_interval = 2.0\naccounting_interval = 2.0\naccounting_delay = 15.0\n"
    )
    (tmp_path / 'my "in" file.txt').write_text("hello\n")
    (tmp_path / "tasks.toml").write_text(_tasks_toml([
        {"name": "copy", "command": "cat 'my \"in\" file.txt' > 'o k.txt'",
         "inputs": ['my "in" file.txt'], "outputs": ["o*.txt"], "output_dir": "res",
         "memory": "50M", "runtime": 300},
    ]))  # fmt: skip
    env = {**os.environ, "DISTRIBUTOR_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-m", "distributor.cli", "run", "--tasks", "tasks.toml", "--cluster",
         "hpc", "--json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "res" / "o k.txt").read_text() == "hello\n"
    assert (tmp_path / "res" / "stdout.log").exists()
