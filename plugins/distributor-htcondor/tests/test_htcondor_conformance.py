"""The HTCondor plugin passes the conformance kit against the fake pool (and a real one on request).

The fake (``htcondor_fake.py`` beside this file) answers in HTCondor's documented formats and
really runs the jobs. To run the same kit against a real pool, set
``DISTRIBUTOR_HTCONDOR_LIVE_ROOT`` to a directory on a filesystem the execute machines share
(see the plugin README).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from distributor import load_plugin
from distributor.batch import PollPolicy
from distributor.testing import ConformanceTarget
from distributor.testing.conformance import PluginConformance
from distributor_htcondor import HTCondorDistributor, HTCondorQueue, plugin
from distributor_htcondor.testing import wrapped_environment

FAKE = Path(__file__).with_name("htcondor_fake.py")
FAST = PollPolicy(
    min_interval=0.05,
    max_interval=0.25,
    max_calls_per_minute=100_000,
    accounting_interval=0.1,
    accounting_delay=2.0,
    lost_grace=4.0,
)
LIMITS = {"max_memory": "8G", "max_runtime": "1h", "max_cores": 8}


class TestHTCondorConformance(PluginConformance):
    """Every conformance check against the fake pool."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        env = wrapped_environment(FAKE, tmp_path, {"FAKE_CONDOR_STATE": str(tmp_path / "pool")})
        return ConformanceTarget(
            plugin=plugin,
            # clusters of 2 jobs: arrays of the kit span several condor_submit calls
            make_distributor=lambda: HTCondorDistributor(
                "fake",
                submit_root=tmp_path / "root",
                environment=env,
                poll_policy=FAST,
                max_array_size=2,
            ),
            make_queue=lambda: HTCondorQueue(1, "fake", LIMITS),
            resources={"memory": "100M", "runtime": 300},
            timeout=30.0,
            poll_interval=0.05,
        )


LIVE_ROOT = os.environ.get("DISTRIBUTOR_HTCONDOR_LIVE_ROOT")


if LIVE_ROOT is not None:

    class TestHTCondorLivePool(PluginConformance):
        """Every conformance check against the real pool of this submit machine."""

        def make_target(self, tmp_path: Path) -> ConformanceTarget:
            root = Path(LIVE_ROOT or ".") / tmp_path.name
            return ConformanceTarget(
                plugin=plugin,
                make_distributor=lambda: HTCondorDistributor("live", submit_root=root),
                make_queue=lambda: HTCondorQueue(1, "live", {}),
                resources={"memory": "100M", "runtime": 600},
                timeout=float(os.environ.get("DISTRIBUTOR_HTCONDOR_LIVE_TIMEOUT", "900")),
                poll_interval=2.0,
            )


@pytest.mark.skipif(
    LIVE_ROOT is None,
    reason="no HTCondor daemon can run here; the kit ran against the fake pool above. Set "
    "DISTRIBUTOR_HTCONDOR_LIVE_ROOT to a shared directory on a submit machine to run it "
    "against a real pool",
)
def test_live_pool_is_configured() -> None:
    """The live pool's submit root exists (the live class above then runs the kit)."""
    assert Path(LIVE_ROOT or ".").is_dir()


def test_entry_point_loads_the_plugin() -> None:
    """The ``htcondor`` entry point resolves to this plugin object."""
    assert load_plugin("htcondor") is plugin
