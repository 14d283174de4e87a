"""The Grid Engine plugin through an SSH transport: the conformance kit against the real dev
cell, driven from a login node (``scripts/dev-clusters/sshd.sh``) whose filesystem holds the
submit root."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.batch import SSHTransport
from distributor.cli import main
from distributor.exit_info import TaskInstanceStatus
from distributor.testing import ConformanceTarget
from distributor.testing.checks import wait_for_exit_info, wait_until_gone
from distributor.testing.conformance import PluginConformance
from distributor_sge import SgeDistributor, SgeQueue, plugin
from distributor_sge.testing import TEST_POLL_POLICY, cell_environment
from distributor_sge.testing import unavailable_reason as sge_unavailable
from tests.ssh_login import login, ride_out_cut, unavailable_reason
from tests.staging_scenario import run_staging_scenario

PORT = 3  # sshd's port of this module (tests.ssh_login)

QUEUE = cell_environment().get("DISTRIBUTOR_SGE_QUEUE", "all.q")
WHY_NOT = unavailable_reason() or sge_unavailable(QUEUE)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


class TestSgeOverSSH(PluginConformance):
    """Every conformance check, every command and file going through SSH."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        node = login(PORT)
        transport = SSHTransport(node.config())
        root = node.scratch("sge-root")
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: SgeDistributor(
                "dev-ssh",
                submit_root=root,
                transport=transport,
                poll_policy=TEST_POLL_POLICY,
                max_array_size=2,
            ),
            make_queue=lambda: SgeQueue(1, QUEUE, {}),
            resources={"memory": "256M", "runtime": 300, "queue": QUEUE},
            timeout=120.0,
            poll_interval=0.2,
            scratch=node.scratch("sge-kit"),
            files=transport.files,
            python=node.python,
        )


def test_link_cut_for_30_s_during_a_run_loses_no_task() -> None:
    """With the link to the login node cut for 30 s while an array runs, polls fail and are
    retried, a new master connection is made afterwards, and every task ends D."""
    node = login(PORT)
    transport = SSHTransport(node.config())
    distributor = SgeDistributor(
        "dev-ssh-cut",
        submit_root=node.scratch("cut"),
        transport=transport,
        poll_policy=TEST_POLL_POLICY,
    )
    distributor.start()
    steps = distributor.submit_array_to_batch_distributor(
        "sleep 20", "cut", {"memory": "256M", "runtime": 300, "queue": QUEUE}, 3
    )
    ids = list(steps.values())
    masters = transport.masters_started
    report = ride_out_cut(node, distributor, ids)
    assert report.felt, f"the cut was not felt: {report}"
    wait_until_gone(distributor, ids, timeout=180.0, interval=0.5)
    infos = {did: wait_for_exit_info(distributor, did, 60.0, 0.5) for did in ids}
    states = {did: info.error_state for did, info in infos.items()}
    assert states == dict.fromkeys(ids, TaskInstanceStatus.DONE), infos
    assert transport.masters_started > masters


def test_staging_results_peek_and_free_over_ssh(tmp_path: Path) -> None:
    """An array with hostile input names staged in and outputs fetched after D, get_results
    in its three modes, peek with offsets and sizes, and free — all through SSH."""
    node = login(PORT)
    distributor = SgeDistributor(
        "dev-ssh-staging",
        submit_root=node.scratch("staging"),
        transport=SSHTransport(node.config()),
        poll_policy=TEST_POLL_POLICY,
    )
    run_staging_scenario(distributor, tmp_path, {"memory": "256M", "runtime": 300, "queue": QUEUE})


def test_distributor_check_over_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``distributor check`` on a cluster configured behind SSH runs every live check with
    its scratch space on the login node, and removes it afterwards."""
    node = login(PORT)
    config = tmp_path / "distributor.toml"
    config.write_text(
        "[clusters.sgessh]\nplugin = 'sge'\n[clusters.sgessh.transport]\n"
        f"url = '{node.url}'\nkeyfile = '{node.key}'\nknown_hosts = '{node.known_hosts}'\n"
    )
    monkeypatch.setenv("DISTRIBUTOR_CONFIG", str(config))
    files = SSHTransport(node.config()).files
    checks = node.home / ".distributor" / "checks"
    before = set(files.listdir(checks)) if files.stat(checks) else set()
    assert main(["check", "sgessh", "--queue", QUEUE, "--timeout", "120"]) == 0, capsys.readouterr()
    table = capsys.readouterr().out
    assert "FAIL" not in table and "hostile name and command" in table
    assert set(files.listdir(checks)) == before
