"""The Slurm plugin through an SSH transport: the conformance kit against the real dev
cluster, driven from a login node (``scripts/dev-clusters/sshd.sh``) whose filesystem holds the
submit root."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.batch import PollPolicy, SSHTransport
from distributor.exit_info import TaskInstanceStatus
from distributor.testing import ConformanceTarget
from distributor.testing.checks import wait_for_exit_info, wait_until_gone
from distributor.testing.conformance import PluginConformance
from distributor_slurm import SlurmDistributor, SlurmQueue, plugin
from distributor_slurm.testing import find_slurm_conf
from distributor_slurm.testing import unavailable_reason as slurm_unavailable
from tests.ssh_login import login, ride_out_cut, unavailable_reason

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


def test_link_cut_for_30_s_during_a_run_loses_no_task() -> None:
    """With the link to the login node cut for 30 s while an array runs, polls fail and are
    retried, a new master connection is made afterwards, and every task ends D."""
    node = login(PORT)
    transport = SSHTransport(node.config())
    distributor = SlurmDistributor(
        "dev-ssh-cut", submit_root=node.scratch("cut"), transport=transport, poll_policy=FAST
    )
    distributor.start()
    steps = distributor.submit_array_to_batch_distributor(
        "sleep 20", "cut", {"memory": "100M", "runtime": 300}, 3
    )
    ids = list(steps.values())
    masters = transport.masters_started
    report = ride_out_cut(node, distributor, ids)
    assert report.failed > 0, f"the cut was not felt: {report}"
    wait_until_gone(distributor, ids, timeout=180.0, interval=0.5)
    infos = {did: wait_for_exit_info(distributor, did, 60.0, 0.5) for did in ids}
    states = {did: info.error_state for did, info in infos.items()}
    assert states == dict.fromkeys(ids, TaskInstanceStatus.DONE), infos
    assert transport.masters_started > masters
