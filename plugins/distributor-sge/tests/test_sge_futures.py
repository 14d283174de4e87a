"""`distributor.futures` on the real Grid Engine dev cell: the shared checks of
`distributor.testing.futures_checks`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from distributor.config import ClusterConfig
from distributor.futures import Executor
from distributor.testing.futures_checks import FuturesConformance
from distributor_sge.testing import TEST_POLL_POLICY, cell_environment, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


class TestSgeFutures(FuturesConformance):
    def make_executor(self, tmp_path: Path, resources: dict[str, Any] | None) -> Executor:
        config = ClusterConfig(
            "dev",
            "sge",
            options={
                "submit_root": str(tmp_path / "root"),
                "sge_root": ENV.get("SGE_ROOT"),
                "sge_cell": ENV.get("SGE_CELL"),
                "poll_policy": TEST_POLL_POLICY,
            },
            defaults={"runtime": "5m"},
        )
        return Executor(config, resources=resources, folder=tmp_path / "calls", poll_interval=0.5)
