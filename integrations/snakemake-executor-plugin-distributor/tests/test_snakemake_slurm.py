"""Snakemake's own executor-plugin harness through the distributor executor on the real Slurm
dev cluster (``scripts/dev-clusters/slurm.sh``), as a configured cluster."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from snakemake_executor_plugin_distributor.testing import DistributorWorkflows

slurm_testing = pytest.importorskip("distributor_slurm.testing")

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
