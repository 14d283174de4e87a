"""Polling cost on a real pool: one ``condor_q`` per cycle (and one ``condor_history`` for the
jobs that left the queue), whatever the number of jobs: shown with 1,000 tracked jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor import TaskInstanceStatus
from distributor.batch import RecordingTransport
from distributor.testing import ExitMatrix, collect_all
from distributor_htcondor.testing import condor, pool_distributor, unavailable_reason

WHY_NOT = unavailable_reason()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]
JOBS = 1000
CHUNK = 250
"""Jobs per cluster: the 1,000 jobs are four clusters of ``queue 250``."""
CYCLES = 5


def test_a_thousand_tracked_jobs_cost_one_condor_q_per_cycle(tmp_path: Path) -> None:
    """1,000 sleeping jobs (a few running, the rest idle): each poll cycle is one condor_q
    naming the four clusters once; once they are terminated, each cycle is at most one
    condor_q and one condor_history, and every job ends K."""
    transport = RecordingTransport()
    distributor = pool_distributor(tmp_path / "root", transport=transport, max_array_size=CHUNK)
    steps = distributor.submit_array_to_batch_distributor("sleep 600", "thousand", {}, JOBS)
    clusters = sorted({did.split(".")[0] for did in steps.values()}, key=int)
    try:
        assert len(clusters) == JOBS // CHUNK
        tracker = distributor.tracker
        before = (distributor.client.runner.calls["condor_q"], tracker.stats.cycles)
        for _ in range(CYCLES):
            assert tracker.refresh(force=True)
        calls = distributor.client.runner.calls["condor_q"] - before[0]
        assert calls == tracker.stats.cycles - before[1] == CYCLES
        for argv in transport.of("condor_q")[-CYCLES:]:
            assert argv[:3] == ("condor_q", "-json", "-attributes")
            assert list(argv[4:]) == clusters  # each cluster once, no job id
        assert len(distributor.get_submitted_or_running(list(steps.values()))) == JOBS

        matrix = ExitMatrix(distributor)
        for step, did in steps.items():
            matrix.add(f"step {step}", did)
        runner = distributor.client.runner
        commands_before = {p: runner.calls[p] for p in ("condor_q", "condor_history")}
        cycles_before = tracker.stats.cycles
        distributor.terminate_task_instances(list(steps.values()))
        collect_all([matrix], timeout=600)
        cycles = tracker.stats.cycles - cycles_before
        used = {p: runner.calls[p] - n for p, n in commands_before.items()}
        assert used["condor_q"] == cycles, (used, cycles)
        assert 1 <= used["condor_history"] <= cycles, (used, cycles)
        states = {info.error_state for info in matrix.infos.values()}
        assert states == {TaskInstanceStatus.KILLED_SELF}, states
        assert transport.of("condor_rm")[0] == ("condor_rm", *clusters)  # one, naming clusters
    finally:
        condor("condor_rm", *clusters, check=False)
