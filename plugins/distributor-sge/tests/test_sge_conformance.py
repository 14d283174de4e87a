"""The Grid Engine plugin passes the conformance kit against the running dev cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import load_plugin
from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_sge import SgeDistributor, SgeQueue, plugin
from distributor_sge.testing import TEST_POLL_POLICY, cell_environment, unavailable_reason

ENV = cell_environment()
QUEUE = ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q")
WHY_NOT = unavailable_reason(QUEUE)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


class TestSgeConformance(PluginConformance):
    """Every conformance check against the dev cell's queue."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: SgeDistributor(
                "dev",
                submit_root=tmp_path / "root",
                sge_root=ENV.get("SGE_ROOT"),
                sge_cell=ENV.get("SGE_CELL"),
                poll_policy=TEST_POLL_POLICY,
                max_array_size=2,  # arrays longer than a chunk stay small
            ),
            make_queue=lambda: SgeQueue(1, QUEUE, {}),
            resources={"memory": "256M", "runtime": 300, "queue": QUEUE},
            timeout=120.0,
            poll_interval=0.2,
        )


def test_entry_point_loads_the_plugin() -> None:
    """The ``sge`` entry point resolves to this plugin object."""
    assert load_plugin("sge") is plugin
