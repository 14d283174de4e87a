"""An HTCondor schedd outage in the middle of a run: the schedd stopped for 15 s fails no task.

The service drives `TASKS` tasks on this machine's real pool (``scripts/dev-clusters/
htcondor.sh``, the tests run as its job user); once some have finished, the schedd is stopped
(``condor_off -schedd``) for `OUTAGE` seconds, longer than a crashed schedd took to come back
(10.2 s on HTCondor 23.9.6) and than the plugin's former retry budget, then started again.
Every task must end ``done`` on its first attempt: commands that meet the stopped schedd are
retried (``Can't find address for schedd``) and polls that fail change nothing.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle

htcondor = pytest.importorskip("distributor_htcondor")
htcondor_testing = pytest.importorskip("distributor_htcondor.testing")

WHY_NOT = htcondor_testing.unavailable_reason()
pytestmark = [pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""), pytest.mark.slow]
TASKS = 60
OUTAGE = 15.0


def _schedd_answers() -> bool:
    return bool(htcondor_testing.condor("condor_q", "-totals", check=False).returncode == 0)


def _outage(stopped: threading.Event) -> None:
    htcondor_testing.condor("condor_off", "-schedd")
    try:
        deadline = time.monotonic() + 120
        while _schedd_answers():
            assert time.monotonic() < deadline, "condor_off -schedd did not stop the schedd"
            time.sleep(0.2)
        stopped.set()
        time.sleep(OUTAGE)
    finally:
        htcondor_testing.condor("condor_on", "-schedd", check=False)


def test_schedd_down_for_15_seconds_fails_nothing(tmp_path: Path) -> None:
    """60 tasks, the schedd stopped for 15 s mid-run: all end done on their first attempt."""
    distributor = htcondor.HTCondorDistributor("pool", submit_root=tmp_path / "root")
    cluster = Cluster(distributor, queue_factory=htcondor.HTCondorQueue,
                      throttle=Throttle(max_active=20, submit_chunk=10))  # fmt: skip
    config = ServiceConfig(poll_interval=1.0, min_poll_interval=0.2, lost_grace=300)
    stopped = threading.Event()
    outage = threading.Thread(target=_outage, args=(stopped,), daemon=True)
    try:
        with Service(tmp_path / "j.db", cluster, config=config) as svc:
            svc.add(TaskSpec(name=f"t{i}", command="sleep 0.2", resources={"runtime": 300},
                             max_attempts=3) for i in range(TASKS))  # fmt: skip
            deadline = time.monotonic() + 900
            while not svc.wait(timeout=1.0):
                assert time.monotonic() < deadline, svc.summary()
                if outage.ident is None and svc.summary().tasks["done"] >= 10:
                    outage.start()
            assert stopped.is_set(), "the run ended before the outage started"
            outage.join()
            summary = svc.summary()
            infos = svc.tasks()
    finally:
        if outage.is_alive():
            outage.join()
        htcondor_testing.condor("condor_on", "-schedd", check=False)
    assert summary.all_done, summary
    assert [info.name for info in infos if info.attempts != 1] == []
