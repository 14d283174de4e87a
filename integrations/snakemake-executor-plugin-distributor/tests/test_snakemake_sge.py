"""Snakemake's own executor-plugin harness through the distributor executor on the real Grid
Engine dev cell (``scripts/dev-clusters/sge.sh``), as a configured cluster."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from snakemake_executor_plugin_distributor.testing import DistributorWorkflows

sge_testing = pytest.importorskip("distributor_sge.testing")

WHY_NOT = sge_testing.unavailable_reason()
CELL = sge_testing.cell_environment()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]


class TestSgeWorkflows(DistributorWorkflows):
    """The harness workflows pass on the dev cell's ``all.q``."""

    __test__ = True
    plugin = "sge"
    defaults: ClassVar[dict[str, object]] = {
        "queue": CELL.get("DISTRIBUTOR_SGE_QUEUE", "all.q"),
        "memory": "1G",
    }

    def cluster_options(self, tmp_path: Path) -> dict[str, object]:
        return {
            "sge_root": CELL.get("SGE_ROOT", ""),
            "sge_cell": CELL.get("SGE_CELL", "default"),
            "submit_root": str(tmp_path / "submit-root"),
            "poll_policy": {
                "min_interval": 0.3,
                "max_interval": 1.0,
                "accounting_interval": 1.0,
                "accounting_delay": 10.0,
                "lost_grace": 30.0,
            },
        }
