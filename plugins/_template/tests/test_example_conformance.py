"""The Example plugin passes the conformance kit against the fake Example scheduler."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import load_plugin
from distributor.batch import PollPolicy
from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_example import ExampleDistributor, ExampleQueue, plugin

from .fake_example import install, kill_all

FAST = PollPolicy(min_interval=0.05, max_interval=0.5, accounting_interval=0.5,
                  accounting_delay=1.0, lost_grace=10.0)  # fmt: skip


@pytest.fixture
def fake_scheduler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The fake Example scheduler's commands on PATH; its state directory."""
    install(tmp_path / "bin")
    state = tmp_path / "state"
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("EXAMPLE_STATE", str(state))
    yield state
    kill_all(state)


class TestExampleConformance(PluginConformance):
    """Every conformance check against the fake Example scheduler."""

    @pytest.fixture
    def target(self, tmp_path: Path, fake_scheduler: Path) -> ConformanceTarget:
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: ExampleDistributor(
                "example", submit_root=tmp_path / "root", poll_policy=FAST, max_array_size=2
            ),
            make_queue=lambda: ExampleQueue(1, "default", {}),
            timeout=60,
            poll_interval=0.05,
            scratch=tmp_path / "scratch",
            limit_timeout=60,
        )


def test_entry_point_loads_the_plugin() -> None:
    """The ``example`` entry point resolves to this plugin object."""
    assert load_plugin("example") is plugin
