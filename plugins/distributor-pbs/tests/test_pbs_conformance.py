"""The PBS plugin passes the conformance kit against the fake PBS Pro and the fake Torque."""

from __future__ import annotations

from pathlib import Path

from distributor import load_plugin
from distributor.testing import ConformanceTarget
from distributor.testing.checks import check_submit_exit_3
from distributor.testing.conformance import PluginConformance
from distributor_pbs import PbsClient, PbsDistributor, PbsQueue, plugin
from distributor_pbs.testing import FAST_POLLING, conformance_target, fake_environment

FAKES = Path(__file__).parent / "fakes"


def fake_target(tmp_path: Path, flavour: str, queue: str, **settings: object) -> ConformanceTarget:
    """A conformance target on a fresh fake server of `flavour`."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour=flavour, **settings)
    return ConformanceTarget(
        plugin=plugin,
        make_distributor=lambda: PbsDistributor(
            "fake",
            submit_root=tmp_path / "root",
            environment=env,
            poll_policy=FAST_POLLING,
            max_array_size=3,  # arrays longer than a chunk stay short
        ),
        make_queue=lambda: PbsQueue(1, queue, {}, client=PbsClient(environment=env)),
        resources={"memory": "100M", "runtime": 120},
        timeout=30.0,
        poll_interval=0.05,
    )


class TestPbsProConformance(PluginConformance):
    """Every conformance check against the fake PBS Pro (flavour detected by qstat --version),
    whose JSON carries the bare-number defect of openpbs/openpbs#1255."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return fake_target(tmp_path, "pro", "workq", json_defects=True)


class TestTorqueConformance(PluginConformance):
    """Every conformance check against the fake Torque."""

    def make_target(self, tmp_path: Path) -> ConformanceTarget:
        return fake_target(tmp_path, "torque", "batch")


def test_entry_point_loads_the_plugin() -> None:
    """The ``pbs`` entry point resolves to this plugin object."""
    assert load_plugin("pbs") is plugin


def test_site_conformance_target_runs_a_check(tmp_path: Path) -> None:
    """The target a site would build for its own server passes a live check (on the fake)."""
    env = fake_environment(FAKES, tmp_path / "pbs", flavour="torque")
    target = conformance_target(
        "batch", submit_root=tmp_path / "root", environment=env, poll_policy=FAST_POLLING
    )
    check_submit_exit_3(target)
