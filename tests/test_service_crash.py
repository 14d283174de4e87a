"""A controller killed with SIGKILL at random moments, over and over: every task runs once.

Each round starts a controller process that opens the journal, adds the same 500 tasks (adding
again is a no-op) and runs them on the ``local`` backend; the test kills it with SIGKILL after a
random delay. A last controller finishes the run. Every task appends one line to its own marker
file when it runs, so a marker with two lines is a task that ran twice, and a missing one a task
that was forgotten.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distributor.service.journal import Journal

TASKS = 500
ROUNDS = 12

# The controller a workflow engine would be. LocalDistributor.find_by_name (every submission is
# in a reaper's command log before its id is returned) makes a restart exactly-once.
CONTROLLER = r"""
import json, logging, sys
from pathlib import Path

import structlog

from distributor.local import LocalDistributor
from distributor.service import Cluster, Service, ServiceConfig, TaskSpec, Throttle

structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
                    logger_factory=structlog.PrintLoggerFactory(sys.stderr))
work, tasks = Path(sys.argv[1]), int(sys.argv[2])


distributor = LocalDistributor("crash", state_dir=work / "state", parallelism=4)
cluster = Cluster(distributor, throttle=Throttle(max_active=16, submit_chunk=8, max_array_size=4))
config = ServiceConfig(min_poll_interval=0.02, poll_interval=0.2, lost_grace=60)
markers = work / "markers"
with Service(work / "journal.db", cluster, config=config) as service:
    service.add(
        TaskSpec(name=f"task-{i}", command=f"echo ran >> {markers / f'task-{i}'}; sleep 0.1",
                 max_attempts=1)
        for i in range(tasks)
    )
    summary = service.run()
print(json.dumps(summary.tasks))
sys.exit(0 if summary.all_done else 1)
"""


def _start(work: Path, round_number: int) -> subprocess.Popen[bytes]:
    with open(work / f"controller-{round_number}.log", "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", CONTROLLER, str(work), str(TASKS)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _submitted_bytes(work: Path) -> int:
    return sum(path.stat().st_size for path in (work / "state").glob("reapers/*/commands.jsonl"))


def _kill_right_after_a_submission(controller: subprocess.Popen[bytes], work: Path) -> None:
    """SIGKILL the controller the moment the backend has accepted a submission.

    That is the window in which the scheduler knows a job the journal has not recorded yet.
    """
    before = _submitted_bytes(work) if (work / "state").exists() else 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and controller.poll() is None:
        if (work / "state").exists() and _submitted_bytes(work) > before:
            break
        time.sleep(0.0005)
    controller.send_signal(signal.SIGKILL)


def _done(work: Path) -> int:
    journal = Journal(work / "journal.db", role="client")
    try:
        return journal.task_counts().get("done", 0)
    finally:
        journal.close()


@pytest.mark.slow
def test_sigkilled_controllers_never_run_a_task_twice_nor_forget_one(tmp_path: Path) -> None:
    """Twelve controllers killed at random moments, then another finishes: each task ran once."""
    (tmp_path / "markers").mkdir()
    seed = int(os.environ.get("DISTRIBUTOR_CRASH_SEED", "20261124"))
    rng = random.Random(seed)  # noqa: S311 - kill timing, not cryptography
    progress = []
    for round_number in range(ROUNDS):
        controller = _start(tmp_path, round_number)
        if round_number % 2:
            _kill_right_after_a_submission(controller, tmp_path)
        else:
            time.sleep(rng.uniform(0.2, 1.5))
            controller.send_signal(signal.SIGKILL)
        controller.wait()
        if (tmp_path / "journal.db").exists():
            progress.append(_done(tmp_path))
    assert progress and progress[-1] < TASKS, "the kills must interrupt the run"
    final = _start(tmp_path, ROUNDS)
    assert final.wait(timeout=300) == 0, (tmp_path / f"controller-{ROUNDS}.log").read_text()
    counts = json.loads((tmp_path / f"controller-{ROUNDS}.log").read_text().splitlines()[-1])
    assert counts["done"] == TASKS
    runs = {path.name: path.read_text().count("ran") for path in (tmp_path / "markers").iterdir()}
    assert len(runs) == TASKS, f"{TASKS - len(runs)} tasks never ran"
    twice = sorted(name for name, count in runs.items() if count != 1)
    assert not twice, f"ran more than once: {twice}"
