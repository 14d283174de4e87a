"""The Example plugin passes the conformance kit."""

from __future__ import annotations

from pathlib import Path

from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_example import ExampleDistributor, ExampleQueue, plugin


class TestExampleConformance(PluginConformance):
    """Every conformance check against the Example scheduler."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: ExampleDistributor("example"),
            make_queue=lambda: ExampleQueue(1, "default", {}),
        )
