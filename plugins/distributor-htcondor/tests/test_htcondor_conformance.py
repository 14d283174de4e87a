"""The HTCondor plugin passes the conformance kit against the fake pool and a real one.

The fake (``htcondor_fake.py`` beside this file) answers in the formats recorded from real pools
and really runs the jobs. The real pool is this machine's (``condor_q`` on PATH, tests run as a
user the pool accepts jobs from; see `distributor_htcondor.testing.unavailable_reason`); on a
site's pool, set ``DISTRIBUTOR_HTCONDOR_LIVE_ROOT`` to a directory on a filesystem the execute
machines share (see the plugin README).
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
from distributor_htcondor.testing import POOL_POLL_POLICY, unavailable_reason, wrapped_environment

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


WHY_NOT = unavailable_reason()
LIVE_ROOT = os.environ.get("DISTRIBUTOR_HTCONDOR_LIVE_ROOT")


@pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")
class TestHTCondorRealPool(PluginConformance):
    """Every conformance check against the real pool of this submit machine (in CI: HTCondor
    23.9.6 from ``scripts/dev-clusters/htcondor.sh``, tests run as its job user)."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        # a site's pool needs a submit root its execute machines share
        root = Path(LIVE_ROOT) / tmp_path.name if LIVE_ROOT else tmp_path / "root"
        return ConformanceTarget(
            plugin=plugin,
            make_distributor=lambda: HTCondorDistributor(
                "pool", submit_root=root, poll_policy=POOL_POLL_POLICY, max_array_size=2
            ),
            make_queue=lambda: HTCondorQueue(1, "pool", {}),
            resources={"memory": "100M", "runtime": 600},
            timeout=float(os.environ.get("DISTRIBUTOR_HTCONDOR_LIVE_TIMEOUT", "900")),
            poll_interval=0.2,
            scratch=Path(LIVE_ROOT) / f"{tmp_path.name}-scratch" if LIVE_ROOT else None,
        )


def test_a_pool_answers_where_one_is_required() -> None:
    """Where the environment says a real pool must be there (``DISTRIBUTOR_HTCONDOR_POOL=
    required``, set by scripts/test.sh once it started one), its tests do not skip."""
    if os.environ.get("DISTRIBUTOR_HTCONDOR_POOL") != "required":
        pytest.skip("no real pool is required here (DISTRIBUTOR_HTCONDOR_POOL is not 'required')")
    assert WHY_NOT is None, WHY_NOT


def test_entry_point_loads_the_plugin() -> None:
    """The ``htcondor`` entry point resolves to this plugin object."""
    assert load_plugin("htcondor") is plugin
