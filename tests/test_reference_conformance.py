"""The in-memory reference plugin passes the conformance kit."""

from __future__ import annotations

from pathlib import Path

from distributor.testing import ConformanceTarget, MemoryDistributor, MemoryQueue, reference_plugin
from distributor.testing.conformance import PluginConformance


class TestReferenceConformance(PluginConformance):
    """Every conformance check against the reference plugin."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=reference_plugin,
            make_distributor=lambda: MemoryDistributor("memory"),
            make_queue=lambda: MemoryQueue(1, "default", {"max_memory": "64G", "max_cores": 8}),
            timeout=30,
        )
