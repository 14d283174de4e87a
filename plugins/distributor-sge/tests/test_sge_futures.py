"""`distributor.futures` on the real Grid Engine dev cell: the shared checks of
`distributor.testing.futures_checks`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distributor.config import ClusterConfig
from distributor.futures import Executor
from distributor.testing import futures_checks as checks
from distributor_sge.testing import TEST_POLL_POLICY, cell_environment, unavailable_reason

ENV = cell_environment()
WHY_NOT = unavailable_reason(ENV.get("DISTRIBUTOR_SGE_QUEUE", "all.q"))
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")


def make(tmp_path: Path, resources: dict[str, Any] | None = None) -> Executor:
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


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[Executor]:
    with make(tmp_path) as ex:
        yield ex


def test_closure_and_keywords(executor: Executor) -> None:
    checks.check_closure_and_keywords(executor)


def test_map_of_100_is_one_array_in_order(executor: Executor) -> None:
    checks.check_map_is_one_array_in_order(executor, items=100)


def test_exception_keeps_type_and_traceback(executor: Executor) -> None:
    checks.check_exception_keeps_type_and_traceback(executor)


def test_cancel_terminates_the_job(executor: Executor) -> None:
    checks.check_cancel(executor)


def test_memory_limit(tmp_path: Path) -> None:
    checks.check_memory_limit(lambda resources: make(tmp_path, resources))
