"""The LSF plugin passes the conformance kit against the fake LSF commands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from distributor import load_plugin
from distributor.batch import PollPolicy
from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_lsf import LsfDistributor, LsfQueue, plugin
from distributor_lsf.testing import command_environment, killing_all_jobs

BIN = Path(__file__).with_name("bin")
FAST = PollPolicy(
    min_interval=0.1,
    max_interval=0.5,
    accounting_interval=0.5,
    accounting_delay=2.0,
    lost_grace=4.0,
)


class TestLsfConformance(PluginConformance):
    """Every conformance check against the fake cluster's default queue ``normal``."""

    @pytest.fixture(autouse=True)
    def cleanup(self, tmp_path: Path) -> Iterator[None]:
        """Kill whatever a check left running."""
        with killing_all_jobs(self.env(tmp_path)):
            yield

    @staticmethod
    def env(tmp_path: Path) -> dict[str, str]:
        """The fake cluster of this test (state under `tmp_path`, fast bkill, an LSF minute of
        10 s: a run limit of ``-W 0:01`` is enforced after 10 s, ``-W 0:05`` leaves 50 s)."""
        return command_environment(
            BIN,
            FAKE_LSF_STATE=str(tmp_path / "lsf"),
            FAKE_LSF_TERMINATE_INTERVAL="0.3",
            FAKE_LSF_MINUTE="10",
        )

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        env = self.env(tmp_path)
        return ConformanceTarget(
            plugin=plugin,
            # chunks of 2: arrays of the kit span several bsub calls
            make_distributor=lambda: LsfDistributor(
                "fake",
                submit_root=tmp_path / "root",
                lsf_env=env,
                poll_policy=FAST,
                max_array_size=2,
            ),
            make_queue=lambda: LsfQueue(1, "normal", {"lsf_env": env}),
            resources={"memory": "100M", "runtime": 300},
            timeout=30.0,
            poll_interval=0.1,
        )


def test_entry_point_loads_the_plugin() -> None:
    """The ``lsf`` entry point resolves to this plugin object."""
    assert load_plugin("lsf") is plugin
