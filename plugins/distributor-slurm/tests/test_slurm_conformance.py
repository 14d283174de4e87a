"""The Slurm plugin passes the conformance kit against the running Slurm cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import load_plugin
from distributor.batch import PollPolicy
from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_slurm import SlurmDistributor, SlurmQueue, plugin
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

FAST = PollPolicy(
    min_interval=0.5,
    max_interval=2.0,
    accounting_interval=2.0,
    accounting_delay=15.0,
    lost_grace=60.0,
)


class TestSlurmConformance(PluginConformance):
    """Every conformance check against the dev cluster's ``debug`` partition."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: SlurmDistributor(
                "dev",
                submit_root=tmp_path / "root",
                slurm_conf=SLURM_CONF,
                poll_policy=FAST,
                max_array_size=2,
            ),
            make_queue=lambda: SlurmQueue(1, "debug", {"slurm_conf": SLURM_CONF}),
            resources={"memory": "200M", "runtime": 300},
            timeout=120.0,
            poll_interval=0.2,
            scratch=tmp_path / "scratch",
            chunk_size=2,
        )


def test_entry_point_loads_the_plugin() -> None:
    """The ``slurm`` entry point resolves to this plugin object."""
    assert load_plugin("slurm") is plugin
