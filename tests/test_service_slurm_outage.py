"""A Slurm outage in the middle of a run: slurmctld stopped for 60 s fails no task.

The service drives 200 tasks on the real dev cluster (``scripts/dev-clusters/slurm.sh``); once
some have finished, slurmctld is stopped (by its recorded pid) for 60 seconds and then started
again the way the dev-cluster script starts it, recovering its saved state. Every task must
end ``done`` on its first attempt: polls that fail change nothing, and nothing is submitted
while the scheduler does not answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle

slurm = pytest.importorskip("distributor_slurm")
slurm_testing = pytest.importorskip("distributor_slurm.testing")
slurm_client = pytest.importorskip("distributor_slurm.client")

SLURM_CONF = slurm_testing.find_slurm_conf()
WHY_NOT = slurm_testing.unavailable_reason(SLURM_CONF)
pytestmark = [
    pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or ""),
    pytest.mark.skipif(os.geteuid() != 0, reason="stopping slurmctld needs root"),
    pytest.mark.slow,
]
TASKS = 200
OUTAGE = 60.0


def _run_dir() -> Path:
    return Path(str(SLURM_CONF)).parent.parent


def _slurmctld_pid() -> int | None:
    try:
        pid = int((_run_dir() / "run" / "slurmctld.pid").read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(exe).name in {"slurmctld", "slurmctld-wlm"} else None


def _ping() -> bool:
    result = subprocess.run(["scontrol", "ping"], env=slurm_client.slurm_environment(SLURM_CONF),
                            capture_output=True, text=True, check=False, timeout=30)  # fmt: skip
    return "is UP" in result.stdout


def _start_slurmctld() -> None:
    """Start slurmctld as the dev-cluster script does (keeping its saved state) and wait."""
    if _slurmctld_pid() is None:
        with (_run_dir() / "log" / "slurmctld.stderr").open("ab") as log:
            env = slurm_client.slurm_environment(SLURM_CONF)
            subprocess.run(["slurmctld", "-i"], env=env, stdin=subprocess.DEVNULL, stdout=log,
                           stderr=log, check=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not _ping():
        assert time.monotonic() < deadline, "slurmctld did not come back"
        time.sleep(0.5)


def _outage(stopped: threading.Event) -> None:
    pid = _slurmctld_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    stopped.set()
    try:
        time.sleep(OUTAGE)
    finally:
        _start_slurmctld()


def test_slurmctld_down_for_a_minute_fails_nothing(tmp_path: Path) -> None:
    """200 tasks, slurmctld stopped for 60 s mid-run: all end done on their first attempt."""
    distributor = slurm.SlurmDistributor("dev", submit_root=tmp_path / "root",
                                         slurm_conf=SLURM_CONF)  # fmt: skip
    cluster = Cluster(distributor, queue_factory=slurm.SlurmQueue,
                      throttle=Throttle(max_active=40, submit_chunk=20))  # fmt: skip
    config = ServiceConfig(poll_interval=1.0, min_poll_interval=0.2, lost_grace=300)
    stopped = threading.Event()
    outage = threading.Thread(target=_outage, args=(stopped,), daemon=True)
    try:
        with capture_logs() as logs, Service(tmp_path / "j.db", cluster, config=config) as svc:
            svc.add(TaskSpec(name=f"t{i}", command="sleep 0.2", resources={"runtime": 300},
                             max_attempts=3) for i in range(TASKS))  # fmt: skip
            deadline = time.monotonic() + 900
            while not svc.wait(timeout=1.0):
                assert time.monotonic() < deadline, svc.summary()
                if outage.ident is None and svc.summary().tasks["done"] >= 30:
                    outage.start()
            assert stopped.is_set(), "the run ended before the outage started"
            outage.join()
            summary = svc.summary()
            infos = svc.tasks()
    finally:
        if outage.is_alive():
            outage.join()
        _start_slurmctld()
    assert summary.all_done, summary
    assert [info.name for info in infos if info.attempts != 1] == []
    failed_polls = [e for e in logs if e["event"] == "poll_failed"]
    assert failed_polls, "the service must have seen the outage"
