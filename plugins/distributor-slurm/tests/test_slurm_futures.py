"""`distributor.futures` on the real Slurm dev cluster: the shared checks of
`distributor.testing.futures_checks`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distributor.batch import PollPolicy
from distributor.config import ClusterConfig
from distributor.futures import Executor
from distributor.testing.futures_checks import FuturesConformance
from distributor_slurm.testing import find_slurm_conf, unavailable_reason

SLURM_CONF = find_slurm_conf()
WHY_NOT = unavailable_reason(SLURM_CONF)
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

FAST = PollPolicy(min_interval=0.3, max_interval=1.0, accounting_delay=15.0, lost_grace=60.0)


class TestSlurmFutures(FuturesConformance):
    def make_executor(self, tmp_path: Path, resources: dict[str, Any] | None) -> Executor:
        config = ClusterConfig(
            "dev",
            "slurm",
            options={
                "submit_root": str(tmp_path / "root"),
                "slurm_conf": SLURM_CONF,
                "poll_policy": FAST,
            },
            defaults={"runtime": "5m"},
        )
        return Executor(config, resources=resources, folder=tmp_path / "calls", poll_interval=0.5)
